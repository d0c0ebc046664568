//! Decode and encode errors of the sparse stream.

use core::fmt;

use crate::sparse::header::FrameKind;
use crate::sparse::lz4::Lz4Fault;
use crate::sparse::metadata::MetadataFault;

/// Why a sparse stream could not be decoded. Every variant carries the stream offset
/// where the fault was found.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// 40 bytes where a frame header belongs do not have its shape (`KIND SP` 16 hex
    /// digits `SP` 16 hex digits `CRLF`), or a field the format fixes at 0 (`meta`'s start,
    /// `stop`'s start and length, `comp`'s start) is not 0.
    MalformedHeader {
        /// Stream offset of the header.
        offset: u64,
    },
    /// A well-formed header of a kind the format does not have. virtnbdbackup skips such
    /// frames; a reader cannot know how long their payload is, so this one stops.
    UnknownFrame {
        /// The header's first four bytes.
        kind: [u8; 4],
        /// Stream offset of the header.
        offset: u64,
    },
    /// A frame where the format does not allow it: anything but `meta` first, a second
    /// `meta`, `comp` before `stop`, or a frame other than `comp` after the trailer.
    UnexpectedFrame {
        /// The frame's kind.
        kind: FrameKind,
        /// Stream offset of the header.
        offset: u64,
    },
    /// The metadata JSON is longer than the decoder's limit.
    MetadataTooLarge {
        /// The length the `meta` header declares.
        len: u64,
        /// The limit in force.
        max: u64,
        /// Stream offset of the header.
        offset: u64,
    },
    /// The metadata JSON does not describe a stream this crate can read.
    Metadata {
        /// What is wrong with it.
        fault: MetadataFault,
        /// Stream offset of the JSON.
        offset: u64,
    },
    /// A data extent is longer than the decoder's limit.
    DataTooLarge {
        /// The extent's length.
        len: u64,
        /// The limit in force.
        max: u64,
        /// Stream offset of the header.
        offset: u64,
    },
    /// A `data` or `zero` extent reaches past the disk's virtual size.
    ExtentPastEnd {
        /// The extent's start.
        start: u64,
        /// The extent's length.
        len: u64,
        /// The metadata's `virtualSize`.
        virtual_size: u64,
        /// Stream offset of the header.
        offset: u64,
    },
    /// A payload (metadata, data or trailer) is not followed by CRLF.
    MissingCrlf {
        /// Stream offset where the CRLF belongs.
        offset: u64,
    },
    /// A compressed payload is not a sequence of well-formed LZ4 frames.
    Lz4 {
        /// What is wrong.
        fault: Lz4Fault,
        /// Stream offset of the faulty field.
        offset: u64,
    },
    /// The LZ4 frames of a compressed payload declare content sizes that do not add up to
    /// the extent's length.
    ContentSizeMismatch {
        /// The extent's length, from its `data` header.
        len: u64,
        /// The content sizes the frames declare, added up.
        declared: u64,
        /// Stream offset of the frame that overshot, or of the payload's end.
        offset: u64,
    },
    /// At `stop`, the data extents' lengths do not add up to the metadata's `dataSize`.
    DataSizeMismatch {
        /// The metadata's `dataSize`.
        declared: u64,
        /// The lengths of the data extents, added up (`u64::MAX` if they overflow).
        actual: u64,
        /// Stream offset of the header that showed the mismatch.
        offset: u64,
    },
    /// Bytes after the end of the stream: after `stop` in an uncompressed stream, after the
    /// `comp` frame in a compressed one.
    TrailingBytes {
        /// Stream offset of the first such byte.
        offset: u64,
    },
    /// What follows `stop` in a compressed stream is not a compression trailer (a JSON
    /// list of integers and one-key objects holding lists of integers).
    MalformedTrailer {
        /// Stream offset of the offending byte.
        offset: u64,
    },
    /// The `comp` frame's length is not the trailer's.
    TrailerLength {
        /// The length in the `comp` header.
        declared: u64,
        /// The trailer's actual length.
        actual: u64,
        /// Stream offset of the `comp` header.
        offset: u64,
    },
    /// The trailer's sizes disagree with the LZ4 frames of the data payloads.
    TrailerMismatch {
        /// Stream offset of the `comp` header.
        offset: u64,
    },
    /// The input ended before the stream did.
    Truncated {
        /// Bytes at least still needed (the rest of the current field, plus what must
        /// follow it).
        missing: u64,
        /// Stream offset where the input ended.
        offset: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::MalformedHeader { offset } => {
                write!(f, "malformed frame header at stream offset {offset}")
            }
            DecodeError::UnknownFrame { kind, offset } => write!(
                f,
                "unknown frame kind {:?} at stream offset {offset}",
                Printable(&kind)
            ),
            DecodeError::UnexpectedFrame { kind, offset } => write!(
                f,
                "unexpected {:?} frame at stream offset {offset}",
                Printable(kind.as_bytes())
            ),
            DecodeError::MetadataTooLarge { len, max, offset } => write!(
                f,
                "metadata at stream offset {offset} declares {len} bytes, more than the limit of {max}"
            ),
            DecodeError::Metadata { fault, offset } => {
                write!(f, "metadata at stream offset {offset}: {fault}")
            }
            DecodeError::DataTooLarge { len, max, offset } => write!(
                f,
                "data extent at stream offset {offset} declares {len} bytes, more than the limit of {max}"
            ),
            DecodeError::ExtentPastEnd {
                start,
                len,
                virtual_size,
                offset,
            } => write!(
                f,
                "extent of {len} bytes at disk offset {start} (stream offset {offset}) reaches past the virtual size {virtual_size}"
            ),
            DecodeError::MissingCrlf { offset } => {
                write!(f, "payload not followed by CRLF at stream offset {offset}")
            }
            DecodeError::Lz4 { fault, offset } => {
                write!(f, "bad LZ4 frame at stream offset {offset}: {fault}")
            }
            DecodeError::ContentSizeMismatch {
                len,
                declared,
                offset,
            } => write!(
                f,
                "content sizes declared by the LZ4 frames at stream offset {offset} add up to {declared}, not the extent's {len}"
            ),
            DecodeError::DataSizeMismatch {
                declared,
                actual,
                offset,
            } => write!(
                f,
                "data extents add up to {actual} bytes but the metadata says {declared} (stream offset {offset})"
            ),
            DecodeError::TrailingBytes { offset } => {
                write!(f, "bytes after the end of the stream at stream offset {offset}")
            }
            DecodeError::MalformedTrailer { offset } => {
                write!(f, "malformed compression trailer at stream offset {offset}")
            }
            DecodeError::TrailerLength {
                declared,
                actual,
                offset,
            } => write!(
                f,
                "comp frame at stream offset {offset} declares a trailer of {declared} bytes, but it has {actual}"
            ),
            DecodeError::TrailerMismatch { offset } => write!(
                f,
                "compression trailer disagrees with the LZ4 frames read (comp frame at stream offset {offset})"
            ),
            DecodeError::Truncated { missing, offset } => write!(
                f,
                "stream truncated at offset {offset}: at least {missing} more bytes expected"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Bytes shown as text where printable, escaped otherwise.
struct Printable<'a>(&'a [u8]);

impl fmt::Debug for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &byte in self.0 {
            for c in core::ascii::escape_default(byte) {
                write!(f, "{}", char::from(c))?;
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for Lz4Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Lz4Fault::Magic { found } => write!(f, "magic {found:#010x} is not an LZ4 frame's"),
            Lz4Fault::Version { flg } => write!(f, "FLG {flg:#04x} names an unknown version"),
            Lz4Fault::ReservedBits { flg, bd } => {
                write!(f, "reserved bits set in FLG {flg:#04x} or BD {bd:#04x}")
            }
            Lz4Fault::BlockMaxSize { bd } => {
                write!(f, "BD {bd:#04x} names an invalid block maximum size")
            }
            Lz4Fault::HeaderChecksum { expected, found } => {
                write!(f, "header checksum {found:#04x}, expected {expected:#04x}")
            }
            Lz4Fault::BlockTooLarge { len, max } => {
                write!(
                    f,
                    "block of {len} bytes exceeds the frame's maximum of {max}"
                )
            }
            Lz4Fault::EmptyBlock => f.write_str("empty uncompressed block"),
            Lz4Fault::Truncated { missing } => {
                write!(f, "frame truncated: at least {missing} more bytes expected")
            }
        }
    }
}

