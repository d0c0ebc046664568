//! The pull iterator over a complete in-memory update file.

use super::decoder::Event;
use super::error::DecodeError;
use super::header::{Header, SourceRange, HEADER_LEN, RANGE_LEN};
use super::limits::Limits;
use crate::chunk::{len_u64, Chunk};
use crate::chunks::Chunks;

#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase<'i> {
    Header,
    Ranges {
        count: u64,
        next: u64,
    },
    Stream {
        range_count: u64,
        stream_offset: u64,
        chunks: Chunks<'i>,
    },
    Done,
}

/// An iterator over the events of a complete update file held in memory (a buffer, a
/// memory map, memory-mapped flash): the header, each range record, then whole chunks.
///
/// Yields the same events as the push [`Decoder`](super::Decoder) fed the same bytes, with
/// inline chunks whole. If the file is cut short or breaks a rule, the iterator yields that
/// error once and then ends.
///
/// ```
/// use splitfdstream::update::{DecodeError, Event, Events, Header};
///
/// let file = Header { target_len: 0, target_sha256: [0; 32], range_count: 1 }.to_bytes();
/// let mut events = Events::new(&file);
/// assert!(matches!(events.next(), Some(Ok(Event::Header(h))) if h.range_count == 1));
/// // The header promised a range record that is not there.
/// assert_eq!(events.next(), Some(Err(DecodeError::Truncated { missing: 48, offset: 56 })));
/// assert!(events.next().is_none());
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Events<'i> {
    rest: &'i [u8],
    position: u64,
    phase: Phase<'i>,
    limits: Limits,
}

impl<'i> Events<'i> {
    /// Iterates over the events of `file`, with no limits beyond the format's own.
    pub const fn new(file: &'i [u8]) -> Events<'i> {
        Events::with_limits(file, Limits::new())
    }

    /// Iterates over the events of `file`, rejecting what exceeds `limits`.
    pub const fn with_limits(file: &'i [u8], limits: Limits) -> Events<'i> {
        Events {
            rest: file,
            position: 0,
            phase: Phase::Header,
            limits,
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((part, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(DecodeError::Truncated {
                missing: len_u64(N - self.rest.len()),
                offset: self.position,
            });
        };
        self.rest = rest;
        self.position += len_u64(N);
        Ok(*part)
    }

    fn after_ranges(&self, count: u64, next: u64) -> Phase<'i> {
        if next < count {
            Phase::Ranges { count, next }
        } else {
            Phase::Stream {
                range_count: count,
                stream_offset: self.position,
                chunks: Chunks::with_limits(self.rest, self.limits.stream()),
            }
        }
    }

    fn next_event(&mut self) -> Result<Option<Event<'i>>, DecodeError> {
        match &mut self.phase {
            Phase::Done => Ok(None),
            Phase::Header => {
                let header = Header::from_bytes(&self.take::<HEADER_LEN>()?)?;
                self.limits.check(&header)?;
                self.phase = self.after_ranges(header.range_count, 0);
                Ok(Some(Event::Header(header)))
            }
            &mut Phase::Ranges { count, next } => {
                let at = self.position;
                let range = SourceRange::from_bytes(&self.take::<RANGE_LEN>()?, next, at)?;
                self.phase = self.after_ranges(count, next + 1);
                Ok(Some(Event::Range { index: next, range }))
            }
            Phase::Stream {
                range_count,
                stream_offset,
                chunks,
            } => {
                let offset = *stream_offset + Chunks::position(chunks);
                let chunk = chunks
                    .next()
                    .transpose()
                    .map_err(|error| DecodeError::Stream {
                        error,
                        stream_offset: *stream_offset,
                    })?;
                if let Some(Chunk::External(index)) = chunk {
                    if index.get() >= *range_count {
                        return Err(DecodeError::UnknownRange {
                            index: index.get(),
                            range_count: *range_count,
                            offset,
                        });
                    }
                }
                Ok(chunk.map(Event::Chunk))
            }
        }
    }
}

impl<'i> Iterator for Events<'i> {
    type Item = Result<Event<'i>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_event() {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => {
                self.phase = Phase::Done;
                None
            }
            Err(error) => {
                self.phase = Phase::Done;
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for Events<'_> {}
