//! Update files on a host: written from a [`Delta`], compressed or not, and applied from
//! paths with every check and nothing left behind on failure.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::Path;

use embedded_io_adapters_07::std::FromStd;
use sha2::{Digest, Sha256};
use splitfdstream::update::{Encoder, Header, SourceRange};

use super::delta::{delta, Delta, Piece, DEFAULT_BLOCK_SIZE};
use super::image::{open_plain, Image};
use crate::embedded_io::{apply as apply_update, Applied, ApplyError};

/// How to make an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The block size of OLD's index ([`DEFAULT_BLOCK_SIZE`] by default).
    pub block_size: usize,
    /// Compress the whole file with zstd at this level (1 to 22), or not at all.
    pub compress: Option<i32>,
    /// The longest range: a device hashes a range before it uses it and checkpoints
    /// between chunks, so shorter ranges mean less re-done after a reset (1 MiB).
    pub max_range_len: u64,
    /// The longest inline chunk, for the same reason (64 KiB).
    pub max_inline_len: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_size: DEFAULT_BLOCK_SIZE,
            compress: None,
            max_range_len: 1 << 20,
            max_inline_len: 1 << 16,
        }
    }
}

/// What an update holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The target's length.
    pub target_len: u64,
    /// Source ranges in the table.
    pub ranges: u64,
    /// Target bytes taken from OLD.
    pub reused: u64,
    /// Target bytes carried in the update.
    pub new_bytes: u64,
    /// The update file's length, as written (compressed or not).
    pub update_len: u64,
}

/// Counts what passes through a writer.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += u64::try_from(n).map_err(io::Error::other)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn encode_error(error: splitfdstream::update::EncodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

/// Writes the update file that rebuilds `delta`'s target from `old` into `out`; returns
/// what it holds. Each range's SHA-256 is read from `old` here.
///
/// # Errors
///
/// An I/O error reading `old` or writing `out`.
pub fn write_update<O, W>(
    delta: &Delta,
    old: &mut O,
    out: W,
    options: &Options,
) -> io::Result<Summary>
where
    O: Read + Seek,
    W: Write,
{
    // The table: each piece of OLD cut to the longest range, identical ranges once.
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut numbers: HashMap<(u64, u64), u64> = HashMap::new();
    let mut chunks: Vec<Result<u64, usize>> = Vec::new();
    let max_range = options.max_range_len.max(1);
    for piece in &delta.pieces {
        match *piece {
            Piece::Old { mut offset, len } => {
                let end = offset + len;
                while offset < end {
                    let range = (offset, (end - offset).min(max_range));
                    let next = u64::try_from(ranges.len()).map_err(io::Error::other)?;
                    let number = *numbers.entry(range).or_insert_with(|| {
                        ranges.push(range);
                        next
                    });
                    chunks.push(Ok(number));
                    offset += range.1;
                }
            }
            Piece::New { len } => chunks.push(Err(len)),
        }
    }
    let header = Header {
        target_len: delta.target_len,
        target_sha256: delta.target_sha256,
        range_count: u64::try_from(ranges.len()).map_err(io::Error::other)?,
    };
    let mut counting = Counting {
        inner: out,
        count: 0,
    };
    {
        let mut sink: Box<dyn Write + '_> = match options.compress {
            Some(level) => Box::new(zstd::Encoder::new(&mut counting, level)?.auto_finish()),
            None => Box::new(BufWriter::with_capacity(1 << 16, &mut counting)),
        };
        let mut encoder = Encoder::new();
        let mut head = [0u8; splitfdstream::update::HEADER_LEN];
        let n = encoder.header(&header, &mut head).map_err(encode_error)?;
        sink.write_all(&head[..n])?;
        let mut buf = vec![0u8; 1 << 16];
        for &(offset, len) in &ranges {
            let sha256 = hash_range(old, offset, len, &mut buf)?;
            let record = SourceRange {
                offset,
                len,
                sha256,
            };
            let n = encoder.range(&record, &mut head).map_err(encode_error)?;
            sink.write_all(&head[..n])?;
        }
        let mut new_at = 0usize;
        let max_inline = options.max_inline_len.max(1);
        for chunk in chunks {
            match chunk {
                Ok(number) => {
                    let n = encoder.external(number, &mut head).map_err(encode_error)?;
                    sink.write_all(&head[..n])?;
                }
                Err(len) => {
                    let bytes = delta
                        .new_bytes
                        .get(new_at..new_at + len)
                        .unwrap_or_default();
                    new_at += len;
                    for piece in bytes.chunks(max_inline) {
                        let piece_len = u64::try_from(piece.len()).map_err(io::Error::other)?;
                        let n = encoder
                            .begin_inline(piece_len, &mut head)
                            .map_err(encode_error)?;
                        sink.write_all(&head[..n])?;
                        sink.write_all(piece)?;
                        encoder.advance_inline(piece_len).map_err(encode_error)?;
                    }
                }
            }
        }
        encoder.finish().map_err(encode_error)?;
        sink.flush()?;
    }
    counting.flush()?;
    Ok(Summary {
        target_len: delta.target_len,
        ranges: header.range_count,
        reused: delta.reused(),
        new_bytes: u64::try_from(delta.new_bytes.len()).map_err(io::Error::other)?,
        update_len: counting.count,
    })
}

