//! Writing a stream in either format: consecutive inline bytes are coalesced into one
//! chunk (a Metadata chunk, in the successor format).

use std::io::{self, Read, Write};

use splitfdstream::Header;
use splitfdstream_adapters::std::{read_retrying, DirWriter};

/// Inline bytes are flushed as a chunk at the next external reference, at the end, or
/// when this many are pending.
const MAX_PENDING: usize = 1 << 20;

/// Counts of what a [`StreamWriter`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Inline chunks written.
    pub inline_chunks: u64,
    /// Inline body bytes written.
    pub inline_bytes: u64,
    /// External references written.
    pub external_chunks: u64,
    /// Stream bytes written (prefixes and bodies).
    pub stream_bytes: u64,
}

/// Where the chunks go: the first format's prefixes, or the successor's chunks.
#[derive(Debug)]
enum Out<W: Write> {
    V1(W),
    Dir(DirWriter<W>),
}

/// Encodes chunks onto a writer, merging adjacent inline writes.
#[derive(Debug)]
pub struct StreamWriter<W: Write> {
    out: Out<W>,
    pending: Vec<u8>,
    stats: StreamStats,
}

impl<W: Write> StreamWriter<W> {
    /// A writer at the start of a stream of the first format.
    pub fn new(out: W) -> StreamWriter<W> {
        StreamWriter {
            out: Out::V1(out),
            pending: Vec::new(),
            stats: StreamStats::default(),
        }
    }

    /// A writer at the start of a splitdirfdstream: inline bytes become Metadata chunks.
    pub fn dir(out: W) -> StreamWriter<W> {
        StreamWriter {
            out: Out::Dir(DirWriter::new(out)),
            pending: Vec::new(),
            stats: StreamStats::default(),
        }
    }

    /// Appends inline bytes (nothing for an empty slice).
    ///
    /// # Errors
    ///
    /// Writing a full pending chunk fails.
    pub fn inline(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= MAX_PENDING {
            self.flush_inline()?;
        }
        Ok(())
    }

    /// Appends a reference to external source `index`.
    ///
    /// # Errors
    ///
    /// Writing fails, or the index is above `i64::MAX`.
    pub fn external(&mut self, index: u64) -> io::Result<()> {
        self.flush_inline()?;
        let Out::V1(out) = &mut self.out else {
            return Err(invalid("a splitdirfdstream has no external indices"));
        };
        let header = Header::external(index).map_err(invalid)?;
        out.write_all(header.as_bytes())?;
        self.stats.external_chunks += 1;
        self.stats.stream_bytes += 8;
        Ok(())
    }

    /// Appends a FileBackedData chunk: `len` bytes of `name` beneath directory `dir`.
    ///
    /// # Errors
    ///
    /// Writing fails, the stream is of the first format, or the name breaks the rules.
    pub fn file_backed(&mut self, dir: u32, len: u64, name: &[u8]) -> io::Result<()> {
        self.flush_inline()?;
        let Out::Dir(out) = &mut self.out else {
            return Err(invalid("a splitfdstream of the first format has no names"));
        };
        let before = out.position();
        out.write_file_backed(dir, len, name)?;
        self.stats.external_chunks += 1;
        self.stats.stream_bytes += out.position() - before;
        Ok(())
    }

    /// Appends an InlineData chunk of exactly `len` bytes read from `content` to its end,
    /// handing each piece to `each` as well (a checksum, a progress bar).
    ///
    /// # Errors
    ///
    /// Reading or writing fails, the content is shorter or longer than `len`, or the
    /// stream is of the first format.
    pub fn inline_data_from(
        &mut self,
        len: u64,
        content: &mut dyn Read,
        mut each: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        self.flush_inline()?;
        let Out::Dir(out) = &mut self.out else {
            return Err(invalid(
                "a splitfdstream of the first format has no InlineData",
            ));
        };
        let before = out.position();
        out.begin_inline_data(len)?;
        let mut buf = vec![
            0u8;
            MAX_PENDING
                .min(usize::try_from(len).unwrap_or(MAX_PENDING))
                .max(1)
        ];
        loop {
            let got = read_retrying(content, &mut buf)?;
            if got == 0 {
                break;
            }
            if u64::try_from(got).map_err(invalid)? > out.owed() {
                return Err(invalid(format!("the content is longer than {len} bytes")));
            }
            out.write_body_piece(&buf[..got])?;
            each(&buf[..got]);
        }
        if out.owed() > 0 {
            return Err(invalid(format!(
                "the content is {} bytes, not {len}",
                len - out.owed()
            )));
        }
        self.stats.inline_chunks += 1;
        self.stats.inline_bytes += len;
        self.stats.stream_bytes += out.position() - before;
        Ok(())
    }

