//! Sources named by path, opened and read ahead of use by a helper thread.

use ::std::fmt;
use ::std::format;
use ::std::fs::File;
use ::std::io;
use ::std::ops::Range;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use ::std::os::unix::ffi::OsStrExt;
use ::std::path::{Path, PathBuf};
use ::std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::thread::{self, JoinHandle};
use ::std::vec;
use ::std::vec::Vec;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use splitfdstream::FdIndex;

use super::source::FdKind;
#[cfg(target_os = "linux")]
use super::sys::OpenRing;
use crate::std::{ReadAt, Sources};

/// How many files [`OpenAhead`] holds open ahead of use by default.
pub const DEFAULT_OPEN_AHEAD: usize = 128;

/// Sources up to this size are read whole by the helper thread; of larger ones it reads
/// this much and passes the open file on, so that the kernel copies the rest.
const READ_WHOLE_MAX: usize = 128 * 1024;

/// Helper threads that open and read sources, by default: one more than the cores, at
/// least 2 and at most 4. The reader's share of the work is small, and a helper waiting in
/// the kernel leaves its core to another.
fn default_helpers() -> usize {
    thread::available_parallelism().map_or(2, |cores| cores.get().saturating_add(1).clamp(2, 4))
}

/// The most sources a helper hands over at once: fewer handovers, fewer thread wake-ups.
/// Batches of 64 rather than 18 measured about a tenth faster on a layer of small files.
const MAX_BATCH: usize = 64;

/// The most content a batch holds in memory; sources past it are passed on open.
const MAX_BATCH_CONTENT: usize = 4 << 20;

/// Sources named by path, opened in index order by a helper thread ahead of their use.
///
/// A tar layer refers to its files in order, and opening, reading and closing a small file
/// costs more than writing it out. So helper threads open each file, read it whole when it
/// is small (up to 128 KiB) and close it, all off the reconstruction's thread, which then
/// copies bytes already in memory. A larger file is passed on open, with its first 128 KiB
/// already read, for the kernel to copy the rest. Helpers work at most a few batches of up
/// to 64 sources ahead of use, holding at most about `depth` files open among them (plus
/// the one in use), so a layer of any size reconstructs under a low open-file limit and in
/// bounded memory. A reference out of order (a repeated index, say) opens its file
/// directly; sources skipped over are dropped.
///
/// A path must name a regular file or a block device (symbolic links are followed); it is
/// opened without blocking, so a FIFO is refused rather than waited on, and anything else
/// fails with `InvalidInput` naming the path and what it is. Files are opened read-only and
/// close-on-exec (and, on Linux, without updating their access time where the file's owner
/// allows it); every error names the path.
///
/// The end of a small file is where one read lands exactly on the size `fstat` gave just
/// after the open; when it does not (a file that changed, or one whose size says nothing,
/// as in procfs), only a read returning 0 ends it. A short read alone never does.
///
/// Consecutive paths in the same directory are opened relative to that directory, which is
/// looked up once for them: the same files as opening each path in full, unless the
/// directory is renamed or replaced during the run. On Linux 5.18 or later each helper
/// opens such paths in groups, with one `io_uring_enter` for a group rather than an
/// `openat` each, where the kernel allows `io_uring` ([`with_io_uring`](OpenAhead::with_io_uring)).
/// Files are still checked and read one by one.
///
/// ```
/// use splitfdstream_adapters::fd::{reconstruct, OpenAhead};
/// use splitfdstream_adapters::std::Writer;
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
/// let out = tempfile::tempfile()?;
/// let sources = OpenAhead::new(paths);
/// assert_eq!(reconstruct(stream.as_slice(), &sources, &out)?, 12);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OpenAhead {
    paths: Arc<[PathBuf]>,
    depth: usize,
    helpers: usize,
    io_uring: bool,
    state: Mutex<Ahead>,
}

/// One source as a helper thread hands it over, with its index.
type Entry = (usize, io::Result<AheadSource>);

/// A batch of sources from one helper, and the buffer their content was read into.
struct Batch {
    content: Arc<Vec<u8>>,
    sources: Vec<Entry>,
    /// Whether this is the last part of the helper's range (a range is cut into parts
    /// when its files passed on open reach the open-file share of a batch).
    last: bool,
}

/// One helper thread as seen by the reader: the batches it sends, and where buffers go
/// back to it for reuse.
struct Helper {
    batches: Receiver<Batch>,
    reuse: Sender<Vec<u8>>,
}

