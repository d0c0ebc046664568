//! `inspect` of a splitdirfdstream: its chunks, with each FileBackedData chunk's directory
//! index and name, and a summary.

use std::collections::HashSet;
use std::io::{Read, Write};

use anyhow::{Context, Result};
use base64::Engine as _;
use splitfdstream::dir::{Chunk, Decoder, Status, BODY_HEADER_LEN, FILE_HEADER_LEN};
use splitfdstream_adapters::bundle::fd_list;
use splitfdstream_adapters::std::read_retrying;

/// At least a FileBackedData header and the longest name, so a name always fits.
const READ_BUFFER: usize = 1 << 20;

/// Counts over a whole stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Chunks of every kind.
    pub chunks: u64,
    /// Metadata chunks and their body bytes.
    pub metadata_chunks: u64,
    /// Body bytes of Metadata chunks.
    pub metadata_bytes: u64,
    /// InlineData chunks.
    pub inline_chunks: u64,
    /// Body bytes of InlineData chunks.
    pub inline_bytes: u64,
    /// FileBackedData chunks.
    pub file_chunks: u64,
    /// The lengths they declare, summed.
    pub file_bytes: u64,
    /// Distinct (directory, name) pairs.
    pub distinct_files: u64,
    /// The largest directory index, if any.
    pub max_dir_index: Option<u32>,
    /// Bytes of the stream itself.
    pub stream_bytes: u64,
}

