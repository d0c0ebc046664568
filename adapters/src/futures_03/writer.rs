//! The chunk writer over `futures-io`'s `AsyncWrite`.

use embedded_io_adapters_07::futures_03::FromFutures;

/// Writes a well-formed stream to a `futures-io` [`AsyncWrite`](futures_io_03::AsyncWrite)
/// wrapped in [`FromFutures`]: the [`asynch::Writer`](crate::asynch::Writer), whose
/// methods and errors (`WriteError<std::io::Error>`) it has.
///
/// The writer does not buffer: wrap the output in a `futures::io::BufWriter` when writing
/// many small chunks. A write that accepts nothing is an error of kind `WriteZero`.
///
/// ```
/// use splitfdstream_adapters::futures_03::{FromFutures, Writer};
///
/// futures::executor::block_on(async {
///     let mut writer = Writer::new(FromFutures::new(Vec::new()));
///     writer.write_inline(b"hello").await?;
///     writer.write_external(7).await?;
///     let stream = writer.finish().await?.into_inner();
///     assert_eq!(
///         stream,
///         [
///             0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///             0x07, 0, 0, 0, 0, 0, 0, 0,
///         ]
///     );
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type Writer<W> = crate::asynch::Writer<FromFutures<W>>;
