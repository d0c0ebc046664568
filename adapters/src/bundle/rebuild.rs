//! A bundle on disk, read back: the stream, the source paths of its fd list, the sizes of
//! its sizes file, and the rebuild of the original bytes from them.

use ::std::fs::{self, File};
use ::std::io::Write;
use ::std::path::{Path, PathBuf};
use ::std::vec::Vec;

use splitfdstream::FdIndex;

use super::error::BundleError;
use super::output::{Durability, Output};
use super::{dir_list, fd_list, sizes};
use crate::std::{DirSources, Error, ExpectedLens, PathSources, Sources, DEFAULT_OPEN_AHEAD};
use crate::Format;

/// A successor-format stream up to this size is read whole to announce its files to the
/// read-ahead; a larger one is rebuilt opening each file when used.
const MAX_ANNOUNCED_STREAM: u64 = 64 << 20;

/// Files the bundle's sources keep open for references out of order: few, so that a
/// bundle of any number of sources rebuilds under a low open-file limit.
const OPEN_PATH_SOURCES: usize = 32;

/// The bundle's sources: the fd list's paths, read ahead on helper threads that hold at
/// most a quarter of the open-file limit open (so that a rebuild runs under a limit as low
/// as 64, with room for the caller's own descriptors), and at most [`DEFAULT_OPEN_AHEAD`].
fn prepare(paths: Vec<PathBuf>) -> PathSources {
    #[cfg(unix)]
    let depth = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .and_then(|limit| usize::try_from(limit / 4).ok())
        .map_or(DEFAULT_OPEN_AHEAD, |quarter| {
            quarter.clamp(4, DEFAULT_OPEN_AHEAD)
        });
    #[cfg(not(unix))]
    let depth = DEFAULT_OPEN_AHEAD;
    PathSources::from_paths(paths)
        .with_depth(depth)
        .with_cache_capacity(OPEN_PATH_SOURCES)
}

/// `Some(size)` for each size of the sizes file, none without one.
fn expected_lens(sizes: Option<&[u64]>) -> Vec<Option<u64>> {
    sizes.into_iter().flatten().copied().map(Some).collect()
}

/// A stream with its fd list and, when there is one, its sizes file, read and checked
/// against each other; ready to rebuild the original bytes.
///
/// ```
/// # use std::io::Write;
/// # use splitfdstream_adapters::bundle::BundleWriter;
/// # use splitfdstream_adapters::std::Writer;
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("member"), b"content")?;
/// # let mut writer = BundleWriter::create(dir.path().join("layer.sfd"))?;
/// # let mut stream = Writer::new(&mut writer);
/// # stream.write_inline(b"<header>")?;
/// # stream.write_external(0)?;
/// # stream.finish()?;
/// # writer.commit(&[dir.path().canonicalize()?.join("member")], &[7], Durability::Synced)?;
/// # std::env::set_current_dir(dir.path())?;
/// use splitfdstream_adapters::bundle::{Bundle, Durability};
///
/// let bundle = Bundle::open("layer.sfd")?; // with layer.sfd.fds and layer.sfd.sizes
/// bundle.rebuild_to_path("layer.tar", Durability::Synced)?;
/// assert_eq!(std::fs::read("layer.tar")?, b"<header>content");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Into a writer (here memory) or, with the `fd` feature, a descriptor:
///
/// ```
/// # use splitfdstream_adapters::bundle::{BundleWriter, Durability};
/// # use splitfdstream_adapters::std::Writer;
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("member"), b"content")?;
/// # let mut writer = BundleWriter::create(dir.path().join("layer.sfd"))?;
/// # let mut stream = Writer::new(&mut writer);
/// # stream.write_external(0)?;
/// # stream.finish()?;
/// # writer.commit(&[dir.path().canonicalize()?.join("member")], &[7], Durability::Synced)?;
/// use splitfdstream_adapters::bundle::Bundle;
///
/// let bundle = Bundle::open(dir.path().join("layer.sfd"))?;
/// let mut rebuilt = Vec::new();
/// assert_eq!(bundle.rebuild_to_writer(&mut rebuilt)?, 7);
/// assert_eq!(rebuilt, b"content");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Bundle {
    stream: PathBuf,
    format: Format,
    fd_list: PathBuf,
    sizes_file: Option<PathBuf>,
    sizes: Option<Vec<u64>>,
    sources: ExpectedLens<PathSources>,
    /// The directories of a successor-format bundle, and their paths.
    dirs: Option<(DirSources, Vec<PathBuf>)>,
}

