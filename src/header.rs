//! The 8-byte chunk prefix.

use crate::chunk::FdIndex;
use crate::error::EncodeError;

/// Size of every chunk prefix on the wire.
pub const HEADER_LEN: usize = 8;

/// The largest inline chunk the format can express: 2^63 bytes (prefix `i64::MIN`).
pub const MAX_INLINE_LEN: u64 = i64::MIN.unsigned_abs();

/// An encoded chunk prefix: a little-endian `i64`, negative for inline chunks.
///
/// ```
/// use splitfdstream::{Header, HeaderKind, FdIndex};
///
/// let h = Header::inline(5).unwrap();
/// assert_eq!(h.as_bytes(), &[0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/// assert_eq!(h.kind(), HeaderKind::Inline { len: 5 });
///
/// let h = Header::external(7).unwrap();
/// assert_eq!(h.as_bytes(), &[7, 0, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(h.kind(), HeaderKind::External(FdIndex::new(7).unwrap()));
///
/// assert!(Header::inline(0).is_err());
/// assert!(Header::external(u64::MAX).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    bytes: [u8; HEADER_LEN],
}

/// What a [`Header`] announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderKind {
    /// `len` literal bytes follow (1 ..= 2^63).
    Inline {
        /// Length of the inline body.
        len: u64,
    },
    /// The whole content of an external source.
    External(FdIndex),
}

impl Header {
    /// The prefix of an inline chunk of `len` bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::EmptyInline`] for `len == 0` (prefix 0 means External(0)) and
    /// [`EncodeError::InlineTooLarge`] above 2^63.
    pub const fn inline(len: u64) -> Result<Header, EncodeError> {
        if len == 0 {
            return Err(EncodeError::EmptyInline);
        }
        match 0i64.checked_sub_unsigned(len) {
            Some(prefix) => Ok(Header {
                bytes: prefix.to_le_bytes(),
            }),
            None => Err(EncodeError::InlineTooLarge { len }),
        }
    }

    /// The prefix of a reference to external source `index`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::IndexTooLarge`] above `i64::MAX`.
    pub const fn external(index: u64) -> Result<Header, EncodeError> {
        match FdIndex::new(index) {
            Some(index) => Ok(Header::for_index(index)),
            None => Err(EncodeError::IndexTooLarge { index }),
        }
    }

    /// The prefix of a reference to `index`; infallible because an [`FdIndex`] is always
    /// in range.
    pub const fn for_index(index: FdIndex) -> Header {
        Header {
            bytes: index.get().to_le_bytes(),
        }
    }

    /// Reads a prefix from its wire bytes. Every 8-byte value is a valid prefix.
    pub const fn from_bytes(bytes: [u8; HEADER_LEN]) -> Header {
        Header { bytes }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        &self.bytes
    }

    /// The raw signed prefix.
    pub const fn prefix(&self) -> i64 {
        i64::from_le_bytes(self.bytes)
    }

    /// What this prefix announces.
    #[inline]
    pub const fn kind(&self) -> HeaderKind {
        let prefix = self.prefix();
        if prefix < 0 {
            HeaderKind::Inline {
                len: prefix.unsigned_abs(),
            }
        } else {
            HeaderKind::External(FdIndex::new_unchecked(prefix.unsigned_abs()))
        }
    }
}
