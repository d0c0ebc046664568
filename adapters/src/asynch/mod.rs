//! `embedded-io-async` 0.7 adapters: `no_std`, no allocation, caller-provided buffers; the
//! async counterparts of [`crate::embedded_io`], for Embassy-style firmware.
//!
//! - [`Reader`]: the chunks of a stream read from any
//!   [`embedded_io_async::Read`](embedded_io_async_07::Read), inline data in fragments
//!   borrowed from your buffer; the same fragments as the blocking
//!   [`embedded_io::Reader`](crate::embedded_io::Reader) given the same buffer and reads.
//! - [`Writer`]: a well-formed stream written to any
//!   [`embedded_io_async::Write`](embedded_io_async_07::Write).
//! - [`reconstruct`]: rebuild an image into any async `Write` from sources that are async
//!   `Read + Seek` (flash regions behind a DMA driver), listed in the same fixed-capacity
//!   [`SourceTable`](crate::embedded_io::SourceTable) as the blocking path, or any other
//!   [`Sources`]; [`reconstruct_as`] for the successor format, with files named beneath
//!   directories in a [`NamedTable`](crate::embedded_io::NamedTable).
//!
//! The drivers are the blocking ones with `.await` at each I/O call: the same core
//! [`Decoder`](splitfdstream::Decoder), fed through the same buffer bookkeeping, decides
//! everything else. Reads and writes that fail with
//! [`ErrorKind::Interrupted`](embedded_io_async_07::ErrorKind) are retried; short writes
//! are continued; a write that accepts nothing is an error rather than a panic.
//!
//! # Cancellation
//!
//! - [`Reader::next_chunk`] is cancel-safe whenever the underlying `read` is (as
//!   `embedded-io-async` encourages implementations to be): the reader's whole state lives
//!   in the struct, and the only `.await` is a read into a buffer that holds nothing
//!   undecoded. Dropping the future before it completes loses no byte and hands out no
//!   chunk twice; the next call continues where the stream is.
//! - A [`Writer`] future dropped before it completes leaves an unknown part of its chunk
//!   written: the stream is then not resumable; discard it.
//! - A [`reconstruct`] future dropped before it completes is not resumable: the output
//!   holds a prefix of the rebuilt bytes that may end inside a chunk, and the stream's
//!   position is unknown. The sources stay usable (every reference seeks to offset 0).

mod reader;
mod reconstruct;
mod update;
mod writer;

pub use reader::Reader;
pub use reconstruct::{reconstruct, reconstruct_as, Sources};
pub use update::{apply, resume};
pub use writer::Writer;

use embedded_io_async_07::{Read, Write};

use crate::embedded_io::is_interrupted;
use crate::io_loops::{self, WriteAllError};

/// Reads into `buf`, retrying interrupted reads.
async fn read_retrying<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
) -> Result<usize, R::Error> {
    io_loops::read_retrying!(reader.read(buf).await, buf.len(), is_interrupted)
}

/// Writes all of `bytes`, continuing short writes and retrying interrupted ones; a write
/// that accepts nothing is an error.
async fn write_all<W: Write + ?Sized>(
    out: &mut W,
    bytes: &[u8],
) -> Result<(), WriteAllError<W::Error>> {
    io_loops::write_all!(bytes, |rest| out.write(rest).await, is_interrupted)
}
