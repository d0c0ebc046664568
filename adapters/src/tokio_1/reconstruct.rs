//! Reconstruction into an `AsyncWrite`, reading sources in batches on the blocking pool.

use ::std::boxed::Box;
use ::std::fs::File;
use ::std::io;
use ::std::ops::Range;
use ::std::sync::Arc;
use ::std::vec;
use ::std::vec::Vec;

use splitfdstream::{FdIndex, Limits};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};

use super::{read_retrying, write_all};
use crate::drive::{len_u64, Event, ExternalCopy, Feed, Progress};
#[cfg(doc)]
use crate::std::SourceIoError;
use crate::std::{invalid_data, open_source, read_at_retrying, source_io, ReadAt, Sources};

/// Size of the stream buffer: large, because each read of a `tokio::fs::File` is a task
/// on the blocking pool.
const STREAM_BUF_LEN: usize = 1024 * 1024;

/// Inline pieces at least this long are written straight from the stream buffer rather
/// than copied into the output buffer (the blocking reconstruct's staging policy).
const DIRECT_LEN: usize = 64 * 1024;

/// Size of the output buffer one batch fills.
const OUT_BUF_LEN: usize = 1024 * 1024;

/// Converts `tokio::fs::File`s into the `std::fs::File`s that [`reconstruct`] reads
/// positionally, waiting for any operation in flight on them.
///
/// A list of files is a [`Sources`](crate::std::Sources): index `i` is the `i`-th file.
///
/// ```
/// use std::sync::Arc;
/// use splitfdstream_adapters::tokio_1::{reconstruct, std_files};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// tokio::fs::write(dir.path().join("a"), b"content").await?;
/// let file = tokio::fs::File::open(dir.path().join("a")).await?;
/// let sources = Arc::new(std_files([file]).await);
/// let stream = [0u8; 8]; // External(0)
/// let mut out = Vec::new();
/// assert_eq!(reconstruct(&stream[..], sources, &mut out).await?, 7);
/// assert_eq!(out, b"content");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn std_files<I>(files: I) -> Vec<File>
where
    I: IntoIterator<Item = tokio::fs::File>,
{
    let mut converted = Vec::new();
    for file in files {
        converted.push(file.into_std().await);
    }
    converted
}

/// Rebuilds the original bytes from `stream` and its `sources` into `out`; returns the
/// number of bytes written.
///
/// The async counterpart of [`std::reconstruct`](crate::std::reconstruct), with the same
/// decoding, the same checks and the same errors, and the same [`Sources`]: files,
/// byte vectors, or [`PathSources`](crate::std::PathSources), whose bounded cache keeps
/// at most a few dozen files open whatever the number of sources. Sources are read
/// positionally on tokio's blocking pool in batches of up to 1 MiB of output (see the
/// [module documentation](super)); memory stays bounded by that buffer and a 1 MiB
/// stream buffer, and inline pieces of 64 KiB or more are written straight from the
/// latter. `out` is flushed at the end.
///
/// Runs on a current-thread or a multi-thread runtime; the runtime must have a blocking
/// pool (every tokio runtime does).
///
/// Not resumable: when the future is dropped before it completes, `out` holds a prefix of
/// the rebuilt bytes that may end inside a chunk; a batch already running on the blocking
/// pool finishes its reads before its result is discarded.
///
/// ```
/// use std::sync::Arc;
/// use splitfdstream_adapters::tokio_1::{reconstruct, Writer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"<header>").await?;
/// writer.write_external(1).await?;
/// writer.write_external(0).await?;
/// writer.write_external(1).await?; // the same source again, read from offset 0
/// let stream = writer.finish().await?;
///
/// let sources = Arc::new(vec![b"zero ".to_vec(), b"one ".to_vec()]);
/// let mut out = Vec::new();
/// let written = reconstruct(stream.as_slice(), sources, &mut out).await?;
/// assert_eq!(out, b"<header>one zero one ");
/// assert_eq!(written, 21);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// - `InvalidData` with a [`DecodeError`](splitfdstream::DecodeError) source for a
///   malformed or truncated stream;
/// - `NotFound` with a [`SourceError`](crate::SourceError) source for an index that has no
///   source; `InvalidData` with a `SourceError` for a source whose size differs from the
///   expected one, or that shrinks or grows while being read;
/// - a [`SourceIoError`] (same kind as the underlying error) when a source cannot be
///   opened or read;
/// - the errors of reading `stream` and writing `out`; `Other` if a blocking-pool task
///   could not complete (the runtime is shutting down).
///
/// On error, part of the output may have been written: write to a temporary file and
/// rename it on success when that matters.
pub async fn reconstruct<R, S, W>(stream: R, sources: Arc<S>, out: W) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    S: Sources + Send + Sync + ?Sized + 'static,
    W: AsyncWrite + Unpin,
{
    let mut stream = stream;
    let mut out = out;
    let mut batch = Box::new(Batch::new(sources));
    loop {
        // Inline data is copied on this task; only source reads go to the blocking pool.
        let outcome = match batch.fill(false)? {
            Outcome::Blocking => {
                let (returned, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = batch.fill(true);
                    (batch, outcome)
                })
                .await
                .map_err(io::Error::other)?;
                batch = returned;
                outcome?
            }
            outcome => outcome,
        };
        match outcome {
            Outcome::Full | Outcome::Blocking => batch.drain(&mut out).await?,
            Outcome::Direct(range) => {
                batch.drain(&mut out).await?;
                write_all(&mut out, batch.stream_buf.get(range).unwrap_or_default()).await?;
            }
            Outcome::NeedInput => {
                let target = batch.feed.refill_target(&mut batch.stream_buf);
                let n = read_retrying(&mut stream, target).await?;
                batch.feed.filled(n);
            }
            Outcome::End => {
                batch.drain(&mut out).await?;
                out.flush().await?;
                return Ok(batch.total);
            }
        }
    }
}