impl Bundle {
    /// Reads the bundle of the stream at `stream`: the fd list `STREAM.fds`, and the sizes
    /// file `STREAM.sizes` when it exists (without it, sources are read unchecked).
    ///
    /// # Errors
    ///
    /// As [`open_with`](Bundle::open_with).
    pub fn open(stream: impl AsRef<Path>) -> Result<Bundle, BundleError> {
        Bundle::open_with(stream, None, None)
    }

    /// Reads the bundle of the stream at `stream` with the fd list `fd_list` (default
    /// `STREAM.fds`) and the sizes file `sizes_file`, which must then exist (default
    /// `STREAM.sizes` when it exists).
    ///
    /// # Errors
    ///
    /// [`BundleError::Stream`] when the stream does not exist; [`BundleError::Read`] or
    /// [`BundleError::Line`] when a sidecar cannot be read or holds a malformed line;
    /// [`BundleError::Count`] when the sizes file and the fd list disagree on the number
    /// of sources.
    pub fn open_with(
        stream: impl AsRef<Path>,
        fd_list: Option<&Path>,
        sizes_file: Option<&Path>,
    ) -> Result<Bundle, BundleError> {
        let stream = stream.as_ref();
        if let Err(error) = fs::metadata(stream) {
            return Err(BundleError::Stream {
                path: stream.to_path_buf(),
                error,
            });
        }
        let fd_list = fd_list.map_or_else(|| fd_list::default_path(stream), Path::to_path_buf);
        let sources = fd_list::read(&fd_list)?;
        let (sizes_file, optional) = match sizes_file {
            Some(path) => (path.to_path_buf(), false),
            None => (sizes::default_path(stream), true),
        };
        let sizes = sizes::read(&sizes_file, optional)?;
        if let Some(sizes) = &sizes {
            if sizes.len() != sources.len() {
                return Err(BundleError::Count {
                    sizes: sizes_file,
                    sizes_lines: sizes.len(),
                    fd_list,
                    entries: sources.len(),
                });
            }
        }
        let lens = expected_lens(sizes.as_deref());
        Ok(Bundle {
            stream: stream.to_path_buf(),
            format: Format::Splitfdstream,
            fd_list,
            sizes_file: sizes.is_some().then_some(sizes_file),
            sizes,
            sources: ExpectedLens::new(prepare(sources), lens),
            dirs: None,
        })
    }

    /// Reads the bundle of the successor-format stream at `stream` with the directory list
    /// `dir_list` (default `STREAM.dirs`): each FileBackedData chunk names a file beneath
    /// one of its directories, opened confined beneath it ([`DirSources`]) and of exactly
    /// the length the chunk declares. A stream of up to 64 MiB is read once here, so that
    /// its files are opened and read ahead in its order.
    ///
    /// ```
    /// use splitfdstream::dir::Encoder;
    /// use splitfdstream_adapters::bundle::{dir_list, Bundle, Durability};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("objects"))?;
    /// std::fs::write(dir.path().join("objects/member"), b"content")?;
    /// let mut stream = vec![0; 64];
    /// let mut encoder = Encoder::new();
    /// let mut len = encoder.metadata(b"<header>", &mut stream)?;
    /// len += encoder.file_backed(0, 7, b"member", &mut stream[len..])?;
    /// let path = dir.path().join("layer.sdfs");
    /// std::fs::write(&path, &stream[..len])?;
    /// dir_list::write(&dir_list::default_path(&path), [b"objects"])?.commit(Durability::Unsynced)?;
    ///
    /// let bundle = Bundle::open_dirs(&path, None)?;
    /// let mut rebuilt = Vec::new();
    /// bundle.rebuild_to_writer(&mut rebuilt)?;
    /// assert_eq!(rebuilt, b"<header>content");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BundleError::Stream`] when the stream does not exist or cannot be read;
    /// [`BundleError::Read`] or [`BundleError::Line`] for the directory list, and
    /// [`BundleError::Read`] naming it for a directory that cannot be opened.
    pub fn open_dirs(
        stream: impl AsRef<Path>,
        dir_list: Option<&Path>,
    ) -> Result<Bundle, BundleError> {
        let stream = stream.as_ref();
        let stream_error = |error| BundleError::Stream {
            path: stream.to_path_buf(),
            error,
        };
        let size = fs::metadata(stream).map_err(stream_error)?.len();
        let list = dir_list.map_or_else(|| dir_list::default_path(stream), Path::to_path_buf);
        let paths = dir_list::read(&list)?;
        let mut sources = DirSources::open(&paths).map_err(|error| BundleError::Read {
            file: super::Sidecar::DirList,
            path: list.clone(),
            error,
        })?;
        if size <= MAX_ANNOUNCED_STREAM {
            let bytes = fs::read(stream).map_err(stream_error)?;
            // A malformed stream is reported by the rebuild, with its offset.
            if sources.read_ahead_for(&bytes).is_err() {
                sources = sources.with_read_ahead(false);
            }
        }
        Ok(Bundle {
            stream: stream.to_path_buf(),
            format: Format::Splitdirfdstream,
            fd_list: list,
            sizes_file: None,
            sizes: None,
            sources: ExpectedLens::new(PathSources::new(), Vec::new()),
            dirs: Some((sources, paths)),
        })
    }

