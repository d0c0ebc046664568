//! Sources named by path: [`PathSources`] and the [`PathSource`] it hands out.

use ::std::fmt;
use ::std::fs::File;
use ::std::io;
use ::std::ops::Range;
use ::std::path::{Path, PathBuf};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::vec::Vec;

#[cfg(unix)]
use ::std::os::fd::{AsFd, BorrowedFd};

use splitfdstream::FdIndex;

#[cfg(unix)]
use super::ahead::{default_helpers, ReadAhead, Settings};
use super::held::Held;
use super::policy::Opener;
use super::{slot, ReadAt, Sources};
use crate::drive::len_u64;
use crate::SourceRef;

/// How many files [`PathSources`] keeps open for references out of order, by default.
pub const DEFAULT_OPEN_FILES: usize = 64;

/// How many files [`PathSources`] holds open ahead of use, by default.
pub const DEFAULT_OPEN_AHEAD: usize = 128;

/// Sources named by path: index `i` is the `i`-th path.
///
/// Every path is opened by the crate's one source policy
/// ([`open_path_source`](super::open_path_source)): read-only, close-on-exec and without
/// blocking, then checked on the opened descriptor to be a regular file or a block device
/// (symbolic links are followed). A FIFO is refused rather than waited on, and anything
/// else fails with `InvalidInput` naming the path and what it is.
///
/// # Read ahead
///
/// A stream refers to its sources mostly in index order (a tar layer names its files in
/// order), and opening, reading and closing a small file costs more than writing it out.
/// So, on Unix, helper threads open the sources in index order ahead of their use, read
/// each small one (up to 128 KiB) whole and close it, and pass larger ones on open with
/// their first 128 KiB read, for a kernel copy of the rest. They work a bounded number of
/// sources ahead, holding at most about [`with_depth`](PathSources::with_depth) files open
/// among them, so a layer of any size is rebuilt under a low open-file limit and in
/// bounded memory. On Linux 5.18 or later, with the `fd` feature, each helper opens files
/// in groups with one `io_uring_enter` ([`with_io_uring`](PathSources::with_io_uring)).
/// [`with_read_ahead(false)`](PathSources::with_read_ahead) opens each file only when it
/// is used, on the caller's thread.
///
/// The end of a small file read ahead is where one read lands exactly on the size `fstat`
/// gave just after the open; when it does not (a file that changed, or one whose size says
/// nothing, as in procfs), only a read returning 0 ends it.
///
/// # Out of order
///
/// A reference out of index order (a source named twice, random access) opens its file on
/// the caller's thread; the last [`with_cache_capacity`](PathSources::with_cache_capacity)
/// files opened that way stay open (least recently used closed first), and so does the
/// source handed out last, so that a driver that asks again for the source it is copying
/// never opens it twice (the [`Sources`] contract).
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, PathSources, Writer};
///
/// let dir = tempfile::tempdir()?;
/// let paths: Vec<_> = (0..3).map(|i| dir.path().join(i.to_string())).collect();
/// for (i, path) in paths.iter().enumerate() {
///     std::fs::write(path, format!("<{i}>"))?;
/// }
/// let mut writer = Writer::new(Vec::new());
/// for index in [0, 1, 2, 0] {
///     writer.write_external(index)?;
/// }
/// let stream = writer.finish()?;
/// let sources = PathSources::from_paths(paths);
/// let mut out = Vec::new();
/// assert_eq!(reconstruct(stream.as_slice(), &sources, &mut out)?, 12);
/// assert_eq!(out, b"<0><1><2><0>");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PathSources {
    paths: Arc<Vec<PathBuf>>,
    lens: Vec<Option<u64>>,
    cache_capacity: usize,
    read_ahead: bool,
    #[cfg(unix)]
    settings: Settings,
    state: Mutex<State>,
    /// Looks up sizes for random access, relative to the last directory.
    #[cfg(unix)]
    sizes: Mutex<Option<Opener>>,
}

/// What [`PathSources`] holds while in use.
#[derive(Default)]
struct State {
    /// The source handed out last and the files opened out of order.
    held: Held<usize>,
    #[cfg(unix)]
    ahead: Option<ReadAhead>,
}

/// One source of [`PathSources`]: the whole content of a small file read ahead, or an open
/// file (with its first bytes, when they were read ahead).
///
/// Reads are positional like a file's; clones share the content and the open file. An
/// open file has a descriptor ([`ReadAt::fd`]), so the kernel can copy it; content read
/// whole has none.
#[derive(Clone)]
pub struct PathSource {
    /// What was read ahead: `content[range]`, in a buffer shared with its batch.
    content: Arc<Vec<u8>>,
    range: Range<usize>,
    /// `None`: what was read is the whole content, its end confirmed by a read of 0.
    file: Option<Arc<File>>,
}

impl PathSource {
    /// The whole of an open file.
    pub(super) fn from_file(file: File) -> PathSource {
        PathSource {
            content: Arc::default(),
            range: 0..0,
            file: Some(Arc::new(file)),
        }
    }

