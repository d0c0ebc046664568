//! Reconstruction of the original byte stream into a writer.

use ::std::boxed::Box;
use ::std::io;
use ::std::vec;

use splitfdstream::Limits;

use super::error::Error;
use super::steps::{hold, output, read_source, start_source};
use super::{read_retrying, write_all, Sources, DEFAULT_BUFFER_LEN};
use crate::drive::{Rebuild, Staging, Step};
use crate::Format;

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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// An [`Error`] that says what failed: [`Error::Decode`] for a malformed or truncated
/// stream, [`Error::Source`] for a source that is missing, cannot be opened or read, or
/// whose size differs from the expected one or changes while being read,
/// [`Error::Stream`] and [`Error::Output`] for the reader and the writer.
///
/// On error, part of the output may have been written: write to a temporary file and
/// rename it on success when that matters.
pub fn reconstruct<R, S, W>(stream: R, sources: &S, out: W) -> Result<u64, Error>
where
    R: io::Read,
    S: Sources + ?Sized,
    W: io::Write,
{
    reconstruct_as(Format::Splitfdstream, stream, sources, out)
}

/// [`reconstruct`] for a stream of either [`Format`]: the successor's references are
/// [`SourceRef::Named`](crate::SourceRef::Named), which the sources resolve.
///
/// # Errors
///
/// As [`reconstruct`].
pub fn reconstruct_as<R, S, W>(format: Format, stream: R, sources: &S, out: W) -> Result<u64, Error>
where
    R: io::Read,
    S: Sources + ?Sized,
    W: io::Write,
{
    let mut stream = stream;
    let mut out = out;
    let mut buf = vec![0; DEFAULT_BUFFER_LEN].into_boxed_slice();
    let mut rebuild = Rebuild::new(format, Limits::new(), buf.len());
    sources.rewind();
    let mut stage = Stage::new(STAGING_LEN);
    let mut source = None;
    loop {
        // Source bytes are read straight into the staging buffer: make room for what the
        // source still owes, up to the whole buffer.
        let cap = stage.buf.len();
        if rebuild
            .source_want(cap)
            .is_some_and(|want| stage.room() < want)
        {
            stage.flush(&mut out).map_err(output(rebuild.total()))?;
        }
        match rebuild.step(&buf, stage.room())? {
            Step::ReadStream => {
                let target = rebuild.refill_target(&mut buf);
                let n = read_retrying(&mut stream, target).map_err(|error| Error::Stream {
                    offset: rebuild.position(),
                    error,
                })?;
                rebuild.stream_read(n);
            }
            Step::WriteInline(range) => {
                let bytes = buf.get(range).unwrap_or_default();
                stage
                    .put(&mut out, bytes)
                    .map_err(output(rebuild.total()))?;
            }
            Step::OpenSource(reference) => {
                let opened = start_source(&mut rebuild, sources, (&reference, &buf))?;
                source = Some((reference, opened));
            }
            Step::ReadSource {
                reference,
                offset,
                want,
            } => {
                let open = hold(&mut source, sources, (&reference, &buf), rebuild.position())?;
                let target = stage.spare().get_mut(..want).unwrap_or_default();
                let named = reference.get(&buf);
                read_source(&mut rebuild, sources, (named, open), target, offset)?;
            }
            Step::WriteSource(n) => stage.staging.commit(n),
            Step::End { total } => {
                stage.flush(&mut out).map_err(output(total))?;
                out.flush().map_err(output(total))?;
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

    fn room(&self) -> usize {
        self.buf.len() - self.staging.len()
    }

    fn spare(&mut self) -> &mut [u8] {
        self.staging.spare(&mut self.buf)
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
}
