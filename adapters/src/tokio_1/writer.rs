//! The chunk writer over `tokio::io::AsyncWrite`.

use ::std::io;

use splitfdstream::Encoder;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::error::WriteError;

/// Writes a well-formed stream to a [`tokio::io::AsyncWrite`].
///
/// The same surface as the blocking [`std::Writer`](crate::std::Writer): the core
/// [`Encoder`] keeps count of the bytes an inline chunk still owes, so the writer refuses
/// to start a chunk or [`finish`](Writer::finish) while bytes are owed; empty inline writes
/// are dropped; short writes are continued and interrupted writes retried. The writer does
/// not buffer: wrap the output in a [`tokio::io::BufWriter`] when writing many small
/// chunks. After an I/O error, or when a write future is dropped before it completes, the
/// stream written so far is incomplete and not resumable; discard it.
///
/// ```
/// use splitfdstream_adapters::tokio_1::Writer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"hello").await?;
/// writer.write_external(7).await?;
/// let stream = writer.finish().await?;
/// assert_eq!(
///     stream,
///     [
///         0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///         0x07, 0, 0, 0, 0, 0, 0, 0,
///     ]
/// );
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    encoder: Encoder,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    crate::io_loops::writer_methods!(io::Error, crate::std::is_interrupted, async await);
}
