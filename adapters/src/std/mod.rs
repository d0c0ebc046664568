//! `std::io` adapters: a reader and a writer, external [`Sources`] backed by files, lazily
//! opened paths or memory, and reconstruction of the original byte stream.
//!
//! - [`Reader`] and [`Writer`]: the chunk-level view, as in [`crate::embedded_io`] but over
//!   `std::io::Read`/`Write` with an owned buffer.
//! - [`reconstruct`]: stream + sources → the rebuilt bytes, into any `Write`, in bounded
//!   memory whatever the chunk sizes.
//! - [`Reconstructor`]: the rebuilt bytes as a `Read`.
//! - [`SeekableReconstructor`]: the rebuilt bytes as `Read + Seek`, with `read_at`.
//! - [`Sources`]: what a stream's references name, with its contract; [`PathSources`]
//!   for files named by path, opened by the crate's one policy ([`open_path_source`]) and
//!   read ahead; [`DirSources`] for the successor format's files named beneath
//!   directories, opened confined by the same policy.
//!
//! Reconstruction fails with an [`Error`] that says whether the stream, a source or the
//! output failed, and where; it converts to [`std::io::Error`] (kind `InvalidData` for
//! format errors), so `?` works in functions returning `io::Result`.

mod dir_writer;
mod error;
mod reader;
mod reconstruct;
mod reconstructor;
mod seekable;
pub(crate) mod sources;
pub(crate) mod steps;
#[cfg(feature = "update")]
pub mod update;
mod writer;

pub use dir_writer::DirWriter;
pub use error::{Error, SourceFailure, SourceFault};
pub use reader::{Reader, DEFAULT_BUFFER_LEN};
pub use reconstruct::{reconstruct, reconstruct_as};
pub use reconstructor::Reconstructor;
pub use seekable::SeekableReconstructor;
#[cfg(unix)]
pub use sources::describe_mode;
#[cfg(target_os = "linux")]
pub use sources::Beneath;
pub use sources::{
    open_path_source, DirSources, ExpectedLens, PathSource, PathSources, ReadAt, Sources,
    DEFAULT_OPEN_AHEAD, DEFAULT_OPEN_FILES,
};
pub use writer::Writer;

use ::std::io;

use crate::io_loops::{self, WriteAllError};

/// Whether `error` is an interrupted call, to be retried.
pub(crate) fn is_interrupted(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::Interrupted
}

/// Reads into `buf` once, retrying a read interrupted by a signal: the read loop of every
/// driver here, for callers that read a stream or a source themselves.
///
/// ```
/// let mut input: &[u8] = b"abc";
/// let mut buf = [0; 8];
/// assert_eq!(splitfdstream_adapters::std::read_retrying(&mut input, &mut buf)?, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The reader's error, unless it is `Interrupted`.
pub fn read_retrying<R: io::Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    io_loops::read_retrying!(reader.read(buf), buf.len(), is_interrupted)
}

/// Reads `source` at `offset`, retrying reads interrupted by a signal.
pub(crate) fn read_at_retrying<T: ReadAt + ?Sized>(
    source: &T,
    buf: &mut [u8],
    offset: u64,
) -> io::Result<usize> {
    io_loops::read_retrying!(source.read_at(buf, offset), buf.len(), is_interrupted)
}

/// `write_all`, spelled out so that short and interrupted writes are handled the same way
/// on every writer; a write that accepts nothing is a `WriteZero` error.
pub(crate) fn write_all<W: io::Write + ?Sized>(out: &mut W, bytes: &[u8]) -> io::Result<()> {
    io_loops::write_all!(bytes, |rest| out.write(rest), is_interrupted).map_err(io_error)
}

/// The `io::Error` of a failed `write_all`.
pub(crate) fn io_error(error: WriteAllError<io::Error>) -> io::Error {
    match error {
        WriteAllError::Io(error) => error,
        WriteAllError::WriteZero => io::ErrorKind::WriteZero.into(),
    }
}