/// Why a sparse stream could not be encoded. On error nothing was written and the
/// encoder is unchanged.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is too small.
    InsufficientSize {
        /// Bytes the output buffer must hold for this call to succeed.
        required: usize,
    },
    /// A frame the stream cannot have here: anything before `meta`, a second `meta`,
    /// anything after `stop` but the trailer, or a new frame while a payload is owed.
    UnexpectedFrame {
        /// The frame requested.
        kind: FrameKind,
    },
    /// The metadata JSON would be longer than a [`Decoder`](crate::sparse::Decoder) accepts.
    MetadataTooLarge {
        /// Its length.
        len: usize,
        /// [`METADATA_CAPACITY`](crate::sparse::METADATA_CAPACITY).
        max: usize,
    },
    /// An extent reaches past the virtual size given in the metadata.
    ExtentPastEnd {
        /// The extent's start.
        start: u64,
        /// The extent's length.
        len: u64,
        /// The metadata's virtual size.
        virtual_size: u64,
    },
    /// Payload bytes were supplied beyond what the current data frame declared.
    DataOverrun {
        /// Bytes supplied.
        len: u64,
        /// Bytes the payload still expected.
        remaining: u64,
    },
    /// The current data frame's payload is not complete.
    DataOwed {
        /// Uncompressed bytes still to be written.
        remaining: u64,
    },
    /// `stop` was requested but the data extents written do not add up to the metadata's
    /// `dataSize`.
    DataSizeMismatch {
        /// The metadata's `dataSize`.
        declared: u64,
        /// The data lengths written, added up.
        actual: u64,
    },
    /// An LZ4 frame declares a content size other than the one given for it.
    ContentSizeMismatch {
        /// The content size given.
        len: u64,
        /// The content size the frame declares.
        declared: u64,
    },
    /// An LZ4 frame handed to the encoder is not well formed (or not whole), or a
    /// compressed payload has no frame at all.
    Lz4(Lz4Fault),
    /// The bytes handed to the encoder as one LZ4 frame hold more than one frame.
    NotOneLz4Frame {
        /// Length of the first frame.
        frame_len: u64,
        /// Length of the bytes given.
        given: u64,
    },
    /// Uncompressed payload bytes for a compressed stream, LZ4 frames or a trailer for an
    /// uncompressed one.
    CompressionMismatch {
        /// Whether the stream's metadata says it is compressed.
        compressed: bool,
    },
    /// The trailer's entries disagree with the LZ4 frames written.
    TrailerMismatch,
    /// The stream is not complete: no `stop` yet, or (compressed) no trailer.
    Incomplete,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::InsufficientSize { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            EncodeError::UnexpectedFrame { kind } => write!(
                f,
                "a {:?} frame cannot be written here",
                Printable(kind.as_bytes())
            ),
            EncodeError::MetadataTooLarge { len, max } => {
                write!(f, "metadata of {len} bytes exceeds the maximum of {max}")
            }
            EncodeError::ExtentPastEnd {
                start,
                len,
                virtual_size,
            } => write!(
                f,
                "extent of {len} bytes at {start} reaches past the virtual size {virtual_size}"
            ),
            EncodeError::DataOverrun { len, remaining } => write!(
                f,
                "{len} payload bytes supplied but the data frame expects only {remaining} more"
            ),
            EncodeError::DataOwed { remaining } => {
                write!(f, "current data frame still owes {remaining} bytes")
            }
            EncodeError::DataSizeMismatch { declared, actual } => write!(
                f,
                "data extents add up to {actual} bytes but the metadata says {declared}"
            ),
            EncodeError::ContentSizeMismatch { len, declared } => write!(
                f,
                "an LZ4 frame declaring {declared} bytes of content was given as {len}"
            ),
            EncodeError::Lz4(fault) => write!(f, "bad LZ4 frame: {fault}"),
            EncodeError::NotOneLz4Frame { frame_len, given } => write!(
                f,
                "{given} bytes given as one LZ4 frame, but its frame ends after {frame_len}"
            ),
            EncodeError::CompressionMismatch { compressed: true } => {
                f.write_str("the stream is compressed: payloads are LZ4 frames")
            }
            EncodeError::CompressionMismatch { compressed: false } => {
                f.write_str("the stream is not compressed")
            }
            EncodeError::TrailerMismatch => {
                f.write_str("trailer entries disagree with the LZ4 frames written")
            }
            EncodeError::Incomplete => f.write_str("the stream is not complete"),
        }
    }
}

impl core::error::Error for EncodeError {}
