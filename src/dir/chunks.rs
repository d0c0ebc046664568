//! The pull iterator over a complete in-memory splitdirfdstream.

use super::chunk::{Chunk, ChunkKind, FileBacked, BODY_HEADER_LEN, FILE_HEADER_LEN};
use super::error::DecodeError;
use super::header::{body_len, file_header, kind_of};
use super::limits::Limits;
use super::name::check_bytes;
use crate::chunk::{len_u64, InlineFragment};

/// An iterator over the chunks of a complete splitdirfdstream held in memory (a buffer, a
/// memory map), yielding whole chunks borrowed from it.
///
/// Every Metadata and InlineData chunk comes as one fragment with `offset == 0` and
/// `remaining == 0`. If the stream ends inside a chunk, or a chunk breaks a rule or the
/// [`Limits`], the iterator yields that error once and then ends.
///
/// ```
/// use splitfdstream::dir::{Chunk, Chunks, DecodeError};
///
/// // InlineData "hi", then an empty InlineData chunk (an empty file).
/// let stream = [1, 2, 0, 0, 0, b'h', b'i', 1, 0, 0, 0, 0];
/// let mut chunks = Chunks::new(&stream);
/// match chunks.next() {
///     Some(Ok(Chunk::InlineData(fragment))) => assert_eq!(fragment.data, b"hi"),
///     other => panic!("unexpected {other:?}"),
/// }
/// match chunks.next() {
///     Some(Ok(Chunk::InlineData(fragment))) => assert!(fragment.data.is_empty()),
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(chunks.next().is_none());
///
/// // Cut inside the second header: an error, not a clean end.
/// let mut chunks = Chunks::new(&stream[..9]);
/// assert!(chunks.next().unwrap().is_ok());
/// assert_eq!(chunks.next(), Some(Err(DecodeError::Truncated { missing: 3, offset: 7 })));
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
    /// Iterates over the chunks of `stream`, with no limits beyond the format's own.
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

    #[inline(always)]
    fn next_chunk(&mut self) -> Result<Option<Chunk<'i>>, DecodeError> {
        let Some(&type_byte) = self.rest.first() else {
            return Ok(None);
        };
        let offset = self.position;
        let kind = kind_of(type_byte, offset)?;
        if kind == ChunkKind::FileBackedData {
            let Some((header, rest)) = self.rest.split_first_chunk::<FILE_HEADER_LEN>() else {
                return Err(self.cut(FILE_HEADER_LEN, self.rest.len()));
            };
            let file = file_header(header, &self.limits, offset)?;
            let Some(name) = rest.get(..file.name_len) else {
                return Err(self.cut(file.name_len, rest.len()));
            };
            check_bytes(name).map_err(|error| DecodeError::Name { error, offset })?;
            self.rest = &rest[file.name_len..];
            self.position += len_u64(FILE_HEADER_LEN + file.name_len);
            return Ok(Some(Chunk::FileBackedData(FileBacked {
                content_len: file.content_len,
                dir_index: file.dir_index,
                name,
            })));
        }
        let Some((header, rest)) = self.rest.split_first_chunk::<BODY_HEADER_LEN>() else {
            return Err(self.cut(BODY_HEADER_LEN, self.rest.len()));
        };
        let len = body_len(header, &self.limits, offset)?;
        // A body that does not fit a usize is longer than any slice.
        let Some(take) = usize::try_from(len).ok().filter(|&take| take <= rest.len()) else {
            return Err(DecodeError::Truncated {
                missing: len - len_u64(rest.len()),
                offset,
            });
        };
        let (data, rest) = rest.split_at(take);
        self.rest = rest;
        self.position += len_u64(BODY_HEADER_LEN) + len;
        let fragment = InlineFragment {
            data,
            offset: 0,
            remaining: 0,
        };
        Ok(Some(if kind == ChunkKind::Metadata {
            Chunk::Metadata(fragment)
        } else {
            Chunk::InlineData(fragment)
        }))
    }

    fn cut(&self, needed: usize, available: usize) -> DecodeError {
        DecodeError::Truncated {
            missing: len_u64(needed - available),
            offset: self.position,
        }
    }
}

impl<'i> Iterator for Chunks<'i> {
    type Item = Result<Chunk<'i>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_chunk() {
            Ok(chunk) => chunk.map(Ok),
            Err(error) => self.fail(error),
        }
    }
}

impl core::iter::FusedIterator for Chunks<'_> {}
