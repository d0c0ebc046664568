//! Decode and encode errors of the splitdirfdstream codec.

use core::fmt;

use super::name::NameError;

/// Why a splitdirfdstream could not be decoded. Every variant carries the stream offset of
/// the chunk at fault (its type byte).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// A type byte the format does not define.
    UnknownType {
        /// The byte on the wire.
        byte: u8,
        /// Stream offset of the byte.
        offset: u64,
    },
    /// A Metadata or InlineData chunk declares a body longer than
    /// [`Limits::max_inline`](super::Limits::max_inline) allows.
    InlineTooLarge {
        /// Declared body length.
        len: u64,
        /// The configured cap.
        max: u64,
        /// Stream offset of the chunk.
        offset: u64,
    },
    /// A FileBackedData chunk names a directory index above
    /// [`Limits::max_index`](super::Limits::max_index).
    IndexTooLarge {
        /// The index on the wire.
        index: u32,
        /// The configured cap.
        max: u32,
        /// Stream offset of the chunk.
        offset: u64,
    },
    /// A FileBackedData chunk's name breaks the name rules, or is longer than
    /// [`Limits::max_name`](super::Limits::max_name) allows.
    Name {
        /// The rule broken.
        error: NameError,
        /// Stream offset of the chunk.
        offset: u64,
    },
    /// The input ended inside a chunk: within its header, its name or its body.
    Truncated {
        /// Bytes still needed to complete what was cut: the header when it was cut, else
        /// the name or the body.
        missing: u64,
        /// Stream offset of the chunk cut short.
        offset: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::UnknownType { byte, offset } => {
                write!(f, "unknown chunk type byte {byte:#04x} at stream offset {offset}")
            }
            DecodeError::InlineTooLarge { len, max, offset } => write!(
                f,
                "chunk at stream offset {offset} declares a body of {len} bytes, more than the limit of {max}"
            ),
            DecodeError::IndexTooLarge { index, max, offset } => write!(
                f,
                "file-backed chunk at stream offset {offset} names directory {index}, above the limit of {max}"
            ),
            DecodeError::Name { error, offset } => {
                write!(f, "file-backed chunk at stream offset {offset}: {error}")
            }
            DecodeError::Truncated { missing, offset } => write!(
                f,
                "stream truncated inside the chunk at stream offset {offset}: {missing} more bytes expected"
            ),
        }
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DecodeError::Name { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Why a chunk could not be encoded. On every error, the output buffer and the encoder
/// are left untouched.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The file name breaks the name rules.
    Name(NameError),
    /// The output buffer is too small; nothing was written.
    InsufficientSize {
        /// Bytes the output buffer must hold for this call to succeed.
        required: usize,
    },
    /// A new chunk or the end of the stream was requested while the current body still
    /// owes bytes.
    InlineOwed {
        /// Body bytes still to be written.
        remaining: u64,
    },
    /// More body bytes were supplied than the current body declared.
    InlineOverrun {
        /// Bytes supplied.
        len: u64,
        /// Bytes the body still expected.
        remaining: u64,
    },
    /// More body bytes were accounted for with
    /// [`advance_body`](super::Encoder::advance_body) than fit before the next header of a
    /// split body; write it with [`body_header`](super::Encoder::body_header) first.
    HeaderDue {
        /// Bytes accounted for.
        len: u64,
        /// Bytes that fit before the next header.
        room: u64,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::Name(error) => write!(f, "cannot encode a file-backed chunk: {error}"),
            EncodeError::InsufficientSize { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            EncodeError::InlineOwed { remaining } => {
                write!(f, "current body still owes {remaining} bytes")
            }
            EncodeError::InlineOverrun { len, remaining } => write!(
                f,
                "supplied {len} body bytes but the current body expects only {remaining} more"
            ),
            EncodeError::HeaderDue { len, room } => write!(
                f,
                "accounted for {len} body bytes but only {room} fit before the next chunk header"
            ),
        }
    }
}

impl core::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            EncodeError::Name(error) => Some(error),
            _ => None,
        }
    }
}

impl From<NameError> for EncodeError {
    fn from(error: NameError) -> Self {
        EncodeError::Name(error)
    }
}
