//! Finding where LZ4 frames end, without decompressing them.
//!
//! A compressed data payload is a sequence of LZ4 frames (the LZ4 frame format, v1.6.x):
//! a 4-byte magic `04 22 4d 18`, a descriptor (FLG, BD, an optional 8-byte content size,
//! an optional 4-byte dictionary ID, a header checksum byte), blocks each behind a 4-byte
//! little-endian size (high bit: stored uncompressed) and followed by a 4-byte checksum
//! when FLG says so, an end mark of four zero bytes, and an optional 4-byte content
//! checksum. Walking those fields is enough to find a frame's end; checking block and
//! content checksums needs the decompressor, so it is left to it.

use crate::chunk::len_u64;

/// The magic number that starts every LZ4 frame, as it appears on the wire.
pub const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Why bytes are not a well-formed LZ4 frame.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Lz4Fault {
    /// The frame does not start with the LZ4 frame magic (skippable and legacy frames,
    /// which virtnbdbackup never writes, are refused too).
    Magic {
        /// The first four bytes, read as a little-endian number.
        found: u32,
    },
    /// The FLG byte names a frame format version other than `01`.
    Version {
        /// The FLG byte.
        flg: u8,
    },
    /// A reserved bit of FLG or BD is set.
    ReservedBits {
        /// The FLG byte.
        flg: u8,
        /// The BD byte.
        bd: u8,
    },
    /// The BD byte names a block maximum size code below 4 (64 KiB).
    BlockMaxSize {
        /// The BD byte.
        bd: u8,
    },
    /// The header checksum byte does not match the descriptor.
    HeaderChecksum {
        /// The byte computed from the descriptor.
        expected: u8,
        /// The byte in the frame.
        found: u8,
    },
    /// A block is larger than the frame's block maximum size.
    BlockTooLarge {
        /// The block's size.
        len: u32,
        /// The frame's block maximum size.
        max: u32,
    },
    /// A block size of `0x80000000`: an uncompressed block of no bytes, which no encoder
    /// writes and decoders disagree on.
    EmptyBlock,
    /// The payload given to [`Lz4Frames`] ends inside a frame. (The stream decoders report
    /// this as their own truncation error.)
    Truncated {
        /// Bytes at least still needed to end the frame.
        missing: u64,
    },
}

/// A bad LZ4 frame and where in it the fault lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lz4Error {
    /// What is wrong.
    pub fault: Lz4Fault,
    /// Offset of the faulty field from the start of the input given to [`Lz4Frames`].
    pub offset: u64,
}

/// What an LZ4 frame's header and length say, known once its end has been found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lz4FrameInfo {
    /// Bytes of the whole frame, magic to content checksum.
    pub len: u64,
    /// The decompressed size the frame declares, if it declares one.
    pub content_size: Option<u64>,
    /// The frame's block maximum size: 64 KiB, 256 KiB, 1 MiB or 4 MiB.
    pub block_max_size: u32,
    /// Whether every block carries a checksum.
    pub block_checksum: bool,
    /// Whether the frame ends with a checksum of its decompressed content.
    pub content_checksum: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Field {
    /// Collecting the 4-byte magic.
    Magic,
    /// Collecting FLG and BD.
    Flags,
    /// Collecting the rest of the descriptor and the header checksum; `end` is where the
    /// checksum byte sits in `buf`.
    Descriptor { end: u8 },
    /// Collecting a block size.
    BlockSize,
    /// Skipping a block body (and its checksum): `left` bytes.
    Skip { left: u64, then_end: bool },
}

/// An incremental walker over one LZ4 frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Lz4Scanner {
    field: Field,
    /// Bytes of the field being collected.
    buf: [u8; 15],
    filled: u8,
    /// Frame-relative offset of the field being collected or skipped.
    field_start: u64,
    /// Bytes of the frame consumed so far.
    len: u64,
    flg: u8,
    block_max: u32,
    content_size: Option<u64>,
}

/// What [`Lz4Scanner::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// All input consumed; the frame goes on.
    Partial,
    /// The frame ended after `consumed` bytes of this input.
    End { consumed: usize, info: Lz4FrameInfo },
}

const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_RESERVED: u8 = 0x02;
const FLG_DICT_ID: u8 = 0x01;

impl Lz4Scanner {
    /// A walker at the start of a frame.
    pub(crate) const fn new() -> Lz4Scanner {
        Lz4Scanner {
            field: Field::Magic,
            buf: [0; 15],
            filled: 0,
            field_start: 0,
            len: 0,
            flg: 0,
            block_max: 0,
            content_size: None,
        }
    }

    /// Bytes of the frame consumed so far.
    pub(crate) const fn consumed(&self) -> u64 {
        self.len
    }