/// The helper threads' side as seen by the reader: which index the next in-order
/// reference is, the batch being used, and where the next batches come from.
#[derive(Default)]
struct Ahead {
    next: usize,
    ready: vec::IntoIter<Entry>,
    /// The buffer of the batch in use and the helper it came from, to send back once its
    /// sources are dropped.
    content: Option<(Arc<Vec<u8>>, usize)>,
    /// The number of the next batch; batch `b` comes from helper `b % helpers`.
    batch: usize,
    helpers: Vec<Helper>,
    workers: Vec<JoinHandle<()>>,
    started: bool,
}

/// One source of [`OpenAhead`]: the whole content of a small file, read ahead, or an open
/// file with its first bytes read ahead.
///
/// Reads are positional like a file's. A file passed on open has a descriptor
/// ([`ReadAt::fd`]), so the kernel can copy it; content read whole has none.
pub struct AheadSource {
    /// What was read ahead: `content[range]`, in a buffer shared with its batch.
    content: Arc<Vec<u8>>,
    range: Range<usize>,
    /// `None`: what was read is the whole content, its end confirmed by a read of 0.
    file: Option<File>,
}

impl AheadSource {
    fn file(file: File) -> AheadSource {
        AheadSource {
            content: Arc::default(),
            range: 0..0,
            file: Some(file),
        }
    }

    fn head(&self) -> &[u8] {
        self.content.get(self.range.clone()).unwrap_or_default()
    }
}

impl ReadAt for AheadSource {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let head = self.head();
        let start = usize::try_from(offset).map_or(head.len(), |o| o.min(head.len()));
        let from_head = head.get(start..).unwrap_or_default();
        let n = from_head.len().min(buf.len());
        buf[..n].copy_from_slice(&from_head[..n]);
        match &self.file {
            Some(file) if n < buf.len() => {
                let rest = offset.saturating_add(crate::drive::len_u64(n));
                let more = ReadAt::read_at(file, &mut buf[n..], rest);
                match more {
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
            None => Ok(Some(crate::drive::len_u64(self.range.len()))),
        }
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_ref().map(AsFd::as_fd)
    }
}

impl fmt::Debug for AheadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AheadSource")
            .field("read", &self.range.len())
            .field("file", &self.file)
            .finish()
    }
}

impl OpenAhead {
    /// Sources `0..` in the order of `paths`, read up to [`DEFAULT_OPEN_AHEAD`] ahead.
    pub fn new<I>(paths: I) -> OpenAhead
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        OpenAhead {
            paths: paths.into_iter().map(Into::into).collect(),
            depth: DEFAULT_OPEN_AHEAD,
            helpers: default_helpers(),
            io_uring: true,
            state: Mutex::new(Ahead::default()),
        }
    }

    /// Holds at most about `depth` files (at least 1) open ahead of use. Sources read whole
    /// are closed at once and do not count; larger ones are passed on open.
    #[must_use]
    pub fn with_depth(mut self, depth: usize) -> OpenAhead {
        self.depth = depth.max(1);
        self
    }

    /// Whether helper threads open groups of files with one `io_uring_enter` each (the
    /// default; on Linux 5.18 or later, where the kernel allows `io_uring`) rather than with
    /// an `openat` each. Both open the same files with the same flags, and where `io_uring`
    /// cannot be used files are opened with `openat` either way.
    #[must_use]
    pub fn with_io_uring(mut self, io_uring: bool) -> OpenAhead {
        self.io_uring = io_uring;
        self
    }

    /// Uses `helpers` threads (at least 1) to open and read sources; by default one more
    /// than the available cores, at least 2 and at most 4.
    #[must_use]
    pub fn with_helpers(mut self, helpers: usize) -> OpenAhead {
        self.helpers = helpers.max(1);
        self
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
        let at = usize::try_from(index.get()).ok()?;
        self.paths.get(at).map(PathBuf::as_path)
    }

    fn start(&self, state: &mut Ahead) {
        state.started = true;
        // Each helper holds at most two batches ready (one queued, one waiting to be), so
        // that it keeps working while the reader is busy; the reader uses one more. Half
        // the open files are shared out among those batches, for files passed on open;
        // the other half among the helpers, for the group of files each opens at once
        // and reads (against `openat`, groups of 21 saved 6 % of the wall time on a layer
        // of small files where groups of 12 saved 3 %).
        let helpers = self.helpers.min(self.depth / 4).max(1);
        let open_per_batch = (self.depth / 2 / (2 * helpers + 1)).max(1);
        let group = (self.depth / 2 / helpers).clamp(1, MAX_BATCH);
        let batch = MAX_BATCH;
        let io_uring = self.io_uring;
        for first in 0..helpers {
            let (sender, batches) = sync_channel(1);
            let (reuse, reused) = channel();
            let paths = Arc::clone(&self.paths);
            let worker = thread::Builder::new()
                .name("splitfdstream-open-ahead".into())
                .spawn(move || {
                    let mut opener = Opener::new();
                    if io_uring {
                        opener.use_io_uring(group);
                    }
                    let mut at = first * batch;
                    while at < paths.len() {
                        let end = paths.len().min(at + batch);
                        let mut from = at;
                        while from < end {
                            let content = reused.try_recv().unwrap_or_default();
                            let limits = (open_per_batch, group);
                            let ready = read_batch(&mut opener, &paths, from..end, content, limits);
                            from = end.min(from + ready.sources.len().max(1));
                            // The reader went away: stop opening.
                            if sender.send(ready).is_err() {
                                return;
                            }
                        }
                        at += batch * helpers;
                    }
                });
            match worker {
                Ok(worker) => {
                    state.helpers.push(Helper { batches, reuse });
                    state.workers.push(worker);
                }
                // Without every thread, every file is opened when it is used.
                Err(_) => {
                    state.helpers.clear();
                    return;
                }
            }
        }
    }

    /// The source `at` from the helpers, if they have it: the next in order or a later one.
    fn take_ready(state: &mut Ahead, at: usize) -> Option<io::Result<AheadSource>> {
        loop {
            // Sources skipped over are dropped.
            for (got, source) in state.ready.by_ref() {
                if got == at {
                    return Some(source);
                }
            }
            let helper = state.batch.checked_rem(state.helpers.len())?;
            let next = state.helpers.get(helper)?.batches.recv().ok()?;
            // The sources of the batch before are dropped by now, unless a caller keeps one.
            if let Some((content, done)) = state.content.replace((next.content, helper)) {
                if let (Ok(content), Some(to)) = (Arc::try_unwrap(content), state.helpers.get(done))
                {
                    let _ = to.reuse.send(content);
                }
            }
            state.ready = next.sources.into_iter();
            if next.last {
                state.batch += 1;
            }
        }
    }
}

