//! The chunk writer over `std::io::Write`.

use ::std::io;

use splitfdstream::{Encoder, HEADER_LEN};

use crate::drive::len_u64;
use crate::error::WriteError;

/// Writes a well-formed stream to a [`std::io::Write`].
///
/// The core [`Encoder`] keeps count of the bytes an inline chunk still owes, so the writer
/// refuses to start a chunk or [`finish`](Writer::finish) while bytes are owed. Empty
/// inline writes are dropped (an empty inline chunk cannot be expressed). Short writes are
/// continued and interrupted writes retried. The writer does not buffer: wrap a file or
/// socket in a [`std::io::BufWriter`] when writing many small chunks.
///
/// After an I/O error the stream written so far is incomplete; discard it.
///
/// ```
/// use splitfdstream_adapters::std::Writer;
///
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"hello")?;
/// writer.write_external(7)?;
/// let stream = writer.finish()?;
/// assert_eq!(
///     stream,
///     [
///         0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///         0x07, 0, 0, 0, 0, 0, 0, 0,
///     ]
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    encoder: Encoder,
}

type Result<T> = ::core::result::Result<T, WriteError<io::Error>>;

impl<W: io::Write> Writer<W> {
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
    pub fn write_inline(&mut self, bytes: &[u8]) -> Result<()> {
        self.begin_inline(len_u64(bytes.len()))?;
        self.write_inline_body(bytes)
    }

    /// Writes a reference to external source `index`.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] for an index above `i64::MAX` or while an inline chunk owes
    /// bytes, [`WriteError::Io`] when the underlying writer fails.
    pub fn write_external(&mut self, index: u64) -> Result<()> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.external(index, &mut header)?;
        self.put(&header[..n])
    }

    /// Starts an inline chunk of `len` bytes whose body follows through
    /// [`write_inline_body`](Writer::write_inline_body); `len == 0` writes nothing.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] while an inline chunk owes bytes, [`WriteError::Io`] when the
    /// underlying writer fails.
    pub fn begin_inline(&mut self, len: u64) -> Result<()> {
        let mut header = [0; HEADER_LEN];
        let n = self.encoder.begin_inline(len, &mut header)?;
        self.put(&header[..n])
    }

    /// Writes a piece of the current inline chunk's body.
    ///
    /// # Errors
    ///
    /// [`WriteError::Encode`] when `bytes` is longer than the chunk still owes (nothing is
    /// written), [`WriteError::Io`] when the underlying writer fails.
    pub fn write_inline_body(&mut self, bytes: &[u8]) -> Result<()> {
        self.encoder.advance_inline(len_u64(bytes.len()))?;
        self.put(bytes)
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
    pub fn finish(mut self) -> Result<W> {
        self.encoder.finish()?;
        self.inner.flush().map_err(WriteError::Io)?;
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

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        write_all(&mut self.inner, bytes).map_err(|error| {
            if error.kind() == io::ErrorKind::WriteZero {
                WriteError::WriteZero
            } else {
                WriteError::Io(error)
            }
        })
    }
}

/// `write_all`, spelled out so that short and interrupted writes are handled the same way
/// on every writer.
pub(crate) fn write_all<W: io::Write + ?Sized>(out: &mut W, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
