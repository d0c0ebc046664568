//! Decode and encode errors of the update file.

use core::fmt;

/// Why an update file could not be decoded. Every variant that concerns one part of the
/// file carries its file offset.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The file does not start with [`MAGIC`](super::MAGIC): not an update file (or a
    /// compressed one, which a host decompresses first).
    BadMagic {
        /// The first six bytes.
        found: [u8; 6],
    },
    /// The magic is right but the version is not one this crate reads.
    UnsupportedVersion {
        /// The version on the wire.
        version: u16,
    },
    /// The header declares more ranges than the [`Limits`](super::Limits) allow, or than
    /// fit in a file.
    TooManyRanges {
        /// The count on the wire.
        count: u64,
        /// The cap.
        max: u64,
    },
    /// The header declares a target longer than the [`Limits`](super::Limits) allow.
    TargetTooLarge {
        /// The length on the wire.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// A range of length 0.
    EmptyRange {
        /// Its index in the table.
        index: u64,
        /// File offset of its record.
        offset: u64,
    },
    /// A range whose end is beyond `u64::MAX`.
    RangeOverflow {
        /// Its index in the table.
        index: u64,
        /// File offset of its record.
        offset: u64,
    },
    /// The stream refers to a range the table does not have.
    UnknownRange {
        /// The external index on the wire.
        index: u64,
        /// How many ranges the table has.
        range_count: u64,
        /// File offset of the chunk.
        offset: u64,
    },
    /// The splitfdstream after the table is malformed or truncated.
    Stream {
        /// What is wrong, with offsets relative to the stream's start.
        error: crate::DecodeError,
        /// File offset of the stream's start.
        stream_offset: u64,
    },
    /// The file ended inside its header or its range table.
    Truncated {
        /// Bytes still needed to complete the header or the record cut short.
        missing: u64,
        /// File offset of what was cut: the header (0) or the record.
        offset: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::BadMagic { found } => {
                write!(f, "not an update file: it starts with {found:02x?}")
            }
            DecodeError::UnsupportedVersion { version } => write!(
                f,
                "update file version {version} is not supported (this reader knows {})",
                super::VERSION
            ),
            DecodeError::TooManyRanges { count, max } => {
                write!(f, "update declares {count} source ranges, more than the limit of {max}")
            }
            DecodeError::TargetTooLarge { len, max } => {
                write!(f, "update declares a target of {len} bytes, more than the limit of {max}")
            }
            DecodeError::EmptyRange { index, offset } => {
                write!(f, "source range {index} (file offset {offset}) is empty")
            }
            DecodeError::RangeOverflow { index, offset } => write!(
                f,
                "source range {index} (file offset {offset}) ends beyond the largest offset"
            ),
            DecodeError::UnknownRange {
                index,
                range_count,
                offset,
            } => write!(
                f,
                "chunk at file offset {offset} refers to source range {index}, but the table has {range_count}"
            ),
            DecodeError::Stream {
                error,
                stream_offset,
            } => write!(f, "invalid stream (starting at file offset {stream_offset}): {error}"),
            DecodeError::Truncated { missing, offset } => write!(
                f,
                "update truncated inside the header or record at file offset {offset}: {missing} more bytes expected"
            ),
        }
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DecodeError::Stream { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The part of an update file an [`Encoder`](super::Encoder) expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Part {
    /// The header.
    Header,
    /// A record of the range table.
    Range,
    /// The splitfdstream.
    Stream,
}

/// Why part of an update file could not be encoded. On every error, the output buffer and
/// the encoder are left untouched.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The parts were written out of order: header, then every range, then the stream.
    OutOfOrder {
        /// What the encoder expected.
        expected: Part,
    },
    /// A range breaks the table's rules (empty, or ending beyond `u64::MAX`).
    Range(DecodeError),
    /// An external chunk names a range the table does not have.
    UnknownRange {
        /// The index requested.
        index: u64,
        /// How many ranges the table has.
        range_count: u64,
    },
    /// The splitfdstream encoder refused the chunk.
    Stream(crate::EncodeError),
    /// The output buffer is too small; nothing was written.
    InsufficientSize {
        /// Bytes the output buffer must hold for this call to succeed.
        required: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::OutOfOrder { expected } => {
                write!(f, "update parts out of order: expected {expected:?} next")
            }
            EncodeError::Range(error) => write!(f, "cannot encode: {error}"),
            EncodeError::UnknownRange { index, range_count } => write!(
                f,
                "cannot refer to source range {index}: the table has {range_count}"
            ),
            EncodeError::Stream(error) => error.fmt(f),
            EncodeError::InsufficientSize { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            EncodeError::Range(error) => Some(error),
            EncodeError::Stream(error) => Some(error),
            _ => None,
        }
    }
}

impl From<crate::EncodeError> for EncodeError {
    fn from(error: crate::EncodeError) -> Self {
        EncodeError::Stream(error)
    }
}