/// Opens and reads sources of `range` of `paths` in order, their content into `content`
/// (a buffer handed back for reuse, or a new one), up to the end of the range or to the
/// source that makes `max_open` files passed on open. Files are opened `group` at a time.
fn read_batch(
    opener: &mut Opener,
    paths: &[PathBuf],
    range: Range<usize>,
    mut content: Vec<u8>,
    (max_open, group): (usize, usize),
) -> Batch {
    let mut used = 0;
    let mut open = 0;
    let end = range.end;
    let mut sources = Vec::with_capacity(range.len());
    let mut opened = Vec::new().into_iter();
    for at in range {
        if opened.len() == 0 {
            let last = end.min(at + group.max(1));
            opened = opener
                .open_many(paths.get(at..last).unwrap_or_default())
                .into_iter();
        }
        let Some(source) = opened.next() else {
            break;
        };
        let source = source.map(|(file, size)| {
            // A buffer big enough for the batch is zeroed once, then reused.
            let room = (used + READ_WHOLE_MAX).min(MAX_BATCH_CONTENT);
            if content.len() < room {
                content.resize(room, 0);
            }
            let (n, file) = read_ahead(file, size, content.get_mut(used..).unwrap_or_default());
            let range = used..used + n;
            used += n;
            (range, file)
        });
        open += usize::from(matches!(&source, Ok((_, Some(_)))));
        sources.push((at, source));
        if open >= max_open {
            break;
        }
    }
    let last = sources.last().is_none_or(|&(at, _)| at + 1 >= end);
    let content = Arc::new(content);
    let sources = sources
        .into_iter()
        .map(|(at, source)| {
            let source = source.map(|(range, file)| AheadSource {
                content: Arc::clone(&content),
                range,
                file,
            });
            (at, source)
        })
        .collect();
    Batch {
        content,
        sources,
        last,
    }
}

