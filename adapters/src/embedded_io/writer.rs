//! The chunk writer over `embedded_io::Write`.

use embedded_io_07::Write;
use splitfdstream::Encoder;

use crate::error::WriteError;

/// Writes a well-formed stream to an [`embedded_io::Write`](Write); nothing is allocated or
/// buffered.
///
/// The core [`Encoder`] keeps count of the bytes an inline chunk still owes, so the writer
/// refuses to start a chunk or [`finish`](Writer::finish) while bytes are owed. Empty
/// inline writes are dropped. After an I/O error the stream written so far is incomplete;
/// discard it.
///
/// ```
/// use splitfdstream_adapters::embedded_io::Writer;
///
/// let mut out = [0u8; 32];
/// let mut writer = Writer::new(&mut out[..]);
/// writer.write_inline(b"hello").unwrap();
/// writer.write_external(7).unwrap();
/// // A streamed inline chunk: declare 3 bytes, write them in pieces.
/// writer.begin_inline(3).unwrap();
/// writer.write_inline_body(b"ab").unwrap();
/// assert_eq!(writer.owed(), 1);
/// writer.write_inline_body(b"c").unwrap();
/// let len = usize::try_from(writer.position()).unwrap();
/// writer.finish().unwrap();
/// assert_eq!(len, 13 + 8 + 11);
/// assert_eq!(&out[..13], b"\xfb\xff\xff\xff\xff\xff\xff\xffhello");
/// assert_eq!(&out[13..21], &[7, 0, 0, 0, 0, 0, 0, 0]);
/// ```
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    encoder: Encoder,
}

impl<W: Write> Writer<W> {
    crate::io_loops::writer_methods!(W::Error, crate::embedded_io::is_interrupted);
}
