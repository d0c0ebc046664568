//! `inspect`: the chunks of a stream and a summary (a splitdirfdstream is listed by
//! [`inspect_dir`](crate::inspect_dir)); or the segments of an initramfs image (or cpio
//! archive), with their offsets and compression.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use splitfdstream::{Chunk, Decoder};
use splitfdstream_adapters::archive::{self, cpio};
use splitfdstream_adapters::bundle::dir_list;
use splitfdstream_adapters::decompress::{Decompressed, Segments};
use splitfdstream_adapters::std::read_retrying;
use splitfdstream_adapters::Format;

const READ_BUFFER: usize = 1 << 20;

/// Counts over a whole stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Chunks of either kind.
    pub chunks: u64,
    /// Inline chunks.
    pub inline_chunks: u64,
    /// Inline body bytes.
    pub inline_bytes: u64,
    /// External chunks.
    pub external_chunks: u64,
    /// Distinct external indices.
    pub distinct_indices: u64,
    /// The largest external index, if any.
    pub max_index: Option<u64>,
    /// Bytes of the stream itself.
    pub stream_bytes: u64,
}

/// One chunk, as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed {
    /// An inline chunk at a stream offset, with its declared length.
    Inline {
        /// Offset of its prefix.
        offset: u64,
        /// Declared body length.
        len: u64,
    },
    /// An external chunk at a stream offset.
    External {
        /// Offset of its prefix.
        offset: u64,
        /// The index.
        index: u64,
    },
}

/// Decodes the stream read from `input`, calling `each` once per chunk as soon as its
/// prefix is read, and returns the summary.
///
/// # Errors
///
/// Reading fails, the stream is malformed, or `each` fails.
pub fn scan(mut input: impl Read, mut each: impl FnMut(Listed) -> Result<()>) -> Result<Summary> {
    let mut decoder = Decoder::new();
    let mut summary = Summary::default();
    let mut indices = HashSet::new();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let got = match read_retrying(&mut input, &mut buf) {
            Ok(0) => break,
            Ok(got) => got,
            Err(error) => return Err(error).context("cannot read the stream"),
        };
        let mut piece = &buf[..got];
        while !piece.is_empty() {
            let step = decoder.decode(piece).context("invalid stream")?;
            piece = &piece[step.consumed..];
            match step.chunk {
                Some(Chunk::Inline(fragment)) => {
                    if fragment.is_first() {
                        let data_len = u64::try_from(fragment.data.len()).unwrap_or(u64::MAX);
                        let offset = decoder.position().saturating_sub(data_len + 8);
                        summary.chunks += 1;
                        summary.inline_chunks += 1;
                        each(Listed::Inline {
                            offset,
                            len: fragment.chunk_len(),
                        })?;
                    }
                    summary.inline_bytes += u64::try_from(fragment.data.len()).unwrap_or(0);
                }
                Some(Chunk::External(index)) => {
                    summary.chunks += 1;
                    summary.external_chunks += 1;
                    let index = index.get();
                    indices.insert(index);
                    summary.max_index = summary.max_index.max(Some(index));
                    each(Listed::External {
                        offset: decoder.position().saturating_sub(8),
                        index,
                    })?;
                }
                None => {}
            }
        }
    }
    decoder.finish().context("invalid stream")?;
    summary.distinct_indices = u64::try_from(indices.len()).unwrap_or(u64::MAX);
    summary.stream_bytes = decoder.position();
    Ok(summary)
}

