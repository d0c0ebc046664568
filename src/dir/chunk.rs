//! The events a splitdirfdstream decodes into, and the sizes its wire format fixes.

use crate::chunk::InlineFragment;

/// Header length of a Metadata or InlineData chunk: the type byte and a `u32` body length.
pub const BODY_HEADER_LEN: usize = 5;

/// Header length of a FileBackedData chunk: the type byte, `u64` content_len, `u32`
/// directory index and `u32` name length.
pub const FILE_HEADER_LEN: usize = 17;

/// The longest file name the format allows, in bytes.
pub const MAX_NAME_LEN: usize = 4096;

/// The most a [`Decoder`](super::Decoder) ever asks for in one input piece: a FileBackedData
/// header and the longest name. A caller buffer of this size always suffices.
pub const MAX_NEED: usize = FILE_HEADER_LEN + MAX_NAME_LEN;

/// The largest Metadata or InlineData body the reference reader accepts (256 MiB). The
/// [`Encoder`](super::Encoder) never writes a larger one: it splits longer bodies.
pub const MAX_CHUNK_BODY: u64 = 256 * 1024 * 1024;

/// The three kinds of chunk, each with its type byte on the wire.
///
/// ```
/// use splitfdstream::dir::ChunkKind;
///
/// assert_eq!(ChunkKind::from_type_byte(2), Some(ChunkKind::FileBackedData));
/// assert_eq!(ChunkKind::InlineData.type_byte(), 1);
/// assert_eq!(ChunkKind::Metadata.header_len(), 5);
/// assert_eq!(ChunkKind::from_type_byte(3), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkKind {
    /// `0x00`: raw stream bytes (tar headers, padding), carried in the stream.
    Metadata,
    /// `0x01`: file content carried in the stream.
    InlineData,
    /// `0x02`: a whole file, named beneath a directory given out of band.
    FileBackedData,
}

impl ChunkKind {
    /// The kind a type byte announces, or `None` for a byte the format does not define.
    #[inline]
    pub const fn from_type_byte(byte: u8) -> Option<ChunkKind> {
        match byte {
            0 => Some(ChunkKind::Metadata),
            1 => Some(ChunkKind::InlineData),
            2 => Some(ChunkKind::FileBackedData),
            _ => None,
        }
    }

    /// The type byte on the wire.
    pub const fn type_byte(self) -> u8 {
        match self {
            ChunkKind::Metadata => 0,
            ChunkKind::InlineData => 1,
            ChunkKind::FileBackedData => 2,
        }
    }

    /// The length of this kind's header, type byte included.
    #[inline]
    pub const fn header_len(self) -> usize {
        match self {
            ChunkKind::Metadata | ChunkKind::InlineData => BODY_HEADER_LEN,
            ChunkKind::FileBackedData => FILE_HEADER_LEN,
        }
    }
}

/// One decoded event of a splitdirfdstream.
///
/// Metadata and InlineData bodies may arrive in several [`InlineFragment`]s when the
/// [`Decoder`](super::Decoder) is fed the stream in pieces; [`Chunks`](super::Chunks)
/// always yields whole chunks. An empty body is one empty fragment, so a zero-length
/// InlineData chunk (an empty file) is never lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Chunk<'i> {
    /// Raw stream bytes (all or part of one Metadata chunk's body).
    Metadata(InlineFragment<'i>),
    /// File content sent inline (all or part of one InlineData chunk's body).
    InlineData(InlineFragment<'i>),
    /// A whole file, read from beneath a directory given out of band.
    FileBackedData(FileBacked<'i>),
}

impl Chunk<'_> {
    /// The kind of chunk this event belongs to.
    pub const fn kind(&self) -> ChunkKind {
        match self {
            Chunk::Metadata(_) => ChunkKind::Metadata,
            Chunk::InlineData(_) => ChunkKind::InlineData,
            Chunk::FileBackedData(_) => ChunkKind::FileBackedData,
        }
    }
}

/// A FileBackedData chunk: `content_len` bytes from offset 0 of the file `name` beneath
/// directory number `dir_index`.
///
/// The name is borrowed from the decoder's input and already obeys the name rules
/// ([`check_name`](super::check_name)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FileBacked<'i> {
    /// The file's length as declared by the stream; the file must hold exactly this many
    /// bytes.
    pub content_len: u64,
    /// Index of the directory in the out-of-band list.
    pub dir_index: u32,
    /// The file's name relative to that directory: raw bytes, `/` separating components.
    pub name: &'i [u8],
}
