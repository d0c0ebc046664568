//! Blocking `embedded-io` 0.7 adapters: `no_std`, no allocation, caller-provided buffers.
//!
//! - [`Reader`]: the chunks of a stream read from any [`embedded_io::Read`](embedded_io_07::Read),
//!   inline data in fragments borrowed from your buffer.
//! - [`Writer`]: a well-formed stream written to any [`embedded_io::Write`](embedded_io_07::Write).
//! - [`reconstruct`]: the bare-metal updater path. Rebuild an image from a stream read off
//!   a UART or flash into any `Write`, with external sources that are `Read + Seek`
//!   (regions of flash already on the device), listed in a fixed-capacity
//!   [`SourceTable`] or any other [`Sources`].
//! - [`reconstruct_as`]: the same for a splitdirfdstream, the successor format, whose
//!   files named beneath directories resolve through a fixed-capacity [`NamedTable`] or
//!   any other [`Sources`].
//! - [`apply`] and [`resume`]: the verified updater path. Apply an update file (see
//!   [`splitfdstream::update`]) from the old slot to the new one, each range checked by
//!   SHA-256 before use and the target at the end, reporting a [`Checkpoint`] at each chunk
//!   boundary from which [`resume`] continues after a reset.
//!
//! [`Checkpoint`]: splitfdstream::update::Checkpoint
//!
//! Reads and writes that fail with [`ErrorKind::Interrupted`](embedded_io_07::ErrorKind)
//! are retried; short writes are continued; a write that accepts nothing is an error
//! rather than a panic.
//!
//! # `std::io` types
//!
//! On a host, the same drivers take `std::io` readers, writers and files wrapped in
//! `FromStd` from [`embedded-io-adapters`](https://docs.rs/embedded-io-adapters/0.7)
//! 0.7 (its feature `std`); this module itself stays `no_std`. Interrupted calls are
//! retried as above, and [`ReconstructError`] reports `std::io::Error`s by their kind.
//! This crate's `std` module (feature `std`) is the fuller choice there: it learns
//! sizes from metadata, reads sources positionally and opens paths lazily.
//!
//! ```
//! # use embedded_io_adapters_07 as embedded_io_adapters;
//! use std::fs::File;
//! use std::io::Cursor;
//!
//! use embedded_io_adapters::std::FromStd;
//! use splitfdstream_adapters::embedded_io::reconstruct;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("kernel"), b"kernel")?;
//! // Inline "v2:", then source 0, twice.
//! let mut stream = (-3i64).to_le_bytes().to_vec();
//! stream.extend_from_slice(b"v2:");
//! stream.extend_from_slice(&[0; 16]);
//!
//! let mut sources = [FromStd::new(File::open(dir.path().join("kernel"))?)];
//! let mut image = FromStd::new(Vec::new());
//! let mut buf = [0u8; 256];
//! let written = reconstruct(
//!     FromStd::new(Cursor::new(stream)),
//!     &mut sources,
//!     &mut image,
//!     &mut buf,
//! )?;
//! assert_eq!(written, 15);
//! assert_eq!(image.inner(), b"v2:kernelkernel");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod named;
mod reader;
mod reconstruct;
mod update;
mod writer;

pub use named::{NamedTable, Refusal, Refused};
pub use reader::Reader;
pub use reconstruct::{
    reconstruct, reconstruct_as, ReconstructError, SliceSource, SourceTable, Sources, TableFull,
};
#[cfg(feature = "async")]
pub(crate) use reconstruct::{reconstruct_loop, seekable_sources};
pub(crate) use reconstruct::{slot, source_io, write_error, MIN_RECONSTRUCT_BUFFER_LEN};
pub(crate) use update::update_write_error;
pub use update::{apply, resume, Applied, ApplyError, SliceSlot};
#[cfg(feature = "async")]
pub(crate) use update::{apply_loop, read_header, rehash_written};
pub use writer::Writer;

use embedded_io_07::{ErrorKind, Read, Write};

use crate::io_loops::{self, WriteAllError};

/// Whether `error` is an interrupted call, to be retried.
pub(crate) fn is_interrupted<E: embedded_io_07::Error>(error: &E) -> bool {
    error.kind() == ErrorKind::Interrupted
}

/// Reads into `buf`, retrying interrupted reads.
fn read_retrying<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize, R::Error> {
    io_loops::read_retrying!(reader.read(buf), buf.len(), is_interrupted)
}

/// Writes all of `bytes`, continuing short writes and retrying interrupted ones; a write
/// that accepts nothing is an error (`embedded-io`'s own `write_all` panics there).
fn write_all<W: Write + ?Sized>(out: &mut W, bytes: &[u8]) -> Result<(), WriteAllError<W::Error>> {
    io_loops::write_all!(bytes, |rest| out.write(rest), is_interrupted)
}