/// Why [`Batch::fill`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The stream buffer is used up: read more.
    NeedInput,
    /// The output buffer is full: write it out.
    Full,
    /// Write what is staged, then `stream_buf[range]`, a large inline piece.
    Direct(Range<usize>),
    /// A source must be opened or read, which may block.
    Blocking,
    /// The stream ended cleanly; what is staged is the rest of the output.
    End,
}

/// What a batch is in the middle of.
#[derive(Clone, Debug)]
enum Current {
    /// Between chunks.
    Idle,
    /// Copying `stream_buf[range]` out.
    Inline(Range<usize>),
    /// Source `index` is next, not yet opened.
    Opening(FdIndex),
    /// Copying source `index`.
    External { index: FdIndex, copy: ExternalCopy },
}

/// The whole state of a reconstruction, moved to the blocking pool and back for each
/// batch of source reads.
struct Batch<S: ?Sized> {
    sources: Arc<S>,
    feed: Feed,
    stream_buf: Box<[u8]>,
    out_buf: Box<[u8]>,
    staged: usize,
    current: Current,
    total: u64,
}

impl<S: Sources + ?Sized> Batch<S> {
    fn new(sources: Arc<S>) -> Batch<S> {
        Batch {
            sources,
            feed: Feed::new(Limits::new()),
            stream_buf: vec![0; STREAM_BUF_LEN].into_boxed_slice(),
            out_buf: vec![0; OUT_BUF_LEN].into_boxed_slice(),
            staged: 0,
            current: Current::Idle,
            total: 0,
        }
    }

    /// Writes what is staged to `out`.
    async fn drain<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> io::Result<()> {
        if self.staged > 0 {
            write_all(out, self.out_buf.get(..self.staged).unwrap_or_default()).await?;
            self.staged = 0;
        }
        Ok(())
    }

    /// Decodes buffered stream bytes and stages the rebuilt bytes until the output buffer
    /// is full, the stream buffer is used up, or the stream ends. Without `may_block`, it
    /// stops before opening or reading a source instead.
    fn fill(&mut self, may_block: bool) -> io::Result<Outcome> {
        loop {
            let room = self.out_buf.len() - self.staged;
            match &mut self.current {
                Current::Idle => match self.feed.poll(&self.stream_buf).map_err(invalid_data)? {
                    Event::Inline { range, .. } => self.current = Current::Inline(range),
                    Event::External(index) => self.current = Current::Opening(index),
                    Event::NeedInput => return Ok(Outcome::NeedInput),
                    Event::End => return Ok(Outcome::End),
                },
                _ if room == 0 => return Ok(Outcome::Full),
                Current::Inline(range) if range.len() >= DIRECT_LEN => {
                    let direct = range.clone();
                    self.total = self.total.saturating_add(len_u64(direct.len()));
                    self.current = Current::Idle;
                    return Ok(Outcome::Direct(direct));
                }
                Current::Inline(range) => {
                    let n = range.len().min(room);
                    let piece = self
                        .stream_buf
                        .get(range.start..range.start + n)
                        .unwrap_or_default();
                    if let Some(slot) = self.out_buf.get_mut(self.staged..self.staged + n) {
                        slot.copy_from_slice(piece);
                    }
                    self.staged += n;
                    self.total = self.total.saturating_add(len_u64(n));
                    range.start += n;
                    if range.start >= range.end {
                        self.current = Current::Idle;
                    }
                }
                Current::Opening(_) | Current::External { .. } if !may_block => {
                    return Ok(Outcome::Blocking)
                }
                Current::Opening(index) => {
                    let index = *index;
                    let source = open_source(&*self.sources, index)?;
                    let size = source.size().map_err(source_io(index.get()))?;
                    let copy = ExternalCopy::new(index, size, self.sources.expected_len(index))?;
                    self.current = Current::External { index, copy };
                }
                Current::External { index, copy } => {
                    let index = *index;
                    // Looked up once per batch: a cached file is a cheap clone.
                    let source = open_source(&*self.sources, index)?;
                    loop {
                        let spare = self.out_buf.get_mut(self.staged..).unwrap_or_default();
                        if spare.is_empty() {
                            break;
                        }
                        let want = copy.want(spare.len());
                        let target = spare.get_mut(..want).unwrap_or_default();
                        let n = read_at_retrying(&source, target, copy.offset())
                            .map_err(source_io(index.get()))?;
                        let progress = copy.advance_read(n, want)?;
                        self.staged += n;
                        self.total = self.total.saturating_add(len_u64(n));
                        if progress == Progress::Done {
                            self.current = Current::Idle;
                            break;
                        }
                    }
                }
            }
        }
    }
}