    /// Reads the bundle of `stream` in `format`, or, without one, in the format its
    /// sidecar says ([`dir_list::format_beside`]: `STREAM.dirs` or `STREAM.fds`; the first
    /// format when neither or both are there).
    ///
    /// # Errors
    ///
    /// As [`open`](Bundle::open) and [`open_dirs`](Bundle::open_dirs).
    pub fn open_as(
        stream: impl AsRef<Path>,
        format: Option<Format>,
    ) -> Result<Bundle, BundleError> {
        let stream = stream.as_ref();
        let format = format
            .or_else(|| dir_list::format_beside(stream))
            .unwrap_or_default();
        match format {
            Format::Splitdirfdstream => Bundle::open_dirs(stream, None),
            _ => Bundle::open(stream),
        }
    }

    /// The stream's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The stream's path.
    pub fn stream(&self) -> &Path {
        &self.stream
    }

    /// The fd list's path (the directory list's, for the successor format).
    pub fn fd_list(&self) -> &Path {
        &self.fd_list
    }

    /// The sizes file's path, when there is one.
    pub fn sizes_file(&self) -> Option<&Path> {
        self.sizes_file.as_deref()
    }

    /// The number of sources in the fd list (of directories, for the successor format).
    pub fn source_count(&self) -> usize {
        match &self.dirs {
            Some((_, paths)) => paths.len(),
            None => self.sources.sources().len(),
        }
    }

    /// The path of source `index` (of directory `index`, for the successor format),
    /// resolved against the list's directory.
    pub fn source_path(&self, index: FdIndex) -> Option<&Path> {
        match &self.dirs {
            Some((_, paths)) => usize::try_from(index.get())
                .ok()
                .and_then(|at| paths.get(at))
                .map(PathBuf::as_path),
            None => self.sources.sources().path(index),
        }
    }

    /// The sources' paths, resolved against the fd list's directory, in index order.
    pub fn source_paths(&self) -> impl Iterator<Item = &Path> {
        (0..self.source_count()).map_while(|at| {
            let index = u64::try_from(at).ok().and_then(FdIndex::new)?;
            self.source_path(index)
        })
    }

    /// The size source `index` must have, when there is a sizes file.
    pub fn expected_len(&self, index: FdIndex) -> Option<u64> {
        let at = usize::try_from(index.get()).ok()?;
        self.sizes.as_ref()?.get(at).copied()
    }

    /// New sources from the fd list's paths, read ahead like the bundle's own (see
    /// [`PathSources`]), each checked against its size when there is a sizes file. The
    /// bundle's own rebuilds use theirs; these are for a rebuild of your own.
    pub fn path_sources(&self) -> ExpectedLens<PathSources> {
        let sources = prepare(self.source_paths().map(Path::to_path_buf).collect());
        ExpectedLens::new(sources, expected_lens(self.sizes.as_deref()))
    }

    /// Opens the stream.
    ///
    /// # Errors
    ///
    /// [`BundleError::Stream`].
    pub fn open_stream(&self) -> Result<File, BundleError> {
        File::open(&self.stream).map_err(|error| BundleError::Stream {
            path: self.stream.clone(),
            error,
        })
    }

