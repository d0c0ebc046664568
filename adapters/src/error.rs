//! Errors shared by every adapter.

use core::fmt;

use splitfdstream::{DecodeError, EncodeError};

/// Why a reader could not produce the next chunk.
///
/// Generic over the underlying reader's error `E`, like `embedded_io::ReadExactError`. A
/// stream that ends inside a chunk is `Decode(DecodeError::Truncated { .. })`: the core
/// decoder, not the adapter, decides where a stream may end.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReadError<E> {
    /// The bytes read are not a valid stream (including a truncated one).
    Decode(DecodeError),
    /// The underlying reader failed.
    Io(E),
    /// The caller's buffer is shorter than [`MIN_BUFFER_LEN`](crate::MIN_BUFFER_LEN).
    BufferTooSmall {
        /// Length of the buffer given.
        len: usize,
    },
}

impl<E> From<DecodeError> for ReadError<E> {
    fn from(error: DecodeError) -> Self {
        ReadError::Decode(error)
    }
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Decode(error) => write!(f, "invalid stream: {error}"),
            ReadError::Io(error) => write!(f, "reading the stream failed: {error}"),
            ReadError::BufferTooSmall { len } => write!(
                f,
                "read buffer of {len} bytes is too small: at least {} required",
                crate::MIN_BUFFER_LEN
            ),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ReadError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReadError::Decode(error) => Some(error),
            ReadError::Io(error) => Some(error),
            ReadError::BufferTooSmall { .. } => None,
        }
    }
}

/// Why a writer could not write a chunk.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteError<E> {
    /// The request would make a malformed stream (a new chunk while inline bytes are owed,
    /// too many body bytes, an index out of range); nothing was written.
    Encode(EncodeError),
    /// The underlying writer failed.
    Io(E),
    /// The underlying writer accepted no bytes (`Ok(0)`) for a non-empty write.
    WriteZero,
}

impl<E> From<EncodeError> for WriteError<E> {
    fn from(error: EncodeError) -> Self {
        WriteError::Encode(error)
    }
}

impl<E: fmt::Display> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Encode(error) => write!(f, "cannot encode: {error}"),
            WriteError::Io(error) => write!(f, "writing the stream failed: {error}"),
            WriteError::WriteZero => f.write_str("the writer accepted no bytes"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for WriteError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            WriteError::Encode(error) => Some(error),
            WriteError::Io(error) => Some(error),
            WriteError::WriteZero => None,
        }
    }
}

/// A problem with one external source found while reconstructing, independent of the I/O
/// layer.
///
/// External content is the whole source from offset 0 to its end. When a size is known (a
/// regular file's length, a seekable source's end, or a size the caller expects), the bytes
/// read must match it exactly: a source is never silently cut or padded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SourceError {
    /// The stream refers to an index for which there is no source.
    Missing {
        /// The index on the wire.
        index: u64,
    },
    /// The source's size differs from the size the caller expects.
    SizeMismatch {
        /// The index on the wire.
        index: u64,
        /// The size the caller supplied.
        expected: u64,
        /// The source's actual size.
        actual: u64,
    },
    /// The source ended before its known size: it shrank while being read.
    Shrank {
        /// The index on the wire.
        index: u64,
        /// The size the source had (or was expected to have).
        expected: u64,
        /// Bytes read before it ended.
        read: u64,
    },
    /// The source holds more bytes than its known size: it grew while being read.
    Grew {
        /// The index on the wire.
        index: u64,
        /// The size the source had (or was expected to have).
        expected: u64,
    },
    /// Random access needs every source's size up front, and this one has none.
    UnknownSize {
        /// The index on the wire.
        index: u64,
    },
}

impl SourceError {
    /// The index of the source at fault.
    pub const fn index(&self) -> u64 {
        match *self {
            SourceError::Missing { index }
            | SourceError::SizeMismatch { index, .. }
            | SourceError::Shrank { index, .. }
            | SourceError::Grew { index, .. }
            | SourceError::UnknownSize { index } => index,
        }
    }
}

impl SourceError {
    /// What is wrong with the source, without naming it: the message after "external
    /// source N: ".
    pub fn reason(&self) -> impl fmt::Display + '_ {
        Reason(self)
    }
}

/// [`SourceError::reason`].
struct Reason<'a>(&'a SourceError);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            SourceError::Missing { .. } => f.write_str("no such source"),
            SourceError::SizeMismatch {
                expected, actual, ..
            } => write!(f, "size is {actual} bytes, {expected} expected"),
            SourceError::Shrank { expected, read, .. } => write!(
                f,
                "ended after {read} of {expected} bytes (it shrank while being read)"
            ),
            SourceError::Grew { expected, .. } => {
                write!(f, "more than {expected} bytes (it grew while being read)")
            }
            SourceError::UnknownSize { .. } => f.write_str("size unknown, random access needs it"),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "external source {}: {}", self.index(), self.reason())
    }
}

impl core::error::Error for SourceError {}
