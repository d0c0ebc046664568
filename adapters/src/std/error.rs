//! Conversions of the crate's errors to `std::io::Error`.

use ::std::{fmt, io};

use crate::error::{ReadError, SourceError, WriteError};

/// An I/O error on one external source, with its index.
///
/// Reconstruction returns it inside an [`io::Error`] of the same kind as the underlying
/// error; find it with [`io::Error::get_ref`] and `downcast_ref`.
#[derive(Debug)]
pub struct SourceIoError {
    index: u64,
    error: io::Error,
}

impl SourceIoError {
    /// Wraps `error`, met while opening or reading external source `index`.
    pub fn new(index: u64, error: io::Error) -> SourceIoError {
        SourceIoError { index, error }
    }

    /// The index of the source.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The underlying error.
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for SourceIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "external source {}: {}", self.index, self.error)
    }
}

impl ::std::error::Error for SourceIoError {
    fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Wraps an error met on source `index`, keeping its kind.
pub(crate) fn source_io(index: u64) -> impl FnOnce(io::Error) -> io::Error {
    move |error| io::Error::new(error.kind(), SourceIoError::new(index, error))
}

/// A format error: `InvalidData`, with the core error as source.
pub(crate) fn invalid_data(error: splitfdstream::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl From<ReadError<io::Error>> for io::Error {
    fn from(error: ReadError<io::Error>) -> io::Error {
        match error {
            ReadError::Decode(error) => invalid_data(error),
            ReadError::Io(error) => error,
            ReadError::BufferTooSmall { .. } => io::Error::new(io::ErrorKind::InvalidInput, error),
        }
    }
}

impl From<WriteError<io::Error>> for io::Error {
    fn from(error: WriteError<io::Error>) -> io::Error {
        match error {
            WriteError::Encode(error) => io::Error::new(io::ErrorKind::InvalidInput, error),
            WriteError::Io(error) => error,
            WriteError::WriteZero => io::Error::new(io::ErrorKind::WriteZero, error),
        }
    }
}

/// `NotFound` for a missing source, `Unsupported` for an unknown size, `InvalidData` for a
/// size that does not match; the [`SourceError`] is the source.
impl From<SourceError> for io::Error {
    fn from(error: SourceError) -> io::Error {
        let kind = match error {
            SourceError::Missing { .. } => io::ErrorKind::NotFound,
            SourceError::UnknownSize { .. } => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}
