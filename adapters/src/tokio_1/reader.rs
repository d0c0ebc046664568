//! The chunk reader over `tokio::io::AsyncRead`.

use ::std::boxed::Box;
use ::std::io;

use splitfdstream::Chunk;
use tokio::io::AsyncRead;

use crate::drive::Feed;
use crate::error::ReadError;

/// Reads the chunks of a stream from a [`tokio::io::AsyncRead`], through an owned buffer.
///
/// Inline data is handed out in fragments borrowed from the buffer, so a chunk of any size
/// streams through it; for the same reads, the fragments are those of the blocking
/// [`std::Reader`](crate::std::Reader). [`next_chunk`](Reader::next_chunk) is cancel-safe.
///
/// ```
/// use splitfdstream::Chunk;
/// use splitfdstream_adapters::tokio_1::Reader;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let stream: &[u8] = &[
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// let mut reader = Reader::new(stream);
/// let mut inline = Vec::new();
/// let mut externals = Vec::new();
/// while let Some(chunk) = reader.next_chunk().await? {
///     match chunk {
///         Chunk::Inline(fragment) => inline.extend_from_slice(fragment.data),
///         Chunk::External(index) => externals.push(index.get()),
///     }
/// }
/// assert_eq!(inline, b"hello");
/// assert_eq!(externals, [7]);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    buf: Box<[u8]>,
    feed: Feed,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    crate::io_loops::reader_methods!(owned);

    /// The next chunk, or `None` at the clean end of the stream.
    ///
    /// Cancel-safe: dropping the future before it completes loses no stream byte, and the
    /// next call yields the chunk this one would have.
    ///
    /// # Errors
    ///
    /// [`ReadError::Decode`] when the stream is malformed or ends inside a chunk
    /// (`Truncated`), [`ReadError::Io`] when the underlying reader fails. Both convert to
    /// [`io::Error`] (`InvalidData` for format errors).
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, ReadError<io::Error>> {
        crate::io_loops::next_chunk_loop!(self, super::read_retrying, await)
    }
}