/// Reads `file` into `buf` up to its end: returns the length of its whole content when
/// that fits, else of what was read, with the open file. A read error passes the file on
/// as it is, for the reconstruction to read (and report) itself.
///
/// The end is the `size` that `fstat` gave when one read lands exactly on it; otherwise
/// (a file that changed, or one whose size says nothing, as in procfs) only a read of 0.
fn read_ahead(file: File, size: Option<u64>, buf: &mut [u8]) -> (usize, Option<File>) {
    let limit = buf.len().min(READ_WHOLE_MAX);
    let buf = &mut buf[..limit];
    if let Some(size) = size
        .and_then(|size| usize::try_from(size).ok())
        .filter(|&size| size < buf.len())
    {
        // Asking for one byte more than the size shows a file that grew.
        if let Ok(n) = ReadAt::read_at(&file, &mut buf[..=size], 0) {
            if n == size {
                return (n, None);
            }
        }
    }
    let mut filled = 0;
    while filled < buf.len() {
        let offset = crate::drive::len_u64(filled);
        match ReadAt::read_at(&file, &mut buf[filled..], offset) {
            Ok(0) => return (filled, None),
            Ok(n) => filled += n.min(buf.len() - filled),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (filled, Some(blocking(file)))
}

/// `file` with blocking reads again, for the reconstruction's kernel copies; if that
/// fails, a read that would block reports `EAGAIN` rather than hanging.
fn blocking(file: File) -> File {
    if let Ok(flags) = rustix::fs::fcntl_getfl(&file) {
        let _ = rustix::fs::fcntl_setfl(&file, flags.difference(OFlags::NONBLOCK));
    }
    file
}

/// Opens files read-only, relative to the directory of the last one when they share it.
struct Opener {
    dir: Option<(PathBuf, OwnedFd)>,
    flags: OFlags,
    /// Opens groups of files in one system call, where the kernel allows it.
    #[cfg(target_os = "linux")]
    ring: Option<OpenRing>,
}

/// An opened file with a regular file's size, or the error of opening it.
type Opened = io::Result<(File, Option<u64>)>;

/// `error` with `path` in front.
fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

impl Opener {
    fn new() -> Opener {
        #[cfg(target_os = "linux")]
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOATIME;
        #[cfg(not(target_os = "linux"))]
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
        Opener {
            dir: None,
            flags,
            #[cfg(target_os = "linux")]
            ring: None,
        }
    }

    /// Opens files in groups of up to `group` through an `io_uring`, where there is one.
    fn use_io_uring(&mut self, group: usize) {
        #[cfg(target_os = "linux")]
        {
            self.ring = u32::try_from(group.max(1)).ok().and_then(OpenRing::new);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = group;
    }

    /// Opens each of `paths` as [`open`](Opener::open) does, those in one directory with
    /// one system call where the kernel allows it.
    fn open_many(&mut self, paths: &[PathBuf]) -> Vec<Opened> {
        let mut opened = Vec::with_capacity(paths.len());
        let mut at = 0;
        while let Some(rest) = paths.get(at..).filter(|rest| !rest.is_empty()) {
            #[cfg(target_os = "linux")]
            if let Some(run) = self.open_run(rest) {
                at += run.len();
                opened.extend(run);
                continue;
            }
            opened.push(self.open(&rest[0]));
            at += 1;
        }
        opened
    }

    /// Opens the first of `paths` and those right after it in the same directory, as many
    /// as the ring takes, with one `io_uring_enter`; `None` when the ring cannot (there is
    /// none, the first path has no directory part, or the ring failed).
    #[cfg(target_os = "linux")]
    fn open_run(&mut self, paths: &[PathBuf]) -> Option<Vec<Opened>> {
        use ::std::ffi::CString;

        let capacity = self.ring.as_ref()?.capacity();
        let (parent, _) = split(paths.first()?)?;
        let mut names = Vec::new();
        for path in paths.iter().take(capacity) {
            match split(path) {
                Some((dir, name)) if dir.as_os_str() == parent.as_os_str() => {
                    match CString::new(name.as_os_str().as_bytes()) {
                        Ok(name) => names.push(name),
                        Err(_) => break,
                    }
                }
                _ => break,
            }
        }
        if names.is_empty() || !self.enter_dir(parent) {
            return None;
        }
        let (Some(ring), Some((_, dir))) = (self.ring.as_mut(), self.dir.as_ref()) else {
            return None;
        };
        let Ok(results) = ring.open_all(dir.as_fd(), &names, self.flags) else {
            // Opens go through `openat` from now on.
            self.ring = None;
            return None;
        };
        let mut opened = Vec::with_capacity(results.len());
        for (path, result) in paths.iter().zip(results) {
            let result = match result {
                // `O_NOATIME` refused: `open_fd` drops it for good and opens again.
                Err(error)
                    if error.raw_os_error() == Some(Errno::PERM.raw_os_error())
                        && self.flags.contains(OFlags::NOATIME) =>
                {
                    self.open_fd(path)
                }
                other => other,
            };
            opened.push(
                result
                    .map_err(|error| named(path, error))
                    .and_then(|fd| checked(File::from(fd), path)),
            );
        }
        Some(opened)
    }

    /// Opens `path` without blocking (a FIFO would wait for a writer) and checks that it
    /// is a regular file or a block device; returns it with a regular file's size. Every
    /// error names the path.
    fn open(&mut self, path: &Path) -> Opened {
        let file = File::from(self.open_fd(path).map_err(|error| named(path, error))?);
        checked(file, path)
    }

    /// Makes `dir` the directory that names are opened in; `false` if it cannot be opened.
    fn enter_dir(&mut self, dir: &Path) -> bool {
        if matches!(&self.dir, Some((current, _)) if current.as_os_str() == dir.as_os_str()) {
            return true;
        }
        self.dir = None;
        let fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        match fd {
            Ok(fd) => {
                self.dir = Some((dir.to_path_buf(), fd));
                true
            }
            Err(_) => false,
        }
    }

    fn open_fd(&mut self, path: &Path) -> io::Result<OwnedFd> {
        // Without a directory to open the name in, let the full path's open report what
        // is wrong.
        let Some((parent, name)) = split(path).filter(|&(parent, _)| self.enter_dir(parent)) else {
            return self.retry(|flags| rustix::fs::open(path, flags, Mode::empty()));
        };
        let Some((_, dir)) = self.dir.take() else {
            return self.retry(|flags| rustix::fs::open(path, flags, Mode::empty()));
        };
        let opened = self.retry(|flags| rustix::fs::openat(&dir, name, flags, Mode::empty()));
        self.dir = Some((parent.to_path_buf(), dir));
        opened
    }

    /// Opens with `open`, dropping `O_NOATIME` for good when the kernel refuses it (it
    /// takes owning the file).
    fn retry(
        &mut self,
        mut open: impl FnMut(OFlags) -> rustix::io::Result<OwnedFd>,
    ) -> io::Result<OwnedFd> {
        loop {
            match open(self.flags) {
                Err(Errno::INTR) => {}
                #[cfg(target_os = "linux")]
                Err(Errno::PERM) if self.flags.contains(OFlags::NOATIME) => {
                    self.flags.remove(OFlags::NOATIME);
                }
                other => return other.map_err(io::Error::from),
            }
        }
    }
}

/// `file`, opened from `path`, if it is a regular file or a block device, with a regular
/// file's size; an error naming `path` otherwise.
fn checked(file: File, path: &Path) -> Opened {
    let stat = rustix::fs::fstat(&file).map_err(|error| named(path, error.into()))?;
    match FdKind::from_mode(stat.st_mode) {
        FdKind::Regular => Ok((file, u64::try_from(stat.st_size).ok())),
        FdKind::Block => Ok((file, None)),
        kind => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: is a {kind}; a path source must be a regular file or a block device",
                path.display()
            ),
        )),
    }
}

