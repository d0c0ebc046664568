//! The compression trailer: checking it as it streams past, and writing it.
//!
//! The trailer is a JSON list with one entry per data frame: an integer (the payload's
//! compressed size, one LZ4 frame) or an object with one key (virtnbdbackup writes the
//! compressed total; readers ignore it) whose value is the list of the payload's LZ4
//! frame sizes. A streaming reader meets it only after every payload, and the core cannot
//! keep a list of sizes of unbounded length, so both sides are folded into a
//! [`TrailerDigest`] as they pass and compared at the end: exact counts of entries,
//! frames and bytes, and a 64-bit hash of the sequence. No `no_std` JSON crate parses a
//! document that arrives in pieces without holding it whole, so the trailer's small
//! grammar is checked here by a byte-at-a-time state machine.

/// Entries, frames and bytes, and a hash of the sequence of entry boundaries and frame
/// sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct TrailerDigest {
    pub(crate) entries: u64,
    frames: u64,
    bytes: u64,
    hash: u64,
}

/// SplitMix64's finaliser: a cheap, well-mixing bijection on 64 bits.
const fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

impl TrailerDigest {
    /// Nothing folded in yet.
    pub(crate) const NEW: TrailerDigest = TrailerDigest {
        entries: 0,
        frames: 0,
        bytes: 0,
        hash: 0,
    };

    /// A new data payload, or a new trailer entry.
    pub(crate) fn entry(&mut self) {
        self.entries = self.entries.wrapping_add(1);
        self.hash = mix(self.hash ^ mix(self.entries) ^ 0x5a5a_5a5a_5a5a_5a5a);
    }

    /// An LZ4 frame of `size` compressed bytes in the current payload or entry.
    pub(crate) fn frame(&mut self, size: u64) {
        self.frames = self.frames.wrapping_add(1);
        self.bytes = self.bytes.wrapping_add(size);
        self.hash = mix(self.hash.rotate_left(1) ^ mix(size));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Expect {
    /// Before the opening `[`.
    Open,
    /// After `[`: `]` or an entry.
    FirstEntry,
    /// After `,`: an entry.
    Entry,
    /// Inside an integer entry, or a size in an object's list (`in_list`).
    Digits {
        value: u64,
        zero: bool,
        in_list: bool,
    },
    /// After an entry: `,` or `]`.
    AfterEntry,
    /// After `{`: the key's opening quote.
    Key,
    /// Inside the key.
    KeyString { escaped: bool },
    /// After the key: `:`.
    Colon,
    /// After `:`: the list's `[`.
    ListOpen,
    /// After the list's `[`: `]` or a size.
    FirstSize,
    /// After `,` in the list: a size.
    Size,
    /// After a size: `,` or `]`.
    AfterSize,
    /// After the list: `}`.
    ObjectClose,
    /// After the closing `]`.
    Closed,
}

/// Checks the trailer's JSON byte by byte, folding its sizes into a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct TrailerParser {
    expect: Expect,
    pub(crate) digest: TrailerDigest,
}

/// Outcome of [`TrailerParser::feed`].
pub(crate) enum Fed {
    /// All input consumed; the list is still open.
    Open,
    /// The list closed after `consumed` bytes.
    Closed { consumed: usize },
}

const fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

impl TrailerParser {
    pub(crate) const fn new() -> TrailerParser {
        TrailerParser {
            expect: Expect::Open,
            digest: TrailerDigest::NEW,
        }
    }

    /// Checks bytes until the list closes or the input ends.
    ///
    /// # Errors
    ///
    /// The index in `input` of the first byte that cannot be part of a trailer.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<Fed, usize> {
        for (index, &byte) in input.iter().enumerate() {
            if !self.byte(byte) {
                return Err(index);
            }
            if self.expect == Expect::Closed {
                return Ok(Fed::Closed {
                    consumed: index + 1,
                });
            }
        }
        Ok(Fed::Open)
    }

