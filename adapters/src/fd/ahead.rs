//! Sources named by path, opened and read ahead of use by a helper thread.

use ::std::fmt;
use ::std::format;
use ::std::fs::File;
use ::std::io;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use ::std::os::unix::ffi::OsStrExt;
use ::std::path::{Path, PathBuf};
use ::std::sync::mpsc::{sync_channel, Receiver};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::thread::{self, JoinHandle};
use ::std::vec;
use ::std::vec::Vec;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use splitfdstream::FdIndex;

use crate::std::{ReadAt, Sources};

/// How many sources [`OpenAhead`] keeps ready ahead of use by default.
pub const DEFAULT_OPEN_AHEAD: usize = 64;

/// Sources up to this size are read whole by the helper thread; of larger ones it reads
/// this much and passes the open file on, so that the kernel copies the rest.
const READ_WHOLE_MAX: usize = 128 * 1024;

/// Helper threads that open and read sources, by default.
const DEFAULT_HELPERS: usize = 2;

/// The most sources a helper hands over at once: fewer handovers, fewer thread wake-ups.
const MAX_BATCH: usize = 64;

/// Sources named by path, opened in index order by a helper thread ahead of their use.
///
/// A tar layer refers to its files in order, and opening, reading and closing a small file
/// costs more than writing it out. So a helper thread opens each file, reads it whole when
/// it is small (up to 128 KiB, with a last read returning 0 to confirm its end) and closes
/// it, all on another core; the reconstruction then copies bytes already in memory. A
/// larger file is passed on open, with its first 128 KiB already read, for the kernel to
/// copy the rest. At most `depth` sources wait ready (plus the one in use), so a layer of
/// any size reconstructs under a low open-file limit and in bounded memory. A reference out
/// of order (a repeated index, say) opens its file directly; sources skipped over are
/// dropped. Files are opened read-only and close-on-exec (and, on Linux, without updating
/// their access time where the file's owner allows it); an open's error names the path.
///
/// Consecutive paths in the same directory are opened relative to that directory, which is
/// looked up once for them: the same files as opening each path in full, unless the
/// directory is renamed or replaced during the run.
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
    state: Mutex<Ahead>,
}

/// One source as a helper thread hands it over, with its index.
type Entry = (usize, io::Result<AheadSource>);

/// The helper threads' side as seen by the reader: which index the next in-order
/// reference is, the batch being used, and where the next batches come from.
#[derive(Default)]
struct Ahead {
    next: usize,
    ready: vec::IntoIter<Entry>,
    /// The number of the next batch; batch `b` comes from helper `b % helpers`.
    batch: usize,
    opened: Vec<Receiver<Vec<Entry>>>,
    workers: Vec<JoinHandle<()>>,
    started: bool,
}

/// One source of [`OpenAhead`]: the whole content of a small file, read ahead, or an open
/// file with its first bytes read ahead.
///
/// Reads are positional like a file's. A file passed on open has a descriptor
/// ([`ReadAt::fd`]), so the kernel can copy it; content read whole has none.
pub struct AheadSource {
    head: Vec<u8>,
    /// `None`: `head` is the whole content, its end confirmed by a read of 0.
    file: Option<File>,
}

impl AheadSource {
    fn file(file: File) -> AheadSource {
        AheadSource {
            head: Vec::new(),
            file: Some(file),
        }
    }
}

impl ReadAt for AheadSource {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).map_or(self.head.len(), |o| o.min(self.head.len()));
        let from_head = self.head.get(start..).unwrap_or_default();
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
            None => Ok(Some(crate::drive::len_u64(self.head.len()))),
        }
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_ref().map(AsFd::as_fd)
    }
}

impl fmt::Debug for AheadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AheadSource")
            .field("read", &self.head.len())
            .field("file", &self.file)
            .finish()
    }
}

