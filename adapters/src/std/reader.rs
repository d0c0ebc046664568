//! The chunk reader over `std::io::Read`.

use ::std::boxed::Box;
use ::std::io;

use splitfdstream::Chunk;

use crate::drive::Feed;
use crate::error::ReadError;

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
    crate::io_loops::reader_methods!(owned);

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
}
