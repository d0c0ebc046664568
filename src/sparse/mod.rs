//! The sparse stream: disk backups framed as data and zero extents, as virtnbdbackup writes
//! them for libvirt/qemu backups (and ovirt-imageio before it).
//!
//! Same shape as the first format at the crate root: a sans-IO push [`Decoder`] handing out
//! [`Event`]s with payloads borrowed from the input, a pull iterator [`Frames`] over a
//! stream in memory, an [`Encoder`] writing into caller buffers, [`Limits`], and typed
//! [`DecodeError`] / [`EncodeError`]. Decompression and all I/O live in the adapters.
//!
//! # Frames
//!
//! Every frame starts with a 40-byte header `KIND SP START SP LENGTH CRLF`, START and
//! LENGTH being 16 hex digits (written lower case, read in either case):
//!
//! | kind | START | LENGTH | what follows the header |
//! |---|---|---|---|
//! | `meta` | 0 | JSON length | the metadata JSON, then CRLF; always the first frame |
//! | `data` | disk offset | extent length (uncompressed) | the payload, then CRLF |
//! | `zero` | disk offset | extent length | nothing: the extent reads as zeros |
//! | `stop` | 0 | 0 | nothing; the end of the frames |
//! | `comp` | 0 | trailer length | nothing; the last 40 bytes of a compressed stream |
//!
//! In a compressed stream each data payload is one or more LZ4 frames whose content adds
//! up to the extent's length, and after `stop` come the compression trailer (a JSON list
//! with one entry per data frame: an integer compressed size, or an object whose one key
//! is ignored and whose value lists the payload's LZ4 frame sizes), CRLF and `comp`.
//!
//! ```text
//! meta 0000000000000000 00000000000000a7\r\n{"virtualSize": …}\r\n
//! data 0000000000000000 0000000000100000\r\n<1 MiB>\r\n
//! zero 0000000000100000 0000000040000000\r\n
//! stop 0000000000000000 0000000000000000\r\n
//! ```
//!
//! # Metadata keys
//!
//! [`Metadata`] reads what a restore needs, in every spelling used so far:
//!
//! | field | virtnbdbackup, stream version 2 | virtnbdbackup, version 1 | ovirt-imageio |
//! |---|---|---|---|
//! | [`virtual_size`](Metadata::virtual_size) | `virtualSize` | `virtualSize` | `virtual-size` |
//! | [`data_size`](Metadata::data_size) | `dataSize` | `dataSize` | `data-size` |
//! | [`stream_version`](Metadata::stream_version) | `streamVersion`: 2 | `stream-version`: 1 | absent |
//! | [`compression`](Metadata::compression) | `compressed` (`false` or a level), `compressionMethod` (`"lz4"`) | absent | absent |
//! | [`incremental`](Metadata::incremental) | `incremental` | `incremental` | `incremental` |
//!
//! Other keys (`date`, `diskName`, `diskFormat`, `checkpointName`, `parentCheckpoint`)
//! are handed out with the raw JSON ([`Event::MetadataFragment`], [`Frame::Metadata`]);
//! the [`Encoder`] writes them all ([`MetadataFields`]), since virtnbdbackup's restore
//! needs `diskName` and `checkpointName`.
//!
//! The metadata is parsed with `serde-json-core` (no `alloc`, maintained by the
//! rust-embedded community; MSRV below the core's) through a hand-written `Deserialize`,
//! so no derive macros are compiled. It arrives in fragments, so the [`Decoder`] copies it
//! into a fixed [`METADATA_CAPACITY`]-byte (4 KiB) buffer inside itself and parses it
//! once whole; [`Limits::max_metadata`] lowers the cap. virtnbdbackup's metadata is about
//! 400 bytes. [`Frames`] parses it in place.
//!
//! # Checks, and where they differ from virtnbdbackup
//!
//! Each is a [`DecodeError`] carrying the stream offset of the fault:
//!
//! - **Header shape** ([`DecodeError::MalformedHeader`]): exactly the layout above, and 0
//!   where the table says 0. virtnbdbackup splits on spaces and parses whatever is there.
//! - **Unknown frame kinds** ([`DecodeError::UnknownFrame`]): virtnbdbackup skips the
//!   header and reads on from the next byte; here the stream stops, since such a frame's
//!   payload length is unknown.
//! - **Frame order** ([`DecodeError::UnexpectedFrame`]): `meta` first and once, `comp`
//!   only after the trailer.
//! - **Extents past the virtual size** ([`DecodeError::ExtentPastEnd`]), for `data` and
//!   `zero`: virtnbdbackup writes them past the end of the disk.
//! - **CRLF after every payload** ([`DecodeError::MissingCrlf`]): virtnbdbackup checks it
//!   with an `assert`, which `python -O` removes.
//! - **`dataSize` at `stop`** ([`DecodeError::DataSizeMismatch`]), as virtnbdbackup does.
//! - **LZ4 framing** ([`DecodeError::Lz4`]): each frame's magic, FLG and BD bytes,
//!   header checksum and block sizes, without decompressing; a payload's end is found
//!   where its last frame ends, so a compressed stream decodes from a pipe.
//!   virtnbdbackup seeks to the trailer first and cannot. Skippable and legacy LZ4 frames
//!   are refused (virtnbdbackup never writes them). Block and content checksums need the
//!   decompressed bytes and are the decompressor's to check.
//! - **Decompressed length** ([`DecodeError::ContentSizeMismatch`]): where the LZ4
//!   frames declare content sizes (virtnbdbackup's do) they must add up to the extent's
//!   length; virtnbdbackup writes whatever decompresses. A decompressing consumer checks
//!   each frame's output against [`Lz4FrameInfo::content_size`] and the total against the
//!   extent at [`Event::DataEnd`].
//! - **After `stop`** ([`DecodeError::TrailingBytes`], [`DecodeError::MalformedTrailer`],
//!   [`DecodeError::TrailerLength`], [`DecodeError::TrailerMismatch`]): nothing in an
//!   uncompressed stream; in a compressed one, nothing or a well-formed trailer, CRLF and
//!   a `comp` frame whose length is the trailer's, as the last bytes. The trailer must
//!   list every data payload's LZ4 frame sizes in order; an integer entry stands for a
//!   payload of one frame, which is how virtnbdbackup's restore reads it. It is compared
//!   through exact counts and a 64-bit hash of the sizes, since the core keeps no list
//!   (see `trailer.rs`). virtnbdbackup ignores whatever follows `stop`, and trusts the
//!   trailer.
//! - **Truncation anywhere** ([`DecodeError::Truncated`], from [`Decoder::finish`]): a
//!   stream ends only after `stop` or after the `comp` frame.
//! - **Metadata** ([`DecodeError::Metadata`]): `virtualSize` and `dataSize` present, no
//!   key twice, a stream version of 1 or 2, `compressed` only in version 2 (virtnbdbackup
//!   would read LZ4 frames of an earlier version as raw data), LZ4 as the method.
//!
//! Like virtnbdbackup, extents need not be in order and may overlap (the later wins).
//!
//! # Writing for virtnbdbackup
//!
//! The [`Encoder`] writes what virtnbdbackup's restore reads: every metadata key it
//! requires, and trailer entries in the form it expects (an integer below
//! [`TRAILER_OBJECT_THRESHOLD`], an object at or above it, where it reads the payload
//! frame by frame). For that restore, a compressed extent under 32 MiB must be one LZ4
//! frame.

mod decoder;
mod encoder;
mod error;
mod event;
mod frames;
mod header;
mod limits;
mod lz4;
mod metadata;
mod trailer;

pub use decoder::{Decoder, Step};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use event::{DataEnd, DataFragment, Event, Extent, Lz4Fragment, MetadataFragment};
pub use frames::{Frame, Frames};
pub use header::{FrameHeader, FrameKind, HeaderFault, FRAME_HEADER_LEN};
pub use limits::Limits;
pub use lz4::{Lz4Error, Lz4Fault, Lz4Frame, Lz4FrameInfo, Lz4Frames, LZ4_MAGIC};
pub use metadata::{
    Compression, Metadata, MetadataFault, MetadataFields, METADATA_CAPACITY, METADATA_MAX_DEPTH,
    STREAM_VERSION,
};
pub use trailer::TRAILER_OBJECT_THRESHOLD;