impl OpenAhead {
    /// Sources `0..` in the order of `paths`, opened up to [`DEFAULT_OPEN_AHEAD`] ahead.
    pub fn new<I>(paths: I) -> OpenAhead
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        OpenAhead {
            paths: paths.into_iter().map(Into::into).collect(),
            depth: DEFAULT_OPEN_AHEAD,
            helpers: DEFAULT_HELPERS,
            state: Mutex::new(Ahead::default()),
        }
    }

    /// Keeps at most `depth` sources (at least 1) ready ahead of use.
    #[must_use]
    pub fn with_depth(mut self, depth: usize) -> OpenAhead {
        self.depth = depth.max(1);
        self
    }

    /// Uses `helpers` threads (at least 1) to open and read sources.
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
        // Each helper holds at most one batch ready; the reader uses one more.
        let helpers = self.helpers.min(self.depth.saturating_sub(1)).max(1);
        let batch = (self.depth / (helpers + 1)).clamp(1, MAX_BATCH);
        for first in 0..helpers {
            let (sender, receiver) = sync_channel(0);
            let paths = Arc::clone(&self.paths);
            let worker = thread::Builder::new()
                .name("splitfdstream-open-ahead".into())
                .spawn(move || {
                    let mut opener = Opener::new();
                    let mut scratch = vec![0; READ_WHOLE_MAX].into_boxed_slice();
                    let mut at = first * batch;
                    while at < paths.len() {
                        let end = paths.len().min(at + batch);
                        let ready: Vec<Entry> = (at..end)
                            .map(|i| {
                                let source = opener
                                    .open(&paths[i])
                                    .map(|file| read_ahead(file, &mut scratch));
                                (i, source)
                            })
                            .collect();
                        // The reader went away: stop opening.
                        if sender.send(ready).is_err() {
                            return;
                        }
                        at += batch * helpers;
                    }
                });
            match worker {
                Ok(worker) => {
                    state.opened.push(receiver);
                    state.workers.push(worker);
                }
                // Without every thread, every file is opened when it is used.
                Err(_) => {
                    state.opened.clear();
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
            let helpers = state.opened.len();
            let from = state.opened.get(state.batch.checked_rem(helpers)?)?;
            state.ready = from.recv().ok()?.into_iter();
            state.batch += 1;
        }
    }
}

/// Reads `file` into `scratch` up to its end, confirmed by a read of 0: its whole content
/// when that fits, else the open file with what was read. A read error passes the file on
/// as it is, for the reconstruction to read (and report) itself.
fn read_ahead(file: File, scratch: &mut [u8]) -> AheadSource {
    let mut filled = 0;
    while filled < scratch.len() {
        let offset = crate::drive::len_u64(filled);
        match ReadAt::read_at(&file, &mut scratch[filled..], offset) {
            Ok(0) => {
                return AheadSource {
                    head: scratch[..filled].to_vec(),
                    file: None,
                }
            }
            Ok(n) => filled += n.min(scratch.len() - filled),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    AheadSource {
        head: scratch[..filled].to_vec(),
        file: Some(file),
    }
}

/// Opens files read-only, relative to the directory of the last one when they share it.
struct Opener {
    dir: Option<(PathBuf, OwnedFd)>,
    flags: OFlags,
}

impl Opener {
    fn new() -> Opener {
        #[cfg(target_os = "linux")]
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOATIME;
        #[cfg(not(target_os = "linux"))]
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        Opener { dir: None, flags }
    }

    fn open(&mut self, path: &Path) -> io::Result<File> {
        self.open_fd(path)
            .map(File::from)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
    }

    fn open_fd(&mut self, path: &Path) -> io::Result<OwnedFd> {
        let Some((parent, name)) = split(path) else {
            return self.retry(|flags| rustix::fs::open(path, flags, Mode::empty()));
        };
        if !matches!(&self.dir, Some((dir, _)) if dir == parent) {
            self.dir = None;
            let fd = rustix::fs::open(
                parent,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            );
            match fd {
                Ok(fd) => self.dir = Some((parent.to_path_buf(), fd)),
                // Let the full path's open report what is wrong.
                Err(_) => return self.retry(|flags| rustix::fs::open(path, flags, Mode::empty())),
            }
        }
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
        Opener::new()
            .open(&self.paths[at])
            .map(|file| Some(AheadSource::file(file)))
    }
}

impl Drop for OpenAhead {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Closing the channels stops the threads after their current batch.
        state.opened.clear();
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
