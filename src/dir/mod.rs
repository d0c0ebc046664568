//! **splitdirfdstream**, the format's successor: inline bytes plus whole files named beneath
//! directories that travel out of band, so a layer of 50,000 files needs a handful of
//! directory descriptors instead of one descriptor per file.
//!
//! This module has the same shape as the first format at the crate root: a push
//! [`Decoder`], a pull iterator [`Chunks`], an [`Encoder`] into caller buffers, [`Limits`]
//! and typed errors. Opening names beneath directories is the adapters' business; this
//! module only checks the names' rules.
//!
//! # The format
//!
//! No header or footer; each chunk starts with one type byte; all integers little-endian:
//!
//! | type | chunk | rest of the header | body |
//! |---|---|---|---|
//! | `0x00` | [`Chunk::Metadata`] | `u32` length | `length` raw bytes (tar headers, padding) |
//! | `0x01` | [`Chunk::InlineData`] | `u32` length | `length` raw bytes (file content sent inline) |
//! | `0x02` | [`Chunk::FileBackedData`] | `u64` content_len, `u32` dir_index, `u32` name_len | `name_len` bytes of file name |
//!
//! Together with an ordered, out-of-band list of directories, a stream reconstructs a byte
//! stream by concatenating each chunk's contribution: Metadata and InlineData bodies
//! verbatim, and for FileBackedData the whole file `name` beneath directory `dir_index`,
//! which must hold exactly `content_len` bytes, read from offset 0.
//!
//! Golden bytes: Metadata `tar` is `00 03 00 00 00 74 61 72`; an empty InlineData chunk is
//! `01 00 00 00 00`; 5 bytes of `a/b` beneath directory 1 is
//! `02 05 00 00 00 00 00 00 00 01 00 00 00 03 00 00 00 61 2f 62`.
//!
//! # Edge cases
//!
//! This module takes a deliberate position on each, tested in `tests/dir_vectors.rs`:
//!
//! - **Any type byte other than 0, 1, 2 is [`DecodeError::UnknownType`]**, reported as soon
//!   as the byte is read.
//! - **A clean end is allowed only before a type byte.** A partial header, name or body at
//!   the end is [`DecodeError::Truncated`]; empty input is a valid empty stream.
//! - **Empty Metadata is never written** (the [`Encoder`] drops it), but it is read, as the
//!   reference reader reads it, as one empty fragment.
//! - **Zero-length InlineData is written and read** as one empty fragment: an empty file
//!   must still travel.
//! - **Names** obey [`check_name`]: not empty, at most [`MAX_NAME_LEN`] (4096) bytes, no
//!   NUL, not absolute, no `..` component; `.`, empty components and non-UTF-8 bytes are
//!   allowed. The decoder checks them and the encoder refuses to write a name that breaks
//!   them. A name's length is checked at the header, before the name is awaited.
//! - **A name comes whole**, borrowed from the input: see [`Decoder`] and
//!   [`Status::NeedMore`]. A buffer of [`MAX_NEED`] (4096 + 17) bytes always suffices.
//! - **Bodies stream**: Metadata and InlineData of any length the wire can express
//!   (`u32::MAX` bytes) are handed out in fragments through a buffer of any size; there is
//!   no cap unless [`Limits::max_inline`] sets one.
//! - **Bodies above 256 MiB are split by the encoder** into consecutive chunks of the same
//!   kind, none longer than [`MAX_CHUNK_BODY`], because the reference reader refuses longer
//!   ones. The reconstructed bytes are the same; a consumer that takes each InlineData
//!   chunk for a whole file's content sees such a file as several chunks (the reference
//!   writer cannot send such a file inline at all).
//! - **`content_len` is a `u64`** and any value is accepted, above 4 GiB included.
//! - **Directory indices are `u32`**, capped by [`Limits::max_index`] when the consumer
//!   knows how many directories it holds.
//!
//! # Differences from the reference implementation
//!
//! The published `composefs-splitdirfdstream` crate (0.9.4) reads and writes the same
//! bytes; `tests/dir_interop.rs` checks both directions chunk for chunk. Where it behaves
//! differently, deliberately:
//!
//! - **No 256 MiB cap on read.** The reference buffers each body and refuses bodies above
//!   256 MiB; this decoder streams bodies in fragments and accepts any length unless
//!   [`Limits::max_inline`] says otherwise. [`Limits::reference`] applies the reference's
//!   cap.
//! - **Large bodies are split, not refused, on write.** The reference writer refuses a
//!   body above 256 MiB; the [`Encoder`] splits it into several chunks that the reference
//!   reader accepts.
//! - **Names are checked when decoded.** The reference reader checks only a name's length
//!   and leaves the other rules to whoever opens the file; this decoder refuses a stream
//!   with a bad name at its chunk, with its offset, so no consumer can forget to check.
//! - **Truncation is reported with what is missing.** The reference reports the whole
//!   declared length of what it could not read; this decoder reports the bytes still
//!   missing and the chunk's offset.
//! - **File size policy** (adapters): the reference reads `content_len` bytes and ignores a
//!   longer file; this project treats a file of any other size than `content_len`, or one
//!   that changes while read, as an error: never cut, never padded.
//! - **Confined opens only** (adapters): names are opened with `openat2` and
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`; the reference falls back
//!   to a plain `openat` on kernels without `openat2`, this project never does.
//!
//! ```
//! use splitfdstream::dir::{Chunk, Chunks, DecodeError, Encoder, NameError};
//!
//! let mut encoder = Encoder::new();
//! let mut out = [0u8; 64];
//! let mut len = encoder.metadata(b"tar", &mut out)?;
//! len += encoder.metadata(b"", &mut out[len..])?; // empty Metadata: nothing written
//! len += encoder.inline_data(b"", &mut out[len..])?; // an empty file: written
//! len += encoder.file_backed(1, 5, b"a/b", &mut out[len..])?;
//! assert_eq!(
//!     encoder.file_backed(0, 5, b"../etc/passwd", &mut out[len..]),
//!     Err(NameError::ParentComponent { at: 0 }.into())
//! );
//! encoder.finish()?;
//! assert_eq!(len, 8 + 5 + 20);
//!
//! let kinds: Vec<_> = Chunks::new(&out[..len]).map(|c| c.unwrap().kind()).collect();
//! assert_eq!(kinds.len(), 3);
//!
//! // An unknown type byte, with its offset.
//! let bad = [0, 1, 0, 0, 0, b'x', 7];
//! let mut chunks = Chunks::new(&bad);
//! assert!(chunks.next().unwrap().is_ok());
//! assert_eq!(chunks.next(), Some(Err(DecodeError::UnknownType { byte: 7, offset: 6 })));
//! # Ok::<(), splitfdstream::dir::EncodeError>(())
//! ```

mod chunk;
mod chunks;
mod decoder;
mod encoder;
mod error;
mod header;
mod limits;
mod name;

pub use crate::chunk::InlineFragment;
pub use chunk::{
    Chunk, ChunkKind, FileBacked, BODY_HEADER_LEN, FILE_HEADER_LEN, MAX_CHUNK_BODY, MAX_NAME_LEN,
    MAX_NEED,
};
pub use chunks::Chunks;
pub use decoder::{Decoder, Status, Step};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use limits::Limits;
pub use name::{check_name, NameError};
