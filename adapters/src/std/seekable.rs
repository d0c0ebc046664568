//! Random access to the rebuilt byte stream.

use ::std::io::{self, SeekFrom};
use ::std::vec;
use ::std::vec::Vec;

use splitfdstream::{FdIndex, Limits};

use super::error::Error;
use super::steps::{expected_len, Blame};
use super::{read_at_retrying, read_retrying, Sources, DEFAULT_BUFFER_LEN};
use crate::drive::{len_u64, Event, ExternalCopy, Feed, RefAt};
use crate::error::SourceError;
use crate::SourceRef;

/// Where one non-empty piece of the rebuilt stream comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// An inline body starting at this stream offset.
    Inline { stream_offset: u64 },
    /// An external source, from offset 0, referenced by the chunk that ends at this
    /// stream offset.
    External { index: FdIndex, stream_offset: u64 },
}

/// One chunk's place in the rebuilt stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    start: u64,
    len: u64,
    origin: Origin,
}

/// The rebuilt byte stream as `Read + Seek`, with [`read_at`](SeekableReconstructor::read_at).
///
/// Built in one pass over the stream that records where each chunk lands in the rebuilt
/// stream, using each source's size ([`Sources::source_size`]: the expected size, or the
/// source's own, found without opening files named by path); inline data is not copied but read back from the stream,
/// which must therefore be seekable. A read finds its chunk by binary search over chunk
/// start offsets, and may span any number of chunks. The index costs 32 bytes per chunk.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom};
/// use splitfdstream_adapters::std::{SeekableReconstructor, Writer};
///
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"0123")?;
/// writer.write_external(0)?;
/// writer.write_inline(b"89")?;
/// let stream = writer.finish()?;
///
/// let sources: [&[u8]; 1] = [b"4567"];
/// let mut rebuilt = SeekableReconstructor::new(std::io::Cursor::new(stream), &sources)?;
/// assert_eq!(rebuilt.len(), 10);
///
/// let mut buf = [0u8; 4];
/// rebuilt.read_at(&mut buf, 2)?; // across the inline/external boundary
/// assert_eq!(&buf, b"2345");
/// rebuilt.seek(SeekFrom::End(-3))?;
/// let mut tail = String::new();
/// rebuilt.read_to_string(&mut tail)?;
/// assert_eq!(tail, "789");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct SeekableReconstructor<R, S> {
    stream: R,
    sources: S,
    segments: Vec<Segment>,
    len: u64,
    position: u64,
    /// Where the stream's cursor is, to skip needless seeks.
    stream_cursor: Option<u64>,
    /// The source read last, and where in it that read ended.
    resume: Option<(FdIndex, u64)>,
}

impl<R: io::Read + io::Seek, S: Sources> SeekableReconstructor<R, S> {
    /// Indexes `stream` from its current position to its end.
    ///
    /// # Errors
    ///
    /// The errors of [`reconstruct`](super::reconstruct) for a malformed stream or a
    /// missing source, and [`Error::Source`] with [`SourceError::UnknownSize`] for a source
    /// whose size cannot be known up front (a pipe): give it an expected size.
    pub fn new(stream: R, sources: S) -> Result<SeekableReconstructor<R, S>, Error> {
        let mut stream = stream;
        let stream_error = |offset| move |error| Error::Stream { offset, error };
        let base = stream.stream_position().map_err(stream_error(0))?;
        let mut buf = vec![0; DEFAULT_BUFFER_LEN];
        let mut feed = Feed::new(Limits::new());
        sources.rewind();
        let mut segments = Vec::new();
        let mut len = 0u64;
        loop {
            match feed.poll(&buf)? {
                Event::Inline {
                    range,
                    offset,
                    remaining,
                } => {
                    if offset == 0 {
                        let body_start = feed.position() - len_u64(range.len());
                        let chunk_len = len_u64(range.len()) + remaining;
                        segments.push(Segment {
                            start: len,
                            len: chunk_len,
                            origin: Origin::Inline {
                                stream_offset: base.saturating_add(body_start),
                            },
                        });
                        len = checked_end(len, chunk_len)?;
                    }
                }
                // The first format names sources by index only.
                Event::External(RefAt::Named { .. }) => {}
                Event::External(RefAt::Index(index)) => {
                    let at = feed.position();
                    let reference = SourceRef::Index(index);
                    let blame = Blame::new(&sources, reference, at);
                    let size = sources.source_size(reference).map_err(|e| blame.io(e))?;
                    if size.is_none()
                        && sources
                            .source(reference)
                            .map_err(|e| blame.io(e))?
                            .is_none()
                    {
                        return Err(blame.check(SourceError::Missing { index: index.get() }));
                    }
                    let expected = expected_len(&sources, reference);
                    let copy = ExternalCopy::new(index.get(), size, expected)
                        .map_err(|e| blame.check(e))?;
                    let unknown = SourceError::UnknownSize { index: index.get() };
                    let size = copy.len().ok_or_else(|| blame.check(unknown))?;
                    if size > 0 {
                        segments.push(Segment {
                            start: len,
                            len: size,
                            origin: Origin::External {
                                index,
                                stream_offset: at,
                            },
                        });
                        len = checked_end(len, size)?;
                    }
                }
                Event::NeedInput => {
                    let target = feed.refill_target(&mut buf);
                    let n = read_retrying(&mut stream, target)
                        .map_err(stream_error(feed.position()))?;
                    feed.filled(n);
                }
                Event::End => break,
            }
        }
        segments.shrink_to_fit();
        Ok(SeekableReconstructor {
            stream,
            sources,
            segments,
            len,
            position: 0,
            stream_cursor: None,
            resume: None,
        })
    }

