//! Files named beneath directories, for the successor format: [`DirSources`].

use ::std::boxed::Box;
use ::std::fmt;
use ::std::io;
use ::std::path::{Path, PathBuf};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::vec::Vec;

#[cfg(target_os = "linux")]
use ::std::os::fd::OwnedFd;

use splitfdstream::dir::{self, check_name, Chunk, Chunks};

#[cfg(unix)]
use super::ahead::{default_helpers, OpenAhead, ReadAhead, Settings};
use super::held::Held;
use super::path::{PathSource, DEFAULT_OPEN_AHEAD, DEFAULT_OPEN_FILES};
#[cfg(unix)]
use super::policy::Result as OpenResult;
use super::Sources;
use crate::SourceRef;

#[cfg(target_os = "linux")]
use super::policy::Beneath;
#[cfg(not(target_os = "linux"))]
use super::policy::Opener;

/// How far past the next reference in the announced order a reference is looked for
/// among the files read ahead; one further off is opened when used.
const ORDER_WINDOW: usize = 64;

/// One directory: confined by `openat2` on Linux, a path elsewhere.
#[cfg(target_os = "linux")]
type Dir = Beneath;
#[cfg(not(target_os = "linux"))]
type Dir = PathBuf;

/// A file beneath one of the directories: what a FileBackedData chunk names.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    dir: u32,
    name: Box<[u8]>,
}

impl Key {
    fn is(&self, dir: u32, name: &[u8]) -> bool {
        self.dir == dir && *self.name == *name
    }
}

/// Sources for the successor format ([`Format::Splitdirfdstream`](crate::Format)): each
/// [`SourceRef::Named`] reference is the file `name` beneath directory `dir` of an ordered
/// list of directories, opened when used (or read ahead, below) by the crate's one source
/// policy.
///
/// - **Confined, on Linux**: names are opened with `openat2` and `RESOLVE_BENEATH |
///   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV` beneath each directory's descriptor
///   ([`Beneath`](super::Beneath)), whether the directory was opened from a path
///   ([`push_dir`](DirSources::push_dir)) or received from another process
///   ([`push_fd`](DirSources::push_fd)). A symbolic link that stays beneath the directory
///   resolves; one that leaves it, or crosses a mount, is an error. There is no unconfined
///   fallback: without `openat2` (before Linux 5.6) every open is an error.
/// - **Elsewhere**, directories are given as paths and a name is opened as the path
///   joined to the directory's; the name rules below still apply, but a symbolic link
///   inside the directory is followed wherever it leads.
/// - **Names** must obey the format's rules ([`check_name`]): not empty, no NUL, not
///   absolute, no `..` component, at most 4096 bytes. Every refusal is an error that names
///   the directory's index and the name.
/// - **Type**: the opened descriptor must be a regular file or a block device (checked
///   with `fstat` after a non-blocking open, so a FIFO is refused, never waited on).
/// - **Length**: the file must hold exactly the reference's `len` bytes
///   ([`Sources::expected_len`] is the reference's own): a shorter or longer file, or one
///   that shrinks or grows while it is read, fails the reconstruction. The reference
///   implementation reads `len` bytes and ignores the rest of a longer file; this crate
///   never cuts and never pads.
///
/// A reference to a directory index past the list has no source (the drivers report it
/// as missing, with the index).
///
/// # Read ahead
///
/// A stream names its files in order. Given that order up front
/// ([`read_ahead_for`](DirSources::read_ahead_for) scans a stream in memory,
/// [`read_ahead_in_order`](DirSources::read_ahead_in_order) takes a list), helper threads
/// open the files ahead of use and read small ones whole, exactly as
/// [`PathSources`](super::PathSources) does, with the same bounds on open files and
/// memory ([`with_depth`](DirSources::with_depth)). Without an order, or for a reference
/// that is not the next one announced, the file is opened when used, on the caller's
/// thread. Either way, the [`PathSource`]s handed out keep their descriptor, so the `fd`
/// drivers copy them in the kernel.
///
/// # The contract
///
/// [`source_again`](Sources::source_again) hands back the source last returned for the
/// same reference without opening it again; the last
/// [`with_cache_capacity`](DirSources::with_cache_capacity) files opened when used stay
/// open; [`rewind`](Sources::rewind) closes everything held and starts the read-ahead
/// over.
///
/// ```
/// use splitfdstream::dir::Encoder;
/// use splitfdstream_adapters::std::{reconstruct_as, DirSources};
/// use splitfdstream_adapters::Format;
///
/// let objects = tempfile::tempdir()?;
/// std::fs::create_dir(objects.path().join("etc"))?;
/// std::fs::write(objects.path().join("etc/hostname"), b"box\n")?;
///
/// let mut encoder = Encoder::new();
/// let mut stream = vec![0; 64];
/// let mut len = encoder.metadata(b"<header>", &mut stream)?;
/// len += encoder.file_backed(0, 4, b"etc/hostname", &mut stream[len..])?;
/// stream.truncate(len);
///
/// let mut sources = DirSources::new();
/// sources.push_dir(objects.path())?;
/// sources.read_ahead_for(&stream)?;
/// let mut out = Vec::new();
/// reconstruct_as(Format::Splitdirfdstream, stream.as_slice(), &sources, &mut out)?;
/// assert_eq!(out, b"<header>box\n");
///
/// // A name that leaves the directory is refused, naming the directory and the name.
/// let mut escape = vec![0; 64];
/// let n = Encoder::new().file_backed(0, 4, b"etc/../../x", &mut escape);
/// assert!(n.is_err()); // the encoder never writes it; a hand-made stream is refused too
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DirSources {
    dirs: Arc<Vec<Dir>>,
    /// The files the stream names, in its order, for the read-ahead.
    order: Arc<Vec<Key>>,
    cache_capacity: usize,
    read_ahead: bool,
    #[cfg(unix)]
    settings: Settings,
    state: Mutex<State>,
}

