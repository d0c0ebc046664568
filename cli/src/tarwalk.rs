//! A byte-exact walk over a tar archive: which bytes are member content and which are not.
//!
//! The walk never changes or drops a byte: every input byte goes to the [`Sink`] exactly
//! once, in order, either as metadata ([`Sink::inline`]: headers, extended records,
//! padding, end-of-archive blocks, record padding, anything after them) or as the stored
//! content of a regular member ([`Sink::content`]). Joining the two in order is therefore
//! the input, whatever the archive holds.
//!
//! Headers are read in 512-byte blocks and recognised by their checksum, in every format
//! GNU tar writes (v7, oldgnu, gnu, ustar, pax). The size of the data that follows a header
//! is the header's size field (octal or base-256), overridden by a preceding pax `size`
//! record; link, symlink, device, directory and FIFO headers carry no data, as in Go's
//! `archive/tar` (and so in tar-split). Old GNU sparse members (`S`) store fewer bytes than
//! their logical size: the size field counts the stored bytes, and extension headers
//! (flagged at offset 482, then 504) sit between the header and the data. A block that is
//! not a valid header ends the walk: it and everything after it stay metadata.

use std::io::{self, Read};

use anyhow::{bail, Context, Result};
use splitfdstream_adapters::std::read_retrying;

/// A tar block.
pub const BLOCK: usize = 512;
const BLOCK_U64: u64 = 512;
/// How much of a pax extended header is kept in memory to look for a `size` record.
const MAX_PAX_PARSE: u64 = 1 << 20;
/// How much is read at a time when passing metadata through.
const COPY_CHUNK: usize = 256 * 1024;

/// Receives the archive's bytes, in order, from [`walk`].
pub trait Sink {
    /// Bytes that are not member content.
    ///
    /// # Errors
    ///
    /// Whatever the sink fails with; the walk stops.
    fn inline(&mut self, bytes: &[u8]) -> Result<()>;

    /// The stored content of a regular member: `len` bytes that the sink must read from
    /// `content` until its end. Fewer arrive only if the input ends early.
    ///
    /// # Errors
    ///
    /// Whatever the sink fails with; the walk stops.
    fn content(&mut self, content: &mut dyn Read, len: u64) -> Result<()>;
}

/// What a walk found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Headers recognised (including extended-header members).
    pub headers: u64,
    /// Regular members whose non-empty content went to [`Sink::content`].
    pub content_members: u64,
    /// Input bytes read.
    pub total_bytes: u64,
    /// Offset of a block that was not a valid header, from which everything stayed
    /// metadata; `None` when every block up to the end was understood.
    pub unparsed_from: Option<u64>,
}

/// What a header says about the data after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    typeflag: u8,
    size: u64,
    /// Old GNU sparse: extension headers follow.
    sparse_extended: bool,
}

/// Walks `input`, handing every byte to `sink`.
///
/// # Errors
///
/// The input cannot be read, the sink fails, or the input is not a tar archive at all
/// (empty, or its first block is neither a valid header nor zeros).
pub fn walk(input: impl Read, sink: &mut impl Sink) -> Result<Walk> {
    let mut input = Counting {
        inner: input,
        count: 0,
    };
    let mut walk = Walk::default();
    let mut block = [0u8; BLOCK];
    let mut first = true;
    let mut pax_size: Option<u64> = None;
    loop {
        let offset = input.count;
        let got = read_full(&mut input, &mut block).context("cannot read the archive")?;
        if first {
            check_first_block(&block[..got])?;
            first = false;
        }
        if got < BLOCK {
            sink.inline(&block[..got])?;
            break;
        }
        if block.iter().all(|&byte| byte == 0) {
            sink.inline(&block)?;
            continue;
        }
        let Some(header) = parse_header(&block) else {
            walk.unparsed_from = Some(offset);
            sink.inline(&block)?;
            copy_rest(&mut input, sink)?;
            break;
        };
        walk.headers += 1;
        sink.inline(&block)?;
        if header.sparse_extended && !pass_sparse_extensions(&mut input, sink)? {
            break;
        }
        let size = match header.typeflag {
            b'x' | b'g' | b'X' | b'L' | b'K' => header.size,
            _ => pax_size.take().unwrap_or(header.size),
        };
        let len = match header.typeflag {
            b'1'..=b'6' => 0,
            _ => size,
        };
        let complete = match header.typeflag {
            b'0' | b'\0' | b'7' | b'S' if len > 0 => {
                walk.content_members += 1;
                let mut content = (&mut input).take(len);
                sink.content(&mut content, len)?;
                // Whatever the sink left unread is still content; drain it so the walk
                // never desynchronises.
                let left =
                    io::copy(&mut content, &mut io::sink()).context("cannot read the archive")?;
                if left > 0 {
                    bail!("internal error: {left} content bytes were not consumed");
                }
                content.limit() == 0
            }
            b'x' => {
                let mut records = Vec::new();
                let complete = copy_inline(&mut input, len, sink, Some(&mut records))?;
                if complete && len <= MAX_PAX_PARSE {
                    pax_size = pax_size_record(&records);
                }
                complete
            }
            _ => copy_inline(&mut input, len, sink, None)?,
        };
        if !complete {
            break;
        }
        if !copy_inline(&mut input, padding(len), sink, None)? {
            break;
        }
    }
    walk.total_bytes = input.count;
    Ok(walk)
}

