//! Caller-chosen caps on what a sparse decoder accepts.

use crate::sparse::metadata::METADATA_CAPACITY;

/// Caps checked when a frame header is read, before any of its payload.
///
/// ```
/// use splitfdstream::sparse::{Limits, METADATA_CAPACITY};
///
/// assert_eq!(Limits::new().metadata_cap(), METADATA_CAPACITY as u64);
/// // The metadata cap never exceeds the decoder's buffer.
/// assert_eq!(Limits::new().max_metadata(1 << 20).metadata_cap(), METADATA_CAPACITY as u64);
/// assert_eq!(Limits::new().max_data(1 << 20).data_cap(), 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    pub(crate) max_metadata: u64,
    pub(crate) max_data: u64,
}

/// [`METADATA_CAPACITY`] as a `u64`.
const CAPACITY: u64 = 4096;
const _: () = assert!(METADATA_CAPACITY == 4096);

impl Limits {
    /// Metadata up to [`METADATA_CAPACITY`] bytes, data extents of any length.
    pub const fn new() -> Limits {
        Limits {
            max_metadata: CAPACITY,
            max_data: u64::MAX,
        }
    }

    /// Reject metadata JSON longer than `max` bytes (at most [`METADATA_CAPACITY`]).
    #[must_use]
    pub const fn max_metadata(mut self, max: u64) -> Limits {
        self.max_metadata = if max < CAPACITY { max } else { CAPACITY };
        self
    }

    /// Reject data extents longer than `max` bytes (uncompressed).
    #[must_use]
    pub const fn max_data(mut self, max: u64) -> Limits {
        self.max_data = max;
        self
    }

    /// The metadata length cap.
    pub const fn metadata_cap(&self) -> u64 {
        self.max_metadata
    }

    /// The data extent length cap (`u64::MAX` when unlimited).
    pub const fn data_cap(&self) -> u64 {
        self.max_data
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}
