//! Reconstruction of the original byte stream from a stream and its sources.

use ::std::boxed::Box;
use ::std::io;
use ::std::ops::Range;
use ::std::vec;

use splitfdstream::{FdIndex, Limits};

use super::error::{invalid_data, source_io};
use super::{read_at_retrying, read_retrying, write_all, ReadAt, Sources, DEFAULT_BUFFER_LEN};
use crate::drive::{len_u64, Event, ExternalCopy, Feed, Progress, Staging};

/// Size of the output staging buffer of [`reconstruct`].
const STAGING_LEN: usize = 128 * 1024;

/// Rebuilds the original bytes from `stream` and its `sources` into `out`; returns the
/// number of bytes written.
///
/// Inline data streams through a 64 KiB buffer and external sources are copied from offset
/// 0 to their end through a 128 KiB staging buffer that also batches small pieces (tar
/// headers, small files) into few writes, so memory stays bounded whatever the chunk
/// sizes. `out` is flushed at the end.
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, Writer};
///
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"<header>")?;
/// writer.write_external(1)?;
/// writer.write_external(0)?;
/// writer.write_external(1)?; // the same source again, read from offset 0
/// let stream = writer.finish()?;
///
/// let sources: [&[u8]; 2] = [b"zero ", b"one "];
/// let mut out = Vec::new();
/// let written = reconstruct(stream.as_slice(), &sources, &mut out)?;
/// assert_eq!(out, b"<header>one zero one ");
/// assert_eq!(written, 21);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// - `InvalidData` with a [`DecodeError`](splitfdstream::DecodeError) source for a
///   malformed or truncated stream;
/// - `NotFound` with a [`SourceError`](crate::SourceError) source for an index that has no
///   source; `InvalidData` with a `SourceError` for a source whose size differs from the
///   expected one, or that shrinks or grows while being read;
/// - a [`SourceIoError`](super::SourceIoError) (same kind as the underlying error) when a
///   source cannot be opened or read;
/// - the errors of reading `stream` and writing `out`.
///
/// On error, part of the output may have been written: write to a temporary file and
/// rename it on success when that matters.
pub fn reconstruct<R, S, W>(stream: R, sources: &S, out: W) -> io::Result<u64>
where
    R: io::Read,
    S: Sources + ?Sized,
    W: io::Write,
{
    let mut stream = stream;
    let mut out = out;
    let mut buf = vec![0; DEFAULT_BUFFER_LEN].into_boxed_slice();
    let mut feed = Feed::new(Limits::new());
    let mut stage = Stage::new(STAGING_LEN);
    let mut total = 0u64;
    loop {
        match feed.poll(&buf).map_err(invalid_data)? {
            Event::Inline { range, .. } => {
                let bytes = buf.get(range).unwrap_or_default();
                stage.put(&mut out, bytes)?;
                total = total.saturating_add(len_u64(bytes.len()));
            }
            Event::External(index) => {
                let copied = stage.copy_external(&mut out, sources, index)?;
                total = total.saturating_add(copied);
            }
            Event::NeedInput => {
                let target = feed.refill_target(&mut buf);
                let n = read_retrying(&mut stream, target)?;
                feed.filled(n);
            }
            Event::End => {
                stage.flush(&mut out)?;
                out.flush()?;
                return Ok(total);
            }
        }
    }
}

/// The output side of [`reconstruct`]: a staging buffer in front of `out`.
struct Stage {
    buf: Box<[u8]>,
    staging: Staging,
}

impl Stage {
    fn new(len: usize) -> Stage {
        Stage {
            buf: vec![0; len].into_boxed_slice(),
            staging: Staging::new(),
        }
    }

    fn flush<W: io::Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        if self.staging.len() > 0 {
            write_all(out, self.buf.get(..self.staging.len()).unwrap_or_default())?;
            self.staging.clear();
        }
        Ok(())
    }

    /// Passes `bytes` on: copied when small, written directly when large.
    fn put<W: io::Write + ?Sized>(&mut self, out: &mut W, bytes: &[u8]) -> io::Result<()> {
        let cap = self.buf.len();
        if Staging::should_stage(bytes.len(), cap) {
            if !self.staging.fits(bytes.len(), cap) {
                self.flush(out)?;
            }
            self.staging.push(&mut self.buf, bytes);
            Ok(())
        } else {
            self.flush(out)?;
            write_all(out, bytes)
        }
    }

    /// Copies external source `index` from offset 0 to its end, reading straight into the
    /// staging buffer; returns its length.
    fn copy_external<W, S>(&mut self, out: &mut W, sources: &S, index: FdIndex) -> io::Result<u64>
    where
        W: io::Write + ?Sized,
        S: Sources + ?Sized,
    {
        let source = open_source(sources, index)?;
        let mut copy = start_copy(sources, &source, index)?;
        let cap = self.buf.len();
        loop {
            let room = cap - self.staging.len();
            if room < copy.want(cap) {
                self.flush(out)?;
            }
            let spare = self.staging.spare(&mut self.buf);
            let want = copy.want(spare.len());
            let target = spare.get_mut(..want).unwrap_or_default();
            let n =
                read_at_retrying(&source, target, copy.offset()).map_err(source_io(index.get()))?;
            let progress = copy.advance_read(n, want)?;
            self.staging.commit(n);
            if progress == Progress::Done {
                return Ok(copy.offset());
            }
        }
    }
}

