//! The stateful encoder of update files into caller buffers.

use super::error::{DecodeError, EncodeError, Part};
use super::header::{Header, SourceRange, HEADER_LEN, RANGE_LEN};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    Header,
    Ranges { count: u64, written: u64 },
    Stream { range_count: u64 },
}

/// Writes a well-formed update file into caller-provided buffers: the header, every range
/// record it announced, then the stream, whose external chunks must name records of the
/// table.
///
/// Every method either writes completely or, on error, leaves the output buffer and the
/// encoder untouched. The stream part is the first format's [`Encoder`](crate::Encoder),
/// with the same streamed inline bodies.
///
/// ```
/// use splitfdstream::update::{EncodeError, Encoder, Header, Part, SourceRange};
///
/// let mut out = [0u8; 256];
/// let mut encoder = Encoder::new();
/// let header = Header { target_len: 9, target_sha256: [0; 32], range_count: 1 };
/// let mut len = encoder.header(&header, &mut out)?;
/// assert_eq!(
///     encoder.inline(b"x", &mut out[len..]),
///     Err(EncodeError::OutOfOrder { expected: Part::Range })
/// );
/// len += encoder.range(&SourceRange { offset: 0, len: 4, sha256: [0; 32] }, &mut out[len..])?;
/// assert_eq!(
///     encoder.external(1, &mut out[len..]),
///     Err(EncodeError::UnknownRange { index: 1, range_count: 1 })
/// );
/// len += encoder.external(0, &mut out[len..])?;
/// len += encoder.inline(b"tail!", &mut out[len..])?;
/// encoder.finish()?;
/// assert_eq!(len, 56 + 48 + 8 + 8 + 5);
/// # Ok::<(), EncodeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encoder {
    state: State,
    stream: crate::Encoder,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder at the start of a file.
    pub const fn new() -> Encoder {
        Encoder {
            state: State::Header,
            stream: crate::Encoder::new(),
        }
    }

    /// The part expected next.
    pub const fn expects(&self) -> Part {
        match self.state {
            State::Header => Part::Header,
            State::Ranges { .. } => Part::Range,
            State::Stream { .. } => Part::Stream,
        }
    }

    /// The stream's encoder state: body bytes owed, stream bytes written.
    pub const fn stream(&self) -> &crate::Encoder {
        &self.stream
    }

    fn out_of_order(&self) -> EncodeError {
        EncodeError::OutOfOrder {
            expected: self.expects(),
        }
    }

    /// Writes the header; returns the bytes written ([`HEADER_LEN`]).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] after the header, [`EncodeError::Range`] when the table
    /// would end beyond `u64::MAX`, [`EncodeError::InsufficientSize`].
    pub fn header(&mut self, header: &Header, out: &mut [u8]) -> Result<usize, EncodeError> {
        if self.state != State::Header {
            return Err(self.out_of_order());
        }
        if header.stream_offset().is_none() {
            return Err(EncodeError::Range(DecodeError::TooManyRanges {
                count: header.range_count,
                max: super::header::MAX_RANGES,
            }));
        }
        put(out, &header.to_bytes())?;
        self.state = if header.range_count == 0 {
            State::Stream { range_count: 0 }
        } else {
            State::Ranges {
                count: header.range_count,
                written: 0,
            }
        };
        Ok(HEADER_LEN)
    }

    /// Writes the next record of the range table; returns the bytes written
    /// ([`RANGE_LEN`]).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] before the header or once the table is complete,
    /// [`EncodeError::Range`] for an empty range or one that ends beyond `u64::MAX`,
    /// [`EncodeError::InsufficientSize`].
    pub fn range(&mut self, range: &SourceRange, out: &mut [u8]) -> Result<usize, EncodeError> {
        let State::Ranges { count, written } = self.state else {
            return Err(self.out_of_order());
        };
        range.check(written, 0).map_err(EncodeError::Range)?;
        put(out, &range.to_bytes())?;
        self.state = if written + 1 == count {
            State::Stream { range_count: count }
        } else {
            State::Ranges {
                count,
                written: written + 1,
            }
        };
        Ok(RANGE_LEN)
    }

    fn range_count(&self) -> Result<u64, EncodeError> {
        match self.state {
            State::Stream { range_count } => Ok(range_count),
            _ => Err(self.out_of_order()),
        }
    }

    /// Writes a reference to range `index`; returns the bytes written (8).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] before the table is complete,
    /// [`EncodeError::UnknownRange`] for an index past the table, [`EncodeError::Stream`]
    /// inside an inline chunk or when `out` is too short.
    pub fn external(&mut self, index: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        let range_count = self.range_count()?;
        if index >= range_count {
            return Err(EncodeError::UnknownRange { index, range_count });
        }
        Ok(self.stream.external(index, out)?)
    }

    /// Writes a whole inline chunk; an empty `body` writes nothing.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] before the table is complete, [`EncodeError::Stream`]
    /// as the first format's [`Encoder::inline`](crate::Encoder::inline).
    pub fn inline(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.range_count()?;
        Ok(self.stream.inline(body, out)?)
    }

    /// Writes the prefix of an inline chunk of `len` bytes whose body follows.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] before the table is complete, [`EncodeError::Stream`]
    /// as [`Encoder::begin_inline`](crate::Encoder::begin_inline).
    pub fn begin_inline(&mut self, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.range_count()?;
        Ok(self.stream.begin_inline(len, out)?)
    }

    /// Copies a piece of the current inline body into `out`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Stream`] as [`Encoder::inline_body`](crate::Encoder::inline_body).
    pub fn inline_body(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        Ok(self.stream.inline_body(body, out)?)
    }

    /// Records that the caller wrote `len` bytes of the current inline body itself.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Stream`] as [`Encoder::advance_inline`](crate::Encoder::advance_inline).
    pub fn advance_inline(&mut self, len: u64) -> Result<(), EncodeError> {
        Ok(self.stream.advance_inline(len)?)
    }

    /// Checks that the file may end here: the table complete, no inline bytes owed.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfOrder`] before the table is complete, [`EncodeError::Stream`]
    /// while an inline chunk owes bytes.
    pub fn finish(&self) -> Result<(), EncodeError> {
        self.range_count()?;
        Ok(self.stream.finish()?)
    }
}

fn put(out: &mut [u8], bytes: &[u8]) -> Result<(), EncodeError> {
    let Some(slot) = out.get_mut(..bytes.len()) else {
        return Err(EncodeError::InsufficientSize {
            required: bytes.len(),
        });
    };
    slot.copy_from_slice(bytes);
    Ok(())
}
