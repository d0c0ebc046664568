//! External sources for the std adapters: positional reads and size discovery.

use ::std::boxed::Box;
use ::std::fs::{self, File, FileType};
use ::std::io;
use ::std::path::{Path, PathBuf};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::vec::Vec;
use ::std::{fmt, format};

#[cfg(unix)]
use ::std::os::fd::{AsFd, BorrowedFd};

use splitfdstream::FdIndex;

use crate::drive::len_u64;

/// One external source: read at any offset, with a size when it can be discovered.
///
/// Reads are positional (no shared cursor), so the same source can be referenced any
/// number of times and each reference reads it from offset 0.
pub trait ReadAt {
    /// Reads into `buf` from `offset`; returns the bytes read, 0 at the end.
    ///
    /// As with `pread` on a regular file, a read that returns less than asked and ends
    /// exactly at the source's [`size`](ReadAt::size) is taken as reaching its end; no
    /// further read is made to confirm it.
    ///
    /// # Errors
    ///
    /// Any I/O error; `Interrupted` is retried by the callers in this crate.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// The source's size, when it can be known without reading it (a regular file's
    /// length); `None` when it is read to its end instead (a pipe, a character device).
    ///
    /// # Errors
    ///
    /// Any I/O error while finding the size.
    fn size(&self) -> io::Result<Option<u64>>;

    /// The descriptor behind this source, if it is one, so that descriptor-level copies
    /// (`copy_file_range`, `sendfile`) can bypass user space. Defaults to `None`.
    #[cfg(unix)]
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// The descriptor behind this source and the descriptor offset at which the source's
    /// offset 0 lies, for descriptor-level copies. Defaults to [`fd`](ReadAt::fd) at offset
    /// 0; a source that is a region of a file (`fd::FileRange`) returns `None` from `fd` and
    /// its region here.
    #[cfg(unix)]
    fn fd_region(&self) -> Option<(BorrowedFd<'_>, u64)> {
        self.fd().map(|fd| (fd, 0))
    }
}

#[cfg(any(unix, windows))]
impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        {
            ::std::os::unix::fs::FileExt::read_at(self, buf, offset)
        }
        #[cfg(windows)]
        {
            ::std::os::windows::fs::FileExt::seek_read(self, buf, offset)
        }
    }

    /// The length of a regular file; `None` for anything else. Block devices report 0
    /// here, so they are read to their end.
    fn size(&self) -> io::Result<Option<u64>> {
        let metadata = self.metadata()?;
        Ok(metadata.is_file().then_some(metadata.len()))
    }

    #[cfg(unix)]
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).map_or(self.len(), |o| o.min(self.len()));
        let rest = self.get(start..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(len_u64(self.len())))
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        self.as_slice().size()
    }
}

macro_rules! forward_read_at {
    ($($ty:ty),*) => {$(
        impl<T: ReadAt + ?Sized> ReadAt for $ty {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                (**self).read_at(buf, offset)
            }

            fn size(&self) -> io::Result<Option<u64>> {
                (**self).size()
            }

            #[cfg(unix)]
            fn fd(&self) -> Option<BorrowedFd<'_>> {
                (**self).fd()
            }

            #[cfg(unix)]
            fn fd_region(&self) -> Option<(BorrowedFd<'_>, u64)> {
                (**self).fd_region()
            }
        }
    )*};
}

forward_read_at!(&T, Box<T>, Arc<T>);

/// The caller's ordered list of external sources: index `i` of the stream is its `i`-th
/// source.
///
/// Implemented for slices, arrays and vectors of any [`ReadAt`] (files, byte vectors,
/// `&[u8]`), for [`PathSources`] (lazily opened files) and for [`ExpectedLens`] (any of
/// these with sizes the caller expects).
///
/// ```
/// use splitfdstream::FdIndex;
/// use splitfdstream_adapters::std::{ReadAt, Sources};
///
/// let sources: [&[u8]; 2] = [b"zero", b"one"];
/// let one = sources.source(FdIndex::new(1).unwrap())?.unwrap();
/// assert_eq!(one.size()?, Some(3));
/// assert!(sources.source(FdIndex::new(2).unwrap())?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Sources {
    /// How one source is read: a borrowed file, a shared handle to a cached one, bytes.
    type Source<'a>: ReadAt
    where
        Self: 'a;

    /// The source for `index`, or `None` when there is none (the stream is then invalid
    /// for these sources).
    ///
    /// # Errors
    ///
    /// Any I/O error while getting it (opening a file).
    fn source(&self, index: FdIndex) -> io::Result<Option<Self::Source<'_>>>;

    /// The size the caller expects source `index` to have, if any; a source of another
    /// size is then an error. Defaults to `None`.
    fn expected_len(&self, index: FdIndex) -> Option<u64> {
        let _ = index;
        None
    }
}