/// The `inspect` command.
///
/// # Errors
///
/// The stream cannot be read or is malformed, or stdout fails.
pub fn run(stream: &Path, json: bool, format: Option<Format>) -> Result<()> {
    let file = File::open(stream).with_context(|| format!("cannot open {}", stream.display()))?;
    let mut segments =
        Segments::new(file).with_context(|| format!("cannot read {}", stream.display()))?;
    let head = segments
        .peek(6)
        .with_context(|| format!("cannot read {}", stream.display()))?;
    if cpio::is_cpio(head) {
        return image(segments, stream, json);
    }
    let file = Decompressed::from_segments(segments);
    let compression = file.compression();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let (false, Some(compression)) = (json, compression) {
        writeln!(out, "input: a {compression}-compressed stream")?;
    }
    let format = format
        .or_else(|| dir_list::format_beside(stream))
        .unwrap_or_default();
    if format == Format::Splitdirfdstream {
        crate::inspect_dir::write(file, json, &mut out)
            .with_context(|| format!("cannot inspect {}", stream.display()))?;
        out.flush()?;
        return Ok(());
    }
    let summary = if json {
        scan(file, |_| Ok(()))
    } else {
        writeln!(out, "{:>14}  {:<8}  length or index", "offset", "kind")?;
        scan(file, |listed| {
            match listed {
                Listed::Inline { offset, len } => writeln!(out, "{offset:>14}  inline    {len}")?,
                Listed::External { offset, index } => {
                    writeln!(out, "{offset:>14}  external  {index}")?;
                }
            }
            Ok(())
        })
    }
    .with_context(|| format!("cannot inspect {}", stream.display()))?;
    if json {
        let value = serde_json::json!({
            "chunks": summary.chunks,
            "inline_chunks": summary.inline_chunks,
            "inline_bytes": summary.inline_bytes,
            "external_chunks": summary.external_chunks,
            "distinct_indices": summary.distinct_indices,
            "max_index": summary.max_index,
            "stream_bytes": summary.stream_bytes,
            "compression": compression.map(|c| c.name()),
        });
        writeln!(out, "{value}")?;
    } else {
        let max = summary
            .max_index
            .map_or_else(|| "none".to_owned(), |max| max.to_string());
        writeln!(
            out,
            "{} chunks: {} inline ({} bytes), {} external ({} distinct indices, max {}); {} stream bytes",
            summary.chunks,
            summary.inline_chunks,
            summary.inline_bytes,
            summary.external_chunks,
            summary.distinct_indices,
            max,
            summary.stream_bytes,
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Reads and drops member contents: the walk alone says what the image holds.
struct Discard;

impl archive::Sink for Discard {
    type Error = anyhow::Error;

    fn inline(&mut self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }

    fn content(&mut self, content: &mut dyn Read, _len: u64) -> Result<()> {
        io::copy(content, &mut io::sink())?;
        Ok(())
    }
}

/// `inspect` of an initramfs image or cpio archive: its segments and what they hold.
fn image<R: Read>(mut segments: Segments<R>, path: &Path, json: bool) -> Result<()> {
    let walk = cpio::walk_image(&mut segments, &mut Discard)
        .with_context(|| format!("cannot inspect {}", path.display()))?;
    let input_bytes: u64 = walk.segments.iter().map(|s| s.compressed_len).sum();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if json {
        let listed: Vec<_> = walk
            .segments
            .iter()
            .map(|segment| {
                serde_json::json!({
                    "offset": segment.offset,
                    "compression": segment.compression.map(|c| c.name()),
                    "input_bytes": segment.compressed_len,
                    "bytes": segment.len,
                })
            })
            .collect();
        let value = serde_json::json!({
            "kind": "cpio",
            "segments": listed,
            "archives": walk.archives,
            "members": walk.members,
            "content_members": walk.content_members,
            "input_bytes": input_bytes,
            "bytes": walk.total_bytes,
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "input: an initramfs image (cpio newc/crc archives)")?;
        writeln!(
            out,
            "{:>14}  {:<12}  {:>14}  {:>14}",
            "offset", "compression", "input bytes", "bytes"
        )?;
        for segment in &walk.segments {
            let compression = segment.compression.map_or("none", |c| c.name());
            writeln!(
                out,
                "{:>14}  {compression:<12}  {:>14}  {:>14}",
                segment.offset, segment.compressed_len, segment.len
            )?;
        }
        writeln!(
            out,
            "{} segments: {} cpio archives, {} members ({} with data); {} input bytes, {} decompressed",
            walk.segments.len(),
            walk.archives,
            walk.members,
            walk.content_members,
            input_bytes,
            walk.total_bytes,
        )?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stream::StreamWriter;

    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lists_offsets_and_counts() {
        let mut writer = StreamWriter::new(Vec::new());
        writer.inline(b"hello").unwrap();
        writer.external(3).unwrap();
        writer.external(3).unwrap();
        writer.external(1).unwrap();
        writer.inline(b"!").unwrap();
        let (bytes, _) = writer.finish().unwrap();
        let mut listed = Vec::new();
        // One byte at a time, so prefixes and bodies arrive split.
        let reader = OneByte(&bytes[..]);
        let summary = scan(reader, |l| {
            listed.push(l);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            listed,
            vec![
                Listed::Inline { offset: 0, len: 5 },
                Listed::External {
                    offset: 13,
                    index: 3
                },
                Listed::External {
                    offset: 21,
                    index: 3
                },
                Listed::External {
                    offset: 29,
                    index: 1
                },
                Listed::Inline { offset: 37, len: 1 },
            ]
        );
        assert_eq!(
            summary,
            Summary {
                chunks: 5,
                inline_chunks: 2,
                inline_bytes: 6,
                external_chunks: 3,
                distinct_indices: 2,
                max_index: Some(3),
                stream_bytes: 46,
            }
        );
    }

    #[test]
    fn truncation_and_min_length_are_errors() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&(-5i64).to_le_bytes());
        stream.extend_from_slice(b"abc");
        let error = scan(&stream[..], |_| Ok(())).unwrap_err();
        assert!(format!("{error:#}").contains("truncated"), "{error:#}");
        let error = scan(&i64::MIN.to_le_bytes()[..], |_| Ok(())).unwrap_err();
        assert!(
            format!("{error:#}").contains("9223372036854775808"),
            "{error:#}"
        );
    }
}
