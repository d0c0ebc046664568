//! `futures-io` 0.3 adapters (smol, async-std, the `futures` crate): the [`asynch`]
//! drivers over [`embedded-io-adapters`](embedded_io_adapters_07)' [`FromFutures`].
//!
//! - [`Reader`]: the chunks of a stream read from any [`AsyncRead`](futures_io_03::AsyncRead)
//!   wrapped in [`FromFutures`], inline data in fragments borrowed from your buffer.
//! - [`Writer`]: a well-formed stream written to any [`AsyncWrite`](futures_io_03::AsyncWrite)
//!   wrapped in [`FromFutures`].
//! - [`reconstruct`]: stream + sources → the rebuilt bytes, from an `AsyncRead` into an
//!   `AsyncWrite`, with sources that are `AsyncRead + AsyncSeek` wrapped in [`FromFutures`]
//!   and listed in a slice, an array or a [`SourceTable`](crate::embedded_io::SourceTable).
//!
//! Nothing here decodes or copies: [`Reader`] and [`Writer`] *are* the [`asynch`] ones,
//! and [`reconstruct`] is [`asynch::reconstruct`](crate::asynch::reconstruct). [`FromFutures`] turns each `poll_*`
//! method into the `embedded-io-async` method the drivers call, so every check, limit and
//! error of the [`asynch`] module holds here unchanged. I/O errors are
//! [`std::io::Error`]; [`reconstruct`] reports them by their kind, like
//! every `embedded-io` driver. Reads interrupted by a signal are retried. Code that can
//! implement `embedded-io-async` directly uses [`asynch`] and skips the wrapper.
//!
//! # Cancellation
//!
//! As in [`asynch`]: [`Reader::next_chunk`] is cancel-safe (`FromFutures` reads with one
//! `poll_read`, which takes nothing it does not return); a dropped [`Writer`] or
//! [`reconstruct`] future leaves an incomplete output that is not resumable.
//!
//! [`asynch`]: crate::asynch

mod reader;
mod reconstruct;
mod writer;

pub use embedded_io_adapters_07::futures_03::FromFutures;
pub use reader::Reader;
pub use reconstruct::{reconstruct, reconstruct_as};
pub use writer::Writer;
