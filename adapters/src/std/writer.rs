//! The chunk writer over `std::io::Write`.

use ::std::io;

use splitfdstream::Encoder;

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

impl<W: io::Write> Writer<W> {
    crate::io_loops::writer_methods!(io::Error, crate::std::is_interrupted);
}
