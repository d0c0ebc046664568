//! The delta of two images: which parts of NEW are found anywhere in OLD, as ranges of OLD,
//! and which are new bytes.
//!
//! OLD is indexed by the hash of each of its aligned blocks; a rolling hash over every
//! window of NEW looks for those blocks at any byte offset, so content shifted by any
//! number of bytes is still found. A match is extended byte by byte in both directions, so
//! adjacent blocks and the unaligned bytes around them become one range. Memory: the index
//! (a few bytes per block of OLD), the new bytes, and a window of NEW.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

/// The default block size: 4 KiB, the page and file system block of most images.
pub const DEFAULT_BLOCK_SIZE: usize = 4096;

/// One piece of the new image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// `len` bytes at `offset` of OLD.
    Old {
        /// Where the bytes start in OLD.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// `len` new bytes, the next ones of [`Delta::new_bytes`].
    New {
        /// How many.
        len: usize,
    },
}

/// NEW described as pieces of OLD and new bytes, with NEW's length and SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The pieces, in order; adjacent pieces of OLD that continue each other are merged.
    pub pieces: Vec<Piece>,
    /// The new bytes of every [`Piece::New`], concatenated.
    pub new_bytes: Vec<u8>,
    /// NEW's length.
    pub target_len: u64,
    /// NEW's SHA-256.
    pub target_sha256: [u8; 32],
}

impl Delta {
    /// Bytes of NEW found in OLD.
    pub fn reused(&self) -> u64 {
        self.target_len - u64::try_from(self.new_bytes.len()).unwrap_or(u64::MAX)
    }
}

/// The rolling hash of a window of `block` bytes: a polynomial over a table of random
/// words, one per byte value, so that rolling one byte costs two lookups and two products.
struct Roller {
    table: [u64; 256],
    /// MULTIPLIER to the power `block`.
    out_factor: u64,
}

const MULTIPLIER: u64 = 0x0000_0100_0000_01b3;

impl Roller {
    fn new(block: usize) -> Roller {
        let mut table = [0u64; 256];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for entry in &mut table {
            // splitmix64: fixed words, so deltas are reproducible.
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *entry = z ^ (z >> 31);
        }
        let mut out_factor = 1u64;
        for _ in 0..block {
            out_factor = out_factor.wrapping_mul(MULTIPLIER);
        }
        Roller { table, out_factor }
    }

    fn hash(&self, window: &[u8]) -> u64 {
        window.iter().fold(0u64, |h, &byte| {
            h.wrapping_mul(MULTIPLIER)
                .wrapping_add(self.table[usize::from(byte)])
        })
    }

    fn roll(&self, h: u64, out: u8, into: u8) -> u64 {
        h.wrapping_mul(MULTIPLIER)
            .wrapping_add(self.table[usize::from(into)])
            .wrapping_sub(self.table[usize::from(out)].wrapping_mul(self.out_factor))
    }
}

/// The index's keys are already hashes: spread them, do not hash them again.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Index = HashMap<u64, u64, BuildHasherDefault<KeyHasher>>;

/// How much of NEW is read at a time.
const READ_LEN: usize = 1 << 20;
/// New bytes pending before they are flushed as a piece (bounds the window of NEW).
const MAX_PENDING: u64 = 1 << 20;

/// NEW as it streams past: a window of its bytes at absolute offsets, hashed as read.
struct NewWindow<R> {
    reader: R,
    bytes: Vec<u8>,
    /// Absolute offset of `bytes[0]`.
    start: u64,
    ended: bool,
    hasher: Sha256,
}

impl<R: Read> NewWindow<R> {
    fn end(&self) -> u64 {
        self.start + len_u64(self.bytes.len())
    }

    /// Reads until the window holds bytes up to `upto` or NEW ends; whether it does.
    fn fill(&mut self, upto: u64) -> io::Result<bool> {
        while self.end() < upto && !self.ended {
            let old_len = self.bytes.len();
            self.bytes.resize(old_len + READ_LEN, 0);
            let n = loop {
                match self.reader.read(&mut self.bytes[old_len..]) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(error) => {
                    self.bytes.truncate(old_len);
                    return Err(error);
                }
            };
            self.bytes.truncate(old_len + n);
            self.hasher.update(&self.bytes[old_len..]);
            self.ended = n == 0;
        }
        Ok(self.end() >= upto)
    }

    fn at(&self, offset: u64) -> u8 {
        self.slice(offset, offset + 1).first().copied().unwrap_or(0)
    }

    fn slice(&self, from: u64, to: u64) -> &[u8] {
        let from = usize::try_from(from.saturating_sub(self.start)).unwrap_or(usize::MAX);
        let to = usize::try_from(to.saturating_sub(self.start)).unwrap_or(usize::MAX);
        self.bytes
            .get(from..to.min(self.bytes.len()))
            .unwrap_or_default()
    }

