//! The rebuilt byte stream as a `Read`.

use ::std::boxed::Box;
use ::std::io;
use ::std::ops::Range;
use ::std::vec;

use splitfdstream::Limits;

use super::error::Error;
use super::steps::{hold, read_source, start_source};
use super::{read_retrying, Sources, DEFAULT_BUFFER_LEN};
use crate::drive::{Rebuild, Step};
use crate::Format;

/// The rebuilt byte stream as a [`std::io::Read`].
///
/// Pull-based counterpart of [`reconstruct`](super::reconstruct), driven by the same
/// step machine: inline data is copied from a 64 KiB stream buffer into the caller's
/// buffer and external sources are read straight into it, so memory stays bounded by that
/// one buffer whatever the chunk sizes. `S` may be a reference (`&PathSources`, `&[File]`)
/// or owned sources. It owns them, so it asks them again for the source it is copying on
/// each read, which the [`Sources`] contract makes cheap.
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
/// Reads fail with an `io::Error` around the [`Error`] that
/// [`reconstruct`](super::reconstruct) would return ([`Error::from_io`] finds it).
#[derive(Debug)]
pub struct Reconstructor<R, S> {
    stream: R,
    sources: S,
    buf: Box<[u8]>,
    rebuild: Rebuild,
    /// The rest of an inline piece that did not fit the caller's buffer.
    inline: Range<usize>,
    done: bool,
    /// An error met after a read had already filled part of the caller's buffer: it is
    /// returned by the next read.
    failed: Option<Error>,
}

impl<R: io::Read, S: Sources> Reconstructor<R, S> {
    /// Rebuilds from `stream` and `sources`, with a [`DEFAULT_BUFFER_LEN`] stream buffer.
    pub fn new(stream: R, sources: S) -> Reconstructor<R, S> {
        Reconstructor::with_capacity(DEFAULT_BUFFER_LEN, stream, sources)
    }

    /// Rebuilds with a stream buffer of `capacity` bytes (at least 8).
    pub fn with_capacity(capacity: usize, stream: R, sources: S) -> Reconstructor<R, S> {
        sources.rewind();
        let buf = vec![0; capacity.max(crate::MIN_BUFFER_LEN)].into_boxed_slice();
        Reconstructor {
            stream,
            sources,
            rebuild: Rebuild::new(Format::Splitfdstream, Limits::new(), buf.len()),
            buf,
            inline: 0..0,
            done: false,
            failed: None,
        }
    }

    /// Reads the stream as `format` (the first format by default); call it before the first
    /// read.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Reconstructor<R, S> {
        self.rebuild = Rebuild::new(format, Limits::new(), self.buf.len());
        self
    }

    /// Stream bytes decoded so far.
    pub fn stream_position(&self) -> u64 {
        self.rebuild.position()
    }

    /// The sources.
    pub fn sources(&self) -> &S {
        &self.sources
    }

    /// The stream and the sources.
    pub fn into_inner(self) -> (R, S) {
        (self.stream, self.sources)
    }

    /// Hands out inline bytes from `self.inline` into `out`.
    fn inline_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.inline.len().min(out.len());
        let piece = self
            .buf
            .get(self.inline.start..self.inline.start + n)
            .unwrap_or_default();
        out[..n].copy_from_slice(piece);
        self.inline.start += n;
        n
    }

    /// Hands out the next piece of the rebuilt bytes into `out`; 0 at the end, or when
    /// the stream must be read and `may_read_stream` is false.
    fn read_rebuilt(&mut self, out: &mut [u8], may_read_stream: bool) -> Result<usize, Error> {
        loop {
            if !self.inline.is_empty() {
                return Ok(self.inline_into(out));
            }
            if self.done {
                return Ok(0);
            }
            match self.rebuild.step(&self.buf, out.len())? {
                // Asked again on the next call: nothing was consumed.
                Step::ReadStream if !may_read_stream => return Ok(0),
                Step::ReadStream => {
                    let target = self.rebuild.refill_target(&mut self.buf);
                    let n =
                        read_retrying(&mut self.stream, target).map_err(|error| Error::Stream {
                            offset: self.rebuild.position(),
                            error,
                        })?;
                    self.rebuild.stream_read(n);
                }
                Step::WriteInline(range) => self.inline = range,
                Step::OpenSource(reference) => {
                    start_source(&mut self.rebuild, &self.sources, (&reference, &self.buf))?;
                }
                Step::ReadSource {
                    reference,
                    offset,
                    want,
                } => {
                    let at = self.rebuild.position();
                    let sources = &self.sources;
                    let mut held = None;
                    let source = hold(&mut held, sources, (&reference, &self.buf), at)?;
                    let target = out.get_mut(..want).unwrap_or_default();
                    let named = reference.get(&self.buf);
                    read_source(&mut self.rebuild, sources, (named, source), target, offset)?;
                }
                Step::WriteSource(n) => return Ok(n),
                Step::End { .. } => self.done = true,
            }
        }
    }
}

impl<R: io::Read, S: Sources> io::Read for Reconstructor<R, S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(error) = self.failed.take() {
            return Err(error.into());
        }
        // Fill the buffer across chunks (a tar header and a small file are a few hundred
        // bytes each, and a caller writes what each read returns), but never wait for more
        // stream once there is something to return.
        let mut filled = 0;
        while filled < out.len() {
            let rest = out.get_mut(filled..).unwrap_or_default();
            match self.read_rebuilt(rest, filled == 0) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(error) if filled > 0 => {
                    self.failed = Some(error);
                    break;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(filled)
    }
}
