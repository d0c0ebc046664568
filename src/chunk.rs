//! The events a stream decodes into.

/// One decoded event of a splitfdstream.
///
/// Inline chunks may arrive in several [`InlineFragment`]s when the decoder is fed the
/// stream in pieces; [`Chunks`](crate::Chunks) always yields whole chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Chunk<'i> {
    /// Literal bytes that are part of the reconstructed stream (all or part of one chunk).
    Inline(InlineFragment<'i>),
    /// The whole content of external source number `index`, from offset 0 to its end.
    External(FdIndex),
}

/// A non-empty piece of an inline chunk, borrowed from the decoder's input.
///
/// `offset` bytes of the same chunk were delivered before this fragment and `remaining`
/// bytes are still to come after it.
///
/// ```
/// use splitfdstream::InlineFragment;
///
/// let f = InlineFragment { data: b"llo", offset: 2, remaining: 4 };
/// assert_eq!(f.chunk_len(), 9);
/// assert!(!f.is_first());
/// assert!(!f.is_last());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InlineFragment<'i> {
    /// The bytes of this fragment; never empty when produced by a decoder, except for the
    /// single fragment of an empty [`dir`](crate::dir) body.
    pub data: &'i [u8],
    /// Bytes of this chunk delivered before this fragment.
    pub offset: u64,
    /// Bytes of this chunk still to come after this fragment.
    pub remaining: u64,
}

impl InlineFragment<'_> {
    /// Total length of the inline chunk this fragment belongs to, as declared by its prefix.
    ///
    /// Saturates at `u64::MAX` for a hand-built fragment whose fields overflow; the decoder
    /// never produces one (an inline chunk is at most 2^63 bytes).
    pub fn chunk_len(&self) -> u64 {
        self.offset
            .saturating_add(len_u64(self.data.len()))
            .saturating_add(self.remaining)
    }

    /// Whether this fragment starts its chunk.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }

    /// Whether this fragment ends its chunk.
    pub fn is_last(&self) -> bool {
        self.remaining == 0
    }

    /// Whether this fragment is the whole chunk.
    pub fn is_whole(&self) -> bool {
        self.is_first() && self.is_last()
    }
}

/// The index of an external source: the raw, non-negative chunk prefix.
///
/// Indices are carried as `u64` and never truncated; the mapping from index to an actual
/// source (a file descriptor, a file, a flash region) is the consumer's business.
///
/// ```
/// use splitfdstream::FdIndex;
///
/// let index = FdIndex::new(5_000_000_000).unwrap();
/// assert_eq!(index.get(), 5_000_000_000);
/// assert!(FdIndex::new(u64::MAX).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FdIndex(u64);

impl FdIndex {
    /// The largest index the format can express, `i64::MAX`.
    pub const MAX: FdIndex = FdIndex(i64::MAX.unsigned_abs());

    /// An index, or `None` above [`FdIndex::MAX`].
    pub const fn new(index: u64) -> Option<FdIndex> {
        if index <= Self::MAX.0 {
            Some(FdIndex(index))
        } else {
            None
        }
    }

    /// An index known to be at most `i64::MAX` (a non-negative prefix).
    pub(crate) const fn new_unchecked(index: u64) -> FdIndex {
        FdIndex(index)
    }

    /// The raw index.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<FdIndex> for u64 {
    fn from(index: FdIndex) -> u64 {
        index.0
    }
}

impl core::fmt::Display for FdIndex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

/// A slice length as `u64`; lossless on every target Rust supports.
#[inline]
pub(crate) fn len_u64(len: usize) -> u64 {
    // usize is at most 64 bits on every supported target, so this never saturates.
    u64::try_from(len).unwrap_or(u64::MAX)
}
