//! cpio `newc` (`070701`) and `crc` (`070702`) archives, and initramfs images.
//!
//! A member is a 110-byte ASCII header (the magic, then 13 fields of 8 hex digits), the
//! name with its NUL, padded to a multiple of 4 from the header's start, then the data,
//! padded to a multiple of 4. `TRAILER!!!` ends an archive. In a `crc` archive the last
//! field is the 32-bit sum of a regular file's data bytes. Hard-linked files carry their
//! data once, on the last link; the others have no data.
//!
//! An initramfs image is, as the kernel reads it, any sequence of NUL bytes, plain cpio
//! archives and compressed members (each decompressing to NUL bytes and cpio archives).
//! [`walk_image`] walks such an image, or a single archive, plain or compressed:
//! headers, names, padding and NULs go inline and each regular file's data is content.
//!
//! ```
//! use std::io::Read;
//! use splitfdstream_adapters::archive::{cpio, Sink};
//! use splitfdstream_adapters::decompress::Segments;
//!
//! /// Keeps the contents, counts the rest.
//! #[derive(Default)]
//! struct Split { inline: usize, contents: Vec<Vec<u8>> }
//! impl Sink for Split {
//!     type Error = std::io::Error;
//!     fn inline(&mut self, bytes: &[u8]) -> std::io::Result<()> {
//!         self.inline += bytes.len();
//!         Ok(())
//!     }
//!     fn content(&mut self, content: &mut dyn Read, _len: u64) -> std::io::Result<()> {
//!         let mut bytes = Vec::new();
//!         content.read_to_end(&mut bytes)?;
//!         self.contents.push(bytes);
//!         Ok(())
//!     }
//! }
//!
//! let mut archive = Vec::new();
//! for (name, mode, data) in [("hello", 0o100644, &b"hi!\n"[..]), ("TRAILER!!!", 0, b"")] {
//!     let header = format!(
//!         "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
//!         1, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0,
//!     );
//!     archive.extend_from_slice(header.as_bytes());
//!     archive.extend_from_slice(name.as_bytes());
//!     archive.push(0);
//!     archive.resize(archive.len().next_multiple_of(4), 0);
//!     archive.extend_from_slice(data);
//! }
//! let mut split = Split::default();
//! let walk = cpio::walk_image(&mut Segments::new(&archive[..])?, &mut split)?;
//! assert_eq!((walk.archives, walk.members, walk.content_members), (1, 2, 1));
//! assert_eq!(split.contents, [b"hi!\n"]);
//! assert_eq!(split.inline + 4, archive.len());
//! # Ok::<(), std::io::Error>(())
//! ```

use ::std::fmt;
use ::std::io::{self, BufRead, Read};
use ::std::string::{String, ToString};
use ::std::vec::Vec;

use super::Sink;
use crate::decompress::{Segment, Segments};

/// Length of a header.
pub const HEADER_LEN: usize = 110;
const HEADER_LEN_U64: u64 = 110;
/// The name of the member that ends an archive.
pub const TRAILER: &[u8] = b"TRAILER!!!";
/// Longest name accepted (with its NUL); the kernel's limit is `PATH_MAX`.
pub const MAX_NAME: u32 = 64 * 1024;

/// The two formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `070701`: no checksum.
    Newc,
    /// `070702`: the sum of each regular file's data bytes.
    Crc,
}

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `newc` or `crc`.
    pub format: Format,
    /// Inode number.
    pub ino: u32,
    /// File type and permissions.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Number of links.
    pub nlink: u32,
    /// Modification time.
    pub mtime: u32,
    /// Bytes of data after the name.
    pub filesize: u32,
    /// Device of the file: major.
    pub devmajor: u32,
    /// Device of the file: minor.
    pub devminor: u32,
    /// For a device node: major.
    pub rdevmajor: u32,
    /// For a device node: minor.
    pub rdevminor: u32,
    /// Bytes of the name, with its NUL.
    pub namesize: u32,
    /// The checksum (`crc`) or 0.
    pub check: u32,
}

const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

