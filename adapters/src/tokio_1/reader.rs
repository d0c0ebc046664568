//! The chunk reader over `tokio::io::AsyncRead`.

use ::std::boxed::Box;
use ::std::io;
use ::std::vec;

use splitfdstream::{Chunk, Limits};
use tokio::io::AsyncRead;

use crate::drive::Feed;
use crate::error::ReadError;
use crate::std::DEFAULT_BUFFER_LEN;
use crate::MIN_BUFFER_LEN;

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
    /// A reader with a [`DEFAULT_BUFFER_LEN`] buffer.
    pub fn new(inner: R) -> Reader<R> {
        Reader::with_capacity(DEFAULT_BUFFER_LEN, inner)
    }

    /// A reader with a buffer of `capacity` bytes (at least [`MIN_BUFFER_LEN`]).
    pub fn with_capacity(capacity: usize, inner: R) -> Reader<R> {
        Reader {
            inner,
            buf: vec![0; capacity.max(MIN_BUFFER_LEN)].into_boxed_slice(),
            feed: Feed::new(Limits::new()),
        }
    }

    /// Applies `limits` to the chunks read from now on; call it before the first read.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Reader<R> {
        self.feed = Feed::new(limits);
        self
    }

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

    crate::io_loops::reader_accessors!();

    /// The underlying reader; buffered bytes not yet decoded are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
