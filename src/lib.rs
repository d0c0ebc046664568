//! A `no_std`, allocation-free, zero-copy codec for **splitfdstream**: a stream that carries
//! some bytes inline and refers to external sources for the rest.
//!
//! Container storage hands a layer's tar to another process as a small splitfdstream plus
//! file descriptors, so the bulk is never copied through a pipe; an updater rebuilds an
//! image from a few new bytes and content already on the device. This crate is the format
//! alone: it turns caller-provided bytes into typed events and writes headers into caller
//! buffers. All I/O lives in `splitfdstream-adapters`.
//!
//! # The format
//!
//! A stream is a sequence of chunks with no header, footer, magic, version or checksum.
//! Each chunk starts with an 8-byte little-endian signed `i64` prefix `p`:
//!
//! | prefix `p` | chunk | what follows the prefix | contributes |
//! |---|---|---|---|
//! | `p < 0` | [`Chunk::Inline`] | `\|p\|` literal bytes | those bytes |
//! | `p >= 0` | [`Chunk::External`] | nothing | the whole content of external source number `p`, from offset 0 to its end |
//!
//! Together with an ordered, out-of-band list of sources, the stream reconstructs a byte
//! stream by concatenating each chunk's contribution. An external reference carries no
//! length, and the same index may appear any number of times; a consumer reads each
//! reference from offset 0.
//!
//! # Edge cases
//!
//! This crate takes a deliberate position on each, tested in `tests/vectors.rs`:
//!
//! - **Prefix 0 is `External(0)`.** An empty inline chunk therefore cannot be encoded;
//!   [`Header::inline`] refuses length 0 and the [`Encoder`] drops empty inline writes.
//! - **`i64::MIN` declares 2^63 inline bytes.** Lengths are computed with
//!   `i64::unsigned_abs`, never by negation, so there is no overflow and no panic.
//! - **Indices above `u32::MAX` are kept.** [`FdIndex`] is a `u64`; nothing truncates it.
//! - **A partial prefix at the end is [`DecodeError::Truncated`]**, as is a short inline
//!   body; the format's first implementation treats a partial prefix as a clean end.
//! - **Empty input is a valid empty stream.**
//! - **Inline length is not capped** by the format, and this crate streams inline bodies in
//!   fragments, so it needs no cap; callers that buffer whole chunks set one with
//!   [`Limits`].
//!
//! ```
//! use splitfdstream::{Chunk, Chunks, DecodeError, Decoder};
//!
//! // Prefix 0 is External(0).
//! let zero = [0u8; 8];
//! assert!(matches!(Chunks::new(&zero).next(), Some(Ok(Chunk::External(i))) if i.get() == 0));
//!
//! // i64::MIN declares 2^63 inline bytes: the stream below is truncated, not an overflow.
//! let min = i64::MIN.to_le_bytes();
//! assert_eq!(Chunks::new(&min).next(), Some(Err(DecodeError::Truncated { missing: 1 << 63 })));
//!
//! // Indices above u32::MAX are kept.
//! let big = (1u64 << 40).to_le_bytes();
//! assert!(matches!(Chunks::new(&big).next(), Some(Ok(Chunk::External(i))) if i.get() == 1 << 40));
//!
//! // A partial prefix at the end is an error, not a clean end.
//! let mut decoder = Decoder::new();
//! decoder.decode(&[0xfb, 0xff, 0xff])?;
//! assert_eq!(decoder.finish(), Err(DecodeError::Truncated { missing: 5 }));
//!
//! // Empty input is a valid empty stream.
//! assert!(Chunks::new(&[]).next().is_none());
//! assert_eq!(Decoder::new().finish(), Ok(()));
//! # Ok::<(), DecodeError>(())
//! ```
//!
//! # Decoding
//!
//! - [`Decoder`] is a sans-IO push decoder: feed it pieces of any size, it says how much it
//!   consumed and hands back at most one event per call, with inline data borrowed from
//!   your input as [`InlineFragment`]s. An inline chunk of any size streams through a small
//!   buffer without being copied.
//! - [`Chunks`] iterates over a complete stream in memory (a buffer or a memory map) and
//!   yields whole chunks.
//!
//! Both produce the same chunks for the same bytes.
//!
//! # Encoding
//!
//! [`Header`] builds a single prefix; [`Encoder`] writes a whole stream into caller buffers
//! and refuses to produce a malformed one.
//!
//! # Limits
//!
//! [`Limits`] caps the inline length and the external index a decoder accepts; a prefix that
//! exceeds a cap is an error as soon as it is read, before any body byte is handed out.
//!
//! # Other formats
//!
//! Each with the same shape as the first: decoder, pull iterator, encoder, limits, errors.
//!
//! - [`dir`]: splitdirfdstream, the format's successor, which names whole files beneath
//!   directories instead of passing one descriptor per file.
//! - [`sparse`]: virtnbdbackup's sparse disk-backup streams (data and zero extents of a
//!   virtual disk, optionally LZ4-compressed).
//! - [`update`]: the update file, a header with the target's length and SHA-256, a table
//!   of source ranges of an old image with their SHA-256, and a splitfdstream whose
//!   external index `i` is range `i`; with checkpoints for resumable applies.
//!
//! # Features
//!
//! - `sparse` (default): the [`sparse`] module. It brings in `serde` (no `std`, no derive)
//!   and `serde-json-core` to read the metadata JSON; turn default features off to build
//!   the first format alone.
//! - `defmt`: derives `defmt::Format` on every public type, for logging on embedded targets.
//!
//! The crate never allocates, has no `unsafe` code (`#![forbid(unsafe_code)]`) and builds
//! for bare-metal targets such as `thumbv7em-none-eabihf`, with or without `sparse`.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.81, checked in CI. Raising it is a minor-version change.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chunk;
mod chunks;
mod decoder;
pub mod dir;
mod encoder;
mod error;
mod header;
mod limits;
#[cfg(feature = "sparse")]
pub mod sparse;
pub mod update;

pub use chunk::{Chunk, FdIndex, InlineFragment};
pub use chunks::Chunks;
pub use decoder::{Decoder, Step};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use header::{Header, HeaderKind, HEADER_LEN, MAX_INLINE_LEN};
pub use limits::Limits;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
