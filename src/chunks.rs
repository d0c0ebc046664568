//! The pull iterator over a complete in-memory stream.

use crate::chunk::{len_u64, Chunk, InlineFragment};
use crate::error::DecodeError;
use crate::header::{Header, HeaderKind, HEADER_LEN};
use crate::limits::Limits;

/// An iterator over the chunks of a complete stream held in memory (a buffer, a memory
/// map), yielding whole chunks borrowed from it.
///
/// Every inline chunk comes as one fragment with `offset == 0` and `remaining == 0`. If the
/// stream ends inside a chunk, or a chunk exceeds the [`Limits`], the iterator yields that
/// error once and then ends.
///
/// ```
/// use splitfdstream::{Chunk, Chunks, DecodeError};
///
/// let stream = [
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// let mut chunks = Chunks::new(&stream);
/// match chunks.next() {
///     Some(Ok(Chunk::Inline(fragment))) => assert_eq!(fragment.data, b"hello"),
///     other => panic!("unexpected {other:?}"),
/// }
/// match chunks.next() {
///     Some(Ok(Chunk::External(index))) => assert_eq!(index.get(), 7),
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(chunks.next().is_none());
///
/// // Cut inside the second prefix: an error, not a clean end.
/// let mut chunks = Chunks::new(&stream[..16]);
/// assert!(chunks.next().unwrap().is_ok());
/// assert_eq!(chunks.next(), Some(Err(DecodeError::Truncated { missing: 5 })));
/// assert!(chunks.next().is_none());
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chunks<'i> {
    rest: &'i [u8],
    position: u64,
    limits: Limits,
}

impl<'i> Chunks<'i> {
    /// Iterates over the chunks of `stream`, with no limits.
    pub const fn new(stream: &'i [u8]) -> Chunks<'i> {
        Chunks::with_limits(stream, Limits::new())
    }

    /// Iterates over the chunks of `stream`, rejecting chunks that exceed `limits`.
    pub const fn with_limits(stream: &'i [u8], limits: Limits) -> Chunks<'i> {
        Chunks {
            rest: stream,
            position: 0,
            limits,
        }
    }

    /// Stream offset of the next chunk (after an error: of the chunk that failed).
    pub const fn position(&self) -> u64 {
        self.position
    }

    /// The bytes not yet decoded.
    pub const fn remainder(&self) -> &'i [u8] {
        self.rest
    }

    #[inline]
    fn fail(&mut self, error: DecodeError) -> Option<Result<Chunk<'i>, DecodeError>> {
        self.rest = &[];
        Some(Err(error))
    }
}

impl<'i> Iterator for Chunks<'i> {
    type Item = Result<Chunk<'i>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let Some((prefix, body)) = self.rest.split_first_chunk::<HEADER_LEN>() else {
            if self.rest.is_empty() {
                return None;
            }
            let missing = len_u64(HEADER_LEN - self.rest.len());
            return self.fail(DecodeError::Truncated { missing });
        };
        match Header::from_bytes(*prefix).kind() {
            HeaderKind::External(index) => {
                if index.get() > self.limits.max_index {
                    return self.fail(DecodeError::IndexTooLarge {
                        index: index.get(),
                        max: self.limits.max_index,
                        offset: self.position,
                    });
                }
                self.rest = body;
                self.position += len_u64(HEADER_LEN);
                Some(Ok(Chunk::External(index)))
            }
            HeaderKind::Inline { len } => {
                if len > self.limits.max_inline {
                    return self.fail(DecodeError::InlineTooLarge {
                        len,
                        max: self.limits.max_inline,
                        offset: self.position,
                    });
                }
                let available = len_u64(body.len());
                let Some(take) = usize::try_from(len).ok().filter(|&take| take <= body.len())
                else {
                    return self.fail(DecodeError::Truncated {
                        missing: len - available,
                    });
                };
                let (data, rest) = body.split_at(take);
                self.rest = rest;
                self.position += len_u64(HEADER_LEN) + len;
                Some(Ok(Chunk::Inline(InlineFragment {
                    data,
                    offset: 0,
                    remaining: 0,
                })))
            }
        }
    }
}

impl core::iter::FusedIterator for Chunks<'_> {}