/// What [`DirSources`] holds while in use.
#[derive(Default)]
struct State {
    /// The source handed out last and the files opened when used.
    held: Held<Key>,
    /// The position in the announced order of the next reference expected.
    next: usize,
    #[cfg(unix)]
    ahead: Option<ReadAhead>,
}

impl DirSources {
    /// No directories yet.
    pub fn new() -> DirSources {
        DirSources {
            dirs: Arc::new(Vec::new()),
            order: Arc::new(Vec::new()),
            cache_capacity: DEFAULT_OPEN_FILES,
            read_ahead: true,
            #[cfg(unix)]
            settings: Settings {
                depth: DEFAULT_OPEN_AHEAD,
                helpers: default_helpers(),
                io_uring: false,
            },
            state: Mutex::new(State::default()),
        }
    }

    /// The directories at `paths`, index `i` being the `i`-th.
    ///
    /// # Errors
    ///
    /// As [`push_dir`](DirSources::push_dir).
    pub fn open<I>(paths: I) -> io::Result<DirSources>
    where
        I: IntoIterator,
        I::Item: AsRef<Path>,
    {
        let mut sources = DirSources::new();
        for path in paths {
            sources.push_dir(path.as_ref())?;
        }
        Ok(sources)
    }

    /// The directories open on `fds` (received from another process, say), index `i`
    /// being the `i`-th.
    ///
    /// # Errors
    ///
    /// As [`push_fd`](DirSources::push_fd); the descriptors not yet added are closed.
    #[cfg(target_os = "linux")]
    pub fn from_fds<I: IntoIterator<Item = OwnedFd>>(fds: I) -> io::Result<DirSources> {
        let mut sources = DirSources::new();
        for fd in fds {
            sources.push_fd(fd)?;
        }
        Ok(sources)
    }