fn check_first_block(block: &[u8]) -> Result<()> {
    if block.is_empty() {
        bail!("not a tar archive: the input is empty");
    }
    if block.len() < BLOCK {
        bail!(
            "not a tar archive: the input is {} bytes, shorter than one 512-byte block",
            block.len()
        );
    }
    let mut full = [0u8; BLOCK];
    full.copy_from_slice(block);
    if full.iter().all(|&byte| byte == 0) || parse_header(&full).is_some() {
        Ok(())
    } else {
        bail!(
            "not a tar archive: the first 512-byte block is not a valid tar header (bad checksum)"
        )
    }
}

/// Passes old GNU sparse extension blocks through; `false` if the input ended among them.
fn pass_sparse_extensions(input: &mut impl Read, sink: &mut impl Sink) -> Result<bool> {
    let mut block = [0u8; BLOCK];
    loop {
        let got = read_full(input, &mut block).context("cannot read the archive")?;
        sink.inline(&block[..got])?;
        if got < BLOCK {
            return Ok(false);
        }
        if block[504] == 0 {
            return Ok(true);
        }
    }
}

/// Passes `len` bytes through as metadata, keeping up to [`MAX_PAX_PARSE`] of them in
/// `capture`; `false` if the input ended first.
fn copy_inline(
    input: &mut impl Read,
    len: u64,
    sink: &mut impl Sink,
    mut capture: Option<&mut Vec<u8>>,
) -> Result<bool> {
    let mut buf = vec![0u8; COPY_CHUNK.min(usize::try_from(len).unwrap_or(COPY_CHUNK))];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let got = read_full(input, &mut buf[..want]).context("cannot read the archive")?;
        sink.inline(&buf[..got])?;
        if let Some(capture) = capture.as_deref_mut() {
            if u64::try_from(capture.len() + got).is_ok_and(|total| total <= MAX_PAX_PARSE) {
                capture.extend_from_slice(&buf[..got]);
            }
        }
        if got < want {
            return Ok(false);
        }
        left -= u64::try_from(got).unwrap_or(left);
    }
    Ok(true)
}

fn copy_rest(input: &mut impl Read, sink: &mut impl Sink) -> Result<()> {
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        let got = read_full(input, &mut buf).context("cannot read the archive")?;
        sink.inline(&buf[..got])?;
        if got < buf.len() {
            return Ok(());
        }
    }
}

/// Padding after `len` data bytes, up to the next block boundary.
fn padding(len: u64) -> u64 {
    (BLOCK_U64 - len % BLOCK_U64) % BLOCK_U64
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_retrying(input, &mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The header in `block`, if its checksum is valid and its size field readable.
fn parse_header(block: &[u8; BLOCK]) -> Option<Header> {
    let stored = parse_octal(&block[148..156])?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &byte) in block.iter().enumerate() {
        let byte = if (148..156).contains(&i) { b' ' } else { byte };
        unsigned += u64::from(byte);
        signed += i64::from(i8::from_ne_bytes([byte]));
    }
    let signed_matches = u64::try_from(signed).is_ok_and(|signed| signed == stored);
    if unsigned != stored && !signed_matches {
        return None;
    }
    let typeflag = block[156];
    let size = parse_numeric(&block[124..136])?;
    Some(Header {
        typeflag,
        size,
        sparse_extended: typeflag == b'S' && block[482] != 0,
    })
}

/// A numeric field: octal (padded with spaces or NULs), or base-256 when the high bit of
/// the first byte is set. Negative base-256 values and overflows are rejected.
fn parse_numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            if first & 0x40 != 0 {
                return None; // negative
            }
            let mut value = u64::from(first & 0x3f);
            for &byte in &field[1..] {
                value = value.checked_mul(256)?.checked_add(u64::from(byte))?;
            }
            Some(value)
        }
        _ => parse_octal(field),
    }
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let trimmed = trim(field);
    let mut value: u64 = 0;
    for &byte in trimmed {
        if !(b'0'..=b'7').contains(&byte) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

fn trim(field: &[u8]) -> &[u8] {
    let pad = |byte: &u8| *byte == b' ' || *byte == 0;
    let start = field.iter().position(|b| !pad(b)).unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !pad(b))
        .map_or(start, |end| end + 1);
    &field[start..end]
}

