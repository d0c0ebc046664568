//! Caller-chosen caps on what a decoder accepts.

/// Caps on inline chunk length and external index, checked when a chunk's prefix is read.
///
/// The format caps neither: [`Limits::new`] accepts everything the wire can express. A
/// consumer that buffers whole inline chunks, or that maps indices into a table of known
/// size, sets the caps it needs so that bad input fails at the prefix, before any work.
///
/// ```
/// use splitfdstream::{Chunks, DecodeError, Limits};
///
/// let stream = [0x09, 0, 0, 0, 0, 0, 0, 0]; // External(9)
/// let mut chunks = Chunks::with_limits(&stream, Limits::new().max_index(3));
/// assert_eq!(
///     chunks.next(),
///     Some(Err(DecodeError::IndexTooLarge { index: 9, max: 3, offset: 0 }))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    pub(crate) max_inline: u64,
    pub(crate) max_index: u64,
}

impl Limits {
    /// No limits: inline chunks up to 2^63 bytes, indices up to `i64::MAX`.
    pub const fn new() -> Limits {
        Limits {
            max_inline: u64::MAX,
            max_index: u64::MAX,
        }
    }

    /// Reject inline chunks longer than `max` bytes.
    #[must_use]
    pub const fn max_inline(mut self, max: u64) -> Limits {
        self.max_inline = max;
        self
    }

    /// Reject external indices greater than `max`.
    #[must_use]
    pub const fn max_index(mut self, max: u64) -> Limits {
        self.max_index = max;
        self
    }

    /// The inline length cap (`u64::MAX` when unlimited).
    pub const fn inline_cap(&self) -> u64 {
        self.max_inline
    }

    /// The index cap (`u64::MAX` when unlimited).
    pub const fn index_cap(&self) -> u64 {
        self.max_index
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}
