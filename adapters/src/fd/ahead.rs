//! Sources named by path and opened ahead of use by a helper thread.

use ::std::fmt;
use ::std::format;
use ::std::fs::File;
use ::std::io;
use ::std::path::{Path, PathBuf};
use ::std::sync::mpsc::{sync_channel, Receiver};
use ::std::sync::{Arc, Mutex, PoisonError};
use ::std::thread::{self, JoinHandle};

use splitfdstream::FdIndex;

use crate::std::Sources;

/// How many files [`OpenAhead`] keeps open ahead of use by default.
pub const DEFAULT_OPEN_AHEAD: usize = 64;

/// Sources named by path, opened in index order by a helper thread ahead of their use.
///
/// A tar layer refers to its files in order, and opening a file costs about as much as
/// copying a small one; on a layer of tens of thousands of small files the opens then
/// overlap the copies on another core. At most `depth` files wait open (plus the one in
/// use), so a layer of any size reconstructs under a low open-file limit. A reference out
/// of order (a repeated index, say) opens its file directly; files skipped over are closed.
/// Files are opened read-only and close-on-exec; an open's error names the path.
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
    state: Mutex<Ahead>,
}

/// The helper thread's side as seen by the reader: what it sends and which index the
/// next in-order reference is.
#[derive(Default)]
struct Ahead {
    next: usize,
    opened: Option<Receiver<(usize, io::Result<File>)>>,
    worker: Option<JoinHandle<()>>,
    started: bool,
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
            state: Mutex::new(Ahead::default()),
        }
    }

    /// Keeps at most `depth` files (at least 1) open ahead of use.
    #[must_use]
    pub fn with_depth(mut self, depth: usize) -> OpenAhead {
        self.depth = depth.max(1);
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
        let (sender, receiver) = sync_channel(self.depth - 1);
        let paths = Arc::clone(&self.paths);
        let worker = thread::Builder::new()
            .name("splitfdstream-open-ahead".into())
            .spawn(move || {
                for (at, path) in paths.iter().enumerate() {
                    // The reader went away: stop opening.
                    if sender.send((at, open(path))).is_err() {
                        return;
                    }
                }
            });
        // Without a thread, every file is opened when it is used.
        if let Ok(worker) = worker {
            state.opened = Some(receiver);
            state.worker = Some(worker);
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    File::open(path)
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

impl Sources for OpenAhead {
    type Source<'a> = File;

    fn source(&self, index: FdIndex) -> io::Result<Option<File>> {
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
            if let Some(opened) = &state.opened {
                // Files skipped over arrive first and close as they are dropped.
                while let Ok((got, file)) = opened.recv() {
                    if got == at {
                        return file.map(Some);
                    }
                }
            }
        }
        drop(state);
        open(&self.paths[at]).map(Some)
    }
}

impl Drop for OpenAhead {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Closing the channel stops the thread after its current open.
        state.opened = None;
        if let Some(worker) = state.worker.take() {
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
