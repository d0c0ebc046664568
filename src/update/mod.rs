//! The **update file**: what a device downloads to rebuild a new image from a few new
//! bytes and ranges of the image it already has, each checked by SHA-256 before use.
//!
//! This module has the same shape as the other formats: a push [`Decoder`], a pull
//! iterator [`Events`], an [`Encoder`] into caller buffers, [`Limits`] and typed errors;
//! and a [`Checkpoint`] that lets an interrupted apply continue. Applying an update (reading
//! the old image, hashing, writing the new one) is the adapters' business.
//!
//! # The format
//!
//! All integers little-endian. One file, in three parts:
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 6 | magic `SFDUPD` ([`MAGIC`]) |
//! | 6 | 2 | version, `1` ([`VERSION`]) |
//! | 8 | 8 | target length |
//! | 16 | 32 | target SHA-256 |
//! | 48 | 8 | range count `n` |
//! | 56 | 48 × `n` | the range table: for each range, `u64` offset and `u64` length in the old image, then the SHA-256 of those bytes ([`SourceRange`]) |
//! | 56 + 48 × `n` | to the end | a splitfdstream (the first format, see the crate root) whose external index `i` is range `i` of the table |
//!
//! The target is the concatenation of the stream's chunks: inline bytes as they are, and
//! for external index `i` the bytes of range `i` of the old image. A consumer checks each
//! range's SHA-256 before it uses the range's bytes, and the target's length and SHA-256
//! at the end.
//!
//! Golden bytes: the target `hello world` made from `hello` at offset 0 of the old image
//! and the new bytes ` world`:
//!
//! ```text
//! 53 46 44 55 50 44 01 00                           magic, version 1
//! 0b 00 00 00 00 00 00 00                           target length 11
//! b9 4d 27 b9 93 4d 3e 08 a5 2e 52 d7 da 7d ab fa   SHA-256("hello world")
//! c4 84 ef e3 7a 53 80 ee 90 88 f7 ac e2 ef cd e9
//! 01 00 00 00 00 00 00 00                           1 range
//! 00 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00   range 0: offset 0, length 5
//! 2c f2 4d ba 5f b0 a3 0e 26 e8 3b 2a c5 b9 e2 9e   SHA-256("hello")
//! 1b 16 1e 5c 1f a7 42 5e 73 04 33 62 93 8b 98 24
//! 00 00 00 00 00 00 00 00                           External(0): range 0
//! fa ff ff ff ff ff ff ff 20 77 6f 72 6c 64         Inline " world"
//! ```
//!
//! # Edge cases
//!
//! This module takes a deliberate position on each, tested in `tests/update_vectors.rs`:
//!
//! - **Another magic or version is an error** ([`DecodeError::BadMagic`],
//!   [`DecodeError::UnsupportedVersion`]): a compressed update is decompressed by the host
//!   before it is decoded.
//! - **A range is never empty** and never ends beyond `u64::MAX`; ranges may overlap and
//!   the stream may refer to one any number of times.
//! - **An external index past the table is [`DecodeError::UnknownRange`]**, with the
//!   chunk's file offset.
//! - **The file ends only in the stream, on a chunk boundary**; a file cut in its header
//!   or table is [`DecodeError::Truncated`], one cut inside a chunk is
//!   [`DecodeError::Stream`]. A file cut on a chunk boundary decodes, and is caught by the
//!   target's length and SHA-256, which only a consumer that rebuilds the target can check.
//! - **The table streams**: the decoder hands out each record and keeps none; a device that
//!   needs record `i` later reads [`RANGE_LEN`] bytes at [`Header::range_offset`].
//!
//! ```
//! use splitfdstream::update::{Event, Events};
//! use splitfdstream::Chunk;
//!
//! let file = [
//!     0x53, 0x46, 0x44, 0x55, 0x50, 0x44, 0x01, 0x00, 0x0b, 0, 0, 0, 0, 0, 0, 0,
//!     0xb9, 0x4d, 0x27, 0xb9, 0x93, 0x4d, 0x3e, 0x08, 0xa5, 0x2e, 0x52, 0xd7, 0xda, 0x7d,
//!     0xab, 0xfa, 0xc4, 0x84, 0xef, 0xe3, 0x7a, 0x53, 0x80, 0xee, 0x90, 0x88, 0xf7, 0xac,
//!     0xe2, 0xef, 0xcd, 0xe9, 0x01, 0, 0, 0, 0, 0, 0, 0,
//!     0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0,
//!     0x2c, 0xf2, 0x4d, 0xba, 0x5f, 0xb0, 0xa3, 0x0e, 0x26, 0xe8, 0x3b, 0x2a, 0xc5, 0xb9,
//!     0xe2, 0x9e, 0x1b, 0x16, 0x1e, 0x5c, 0x1f, 0xa7, 0x42, 0x5e, 0x73, 0x04, 0x33, 0x62,
//!     0x93, 0x8b, 0x98, 0x24,
//!     0, 0, 0, 0, 0, 0, 0, 0,
//!     0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b' ', b'w', b'o', b'r', b'l', b'd',
//! ];
//! let old = b"hello there";
//! let mut ranges = Vec::new();
//! let mut target = Vec::new();
//! for event in Events::new(&file) {
//!     match event? {
//!         Event::Header(header) => assert_eq!(header.target_len, 11),
//!         Event::Range { range, .. } => ranges.push(range),
//!         Event::Chunk(Chunk::Inline(fragment)) => target.extend_from_slice(fragment.data),
//!         Event::Chunk(Chunk::External(index)) => {
//!             let range = ranges[usize::try_from(index.get()).unwrap()];
//!             let start = usize::try_from(range.offset).unwrap();
//!             let end = usize::try_from(range.end().unwrap()).unwrap();
//!             target.extend_from_slice(&old[start..end]);
//!         }
//!     }
//! }
//! assert_eq!(target, b"hello world");
//! # Ok::<(), splitfdstream::update::DecodeError>(())
//! ```
//!
//! # Checkpoints
//!
//! An apply can stop at any chunk boundary (a reset, a power loss) and continue from a
//! [`Checkpoint`]: the update's file offset of the next chunk, the target bytes written
//! before it, and the target's SHA-256 to tie the checkpoint to its update; 52 bytes.

mod checkpoint;
mod decoder;
mod encoder;
mod error;
mod events;
mod header;
mod limits;

pub use checkpoint::{Checkpoint, CheckpointError, CHECKPOINT_LEN};
pub use decoder::{Decoder, Event, Step};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError, Part};
pub use events::Events;
pub use header::{Header, SourceRange, HEADER_LEN, MAGIC, RANGE_LEN, SHA256_LEN, VERSION};
pub use limits::Limits;
