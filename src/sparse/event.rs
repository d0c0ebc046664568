//! The events a sparse stream decodes into.

use crate::sparse::lz4::Lz4FrameInfo;
use crate::sparse::metadata::Metadata;

/// A range of the virtual disk: `len` bytes from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Extent {
    /// Offset of the first byte on the virtual disk.
    pub start: u64,
    /// Length in bytes (uncompressed).
    pub len: u64,
}

impl Extent {
    /// The offset just past the extent, or `None` if it overflows `u64` (the decoder
    /// refuses such extents).
    pub const fn end(&self) -> Option<u64> {
        self.start.checked_add(self.len)
    }
}

/// One event of a sparse stream, as [`Decoder::decode`](crate::sparse::Decoder::decode)
/// hands them out, in stream order.
///
/// A stream reads as: [`MetadataFragment`](Event::MetadataFragment)s, then
/// [`Metadata`](Event::Metadata); any number of extents, each either
/// [`Zero`](Event::Zero) or data fragments ([`Data`](Event::Data) in an uncompressed
/// stream, [`Lz4`](Event::Lz4) in a compressed one) closed by
/// [`DataEnd`](Event::DataEnd); [`Stop`](Event::Stop); and, in a compressed stream that
/// has one, [`Trailer`](Event::Trailer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'i> {
    /// A piece of the metadata JSON.
    MetadataFragment(MetadataFragment<'i>),
    /// The metadata, parsed, once its payload and CRLF have been read.
    Metadata(Metadata),
    /// A piece of an uncompressed data payload.
    Data(DataFragment<'i>),
    /// A piece of an LZ4 frame of a compressed data payload.
    Lz4(Lz4Fragment<'i>),
    /// A data payload and its CRLF have been read.
    DataEnd(DataEnd),
    /// A zero extent.
    Zero(Extent),
    /// The `stop` frame: the data extents add up to the metadata's `dataSize`.
    Stop,
    /// The compression trailer was read and agrees with the LZ4 frames; the stream is
    /// complete.
    Trailer {
        /// The trailer JSON's length in bytes.
        len: u64,
        /// Its entries, one per data frame.
        entries: u64,
    },
}

/// A non-empty piece of the metadata JSON, borrowed from the decoder's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MetadataFragment<'i> {
    /// The bytes.
    pub data: &'i [u8],
    /// Bytes of the JSON delivered before this fragment.
    pub offset: u64,
    /// Bytes of the JSON still to come after it.
    pub remaining: u64,
}

/// A non-empty piece of an uncompressed data payload, borrowed from the decoder's input.
///
/// ```
/// use splitfdstream::sparse::{DataFragment, Extent};
///
/// let fragment = DataFragment {
///     data: b"abc",
///     extent: Extent { start: 4096, len: 10 },
///     offset: 2,
///     remaining: 5,
/// };
/// assert_eq!(fragment.disk_offset(), 4098);
/// assert!(!fragment.is_last());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataFragment<'i> {
    /// The bytes.
    pub data: &'i [u8],
    /// The extent this payload fills.
    pub extent: Extent,
    /// Bytes of the payload delivered before this fragment.
    pub offset: u64,
    /// Bytes of the payload still to come after it.
    pub remaining: u64,
}

impl DataFragment<'_> {
    /// Where on the virtual disk this fragment's first byte goes.
    pub const fn disk_offset(&self) -> u64 {
        // The decoder checked that the extent ends within a u64 virtual size.
        self.extent.start.saturating_add(self.offset)
    }

    /// Whether this fragment ends its payload.
    pub const fn is_last(&self) -> bool {
        self.remaining == 0
    }
}

/// A non-empty piece of one LZ4 frame of a compressed payload, borrowed from the decoder's
/// input. A frame may come in several fragments; the one that ends it carries `end`.
///
/// To restore, decompress each frame (its fragments, in order) and write the output from
/// `extent.start` on; check each frame's output against its declared content size, and
/// at [`Event::DataEnd`] that the output adds up to `extent.len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lz4Fragment<'i> {
    /// The frame's bytes, as they are on the wire.
    pub data: &'i [u8],
    /// The extent this payload fills.
    pub extent: Extent,
    /// Index of the frame within the payload, from 0.
    pub frame: u64,
    /// Bytes of the frame delivered before this fragment.
    pub offset: u64,
    /// On the fragment that ends the frame: what its header declared and its length.
    pub end: Option<Lz4FrameInfo>,
}

/// The end of a data payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataEnd {
    /// The extent the payload filled.
    pub extent: Extent,
    /// Bytes of the payload on the wire (compressed size in a compressed stream).
    pub payload_len: u64,
    /// LZ4 frames in the payload; 0 in an uncompressed stream.
    pub lz4_frames: u64,
}
