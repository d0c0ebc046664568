//! A bundle being written: the stream first, then the fd list and the sizes file, all
//! appearing together only when complete.

use ::std::fs;
use ::std::io::{self, Write};
use ::std::path::{Path, PathBuf};
use ::std::vec::Vec;

use super::error::{BundleError, OutputError, OutputStep};
use super::fd_list::{self, base_dir};
use super::output::{Durability, Output};
use super::sizes;

/// Writes a bundle: the stream through [`Write`], then the sources and their sizes at
/// [`commit`](BundleWriter::commit). Nothing appears at any of the three paths unless the
/// whole bundle is committed, and the stream is committed last, so that a stream is never
/// paired with the sidecars of another.
///
/// ```
/// use std::io::Write;
/// use splitfdstream_adapters::bundle::{Bundle, BundleWriter, Durability};
/// use splitfdstream_adapters::std::Writer;
///
/// let dir = tempfile::tempdir()?;
/// let member = dir.path().canonicalize()?.join("member");
/// std::fs::write(&member, b"content")?;
/// let mut bundle = BundleWriter::create(dir.path().join("s.sfd"))?;
/// let mut stream = Writer::new(&mut bundle);
/// stream.write_external(0)?;
/// stream.finish()?;
/// bundle.commit(&[member], &[7], Durability::Synced)?;
/// assert_eq!(std::fs::read_to_string(dir.path().join("s.sfd.fds"))?, "member\n");
/// assert_eq!(std::fs::read_to_string(dir.path().join("s.sfd.sizes"))?, "7\n");
/// let mut rebuilt = Vec::new();
/// Bundle::open(dir.path().join("s.sfd"))?.rebuild_to_writer(&mut rebuilt)?;
/// assert_eq!(rebuilt, b"content");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct BundleWriter {
    stream: Output,
    fd_list: PathBuf,
    sizes_file: PathBuf,
    /// The fd list's directory, absolute and canonical: sources beneath it are listed
    /// relative to it, so that the bundle can be moved as a whole.
    list_dir: PathBuf,
}

impl BundleWriter {
    /// Starts writing the stream `stream`, with the fd list `STREAM.fds` and the sizes
    /// file `STREAM.sizes`.
    ///
    /// # Errors
    ///
    /// As [`create_with`](BundleWriter::create_with).
    pub fn create(stream: impl AsRef<Path>) -> Result<BundleWriter, BundleError> {
        BundleWriter::create_with(stream, None, None)
    }

    /// Starts writing the stream `stream`, with the fd list `fd_list` (default
    /// `STREAM.fds`) and the sizes file `sizes_file` (default `STREAM.sizes`).
    ///
    /// # Errors
    ///
    /// [`BundleError::Output`] when the stream cannot be created or the fd list's
    /// directory does not exist.
    pub fn create_with(
        stream: impl AsRef<Path>,
        fd_list: Option<&Path>,
        sizes_file: Option<&Path>,
    ) -> Result<BundleWriter, BundleError> {
        let stream = stream.as_ref();
        let fd_list = fd_list.map_or_else(|| fd_list::default_path(stream), Path::to_path_buf);
        let sizes_file = sizes_file.map_or_else(|| sizes::default_path(stream), Path::to_path_buf);
        // The stream first, so that an unwritable destination fails before any work.
        let stream = Output::create(stream)?;
        let list_dir = fs::canonicalize(base_dir(&fd_list))
            .map_err(|error| OutputError::new(&fd_list, OutputStep::Create, error))?;
        Ok(BundleWriter {
            stream,
            fd_list,
            sizes_file,
            list_dir,
        })
    }

    /// The fd list's path.
    pub fn fd_list(&self) -> &Path {
        &self.fd_list
    }

    /// The sizes file's path.
    pub fn sizes_file(&self) -> &Path {
        &self.sizes_file
    }

    /// Writes the fd list naming `sources` (absolute and canonical paths; those beneath
    /// the list's directory are listed relative to it) and the sizes file with `sizes`,
    /// then commits both and, last, the stream.
    ///
    /// # Errors
    ///
    /// [`BundleError::Count`] when `sources` and `sizes` differ in length; an error
    /// writing or committing a file. The files committed before the failure are removed
    /// again.
    pub fn commit<P: AsRef<Path>>(
        self,
        sources: &[P],
        sizes: &[u64],
        durability: Durability,
    ) -> Result<(), BundleError> {
        if sources.len() != sizes.len() {
            return Err(BundleError::Count {
                sizes: self.sizes_file,
                sizes_lines: sizes.len(),
                fd_list: self.fd_list,
                entries: sources.len(),
            });
        }
        let sizes_out = sizes::write(&self.sizes_file, sizes)?;
        let entries = sources
            .iter()
            .map(|source| fd_list::entry_for(&self.list_dir, source.as_ref()));
        let list_out = fd_list::write(&self.fd_list, entries)?;
        let mut committed: Vec<&Path> = Vec::with_capacity(2);
        let steps = [
            (list_out, self.fd_list.as_path()),
            (sizes_out, self.sizes_file.as_path()),
        ];
        for (out, path) in steps {
            if let Err(error) = out.commit(durability) {
                remove_all(&committed);
                return Err(error.into());
            }
            committed.push(path);
        }
        self.stream.commit(durability).map_err(|error| {
            remove_all(&committed);
            error.into()
        })
    }
}

fn remove_all(paths: &[&Path]) {
    for path in paths {
        let _ = fs::remove_file(path);
    }
}

impl Write for BundleWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.stream.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn nothing_appears_until_the_commit_and_nothing_stays_after_a_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = BundleWriter::create(dir.path().join("s.sfd")).unwrap();
        writer.write_all(&0u64.to_le_bytes()).unwrap();
        // At most a hidden temporary (without O_TMPFILE), never the stream's name.
        assert!(names(dir.path()).iter().all(|name| name.starts_with('.')));
        drop(writer);
        assert!(names(dir.path()).is_empty());
        let writer = BundleWriter::create(dir.path().join("s.sfd")).unwrap();
        writer
            .commit(&[Path::new("/abs/x")], &[3], Durability::Unsynced)
            .unwrap();
        assert_eq!(names(dir.path()), ["s.sfd", "s.sfd.fds", "s.sfd.sizes"]);
        assert_eq!(fs::read(dir.path().join("s.sfd.fds")).unwrap(), b"/abs/x\n");
    }

    #[test]
    fn a_failed_stream_commit_takes_the_sidecars_back() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("s.sfd");
        let writer = BundleWriter::create(&stream).unwrap();
        // A non-empty directory where the stream goes: the rename over it fails.
        fs::create_dir_all(stream.join("inside")).unwrap();
        let error = writer
            .commit(&[Path::new("/abs/x")], &[3], Durability::Unsynced)
            .unwrap_err();
        assert!(matches!(error, BundleError::Output(_)), "{error:?}");
        assert_eq!(names(dir.path()), ["s.sfd"]);
    }

    #[test]
    fn sources_and_sizes_must_pair_up() {
        let dir = tempfile::tempdir().unwrap();
        let writer = BundleWriter::create(dir.path().join("s.sfd")).unwrap();
        let error = writer
            .commit(
                &[Path::new("/a"), Path::new("/b")],
                &[1],
                Durability::Unsynced,
            )
            .unwrap_err();
        assert!(matches!(
            error,
            BundleError::Count {
                entries: 2,
                sizes_lines: 1,
                ..
            }
        ));
        assert!(names(dir.path()).is_empty());
    }
}
