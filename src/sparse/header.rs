//! The 40-byte frame header: `KIND SP START SP LENGTH CRLF`.

use crate::sparse::error::EncodeError;

/// Size of every frame header on the wire.
pub const FRAME_HEADER_LEN: usize = 40;

/// The kind of a frame, the header's first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameKind {
    /// `meta`: the metadata JSON follows, then CRLF.
    Meta,
    /// `data`: `length` bytes of the virtual disk at `start` follow, then CRLF.
    Data,
    /// `zero`: `length` zero bytes at `start`; no payload.
    Zero,
    /// `stop`: the end of the frames.
    Stop,
    /// `comp`: the last 40 bytes of a compressed stream; `length` is the trailer's length.
    Comp,
}

impl FrameKind {
    /// The four bytes that name this kind on the wire.
    pub const fn as_bytes(self) -> &'static [u8; 4] {
        match self {
            FrameKind::Meta => b"meta",
            FrameKind::Data => b"data",
            FrameKind::Zero => b"zero",
            FrameKind::Stop => b"stop",
            FrameKind::Comp => b"comp",
        }
    }

    /// The kind named by `bytes`, or `None` for an unknown kind. Kinds are lower case.
    pub const fn from_bytes(bytes: [u8; 4]) -> Option<FrameKind> {
        match &bytes {
            b"meta" => Some(FrameKind::Meta),
            b"data" => Some(FrameKind::Data),
            b"zero" => Some(FrameKind::Zero),
            b"stop" => Some(FrameKind::Stop),
            b"comp" => Some(FrameKind::Comp),
            _ => None,
        }
    }
}

/// A parsed frame header.
///
/// ```
/// use splitfdstream::sparse::{FrameHeader, FrameKind, HeaderFault};
///
/// let header = FrameHeader::new(FrameKind::Data, 0x10000, 4096);
/// assert_eq!(header.to_bytes(), *b"data 0000000000010000 0000000000001000\r\n");
/// assert_eq!(FrameHeader::parse(b"DATA 0000000000010000 0000000000001000\r\n"), Err(HeaderFault::UnknownKind(*b"DATA")));
/// // Upper-case hex is accepted.
/// let parsed = FrameHeader::parse(b"zero 00000000000000FF 0000000000000001\r\n").unwrap();
/// assert_eq!((parsed.kind, parsed.start, parsed.len), (FrameKind::Zero, 255, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// What the frame is.
    pub kind: FrameKind,
    /// The `START` field: a virtual-disk offset for `data` and `zero`, 0 otherwise.
    pub start: u64,
    /// The `LENGTH` field: the extent's (uncompressed) length for `data` and `zero`, the
    /// JSON's length for `meta` and `comp`, 0 for `stop`.
    pub len: u64,
}

/// Why 40 bytes are not a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderFault {
    /// The separators, the hex digits or the closing CRLF are not where the format puts
    /// them.
    Malformed,
    /// Well-formed, but the kind is none of `meta`, `data`, `zero`, `stop`, `comp`.
    UnknownKind([u8; 4]),
}

impl FrameHeader {
    /// A header of `kind` with the given fields.
    pub const fn new(kind: FrameKind, start: u64, len: u64) -> FrameHeader {
        FrameHeader { kind, start, len }
    }

    /// Parses a header: a four-byte kind, a space, 16 hex digits, a space, 16 hex digits,
    /// CRLF. Hex digits may be lower or upper case.
    ///
    /// # Errors
    ///
    /// [`HeaderFault::Malformed`] when the bytes do not have that shape,
    /// [`HeaderFault::UnknownKind`] when they do but the kind is unknown.
    pub fn parse(bytes: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, HeaderFault> {
        let (kind, rest) = bytes.split_at(4);
        let (start, rest) = rest.split_at(17);
        let (len, crlf) = rest.split_at(17);
        let (Some(start), Some(len)) = (field(start), field(len)) else {
            return Err(HeaderFault::Malformed);
        };
        if crlf != b"\r\n" {
            return Err(HeaderFault::Malformed);
        }
        let mut name = [0; 4];
        name.copy_from_slice(kind);
        match FrameKind::from_bytes(name) {
            Some(kind) => Ok(FrameHeader { kind, start, len }),
            None => Err(HeaderFault::UnknownKind(name)),
        }
    }

    /// The wire bytes, with lower-case hex as virtnbdbackup writes them.
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut out = [b' '; FRAME_HEADER_LEN];
        out[..4].copy_from_slice(self.kind.as_bytes());
        put_hex(&mut out[5..21], self.start);
        put_hex(&mut out[22..38], self.len);
        out[38] = b'\r';
        out[39] = b'\n';
        out
    }

    /// Writes the header into the start of `out` and returns 40.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InsufficientSize`] when `out` is shorter than 40 bytes.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let Some(slot) = out.get_mut(..FRAME_HEADER_LEN) else {
            return Err(EncodeError::InsufficientSize {
                required: FRAME_HEADER_LEN,
            });
        };
        slot.copy_from_slice(&self.to_bytes());
        Ok(FRAME_HEADER_LEN)
    }
}

/// A space followed by exactly 16 hex digits.
fn field(bytes: &[u8]) -> Option<u64> {
    let (&b' ', digits) = bytes.split_first()? else {
        return None;
    };
    digits.iter().try_fold(0u64, |value, &digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => return None,
        };
        // 16 digits fill exactly 64 bits, so the shift never loses a set bit.
        Some(value << 4 | u64::from(nibble))
    })
}

fn put_hex(out: &mut [u8], value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (slot, shift) in out.iter_mut().zip((0..16u32).rev()) {
        *slot = DIGITS[usize::from(u8::try_from((value >> (shift * 4)) & 0xf).unwrap_or(0))];
    }
}
