//! Reading sources ahead of use, on helper threads: files named by path
//! ([`PathSources`](super::PathSources)) or by name beneath a directory
//! ([`DirSources`](super::DirSources)), each opened by its [`OpenAhead`].
//!
//! A tar layer refers to its files in order, and opening, reading and closing a small file
//! costs more than writing it out. So helper threads open each file by the
//! [policy](super::policy), read it whole when it is small (up to 128 KiB) and close it,
//! all off the reconstruction's thread, which then copies bytes already in memory. A larger
//! file is passed on open, with its first 128 KiB already read, for the kernel to copy the
//! rest. Helpers work at most a few batches of up to 64 sources ahead of use, holding at
//! most about `depth` files open among them, so a layer of any size reconstructs under a
//! low open-file limit and in bounded memory.

use ::std::collections::VecDeque;
use ::std::io;
use ::std::ops::Range;
use ::std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use ::std::sync::Arc;
use ::std::thread::{self, JoinHandle};
use ::std::vec;
use ::std::vec::Vec;

use super::path::PathSource;
use super::policy::{Opened, Opener, Result as OpenResult};
use crate::drive::len_u64;

/// Sources up to this size are read whole by a helper; of larger ones it reads this much
/// and passes the open file on, so that the kernel copies the rest.
const READ_WHOLE_MAX: usize = 128 * 1024;

/// The most sources a helper hands over at once: fewer handovers, fewer thread wake-ups.
/// Batches of 64 rather than 18 measured about a tenth faster on a layer of small files.
const MAX_BATCH: usize = 64;

/// The most content a batch holds in memory; sources past it are passed on open.
const MAX_BATCH_CONTENT: usize = 4 << 20;

/// Helper threads that open and read sources, by default: one more than the cores, at
/// least 2 and at most 4. The reader's share of the work is small, and a helper waiting in
/// the kernel leaves its core to another.
pub(super) fn default_helpers() -> usize {
    thread::available_parallelism().map_or(2, |cores| cores.get().saturating_add(1).clamp(2, 4))
}

/// How the helpers work: how many files they may hold open, how many there are, and
/// whether they open through `io_uring`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) depth: usize,
    pub(super) helpers: usize,
    pub(super) io_uring: bool,
}

/// How helpers open the sources of their list, given by key: the policy's [`Opener`] for
/// paths, a confined one for names beneath directories. Each helper has its own.
pub(super) trait OpenAhead<K>: Send + 'static {
    /// Opens each of `keys` by the policy, in order, with a regular file's size.
    fn open_many(&mut self, keys: &[K]) -> Vec<OpenResult>;
}

impl OpenAhead<::std::path::PathBuf> for Opener {
    fn open_many(&mut self, keys: &[::std::path::PathBuf]) -> Vec<OpenResult> {
        Opener::open_many(self, keys)
    }
}

/// One source as a helper hands it over, with its index.
type Entry = (usize, io::Result<PathSource>);

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

/// The helper threads as seen by the reader: which index the next in-order reference is,
/// the batch being used, and where the next batches come from.
#[derive(Default)]
pub(super) struct ReadAhead {
    next: usize,
    ready: vec::IntoIter<Entry>,
    /// The buffer of the batch in use and the helper it came from, to send back once its
    /// sources are dropped.
    content: Option<(Arc<Vec<u8>>, usize)>,
    /// The number of the next batch; batch `b` comes from helper `b % helpers`.
    batch: usize,
    helpers: Vec<Helper>,
    workers: Vec<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts the helpers over `keys`, each opening them with an opener made by `opener`
    /// (given how many files it may open at once); with no helpers (a thread could not be
    /// started) every source is opened when used.
    pub(super) fn start<K, O, F>(keys: Arc<Vec<K>>, settings: Settings, opener: F) -> ReadAhead
    where
        K: Send + Sync + 'static,
        O: OpenAhead<K>,
        F: Fn(usize) -> O + Clone + Send + 'static,
    {
        let mut ahead = ReadAhead::default();
        // Each helper holds at most two batches ready (one queued, one waiting to be), so
        // that it keeps working while the reader is busy; the reader uses one more. Half
        // the open files are shared out among those batches, for files passed on open;
        // the other half among the helpers, for the group of files each opens at once
        // and reads (against `openat`, groups of 21 saved 6 % of the wall time on a layer
        // of small files where groups of 12 saved 3 %).
        let depth = settings.depth;
        let helpers = settings.helpers.min(depth / 4).max(1);
        let open_per_batch = (depth / 2 / (2 * helpers + 1)).max(1);
        let group = (depth / 2 / helpers).clamp(1, MAX_BATCH);
        for first in 0..helpers {
            let (sender, batches) = sync_channel(1);
            let (reuse, reused) = channel();
            let keys = Arc::clone(&keys);
            let make = opener.clone();
            let worker = thread::Builder::new()
                .name("splitfdstream-read-ahead".into())
                .spawn(move || {
                    let mut opener = make(group);
                    // Files opened in a group but not yet in a batch: the next part of the
                    // range starts with them.
                    let mut pending = VecDeque::new();
                    let mut at = first * MAX_BATCH;
                    while at < keys.len() {
                        let end = keys.len().min(at + MAX_BATCH);
                        let mut from = at;
                        while from < end {
                            let content = reused.try_recv().unwrap_or_default();
                            let limits = (open_per_batch, group);
                            let ready = read_batch(
                                (&mut opener, &mut pending),
                                &keys,
                                from..end,
                                content,
                                limits,
                            );
                            from = end.min(from + ready.sources.len().max(1));
                            // The reader went away: stop opening.
                            if sender.send(ready).is_err() {
                                return;
                            }
                        }
                        at += MAX_BATCH * helpers;
                    }
                });
            match worker {
                Ok(worker) => {
                    ahead.helpers.push(Helper { batches, reuse });
                    ahead.workers.push(worker);
                }
                // Without every thread, every file is opened when it is used.
                Err(_) => {
                    ahead.helpers.clear();
                    break;
                }
            }
        }
        ahead
    }