    /// Adds the directory at `path` as the next index; returns the index.
    ///
    /// # Errors
    ///
    /// The error of opening it (`NotADirectory` when it is not one), naming the path;
    /// `InvalidInput` past `u32::MAX` directories.
    pub fn push_dir(&mut self, path: impl AsRef<Path>) -> io::Result<u32> {
        let path = path.as_ref();
        #[cfg(target_os = "linux")]
        let dir = Beneath::open_dir(path)?;
        #[cfg(not(target_os = "linux"))]
        let dir = {
            let metadata =
                ::std::fs::metadata(path).map_err(|error| super::policy::named(path, error))?;
            if !metadata.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    ::std::format!("{}: not a directory", path.display()),
                ));
            }
            path.to_path_buf()
        };
        self.push(dir)
    }

    /// Adds the directory open on `fd` as the next index; returns the index.
    ///
    /// # Errors
    ///
    /// `NotADirectory` when `fd` is not a directory (it is closed); the error of `fstat`;
    /// `InvalidInput` past `u32::MAX` directories.
    #[cfg(target_os = "linux")]
    pub fn push_fd(&mut self, fd: OwnedFd) -> io::Result<u32> {
        let stat = rustix::fs::fstat(&fd)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory {
            let index = self.dirs.len();
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                ::std::format!(
                    "directory {index}: is {}, not a directory",
                    super::describe_mode(stat.st_mode)
                ),
            ));
        }
        self.push(Beneath::new(fd))
    }

    /// Adds `dir` as the next index; returns the index.
    ///
    /// # Errors
    ///
    /// `InvalidInput` past `u32::MAX` directories.
    #[cfg(target_os = "linux")]
    pub fn push_beneath(&mut self, dir: Beneath) -> io::Result<u32> {
        self.push(dir)
    }

    fn push(&mut self, dir: Dir) -> io::Result<u32> {
        let index = u32::try_from(self.dirs.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "more than 2^32 directories")
        })?;
        // The helpers share the list: stop them first, and it is ours alone again.
        self.reset();
        let dirs = Arc::get_mut(&mut self.dirs).ok_or_else(|| {
            io::Error::new(io::ErrorKind::ResourceBusy, "the directories are in use")
        })?;
        dirs.push(dir);
        Ok(index)
    }

    /// Announces the files the stream names, in its order (directory index and name), so
    /// that helpers open and read them ahead of use. Replaces an earlier order.
    pub fn read_ahead_in_order<I, N>(&mut self, refs: I)
    where
        I: IntoIterator<Item = (u32, N)>,
        N: AsRef<[u8]>,
    {
        self.reset();
        self.order = Arc::new(
            refs.into_iter()
                .map(|(dir, name)| Key {
                    dir,
                    name: name.as_ref().into(),
                })
                .collect(),
        );
    }

    /// Announces the files `stream` (a whole splitdirfdstream in memory) names, in order;
    /// returns how many references it holds.
    ///
    /// # Errors
    ///
    /// The stream's decoding error; the order is then left as it was.
    pub fn read_ahead_for(&mut self, stream: &[u8]) -> Result<usize, dir::DecodeError> {
        let mut refs = Vec::new();
        for chunk in Chunks::new(stream) {
            if let Chunk::FileBackedData(file) = chunk? {
                refs.push((file.dir_index, file.name));
            }
        }
        let count = refs.len();
        self.read_ahead_in_order(refs);
        Ok(count)
    }

    /// Keeps at most `capacity` files (at least 1) open among those opened when used.
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> DirSources {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// Whether helper threads open and read the announced files ahead of use (the
    /// default, on Unix), or each file is opened when it is used.
    #[must_use]
    pub fn with_read_ahead(mut self, read_ahead: bool) -> DirSources {
        self.read_ahead = read_ahead;
        self
    }

    /// Holds at most about `depth` files (at least 1) open ahead of use, as
    /// [`PathSources::with_depth`](super::PathSources::with_depth).
    #[must_use]
    pub fn with_depth(mut self, depth: usize) -> DirSources {
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
    pub fn with_helpers(mut self, helpers: usize) -> DirSources {
        #[cfg(unix)]
        {
            self.settings.helpers = helpers.max(1);
        }
        #[cfg(not(unix))]
        let _ = helpers;
        self
    }

    /// The number of directories.
    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    /// Whether there are no directories.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Files held open outside the read-ahead: those opened when used, and the one handed
    /// out last.
    pub fn open_files(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.held.open_files()
    }

    /// Stops the helpers and closes every file held.
    fn reset(&mut self) {
        *self.state.get_mut().unwrap_or_else(PoisonError::into_inner) = State::default();
    }

    /// The source of `dir`/`name` for a new use, or `again` for the one in use.
    fn lookup(&self, dir: u32, name: &[u8], again: bool) -> io::Result<PathSource> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(source) = state.held.again(|last| again && last.is(dir, name)) {
            return Ok(source);
        }
        state.held.release();
        let ahead = match self.announced(&mut state, dir, name) {
            Some(at) => self.take_ahead(&mut state, at),
            None => None,
        };
        let source = match ahead {
            Some(source) => source?,
            None => self.open_now(&mut state, dir, name)?,
        };
        let key = Key {
            dir,
            name: name.into(),
        };
        state.held.hand_out(key, &source);
        Ok(source)
    }

    /// The position of `dir`/`name` in the announced order, if it is the next one or
    /// shortly after it.
    fn announced(&self, state: &mut State, dir: u32, name: &[u8]) -> Option<usize> {
        if !self.read_ahead {
            return None;
        }
        let mut window = self.order.get(state.next..)?.iter().take(ORDER_WINDOW);
        let at = state.next + window.position(|key| key.is(dir, name))?;
        state.next = at + 1;
        Some(at)
    }

    /// The file at `at` in the announced order from the helpers, starting them on first
    /// use.
    #[cfg(unix)]
    fn take_ahead(&self, state: &mut State, at: usize) -> Option<io::Result<PathSource>> {
        let order = &self.order;
        let dirs = Arc::clone(&self.dirs);
        let opener = move |_group| DirOpener::new(Arc::clone(&dirs));
        state
            .ahead
            .get_or_insert_with(|| ReadAhead::start(Arc::clone(order), self.settings, opener))
            .take(at)
    }

    #[cfg(not(unix))]
    fn take_ahead(&self, _: &mut State, _: usize) -> Option<io::Result<PathSource>> {
        None
    }

    /// Opens `dir`/`name` on this thread, keeping it among the files opened when used
    /// (found there again if it is).
    fn open_now(&self, state: &mut State, dir: u32, name: &[u8]) -> io::Result<PathSource> {
        if let Some(source) = state.held.find(|key| key.is(dir, name)) {
            return Ok(source);
        }
        let (opened, _) = DirOpener::new(Arc::clone(&self.dirs)).open(dir, name)?;
        let source = PathSource::from_file(opened.into_blocking());
        let key = Key {
            dir,
            name: name.into(),
        };
        state.held.keep(key, &source, self.cache_capacity);
        Ok(source)
    }

    /// The directory index and name of a reference to a listed directory.
    fn named<'r>(&self, reference: SourceRef<'r>) -> Option<(u32, &'r [u8])> {
        match reference {
            SourceRef::Named { dir, name, .. } => usize::try_from(dir)
                .is_ok_and(|at| at < self.dirs.len())
                .then_some((dir, name)),
            _ => None,
        }
    }
}