fn slot<T>(items: &[T], index: FdIndex) -> Option<&T> {
    usize::try_from(index.get())
        .ok()
        .and_then(|index| items.get(index))
}

/// `Sources` for lists of sources held in memory: index `i` is the `i`-th item.
macro_rules! list_sources {
    ($([$($generics:tt)*] $list:ty),* $(,)?) => {$(
        impl<$($generics)*> Sources for $list {
            type Source<'a>
                = &'a T
            where
                T: 'a;

            fn source(&self, index: FdIndex) -> io::Result<Option<&T>> {
                Ok(slot(self, index))
            }
        }
    )*};
}

list_sources!(
    [T: ReadAt] [T],
    [T: ReadAt] Vec<T>,
    [T: ReadAt, const N: usize] [T; N],
);

impl<S: Sources + ?Sized> Sources for &S {
    type Source<'a>
        = S::Source<'a>
    where
        Self: 'a;

    fn source(&self, index: FdIndex) -> io::Result<Option<Self::Source<'_>>> {
        (**self).source(index)
    }

    fn expected_len(&self, index: FdIndex) -> Option<u64> {
        (**self).expected_len(index)
    }
}

/// Sources paired with the sizes the caller expects them to have (`None`: no expectation).
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, ExpectedLens};
///
/// let stream = [0u8; 8]; // External(0)
/// let sources = ExpectedLens::new([&b"four"[..]], vec![Some(5)]);
/// let error = reconstruct(&stream[..], &sources, Vec::new()).unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Clone, Debug)]
pub struct ExpectedLens<S> {
    sources: S,
    lens: Vec<Option<u64>>,
}

impl<S: Sources> ExpectedLens<S> {
    /// `lens[i]` is the size source `i` must have.
    pub fn new(sources: S, lens: Vec<Option<u64>>) -> ExpectedLens<S> {
        ExpectedLens { sources, lens }
    }

    /// The sources.
    pub fn sources(&self) -> &S {
        &self.sources
    }

    /// The sources, giving up the sizes.
    pub fn into_inner(self) -> S {
        self.sources
    }
}

impl<S: Sources> Sources for ExpectedLens<S> {
    type Source<'a>
        = S::Source<'a>
    where
        Self: 'a;

    fn source(&self, index: FdIndex) -> io::Result<Option<Self::Source<'_>>> {
        self.sources.source(index)
    }

    fn expected_len(&self, index: FdIndex) -> Option<u64> {
        slot(&self.lens, index)
            .copied()
            .flatten()
            .or_else(|| self.sources.expected_len(index))
    }
}

/// How many files [`PathSources`] keeps open by default.
pub const DEFAULT_OPEN_FILES: usize = 64;

/// Sources named by path, opened only when the stream refers to them, with a small bounded
/// cache of open files (least recently used closed first).
///
/// A layer of tens of thousands of files therefore reconstructs under a low open-file
/// limit: at most [`cache capacity`](PathSources::with_cache_capacity) files are open at
/// once, plus the one being read. Files are opened read-only and close-on-exec.
///
/// A path must name a regular file or a block device (symbolic links are followed): a FIFO
/// would block the open until a writer appears, a character device such as `/dev/zero`
/// never ends, and a directory cannot be read. Anything else is refused before it is
/// opened, with an error of kind [`InvalidInput`](io::ErrorKind::InvalidInput) that names
/// the path and what it is; so is a path that was replaced by another file between that
/// check and the open.
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, PathSources};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a"), b"content")?;
/// let sources = PathSources::from_paths([dir.path().join("a")]);
/// let stream = [0u8; 8]; // External(0)
/// let mut out = Vec::new();
/// assert_eq!(reconstruct(&stream[..], &sources, &mut out)?, 7);
/// assert_eq!(out, b"content");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PathSources {
    entries: Vec<PathEntry>,
    cache: Mutex<OpenFiles>,
}

#[derive(Clone, Debug)]
struct PathEntry {
    path: PathBuf,
    expected_len: Option<u64>,
}

/// The open-file cache: a handful of slots searched linearly, evicting the least recently
/// used; small enough that a scan beats any map.
#[derive(Debug)]
struct OpenFiles {
    capacity: usize,
    tick: u64,
    slots: Vec<OpenFile>,
}

#[derive(Debug)]
struct OpenFile {
    index: usize,
    file: Arc<File>,
    used: u64,
}

impl OpenFiles {
    fn get(&mut self, index: usize, path: &Path) -> io::Result<Arc<File>> {
        self.tick += 1;
        if let Some(slot) = self.slots.iter_mut().find(|slot| slot.index == index) {
            slot.used = self.tick;
            return Ok(Arc::clone(&slot.file));
        }
        let file = Arc::new(open_path_source(path)?);
        if self.slots.len() >= self.capacity {
            // Close before keeping another open, so the count never exceeds the capacity.
            if let Some(lru) = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, slot)| slot.used)
                .map(|(at, _)| at)
            {
                self.slots.swap_remove(lru);
            }
        }
        self.slots.push(OpenFile {
            index,
            file: Arc::clone(&file),
            used: self.tick,
        });
        Ok(file)
    }
}