    /// Source `at` from the helpers, if it is the next in order or a later one (those
    /// skipped over are dropped); `None` for one already passed, or with no helpers.
    pub(super) fn take(&mut self, at: usize) -> Option<io::Result<PathSource>> {
        if at < self.next {
            return None;
        }
        self.next = at + 1;
        loop {
            for (got, source) in self.ready.by_ref() {
                if got == at {
                    return Some(source);
                }
            }
            let helper = self.batch.checked_rem(self.helpers.len())?;
            let next = self.helpers.get(helper)?.batches.recv().ok()?;
            // The sources of the batch before are dropped by now, unless a caller keeps one.
            if let Some((content, done)) = self.content.replace((next.content, helper)) {
                if let (Ok(content), Some(to)) = (Arc::try_unwrap(content), self.helpers.get(done))
                {
                    let _ = to.reuse.send(content);
                }
            }
            self.ready = next.sources.into_iter();
            if next.last {
                self.batch += 1;
            }
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channels stops the threads after their current batch.
        self.helpers.clear();
        self.ready = Vec::new().into_iter();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Opens and reads sources of `range` of `keys` in order, their content into `content`
/// (a buffer handed back for reuse, or a new one), up to the end of the range or to the
/// source that makes `max_open` files passed on open. Files are opened `group` at a time;
/// those opened and not reached stay in `pending` for the next part of the range, so no
/// file is opened twice.
fn read_batch<K, O: OpenAhead<K>>(
    (opener, pending): (&mut O, &mut VecDeque<(usize, OpenResult)>),
    keys: &[K],
    range: Range<usize>,
    mut content: Vec<u8>,
    (max_open, group): (usize, usize),
) -> Batch {
    let mut used = 0;
    let mut open = 0;
    let end = range.end;
    let mut sources = Vec::with_capacity(range.len());
    for at in range {
        if pending.front().is_none_or(|&(first, _)| first != at) {
            pending.clear();
            let last = end.min(at + group.max(1));
            let opened = opener.open_many(keys.get(at..last).unwrap_or_default());
            pending.extend((at..).zip(opened));
        }
        let Some((_, source)) = pending.pop_front() else {
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
            let source = source
                .map(|(range, file)| PathSource::read_ahead(Arc::clone(&content), range, file));
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
/// that fits, else of what was read, with the open file (blocking again). A read error
/// passes the file on as it is, for the reconstruction to read (and report) itself.
///
/// The end is the `size` that `fstat` gave when one read lands exactly on it; otherwise
/// (a file that changed, or one whose size says nothing, as in procfs) only a read of 0.
fn read_ahead(
    opened: Opened,
    size: Option<u64>,
    buf: &mut [u8],
) -> (usize, Option<::std::fs::File>) {
    let limit = buf.len().min(READ_WHOLE_MAX);
    let buf = &mut buf[..limit];
    let file = opened.file();
    if let Some(size) = size
        .and_then(|size| usize::try_from(size).ok())
        .filter(|&size| size < buf.len())
    {
        // Asking for one byte more than the size shows a file that grew.
        if let Ok(n) = crate::std::read_at_retrying(file, &mut buf[..=size], 0) {
            if n == size {
                return (n, None);
            }
        }
    }
    let mut filled = 0;
    while filled < buf.len() {
        match crate::std::read_at_retrying(file, &mut buf[filled..], len_u64(filled)) {
            Ok(0) => return (filled, None),
            Ok(n) => filled += n,
            Err(_) => break,
        }
    }
    (filled, Some(opened.into_blocking()))
}
