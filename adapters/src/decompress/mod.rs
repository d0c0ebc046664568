//! Transparent decompression, recognised by magic bytes: gzip, zstd, xz, bzip2, LZ4 (the
//! frame format and the legacy format of `lz4 -l`).
//!
//! The input is a sequence of *segments*: compressed *members* (a gzip member, a zstd or
//! LZ4 frame, an xz or bzip2 stream, a legacy LZ4 file) and plain bytes. Each member's
//! decoder stops at the member's end, so what follows it is seen as it is.
//!
//! - [`Decompressed`]: a `Read` of the decompressed bytes of any input: a plain input as
//!   it is, or a compressed one member after member (several gzip members, zstd frames,
//!   any mix of formats; zstd and LZ4 skippable frames are skipped). Bytes after a member
//!   that start no member are an error, as is a corrupt or truncated member; each error
//!   names the format and the input offset ([`DecompressError`]).
//! - [`Segments`]: the same as a `BufRead` that ends at each member's end and lets the
//!   caller decide where a plain segment ends ([`Segments::next_segment`]): what an
//!   initramfs image needs, whose plain cpio archives and compressed members alternate.
//!
//! ```
//! use std::io::{Read, Write};
//! use splitfdstream_adapters::decompress::{Compression, Decompressed};
//!
//! let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! gzip.write_all(b"layer")?;
//! let compressed = gzip.finish()?;
//! let mut input = Decompressed::new(&compressed[..])?;
//! assert_eq!(input.compression(), Some(Compression::Gzip));
//! let mut plain = Vec::new();
//! input.read_to_end(&mut plain)?;
//! assert_eq!(plain, b"layer");
//! # Ok::<(), std::io::Error>(())
//! ```

mod error;
mod lz4_legacy;
mod raw;

use ::std::fmt;
use ::std::io::{self, BufRead, Read};
use ::std::vec::Vec;

pub use error::{DecompressError, Problem};
use lz4_legacy::Lz4Legacy;
use raw::Raw;

/// Decompressed bytes are produced this many at a time.
const OUT_BUFFER: usize = 256 * 1024;
/// The longest magic number looked at.
const MAGIC_LEN: usize = 6;

/// A compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (RFC 1952).
    Gzip,
    /// Zstandard.
    Zstd,
    /// xz.
    Xz,
    /// bzip2.
    Bzip2,
    /// The LZ4 frame format.
    Lz4,
    /// The legacy LZ4 format (`lz4 -l`), as the kernel reads it.
    Lz4Legacy,
}

impl Compression {
    /// The format whose magic number `head` starts with; `head` should hold 6 bytes
    /// unless the input is shorter.
    ///
    /// ```
    /// use splitfdstream_adapters::decompress::Compression;
    /// assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]), Some(Compression::Zstd));
    /// assert_eq!(Compression::detect(b"070701"), None);
    /// ```
    pub fn detect(head: &[u8]) -> Option<Compression> {
        const MAGICS: [(&[u8], Compression); 6] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
            (b"BZh", Compression::Bzip2),
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4),
            (&lz4_legacy::MAGIC, Compression::Lz4Legacy),
        ];
        let (_, found) = MAGICS.iter().find(|(magic, _)| head.starts_with(magic))?;
        // A bzip2 header is `BZh` and a block size digit.
        if *found == Compression::Bzip2 && !head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
            return None;
        }
        Some(*found)
    }

    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
            Compression::Lz4Legacy => "lz4 (legacy)",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Formats the kernel knows that are recognised only to be refused by name.
fn unsupported(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x5d, 0, 0]) {
        Some("lzma")
    } else if head.starts_with(&[0x89, b'L', b'Z', b'O']) {
        Some("lzo")
    } else {
        None
    }
}

/// Whether `head` starts a zstd or LZ4 skippable frame (magic `0x184D2A5?`).
fn skippable(head: &[u8]) -> bool {
    head.len() >= 8 && (0x50..=0x5f).contains(&head[0]) && head[1..4] == [0x2a, 0x4d, 0x18]
}

/// One segment of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Input offset of its first byte.
    pub offset: u64,
    /// Its format; `None` for plain bytes.
    pub compression: Option<Compression>,
    /// Input bytes it spans (so far, for the current segment).
    pub compressed_len: u64,
    /// Decompressed bytes read from it (so far, for the current segment).
    pub len: u64,
}

