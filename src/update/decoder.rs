//! The resumable push decoder for update files.

use super::error::DecodeError;
use super::header::{Header, SourceRange, HEADER_LEN, RANGE_LEN};
use super::limits::Limits;
use crate::chunk::{len_u64, Chunk};
use crate::header::HEADER_LEN as PREFIX_LEN;

/// One decoded event of an update file, in file order: the header, each record of the
/// range table, then the chunks of the splitfdstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'i> {
    /// The header.
    Header(Header),
    /// Record `index` of the range table.
    Range {
        /// The record's index: external index `index` of the stream refers to it.
        index: u64,
        /// The record.
        range: SourceRange,
    },
    /// A chunk of the splitfdstream; an external index is always a record of the table.
    Chunk(Chunk<'i>),
}

/// Outcome of one [`Decoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step<'i> {
    /// Bytes of the input consumed by this call.
    pub consumed: usize,
    /// The event completed by this call, or `None` when all of the input was consumed
    /// without completing one.
    pub event: Option<Event<'i>>,
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Inside the header; `filled` of its bytes are held.
    Header,
    /// Inside the range table, before record `next` of `count`; `filled` of its bytes are
    /// held.
    Ranges { count: u64, next: u64 },
    /// Inside the splitfdstream.
    Stream {
        range_count: u64,
        stream_offset: u64,
        decoder: crate::Decoder,
    },
    /// A rule or limit was broken; the error repeats on every call.
    Failed(DecodeError),
}