/// `path` as a directory and one name in it, when opening the name in the directory is
/// the same as opening `path`: it ends in a plain name, not in `/`, `.` or `..`.
fn split(path: &Path) -> Option<(&Path, &Path)> {
    let name = path.file_name()?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let bytes = path.as_os_str().as_bytes();
    let before = bytes.len().checked_sub(name.len() + 1)?;
    (bytes.ends_with(name.as_bytes()) && bytes.get(before) == Some(&b'/'))
        .then_some((parent, Path::new(name)))
}

impl Sources for OpenAhead {
    type Source<'a> = AheadSource;

    fn source(&self, index: FdIndex) -> io::Result<Option<AheadSource>> {
        let Some(at) = usize::try_from(index.get())
            .ok()
            .filter(|&at| at < self.paths.len())
        else {
            return Ok(None);
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.started {
            self.start(&mut state);
        }
        if at >= state.next {
            state.next = at + 1;
            if let Some(source) = OpenAhead::take_ready(&mut state, at) {
                return source.map(Some);
            }
        }
        drop(state);
        let (file, _) = Opener::new().open(&self.paths[at])?;
        Ok(Some(AheadSource::file(blocking(file))))
    }
}

impl Drop for OpenAhead {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Closing the channels stops the threads after their current batch.
        state.helpers.clear();
        state.ready = Vec::new().into_iter();
        for worker in state.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl fmt::Debug for OpenAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAhead")
            .field("len", &self.paths.len())
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}