/// The decoder of the current segment.
enum State<R: Read> {
    Plain(Raw<R>),
    Gzip(flate2::bufread::GzDecoder<Raw<R>>),
    Zstd(zstd::stream::read::Decoder<'static, Raw<R>>),
    Xz(liblzma::bufread::XzDecoder<Raw<R>>),
    Bzip2(bzip2::bufread::BzDecoder<Raw<R>>),
    Lz4(lz4_flex::frame::FrameDecoder<Raw<R>>),
    Lz4Legacy(Lz4Legacy<R>),
    /// A member ended (or the input did); the next segment starts at the raw position.
    Ended(Raw<R>),
    /// After a failure.
    Failed,
}

impl<R: Read> State<R> {
    fn raw(&self) -> Option<&Raw<R>> {
        match self {
            State::Plain(raw) | State::Ended(raw) => Some(raw),
            State::Gzip(d) => Some(d.get_ref()),
            State::Zstd(d) => Some(d.get_ref()),
            State::Xz(d) => Some(d.get_ref()),
            State::Bzip2(d) => Some(d.get_ref()),
            State::Lz4(d) => Some(d.get_ref()),
            State::Lz4Legacy(d) => Some(d.raw()),
            State::Failed => None,
        }
    }

    /// The raw input back, at the end of a member.
    fn into_raw(self) -> Option<Raw<R>> {
        match self {
            State::Plain(raw) | State::Ended(raw) => Some(raw),
            State::Gzip(d) => Some(d.into_inner()),
            State::Zstd(d) => Some(d.finish()),
            State::Xz(d) => Some(d.into_inner()),
            State::Bzip2(d) => Some(d.into_inner()),
            State::Lz4(d) => Some(d.into_inner()),
            State::Lz4Legacy(d) => Some(d.into_inner()),
            State::Failed => None,
        }
    }

    fn decoder(&mut self) -> Option<&mut dyn Read> {
        match self {
            State::Gzip(d) => Some(d),
            State::Zstd(d) => Some(d),
            State::Xz(d) => Some(d),
            State::Bzip2(d) => Some(d),
            State::Lz4(d) => Some(d),
            State::Lz4Legacy(d) => Some(d),
            State::Plain(_) | State::Ended(_) | State::Failed => None,
        }
    }
}

/// The input's segments as one `BufRead` that stops at the end of each: after a member's
/// last decompressed byte, `fill_buf` returns nothing until
/// [`next_segment`](Segments::next_segment). A plain segment runs to the input's end
/// unless the caller ends it earlier with `next_segment`.
///
/// ```
/// use std::io::{BufRead, Read, Write};
/// use splitfdstream_adapters::decompress::{Compression, Segments};
///
/// let mut zstd = zstd::stream::write::Encoder::new(Vec::new(), 1)?;
/// zstd.write_all(b"main")?;
/// let mut image = b"early".to_vec();
/// image.extend(zstd.finish()?);
///
/// let mut segments = Segments::new(&image[..])?;
/// let mut early = [0; 5];
/// segments.read_exact(&mut early)?; // the caller knows where the plain part ends
/// let next = segments.next_segment()?.expect("a member follows");
/// assert_eq!((next.offset, next.compression), (5, Some(Compression::Zstd)));
/// let mut main = Vec::new();
/// segments.read_to_end(&mut main)?;
/// assert_eq!(main, b"main");
/// assert!(segments.next_segment()?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Segments<R: Read> {
    state: State<R>,
    out: Vec<u8>,
    start: usize,
    end: usize,
    segments: Vec<Segment>,
    /// Decompressed bytes consumed, over every segment.
    position: u64,
}

