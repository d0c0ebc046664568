//! The rules every FileBackedData name obeys, checked the same way by the decoder and the
//! encoder.

use core::fmt;

use super::chunk::MAX_NAME_LEN;
use crate::chunk::len_u64;

/// Why a file name breaks the format's rules.
///
/// The rules: not empty, at most [`MAX_NAME_LEN`] bytes, no NUL byte, not absolute (no
/// leading `/`), no `..` component. `.` and empty components (`a//b`) are allowed, and a
/// name need not be UTF-8. When a name breaks several rules, the first of `Empty`,
/// `TooLong`, `Nul`, `Absolute`, `ParentComponent` in that order is reported.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than the format's maximum or the decoder's limit.
    TooLong {
        /// Length of the name in bytes.
        len: u64,
        /// The maximum that applied.
        max: u64,
    },
    /// The name contains a NUL byte.
    Nul {
        /// Position of the first NUL byte in the name.
        at: usize,
    },
    /// The name starts with `/`.
    Absolute,
    /// The name has a `..` component.
    ParentComponent {
        /// Position of the first `..` component in the name.
        at: usize,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => f.write_str("empty file name"),
            NameError::TooLong { len, max } => {
                write!(f, "file name of {len} bytes is longer than {max}")
            }
            NameError::Nul { at } => write!(f, "file name has a NUL byte at position {at}"),
            NameError::Absolute => f.write_str("file name is absolute"),
            NameError::ParentComponent { at } => {
                write!(f, "file name has a `..` component at position {at}")
            }
        }
    }
}

impl core::error::Error for NameError {}

/// Checks a file name against the format's rules.
///
/// # Errors
///
/// The first rule the name breaks, as a [`NameError`].
///
/// ```
/// use splitfdstream::dir::{check_name, NameError};
///
/// assert_eq!(check_name(b"objects/ab/cdef"), Ok(()));
/// assert_eq!(check_name(b"./a//b..c/.../d"), Ok(()));
/// assert_eq!(check_name(b""), Err(NameError::Empty));
/// assert_eq!(check_name(b"/etc/passwd"), Err(NameError::Absolute));
/// assert_eq!(check_name(b"a/../b"), Err(NameError::ParentComponent { at: 2 }));
/// assert_eq!(check_name(b"a\0b"), Err(NameError::Nul { at: 1 }));
/// assert_eq!(
///     check_name(&[b'x'; 4097]),
///     Err(NameError::TooLong { len: 4097, max: 4096 })
/// );
/// ```
pub fn check_name(name: &[u8]) -> Result<(), NameError> {
    check_len(len_u64(name.len()), len_u64(MAX_NAME_LEN))?;
    check_bytes(name)
}

/// The length rules alone, for a decoder that knows the length before the bytes.
#[inline]
pub(crate) fn check_len(len: u64, max: u64) -> Result<(), NameError> {
    if len == 0 {
        Err(NameError::Empty)
    } else if len > max {
        Err(NameError::TooLong { len, max })
    } else {
        Ok(())
    }
}

const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
const DOTS: u64 = u64::from_le_bytes([b'.'; 8]);
/// The high bit of the word's last byte in memory order.
const LAST_BYTE: u64 = 0x80 << 56;
/// Tail padding: neither NUL nor a dot.
const PAD: u8 = b'_';

/// The high bit of each byte of `word` that is zero, and no other bit (no false positives,
/// unlike the borrow-based test).
#[inline(always)]
const fn zero_bytes(word: u64) -> u64 {
    !(((word & LOWS) + LOWS) | word | LOWS)
}

/// The byte rules (NUL, absolute, `..`) of a name whose length is already checked.
///
/// Names are scanned a word at a time: only words holding a NUL or two dots in a row are
/// looked at byte by byte, so a typical name (`usr/lib/python3.11/a.py`) costs a few
/// instructions per 8 bytes and no byte-by-byte pass.
#[inline]
pub(crate) fn check_bytes(name: &[u8]) -> Result<(), NameError> {
    let mut parent = None;
    let mut start = 0;
    let mut rest = name;
    let mut previous_dot = false;
    let suspect = |word: u64, start: usize, previous_dot: &mut bool| {
        let dots = zero_bytes(word ^ DOTS);
        let pair = dots & (dots >> 8) != 0 || *previous_dot && dots & 0x80 != 0;
        *previous_dot = dots & LAST_BYTE != 0;
        (zero_bytes(word) != 0 || pair).then(|| start.saturating_sub(1))
    };
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        if let Some(from) = suspect(u64::from_le_bytes(*word), start, &mut previous_dot) {
            scan(name, from, start + 8, &mut parent)?;
        }
        start += 8;
        rest = tail;
    }
    if !rest.is_empty() {
        let mut word = [PAD; 8];
        word[..rest.len()].copy_from_slice(rest);
        if suspect(u64::from_le_bytes(word), start, &mut previous_dot).is_some() {
            scan(name, start.saturating_sub(1), name.len(), &mut parent)?;
        }
    }
    if name.first() == Some(&b'/') {
        return Err(NameError::Absolute);
    }
    match parent {
        Some(at) => Err(NameError::ParentComponent { at }),
        None => Ok(()),
    }
}

/// Looks at `name[from..to]` byte by byte: fails on a NUL, records the first `..` component.
#[inline(never)]
fn scan(name: &[u8], from: usize, to: usize, parent: &mut Option<usize>) -> Result<(), NameError> {
    for at in from..to {
        match name[at] {
            0 => return Err(NameError::Nul { at }),
            b'.' if parent.is_none() && is_parent_component(name, at) => *parent = Some(at),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a `..` component starts at `at`.
fn is_parent_component(name: &[u8], at: usize) -> bool {
    let starts = at == 0 || name.get(at - 1) == Some(&b'/');
    let component = name.get(at..).unwrap_or_default();
    starts && component.starts_with(b"..") && matches!(component.get(2), None | Some(&b'/'))
}
