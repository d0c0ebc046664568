//! Decode and encode errors.

use core::fmt;

/// Why a stream could not be decoded.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// An inline chunk declares more bytes than [`Limits::max_inline`](crate::Limits::max_inline) allows.
    InlineTooLarge {
        /// Declared length of the chunk.
        len: u64,
        /// The configured cap.
        max: u64,
        /// Stream offset of the chunk's prefix.
        offset: u64,
    },
    /// An external chunk names an index above [`Limits::max_index`](crate::Limits::max_index).
    IndexTooLarge {
        /// The index on the wire.
        index: u64,
        /// The configured cap.
        max: u64,
        /// Stream offset of the chunk's prefix.
        offset: u64,
    },
    /// The input ended inside a chunk: within its 8-byte prefix or before the end of its
    /// inline body.
    Truncated {
        /// Bytes still needed to complete the chunk.
        missing: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::InlineTooLarge { len, max, offset } => write!(
                f,
                "inline chunk at stream offset {offset} declares {len} bytes, more than the limit of {max}"
            ),
            DecodeError::IndexTooLarge { index, max, offset } => write!(
                f,
                "external chunk at stream offset {offset} names index {index}, above the limit of {max}"
            ),
            DecodeError::Truncated { missing } => {
                write!(f, "stream truncated inside a chunk: {missing} more bytes expected")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a header or chunk could not be encoded.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// An inline chunk of length 0 cannot be expressed: prefix 0 means External(0).
    EmptyInline,
    /// An inline chunk longer than 2^63 bytes cannot be expressed.
    InlineTooLarge {
        /// The requested length.
        len: u64,
    },
    /// An index above `i64::MAX` cannot be expressed.
    IndexTooLarge {
        /// The requested index.
        index: u64,
    },
    /// The output buffer is too small; nothing was written.
    InsufficientSize {
        /// Bytes the output buffer must hold for this call to succeed.
        required: usize,
    },
    /// A new chunk or the end of the stream was requested while the current inline chunk
    /// still owes body bytes.
    InlineOwed {
        /// Body bytes still to be written.
        remaining: u64,
    },
    /// More inline body bytes were supplied than the current chunk declared.
    InlineOverrun {
        /// Bytes supplied.
        len: u64,
        /// Bytes the chunk still expected.
        remaining: u64,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::EmptyInline => f.write_str("an empty inline chunk cannot be encoded"),
            EncodeError::InlineTooLarge { len } => {
                write!(
                    f,
                    "inline chunk of {len} bytes exceeds the 2^63-byte maximum"
                )
            }
            EncodeError::IndexTooLarge { index } => {
                write!(f, "external index {index} exceeds the maximum of i64::MAX")
            }
            EncodeError::InsufficientSize { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            EncodeError::InlineOwed { remaining } => {
                write!(f, "current inline chunk still owes {remaining} bytes")
            }
            EncodeError::InlineOverrun { len, remaining } => write!(
                f,
                "{len} inline bytes supplied but the current chunk expects only {remaining} more"
            ),
        }
    }
}

impl core::error::Error for EncodeError {}