fn hash_range<O: Read + Seek>(
    old: &mut O,
    offset: u64,
    len: u64,
    buf: &mut [u8],
) -> io::Result<[u8; 32]> {
    old.seek(SeekFrom::Start(offset))?;
    let mut hasher = Sha256::new();
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let n = old.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "OLD ended while hashing a range",
            ));
        }
        hasher.update(&buf[..n]);
        left -= u64::try_from(n).map_err(io::Error::other)?;
    }
    Ok(hasher.finalize().into())
}

/// Makes the update that rebuilds `new` from `old` and writes it to `update`, which
/// appears only once complete. `old` and `new` are [`Image`] specs: files, block devices,
/// partitions (`disk.img#2`), compressed files.
///
/// ```
/// use splitfdstream_adapters::std::update::{apply, make, Options};
///
/// let dir = tempfile::tempdir()?;
/// let old: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
/// let mut new = old.clone();
/// new[50_000..50_004].copy_from_slice(b"new!");
/// std::fs::write(dir.path().join("old"), &old)?;
/// std::fs::write(dir.path().join("new"), &new)?;
/// let summary = make(&dir.path().join("old"), &dir.path().join("new"), &dir.path().join("update"), &Options::default())?;
/// assert!(summary.new_bytes < 8192 && summary.update_len < 9000);
///
/// apply(&dir.path().join("update"), &dir.path().join("old"), &dir.path().join("copy"))?;
/// assert_eq!(std::fs::read(dir.path().join("copy"))?, new);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// An I/O error opening, reading or writing; nothing is left at `update` then.
pub fn make(old: &Path, new: &Path, update: &Path, options: &Options) -> io::Result<Summary> {
    let mut old_image = Image::open(old)?;
    let new_image = Image::open(new)?;
    let delta = delta(
        &mut old_image,
        io::BufReader::with_capacity(1 << 20, new_image),
        options.block_size,
    )?;
    let mut temp = temp_beside(update)?;
    let summary = write_update(&delta, &mut old_image, temp.as_file_mut(), options)?;
    temp.as_file().sync_all()?;
    temp.persist(update).map_err(|error| error.error)?;
    Ok(summary)
}

fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".splitfdstream-")
        .tempfile_in(dir)
}

/// Opens an update file, decompressed when it is zstd- or gzip-compressed.
///
/// # Errors
///
/// An I/O error, a corrupt compressed file, `Unsupported` for xz.
pub fn open_update(path: &Path) -> io::Result<File> {
    open_plain(File::open(path)?)
}

/// Applies the update at `update` (compressed or not) to `old`, an [`Image`] spec, and
/// writes the target to `new`, which appears only once complete, checked and on disk.
/// Every range is checked by SHA-256 before its bytes are used, and the target's length
/// and SHA-256 at the end; returns the target's length. The applier is the `no_std` one
/// of [`embedded_io::apply`](crate::embedded_io::apply), through a 1 MiB buffer.
///
/// # Errors
///
/// `InvalidData` wrapping the [`ApplyError`] when the update is malformed or does not
/// match `old` (the message names the first range that differs), or an I/O error; nothing
/// is left at `new` then.
pub fn apply(update: &Path, old: &Path, new: &Path) -> io::Result<u64> {
    let update_file = open_update(update)?;
    let old_image = Image::open(old)?;
    let mut temp = temp_beside(new)?;
    let mut buf = vec![0u8; 1 << 20];
    let applied = apply_update(
        FromStd::new(io::BufReader::with_capacity(1 << 16, update_file)),
        FromStd::new(old_image),
        FromStd::new(BufWriter::with_capacity(1 << 20, temp.as_file_mut())),
        &mut buf,
        |_| ControlFlow::Continue(()),
    )
    .map_err(apply_error)?;
    let Applied::Complete { len } = applied else {
        return Err(io::Error::other("the apply stopped before its end"));
    };
    temp.as_file().sync_all()?;
    temp.persist(new).map_err(|error| error.error)?;
    Ok(len)
}

/// An [`ApplyError`] as an `io::Error`: `InvalidData` for what is wrong with the update or
/// OLD, the I/O kind otherwise.
fn apply_error(error: ApplyError) -> io::Error {
    let kind = match error {
        ApplyError::Update(kind) | ApplyError::Old(kind) | ApplyError::New(kind) => kind.into(),
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, error)
}
