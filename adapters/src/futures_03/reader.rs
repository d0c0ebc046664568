//! The chunk reader over `futures-io`'s `AsyncRead`.

use embedded_io_adapters_07::futures_03::FromFutures;

#[cfg(doc)]
use crate::MIN_BUFFER_LEN;

/// Reads the chunks of a stream from a `futures-io` [`AsyncRead`](futures_io_03::AsyncRead)
/// wrapped in [`FromFutures`], through a buffer you provide (at least [`MIN_BUFFER_LEN`]
/// bytes): the [`asynch::Reader`](crate::asynch::Reader), whose methods, limits and errors
/// (`ReadError<std::io::Error>`) it has.
///
/// [`next_chunk`](crate::asynch::Reader::next_chunk) is cancel-safe.
///
/// ```
/// use splitfdstream::Chunk;
/// use splitfdstream_adapters::futures_03::{FromFutures, Reader};
///
/// let stream: &[u8] = &[
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// futures::executor::block_on(async {
///     let mut buf = [0u8; 64];
///     let mut reader = Reader::new(FromFutures::new(stream), &mut buf);
///     let mut inline = Vec::new();
///     let mut externals = Vec::new();
///     while let Some(chunk) = reader.next_chunk().await? {
///         match chunk {
///             Chunk::Inline(fragment) => inline.extend_from_slice(fragment.data),
///             Chunk::External(index) => externals.push(index.get()),
///         }
///     }
///     assert_eq!(inline, b"hello");
///     assert_eq!(externals, [7]);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type Reader<'b, R> = crate::asynch::Reader<'b, FromFutures<R>>;
