//! A successor-format bundle being written: the stream first, then the directory list,
//! both appearing together only when complete.

use ::std::fs;
use ::std::io::{self, Write};
use ::std::path::{Path, PathBuf};

use super::dir_list;
use super::error::{BundleError, OutputError, OutputStep};
use super::fd_list::{base_dir, entry_for};
use super::output::{Durability, Output};

/// Writes a splitdirfdstream bundle: the stream through [`Write`] (usually wrapped in a
/// [`DirWriter`](crate::std::DirWriter)), then the directory list `STREAM.dirs` at
/// [`commit`](DirBundleWriter::commit). Nothing appears at either path unless the whole
/// bundle is committed, and the stream is committed last, so that a stream is never paired
/// with the list of another.
///
/// ```
/// use splitfdstream_adapters::bundle::{Bundle, DirBundleWriter, Durability};
/// use splitfdstream_adapters::std::DirWriter;
///
/// let dir = tempfile::tempdir()?;
/// let objects = dir.path().canonicalize()?.join("objects");
/// std::fs::create_dir(&objects)?;
/// std::fs::write(objects.join("member"), b"content")?;
/// let mut bundle = DirBundleWriter::create(dir.path().join("s.sdfs"))?;
/// let mut stream = DirWriter::new(&mut bundle);
/// stream.write_metadata(b"<header>")?;
/// stream.write_file_backed(0, 7, b"member")?;
/// stream.finish()?;
/// bundle.commit(&[objects], Durability::Synced)?;
/// assert_eq!(std::fs::read_to_string(dir.path().join("s.sdfs.dirs"))?, "objects\n");
/// let mut rebuilt = Vec::new();
/// Bundle::open_as(dir.path().join("s.sdfs"), None)?.rebuild_to_writer(&mut rebuilt)?;
/// assert_eq!(rebuilt, b"<header>content");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DirBundleWriter {
    stream: Output,
    dir_list: PathBuf,
    /// The list's directory, absolute and canonical: directories beneath it are listed
    /// relative to it, so that the bundle can be moved as a whole.
    list_dir: PathBuf,
}

impl DirBundleWriter {
    /// Starts writing the stream `stream`, with the directory list `STREAM.dirs`.
    ///
    /// # Errors
    ///
    /// As [`create_with`](DirBundleWriter::create_with).
    pub fn create(stream: impl AsRef<Path>) -> Result<DirBundleWriter, BundleError> {
        DirBundleWriter::create_with(stream, None)
    }

    /// Starts writing the stream `stream`, with the directory list `dir_list` (default
    /// `STREAM.dirs`).
    ///
    /// # Errors
    ///
    /// [`BundleError::Output`] when the stream cannot be created or the list's directory
    /// does not exist.
    pub fn create_with(
        stream: impl AsRef<Path>,
        dir_list: Option<&Path>,
    ) -> Result<DirBundleWriter, BundleError> {
        let stream = stream.as_ref();
        let dir_list = dir_list.map_or_else(|| dir_list::default_path(stream), Path::to_path_buf);
        let stream = Output::create(stream)?;
        let list_dir = fs::canonicalize(base_dir(&dir_list))
            .map_err(|error| OutputError::new(&dir_list, OutputStep::Create, error))?;
        Ok(DirBundleWriter {
            stream,
            dir_list,
            list_dir,
        })
    }

    /// The directory list's path.
    pub fn dir_list(&self) -> &Path {
        &self.dir_list
    }

    /// Writes the directory list naming `dirs` (absolute and canonical paths; those
    /// beneath the list's directory are listed relative to it; line `i` is directory
    /// index `i`), commits it and, last, the stream.
    ///
    /// # Errors
    ///
    /// An error writing or committing a file; the list is removed again when the stream
    /// cannot be committed.
    pub fn commit<P: AsRef<Path>>(
        self,
        dirs: &[P],
        durability: Durability,
    ) -> Result<(), BundleError> {
        let entries = dirs
            .iter()
            .map(|dir| entry_for(&self.list_dir, dir.as_ref()));
        dir_list::write(&self.dir_list, entries)?.commit(durability)?;
        self.stream.commit(durability).map_err(|error| {
            let _ = fs::remove_file(&self.dir_list);
            error.into()
        })
    }
}

impl Write for DirBundleWriter {
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

    #[test]
    fn a_failed_stream_commit_takes_the_list_back() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("s.sdfs");
        let writer = DirBundleWriter::create(&stream).unwrap();
        fs::create_dir_all(stream.join("inside")).unwrap();
        let error = writer
            .commit(&[Path::new("/abs")], Durability::Unsynced)
            .unwrap_err();
        assert!(matches!(error, BundleError::Output(_)), "{error:?}");
        assert!(!dir.path().join("s.sdfs.dirs").exists());
    }
}
