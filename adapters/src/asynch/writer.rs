//! The chunk writer over `embedded_io_async::Write`.

use embedded_io_async_07::Write;
use splitfdstream::{Encoder, HEADER_LEN};

use super::{write_all, WriteAllError};
use crate::drive::len_u64;
use crate::error::WriteError;

/// Writes a well-formed stream to an [`embedded_io_async::Write`](Write); nothing is
/// allocated or buffered.
///
/// The same surface as the blocking [`embedded_io::Writer`](crate::embedded_io::Writer):
/// the core [`Encoder`] keeps count of the bytes an inline chunk still owes, so the writer
/// refuses to start a chunk or [`finish`](Writer::finish) while bytes are owed, and empty
/// inline writes are dropped. After an I/O error, or when a write future is dropped
/// before it completes, the stream written so far is incomplete and not resumable;
/// discard it.
///
/// ```
/// use splitfdstream_adapters::asynch::Writer;
///
/// embassy_futures::block_on(async {
///     let mut out = [0u8; 32];
///     let mut writer = Writer::new(&mut out[..]);
///     writer.write_inline(b"hello").await.unwrap();
///     writer.write_external(7).await.unwrap();
///     writer.begin_inline(3).await.unwrap();
///     writer.write_inline_body(b"ab").await.unwrap();
///     assert_eq!(writer.owed(), 1);
///     writer.write_inline_body(b"c").await.unwrap();
///     assert_eq!(writer.position(), 13 + 8 + 11);
///     writer.finish().await.unwrap();
///     assert_eq!(&out[..13], b"\xfb\xff\xff\xff\xff\xff\xff\xffhello");
///     assert_eq!(&out[13..21], &[7, 0, 0, 0, 0, 0, 0, 0]);
/// });
/// ```
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    encoder: Encoder,
}

impl<W: Write> Writer<W> {
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
    /// [`WriteError::Encode`] while a streamed inline chunk owes bytes, [`WriteError::Io`]
    /// or [`WriteError::WriteZero`] when the underlying writer fails.
    pub async fn write_inline(&mut self, bytes: &[u8]) -> Result<(), WriteError<W::Error>> {
        self.begin_inline(len_u64(bytes.len())).await?;
        self.write_inline_body(bytes).await
    }

    /// Writes a reference to external source `index`.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] for an index above `i64::MAX` or while an inline chunk owes
    /// bytes, [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
    pub async fn write_external(&mut self, index: u64) -> Result<(), WriteError<W::Error>> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.external(index, &mut header)?;
        self.put(header.get(..n).unwrap_or_default()).await
    }

    /// Starts an inline chunk of `len` bytes whose body follows through
    /// [`write_inline_body`](Writer::write_inline_body); `len == 0` writes nothing.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] while an inline chunk owes bytes or above 2^63,
    /// [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
    pub async fn begin_inline(&mut self, len: u64) -> Result<(), WriteError<W::Error>> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.begin_inline(len, &mut header)?;
        self.put(header.get(..n).unwrap_or_default()).await
    }

    /// Writes a piece of the current inline chunk's body.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] when `bytes` is longer than the chunk still owes (nothing is
    /// written), [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
    pub async fn write_inline_body(&mut self, bytes: &[u8]) -> Result<(), WriteError<W::Error>> {
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
    /// [`WriteError::Encode`] while an inline chunk owes bytes (check
    /// [`owed`](Writer::owed) first to keep the writer), [`WriteError::Io`] when flushing
    /// fails.
    pub async fn finish(mut self) -> Result<W, WriteError<W::Error>> {
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

    async fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError<W::Error>> {
        write_all(&mut self.inner, bytes)
            .await
            .map_err(|error| match error {
                WriteAllError::Io(error) => WriteError::Io(error),
                WriteAllError::WriteZero => WriteError::WriteZero,
            })
    }
}
