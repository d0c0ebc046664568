//! The successor format's chunk writer over `std::io::Write`.

use ::std::io;

use splitfdstream::dir::{Encoder, BODY_HEADER_LEN, FILE_HEADER_LEN, MAX_NAME_LEN};

/// Writes a well-formed splitdirfdstream ([`Format::Splitdirfdstream`](crate::Format)) to
/// a [`std::io::Write`], through the core [`Encoder`]: bodies longer than the reference
/// reader takes are split, empty Metadata is dropped, empty InlineData is written, and a
/// name that breaks the name rules is refused before anything is written.
///
/// Bodies are written straight from the caller's slice, never copied; the writer does not
/// buffer, so wrap a file or socket in a [`std::io::BufWriter`] when writing many small
/// chunks. After an I/O error the stream written so far is incomplete; discard it.
///
/// ```
/// use splitfdstream::dir::{Chunk, Chunks};
/// use splitfdstream_adapters::std::DirWriter;
///
/// let mut writer = DirWriter::new(Vec::new());
/// writer.write_metadata(b"<header>")?;
/// writer.write_file_backed(0, 7, b"ab/cdef")?;
/// writer.write_inline_data(b"")?;
/// let stream = writer.finish()?;
/// let chunks: Vec<_> = Chunks::new(&stream).collect::<Result<_, _>>().unwrap();
/// assert!(matches!(chunks[0], Chunk::Metadata(f) if f.data == b"<header>"));
/// assert!(matches!(chunks[1], Chunk::FileBackedData(f) if f.name == b"ab/cdef"));
/// assert!(matches!(chunks[2], Chunk::InlineData(f) if f.data.is_empty()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DirWriter<W> {
    inner: W,
    encoder: Encoder,
}

impl<W: io::Write> DirWriter<W> {
    /// A writer at the start of a stream.
    pub fn new(inner: W) -> DirWriter<W> {
        DirWriter::with_encoder(inner, Encoder::new())
    }

    /// A writer through `encoder` (for example one with a smaller
    /// [`split`](Encoder::with_split)).
    pub fn with_encoder(inner: W, encoder: Encoder) -> DirWriter<W> {
        DirWriter { inner, encoder }
    }

    /// Writes a Metadata body (nothing for an empty one).
    ///
    /// # Errors
    ///
    /// Writing fails.
    pub fn write_metadata(&mut self, body: &[u8]) -> io::Result<()> {
        self.write_body(true, body)
    }

    /// Writes an InlineData body (an empty one is written as an empty chunk).
    ///
    /// # Errors
    ///
    /// Writing fails.
    pub fn write_inline_data(&mut self, body: &[u8]) -> io::Result<()> {
        self.write_body(false, body)
    }

    fn write_body(&mut self, metadata: bool, body: &[u8]) -> io::Result<()> {
        let len = u64::try_from(body.len()).map_err(invalid)?;
        self.begin(metadata, len)?;
        self.write_body_piece(body)
    }

    fn begin(&mut self, metadata: bool, len: u64) -> io::Result<()> {
        let mut header = [0u8; BODY_HEADER_LEN];
        let written = if metadata {
            self.encoder.begin_metadata(len, &mut header)
        } else {
            self.encoder.begin_inline_data(len, &mut header)
        }
        .map_err(invalid)?;
        self.inner.write_all(&header[..written])
    }

    /// Starts an InlineData body of `len` bytes, which follow through
    /// [`write_body_piece`](DirWriter::write_body_piece): a file's content streamed
    /// without holding it whole.
    ///
    /// # Errors
    ///
    /// `InvalidInput` while a body still owes bytes; writing fails.
    pub fn begin_inline_data(&mut self, len: u64) -> io::Result<()> {
        self.begin(false, len)
    }

    /// Writes the next piece of the body in progress (with a chunk header wherever the
    /// body is split).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the piece is longer than the body still owes; writing fails.
    pub fn write_body_piece(&mut self, piece: &[u8]) -> io::Result<()> {
        let len = u64::try_from(piece.len()).map_err(invalid)?;
        if len > self.encoder.owed() {
            return Err(invalid(::std::format!(
                "{len} body bytes given, {} owed",
                self.encoder.owed()
            )));
        }
        let mut header = [0u8; BODY_HEADER_LEN];
        let mut rest = piece;
        while !rest.is_empty() {
            let written = self.encoder.body_header(&mut header).map_err(invalid)?;
            self.inner.write_all(&header[..written])?;
            let room = usize::try_from(self.encoder.room()).unwrap_or(usize::MAX);
            let (now, tail) = rest.split_at(room.min(rest.len()));
            self.inner.write_all(now)?;
            self.encoder
                .advance_body(u64::try_from(now.len()).map_err(invalid)?)
                .map_err(invalid)?;
            rest = tail;
        }
        Ok(())
    }

    /// Body bytes the body in progress still owes.
    pub fn owed(&self) -> u64 {
        self.encoder.owed()
    }

    /// Writes a FileBackedData chunk: `content_len` bytes of the file `name` beneath
    /// directory `dir_index`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name that breaks the name rules; writing fails.
    pub fn write_file_backed(
        &mut self,
        dir_index: u32,
        content_len: u64,
        name: &[u8],
    ) -> io::Result<()> {
        let mut chunk = [0u8; FILE_HEADER_LEN + MAX_NAME_LEN];
        let written = self
            .encoder
            .file_backed(dir_index, content_len, name, &mut chunk)
            .map_err(invalid)?;
        self.inner.write_all(&chunk[..written])
    }

    /// The stream bytes written so far.
    pub fn position(&self) -> u64 {
        self.encoder.position()
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    ///
    /// Flushing fails.
    pub fn finish(mut self) -> io::Result<W> {
        self.encoder.finish().map_err(invalid)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

fn invalid(error: impl Into<Box<dyn ::std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use splitfdstream::dir::{Chunk, Chunks};

    #[test]
    fn long_bodies_are_split_and_bad_names_write_nothing() {
        let mut writer = DirWriter::with_encoder(Vec::new(), Encoder::with_split(3));
        writer.write_metadata(b"").unwrap();
        writer.write_metadata(b"abcdefg").unwrap();
        assert!(writer.write_file_backed(0, 1, b"../x").is_err());
        writer.write_file_backed(1, 1 << 33, b"x").unwrap();
        writer.begin_inline_data(4).unwrap();
        writer.write_body_piece(b"wx").unwrap();
        assert!(writer.write_body_piece(b"yz!").is_err());
        writer.write_body_piece(b"yz").unwrap();
        let stream = writer.finish().unwrap();
        let chunks: Vec<_> = Chunks::new(&stream).map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 6);
        assert!(matches!(chunks[4], Chunk::InlineData(f) if f.data == b"wxy"));
        assert!(matches!(chunks[5], Chunk::InlineData(f) if f.data == b"z"));
        assert!(matches!(chunks[2], Chunk::Metadata(f) if f.data == b"g"));
        assert!(
            matches!(chunks[3], Chunk::FileBackedData(f) if f.dir_index == 1 && f.content_len == 1 << 33)
        );
    }
}
