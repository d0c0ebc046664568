//! The typed error of the std, fd and tokio drivers, and its conversion to `io::Error`.

use ::std::boxed::Box;
use ::std::path::{Path, PathBuf};
use ::std::{fmt, io};

use splitfdstream::DecodeError;

use crate::error::{ReadError, SourceError, WriteError};
use crate::StreamError;

/// Why a reconstruction failed: the stream, a source or the output, with where.
///
/// Returned by [`reconstruct`](super::reconstruct),
/// [`SeekableReconstructor::new`](super::SeekableReconstructor::new), and the `fd` and
/// `tokio_1` drivers. The `Read` implementations
/// ([`Reconstructor`](super::Reconstructor), [`SeekableReconstructor`](super::SeekableReconstructor))
/// return it inside an [`io::Error`] (see the `From` conversion), where
/// [`Error::from_io`] finds it again.
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, Error, PathSources, Writer};
///
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"header")?;
/// writer.write_external(0)?;
/// let stream = writer.finish()?;
/// let sources = PathSources::from_paths(["/nonexistent/object"]);
/// match reconstruct(stream.as_slice(), &sources, Vec::new()) {
///     Err(Error::Source(failure)) => {
///         assert_eq!(failure.index(), 0);
///         assert_eq!(failure.stream_offset(), 22);
///         assert_eq!(failure.path().unwrap().to_str(), Some("/nonexistent/object"));
///         assert_eq!(failure.kind(), std::io::ErrorKind::NotFound);
///     }
///     other => panic!("expected a source error, got {other:?}"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The stream is malformed or truncated; the error has the stream offset.
    Decode(StreamError),
    /// Reading the stream failed after `offset` stream bytes.
    Stream {
        /// Stream bytes decoded before the failure.
        offset: u64,
        /// The reader's error.
        error: io::Error,
    },
    /// An external source could not be found, opened or read, or does not have the size
    /// it must have.
    Source(Box<SourceFailure>),
    /// Writing the rebuilt bytes failed after `written` of them.
    Output {
        /// Rebuilt bytes handed to the output before the failure.
        written: u64,
        /// The writer's error.
        error: io::Error,
    },
}

/// What went wrong with one external source, and which one.
#[derive(Debug)]
pub struct SourceFailure {
    stream_offset: u64,
    index: u64,
    path: Option<PathBuf>,
    fault: SourceFault,
    /// A file named beneath directory `index` (the successor format), not source `index`.
    named: bool,
}

/// The fault of a [`SourceFailure`]: an I/O error, or a check of its size or presence.
#[non_exhaustive]
#[derive(Debug)]
pub enum SourceFault {
    /// Opening or reading the source failed.
    Io(io::Error),
    /// The source is missing, or is not of the size it must have.
    Check(SourceError),
}

impl SourceFailure {
    /// A failure of source `index` (at `path`, when it is named by one), met after
    /// `stream_offset` stream bytes.
    pub fn new(
        stream_offset: u64,
        index: u64,
        path: Option<PathBuf>,
        fault: SourceFault,
    ) -> SourceFailure {
        SourceFailure {
            stream_offset,
            index,
            path,
            fault,
            named: false,
        }
    }

    /// The failure of a file named beneath directory `index`.
    pub(crate) fn beneath_directory(mut self) -> SourceFailure {
        self.named = true;
        self
    }

    /// Stream bytes decoded when the source was needed (the end of its reference).
    pub fn stream_offset(&self) -> u64 {
        self.stream_offset
    }

    /// The source's index on the wire (for a named source, its directory's index).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The path of the source, for sources named by path.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What went wrong.
    pub fn fault(&self) -> &SourceFault {
        &self.fault
    }

    /// The `io::ErrorKind` this failure converts to: that of the I/O error, `NotFound`
    /// for a missing source, `Unsupported` for an unknown size, `InvalidData` for a wrong
    /// size.
    pub fn kind(&self) -> io::ErrorKind {
        match &self.fault {
            SourceFault::Io(error) => error.kind(),
            SourceFault::Check(SourceError::Missing { .. }) => io::ErrorKind::NotFound,
            SourceFault::Check(SourceError::UnknownSize { .. }) => io::ErrorKind::Unsupported,
            SourceFault::Check(_) => io::ErrorKind::InvalidData,
        }
    }
}

impl Error {
    /// The `io::ErrorKind` this error converts to: `InvalidData` for a malformed stream,
    /// [`SourceFailure::kind`] for a source, the underlying kind for stream and output I/O.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Decode(_) => io::ErrorKind::InvalidData,
            Error::Stream { error, .. } | Error::Output { error, .. } => error.kind(),
            Error::Source(failure) => failure.kind(),
        }
    }

    /// The source failure, if a source failed.
    pub fn source_failure(&self) -> Option<&SourceFailure> {
        match self {
            Error::Source(failure) => Some(failure),
            _ => None,
        }
    }

    /// The [`Error`] inside an `io::Error` returned by a `Read` implementation of this
    /// module, if it came from one.
    pub fn from_io(error: &io::Error) -> Option<&Error> {
        error.get_ref()?.downcast_ref::<Error>()
    }
}

impl fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.named) {
            (Some(path), true) => write!(f, "directory {}, {}", self.index, path.display())?,
            (None, true) => write!(f, "directory {}", self.index)?,
            (Some(path), false) => {
                write!(f, "external source {} ({})", self.index, path.display())?;
            }
            (None, false) => write!(f, "external source {}", self.index)?,
        }
        match &self.fault {
            SourceFault::Io(error) => write!(f, ": {error}"),
            SourceFault::Check(error) => write!(f, ": {}", error.reason()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Decode(error) => write!(f, "invalid stream: {error}"),
            Error::Stream { offset, error } => {
                write!(f, "reading the stream failed after {offset} bytes: {error}")
            }
            Error::Source(failure) => failure.fmt(f),
            Error::Output { written, error } => {
                write!(
                    f,
                    "writing the output failed after {written} bytes: {error}"
                )
            }
        }
    }
}

/// Its `Display` already says everything, the underlying error included, so it reports no
/// `source`: an error chain printed link by link would say it twice. Match on
/// [`fault`](SourceFailure::fault) for the underlying error.
impl ::std::error::Error for SourceFailure {}

/// Its `Display` already says everything, the underlying error included, so it reports no
/// `source`: an error chain printed link by link would say it twice. Match on the variants
/// for the underlying error.
impl ::std::error::Error for Error {}

impl From<StreamError> for Error {
    fn from(error: StreamError) -> Self {
        Error::Decode(error)
    }
}

impl From<DecodeError> for Error {
    fn from(error: DecodeError) -> Self {
        Error::Decode(StreamError::Splitfdstream(error))
    }
}

/// An `io::Error` of [`Error::kind`] whose inner error is the [`Error`]
/// ([`Error::from_io`] finds it).
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        io::Error::new(error.kind(), error)
    }
}

/// A format error: `InvalidData`, with the core error as source.
pub(crate) fn invalid_data(error: DecodeError) -> io::Error {
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