    /// The stream's bytes: with the `decompress` feature, decompressed when the file is
    /// compressed.
    #[cfg(feature = "decompress")]
    fn read_stream(&self) -> Result<crate::decompress::Decompressed<File>, BundleError> {
        crate::decompress::Decompressed::new(self.open_stream()?).map_err(|error| {
            BundleError::Stream {
                path: self.stream.clone(),
                error,
            }
        })
    }

    /// The stream's bytes.
    #[cfg(not(feature = "decompress"))]
    fn read_stream(&self) -> Result<File, BundleError> {
        self.open_stream()
    }

    fn failed(&self, error: Error) -> BundleError {
        BundleError::Rebuild {
            stream: self.stream.clone(),
            error,
        }
    }

    /// Rebuilds the original bytes from `sources` into `out` with
    /// [`std::reconstruct`](crate::std::reconstruct); returns the number of bytes written.
    ///
    /// # Errors
    ///
    /// [`BundleError::Stream`] when the stream cannot be opened, [`BundleError::Rebuild`]
    /// with the reconstruction's error.
    pub fn rebuild_with<S, W>(&self, sources: &S, out: W) -> Result<u64, BundleError>
    where
        S: Sources + ?Sized,
        W: Write,
    {
        let stream = self.read_stream()?;
        crate::std::reconstruct_as(self.format, stream, sources, out)
            .map_err(|error| self.failed(error))
    }

    /// Rebuilds the original bytes from `sources` into the descriptor `out` with
    /// [`fd::reconstruct`](crate::fd::reconstruct) (kernel copies where they help);
    /// returns the number of bytes written.
    ///
    /// # Errors
    ///
    /// As [`rebuild_with`](Bundle::rebuild_with).
    #[cfg(all(feature = "fd", unix))]
    pub fn rebuild_fd_with<S, F>(&self, sources: &S, out: F) -> Result<u64, BundleError>
    where
        S: Sources + ?Sized,
        F: ::std::os::fd::AsFd,
    {
        let stream = self.read_stream()?;
        crate::fd::Reconstruct::new()
            .format(self.format)
            .run(stream, sources, out)
            .map(|copied| copied.total)
            .map_err(|error| self.failed(error))
    }

    /// Rebuilds the original bytes into `out`; returns the number of bytes written.
    ///
    /// Sources are read ahead on helper threads (on Unix), for every rebuild of the bundle.
    ///
    /// # Errors
    ///
    /// As [`rebuild_with`](Bundle::rebuild_with).
    pub fn rebuild_to_writer(&self, out: impl Write) -> Result<u64, BundleError> {
        match &self.dirs {
            Some((dirs, _)) => self.rebuild_with(dirs, out),
            None => self.rebuild_with(&self.sources, out),
        }
    }

    /// Rebuilds the original bytes into the descriptor `out`; returns the number of bytes
    /// written. Sources are read as by [`rebuild_to_writer`](Bundle::rebuild_to_writer).
    ///
    /// # Errors
    ///
    /// As [`rebuild_with`](Bundle::rebuild_with).
    #[cfg(all(feature = "fd", unix))]
    pub fn rebuild_to_fd(&self, out: impl ::std::os::fd::AsFd) -> Result<u64, BundleError> {
        match &self.dirs {
            Some((dirs, _)) => self.rebuild_fd_with(dirs, out),
            None => self.rebuild_fd_with(&self.sources, out),
        }
    }

