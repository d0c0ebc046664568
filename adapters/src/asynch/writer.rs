//! The chunk writer over `embedded_io_async::Write`.

use embedded_io_async_07::Write;
use splitfdstream::Encoder;

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
    crate::io_loops::writer_methods!(W::Error, crate::embedded_io::is_interrupted, async await);
}
