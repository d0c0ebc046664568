//! `std::io` adapters: a reader and a writer, external [`Sources`] backed by files, lazily
//! opened paths or memory, and reconstruction of the original byte stream.
//!
//! - [`Reader`] and [`Writer`]: the chunk-level view, as in [`crate::embedded_io`] but over
//!   `std::io::Read`/`Write` with an owned buffer.
//! - [`reconstruct`]: stream + sources → the rebuilt bytes, into any `Write`, in bounded
//!   memory whatever the chunk sizes.
//! - [`Reconstructor`]: the rebuilt bytes as a `Read`.
//! - [`SeekableReconstructor`]: the rebuilt bytes as `Read + Seek`, with `read_at`.
//!
//! Format errors convert to [`std::io::Error`] of kind `InvalidData` with the core error as
//! source, so `?` works in functions returning `io::Result`.

mod error;
mod reader;
mod reconstruct;
mod seekable;
// Reachable from `fd`, whose path sources follow the same policy.
pub(crate) mod sources;
mod writer;

pub use error::SourceIoError;
pub use reader::{Reader, DEFAULT_BUFFER_LEN};
pub use reconstruct::{reconstruct, Reconstructor};
pub use seekable::SeekableReconstructor;
pub use sources::{ExpectedLens, PathSources, ReadAt, Sources, DEFAULT_OPEN_FILES};
pub use writer::Writer;

#[cfg(any(feature = "fd", feature = "tokio-1"))]
pub(crate) use error::{invalid_data, source_io};
#[cfg(any(feature = "fd", feature = "tokio-1"))]
pub(crate) use reconstruct::open_source;

use ::std::io;

/// Reads into `buf`, retrying reads interrupted by a signal.
fn read_retrying<R: io::Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // A reader claiming more than the buffer holds is treated as having filled it.
            other => return other.map(|n| n.min(buf.len())),
        }
    }
}

/// Reads `source` at `offset`, retrying reads interrupted by a signal.
pub(crate) fn read_at_retrying<T: ReadAt + ?Sized>(
    source: &T,
    buf: &mut [u8],
    offset: u64,
) -> io::Result<usize> {
    loop {
        match source.read_at(buf, offset) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map(|n| n.min(buf.len())),
        }
    }
}