    /// Bytes at least still needed to end the frame (for truncation reports).
    pub(crate) fn missing(&self) -> u64 {
        let filled = u64::from(self.filled);
        match self.field {
            Field::Magic | Field::BlockSize => 4 - filled,
            Field::Flags => 2 - filled,
            Field::Descriptor { end } => u64::from(end) + 1 - filled,
            Field::Skip { left, .. } => left,
        }
    }

    /// Walks `input` until the frame ends or the input does.
    ///
    /// # Errors
    ///
    /// The fault and its frame-relative offset.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<Scan, Lz4Error> {
        let mut at = 0;
        while at < input.len() {
            if let Field::Skip { left, then_end } = self.field {
                let take = usize::try_from(left)
                    .map_or(input.len() - at, |left| left.min(input.len() - at));
                at += take;
                self.len += len_u64(take);
                let left = left - len_u64(take);
                if left > 0 {
                    self.field = Field::Skip { left, then_end };
                    continue;
                }
                if then_end {
                    return Ok(Scan::End {
                        consumed: at,
                        info: self.info(),
                    });
                }
                self.begin(Field::BlockSize);
                continue;
            }
            let need = match self.field {
                Field::Magic | Field::BlockSize => 4,
                Field::Flags => 2,
                Field::Descriptor { end } => usize::from(end) + 1,
                Field::Skip { .. } => 0,
            };
            let filled = usize::from(self.filled);
            // Magic and block sizes are collected from the start of the buffer; the
            // descriptor's fields after FLG and BD.
            let take = (need - filled).min(input.len() - at);
            self.buf[filled..filled + take].copy_from_slice(&input[at..at + take]);
            at += take;
            self.len += len_u64(take);
            self.filled = u8::try_from(filled + take).unwrap_or(u8::MAX);
            if filled + take < need {
                continue;
            }
            if let Some(info) = self.field_complete()? {
                return Ok(Scan::End { consumed: at, info });
            }
        }
        Ok(Scan::Partial)
    }

    fn begin(&mut self, field: Field) {
        self.field = field;
        self.filled = 0;
        self.field_start = self.len;
    }

    fn fail(&self, fault: Lz4Fault) -> Lz4Error {
        Lz4Error {
            fault,
            offset: self.field_start,
        }
    }

    fn info(&self) -> Lz4FrameInfo {
        Lz4FrameInfo {
            len: self.len,
            content_size: self.content_size,
            block_max_size: self.block_max,
            block_checksum: self.flg & FLG_BLOCK_CHECKSUM != 0,
            content_checksum: self.flg & FLG_CONTENT_CHECKSUM != 0,
        }
    }

    /// Acts on a completely collected field; returns the frame's summary when it ends.
    fn field_complete(&mut self) -> Result<Option<Lz4FrameInfo>, Lz4Error> {
        let word = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        match self.field {
            Field::Magic => {
                if self.buf[..4] != LZ4_MAGIC {
                    return Err(self.fail(Lz4Fault::Magic { found: word }));
                }
                self.begin(Field::Flags);
            }
            Field::Flags => {
                let (flg, bd) = (self.buf[0], self.buf[1]);
                if flg >> 6 != 0b01 {
                    return Err(self.fail(Lz4Fault::Version { flg }));
                }
                if flg & FLG_RESERVED != 0 || bd & 0x8f != 0 {
                    return Err(self.fail(Lz4Fault::ReservedBits { flg, bd }));
                }
                let code = bd >> 4 & 0x7;
                if code < 4 {
                    return Err(self.fail(Lz4Fault::BlockMaxSize { bd }));
                }
                self.flg = flg;
                // Codes 4..=7 are 64 KiB, 256 KiB, 1 MiB, 4 MiB.
                self.block_max = 1 << (2 * u32::from(code) + 8);
                let mut end = 2;
                if flg & FLG_CONTENT_SIZE != 0 {
                    end += 8;
                }
                if flg & FLG_DICT_ID != 0 {
                    end += 4;
                }
                // Keep FLG and BD in the buffer: the header checksum covers them.
                self.field = Field::Descriptor { end };
            }
            Field::Descriptor { end } => {
                let end = usize::from(end);
                let expected = header_checksum(&self.buf[..end]);
                let found = self.buf[end];
                if expected != found {
                    return Err(self.fail(Lz4Fault::HeaderChecksum { expected, found }));
                }
                if self.flg & FLG_CONTENT_SIZE != 0 {
                    let mut size = [0; 8];
                    size.copy_from_slice(&self.buf[2..10]);
                    self.content_size = Some(u64::from_le_bytes(size));
                }
                self.begin(Field::BlockSize);
            }
            Field::BlockSize => {
                let checksum = if self.flg & FLG_BLOCK_CHECKSUM != 0 {
                    4
                } else {
                    0
                };
                if word == 0 {
                    if self.flg & FLG_CONTENT_CHECKSUM == 0 {
                        return Ok(Some(self.info()));
                    }
                    self.begin(Field::Skip {
                        left: 4,
                        then_end: true,
                    });
                    return Ok(None);
                }
                if word == 0x8000_0000 {
                    return Err(self.fail(Lz4Fault::EmptyBlock));
                }
                let len = word & 0x7fff_ffff;
                if len > self.block_max {
                    return Err(self.fail(Lz4Fault::BlockTooLarge {
                        len,
                        max: self.block_max,
                    }));
                }
                self.begin(Field::Skip {
                    left: u64::from(len) + checksum,
                    then_end: false,
                });
            }
            Field::Skip { .. } => {}
        }
        Ok(None)
    }
}

