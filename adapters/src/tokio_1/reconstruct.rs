//! Reconstruction into an `AsyncWrite`, reading sources in batches on the blocking pool.

use ::std::boxed::Box;
use ::std::fs::File;
use ::std::io;
use ::std::ops::Range;
use ::std::sync::Arc;
use ::std::vec;
use ::std::vec::Vec;

use splitfdstream::Limits;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};

use super::{read_retrying, write_all};
use crate::drive::{len_u64, Rebuild, Step};
use crate::std::steps::{hold, output, read_source, start_source};
use crate::std::{Error, Sources};
use crate::Format;

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
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// The [`Error`] of [`std::reconstruct`](crate::std::reconstruct): the stream, a source
/// or the output, and where; [`Error::Output`] of kind `Other` if a blocking-pool task
/// could not complete (the runtime is shutting down).
///
/// On error, part of the output may have been written: write to a temporary file and
/// rename it on success when that matters.
pub async fn reconstruct<R, S, W>(stream: R, sources: Arc<S>, out: W) -> Result<u64, Error>
where
    R: AsyncRead + Unpin,
    S: Sources + Send + Sync + ?Sized + 'static,
    W: AsyncWrite + Unpin,
{
    reconstruct_as(Format::Splitfdstream, stream, sources, out).await
}

/// [`reconstruct`] for a stream of either [`Format`].
///
/// # Errors
///
/// As [`reconstruct`].
pub async fn reconstruct_as<R, S, W>(
    format: Format,
    stream: R,
    sources: Arc<S>,
    out: W,
) -> Result<u64, Error>
where
    R: AsyncRead + Unpin,
    S: Sources + Send + Sync + ?Sized + 'static,
    W: AsyncWrite + Unpin,
{
    let mut stream = stream;
    let mut out = out;
    sources.rewind();
    let mut batch = Box::new(Batch::new(format, sources));
    loop {
        // Inline data is copied on this task; only source reads go to the blocking pool.
        let outcome = match batch.fill(false)? {
            Outcome::Blocking => {
                let written = batch.written();
                let (returned, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = batch.fill(true);
                    (batch, outcome)
                })
                .await
                .map_err(|error| output(written)(io::Error::other(error)))?;
                batch = returned;
                outcome?
            }
            outcome => outcome,
        };
        let written = batch.written();
        match outcome {
            Outcome::Full | Outcome::Blocking => batch.drain(&mut out).await?,
            Outcome::Direct(range) => {
                batch.drain(&mut out).await?;
                write_all(&mut out, batch.stream_buf.get(range).unwrap_or_default())
                    .await
                    .map_err(output(written))?;
            }
            Outcome::NeedInput => {
                let target = batch.rebuild.refill_target(&mut batch.stream_buf);
                let n =
                    read_retrying(&mut stream, target)
                        .await
                        .map_err(|error| Error::Stream {
                            offset: batch.rebuild.position(),
                            error,
                        })?;
                batch.rebuild.stream_read(n);
            }
            Outcome::End => {
                batch.drain(&mut out).await?;
                out.flush().await.map_err(output(written))?;
                return Ok(batch.rebuild.total());
            }
        }
    }
}

/// What [`Batch::fill`] stopped for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The stream buffer is used up.
    NeedInput,
    /// The output buffer is full.
    Full,
    /// Write `stream_buf[range]`, a large inline piece, after what is staged.
    Direct(Range<usize>),
    /// A source must be opened or read: call again where blocking is allowed.
    Blocking,
    /// The stream ended.
    End,
}

/// The state of a reconstruction that moves between this task and the blocking pool: the
/// step machine, its buffers, and the output staged for writing.
struct Batch<S: ?Sized> {
    sources: Arc<S>,
    rebuild: Rebuild,
    stream_buf: Box<[u8]>,
    out_buf: Box<[u8]>,
    staged: usize,
    /// The rest of an inline piece that did not fit the output buffer.
    inline: Range<usize>,
}

impl<S: Sources + ?Sized> Batch<S> {
    fn new(format: Format, sources: Arc<S>) -> Batch<S> {
        Batch {
            sources,
            rebuild: Rebuild::new(format, Limits::new(), STREAM_BUF_LEN),
            stream_buf: vec![0; STREAM_BUF_LEN].into_boxed_slice(),
            out_buf: vec![0; OUT_BUF_LEN].into_boxed_slice(),
            staged: 0,
            inline: 0..0,
        }
    }

    /// Rebuilt bytes handed out so far, less those staged and not yet written.
    fn written(&self) -> u64 {
        self.rebuild.total() - len_u64(self.staged) - len_u64(self.inline.len())
    }

    async fn drain<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> Result<(), Error> {
        if self.staged > 0 {
            let written = self.written();
            write_all(out, self.out_buf.get(..self.staged).unwrap_or_default())
                .await
                .map_err(output(written))?;
            self.staged = 0;
        }
        Ok(())
    }

    /// Copies the rest of the pending inline piece into the output buffer, as much as fits.
    fn stage_inline(&mut self) {
        let room = self.out_buf.len() - self.staged;
        let n = self.inline.len().min(room);
        let piece = self
            .stream_buf
            .get(self.inline.start..self.inline.start + n)
            .unwrap_or_default();
        if let Some(slot) = self.out_buf.get_mut(self.staged..self.staged + n) {
            slot.copy_from_slice(piece);
        }
        self.staged += n;
        self.inline.start += n;
    }

    /// Steps until the output buffer is full, the stream buffer is used up, the stream
    /// ends or a source must be opened or read where that may not block (`may_block`
    /// false): then [`Outcome::Blocking`].
    fn fill(&mut self, may_block: bool) -> Result<Outcome, Error> {
        // The source being copied is held for this call; the next asks for it again.
        let sources = Arc::clone(&self.sources);
        let mut held = None;
        loop {
            if !self.inline.is_empty() {
                self.stage_inline();
            }
            let room = self.out_buf.len() - self.staged;
            if room == 0 {
                return Ok(Outcome::Full);
            }
            match self.rebuild.step(&self.stream_buf, room)? {
                Step::ReadStream => return Ok(Outcome::NeedInput),
                Step::WriteInline(range) if range.len() >= DIRECT_LEN => {
                    return Ok(Outcome::Direct(range))
                }
                Step::WriteInline(range) => self.inline = range,
                Step::OpenSource(_) | Step::ReadSource { .. } if !may_block => {
                    return Ok(Outcome::Blocking)
                }
                Step::OpenSource(reference) => {
                    let buf = &self.stream_buf;
                    let opened = start_source(&mut self.rebuild, &*sources, (&reference, buf))?;
                    held = Some((reference, opened));
                }
                Step::ReadSource {
                    reference,
                    offset,
                    want,
                } => {
                    let at = self.rebuild.position();
                    let buf = &self.stream_buf;
                    let source = hold(&mut held, &*sources, (&reference, buf), at)?;
                    let target = self
                        .out_buf
                        .get_mut(self.staged..self.staged + want)
                        .unwrap_or_default();
                    let named = reference.get(buf);
                    read_source(
                        &mut self.rebuild,
                        &*sources,
                        (named, source),
                        target,
                        offset,
                    )?;
                }
                Step::WriteSource(n) => self.staged += n,
                Step::End { .. } => return Ok(Outcome::End),
            }
        }
    }
}
