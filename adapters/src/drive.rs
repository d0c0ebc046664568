//! Sans-IO driving logic shared by the blocking and async adapters.
//!
//! Every adapter is the same loop: refill a buffer, let the core [`Decoder`] turn it into
//! events, act on each event. What does not depend on how bytes are read or written lives
//! here ([`Feed`] for the buffer, [`ExternalCopy`] for where a source ends, [`Rebuild`] for
//! the whole reconstruction from `Read + Seek` sources), so that a blocking and an async
//! driver differ only in where they `.await`.

use core::ops::Range;

use splitfdstream::{Chunk, Decoder, FdIndex, InlineFragment, Limits};

use crate::error::SourceError;
use crate::format::{AnyDecoder, Format, Found, StreamDecoder, StreamError};
use crate::SourceRef;

/// Where in the stream buffer an external reference is: the first format's index, or the
/// successor's directory, name (a range of the buffer) and length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefAt {
    Index(FdIndex),
    Named {
        dir: u32,
        name: Range<usize>,
        len: u64,
    },
}

impl RefAt {
    /// The reference, its name borrowed from `buf` (the buffer it was decoded from).
    pub(crate) fn get<'b>(&self, buf: &'b [u8]) -> SourceRef<'b> {
        match self {
            RefAt::Index(index) => SourceRef::Index(*index),
            RefAt::Named { dir, name, len } => SourceRef::Named {
                dir: *dir,
                name: buf.get(name.clone()).unwrap_or_default(),
                len: *len,
            },
        }
    }

    /// The number that identifies the source in [`SourceError`]s.
    pub(crate) fn number(&self) -> u64 {
        match self {
            RefAt::Index(index) => index.get(),
            RefAt::Named { dir, .. } => u64::from(*dir),
        }
    }
}

/// What the driver must do next, as found by [`Feed::poll`].
///
/// Inline data and names are described by ranges of the buffer rather than borrowed from
/// it, so the driver can refill the buffer in the same loop that polls it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// An inline fragment held in `buf[range]`.
    Inline {
        range: Range<usize>,
        offset: u64,
        remaining: u64,
    },
    /// A reference to an external source.
    External(RefAt),
    /// Read more into [`Feed::refill_target`], then call [`Feed::filled`].
    NeedInput,
    /// The stream ended cleanly on a chunk boundary.
    End,
}

impl Event {
    /// The first format's chunk this event describes, borrowing inline data from `buf`.
    pub(crate) fn chunk(self, buf: &[u8]) -> Option<Chunk<'_>> {
        match self {
            Event::Inline {
                range,
                offset,
                remaining,
            } => Some(Chunk::Inline(InlineFragment {
                data: buf.get(range).unwrap_or_default(),
                offset,
                remaining,
            })),
            Event::External(RefAt::Index(index)) => Some(Chunk::External(index)),
            Event::External(RefAt::Named { .. }) | Event::NeedInput | Event::End => None,
        }
    }
}

/// Buffer bookkeeping around a format's decoder: which part of the caller's buffer holds
/// undecoded stream bytes, and whether the input has ended.
///
/// The first format's decoder keeps a partial prefix itself, so the whole buffer is free
/// again whenever input is needed. The successor's needs a whole name in one piece: what
/// it left is moved to the front of the buffer and the read appends to it.
#[derive(Clone, Debug)]
pub(crate) struct Feed<D = Decoder> {
    decoder: D,
    start: usize,
    end: usize,
    ended: bool,
}

impl Feed<Decoder> {
    pub(crate) const fn new(limits: Limits) -> Feed<Decoder> {
        Feed::with_decoder(Decoder::with_limits(limits))
    }
}

impl Feed<AnyDecoder> {
    /// A feed of `format` for a stream buffer of `buffer` bytes.
    pub(crate) fn of(format: Format, limits: Limits, buffer: usize) -> Feed<AnyDecoder> {
        Feed::with_decoder(AnyDecoder::new(format, limits, buffer))
    }
}

impl<D: StreamDecoder> Feed<D> {
    const fn with_decoder(decoder: D) -> Feed<D> {
        Feed {
            decoder,
            start: 0,
            end: 0,
            ended: false,
        }
    }

