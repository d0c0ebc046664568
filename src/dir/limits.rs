//! Caller-chosen caps on what a splitdirfdstream decoder accepts.

use super::chunk::{MAX_CHUNK_BODY, MAX_NAME_LEN};

/// Caps on body length, name length and directory index, checked when a chunk's header is
/// read, before any of its body or name is handed out.
///
/// [`Limits::new`] accepts every body the wire can express (up to `u32::MAX` bytes, streamed
/// in fragments) and names up to the format's [`MAX_NAME_LEN`]. A consumer that buffers
/// whole bodies, that maps directory indices into a table of known size, or whose input
/// buffer is smaller than [`MAX_NEED`](super::MAX_NEED) sets the caps it needs.
/// [`Limits::reference`] is what the reference reader enforces.
///
/// ```
/// use splitfdstream::dir::{Chunks, DecodeError, Limits, NameError};
///
/// // FileBackedData: 5 bytes of "a/b" beneath directory 3.
/// let mut stream = vec![2];
/// stream.extend_from_slice(&5u64.to_le_bytes());
/// stream.extend_from_slice(&3u32.to_le_bytes());
/// stream.extend_from_slice(&3u32.to_le_bytes());
/// stream.extend_from_slice(b"a/b");
///
/// let mut chunks = Chunks::with_limits(&stream, Limits::new().max_index(2));
/// assert_eq!(
///     chunks.next(),
///     Some(Err(DecodeError::IndexTooLarge { index: 3, max: 2, offset: 0 }))
/// );
/// let mut chunks = Chunks::with_limits(&stream, Limits::new().max_name(2));
/// assert_eq!(
///     chunks.next(),
///     Some(Err(DecodeError::Name { error: NameError::TooLong { len: 3, max: 2 }, offset: 0 }))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    pub(crate) max_inline: u64,
    pub(crate) max_name: u64,
    pub(crate) max_index: u32,
}

impl Limits {
    /// No limits beyond the format's own: bodies of any length the wire can express, names
    /// up to [`MAX_NAME_LEN`] bytes, any directory index.
    pub const fn new() -> Limits {
        Limits {
            max_inline: u64::MAX,
            max_name: MAX_NAME_LEN_U64,
            max_index: u32::MAX,
        }
    }

    /// The reference reader's limits: Metadata and InlineData bodies of at most
    /// [`MAX_CHUNK_BODY`] (256 MiB), names of at most [`MAX_NAME_LEN`] bytes.
    pub const fn reference() -> Limits {
        Limits::new().max_inline(MAX_CHUNK_BODY)
    }

    /// Reject Metadata and InlineData chunks whose body is longer than `max` bytes.
    #[must_use]
    pub const fn max_inline(mut self, max: u64) -> Limits {
        self.max_inline = max;
        self
    }

    /// Reject names longer than `max` bytes. The format's own maximum, [`MAX_NAME_LEN`],
    /// applies whatever `max` says.
    #[must_use]
    pub const fn max_name(mut self, max: u64) -> Limits {
        self.max_name = if max < MAX_NAME_LEN_U64 {
            max
        } else {
            MAX_NAME_LEN_U64
        };
        self
    }

    /// Reject directory indices greater than `max`.
    #[must_use]
    pub const fn max_index(mut self, max: u32) -> Limits {
        self.max_index = max;
        self
    }

    /// The body length cap (`u64::MAX` when unlimited).
    pub const fn inline_cap(&self) -> u64 {
        self.max_inline
    }

    /// The name length cap (at most [`MAX_NAME_LEN`]).
    pub const fn name_cap(&self) -> u64 {
        self.max_name
    }

    /// The directory index cap (`u32::MAX` when unlimited).
    pub const fn index_cap(&self) -> u32 {
        self.max_index
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

/// [`MAX_NAME_LEN`] as a wire length; 4096 fits any integer type.
const MAX_NAME_LEN_U64: u64 = 4096;

// The two spellings of the maximum must agree.
const _: () = assert!(MAX_NAME_LEN == 4096);