/// A sans-IO push decoder for update files: feed it bytes in pieces of any size, get the
/// header, the range table record by record, and the stream's chunks back.
///
/// It holds at most one header's worth of bytes (56) and never the table: a device reads
/// records as they stream past, or looks one up by [`Header::range_offset`] when the stream
/// refers to it. Inline data is borrowed from the input, as in the first format's
/// [`Decoder`](crate::Decoder). Fed any split of the same bytes, it yields the same events.
///
/// ```
/// use splitfdstream::update::{Decoder, Encoder, Event, Header, SourceRange};
/// use splitfdstream::Chunk;
///
/// let mut file = [0u8; 256];
/// let mut encoder = Encoder::new();
/// let header = Header { target_len: 7, target_sha256: [0; 32], range_count: 1 };
/// let mut len = encoder.header(&header, &mut file)?;
/// let range = SourceRange { offset: 10, len: 4, sha256: [9; 32] };
/// len += encoder.range(&range, &mut file[len..])?;
/// len += encoder.inline(b"new", &mut file[len..])?;
/// len += encoder.external(0, &mut file[len..])?;
/// encoder.finish()?;
///
/// let mut decoder = Decoder::new();
/// let mut events = Vec::new();
/// for mut piece in file[..len].chunks(3) {
///     while !piece.is_empty() {
///         let step = decoder.decode(piece).unwrap();
///         events.extend(step.event.map(|event| format!("{event:?}")));
///         piece = &piece[step.consumed..];
///     }
/// }
/// decoder.finish().unwrap();
/// assert_eq!(events.len(), 1 + 1 + 2 + 1); // header, range, "new" in 2 fragments, external
/// # Ok::<(), splitfdstream::update::EncodeError>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoder {
    state: State,
    held: [u8; HEADER_LEN],
    filled: usize,
    limits: Limits,
    position: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with no limits beyond the format's own.
    pub const fn new() -> Decoder {
        Decoder::with_limits(Limits::new())
    }

    /// A decoder that rejects a header or chunk exceeding `limits` when it is read.
    pub const fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            state: State::Header,
            held: [0; HEADER_LEN],
            filled: 0,
            limits,
            position: 0,
        }
    }

    /// File bytes consumed so far.
    pub const fn position(&self) -> u64 {
        self.position
    }

    /// Whether the decoder is inside the stream, on a chunk boundary: where a device may
    /// take a checkpoint, and where the file may cleanly end.
    pub const fn is_at_chunk_boundary(&self) -> bool {
        match &self.state {
            State::Stream { decoder, .. } => decoder.is_at_boundary(),
            _ => false,
        }
    }

    /// Consumes input up to and including one event.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] for a bad magic or version, a header or chunk beyond the
    /// [`Limits`], a broken range record, a chunk that names a range the table does not
    /// have, or a malformed stream. The decoder then stays failed and returns the same
    /// error on every later call, including [`finish`](Decoder::finish). Truncation is
    /// reported by `finish` only.
    pub fn decode<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let result = self.decode_inner(input);
        if let Err(error) = result {
            self.state = State::Failed(error);
        }
        result
    }

    fn decode_inner<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        match self.state {
            State::Failed(error) => Err(error),
            State::Header => {
                let Some((taken, bytes)) = self.fill::<HEADER_LEN>(input) else {
                    return Ok(Step {
                        consumed: input.len(),
                        event: None,
                    });
                };
                let header = Header::from_bytes(&bytes)?;
                self.limits.check(&header)?;
                self.state = self.after_ranges(header.range_count, 0);
                Ok(Step {
                    consumed: taken,
                    event: Some(Event::Header(header)),
                })
            }
            State::Ranges { count, next } => {
                let record_offset = self.position - len_u64(self.filled);
                let Some((taken, bytes)) = self.fill::<RANGE_LEN>(input) else {
                    return Ok(Step {
                        consumed: input.len(),
                        event: None,
                    });
                };
                let range = SourceRange::from_bytes(&bytes, next, record_offset)?;
                self.state = self.after_ranges(count, next + 1);
                Ok(Step {
                    consumed: taken,
                    event: Some(Event::Range { index: next, range }),
                })
            }
            State::Stream { .. } => self.decode_stream(input),
        }
    }

    fn decode_stream<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let State::Stream {
            range_count,
            stream_offset,
            decoder,
        } = &mut self.state
        else {
            return Ok(Step {
                consumed: 0,
                event: None,
            });
        };
        let (range_count, stream_offset) = (*range_count, *stream_offset);
        let step = decoder.decode(input).map_err(|error| DecodeError::Stream {
            error,
            stream_offset,
        })?;
        self.position = stream_offset + decoder.position();
        if let Some(Chunk::External(index)) = step.chunk {
            if index.get() >= range_count {
                return Err(DecodeError::UnknownRange {
                    index: index.get(),
                    range_count,
                    offset: self.position - len_u64(PREFIX_LEN),
                });
            }
        }
        Ok(Step {
            consumed: step.consumed,
            event: step.chunk.map(Event::Chunk),
        })
    }

    /// The state after record `next` of `count`: another record, or the stream.
    fn after_ranges(&self, count: u64, next: u64) -> State {
        if next < count {
            State::Ranges { count, next }
        } else {
            State::Stream {
                range_count: count,
                stream_offset: self.position,
                decoder: crate::Decoder::with_limits(self.limits.stream()),
            }
        }
    }

    /// Takes bytes of a fixed-size part from `input`; once it is whole, returns how many
    /// bytes of `input` this call took and the part.
    fn fill<const N: usize>(&mut self, input: &[u8]) -> Option<(usize, [u8; N])> {
        let take = (N - self.filled).min(input.len());
        self.held[self.filled..self.filled + take].copy_from_slice(&input[..take]);
        self.filled += take;
        self.position += len_u64(take);
        if self.filled < N {
            return None;
        }
        self.filled = 0;
        let mut part = [0; N];
        part.copy_from_slice(&self.held[..N]);
        Some((take, part))
    }

    /// Checks that the file may end here: inside the stream, on a chunk boundary.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when the file ended inside the header or the range
    /// table, [`DecodeError::Stream`] when it ended inside a chunk, or the error that
    /// failed the decoder.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match &self.state {
            State::Failed(error) => Err(*error),
            State::Header => Err(DecodeError::Truncated {
                missing: len_u64(HEADER_LEN - self.filled),
                offset: 0,
            }),
            State::Ranges { .. } => Err(DecodeError::Truncated {
                missing: len_u64(RANGE_LEN - self.filled),
                offset: self.position - len_u64(self.filled),
            }),
            State::Stream {
                decoder,
                stream_offset,
                ..
            } => decoder.finish().map_err(|error| DecodeError::Stream {
                error,
                stream_offset: *stream_offset,
            }),
        }
    }
}