    /// Decodes the next event from `buf`, the buffer last refilled.
    pub(crate) fn poll(&mut self, buf: &[u8]) -> Result<Event, D::Error> {
        while let Some(input) = buf.get(self.start..self.end).filter(|i| !i.is_empty()) {
            let (consumed, found) = self.decoder.next(input)?;
            let to = self.start + consumed;
            self.start = to;
            match found {
                Found::Inline {
                    len,
                    offset,
                    remaining,
                } => {
                    return Ok(Event::Inline {
                        range: to - len..to,
                        offset,
                        remaining,
                    })
                }
                Found::Index(index) => return Ok(Event::External(RefAt::Index(index))),
                Found::Named { dir, name_len, len } => {
                    let name = to - name_len..to;
                    return Ok(Event::External(RefAt::Named { dir, name, len }));
                }
                Found::Partial => {}
                // The decoder caps names so that this many bytes fit the buffer.
                Found::NeedMore(_) => break,
            }
        }
        if self.ended {
            self.decoder.finish()?;
            return Ok(Event::End);
        }
        Ok(Event::NeedInput)
    }

    /// The part of `buf` to read stream bytes into: all of it but what the decoder left
    /// undecoded, which moves to the front.
    pub(crate) fn refill_target<'b>(&mut self, buf: &'b mut [u8]) -> &'b mut [u8] {
        let left = self.end - self.start;
        if left > 0 {
            buf.copy_within(self.start..self.end, 0);
        }
        self.start = 0;
        self.end = left;
        buf.get_mut(left..).unwrap_or_default()
    }

    /// Records that a read into [`refill_target`](Feed::refill_target) returned `n` bytes;
    /// 0 means the input ended.
    pub(crate) fn filled(&mut self, n: usize) {
        if n == 0 {
            self.ended = true;
        } else {
            self.end += n;
        }
    }

    /// Stream bytes decoded so far.
    pub(crate) fn position(&self) -> u64 {
        self.decoder.position()
    }

    /// Whether the decoder sits between two chunks.
    pub(crate) fn is_at_boundary(&self) -> bool {
        self.decoder.is_at_boundary()
    }
}

/// Outcome of one read of an external source, as judged by [`ExternalCopy::advance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Pass the bytes on and keep reading.
    More,
    /// Pass the bytes on (if any): the source is complete and of the right size.
    Done,
}

/// The bookkeeping of copying one external source from offset 0 to its end: positional
/// offset, size checks, and shrink or growth detection.
///
/// Every driver judges each read through [`advance_read`](ExternalCopy::advance_read), so
/// the rules for where a source ends are the same everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExternalCopy {
    index: u64,
    len: Option<u64>,
    /// Whether `len` is the source's own size (not only what the caller expects): only
    /// then may a short read that lands on it end the copy.
    len_from_source: bool,
    copied: u64,
}

impl ExternalCopy {
    /// Starts copying source `index`, whose size is `size` when discoverable, which the
    /// caller may `expect` to have a given size.
    pub(crate) fn new(
        index: u64,
        size: Option<u64>,
        expected: Option<u64>,
    ) -> Result<ExternalCopy, SourceError> {
        let len = match (size, expected) {
            (Some(actual), Some(expected)) if actual != expected => {
                return Err(SourceError::SizeMismatch {
                    index,
                    expected,
                    actual,
                })
            }
            (Some(len), _) | (None, Some(len)) => Some(len),
            (None, None) => None,
        };
        Ok(ExternalCopy {
            index,
            len,
            len_from_source: size.is_some(),
            copied: 0,
        })
    }

