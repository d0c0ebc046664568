//! Output files that appear only when complete.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

/// A file written under a temporary name in its destination's directory and renamed into
/// place by [`commit`](AtomicFile::commit). Dropped without a commit, the temporary file is
/// removed, so a failed command leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing what will become `dest`.
    ///
    /// # Errors
    ///
    /// The destination's directory does not exist or is not writable.
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        let dir = crate::fdlist::base_dir(dest);
        let name = dest
            .file_name()
            .with_context(|| format!("{} does not name a file", dest.display()))?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            // Regular file permissions (0666 less the umask), not the 0600 of a temporary.
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create {}", dest.display()))?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_path_buf(),
        })
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.temp.as_file()
    }

    /// Writes the file to disk and renames it to its final name, so that after a crash the
    /// name holds either the complete new file or what it held before.
    ///
    /// # Errors
    ///
    /// Writing to disk or the rename fails.
    pub fn commit(self) -> Result<()> {
        self.temp
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {} to disk", self.dest.display()))?;
        let dest = self.dest.clone();
        self.rename()?;
        sync_dir(crate::fdlist::base_dir(&dest));
        Ok(())
    }

    /// Renames the file to its final name without waiting for it to reach the disk: the
    /// name appears only once the file is complete, but after a crash it may hold a file
    /// that is not.
    ///
    /// # Errors
    ///
    /// The rename fails.
    pub fn commit_without_sync(self) -> Result<()> {
        self.rename()
    }

    fn rename(self) -> Result<()> {
        let dest = self.dest;
        self.temp
            .persist(&dest)
            .map_err(|error| error.error)
            .with_context(|| format!("cannot rename into {}", dest.display()))?;
        Ok(())
    }
}

/// Writes a directory's entries to disk, so that a rename into it survives a crash. Best
/// effort: some file systems cannot sync a directory, and the data is already safe.
pub fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.as_file_mut().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.temp.as_file_mut().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.as_file_mut().flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_with_or_without_sync() {
        let commits: [fn(AtomicFile) -> Result<()>; 2] =
            [AtomicFile::commit, AtomicFile::commit_without_sync];
        for commit in commits {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("out");
            let mut file = AtomicFile::create(&dest).unwrap();
            file.write_all(b"bytes").unwrap();
            assert!(!dest.exists());
            commit(file).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), b"bytes");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn dropped_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let mut file = AtomicFile::create(&dest).unwrap();
        file.write_all(b"bytes").unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