    /// Length of the rebuilt stream.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the rebuilt stream is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The stream and the sources.
    pub fn into_inner(self) -> (R, S) {
        (self.stream, self.sources)
    }

    /// Reads into `buf` from `offset` of the rebuilt stream, across chunk boundaries, until
    /// `buf` is full or the stream ends; returns the bytes read. Does not move the cursor
    /// used by `Read` and `Seek`.
    ///
    /// # Errors
    ///
    /// The I/O errors of the stream and the sources, and `InvalidData` with a
    /// [`SourceError`] when a source shrank or grew since indexing (or the stream was
    /// cut).
    pub fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut filled = 0;
        let mut position = offset;
        while filled < buf.len() && position < self.len {
            // The last segment starting at or before `position`; segments are contiguous.
            let at = self
                .segments
                .partition_point(|segment| segment.start <= position)
                .saturating_sub(1);
            let Some(&segment) = self.segments.get(at) else {
                break;
            };
            let within = position - segment.start;
            let room = buf.len() - filled;
            let want = usize::try_from(segment.len - within).map_or(room, |left| left.min(room));
            let target = &mut buf[filled..filled + want];
            let n = self.read_segment(&segment, target, within)?;
            filled += n;
            position += len_u64(n);
        }
        Ok(filled)
    }

    /// Fills `target` from `segment` at `within`; `target` does not go past its end.
    fn read_segment(
        &mut self,
        segment: &Segment,
        target: &mut [u8],
        within: u64,
    ) -> io::Result<usize> {
        let mut done = 0;
        while done < target.len() {
            let at = within + len_u64(done);
            let piece = &mut target[done..];
            let n = match segment.origin {
                Origin::Inline { stream_offset } => {
                    let want = stream_offset + at;
                    if self.stream_cursor != Some(want) {
                        self.stream.seek(SeekFrom::Start(want))?;
                    }
                    let n = read_retrying(&mut self.stream, piece);
                    self.stream_cursor = n.as_ref().ok().map(|&n| want + len_u64(n));
                    let n = n?;
                    if n == 0 {
                        let missing = segment.len - at;
                        let error = splitfdstream::DecodeError::Truncated { missing };
                        return Err(Error::from(error).into());
                    }
                    n
                }
                Origin::External {
                    index,
                    stream_offset,
                } => {
                    let sources = &self.sources;
                    let reference = SourceRef::Index(index);
                    // A read that goes on from where the last one ended asks for the same
                    // source again; any other is a new use (the file may have changed).
                    let source = if self.resume == Some((index, at)) {
                        sources.source_again(reference)
                    } else {
                        sources.source(reference)
                    };
                    let blame = Blame::new(sources, reference, stream_offset);
                    let source = source
                        .map_err(|e| blame.io(e))?
                        .ok_or_else(|| blame.missing())?;
                    let n = read_at_retrying(&source, piece, at).map_err(|e| blame.io(e))?;
                    self.resume = Some((index, at + len_u64(n)));
                    let end_reached = at + len_u64(n) == segment.len;
                    let check = |error| blame.check(error);
                    if n == 0 {
                        let expected = segment.len;
                        let index = index.get();
                        return Err(check(SourceError::Shrank {
                            index,
                            expected,
                            read: at,
                        })
                        .into());
                    }
                    if end_reached {
                        // The source must end where it ended when indexed.
                        let mut probe = [0u8; 1];
                        if read_at_retrying(&source, &mut probe, segment.len)
                            .map_err(|e| blame.io(e))?
                            > 0
                        {
                            let expected = segment.len;
                            return Err(check(SourceError::Grew {
                                index: index.get(),
                                expected,
                            })
                            .into());
                        }
                    }
                    n
                }
            };
            done += n;
        }
        Ok(done)
    }
}

fn checked_end(start: u64, len: u64) -> Result<u64, Error> {
    start.checked_add(len).ok_or_else(|| Error::Output {
        written: start,
        error: io::Error::new(
            io::ErrorKind::InvalidData,
            "rebuilt stream longer than 2^64 bytes",
        ),
    })
}

impl<R: io::Read + io::Seek, S: Sources> io::Read for SeekableReconstructor<R, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_at(buf, self.position)?;
        self.position += len_u64(n);
        Ok(n)
    }
}

impl<R: io::Read + io::Seek, S: Sources> io::Seek for SeekableReconstructor<R, S> {
    /// Seeking past the end is allowed (reads there return 0); before the start is
    /// `InvalidInput`.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let position = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = position.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        Ok(self.position)
    }
}