    /// The source offset of the next read.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) const fn offset(&self) -> u64 {
        self.copied
    }

    /// The size the copy must reach, when known.
    #[cfg_attr(not(feature = "fd"), allow(dead_code))]
    pub(crate) const fn len(&self) -> Option<u64> {
        self.len
    }

    /// How many bytes to ask for next, given `room` bytes of buffer: at most one more than
    /// the known size still owes, so that a source that grew shows up without being copied.
    pub(crate) fn want(&self, room: usize) -> usize {
        match self.len {
            Some(len) => {
                let owed_plus_one = (len - self.copied).saturating_add(1);
                usize::try_from(owed_plus_one).map_or(room, |owed| owed.min(room))
            }
            None => room,
        }
    }

    /// Records that a read returned `n` bytes, whatever was asked: a read that did not
    /// ask for more than it got, so [`Progress::Done`] comes only with a read of 0.
    #[cfg_attr(not(all(feature = "fd", unix)), allow(dead_code))]
    pub(crate) fn advance(&mut self, n: usize) -> Result<Progress, SourceError> {
        self.advance_read(n, n)
    }

    /// Records that a read asked for `asked` bytes and returned `n`. On success the `n`
    /// bytes are passed on (with [`Progress::Done`] too); on error they must not be.
    ///
    /// A read of 0 is the source's end. A short read that lands exactly on the source's
    /// own size is taken as the end too (a positional read of a regular file returns less
    /// than asked only at its end), which saves one read per source. A length known only
    /// from what the caller expects proves nothing about the source, so there the end is
    /// confirmed by a read of 0, and a source that holds more is [`SourceError::Grew`].
    pub(crate) fn advance_read(&mut self, n: usize, asked: usize) -> Result<Progress, SourceError> {
        if n == 0 {
            return match self.len {
                Some(expected) if self.copied < expected => Err(SourceError::Shrank {
                    index: self.index,
                    expected,
                    read: self.copied,
                }),
                _ => Ok(Progress::Done),
            };
        }
        let copied = self.copied.saturating_add(len_u64(n));
        if let Some(expected) = self.len.filter(|&len| copied > len) {
            return Err(SourceError::Grew {
                index: self.index,
                expected,
            });
        }
        self.copied = copied;
        if n < asked && self.len_from_source && self.len == Some(copied) {
            return Ok(Progress::Done);
        }
        Ok(Progress::More)
    }
}

/// What a reconstructing driver must do next, as decided by [`Rebuild::step`].
///
/// The driver only performs the I/O asked for and reports its outcome; every decision (what
/// to read or write next, where a source ends, what is an error) is [`Rebuild`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Read stream bytes into [`Rebuild::refill_target`], then call [`Rebuild::stream_read`].
    ReadStream,
    /// Write `stream_buf[range]`, inline data.
    WriteInline(Range<usize>),
    /// Find the source the reference names and its size, then call
    /// [`Rebuild::source_opened`]; asked again until then (a driver may put it off, to do
    /// it where it may block).
    OpenSource(RefAt),
    /// Read the source from `offset` (where its last read ended) into a buffer of `want`
    /// bytes, then call [`Rebuild::source_read`].
    ReadSource {
        reference: RefAt,
        offset: u64,
        want: usize,
    },
    /// Pass on the `len` bytes just read from the source.
    WriteSource(usize),
    /// The stream ended cleanly after `total` rebuilt bytes: flush the output.
    End { total: u64 },
}

/// The sans-IO reconstruction of a stream: the one copy loop of every driver but the
/// descriptor one (which keeps kernel copies of its own and shares [`ExternalCopy`]).
///
/// Blocking and async, positional (`ReadAt`) and sequential (`Read + Seek`) sources alike:
/// the driver performs the I/O each [`Step`] asks for, into buffers of its choosing, and
/// reports the outcome.
#[derive(Clone, Debug)]
pub(crate) struct Rebuild {
    feed: Feed<AnyDecoder>,
    /// The source to open next.
    opening: Option<RefAt>,
    /// The source being copied.
    copy: Option<(RefAt, ExternalCopy)>,
    /// Bytes read from the source and not yet handed out for writing.
    unwritten: usize,
    total: u64,
}

impl Rebuild {
    /// A reconstruction of a stream of the first format, whatever the buffers.
    pub(crate) fn first_format(limits: Limits) -> Rebuild {
        Rebuild::new(Format::Splitfdstream, limits, usize::MAX)
    }

    /// A reconstruction of a stream of `format` through a stream buffer of `buffer` bytes.
    pub(crate) fn new(format: Format, limits: Limits, buffer: usize) -> Rebuild {
        Rebuild {
            feed: Feed::of(format, limits, buffer),
            opening: None,
            copy: None,
            unwritten: 0,
            total: 0,
        }
    }

    /// The next thing to do, given the stream buffer last refilled and `room`, the most
    /// bytes the driver can take from a source now.
    pub(crate) fn step(&mut self, stream_buf: &[u8], room: usize) -> Result<Step, StreamError> {
        if self.unwritten > 0 {
            return Ok(Step::WriteSource(core::mem::take(&mut self.unwritten)));
        }
        if let Some((reference, copy)) = &self.copy {
            return Ok(Step::ReadSource {
                reference: reference.clone(),
                offset: copy.offset(),
                want: copy.want(room),
            });
        }
        if let Some(reference) = &self.opening {
            return Ok(Step::OpenSource(reference.clone()));
        }
        Ok(match self.feed.poll(stream_buf)? {
            Event::Inline { range, .. } => {
                self.total = self.total.saturating_add(len_u64(range.len()));
                Step::WriteInline(range)
            }
            Event::External(reference) => {
                self.opening = Some(reference.clone());
                Step::OpenSource(reference)
            }
            Event::NeedInput => Step::ReadStream,
            Event::End => Step::End { total: self.total },
        })
    }

