//! Caller-chosen caps on what an update decoder accepts.

/// Caps on the number of ranges, the target's length and the stream's inline chunks,
/// checked when the header or a chunk's prefix is read, before any work is done for them.
///
/// A device sets `max_target` to the size of its new slot, so that an update that cannot
/// fit is refused at its header, before anything is written.
///
/// ```
/// use splitfdstream::update::{DecodeError, Events, Header, Limits};
///
/// let file = Header { target_len: 1 << 20, target_sha256: [0; 32], range_count: 0 }.to_bytes();
/// let mut events = Events::with_limits(&file, Limits::new().max_target(4096));
/// assert_eq!(
///     events.next(),
///     Some(Err(DecodeError::TargetTooLarge { len: 1 << 20, max: 4096 }))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    pub(crate) max_ranges: u64,
    pub(crate) max_target: u64,
    pub(crate) max_inline: u64,
}

impl Limits {
    /// No limits beyond the format's own.
    pub const fn new() -> Limits {
        Limits {
            max_ranges: u64::MAX,
            max_target: u64::MAX,
            max_inline: u64::MAX,
        }
    }

    /// Reject a table of more than `max` ranges.
    #[must_use]
    pub const fn max_ranges(mut self, max: u64) -> Limits {
        self.max_ranges = max;
        self
    }

    /// Reject a target longer than `max` bytes.
    #[must_use]
    pub const fn max_target(mut self, max: u64) -> Limits {
        self.max_target = max;
        self
    }

    /// Reject inline chunks longer than `max` bytes.
    #[must_use]
    pub const fn max_inline(mut self, max: u64) -> Limits {
        self.max_inline = max;
        self
    }

    /// The stream's limits: the inline cap. An index past the table is reported by the
    /// update decoder, which knows the table's size, as [`DecodeError::UnknownRange`].
    ///
    /// [`DecodeError::UnknownRange`]: super::DecodeError::UnknownRange
    pub(crate) const fn stream(&self) -> crate::Limits {
        crate::Limits::new().max_inline(self.max_inline)
    }

    /// Checks a header against the caps.
    pub(crate) fn check(&self, header: &super::Header) -> Result<(), super::DecodeError> {
        if header.range_count > self.max_ranges {
            return Err(super::DecodeError::TooManyRanges {
                count: header.range_count,
                max: self.max_ranges,
            });
        }
        if header.target_len > self.max_target {
            return Err(super::DecodeError::TargetTooLarge {
                len: header.target_len,
                max: self.max_target,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}
