//! The fixed-size parts of an update file: its header and the records of its range table.

use super::error::DecodeError;

/// The first six bytes of every update file.
pub const MAGIC: [u8; 6] = *b"SFDUPD";

/// The format version this crate reads and writes, stored after [`MAGIC`].
pub const VERSION: u16 = 1;

/// Length of the header: magic, version, target length, target SHA-256, range count.
pub const HEADER_LEN: usize = 56;

/// Length of one record of the range table: offset, length, SHA-256.
pub const RANGE_LEN: usize = 48;

/// Length of a SHA-256 digest.
pub const SHA256_LEN: usize = 32;

/// [`HEADER_LEN`] and [`RANGE_LEN`] as file offsets.
const HEADER_LEN_U64: u64 = 56;
const RANGE_LEN_U64: u64 = 48;

/// The header of an update file: what the target is, and how many source ranges follow.
///
/// ```
/// use splitfdstream::update::Header;
///
/// let header = Header { target_len: 5, target_sha256: [7; 32], range_count: 2 };
/// let bytes = header.to_bytes();
/// assert_eq!(&bytes[..8], b"SFDUPD\x01\x00");
/// assert_eq!(Header::from_bytes(&bytes), Ok(header));
/// assert_eq!(header.stream_offset(), Some(56 + 2 * 48));
/// assert_eq!(header.range_offset(1), Some(56 + 48));
/// assert_eq!(header.range_offset(2), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Length of the image the update rebuilds.
    pub target_len: u64,
    /// SHA-256 of the image the update rebuilds.
    pub target_sha256: [u8; SHA256_LEN],
    /// Number of records in the range table.
    pub range_count: u64,
}

impl Header {
    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        bytes[..6].copy_from_slice(&MAGIC);
        bytes[6..8].copy_from_slice(&VERSION.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.target_len.to_le_bytes());
        bytes[16..48].copy_from_slice(&self.target_sha256);
        bytes[48..56].copy_from_slice(&self.range_count.to_le_bytes());
        bytes
    }

    /// Reads a header.
    ///
    /// # Errors
    ///
    /// [`DecodeError::BadMagic`] when the file does not start with [`MAGIC`],
    /// [`DecodeError::UnsupportedVersion`] for a version other than [`VERSION`],
    /// [`DecodeError::TooManyRanges`] when the table would end beyond `u64::MAX`.
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Result<Header, DecodeError> {
        let (magic, rest) = bytes.split_at(6);
        if magic != MAGIC {
            let mut found = [0; 6];
            found.copy_from_slice(magic);
            return Err(DecodeError::BadMagic { found });
        }
        let version = u16::from_le_bytes([rest[0], rest[1]]);
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let header = Header {
            target_len: u64_at(bytes, 8),
            target_sha256: sha_at(bytes, 16),
            range_count: u64_at(bytes, 48),
        };
        if header.stream_offset().is_none() {
            return Err(DecodeError::TooManyRanges {
                count: header.range_count,
                max: MAX_RANGES,
            });
        }
        Ok(header)
    }

    /// File offset of the splitfdstream, right after the range table; `None` when it would
    /// be beyond `u64::MAX`.
    pub const fn stream_offset(&self) -> Option<u64> {
        match self.range_count.checked_mul(RANGE_LEN_U64) {
            Some(table) => table.checked_add(HEADER_LEN_U64),
            None => None,
        }
    }

    /// File offset of record `index` of the range table; `None` when there is no such
    /// record. A device reads the record it needs when the stream refers to it, so it never
    /// holds the table in memory.
    pub const fn range_offset(&self, index: u64) -> Option<u64> {
        if index >= self.range_count {
            return None;
        }
        // index < range_count and the whole table fits in u64 (checked on decode); a
        // hand-built header may not, hence the checked arithmetic.
        match index.checked_mul(RANGE_LEN_U64) {
            Some(at) => at.checked_add(HEADER_LEN_U64),
            None => None,
        }
    }
}

/// The most ranges a table can hold and still end within `u64::MAX` bytes.
pub(crate) const MAX_RANGES: u64 = (u64::MAX - HEADER_LEN_U64) / RANGE_LEN_U64;

/// One record of the range table: `len` bytes at `offset` of the old image, whose content
/// must have the SHA-256 `sha256`. External index `i` of the update's stream is record `i`.
///
/// ```
/// use splitfdstream::update::{DecodeError, SourceRange};
///
/// let range = SourceRange { offset: 4096, len: 8192, sha256: [1; 32] };
/// assert_eq!(SourceRange::from_bytes(&range.to_bytes(), 0, 56), Ok(range));
/// assert_eq!(range.end(), Some(12288));
///
/// let empty = SourceRange { offset: 0, len: 0, sha256: [0; 32] };
/// assert_eq!(
///     SourceRange::from_bytes(&empty.to_bytes(), 3, 200),
///     Err(DecodeError::EmptyRange { index: 3, offset: 200 })
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SourceRange {
    /// Where the range starts in the old image.
    pub offset: u64,
    /// Its length; never 0.
    pub len: u64,
    /// SHA-256 of its content.
    pub sha256: [u8; SHA256_LEN],
}

impl SourceRange {
    /// The record's bytes.
    pub fn to_bytes(&self) -> [u8; RANGE_LEN] {
        let mut bytes = [0; RANGE_LEN];
        bytes[..8].copy_from_slice(&self.offset.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.len.to_le_bytes());
        bytes[16..48].copy_from_slice(&self.sha256);
        bytes
    }

    /// Reads record `index`, found at file offset `at` (both only for the error).
    ///
    /// # Errors
    ///
    /// [`DecodeError::EmptyRange`] for a length of 0, [`DecodeError::RangeOverflow`] when
    /// the range would end beyond `u64::MAX`.
    pub fn from_bytes(
        bytes: &[u8; RANGE_LEN],
        index: u64,
        at: u64,
    ) -> Result<SourceRange, DecodeError> {
        let range = SourceRange {
            offset: u64_at(bytes, 0),
            len: u64_at(bytes, 8),
            sha256: sha_at(bytes, 16),
        };
        range.check(index, at)?;
        Ok(range)
    }

    /// The rules of a record: not empty, ends within `u64::MAX`.
    pub(crate) fn check(&self, index: u64, offset: u64) -> Result<(), DecodeError> {
        if self.len == 0 {
            return Err(DecodeError::EmptyRange { index, offset });
        }
        if self.end().is_none() {
            return Err(DecodeError::RangeOverflow { index, offset });
        }
        Ok(())
    }

    /// Where the range ends in the old image; `None` beyond `u64::MAX`.
    pub const fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.len)
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn sha_at(bytes: &[u8], at: usize) -> [u8; SHA256_LEN] {
    let mut sha = [0; SHA256_LEN];
    sha.copy_from_slice(&bytes[at..at + SHA256_LEN]);
    sha
}

// The two spellings of each length must agree.
const _: () = assert!(HEADER_LEN == 56 && RANGE_LEN == 48);