/// One chunk, as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed<'a> {
    /// A Metadata chunk at a stream offset, with its body length.
    Metadata {
        /// Offset of its type byte.
        offset: u64,
        /// Body length.
        len: u64,
    },
    /// An InlineData chunk at a stream offset, with its body length.
    InlineData {
        /// Offset of its type byte.
        offset: u64,
        /// Body length.
        len: u64,
    },
    /// A FileBackedData chunk.
    File {
        /// Offset of its type byte.
        offset: u64,
        /// The directory index.
        dir: u32,
        /// The declared length.
        len: u64,
        /// The name beneath the directory.
        name: &'a [u8],
    },
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Decodes the stream read from `input`, calling `each` once per chunk, and returns the
/// summary.
///
/// # Errors
///
/// Reading fails, the stream is malformed, or `each` fails.
pub fn scan(
    mut input: impl Read,
    mut each: impl FnMut(Listed<'_>) -> Result<()>,
) -> Result<Summary> {
    let mut decoder = Decoder::new();
    let mut summary = Summary::default();
    let mut files = HashSet::new();
    let mut buf = vec![0u8; READ_BUFFER];
    let (mut start, mut end) = (0, 0);
    loop {
        while start < end {
            let step = decoder.decode(&buf[start..end]).context("invalid stream")?;
            start += step.consumed;
            let position = decoder.position();
            match step.status {
                Status::Chunk(Chunk::Metadata(fragment) | Chunk::InlineData(fragment))
                    if fragment.is_first() =>
                {
                    let data_len = len_u64(fragment.data.len());
                    let offset = position.saturating_sub(data_len + len_u64(BODY_HEADER_LEN));
                    let len = fragment.chunk_len();
                    summary.chunks += 1;
                    if matches!(step.status, Status::Chunk(Chunk::Metadata(_))) {
                        summary.metadata_chunks += 1;
                        summary.metadata_bytes += len;
                        each(Listed::Metadata { offset, len })?;
                    } else {
                        summary.inline_chunks += 1;
                        summary.inline_bytes += len;
                        each(Listed::InlineData { offset, len })?;
                    }
                }
                Status::Chunk(Chunk::FileBackedData(file)) => {
                    let chunk_len = len_u64(FILE_HEADER_LEN + file.name.len());
                    summary.chunks += 1;
                    summary.file_chunks += 1;
                    summary.file_bytes = summary.file_bytes.saturating_add(file.content_len);
                    summary.max_dir_index = summary.max_dir_index.max(Some(file.dir_index));
                    files.insert((file.dir_index, file.name.to_vec()));
                    each(Listed::File {
                        offset: position.saturating_sub(chunk_len),
                        dir: file.dir_index,
                        len: file.content_len,
                        name: file.name,
                    })?;
                }
                Status::NeedMore { .. } => break,
                Status::Chunk(_) | Status::Partial => {}
            }
        }
        // Keep what the decoder left (a name cut by the end of a read) and read behind it.
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        let got = match read_retrying(&mut input, &mut buf[end..]) {
            Ok(0) => break,
            Ok(got) => got,
            Err(error) => return Err(error).context("cannot read the stream"),
        };
        end += got;
    }
    decoder.finish().context("invalid stream")?;
    summary.distinct_files = len_u64(files.len());
    summary.stream_bytes = decoder.position();
    Ok(summary)
}

/// A name as the fd list writes it: raw bytes, `\\` and `\n` escaped; shown lossily.
fn shown(name: &[u8]) -> String {
    let mut escaped = Vec::with_capacity(name.len());
    fd_list::escape_into(name, &mut escaped);
    String::from_utf8_lossy(&escaped).into_owned()
}

/// Lists the stream read from `input` into `out`: one line per chunk and a summary, or
/// with `json` one JSON object holding the summary and every file.
///
/// # Errors
///
/// As [`scan`], or `out` fails.
pub fn write(input: impl Read, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        let mut listed = Vec::new();
        let summary = scan(input, |chunk| {
            if let Listed::File {
                offset,
                dir,
                len,
                name,
            } = chunk
            {
                let mut file = serde_json::json!({
                    "offset": offset,
                    "dir": dir,
                    "len": len,
                    "name": String::from_utf8_lossy(name),
                });
                if std::str::from_utf8(name).is_err() {
                    file["name_base64"] = base64::engine::general_purpose::STANDARD
                        .encode(name)
                        .into();
                }
                listed.push(file);
            }
            Ok(())
        })?;
        let value = serde_json::json!({
            "format": "dir",
            "chunks": summary.chunks,
            "metadata_chunks": summary.metadata_chunks,
            "metadata_bytes": summary.metadata_bytes,
            "inline_chunks": summary.inline_chunks,
            "inline_bytes": summary.inline_bytes,
            "file_chunks": summary.file_chunks,
            "file_bytes": summary.file_bytes,
            "distinct_files": summary.distinct_files,
            "max_dir_index": summary.max_dir_index,
            "stream_bytes": summary.stream_bytes,
            "files": listed,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>14}  {:<8}  length, or length directory name",
        "offset", "kind"
    )?;
    let summary = scan(input, |chunk| {
        match chunk {
            Listed::Metadata { offset, len } => writeln!(out, "{offset:>14}  metadata  {len}")?,
            Listed::InlineData { offset, len } => writeln!(out, "{offset:>14}  inline    {len}")?,
            Listed::File {
                offset,
                dir,
                len,
                name,
            } => writeln!(out, "{offset:>14}  file      {len} {dir} {}", shown(name))?,
        }
        Ok(())
    })?;
    let max = summary
        .max_dir_index
        .map_or_else(|| "none".to_owned(), |max| max.to_string());
    writeln!(
        out,
        "{} chunks: {} metadata ({} bytes), {} inline ({} bytes), {} file-backed ({} bytes, {} distinct files, max directory {}); {} stream bytes",
        summary.chunks,
        summary.metadata_chunks,
        summary.metadata_bytes,
        summary.inline_chunks,
        summary.inline_bytes,
        summary.file_chunks,
        summary.file_bytes,
        summary.distinct_files,
        max,
        summary.stream_bytes,
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stream::StreamWriter;

    /// Reads one byte at a time, so headers and names arrive cut.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lists_offsets_directories_and_names() {
        let mut writer = StreamWriter::dir(Vec::new());
        writer.inline(b"hello").unwrap();
        writer.file_backed(3, 1 << 33, b"a/b").unwrap();
        writer.file_backed(3, 1 << 33, b"a/b").unwrap();
        writer.file_backed(0, 0, b"c").unwrap();
        let (bytes, _) = writer.finish().unwrap();
        let mut listed = Vec::new();
        let summary = scan(OneByte(&bytes), |chunk| {
            listed.push(format!("{chunk:?}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            listed,
            [
                "Metadata { offset: 0, len: 5 }",
                "File { offset: 10, dir: 3, len: 8589934592, name: [97, 47, 98] }",
                "File { offset: 30, dir: 3, len: 8589934592, name: [97, 47, 98] }",
                "File { offset: 50, dir: 0, len: 0, name: [99] }",
            ]
        );
        assert_eq!(summary.distinct_files, 2);
        assert_eq!(summary.max_dir_index, Some(3));
        assert_eq!(summary.stream_bytes, 68);
    }

    #[test]
    fn truncation_is_an_error() {
        let mut writer = StreamWriter::dir(Vec::new());
        writer.file_backed(0, 1, b"name").unwrap();
        let (bytes, _) = writer.finish().unwrap();
        let error = scan(&bytes[..bytes.len() - 1], |_| Ok(())).unwrap_err();
        assert!(format!("{error:#}").contains("trunc"), "{error:#}");
        let error = scan(&[7u8][..], |_| Ok(())).unwrap_err();
        assert!(format!("{error:#}").contains("type"), "{error:#}");
    }
}
