//! tokio 1 adapters: a reader and a writer over `AsyncRead`/`AsyncWrite`, and
//! reconstruction into an `AsyncWrite` from files or lazily opened paths.
//!
//! - [`Reader`] and [`Writer`]: the chunk-level view, as in [`crate::std`] but over
//!   [`tokio::io::AsyncRead`] and [`tokio::io::AsyncWrite`], driven by the same core
//!   [`Decoder`](splitfdstream::Decoder) and [`Encoder`](splitfdstream::Encoder).
//! - [`reconstruct`]: stream + sources → the rebuilt bytes, into any `AsyncWrite`, with the
//!   sources of the blocking adapter: any [`Sources`](crate::std::Sources), such as
//!   [`PathSources`](crate::std::PathSources) (opened lazily through the same bounded
//!   cache, so tens of thousands of files rebuild under a low open-file limit) or a list of
//!   files ([`std_files`] converts `tokio::fs::File`s).
//! - `receive` and `receive_at_most` (with the `fd` feature, on Unix): a stream and its
//!   sources received from a Unix socket with the `fd` module's protocol, on tokio.
//!
//! # Positional reads on the blocking pool
//!
//! External sources are read with positional reads (`pread`) on plain `std::fs::File`s, on
//! tokio's blocking pool, never through `tokio::fs::File`: tokio's file does one
//! `spawn_blocking` per operation and has a single cursor, while the format lets one source
//! be referenced many times, each from offset 0. [`reconstruct`] instead hands the blocking
//! pool whole batches: one task decodes buffered stream bytes and copies as many sources
//! as fit into a 1 MiB output buffer, which is then written to the `AsyncWrite`. The
//! per-task cost is thus paid once per megabyte, not once per file or per read, and
//! stretches of inline data are handled on the async task without leaving it.
//!
//! # Cancellation
//!
//! - [`Reader::next_chunk`] is cancel-safe: the reader's whole state lives in the struct,
//!   and the only `.await` is `AsyncReadExt::read` (itself cancel-safe) into a buffer that
//!   holds nothing undecoded. Dropping the future before it completes, for example in a
//!   `tokio::select!` branch that lost, loses no byte; the next call yields the chunk this
//!   one would have.
//! - A [`Writer`] future dropped before it completes may have written part of its chunk:
//!   the stream is then not resumable; discard it.
//! - A [`reconstruct`] future dropped before it completes is not resumable: the output
//!   holds a prefix of the rebuilt bytes that may end inside a chunk, and the stream's
//!   position is unknown. A batch already running on the blocking pool finishes its
//!   reads (at most one output buffer's worth) before its result is discarded, and its
//!   sources are closed then.
//! - A `receive` future dropped after the first message arrived is not resumable either:
//!   the receive in progress completes on the blocking pool and closes what it received,
//!   and the socket is left at an unknown point of the framing.

#[cfg(all(feature = "fd", unix))]
mod fd;
mod reader;
mod reconstruct;
mod writer;

#[cfg(all(feature = "fd", unix))]
pub use fd::{receive, receive_at_most};
pub use reader::Reader;
pub use reconstruct::{reconstruct, reconstruct_as, std_files};
pub use writer::Writer;

use ::std::io;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::io_loops;
use crate::std::{io_error, is_interrupted};

/// Reads into `buf`, retrying reads interrupted by a signal. Cancel-safe.
async fn read_retrying<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
) -> io::Result<usize> {
    io_loops::read_retrying!(reader.read(buf).await, buf.len(), is_interrupted)
}

/// Writes all of `bytes`, continuing short writes and retrying interrupted ones; a write
/// that accepts nothing is a `WriteZero` error.
async fn write_all<W: AsyncWrite + Unpin + ?Sized>(out: &mut W, bytes: &[u8]) -> io::Result<()> {
    io_loops::write_all!(bytes, |rest| out.write(rest).await, is_interrupted).map_err(io_error)
}