impl Header {
    /// Parses a header.
    ///
    /// # Errors
    ///
    /// [`Problem::Odc`] or [`Problem::OldBinary`] for the formats refused,
    /// [`Problem::NotCpio`] for another magic, [`Problem::NotHex`] for a field that is not
    /// 8 hex digits.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Header, Problem> {
        let format = match &bytes[..6] {
            b"070701" => Format::Newc,
            b"070702" => Format::Crc,
            b"070707" => return Err(Problem::Odc),
            magic if is_old_binary(magic) => return Err(Problem::OldBinary),
            _ => return Err(Problem::NotCpio),
        };
        let mut fields = [0u32; 13];
        for (i, (field, name)) in fields.iter_mut().zip(FIELDS).enumerate() {
            let at = 6 + 8 * i;
            *field = parse_hex(&bytes[at..at + 8]).ok_or(Problem::NotHex { field: name })?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
            fields;
        Ok(Header {
            format,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            namesize,
            check,
        })
    }

    /// Whether the member is a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & 0o170_000 == 0o100_000
    }

    /// Bytes of the name and its padding after the header.
    pub fn name_span(&self) -> u64 {
        pad4(HEADER_LEN_U64 + u64::from(self.namesize)) - HEADER_LEN_U64
    }

    /// Bytes of padding after the data.
    pub fn data_padding(&self) -> u64 {
        let size = u64::from(self.filesize);
        pad4(size) - size
    }
}

/// Whether `magic` starts an old binary cpio header (either byte order).
fn is_old_binary(magic: &[u8]) -> bool {
    magic.starts_with(&[0xc7, 0x71]) || magic.starts_with(&[0x71, 0xc7])
}

fn pad4(len: u64) -> u64 {
    len.div_ceil(4) * 4
}

fn parse_hex(field: &[u8]) -> Option<u32> {
    field.iter().try_fold(0u32, |value, &digit| {
        let digit = char::from(digit).to_digit(16)?;
        Some((value << 4) | digit)
    })
}

/// The `crc` format's checksum: the 32-bit wrapping sum of the bytes, added to `sum`.
pub fn checksum(sum: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(sum, |sum, &byte| sum.wrapping_add(u32::from(byte)))
}

/// What is wrong with a cpio archive or image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The portable ASCII format (`070707`), which the kernel refuses too.
    Odc,
    /// The old binary format, which the kernel refuses too.
    OldBinary,
    /// Not a cpio header.
    NotCpio,
    /// A header field is not 8 hex digits.
    NotHex {
        /// The field's name.
        field: &'static str,
    },
    /// The input ends inside a header.
    TruncatedHeader {
        /// Header bytes present.
        got: u64,
    },
    /// The name size is 0 or above [`MAX_NAME`].
    NameSize(u32),
    /// The name does not end with a NUL.
    NameWithoutNul,
    /// The input ends inside a member's name, data or padding.
    PastEnd {
        /// The member's name (its bytes escaped unless UTF-8).
        name: String,
        /// Bytes the member needs.
        needed: u64,
        /// Bytes there were.
        got: u64,
    },
    /// A `crc` member's data does not sum to its checksum.
    Checksum {
        /// The member's name (its bytes escaped unless UTF-8).
        name: String,
        /// The header's checksum.
        expected: u32,
        /// The sum of the data.
        actual: u32,
    },
    /// Bytes in a compressed member that start no cpio archive.
    JunkInMember,
    /// Bytes between archives that are neither NULs, a cpio archive nor a compressed
    /// member.
    NotAnImagePart {
        /// Their offset in the (compressed) input.
        input_offset: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Odc => f.write_str(
                "the portable cpio format (odc, 070707) is not supported, as by the kernel; use newc (cpio -H newc)",
            ),
            Problem::OldBinary => f.write_str(
                "the old binary cpio format is not supported, as by the kernel; use newc (cpio -H newc)",
            ),
            Problem::NotCpio => f.write_str("not a cpio newc or crc header"),
            Problem::NotHex { field } => {
                write!(f, "the {field} field of the header is not 8 hex digits")
            }
            Problem::TruncatedHeader { got } => {
                write!(f, "truncated header: {got} of {HEADER_LEN} bytes")
            }
            Problem::NameSize(size) => write!(f, "name size {size} is not between 1 and {MAX_NAME}"),
            Problem::NameWithoutNul => f.write_str("the name does not end with a NUL"),
            Problem::PastEnd { name, needed, got } => write!(
                f,
                "member \"{name}\" runs past the end of its input: {got} of {needed} bytes"
            ),
            Problem::Checksum {
                name,
                expected,
                actual,
            } => write!(
                f,
                "member \"{name}\": its data sums to {actual:#010x}, the header says {expected:#010x}"
            ),
            Problem::JunkInMember => {
                f.write_str("junk within a compressed member: neither NUL padding nor a cpio archive")
            }
            Problem::NotAnImagePart { input_offset } => write!(
                f,
                "the bytes at input offset {input_offset} are neither NUL padding, a cpio archive nor a compressed member (gzip, zstd, xz, bzip2, lz4)",
            ),
        }
    }
}

