//! The chunk writer over `tokio::io::AsyncWrite`.

use ::std::io;

use splitfdstream::{Encoder, HEADER_LEN};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::write_all;
use crate::drive::len_u64;
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

type Result<T> = ::core::result::Result<T, WriteError<io::Error>>;

impl<W: AsyncWrite + Unpin> Writer<W> {
    /// A writer at the start of a stream.
    pub fn new(inner: W) -> Writer<W> {
        Writer {
            inner,
            encoder: Encoder::new(),
        }
    }

    /// Writes a whole inline chunk; an empty `bytes` writes nothing.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] while a streamed inline chunk owes bytes,
    /// [`WriteError::Io`] when the underlying writer fails.
    pub async fn write_inline(&mut self, bytes: &[u8]) -> Result<()> {
        self.begin_inline(len_u64(bytes.len())).await?;
        self.write_inline_body(bytes).await
    }

    /// Writes a reference to external source `index`.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] for an index above `i64::MAX` or while an inline chunk owes
    /// bytes, [`WriteError::Io`] when the underlying writer fails.
    pub async fn write_external(&mut self, index: u64) -> Result<()> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.external(index, &mut header)?;
        self.put(header.get(..n).unwrap_or_default()).await
    }

    /// Starts an inline chunk of `len` bytes whose body follows through
    /// [`write_inline_body`](Writer::write_inline_body); `len == 0` writes nothing.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] while an inline chunk owes bytes, [`WriteError::Io`] when the
    /// underlying writer fails.
    pub async fn begin_inline(&mut self, len: u64) -> Result<()> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.begin_inline(len, &mut header)?;
        self.put(header.get(..n).unwrap_or_default()).await
    }

    /// Writes a piece of the current inline chunk's body.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] when `bytes` is longer than the chunk still owes (nothing is
    /// written), [`WriteError::Io`] when the underlying writer fails.
    pub async fn write_inline_body(&mut self, bytes: &[u8]) -> Result<()> {
        self.encoder.advance_inline(len_u64(bytes.len()))?;
        self.put(bytes).await
    }

    /// Body bytes the current inline chunk still owes.
    pub fn owed(&self) -> u64 {
        self.encoder.owed()
    }

    /// Stream bytes written so far.
    pub fn position(&self) -> u64 {
        self.encoder.position()
    }

    /// Checks that the stream is complete, flushes, and returns the underlying writer.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] while an inline chunk owes bytes (check [`owed`](Writer::owed)
    /// first to keep the writer), [`WriteError::Io`] when flushing fails.
    pub async fn finish(mut self) -> Result<W> {
        self.encoder.finish()?;
        self.inner.flush().await.map_err(WriteError::Io)?;
        Ok(self.inner)
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The underlying writer; writing to it directly corrupts the stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying writer, without checking that the stream is complete.
    pub fn into_inner(self) -> W {
        self.inner
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<()> {
        write_all(&mut self.inner, bytes).await.map_err(|error| {
            if error.kind() == io::ErrorKind::WriteZero {
                WriteError::WriteZero
            } else {
                WriteError::Io(error)
            }
        })
    }
}