    /// What a source still owes, plus one, capped at `room` (see [`ExternalCopy::want`]),
    /// while one is being copied: a driver that stages output uses it to make room first.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn source_want(&self, room: usize) -> Option<usize> {
        self.copy.as_ref().map(|(_, copy)| copy.want(room))
    }

    /// The part of the stream buffer to read into for [`Step::ReadStream`].
    pub(crate) fn refill_target<'b>(&mut self, stream_buf: &'b mut [u8]) -> &'b mut [u8] {
        self.feed.refill_target(stream_buf)
    }

    /// Records that the read of [`Step::ReadStream`] returned `n` bytes (0: the end).
    pub(crate) fn stream_read(&mut self, n: usize) {
        self.feed.filled(n);
    }

    /// Stream bytes decoded so far.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn position(&self) -> u64 {
        self.feed.position()
    }

    /// Whether the reconstruction sits between two chunks: nothing read and unwritten, no
    /// source open, and the decoder on a chunk boundary.
    pub(crate) fn at_chunk_boundary(&self) -> bool {
        self.unwritten == 0
            && self.copy.is_none()
            && self.opening.is_none()
            && self.feed.is_at_boundary()
    }

    /// Rebuilt bytes handed out so far.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) const fn total(&self) -> u64 {
        self.total
    }

    /// Starts copying the source for [`Step::OpenSource`]: its own size, when known, and
    /// the size it must have (the caller's expectation, or the reference's own), if any.
    pub(crate) fn source_opened(
        &mut self,
        size: Option<u64>,
        expected: Option<u64>,
    ) -> Result<(), SourceError> {
        let Some(reference) = self.opening.take() else {
            return Ok(());
        };
        let copy = ExternalCopy::new(reference.number(), size, expected)?;
        self.copy = Some((reference, copy));
        Ok(())
    }

    /// Records that the read of [`Step::ReadSource`] asked for `want` bytes and returned
    /// `n`; they are handed out next (never when this fails).
    pub(crate) fn source_read(&mut self, n: usize, want: usize) -> Result<(), SourceError> {
        let Some((_, copy)) = &mut self.copy else {
            return Ok(());
        };
        if copy.advance_read(n, want)? == Progress::Done {
            self.copy = None;
        }
        self.unwritten = n;
        self.total = self.total.saturating_add(len_u64(n));
        Ok(())
    }
}

/// An output staging buffer that batches small pieces (tar headers, small files) into one
/// write, while large pieces bypass it. Used by the drivers that own an output buffer.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Staging {
    len: usize,
}

#[cfg_attr(not(feature = "std"), allow(dead_code))]
impl Staging {
    pub(crate) const fn new() -> Staging {
        Staging { len: 0 }
    }

    /// Bytes staged in `buf[..len]`.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Whether a piece of `len` bytes should be copied into a staging buffer of `cap`
    /// bytes rather than written directly.
    pub(crate) const fn should_stage(len: usize, cap: usize) -> bool {
        len < cap / 2
    }

    /// Whether `len` more bytes fit after what is staged in a buffer of `cap` bytes.
    pub(crate) const fn fits(&self, len: usize, cap: usize) -> bool {
        cap - self.len >= len
    }

    /// The free part of the staging buffer.
    pub(crate) fn spare<'b>(&self, buf: &'b mut [u8]) -> &'b mut [u8] {
        buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Records `n` bytes written into [`spare`](Staging::spare).
    pub(crate) fn commit(&mut self, n: usize) {
        self.len += n;
    }

    /// Copies `piece` in; the caller checked that it [`fits`](Staging::fits).
    pub(crate) fn push(&mut self, buf: &mut [u8], piece: &[u8]) {
        if let Some(slot) = buf.get_mut(self.len..self.len + piece.len()) {
            slot.copy_from_slice(piece);
            self.len += piece.len();
        }
    }

    /// Records that the staged bytes were written out.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

/// A slice length as `u64`; lossless on every target Rust supports.
#[inline]
pub(crate) fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}