impl PathSources {
    /// No sources yet, with a cache of [`DEFAULT_OPEN_FILES`].
    pub fn new() -> PathSources {
        PathSources {
            entries: Vec::new(),
            cache: Mutex::new(OpenFiles {
                capacity: DEFAULT_OPEN_FILES,
                tick: 0,
                slots: Vec::new(),
            }),
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

    /// Keeps at most `capacity` files open between references; at least 1, so that a
    /// source read in several calls (by a [`Reconstructor`](super::Reconstructor)) is
    /// opened once per reference, not once per call.
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> PathSources {
        let capacity = capacity.max(1);
        let cache = self.cache.get_mut().unwrap_or_else(PoisonError::into_inner);
        cache.capacity = capacity;
        cache.slots.truncate(capacity);
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
        self.entries.push(PathEntry { path, expected_len });
        len_u64(self.entries.len() - 1)
    }

    /// The number of sources.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no sources.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The path of source `index`.
    pub fn path(&self, index: FdIndex) -> Option<&Path> {
        slot(&self.entries, index).map(|entry| entry.path.as_path())
    }

    /// Files currently held open by the cache.
    pub fn open_files(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slots
            .len()
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
            .field("len", &self.entries.len())
            .field("open_files", &self.open_files())
            .finish_non_exhaustive()
    }
}

impl<P: Into<PathBuf>> Extend<P> for PathSources {
    fn extend<I: IntoIterator<Item = P>>(&mut self, paths: I) {
        for path in paths {
            self.push(path);
        }
    }
}

impl<P: Into<PathBuf>> FromIterator<P> for PathSources {
    fn from_iter<I: IntoIterator<Item = P>>(paths: I) -> PathSources {
        PathSources::from_paths(paths)
    }
}

impl Sources for PathSources {
    type Source<'a> = Arc<File>;

    /// Opens (or reuses) the file of `index`. The error of a failed open names the path.
    fn source(&self, index: FdIndex) -> io::Result<Option<Arc<File>>> {
        let Some(at) = usize::try_from(index.get())
            .ok()
            .filter(|&at| at < self.entries.len())
        else {
            return Ok(None);
        };
        let path = &self.entries[at].path;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(at, path).map(Some)
    }

    fn expected_len(&self, index: FdIndex) -> Option<u64> {
        slot(&self.entries, index).and_then(|entry| entry.expected_len)
    }
}

/// Opens the file at `path` as an external source: read-only, close-on-exec, and only if
/// it is a regular file or a block device (the policy of [`PathSources`]). Every error
/// names the path.
pub(crate) fn open_path_source(path: &Path) -> io::Result<File> {
    let before = check_path_source(path)?;
    let file = File::open(path)
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
    check_opened_source(path, &before, &file)?;
    Ok(file)
}

/// The first half of [`open_path_source`], for openers of their own: checks, without
/// opening it, that `path` names a regular file or a block device, so that a FIFO never
/// reaches `open`; returns what it found, for [`check_opened_source`].
///
/// # Errors
///
/// `InvalidInput` naming the path and what it is; the error of `stat`, naming the path.
pub(crate) fn check_path_source(path: &Path) -> io::Result<fs::Metadata> {
    let metadata = fs::metadata(path)
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
    if !is_source_type(metadata.file_type()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: is {}; a path source must be a regular file or a block device",
                path.display(),
                describe(metadata.file_type())
            ),
        ));
    }
    Ok(metadata)
}

/// The second half of [`open_path_source`]: checks that `file`, just opened from `path`,
/// is the file [`check_path_source`] found there (same type and, on unix, the same device
/// and inode), not one that replaced it in between.
///
/// # Errors
///
/// `InvalidInput` naming the path; the error of `fstat`, naming the path.
pub(crate) fn check_opened_source(
    path: &Path,
    before: &fs::Metadata,
    file: &File,
) -> io::Result<()> {
    let opened = file
        .metadata()
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
    #[cfg(unix)]
    let same = {
        use ::std::os::unix::fs::MetadataExt as _;
        opened.dev() == before.dev() && opened.ino() == before.ino()
    };
    #[cfg(not(unix))]
    let same = true;
    if opened.file_type() == before.file_type() && same {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: was replaced while being opened (now {})",
            path.display(),
            describe(opened.file_type())
        ),
    ))
}

fn is_source_type(file_type: FileType) -> bool {
    #[cfg(unix)]
    {
        use ::std::os::unix::fs::FileTypeExt as _;
        file_type.is_file() || file_type.is_block_device()
    }
    #[cfg(not(unix))]
    {
        file_type.is_file()
    }
}

/// What a file type is, in words, for error messages.
fn describe(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use ::std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}