impl<R: Read> fmt::Debug for Segments<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segments")
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Segments<R> {
    /// Starts reading `input` at its first segment.
    ///
    /// # Errors
    ///
    /// Reading fails, or the input starts with a format recognised but not supported
    /// (lzma, lzo).
    pub fn new(input: R) -> io::Result<Segments<R>> {
        let mut segments = Segments {
            state: State::Ended(Raw::new(input)),
            out: Vec::new(),
            start: 0,
            end: 0,
            segments: Vec::new(),
            position: 0,
        };
        segments.next_segment()?;
        Ok(segments)
    }

    /// The segments so far, the current one last.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The current segment.
    pub fn current(&self) -> Option<&Segment> {
        self.segments.last()
    }

    /// Decompressed bytes consumed so far, over every segment: the offset of the next
    /// byte in the decompressed concatenation.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next `n` bytes of the current segment (fewer only where it ends), not
    /// consumed.
    ///
    /// # Errors
    ///
    /// As `fill_buf`.
    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if !matches!(self.state, State::Plain(_)) {
            let n = n.min(OUT_BUFFER);
            while self.end - self.start < n && self.state.decoder().is_some() {
                self.out.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let got = self.decode_at(self.end)?;
                self.end += got;
            }
        }
        match &mut self.state {
            State::Plain(raw) => raw.peek(n),
            _ => Ok(&self.out[self.start..self.end.min(self.start + n)]),
        }
    }

    /// The input offset of the next raw byte.
    fn raw_offset(&self) -> u64 {
        self.state.raw().map_or(0, Raw::offset)
    }

    /// Ends the current segment and starts the next one at the current input position,
    /// skipping zstd and LZ4 skippable frames: a member if a magic number is there, plain
    /// bytes otherwise. `None` at the input's end.
    ///
    /// # Errors
    ///
    /// The current segment is a member not yet read to its end (`InvalidInput`); reading
    /// fails; a skippable frame is truncated; or the next bytes are a format recognised
    /// but not supported.
    pub fn next_segment(&mut self) -> io::Result<Option<Segment>> {
        if self.state.decoder().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the current compressed member is not read to its end",
            ));
        }
        let Some(mut raw) = ::std::mem::replace(&mut self.state, State::Failed).into_raw() else {
            return Err(io::Error::other("a previous error ended the input"));
        };
        self.close(raw.offset());
        loop {
            let head = raw.peek(8)?;
            if !skippable(head) {
                break;
            }
            let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
            let offset = raw.offset();
            raw.consume(8);
            let skipped = io::copy(&mut (&mut raw).take(size), &mut io::sink())?;
            if skipped < size {
                return Err(DecompressError::new(
                    Compression::Zstd,
                    offset,
                    raw.offset(),
                    Problem::Truncated,
                )
                .into());
            }
        }
        let offset = raw.offset();
        let head = raw.peek(MAGIC_LEN)?;
        if head.is_empty() {
            self.state = State::Ended(raw);
            return Ok(None);
        }
        if let Some(name) = unsupported(head) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name}-compressed data at offset {offset} is not supported"),
            ));
        }
        let compression = Compression::detect(head);
        let fail = |error| DecompressError::from_io(compression, offset, offset, error);
        self.state = match compression {
            None => State::Plain(raw),
            Some(Compression::Gzip) => State::Gzip(flate2::bufread::GzDecoder::new(raw)),
            Some(Compression::Zstd) => State::Zstd(
                zstd::stream::read::Decoder::with_buffer(raw)
                    .map_err(fail)?
                    .single_frame(),
            ),
            Some(Compression::Xz) => State::Xz(liblzma::bufread::XzDecoder::new(raw)),
            Some(Compression::Bzip2) => State::Bzip2(bzip2::bufread::BzDecoder::new(raw)),
            Some(Compression::Lz4) => State::Lz4(lz4_flex::frame::FrameDecoder::new(raw)),
            Some(Compression::Lz4Legacy) => State::Lz4Legacy(Lz4Legacy::new(raw)),
        };
        if compression.is_some() && self.out.is_empty() {
            self.out = vec![0; OUT_BUFFER];
        }
        let segment = Segment {
            offset,
            compression,
            compressed_len: 0,
            len: 0,
        };
        self.segments.push(segment);
        Ok(Some(segment))
    }

    /// Records the current segment's input span, ending at `raw_offset`.
    fn close(&mut self, raw_offset: u64) {
        if let Some(segment) = self.segments.last_mut() {
            segment.compressed_len = raw_offset.saturating_sub(segment.offset);
        }
    }

    /// Decompresses more of the current member into `out`.
    fn decode(&mut self) -> io::Result<()> {
        let got = self.decode_at(0)?;
        self.start = 0;
        self.end = got;
        Ok(())
    }

    /// Decompresses more of the current member into `out[at..]`; 0 at the member's end.
    fn decode_at(&mut self, at: usize) -> io::Result<usize> {
        let raw_offset = self.raw_offset();
        let (compression, offset) = self
            .current()
            .map_or((None, 0), |s| (s.compression, s.offset));
        let Some(decoder) = self.state.decoder() else {
            return Ok(0);
        };
        let got = loop {
            match decoder.read(&mut self.out[at..]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => break result,
            }
        };
        match got {
            Ok(0) => {
                // An LZ4 frame cut at a block boundary reads as its end.
                let cut = matches!(self.state, State::Lz4(_))
                    && self.state.raw().is_some_and(Raw::saw_eof);
                let end = self.raw_offset();
                self.state = self.state_after_member();
                self.close(end);
                if cut {
                    self.state = State::Failed;
                    return Err(DecompressError::new(
                        Compression::Lz4,
                        offset,
                        end,
                        Problem::Truncated,
                    )
                    .into());
                }
                Ok(0)
            }
            Ok(got) => Ok(got),
            Err(error) => {
                let at = self.raw_offset().max(raw_offset);
                self.state = State::Failed;
                Err(DecompressError::from_io(compression, offset, at, error))
            }
        }
    }

    fn state_after_member(&mut self) -> State<R> {
        match ::std::mem::replace(&mut self.state, State::Failed).into_raw() {
            Some(raw) => State::Ended(raw),
            None => State::Failed,
        }
    }
}

