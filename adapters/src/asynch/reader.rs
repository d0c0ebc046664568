//! The chunk reader over `embedded_io_async::Read`.

use embedded_io_async_07::Read;
use splitfdstream::Chunk;

use crate::drive::Feed;
use crate::error::ReadError;
use crate::MIN_BUFFER_LEN;

/// Reads the chunks of a stream from an [`embedded_io_async::Read`](Read) through a buffer
/// you provide (at least [`MIN_BUFFER_LEN`] bytes); nothing is allocated.
///
/// Inline data is handed out in fragments borrowed from the buffer: a chunk larger than
/// the buffer streams through it in several [`InlineFragment`](splitfdstream::InlineFragment)s.
/// [`next_chunk`](Reader::next_chunk) is cancel-safe when the underlying `read` is.
///
/// ```
/// use splitfdstream::Chunk;
/// use splitfdstream_adapters::asynch::Reader;
///
/// let stream: &[u8] = &[
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// embassy_futures::block_on(async {
///     let mut buf = [0u8; 8]; // smaller than the chunk: "hello" arrives in two fragments
///     let mut reader = Reader::new(stream, &mut buf);
///     let mut inline = [0u8; 5];
///     let mut external = None;
///     while let Some(chunk) = reader.next_chunk().await.unwrap() {
///         match chunk {
///             Chunk::Inline(f) => {
///                 let at = usize::try_from(f.offset).unwrap();
///                 inline[at..at + f.data.len()].copy_from_slice(f.data);
///             }
///             Chunk::External(index) => external = Some(index.get()),
///         }
///     }
///     assert_eq!(&inline, b"hello");
///     assert_eq!(external, Some(7));
/// });
/// ```
#[derive(Debug)]
pub struct Reader<'b, R> {
    inner: R,
    buf: &'b mut [u8],
    feed: Feed,
}

impl<'b, R: Read> Reader<'b, R> {
    crate::io_loops::reader_methods!(borrowed);

    /// The next chunk, or `None` at the clean end of the stream.
    ///
    /// Cancel-safe when `R::read` is: dropping the future before it completes loses no
    /// stream byte, and the next call yields the chunk this one would have.
    ///
    /// # Errors
    ///
    /// [`ReadError::Decode`] when the stream is malformed or ends inside a chunk,
    /// [`ReadError::Io`] when the underlying reader fails, [`ReadError::BufferTooSmall`]
    /// when the buffer is shorter than [`MIN_BUFFER_LEN`].
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, ReadError<R::Error>> {
        if self.buf.len() < MIN_BUFFER_LEN {
            return Err(ReadError::BufferTooSmall {
                len: self.buf.len(),
            });
        }
        crate::io_loops::next_chunk_loop!(self, super::read_retrying, await)
    }
}
