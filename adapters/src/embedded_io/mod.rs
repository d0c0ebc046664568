//! Blocking `embedded-io` 0.7 adapters: `no_std`, no allocation, caller-provided buffers.
//!
//! - [`Reader`]: the chunks of a stream read from any [`embedded_io::Read`](embedded_io_07::Read),
//!   inline data in fragments borrowed from your buffer.
//! - [`Writer`]: a well-formed stream written to any [`embedded_io::Write`](embedded_io_07::Write).
//! - [`reconstruct`]: the bare-metal updater path. Rebuild an image from a stream read off
//!   a UART or flash into any `Write`, with external sources that are `Read + Seek`
//!   (regions of flash already on the device), listed in a fixed-capacity
//!   [`SourceTable`] or any other [`Sources`].
//!
//! Reads and writes that fail with [`ErrorKind::Interrupted`](embedded_io_07::ErrorKind)
//! are retried; short writes are continued; a write that accepts nothing is an error
//! rather than a panic.

mod reader;
mod reconstruct;
mod writer;

pub use reader::Reader;
pub use reconstruct::{
    reconstruct, ReconstructError, SliceSource, SourceTable, Sources, TableFull,
};
#[cfg(feature = "async")]
pub(crate) use reconstruct::{reconstruct_loop, seekable_sources};
pub(crate) use reconstruct::{slot, source_io, write_error, MIN_RECONSTRUCT_BUFFER_LEN};
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