impl Default for DirSources {
    fn default() -> Self {
        DirSources::new()
    }
}

impl fmt::Debug for DirSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirSources")
            .field("dirs", &self.dirs.len())
            .field("announced", &self.order.len())
            .field("read_ahead", &self.read_ahead)
            .field("open_files", &self.open_files())
            .finish_non_exhaustive()
    }
}

/// The error of refusing or failing to open `name` beneath directory `dir`: names both.
fn in_dir(dir: u32, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), ::std::format!("directory {dir}: {error}"))
}

/// A name as a path, for messages and for opening.
fn name_path(name: &[u8]) -> io::Result<PathBuf> {
    #[cfg(unix)]
    {
        use ::std::os::unix::ffi::OsStrExt as _;
        Ok(PathBuf::from(::std::ffi::OsStr::from_bytes(name)))
    }
    #[cfg(not(unix))]
    {
        ::std::str::from_utf8(name).map(PathBuf::from).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a file name that is not UTF-8 cannot be opened on this platform",
            )
        })
    }
}

/// Checks `name` by the format's rules: an error naming directory `dir` and the name.
fn checked_name(dir: u32, name: &[u8]) -> io::Result<PathBuf> {
    let shown = || ::std::string::String::from_utf8_lossy(name).into_owned();
    if let Err(error) = check_name(name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            ::std::format!("directory {dir}: {}: {error}", shown()),
        ));
    }
    name_path(name).map_err(|error| in_dir(dir, error))
}