    /// Forgets the bytes before `offset`, once enough of them have piled up.
    fn forget_before(&mut self, offset: u64) {
        let drop = usize::try_from(offset.saturating_sub(self.start)).unwrap_or(usize::MAX);
        if drop >= READ_LEN && drop <= self.bytes.len() {
            self.bytes.drain(..drop);
            self.start = offset;
        }
    }
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Reads `buf.len()` bytes of OLD at `offset`, or fewer at its end; returns how many.
fn read_old<O: Read + Seek>(old: &mut O, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    old.seek(SeekFrom::Start(offset))?;
    let mut filled = 0;
    while filled < buf.len() {
        match old.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The builder of a [`Delta`]: pieces and new bytes as they are found.
struct Pieces {
    delta: Delta,
}

impl Pieces {
    fn new_bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.delta.new_bytes.extend_from_slice(bytes);
        if let Some(Piece::New { len }) = self.delta.pieces.last_mut() {
            *len += bytes.len();
        } else {
            self.delta.pieces.push(Piece::New { len: bytes.len() });
        }
    }

    fn old(&mut self, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        if let Some(Piece::Old {
            offset: last,
            len: last_len,
        }) = self.delta.pieces.last_mut()
        {
            if *last + *last_len == offset {
                *last_len += len;
                return;
            }
        }
        self.delta.pieces.push(Piece::Old { offset, len });
    }
}

/// Finds NEW (read from `new` to its end) in OLD with blocks of `block_size` bytes.
///
/// ```
/// use std::io::Cursor;
/// use splitfdstream_adapters::std::update::{delta, Piece};
///
/// let old: Vec<u8> = (0..40_000u32).map(|i| (i * 31 % 251) as u8).collect();
/// // NEW: three bytes inserted at the start, then all of OLD shifted by three.
/// let mut new = b"new".to_vec();
/// new.extend_from_slice(&old);
/// let delta = delta(&mut Cursor::new(&old), Cursor::new(&new), 4096)?;
/// assert_eq!(delta.pieces, [Piece::New { len: 3 }, Piece::Old { offset: 0, len: 40_000 }]);
/// assert_eq!(delta.new_bytes, b"new");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// An I/O error reading either image; `InvalidInput` for a block size of 0.
pub fn delta<O, N>(old: &mut O, new: N, block_size: usize) -> io::Result<Delta>
where
    O: Read + Seek,
    N: Read,
{
    if block_size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "block size must be at least 1",
        ));
    }
    let block = len_u64(block_size);
    let roller = Roller::new(block_size);
    let index = index_old(old, &roller, block_size)?;
    let mut window = NewWindow {
        reader: new,
        bytes: Vec::new(),
        start: 0,
        ended: false,
        hasher: Sha256::new(),
    };
    let mut pieces = Pieces {
        delta: Delta::default(),
    };
    let mut old_block = vec![0u8; block_size];
    let mut compare = vec![0u8; 1 << 16];
    // Window [at, at + block) of NEW; new bytes pending from `pending`.
    let mut at = 0u64;
    let mut pending = 0u64;
    let mut hash: Option<u64> = None;
    loop {
        if !window.fill(at + block)? {
            break;
        }
        let h = match hash {
            Some(h) => h,
            None => roller.hash(window.slice(at, at + block)),
        };
        let candidate = index.get(&h).copied();
        let matched = match candidate {
            Some(offset) => {
                read_old(old, offset, &mut old_block)? == block_size
                    && old_block == window.slice(at, at + block)
            }
            None => false,
        };
        if let (true, Some(offset)) = (matched, candidate) {
            // Backwards into the pending new bytes.
            let back_room = (at - pending).min(offset).min(len_u64(compare.len()));
            let back_len = usize::try_from(back_room).unwrap_or(0);
            let got = read_old(old, offset - back_room, &mut compare[..back_len])?;
            let old_before = &compare[..got];
            let new_before = window.slice(at - back_room, at);
            let back = old_before
                .iter()
                .rev()
                .zip(new_before.iter().rev())
                .take_while(|(a, b)| a == b)
                .count();
            let start = at - len_u64(back);
            pieces.new_bytes(window.slice(pending, start));
            // Forwards as far as both go.
            let mut end = at + block;
            let mut old_end = offset + block;
            loop {
                window.forget_before(end);
                window.fill(end + len_u64(compare.len()))?;
                let new_after = window.slice(end, end + len_u64(compare.len()));
                if new_after.is_empty() {
                    break;
                }
                let got = read_old(old, old_end, &mut compare[..new_after.len()])?;
                let same = compare[..got]
                    .iter()
                    .zip(new_after)
                    .take_while(|(a, b)| a == b)
                    .count();
                end += len_u64(same);
                old_end += len_u64(same);
                if same < new_after.len() {
                    break;
                }
            }
            pieces.old(offset - len_u64(back), end - start);
            at = end;
            pending = end;
            hash = None;
            window.forget_before(at);
            continue;
        }
        // No match here: roll one byte on.
        if !window.fill(at + block + 1)? {
            break;
        }
        hash = Some(roller.roll(h, window.at(at), window.at(at + block)));
        at += 1;
        if at - pending >= MAX_PENDING {
            pieces.new_bytes(window.slice(pending, at));
            pending = at;
            window.forget_before(pending);
        }
    }
    // The tail: whatever is pending and the last bytes, too few for a block.
    window.fill(u64::MAX)?;
    let end = window.end();
    pieces.new_bytes(window.slice(pending, end));
    let mut delta = pieces.delta;
    delta.target_len = end;
    delta.target_sha256 = window.hasher.finalize().into();
    Ok(delta)
}

/// The hash of every aligned block of OLD, to its first offset.
fn index_old<O: Read + Seek>(old: &mut O, roller: &Roller, block_size: usize) -> io::Result<Index> {
    let old_len = old.seek(SeekFrom::End(0))?;
    let blocks = usize::try_from(old_len / len_u64(block_size)).unwrap_or(0);
    let mut index = Index::with_capacity_and_hasher(blocks, BuildHasherDefault::default());
    let per_read = (READ_LEN / block_size).max(1);
    let mut buf = vec![0u8; per_read * block_size];
    let mut offset = 0u64;
    loop {
        let n = read_old(old, offset, &mut buf)?;
        for (i, chunk) in buf[..n].chunks_exact(block_size).enumerate() {
            let at = offset + len_u64(i * block_size);
            index.entry(roller.hash(chunk)).or_insert(at);
        }
        if n < buf.len() {
            break;
        }
        offset += len_u64(n);
    }
    Ok(index)
}