/// The LZ4 frame header checksum: the second byte of the XXH32 (seed 0) of the
/// descriptor. The descriptor is at most 14 bytes, so only XXH32's short-input path is
/// needed.
fn header_checksum(descriptor: &[u8]) -> u8 {
    const PRIME1: u32 = 0x9E37_79B1;
    const PRIME2: u32 = 0x85EB_CA77;
    const PRIME3: u32 = 0xC2B2_AE3D;
    const PRIME4: u32 = 0x27D4_EB2F;
    const PRIME5: u32 = 0x1656_67B1;
    let len = u32::try_from(descriptor.len()).unwrap_or(u32::MAX);
    let mut hash = PRIME5.wrapping_add(len);
    let mut words = descriptor.chunks_exact(4);
    for word in &mut words {
        let lane = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        hash = hash.wrapping_add(lane.wrapping_mul(PRIME3));
        hash = hash.rotate_left(17).wrapping_mul(PRIME4);
    }
    for &byte in words.remainder() {
        hash = hash.wrapping_add(u32::from(byte).wrapping_mul(PRIME5));
        hash = hash.rotate_left(11).wrapping_mul(PRIME1);
    }
    hash ^= hash >> 15;
    hash = hash.wrapping_mul(PRIME2);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(PRIME3);
    hash ^= hash >> 16;
    hash.to_le_bytes()[1]
}

/// One whole LZ4 frame borrowed from a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lz4Frame<'i> {
    /// The frame's bytes, magic to content checksum: what a frame decompressor takes.
    pub data: &'i [u8],
    /// What its header says.
    pub info: Lz4FrameInfo,
}

/// An iterator over the LZ4 frames of a complete compressed payload (as
/// [`Frame::Data`](crate::sparse::Frame::Data) hands out), each borrowed whole.
///
/// If the payload ends inside a frame ([`Lz4Fault::Truncated`]) or a frame is malformed,
/// the iterator yields that error once and ends.
///
/// ```
/// use splitfdstream::sparse::Lz4Frames;
///
/// // An empty LZ4 frame with no checksums, twice.
/// let frame = [0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0, 0, 0, 0, 0];
/// let payload = [frame, frame].concat();
/// let frames: Vec<_> = Lz4Frames::new(&payload).collect::<Result<_, _>>().unwrap();
/// assert_eq!(frames.len(), 2);
/// assert_eq!(frames[1].data, &frame);
/// assert_eq!(frames[0].info.content_size, None);
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lz4Frames<'i> {
    rest: &'i [u8],
    offset: u64,
}

impl<'i> Lz4Frames<'i> {
    /// Iterates over the frames of `payload`.
    pub const fn new(payload: &'i [u8]) -> Lz4Frames<'i> {
        Lz4Frames {
            rest: payload,
            offset: 0,
        }
    }

    /// Offset in the payload of the next frame.
    pub const fn offset(&self) -> u64 {
        self.offset
    }
}

impl<'i> Iterator for Lz4Frames<'i> {
    type Item = Result<Lz4Frame<'i>, Lz4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let mut scanner = Lz4Scanner::new();
        let result = match scanner.feed(self.rest) {
            Ok(Scan::End { consumed, info }) => {
                let (data, rest) = self.rest.split_at(consumed);
                self.rest = rest;
                self.offset += info.len;
                return Some(Ok(Lz4Frame { data, info }));
            }
            Ok(Scan::Partial) => Err(Lz4Error {
                fault: Lz4Fault::Truncated {
                    missing: scanner.missing(),
                },
                offset: self.offset + scanner.consumed(),
            }),
            Err(error) => Err(Lz4Error {
                offset: self.offset + error.offset,
                ..error
            }),
        };
        self.rest = &[];
        Some(result)
    }
}

impl core::iter::FusedIterator for Lz4Frames<'_> {}

#[cfg(test)]
mod tests {
    use super::header_checksum;

    #[test]
    fn header_checksum_matches_the_reference() {
        // FLG 0x64 (version 01, independent blocks, content checksum), BD 0x40: the
        // reference `lz4` tool writes 0xa7.
        assert_eq!(header_checksum(&[0x64, 0x40]), 0xa7);
    }
}