impl<R: Read> Read for Segments<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Segments<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !matches!(self.state, State::Plain(_)) {
            if let State::Failed = self.state {
                return Err(io::Error::other("a previous error ended the input"));
            }
            self.decode()?;
            if self.state.decoder().is_none() {
                return Ok(&[]);
            }
        }
        match &mut self.state {
            State::Plain(raw) => raw.fill_buf(),
            _ => Ok(&self.out[self.start..self.end]),
        }
    }

    fn consume(&mut self, amount: usize) {
        let amount = if let State::Plain(raw) = &mut self.state {
            let before = raw.offset();
            raw.consume(amount);
            let offset = raw.offset();
            let consumed = offset - before;
            if let Some(segment) = self.segments.last_mut() {
                segment.compressed_len = offset.saturating_sub(segment.offset);
            }
            consumed
        } else {
            let amount = amount.min(self.end - self.start);
            self.start += amount;
            u64::try_from(amount).unwrap_or(0)
        };
        self.position += amount;
        if let Some(segment) = self.segments.last_mut() {
            segment.len += amount;
        }
    }
}

/// The decompressed bytes of any input: plain as it is, compressed member after member.
///
/// See the [module docs](self) for an example.
#[derive(Debug)]
pub struct Decompressed<R: Read> {
    segments: Segments<R>,
    compression: Option<Compression>,
}

impl<R: Read> Decompressed<R> {
    /// Starts reading `input`, recognising its format by its first bytes.
    ///
    /// # Errors
    ///
    /// As [`Segments::new`].
    pub fn new(input: R) -> io::Result<Decompressed<R>> {
        let segments = Segments::new(input)?;
        let compression = segments.current().and_then(|s| s.compression);
        Ok(Decompressed {
            segments,
            compression,
        })
    }

    /// Reads on from `segments`, at the start of the input.
    pub fn from_segments(segments: Segments<R>) -> Decompressed<R> {
        let compression = segments.segments().first().and_then(|s| s.compression);
        Decompressed {
            segments,
            compression,
        }
    }

    /// The format of the input's first member; `None` for a plain (or empty) input.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// The members read so far.
    pub fn segments(&self) -> &[Segment] {
        self.segments.segments()
    }
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.segments.read(out)?;
            if n > 0 || out.is_empty() || self.compression.is_none() {
                return Ok(n);
            }
            let last = self.segments.current().copied();
            match self.segments.next_segment()? {
                None => return Ok(0),
                Some(next) if next.compression.is_none() => {
                    let (compression, member) =
                        last.map_or((None, 0), |last| (last.compression, last.offset));
                    return Err(DecompressError::new(
                        compression.unwrap_or(Compression::Gzip),
                        member,
                        next.offset,
                        Problem::Junk,
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