/// The last `size` record of pax extended-header records, if any is well formed.
fn pax_size_record(mut records: &[u8]) -> Option<u64> {
    let mut size = None;
    while !records.is_empty() {
        let space = records.iter().position(|&byte| byte == b' ')?;
        let len: usize = std::str::from_utf8(&records[..space]).ok()?.parse().ok()?;
        if len <= space + 1 || len > records.len() {
            return size;
        }
        let record = records[space + 1..len].strip_suffix(b"\n")?;
        if let Some(value) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(value).ok()?.parse().ok();
        }
        records = &records[len..];
    }
    size
}

struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += u64::try_from(n).unwrap_or(0);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Record {
        pieces: Vec<(bool, Vec<u8>)>,
    }

    impl Sink for Record {
        fn inline(&mut self, bytes: &[u8]) -> Result<()> {
            self.pieces.push((false, bytes.to_vec()));
            Ok(())
        }
        fn content(&mut self, content: &mut dyn Read, _len: u64) -> Result<()> {
            let mut bytes = Vec::new();
            content.read_to_end(&mut bytes)?;
            self.pieces.push((true, bytes));
            Ok(())
        }
    }

    impl Record {
        fn joined(&self) -> Vec<u8> {
            self.pieces.iter().flat_map(|(_, b)| b.clone()).collect()
        }
        fn contents(&self) -> Vec<Vec<u8>> {
            self.pieces
                .iter()
                .filter(|(c, _)| *c)
                .map(|(_, b)| b.clone())
                .collect()
        }
    }

    fn header(name: &str, typeflag: u8, size: u64) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..108].copy_from_slice(b"0000644\0");
        let size = format!("{size:011o}\0");
        block[124..136].copy_from_slice(size.as_bytes());
        block[156] = typeflag;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        seal(&mut block);
        block
    }

    fn seal(block: &mut [u8; BLOCK]) {
        block[148..156].copy_from_slice(b"        ");
        let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn member(out: &mut Vec<u8>, name: &str, typeflag: u8, body: &[u8]) {
        out.extend_from_slice(&header(name, typeflag, u64::try_from(body.len()).unwrap()));
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    fn run(archive: &[u8]) -> (Walk, Record) {
        let mut record = Record::default();
        let walk = walk(archive, &mut record).unwrap();
        assert_eq!(
            record.joined(),
            archive,
            "every byte passes through in order"
        );
        (walk, record)
    }

    #[test]
    fn regular_contents_are_separated_from_metadata() {
        let mut archive = Vec::new();
        member(&mut archive, "a", b'0', b"hello");
        member(&mut archive, "dir/", b'5', b"");
        member(&mut archive, "b", b'\0', &[7u8; 1000]);
        archive.extend_from_slice(&[0u8; 1024]);
        let (walk, record) = run(&archive);
        assert_eq!(walk.headers, 3);
        assert_eq!(walk.unparsed_from, None);
        assert_eq!(record.contents(), vec![b"hello".to_vec(), vec![7u8; 1000]]);
    }

    #[test]
    fn extended_records_stay_inline_and_pax_size_overrides() {
        let mut archive = Vec::new();
        member(&mut archive, "././@LongLink", b'L', b"a/very/long/name\0");
        member(&mut archive, "pax", b'x', b"11 size=12\n");
        // The ustar size field says 3, the pax record 12.
        archive.extend_from_slice(&header("f", b'0', 3));
        archive.extend_from_slice(b"twelve bytes");
        archive.resize(archive.len().div_ceil(BLOCK) * BLOCK, 0);
        member(&mut archive, "g", b'0', b"next");
        let (walk, record) = run(&archive);
        assert_eq!(walk.unparsed_from, None);
        assert_eq!(
            record.contents(),
            vec![b"twelve bytes".to_vec(), b"next".to_vec()]
        );
    }

    #[test]
    fn links_and_devices_carry_no_data_even_with_a_size() {
        let mut archive = Vec::new();
        archive.extend_from_slice(&header("hard", b'1', 5000));
        member(&mut archive, "c", b'0', b"after");
        let (walk, record) = run(&archive);
        assert_eq!(walk.headers, 2);
        assert_eq!(record.contents(), vec![b"after".to_vec()]);
    }

    #[test]
    fn old_gnu_sparse_extensions_precede_the_stored_bytes() {
        let mut block = header("sparse", b'S', 4);
        block[482] = 1;
        seal(&mut block);
        let mut archive = block.to_vec();
        let mut extension = [0u8; BLOCK];
        extension[504] = 1;
        archive.extend_from_slice(&extension);
        archive.extend_from_slice(&[0u8; BLOCK]); // last extension block
        archive.extend_from_slice(b"data");
        archive.resize(archive.len().div_ceil(BLOCK) * BLOCK, 0);
        member(&mut archive, "z", b'0', b"z");
        let (_, record) = run(&archive);
        assert_eq!(record.contents(), vec![b"data".to_vec(), b"z".to_vec()]);
    }

    #[test]
    fn garbage_after_the_first_header_stays_inline() {
        let mut archive = Vec::new();
        member(&mut archive, "a", b'0', b"x");
        let garbage_at = u64::try_from(archive.len()).unwrap();
        archive.extend_from_slice(&[0x55u8; 3000]);
        let (walk, record) = run(&archive);
        assert_eq!(walk.unparsed_from, Some(garbage_at));
        assert_eq!(record.contents(), vec![b"x".to_vec()]);
    }

    #[test]
    fn truncated_archives_pass_through() {
        let mut archive = Vec::new();
        member(&mut archive, "a", b'0', &[1u8; 2000]);
        for cut in [0, 100, 512, 700, 2560 - 1] {
            let (_, _) = run(&archive[..cut.max(512)]);
        }
    }

    #[test]
    fn non_tar_input_is_an_error() {
        let errors = [
            (&b""[..], "empty"),
            (&b"short"[..], "shorter than one 512-byte block"),
            (&[b'x'; 1024][..], "bad checksum"),
        ];
        for (input, message) in errors {
            let error = walk(input, &mut Record::default()).unwrap_err();
            assert!(format!("{error:#}").contains(message), "{error:#}");
        }
    }

    #[test]
    fn base256_sizes_are_read() {
        let mut block = header("big", b'0', 0);
        let mut size = [0u8; 12];
        size[0] = 0x80;
        size[11] = 6;
        block[124..136].copy_from_slice(&size);
        seal(&mut block);
        let mut archive = block.to_vec();
        archive.extend_from_slice(b"base-2");
        archive.resize(1024, 0);
        member(&mut archive, "next", b'0', b"after");
        let (walk, record) = run(&archive);
        assert_eq!(walk.unparsed_from, None);
        assert_eq!(
            record.contents(),
            vec![b"base-2".to_vec(), b"after".to_vec()]
        );
    }

    #[test]
    fn corrupted_archives_pass_through_without_panicking() {
        let mut archive = Vec::new();
        member(&mut archive, "pax", b'x', b"11 size=12\n");
        member(&mut archive, "a", b'0', &[1u8; 700]);
        let mut sparse = header("s", b'S', 3);
        sparse[482] = 1;
        seal(&mut sparse);
        archive.extend_from_slice(&sparse);
        archive.extend_from_slice(&[0u8; BLOCK]);
        member(&mut archive, "b", b'0', b"bbb");
        archive.extend_from_slice(&[0u8; 1024]);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % 1_000_000).unwrap()
        };
        for _ in 0..3000 {
            let mut mutated = archive.clone();
            for _ in 0..1 + next() % 4 {
                let at = 512 + next() % (mutated.len() - 512);
                mutated[at] = u8::try_from(next() % 256).unwrap();
            }
            // Re-seal some headers so that corrupted fields are parsed, not rejected.
            if next() % 2 == 0 {
                let at = (next() % (mutated.len() / BLOCK)) * BLOCK;
                let block: &mut [u8; BLOCK] = (&mut mutated[at..at + BLOCK]).try_into().unwrap();
                seal(block);
            }
            let cut = mutated.len() - next() % 600;
            run(&mutated[..cut]);
        }
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"00000000012\0"), Some(10));
        assert_eq!(parse_numeric(b"   12 \0\0\0\0\0\0"), Some(10));
        assert_eq!(parse_numeric(b"\0\0\0\0\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(parse_numeric(b"0000000001x\0"), None);
        let mut base256 = [0u8; 12];
        base256[0] = 0x80;
        base256[7..].copy_from_slice(&[0x02, 0, 0, 0, 0x01]);
        assert_eq!(parse_numeric(&base256), Some((2 << 32) + 1));
        base256[0] = 0xff;
        assert_eq!(parse_numeric(&base256), None);
        let overflow = [
            0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(parse_numeric(&overflow), None);
    }

    #[test]
    fn pax_records() {
        assert_eq!(pax_size_record(b"11 size=12\n"), Some(12));
        assert_eq!(pax_size_record(b"16 path=a/b/cde\n11 size=99\n"), Some(99));
        assert_eq!(pax_size_record(b"16 path=a/b/cde\n"), None);
        assert_eq!(pax_size_record(b"99 size=1\n"), None);
        assert_eq!(pax_size_record(b"x"), None);
    }
}