    fn byte(&mut self, byte: u8) -> bool {
        if let Expect::Digits {
            value,
            zero,
            in_list,
        } = self.expect
        {
            if byte.is_ascii_digit() {
                let Some(value) = value
                    .checked_mul(10)
                    .and_then(|value| value.checked_add(u64::from(byte - b'0')))
                else {
                    return false;
                };
                // JSON has no leading zeros.
                if zero {
                    return false;
                }
                self.expect = Expect::Digits {
                    value,
                    zero: false,
                    in_list,
                };
                return true;
            }
            self.digest.frame(value);
            self.expect = if in_list {
                Expect::AfterSize
            } else {
                Expect::AfterEntry
            };
        }
        if let Expect::KeyString { escaped } = self.expect {
            self.expect = match (escaped, byte) {
                (true, _) => Expect::KeyString { escaped: false },
                (false, b'\\') => Expect::KeyString { escaped: true },
                (false, b'"') => Expect::Colon,
                (false, 0..=0x1f) => return false,
                (false, _) => Expect::KeyString { escaped: false },
            };
            return true;
        }
        if is_whitespace(byte) && self.expect != Expect::Closed {
            return true;
        }
        let digits = |in_list| Expect::Digits {
            value: u64::from(byte.wrapping_sub(b'0')),
            zero: byte == b'0',
            in_list,
        };
        self.expect = match (self.expect, byte) {
            (Expect::Open, b'[') => Expect::FirstEntry,
            (Expect::FirstEntry, b']') | (Expect::AfterEntry, b']') => Expect::Closed,
            (Expect::FirstEntry | Expect::Entry, b'0'..=b'9') => {
                self.digest.entry();
                digits(false)
            }
            (Expect::FirstEntry | Expect::Entry, b'{') => {
                self.digest.entry();
                Expect::Key
            }
            (Expect::AfterEntry, b',') => Expect::Entry,
            (Expect::Key, b'"') => Expect::KeyString { escaped: false },
            (Expect::Colon, b':') => Expect::ListOpen,
            (Expect::ListOpen, b'[') => Expect::FirstSize,
            (Expect::FirstSize | Expect::Size, b'0'..=b'9') => digits(true),
            (Expect::FirstSize | Expect::AfterSize, b']') => Expect::ObjectClose,
            (Expect::AfterSize, b',') => Expect::Size,
            (Expect::ObjectClose, b'}') => Expect::AfterEntry,
            _ => return false,
        };
        true
    }

    /// Bytes at least still needed to close the list.
    pub(crate) fn missing(&self) -> u64 {
        match self.expect {
            Expect::Closed => 0,
            Expect::Open => 2,
            _ => 1,
        }
    }
}

/// Payloads of this uncompressed length or more get an object entry, as virtnbdbackup
/// writes them: its restore reads such an extent frame by frame from the object's list
/// (32 MiB is its NBD request size), and a shorter one as one frame of the integer's size.
pub const TRAILER_OBJECT_THRESHOLD: u64 = 32 << 20;

/// Writes `value` in decimal at the start of `out`; returns the digit count.
pub(crate) fn put_decimal(value: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let len = digits.len() - at;
    out[..len].copy_from_slice(&digits[at..]);
    len
}

/// The decimal length of `value`.
pub(crate) fn decimal_len(value: u64) -> usize {
    let mut len = 1;
    let mut rest = value / 10;
    while rest > 0 {
        len += 1;
        rest /= 10;
    }
    len
}

/// Length of one trailer entry as [`write_entry`] writes it.
pub(crate) fn entry_len(object: bool, sizes: &[u64]) -> usize {
    if !object {
        return sizes.first().map_or(1, |&size| decimal_len(size));
    }
    let total = sizes
        .iter()
        .fold(0u64, |total, &size| total.wrapping_add(size));
    // {"total": [a, b]}
    let list: usize = sizes.iter().map(|&size| decimal_len(size)).sum::<usize>()
        + 2 * sizes.len().saturating_sub(1);
    decimal_len(total) + list + 8
}

/// Writes one entry the way Python's `json.dumps` does: `123` or `{"123": [100, 23]}`.
/// `out` must hold [`entry_len`] bytes.
pub(crate) fn write_entry(object: bool, sizes: &[u64], out: &mut [u8]) -> usize {
    if !object {
        return put_decimal(sizes.first().copied().unwrap_or(0), out);
    }
    let total = sizes
        .iter()
        .fold(0u64, |total, &size| total.wrapping_add(size));
    let mut at = 0;
    out[at..at + 2].copy_from_slice(b"{\"");
    at += 2;
    at += put_decimal(total, &mut out[at..]);
    out[at..at + 4].copy_from_slice(b"\": [");
    at += 4;
    for (index, &size) in sizes.iter().enumerate() {
        if index > 0 {
            out[at..at + 2].copy_from_slice(b", ");
            at += 2;
        }
        at += put_decimal(size, &mut out[at..]);
    }
    out[at..at + 2].copy_from_slice(b"]}");
    at + 2
}