    /// `content[range]`, read ahead, and the rest of the file if it is still open.
    #[cfg(unix)]
    pub(super) fn read_ahead(
        content: Arc<Vec<u8>>,
        range: Range<usize>,
        file: Option<File>,
    ) -> PathSource {
        PathSource {
            content,
            range,
            file: file.map(Arc::new),
        }
    }

    fn head(&self) -> &[u8] {
        self.content.get(self.range.clone()).unwrap_or_default()
    }

    /// Whether this source holds a file open.
    pub(super) fn is_open(&self) -> bool {
        self.file.is_some()
    }
}

impl ReadAt for PathSource {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let head = self.head();
        let start = usize::try_from(offset).map_or(head.len(), |o| o.min(head.len()));
        let from_head = head.get(start..).unwrap_or_default();
        let n = from_head.len().min(buf.len());
        buf[..n].copy_from_slice(&from_head[..n]);
        match &self.file {
            Some(file) if n < buf.len() => {
                let rest = offset.saturating_add(len_u64(n));
                match ReadAt::read_at(&**file, &mut buf[n..], rest) {
                    Ok(more) => Ok(n + more),
                    // The bytes from the head are real; the error comes with the next read.
                    Err(_) if n > 0 => Ok(n),
                    Err(error) => Err(error),
                }
            }
            _ => Ok(n),
        }
    }

    fn size(&self) -> io::Result<Option<u64>> {
        match &self.file {
            Some(file) => file.size(),
            None => Ok(Some(len_u64(self.range.len()))),
        }
    }

    #[cfg(unix)]
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_deref().map(AsFd::as_fd)
    }
}

impl fmt::Debug for PathSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathSource")
            .field("read_ahead", &self.range.len())
            .field("file", &self.file)
            .finish()
    }
}

impl PathSources {
    /// No sources yet.
    pub fn new() -> PathSources {
        PathSources {
            paths: Arc::new(Vec::new()),
            lens: Vec::new(),
            cache_capacity: DEFAULT_OPEN_FILES,
            read_ahead: true,
            #[cfg(unix)]
            settings: Settings {
                depth: DEFAULT_OPEN_AHEAD,
                helpers: default_helpers(),
                io_uring: true,
            },
            state: Mutex::new(State::default()),
            #[cfg(unix)]
            sizes: Mutex::new(None),
        }
    }

    /// Sources `0..` in the order of `paths`.
    pub fn from_paths<I>(paths: I) -> PathSources
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        let mut sources = PathSources::new();
        sources.extend(paths);
        sources
    }

    /// Keeps at most `capacity` files (at least 1) open for references out of index order.
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> PathSources {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// Whether helper threads open and read sources ahead of use (the default, on Unix), or
    /// each file is opened when it is used.
    #[must_use]
    pub fn with_read_ahead(mut self, read_ahead: bool) -> PathSources {
        self.read_ahead = read_ahead;
        self
    }

    /// Holds at most about `depth` files (at least 1) open ahead of use. Sources read whole
    /// are closed at once and do not count; larger ones are passed on open.
    #[must_use]
    pub fn with_depth(mut self, depth: usize) -> PathSources {
        #[cfg(unix)]
        {
            self.settings.depth = depth.max(1);
        }
        #[cfg(not(unix))]
        let _ = depth;
        self
    }

    /// Uses `helpers` threads (at least 1) to read ahead; by default one more than the
    /// available cores, at least 2 and at most 4.
    #[must_use]
    pub fn with_helpers(mut self, helpers: usize) -> PathSources {
        #[cfg(unix)]
        {
            self.settings.helpers = helpers.max(1);
        }
        #[cfg(not(unix))]
        let _ = helpers;
        self
    }

    /// Whether helpers open groups of files with one `io_uring_enter` each (the default;
    /// with the `fd` feature on Linux 5.18 or later, where the kernel allows `io_uring`)
    /// rather than with an `openat` each. Both open the same files with the same flags.
    #[must_use]
    pub fn with_io_uring(mut self, io_uring: bool) -> PathSources {
        #[cfg(unix)]
        {
            self.settings.io_uring = io_uring;
        }
        #[cfg(not(unix))]
        let _ = io_uring;
        self
    }

    /// Adds the next source; returns its index.
    pub fn push(&mut self, path: impl Into<PathBuf>) -> u64 {
        self.push_entry(path.into(), None)
    }

    /// Adds the next source, which must be exactly `len` bytes long; returns its index.
    pub fn push_with_len(&mut self, path: impl Into<PathBuf>, len: u64) -> u64 {
        self.push_entry(path.into(), Some(len))
    }

    fn push_entry(&mut self, path: PathBuf, expected_len: Option<u64>) -> u64 {
        // Paths are shared with the helpers once they start: stop them first (a source
        // added after that restarts them with the longer list).
        *self.state.get_mut().unwrap_or_else(PoisonError::into_inner) = State::default();
        Arc::make_mut(&mut self.paths).push(path);
        self.lens.push(expected_len);
        len_u64(self.lens.len() - 1)
    }

    /// The number of sources.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether there are no sources.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The path of source `index`.
    pub fn path(&self, index: FdIndex) -> Option<&Path> {
        slot(&self.paths, index).map(PathBuf::as_path)
    }

    /// Files held open outside the read-ahead: those opened for references out of order
    /// or without read ahead, and the one handed out last.
    pub fn open_files(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.held.open_files()
    }

    /// Opens source `at` on this thread, keeping it among the files opened out of order.
    fn open_now(&self, state: &mut State, at: usize) -> io::Result<PathSource> {
        let (opened, _) = Opener::new().open(&self.paths[at])?;
        let source = PathSource::from_file(opened.into_blocking());
        state.held.keep(at, &source, self.cache_capacity);
        Ok(source)
    }

    /// Source `at` for a new use, or `again` for the one in use.
    fn lookup(&self, at: usize, again: bool) -> io::Result<PathSource> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(source) = state.held.again(|last| again && *last == at) {
            return Ok(source);
        }
        state.held.release();
        let source = match state.held.find(|cached| *cached == at) {
            Some(source) => source,
            None => match self.take_ahead(&mut state, at) {
                Some(source) => source?,
                None => self.open_now(&mut state, at)?,
            },
        };
        state.held.hand_out(at, &source);
        Ok(source)
    }

    /// Source `at` from the helpers, starting them on first use; `None` when it is not
    /// theirs to give (out of order, no read ahead, no helpers).
    #[cfg(unix)]
    fn take_ahead(&self, state: &mut State, at: usize) -> Option<io::Result<PathSource>> {
        if !self.read_ahead {
            return None;
        }
        let paths = &self.paths;
        let settings = self.settings;
        let opener = move |group| {
            let mut opener = Opener::new();
            if settings.io_uring {
                opener.use_io_uring(group);
            }
            opener
        };
        state
            .ahead
            .get_or_insert_with(|| ReadAhead::start(Arc::clone(paths), settings, opener))
            .take(at)
    }

    #[cfg(not(unix))]
    fn take_ahead(&self, _: &mut State, _: usize) -> Option<io::Result<PathSource>> {
        None
    }

    fn position(&self, reference: SourceRef<'_>) -> Option<usize> {
        let index = reference.index()?;
        usize::try_from(index.get())
            .ok()
            .filter(|&at| at < self.paths.len())
    }
}

