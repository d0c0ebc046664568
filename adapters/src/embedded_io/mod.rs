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
pub use writer::Writer;

use embedded_io_07::{Error as _, ErrorKind, Read, Write};

/// Reads into `buf`, retrying interrupted reads.
fn read_retrying<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize, R::Error> {
    loop {
        match reader.read(buf) {
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            other => return other.map(|n| n.min(buf.len())),
        }
    }
}

/// Why [`write_all`] stopped.
enum WriteAllError<E> {
    Io(E),
    WriteZero,
}

/// Writes all of `bytes`, continuing short writes and retrying interrupted ones; a write
/// that accepts nothing is an error (`embedded-io`'s own `write_all` panics there).
fn write_all<W: Write + ?Sized>(
    out: &mut W,
    mut bytes: &[u8],
) -> Result<(), WriteAllError<W::Error>> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(WriteAllError::WriteZero),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(WriteAllError::Io(error)),
        }
    }
    Ok(())
}