/// Opens names beneath the directories by the policy, on the caller's thread or a
/// helper's.
struct DirOpener {
    dirs: Arc<Vec<Dir>>,
    #[cfg(not(target_os = "linux"))]
    opener: Opener,
}

impl DirOpener {
    fn new(dirs: Arc<Vec<Dir>>) -> DirOpener {
        DirOpener {
            dirs,
            #[cfg(not(target_os = "linux"))]
            opener: Opener::new(),
        }
    }

    /// Opens `name` beneath directory `dir`; every error names both.
    fn open(&mut self, dir: u32, name: &[u8]) -> io::Result<(super::policy::Opened, Option<u64>)> {
        let path = checked_name(dir, name)?;
        let Some(base) = usize::try_from(dir).ok().and_then(|at| self.dirs.get(at)) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                ::std::format!(
                    "directory {dir}: {}: no such directory ({} given)",
                    path.display(),
                    self.dirs.len()
                ),
            ));
        };
        #[cfg(target_os = "linux")]
        let opened = base.open_source(&path);
        #[cfg(not(target_os = "linux"))]
        let opened = self.opener.open(&base.join(&path));
        opened.map_err(|error| in_dir(dir, error))
    }
}

#[cfg(unix)]
impl OpenAhead<Key> for DirOpener {
    fn open_many(&mut self, keys: &[Key]) -> Vec<OpenResult> {
        keys.iter()
            .map(|key| self.open(key.dir, &key.name))
            .collect()
    }
}

impl Sources for DirSources {
    type Source<'a> = PathSource;

    /// The file the reference names, read ahead or opened now; `None` for a reference by
    /// index or to a directory past the list. Errors name the directory index and the
    /// name.
    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<PathSource>> {
        match self.named(reference) {
            Some((dir, name)) => self.lookup(dir, name, false).map(Some),
            None => Ok(None),
        }
    }

    /// The source handed out last, when it is this reference's; else as
    /// [`source`](Sources::source).
    fn source_again(&self, reference: SourceRef<'_>) -> io::Result<Option<PathSource>> {
        match self.named(reference) {
            Some((dir, name)) => self.lookup(dir, name, true).map(Some),
            None => Ok(None),
        }
    }

    /// The size of the file the reference names now, found without opening it for
    /// reading (on Linux, a confined `O_PATH` walk); `None` for a block device.
    fn source_size(&self, reference: SourceRef<'_>) -> io::Result<Option<u64>> {
        let Some((dir, name)) = self.named(reference) else {
            return Ok(None);
        };
        let path = checked_name(dir, name)?;
        let Some(base) = usize::try_from(dir).ok().and_then(|at| self.dirs.get(at)) else {
            return Ok(None);
        };
        #[cfg(target_os = "linux")]
        let size = base.check(&path);
        #[cfg(not(target_os = "linux"))]
        let size = {
            let full = base.join(&path);
            ::std::fs::metadata(&full)
                .map(|metadata| metadata.is_file().then_some(metadata.len()))
                .map_err(|error| super::policy::named(&full, error))
        };
        size.map_err(|error| in_dir(dir, error))
    }

    /// Closes every file held and stops the helpers; the next reference starts them again
    /// from the start of the announced order.
    fn rewind(&self) {
        let old = ::std::mem::take(&mut *self.state.lock().unwrap_or_else(PoisonError::into_inner));
        drop(old);
    }
}