    fn flush_inline(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let len = u64::try_from(self.pending.len()).map_err(invalid)?;
        match &mut self.out {
            Out::V1(out) => {
                let header = Header::inline(len).map_err(invalid)?;
                out.write_all(header.as_bytes())?;
                out.write_all(&self.pending)?;
                self.stats.stream_bytes += 8 + len;
            }
            Out::Dir(out) => {
                let before = out.position();
                out.write_metadata(&self.pending)?;
                self.stats.stream_bytes += out.position() - before;
            }
        }
        self.pending.clear();
        self.stats.inline_chunks += 1;
        self.stats.inline_bytes += len;
        Ok(())
    }

    /// Writes what is pending, flushes, and returns the writer with the counts.
    ///
    /// # Errors
    ///
    /// Writing or flushing fails.
    pub fn finish(mut self) -> io::Result<(W, StreamStats)> {
        self.flush_inline()?;
        let out = match self.out {
            Out::V1(mut out) => {
                out.flush()?;
                out
            }
            Out::Dir(out) => out.finish()?,
        };
        Ok((out, self.stats))
    }
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use splitfdstream::{Chunk, Chunks};

    #[test]
    fn adjacent_inline_writes_become_one_chunk() {
        let mut writer = StreamWriter::new(Vec::new());
        writer.inline(b"he").unwrap();
        writer.inline(b"").unwrap();
        writer.inline(b"llo").unwrap();
        writer.external(7).unwrap();
        writer.external(7).unwrap();
        writer.inline(b"!").unwrap();
        let (bytes, stats) = writer.finish().unwrap();
        let chunks: Vec<Chunk<'_>> = Chunks::new(&bytes).map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 4);
        assert!(matches!(chunks[0], Chunk::Inline(f) if f.data == b"hello"));
        assert!(matches!(chunks[1], Chunk::External(i) if i.get() == 7));
        assert!(matches!(chunks[3], Chunk::Inline(f) if f.data == b"!"));
        assert_eq!(
            stats,
            StreamStats {
                inline_chunks: 2,
                inline_bytes: 6,
                external_chunks: 2,
                stream_bytes: 8 * 4 + 6
            }
        );
        assert_eq!(
            &bytes[..8],
            &[0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn a_dir_stream_coalesces_metadata_and_names_files() {
        use splitfdstream::dir;
        let mut writer = StreamWriter::dir(Vec::new());
        writer.inline(b"he").unwrap();
        writer.inline(b"llo").unwrap();
        writer.file_backed(0, 9, b"ab").unwrap();
        assert!(writer.external(1).is_err());
        let (bytes, stats) = writer.finish().unwrap();
        let chunks: Vec<dir::Chunk<'_>> = dir::Chunks::new(&bytes).map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 2);
        assert!(matches!(chunks[0], dir::Chunk::Metadata(f) if f.data == b"hello"));
        assert!(
            matches!(chunks[1], dir::Chunk::FileBackedData(f) if f.name == b"ab" && f.content_len == 9)
        );
        assert_eq!(stats.stream_bytes, u64::try_from(bytes.len()).unwrap());
        assert_eq!((stats.inline_chunks, stats.external_chunks), (1, 1));

        let mut writer = StreamWriter::dir(Vec::new());
        let mut seen = Vec::new();
        writer.inline(b"<").unwrap();
        writer
            .inline_data_from(3, &mut &b"abc"[..], |piece| seen.extend_from_slice(piece))
            .unwrap();
        writer.inline_data_from(0, &mut &b""[..], |_| {}).unwrap();
        let (bytes, stats) = writer.finish().unwrap();
        assert_eq!(seen, b"abc");
        let chunks: Vec<dir::Chunk<'_>> = dir::Chunks::new(&bytes).map(Result::unwrap).collect();
        assert!(matches!(chunks[0], dir::Chunk::Metadata(f) if f.data == b"<"));
        assert!(matches!(chunks[1], dir::Chunk::InlineData(f) if f.data == b"abc"));
        assert!(matches!(chunks[2], dir::Chunk::InlineData(f) if f.data.is_empty()));
        assert_eq!(stats.inline_chunks, 3);
        // Content of another length than declared is an error.
        let mut long = StreamWriter::dir(Vec::new());
        assert!(long.inline_data_from(2, &mut &b"abc"[..], |_| {}).is_err());
        let mut short = StreamWriter::dir(Vec::new());
        assert!(short.inline_data_from(4, &mut &b"abc"[..], |_| {}).is_err());
    }

    #[test]
    fn an_empty_stream_is_empty() {
        let (bytes, _) = StreamWriter::new(Vec::new()).finish().unwrap();
        assert!(bytes.is_empty());
    }
}
