//! The chunk reader over `std::io::Read`.

use ::std::boxed::Box;
use ::std::io;
use ::std::vec;

use splitfdstream::{Chunk, Limits};

use crate::drive::Feed;
use crate::error::ReadError;
use crate::MIN_BUFFER_LEN;

/// The buffer size of [`Reader::new`] and of the reconstructors: 64 KiB.
pub const DEFAULT_BUFFER_LEN: usize = 64 * 1024;

/// Reads the chunks of a stream from a [`std::io::Read`], through an owned buffer.
///
/// Inline data is handed out in fragments borrowed from the buffer, so a chunk of any size
/// streams through it. Reads interrupted by a signal are retried.
///
/// ```
/// use splitfdstream::Chunk;
/// use splitfdstream_adapters::std::Reader;
///
/// let stream: &[u8] = &[
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// let mut reader = Reader::new(stream);
/// let mut inline = Vec::new();
/// let mut externals = Vec::new();
/// while let Some(chunk) = reader.next_chunk()? {
///     match chunk {
///         Chunk::Inline(fragment) => inline.extend_from_slice(fragment.data),
///         Chunk::External(index) => externals.push(index.get()),
///     }
/// }
/// assert_eq!(inline, b"hello");
/// assert_eq!(externals, [7]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    buf: Box<[u8]>,
    feed: Feed,
}

impl<R: io::Read> Reader<R> {
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
    /// # Errors
    ///
    /// [`ReadError::Decode`] when the stream is malformed or ends inside a chunk
    /// (`Truncated`), [`ReadError::Io`] when the underlying reader fails. Both convert to
    /// [`io::Error`] (`InvalidData` for format errors).
    pub fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, ReadError<io::Error>> {
        crate::io_loops::next_chunk_loop!(self, super::read_retrying)
    }

    crate::io_loops::reader_accessors!();

    /// The underlying reader; buffered bytes not yet decoded are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
