//! Archive walkers: which bytes of an archive are member content and which are not.
//!
//! A walk never changes or drops a byte: every byte of the (decompressed) input goes to
//! the [`Sink`] exactly once, in order, either inline ([`Sink::inline`]: headers, names,
//! padding, trailers, anything the walker does not split) or as the content of a regular
//! member ([`Sink::content`]). Joining the two in order is the decompressed input, which
//! is what a splitfdstream of it rebuilds.
//!
//! - [`cpio`]: `newc` and `crc` archives, and initramfs images (any sequence of NUL
//!   padding, plain cpio archives and compressed members), with the header parser on its
//!   own, free of I/O.

pub mod cpio;

use ::std::io::{self, Read};

/// Receives an archive's bytes, in order.
pub trait Sink {
    /// What the sink fails with; the walk's own errors arrive as `io::Error`s of kind
    /// `InvalidData` (wrapping, for a cpio walk, a [`cpio::CpioError`]).
    type Error: From<io::Error>;

    /// Bytes that are not member content.
    ///
    /// # Errors
    ///
    /// Whatever the sink fails with; the walk stops.
    fn inline(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;

    /// The content of a regular member: `len` bytes that the sink reads from `content`
    /// (to its end, or the walk drains the rest). Fewer arrive only if the input ends
    /// early, which the walk then reports.
    ///
    /// # Errors
    ///
    /// Whatever the sink fails with; the walk stops.
    fn content(&mut self, content: &mut dyn Read, len: u64) -> Result<(), Self::Error>;
}