    /// Rebuilds the original bytes into the file `dest`, which appears only when complete
    /// (see [`Output`]), and with [`Durability::Synced`] only once on disk; a FIFO or device
    /// at `dest` is written in place. Returns the number of bytes written.
    ///
    /// # Errors
    ///
    /// As [`rebuild_with`](Bundle::rebuild_with), or [`BundleError::Output`]; `dest` then
    /// holds what it held before, and no temporary file is left.
    pub fn rebuild_to_path(
        &self,
        dest: impl AsRef<Path>,
        durability: Durability,
    ) -> Result<u64, BundleError> {
        let out = Output::create_or_in_place(dest)?;
        #[cfg(all(feature = "fd", unix))]
        let written = self.rebuild_to_fd(out.file())?;
        #[cfg(not(all(feature = "fd", unix)))]
        let written = self.rebuild_to_writer(out.file())?;
        out.commit(durability)?;
        Ok(written)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bundle::Sidecar;

    /// A bundle of two sources in `dir`: `s.sfd` = "<" External(0) External(1) ">".
    fn bundle(dir: &Path) {
        fs::write(dir.join("a"), b"alpha").unwrap();
        fs::write(dir.join("b"), b"beta").unwrap();
        let mut stream = Vec::new();
        let mut writer = crate::std::Writer::new(&mut stream);
        writer.write_inline(b"<").unwrap();
        writer.write_external(0).unwrap();
        writer.write_external(1).unwrap();
        writer.write_inline(b">").unwrap();
        writer.finish().unwrap();
        fs::write(dir.join("s.sfd"), stream).unwrap();
        fs::write(dir.join("s.sfd.fds"), "a\nb\n").unwrap();
        fs::write(dir.join("s.sfd.sizes"), "5\n4\n").unwrap();
    }

    #[test]
    fn rebuilds_into_a_path_a_writer_and_a_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path());
        let bundle = Bundle::open(dir.path().join("s.sfd")).unwrap();
        assert_eq!(bundle.sizes_file(), Some(&*dir.path().join("s.sfd.sizes")));
        let dest = dir.path().join("out");
        assert_eq!(
            bundle.rebuild_to_path(&dest, Durability::Unsynced).unwrap(),
            11
        );
        assert_eq!(fs::read(&dest).unwrap(), b"<alphabeta>");
        // A second rebuild of the same bundle, and one into a writer.
        let mut out = Vec::new();
        bundle.rebuild_to_writer(&mut out).unwrap();
        assert_eq!(out, b"<alphabeta>");
        assert_eq!(bundle.source_count(), 2);
        assert_eq!(
            bundle.source_paths().collect::<Vec<_>>(),
            [dir.path().join("a"), dir.path().join("b")]
        );
        let mut out = Vec::new();
        bundle
            .rebuild_with(&bundle.path_sources(), &mut out)
            .unwrap();
        assert_eq!(out, b"<alphabeta>");
    }

    #[test]
    fn a_source_of_another_size_fails_and_leaves_the_old_output() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path());
        let dest = dir.path().join("out");
        fs::write(&dest, b"previous").unwrap();
        fs::write(dir.path().join("b"), b"betamax").unwrap();
        let bundle = Bundle::open(dir.path().join("s.sfd")).unwrap();
        let error = bundle
            .rebuild_to_path(&dest, Durability::Synced)
            .unwrap_err();
        assert!(matches!(error, BundleError::Rebuild { .. }), "{error:?}");
        assert_eq!(fs::read(&dest).unwrap(), b"previous");
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a", "b", "out", "s.sfd", "s.sfd.fds", "s.sfd.sizes"]
        );
    }

    #[test]
    fn bad_bundles_name_the_file_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("s.sfd");
        let error = Bundle::open(&stream).unwrap_err();
        assert!(matches!(&error, BundleError::Stream { path, .. } if *path == stream));
        bundle(dir.path());
        fs::write(dir.path().join("s.sfd.sizes"), "5\n").unwrap();
        let error = Bundle::open(&stream).unwrap_err();
        assert_eq!(
            error.to_string(),
            ::std::format!(
                "the sizes file {}.sizes has 1 line, the fd list {}.fds has 2 entries",
                stream.display(),
                stream.display()
            )
        );
        fs::write(dir.path().join("s.sfd.sizes"), "5\n4x\n").unwrap();
        let error = Bundle::open(&stream).unwrap_err();
        assert!(matches!(
            &error,
            BundleError::Line { file: Sidecar::Sizes, error, .. } if error.line() == 2
        ));
        fs::remove_file(dir.path().join("s.sfd.sizes")).unwrap();
        let bundle = Bundle::open(&stream).unwrap();
        assert!(bundle.sizes_file().is_none());
        let missing = dir.path().join("given.sizes");
        let error = Bundle::open_with(&stream, None, Some(&missing)).unwrap_err();
        assert!(
            matches!(&error, BundleError::Read { file: Sidecar::Sizes, path, .. } if *path == missing)
        );
        fs::write(dir.path().join("s.sfd.fds"), "a\n\n").unwrap();
        let error = Bundle::open(&stream).unwrap_err();
        assert!(matches!(
            &error,
            BundleError::Line { file: Sidecar::FdList, error, .. } if error.line() == 2
        ));
    }
}