impl Default for PathSources {
    fn default() -> Self {
        PathSources::new()
    }
}

impl fmt::Debug for PathSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathSources")
            .field("len", &self.paths.len())
            .field("read_ahead", &self.read_ahead)
            .field("open_files", &self.open_files())
            .finish_non_exhaustive()
    }
}

impl<P: Into<PathBuf>> Extend<P> for PathSources {
    fn extend<I: IntoIterator<Item = P>>(&mut self, paths: I) {
        *self.state.get_mut().unwrap_or_else(PoisonError::into_inner) = State::default();
        let all = Arc::make_mut(&mut self.paths);
        for path in paths {
            all.push(path.into());
            self.lens.push(None);
        }
    }
}

impl<P: Into<PathBuf>> FromIterator<P> for PathSources {
    fn from_iter<I: IntoIterator<Item = P>>(paths: I) -> PathSources {
        PathSources::from_paths(paths)
    }
}

impl Sources for PathSources {
    type Source<'a> = PathSource;

    /// The file of the reference, read ahead or opened now; the error of a failed open
    /// names the path.
    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<PathSource>> {
        match self.position(reference) {
            Some(at) => self.lookup(at, false).map(Some),
            None => Ok(None),
        }
    }

    /// The source handed out last, when it is this reference's; else as [`source`](Sources::source).
    fn source_again(&self, reference: SourceRef<'_>) -> io::Result<Option<PathSource>> {
        match self.position(reference) {
            Some(at) => self.lookup(at, true).map(Some),
            None => Ok(None),
        }
    }

    fn expected_len(&self, reference: SourceRef<'_>) -> Option<u64> {
        let at = self.position(reference)?;
        self.lens.get(at).copied().flatten()
    }

    /// The size of the file the path names now (`stat`, nothing opened); `None` for a
    /// block device.
    fn source_size(&self, reference: SourceRef<'_>) -> io::Result<Option<u64>> {
        let Some(at) = self.position(reference) else {
            return Ok(None);
        };
        let path = &self.paths[at];
        #[cfg(unix)]
        {
            let mut sizes = self.sizes.lock().unwrap_or_else(PoisonError::into_inner);
            sizes.get_or_insert_with(Opener::new).regular_size(path)
        }
        #[cfg(not(unix))]
        {
            let metadata =
                ::std::fs::metadata(path).map_err(|error| super::policy::named(path, error))?;
            Ok(metadata.is_file().then_some(metadata.len()))
        }
    }

    fn path(&self, reference: SourceRef<'_>) -> Option<&Path> {
        self.position(reference)
            .and_then(|at| self.paths.get(at))
            .map(PathBuf::as_path)
    }

    /// Closes every file held and stops the helpers; the next reference starts them again.
    fn rewind(&self) {
        let old = ::std::mem::take(&mut *self.state.lock().unwrap_or_else(PoisonError::into_inner));
        drop(old);
    }
}
