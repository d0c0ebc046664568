//! The stateful encoder that writes into caller buffers.

use crate::chunk::{len_u64, FdIndex};
use crate::error::EncodeError;
use crate::header::{Header, HEADER_LEN};

/// Writes a well-formed stream into caller-provided buffers.
///
/// The encoder remembers how many body bytes the current inline chunk still owes, so it
/// cannot emit a malformed stream: a new chunk cannot start, and [`finish`](Encoder::finish)
/// fails, while bytes are owed. Every method either writes completely or, on error, leaves
/// the output buffer and the encoder untouched. Empty inline writes are dropped (an empty
/// inline chunk cannot be expressed: prefix 0 is External(0)).
///
/// Body bytes can be copied by the encoder ([`inline_body`](Encoder::inline_body)) or
/// written by the caller straight to its sink and then accounted for with
/// [`advance_inline`](Encoder::advance_inline), so large bodies need no copy.
///
/// ```
/// use splitfdstream::{Chunk, Chunks, Encoder};
///
/// let mut encoder = Encoder::new();
/// let mut out = [0u8; 64];
/// let mut len = 0;
/// len += encoder.inline(b"hello", &mut out[len..])?;
/// len += encoder.external(7, &mut out[len..])?;
/// // A streamed inline chunk: declare 6 bytes, write them in two pieces.
/// len += encoder.begin_inline(6, &mut out[len..])?;
/// len += encoder.inline_body(b"wor", &mut out[len..])?;
/// assert!(encoder.finish().is_err()); // 3 bytes still owed
/// len += encoder.inline_body(b"ld!", &mut out[len..])?;
/// encoder.finish()?;
///
/// let chunks: Vec<_> = Chunks::new(&out[..len]).collect::<Result<_, _>>().unwrap();
/// assert_eq!(chunks.len(), 3);
/// assert!(matches!(chunks[2], Chunk::Inline(f) if f.data == b"world!"));
/// # Ok::<(), splitfdstream::EncodeError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encoder {
    owed: u64,
    position: u64,
}

impl Encoder {
    /// An encoder at the start of a stream.
    pub const fn new() -> Encoder {
        Encoder {
            owed: 0,
            position: 0,
        }
    }

    /// Body bytes the current inline chunk still owes.
    pub const fn owed(&self) -> u64 {
        self.owed
    }

    /// Stream bytes produced so far (headers and accounted body bytes).
    pub const fn position(&self) -> u64 {
        self.position
    }

    fn ready_for_header(&self) -> Result<(), EncodeError> {
        match self.owed {
            0 => Ok(()),
            remaining => Err(EncodeError::InlineOwed { remaining }),
        }
    }

    fn put(&mut self, header: &Header, out: &mut [u8]) -> Result<usize, EncodeError> {
        let Some(slot) = out.get_mut(..HEADER_LEN) else {
            return Err(EncodeError::InsufficientSize {
                required: HEADER_LEN,
            });
        };
        slot.copy_from_slice(header.as_bytes());
        self.position += len_u64(HEADER_LEN);
        Ok(HEADER_LEN)
    }

    /// Writes a reference to external source `index` and returns the bytes written (8).
    ///
    /// # Errors
    ///
    /// [`EncodeError::IndexTooLarge`] above `i64::MAX`, [`EncodeError::InlineOwed`] inside
    /// an inline chunk, [`EncodeError::InsufficientSize`] when `out` is shorter than 8.
    pub fn external(&mut self, index: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        let header = Header::external(index)?;
        self.ready_for_header()?;
        self.put(&header, out)
    }

    /// Writes a reference to `index`, like [`external`](Encoder::external).
    ///
    /// # Errors
    ///
    /// As [`external`](Encoder::external), except that the index is always in range.
    pub fn external_index(&mut self, index: FdIndex, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.ready_for_header()?;
        self.put(&Header::for_index(index), out)
    }

    /// Writes the prefix of an inline chunk of `len` bytes whose body follows through
    /// [`inline_body`](Encoder::inline_body) or [`advance_inline`](Encoder::advance_inline).
    /// `len == 0` writes nothing and returns 0.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineTooLarge`] above 2^63, [`EncodeError::InlineOwed`] inside an
    /// inline chunk, [`EncodeError::InsufficientSize`] when `out` is shorter than 8.
    pub fn begin_inline(&mut self, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.ready_for_header()?;
        if len == 0 {
            return Ok(0);
        }
        let written = self.put(&Header::inline(len)?, out)?;
        self.owed = len;
        Ok(written)
    }

    /// Copies a piece of the current inline chunk's body into `out`; returns its length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOverrun`] when `body` is longer than what the chunk still owes,
    /// [`EncodeError::InsufficientSize`] when `out` is shorter than `body`.
    pub fn inline_body(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.check_body(len_u64(body.len()))?;
        let Some(slot) = out.get_mut(..body.len()) else {
            return Err(EncodeError::InsufficientSize {
                required: body.len(),
            });
        };
        slot.copy_from_slice(body);
        self.owed -= len_u64(body.len());
        self.position += len_u64(body.len());
        Ok(body.len())
    }

    /// Records that the caller wrote `len` body bytes of the current inline chunk itself.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOverrun`] when `len` is more than the chunk still owes.
    pub fn advance_inline(&mut self, len: u64) -> Result<(), EncodeError> {
        self.check_body(len)?;
        self.owed -= len;
        self.position += len;
        Ok(())
    }

    fn check_body(&self, len: u64) -> Result<(), EncodeError> {
        if len > self.owed {
            Err(EncodeError::InlineOverrun {
                len,
                remaining: self.owed,
            })
        } else {
            Ok(())
        }
    }

    /// Writes a whole inline chunk, prefix and body, into `out`; returns the bytes written.
    /// An empty `body` writes nothing and returns 0.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] inside an inline chunk, [`EncodeError::InsufficientSize`]
    /// when `out` cannot hold the prefix and the body.
    pub fn inline(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.ready_for_header()?;
        if body.is_empty() {
            return Ok(0);
        }
        let required = HEADER_LEN.saturating_add(body.len());
        if out.len() < required {
            return Err(EncodeError::InsufficientSize { required });
        }
        let (head, tail) = out.split_at_mut(HEADER_LEN);
        self.begin_inline(len_u64(body.len()), head)?;
        self.inline_body(body, tail)?;
        Ok(required)
    }

    /// Checks that the stream may end here.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] while the current inline chunk owes body bytes.
    pub fn finish(&self) -> Result<(), EncodeError> {
        self.ready_for_header()
    }
}