/// The source for `index`, or the error that says why there is none.
pub(crate) fn open_source<S: Sources + ?Sized>(
    sources: &S,
    index: FdIndex,
) -> io::Result<S::Source<'_>> {
    match sources.source(index).map_err(source_io(index.get()))? {
        Some(source) => Ok(source),
        None => Err(crate::SourceError::Missing { index: index.get() }.into()),
    }
}

/// The size checks that start a copy of `source`.
pub(crate) fn start_copy<S: Sources + ?Sized, T: ReadAt>(
    sources: &S,
    source: &T,
    index: FdIndex,
) -> io::Result<ExternalCopy> {
    let size = source.size().map_err(source_io(index.get()))?;
    Ok(ExternalCopy::new(index, size, sources.expected_len(index))?)
}

/// What a [`Reconstructor`] is in the middle of.
#[derive(Debug)]
enum Current {
    /// Between chunks.
    Idle,
    /// Handing out `buf[range]`.
    Inline(Range<usize>),
    /// Copying an external source.
    External { index: FdIndex, copy: ExternalCopy },
    /// The stream ended.
    Done,
}

/// The rebuilt byte stream as a [`std::io::Read`].
///
/// Pull-based counterpart of [`reconstruct`]: inline data is copied from a 64 KiB stream
/// buffer into the caller's buffer and external sources are read straight into it, so
/// memory stays bounded by that one buffer whatever the chunk sizes. `S` may be a
/// reference (`&PathSources`, `&[File]`) or owned sources.
///
/// ```
/// use std::io::Read;
/// use splitfdstream_adapters::std::{Reconstructor, Writer};
///
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"a")?;
/// writer.write_external(0)?;
/// let stream = writer.finish()?;
///
/// let mut rebuilt = String::new();
/// Reconstructor::new(stream.as_slice(), [&b"bc"[..]]).read_to_string(&mut rebuilt)?;
/// assert_eq!(rebuilt, "abc");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Reads fail with the errors listed for [`reconstruct`].
#[derive(Debug)]
pub struct Reconstructor<R, S> {
    stream: R,
    sources: S,
    buf: Box<[u8]>,
    feed: Feed,
    current: Current,
}

impl<R: io::Read, S: Sources> Reconstructor<R, S> {
    /// Rebuilds from `stream` and `sources`, with a [`DEFAULT_BUFFER_LEN`] stream buffer.
    pub fn new(stream: R, sources: S) -> Reconstructor<R, S> {
        Reconstructor::with_capacity(DEFAULT_BUFFER_LEN, stream, sources)
    }

    /// Rebuilds with a stream buffer of `capacity` bytes (at least 8).
    pub fn with_capacity(capacity: usize, stream: R, sources: S) -> Reconstructor<R, S> {
        Reconstructor {
            stream,
            sources,
            buf: vec![0; capacity.max(crate::MIN_BUFFER_LEN)].into_boxed_slice(),
            feed: Feed::new(Limits::new()),
            current: Current::Idle,
        }
    }

    /// Stream bytes decoded so far.
    pub fn stream_position(&self) -> u64 {
        self.feed.position()
    }

    /// The sources.
    pub fn sources(&self) -> &S {
        &self.sources
    }

    /// The stream and the sources.
    pub fn into_inner(self) -> (R, S) {
        (self.stream, self.sources)
    }

    /// Moves to the next piece of the rebuilt stream.
    fn advance(&mut self) -> io::Result<()> {
        loop {
            match self.feed.poll(&self.buf).map_err(invalid_data)? {
                Event::Inline { range, .. } => {
                    self.current = Current::Inline(range);
                    return Ok(());
                }
                Event::External(index) => {
                    let source = open_source(&self.sources, index)?;
                    let copy = start_copy(&self.sources, &source, index)?;
                    self.current = Current::External { index, copy };
                    return Ok(());
                }
                Event::NeedInput => {
                    let target = self.feed.refill_target(&mut self.buf);
                    let n = read_retrying(&mut self.stream, target)?;
                    self.feed.filled(n);
                }
                Event::End => {
                    self.current = Current::Done;
                    return Ok(());
                }
            }
        }
    }
}

impl<R: io::Read, S: Sources> io::Read for Reconstructor<R, S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.current {
                Current::Idle => self.advance()?,
                Current::Inline(range) => {
                    let n = range.len().min(out.len());
                    let piece = self
                        .buf
                        .get(range.start..range.start + n)
                        .unwrap_or_default();
                    out[..n].copy_from_slice(piece);
                    range.start += n;
                    if range.start >= range.end {
                        self.current = Current::Idle;
                    }
                    return Ok(n);
                }
                Current::External { index, copy } => {
                    let index = *index;
                    // Looked up on every read: a cached file is a cheap clone, and sources
                    // that borrow from `S` cannot be kept across calls.
                    let source = open_source(&self.sources, index)?;
                    let want = copy.want(out.len());
                    let n = read_at_retrying(&source, &mut out[..want], copy.offset())
                        .map_err(source_io(index.get()))?;
                    if copy.advance_read(n, want)? == Progress::Done {
                        self.current = Current::Idle;
                    }
                    if n > 0 {
                        return Ok(n);
                    }
                }
                Current::Done => return Ok(0),
            }
        }
    }
}