/// A [`Problem`] and where: the offset in the decompressed input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpioError {
    offset: u64,
    problem: Problem,
}

impl CpioError {
    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The offset, in the decompressed input, of the header or bytes at fault.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpio at offset {}: {}", self.offset, self.problem)
    }
}

impl ::std::error::Error for CpioError {}

impl From<CpioError> for io::Error {
    fn from(error: CpioError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// What a walk found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Archives, each ended by its trailer.
    pub archives: u64,
    /// Members, trailers included.
    pub members: u64,
    /// Regular members whose non-empty data went to [`Sink::content`].
    pub content_members: u64,
    /// Decompressed bytes walked.
    pub total_bytes: u64,
    /// The image's segments: plain parts and compressed members, with their offsets.
    pub segments: Vec<Segment>,
}

/// Whether a decompressed input starting with `head` is a cpio archive (of any format,
/// so that the ones refused are refused by name).
pub fn is_cpio(head: &[u8]) -> bool {
    head.starts_with(b"0707") || is_old_binary(head)
}

/// Walks an initramfs image (or one archive), plain or compressed, handing every
/// decompressed byte to `sink`.
///
/// # Errors
///
/// Reading or decompressing fails, the sink fails, or the image is malformed (a
/// [`CpioError`] in an `io::Error` of kind `InvalidData`).
pub fn walk_image<R: Read, S: Sink>(
    input: &mut Segments<R>,
    sink: &mut S,
) -> Result<Walk, S::Error> {
    let mut walk = Walk::default();
    loop {
        let start = input.position();
        let buf = input.fill_buf()?;
        let Some(&first) = buf.first() else {
            if input.next_segment()?.is_none() {
                break;
            }
            continue;
        };
        if first == 0 {
            let zeros = buf.iter().take_while(|&&byte| byte == 0).count();
            sink.inline(&buf[..zeros])?;
            input.consume(zeros);
            continue;
        }
        if is_cpio(buf) || first == b'0' {
            walk_archive(input, sink, &mut walk)?;
            continue;
        }
        let fail = |problem| {
            io::Error::from(CpioError {
                offset: start,
                problem,
            })
        };
        if input.current().is_some_and(|s| s.compression.is_some()) {
            return Err(fail(Problem::JunkInMember).into());
        }
        match input.next_segment()? {
            Some(segment) if segment.compression.is_some() => {}
            next => {
                let input_offset = next.map_or(0, |segment| segment.offset);
                return Err(fail(Problem::NotAnImagePart { input_offset }).into());
            }
        }
    }
    walk.total_bytes = input.position();
    walk.segments = input.segments().to_vec();
    Ok(walk)
}

/// Walks one archive, up to and including its trailer's name.
fn walk_archive<R: Read, S: Sink>(
    input: &mut Segments<R>,
    sink: &mut S,
    walk: &mut Walk,
) -> Result<(), S::Error> {
    loop {
        let offset = input.position();
        let fail = |problem| io::Error::from(CpioError { offset, problem });
        let mut block = [0u8; HEADER_LEN];
        let got = read_full(input, &mut block)?;
        sink.inline(&block[..got])?;
        if got < HEADER_LEN {
            let got = u64::try_from(got).unwrap_or(0);
            return Err(fail(Problem::TruncatedHeader { got }).into());
        }
        let header = Header::parse(&block).map_err(fail)?;
        if header.namesize == 0 || header.namesize > MAX_NAME {
            return Err(fail(Problem::NameSize(header.namesize)).into());
        }
        walk.members += 1;
        // The name size is at most MAX_NAME, so this is small.
        let mut name = vec![0u8; usize::try_from(header.name_span()).unwrap_or(0)];
        let got = read_full(input, &mut name)?;
        sink.inline(&name[..got])?;
        let namesize = usize::try_from(header.namesize).unwrap_or(usize::MAX);
        if got < name.len() {
            let partial = &name[..got.min(namesize)];
            let partial = partial.strip_suffix(b"\0").unwrap_or(partial);
            let partial = shown_name(partial);
            return Err(past_end(offset, partial, header.name_span(), got).into());
        }
        name.truncate(namesize);
        if name.pop() != Some(0) {
            return Err(fail(Problem::NameWithoutNul).into());
        }
        let shown = || shown_name(&name);
        let size = u64::from(header.filesize);
        if header.is_regular() && size > 0 {
            walk.content_members += 1;
            let mut content = Content {
                input: &mut *input,
                left: size,
                sum: 0,
            };
            sink.content(&mut content, size)?;
            io::copy(&mut content, &mut io::sink())?;
            if content.left > 0 {
                return Err(past_end(offset, shown(), size, size - content.left).into());
            }
            let actual = content.sum;
            if header.format == Format::Crc && actual != header.check {
                return Err(fail(Problem::Checksum {
                    name: shown(),
                    expected: header.check,
                    actual,
                })
                .into());
            }
        } else {
            let got = copy_inline(input, size, sink)?;
            if got < size {
                return Err(past_end(offset, shown(), size, got).into());
            }
        }
        let padding = header.data_padding();
        let got = copy_inline(input, padding, sink)?;
        if got < padding {
            return Err(past_end(offset, shown(), padding, got).into());
        }
        if name == TRAILER {
            walk.archives += 1;
            return Ok(());
        }
    }
}

/// A member's name for a message: as it is when it is UTF-8, else with its bytes escaped.
fn shown_name(name: &[u8]) -> String {
    match ::std::str::from_utf8(name) {
        Ok(name) => name.into(),
        Err(_) => name.escape_ascii().to_string(),
    }
}

fn past_end(offset: u64, name: String, needed: u64, got: impl TryInto<u64>) -> io::Error {
    let got = got.try_into().unwrap_or(0);
    CpioError {
        offset,
        problem: Problem::PastEnd { name, needed, got },
    }
    .into()
}

/// A regular member's data, summed as it is read.
struct Content<'a, R: Read> {
    input: &'a mut Segments<R>,
    left: u64,
    sum: u32,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left).map_or(out.len(), |left| left.min(out.len()));
        if want == 0 {
            return Ok(0);
        }
        let buf = self.input.fill_buf()?;
        let n = buf.len().min(want);
        out[..n].copy_from_slice(&buf[..n]);
        self.sum = checksum(self.sum, &buf[..n]);
        self.input.consume(n);
        self.left -= u64::try_from(n).unwrap_or(self.left);
        Ok(n)
    }
}

/// Reads until `buf` is full or the segment ends; returns the bytes read.
fn read_full<R: Read>(input: &mut Segments<R>, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        let n = available.len().min(buf.len() - filled);
        buf[filled..filled + n].copy_from_slice(&available[..n]);
        input.consume(n);
        filled += n;
    }
    Ok(filled)
}

/// Passes up to `len` bytes inline; returns how many there were.
fn copy_inline<R: Read, S: Sink>(
    input: &mut Segments<R>,
    len: u64,
    sink: &mut S,
) -> Result<u64, S::Error> {
    let mut left = len;
    while left > 0 {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        let n = usize::try_from(left).map_or(available.len(), |left| left.min(available.len()));
        sink.inline(&available[..n])?;
        input.consume(n);
        left -= u64::try_from(n).unwrap_or(left);
    }
    Ok(len - left)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
