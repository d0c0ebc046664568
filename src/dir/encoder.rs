//! The stateful splitdirfdstream encoder that writes into caller buffers.

use super::chunk::{ChunkKind, BODY_HEADER_LEN, FILE_HEADER_LEN, MAX_CHUNK_BODY};
use super::error::EncodeError;
use super::header::{put_body_header, put_file_header};
use super::name::check_name;
use crate::chunk::len_u64;

/// Writes a splitdirfdstream that the reference reader accepts into caller-provided
/// buffers.
///
/// - A Metadata or InlineData body longer than [`MAX_CHUNK_BODY`] (256 MiB, the most the
///   reference reader takes) is split into consecutive chunks of the same kind, each at
///   most that long; the reconstructed bytes are the same. [`Encoder::with_split`] sets a
///   smaller size.
/// - A FileBackedData name that breaks the name rules is refused with
///   [`EncodeError::Name`].
/// - An empty Metadata body writes nothing; an empty InlineData body is written (an empty
///   file must still travel).
///
/// Every method either writes completely or, on error, leaves the output buffer and the
/// encoder untouched. The encoder remembers how many body bytes are owed, so a new chunk
/// cannot start, and [`finish`](Encoder::finish) fails, while a body is incomplete.
///
/// # Streaming a large body
///
/// [`begin_metadata`](Encoder::begin_metadata) or
/// [`begin_inline_data`](Encoder::begin_inline_data) declares the whole body's length and
/// writes the first chunk's header. Then either:
///
/// - [`body`](Encoder::body) copies a piece into `out`, writing the next chunk's header
///   wherever a chunk fills up (`out` must hold the piece plus 5 bytes per header it
///   crosses); or
/// - the caller writes body bytes to its sink itself: [`room`](Encoder::room) says how
///   many may follow before the next header, [`advance_body`](Encoder::advance_body)
///   accounts for them, and [`body_header`](Encoder::body_header) writes the next header
///   once `room` is 0 and bytes are still [`owed`](Encoder::owed) (it writes nothing
///   otherwise, so it may be called before every piece).
///
/// ```
/// use splitfdstream::dir::{Chunk, Chunks, Encoder};
///
/// // Bodies split every 4 bytes, to show the splitting on a small scale.
/// let mut encoder = Encoder::with_split(4);
/// let mut out = [0u8; 128];
/// let mut len = 0;
/// len += encoder.metadata(b"header", &mut out[len..])?; // two chunks: 4 + 2 bytes
/// len += encoder.inline_data(b"", &mut out[len..])?; // an empty file: one empty chunk
/// len += encoder.file_backed(0, 1 << 33, b"objects/ab", &mut out[len..])?;
///
/// // A body of 6 bytes whose bytes the caller writes itself.
/// len += encoder.begin_inline_data(6, &mut out[len..])?;
/// while encoder.owed() > 0 {
///     len += encoder.body_header(&mut out[len..])?;
///     let piece = usize::try_from(encoder.room()).unwrap();
///     out[len..len + piece].fill(b'x');
///     len += piece;
///     encoder.advance_body(encoder.room())?;
/// }
/// encoder.finish()?;
///
/// let chunks: Vec<_> = Chunks::new(&out[..len]).collect::<Result<_, _>>().unwrap();
/// assert_eq!(chunks.len(), 6);
/// assert!(matches!(chunks[2], Chunk::InlineData(f) if f.data.is_empty()));
/// assert!(matches!(chunks[3], Chunk::FileBackedData(f) if f.content_len == 1 << 33));
/// assert!(matches!(chunks[5], Chunk::InlineData(f) if f.data == b"xx"));
/// # Ok::<(), splitfdstream::dir::EncodeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encoder {
    /// Body bytes still owed by the body in progress, across all its chunks.
    owed: u64,
    /// Body bytes that fit in the current chunk before the next header.
    room: u64,
    /// Whether the body in progress is Metadata (else InlineData).
    metadata: bool,
    /// The longest body written in one chunk.
    split: u64,
    position: u64,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder at the start of a stream, splitting bodies at [`MAX_CHUNK_BODY`].
    pub const fn new() -> Encoder {
        Encoder::with_split(MAX_CHUNK_BODY)
    }

    /// An encoder that writes at most `split` body bytes per chunk; `split` is taken
    /// between 1 and [`MAX_CHUNK_BODY`].
    pub const fn with_split(split: u64) -> Encoder {
        let split = if split == 0 {
            1
        } else if split > MAX_CHUNK_BODY {
            MAX_CHUNK_BODY
        } else {
            split
        };
        Encoder {
            owed: 0,
            room: 0,
            metadata: false,
            split,
            position: 0,
        }
    }

    /// The longest body this encoder writes in one chunk.
    pub const fn split(&self) -> u64 {
        self.split
    }

    /// Body bytes the body in progress still owes, across all its chunks.
    pub const fn owed(&self) -> u64 {
        self.owed
    }

    /// Body bytes that may follow before the next chunk header of the body in progress.
    pub const fn room(&self) -> u64 {
        self.room
    }

    /// Stream bytes produced so far (headers, names and accounted body bytes).
    pub const fn position(&self) -> u64 {
        self.position
    }

    fn ready_for_header(&self) -> Result<(), EncodeError> {
        match self.owed {
            0 => Ok(()),
            remaining => Err(EncodeError::InlineOwed { remaining }),
        }
    }

    /// Bytes needed for a body of `len` bytes starting with `room` bytes of room: the body
    /// and one header per chunk boundary it crosses.
    fn with_headers(&self, len: usize, room: u64) -> usize {
        let extra = len_u64(len).saturating_sub(room);
        let headers = usize::try_from(extra.div_ceil(self.split)).unwrap_or(usize::MAX);
        headers.saturating_mul(BODY_HEADER_LEN).saturating_add(len)
    }

    /// Writes the header of the next chunk of the body in progress, of `owed` bytes at most.
    fn put_next_header(&mut self, out: &mut [u8]) {
        let len = self.owed.min(self.split);
        let kind = if self.metadata {
            ChunkKind::Metadata
        } else {
            ChunkKind::InlineData
        };
        // `len` is at most MAX_CHUNK_BODY, which fits a u32.
        let header = put_body_header(kind, u32::try_from(len).unwrap_or(u32::MAX));
        out[..BODY_HEADER_LEN].copy_from_slice(&header);
        self.room = len;
        self.position += len_u64(BODY_HEADER_LEN);
    }

    fn begin(&mut self, metadata: bool, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.ready_for_header()?;
        if metadata && len == 0 {
            return Ok(0);
        }
        if out.len() < BODY_HEADER_LEN {
            return Err(EncodeError::InsufficientSize {
                required: BODY_HEADER_LEN,
            });
        }
        self.metadata = metadata;
        self.owed = len;
        self.put_next_header(out);
        Ok(BODY_HEADER_LEN)
    }

    /// Writes the first header of a Metadata body of `len` bytes whose bytes follow
    /// through [`body`](Encoder::body) or [`advance_body`](Encoder::advance_body).
    /// `len == 0` writes nothing and returns 0: empty Metadata is never written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] inside a body, [`EncodeError::InsufficientSize`] when
    /// `out` is shorter than 5 bytes.
    pub fn begin_metadata(&mut self, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.begin(true, len, out)
    }

    /// Writes the first header of an InlineData body of `len` bytes whose bytes follow
    /// through [`body`](Encoder::body) or [`advance_body`](Encoder::advance_body).
    /// `len == 0` writes a complete empty InlineData chunk.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] inside a body, [`EncodeError::InsufficientSize`] when
    /// `out` is shorter than 5 bytes.
    pub fn begin_inline_data(&mut self, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.begin(false, len, out)
    }

    /// Copies a piece of the body in progress into `out`, with the header of each further
    /// chunk where the body is split; returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOverrun`] when `piece` is longer than the body still owes,
    /// [`EncodeError::InsufficientSize`] when `out` cannot hold the piece and its headers.
    pub fn body(&mut self, piece: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        let len = len_u64(piece.len());
        if len > self.owed {
            return Err(EncodeError::InlineOverrun {
                len,
                remaining: self.owed,
            });
        }
        let required = self.with_headers(piece.len(), self.room);
        if out.len() < required {
            return Err(EncodeError::InsufficientSize { required });
        }
        let mut written = 0;
        let mut rest = piece;
        while !rest.is_empty() {
            if self.room == 0 {
                self.put_next_header(&mut out[written..]);
                written += BODY_HEADER_LEN;
            }
            let take = usize::try_from(self.room).map_or(rest.len(), |room| room.min(rest.len()));
            out[written..written + take].copy_from_slice(&rest[..take]);
            written += take;
            rest = &rest[take..];
            let take = len_u64(take);
            self.room -= take;
            self.owed -= take;
            self.position += take;
        }
        Ok(written)
    }

    /// Writes the header of the next chunk of a split body when one is due (the current
    /// chunk is full and body bytes are still owed) and returns 5; otherwise writes nothing
    /// and returns 0.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InsufficientSize`] when a header is due and `out` is shorter than 5.
    pub fn body_header(&mut self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if self.room > 0 || self.owed == 0 {
            return Ok(0);
        }
        if out.len() < BODY_HEADER_LEN {
            return Err(EncodeError::InsufficientSize {
                required: BODY_HEADER_LEN,
            });
        }
        self.put_next_header(out);
        Ok(BODY_HEADER_LEN)
    }

    /// Records that the caller wrote `len` body bytes of the body in progress itself.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOverrun`] when `len` is more than the body still owes,
    /// [`EncodeError::HeaderDue`] when it is more than [`room`](Encoder::room).
    pub fn advance_body(&mut self, len: u64) -> Result<(), EncodeError> {
        if len > self.owed {
            return Err(EncodeError::InlineOverrun {
                len,
                remaining: self.owed,
            });
        }
        if len > self.room {
            return Err(EncodeError::HeaderDue {
                len,
                room: self.room,
            });
        }
        self.room -= len;
        self.owed -= len;
        self.position += len;
        Ok(())
    }

    fn whole(&mut self, metadata: bool, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.ready_for_header()?;
        if metadata && body.is_empty() {
            return Ok(0);
        }
        let required = self.with_headers(body.len(), 0).max(BODY_HEADER_LEN);
        if out.len() < required {
            return Err(EncodeError::InsufficientSize { required });
        }
        let (head, tail) = out.split_at_mut(BODY_HEADER_LEN);
        self.begin(metadata, len_u64(body.len()), head)?;
        Ok(BODY_HEADER_LEN + self.body(body, tail)?)
    }

    /// Writes a whole Metadata body, split into chunks if it is longer than
    /// [`split`](Encoder::split); returns the bytes written. An empty `body` writes
    /// nothing and returns 0.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] inside a body, [`EncodeError::InsufficientSize`] when
    /// `out` cannot hold the headers and the body.
    pub fn metadata(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.whole(true, body, out)
    }

    /// Writes a whole InlineData body, split into chunks if it is longer than
    /// [`split`](Encoder::split); returns the bytes written. An empty `body` is written as
    /// one empty chunk (5 bytes).
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] inside a body, [`EncodeError::InsufficientSize`] when
    /// `out` cannot hold the headers and the body.
    pub fn inline_data(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.whole(false, body, out)
    }

    /// Writes a FileBackedData chunk: `content_len` bytes of the file `name` beneath
    /// directory number `dir_index`; returns the bytes written (17 plus the name's length).
    ///
    /// # Errors
    ///
    /// [`EncodeError::Name`] when `name` breaks the name rules
    /// ([`check_name`](super::check_name)), [`EncodeError::InlineOwed`] inside a body,
    /// [`EncodeError::InsufficientSize`] when `out` cannot hold the header and the name.
    pub fn file_backed(
        &mut self,
        dir_index: u32,
        content_len: u64,
        name: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        check_name(name)?;
        self.ready_for_header()?;
        let required = FILE_HEADER_LEN + name.len();
        let Some(slot) = out.get_mut(..required) else {
            return Err(EncodeError::InsufficientSize { required });
        };
        // A checked name is at most 4096 bytes, which fits a u32.
        let name_len = u32::try_from(name.len()).unwrap_or(u32::MAX);
        let (header, rest) = slot.split_at_mut(FILE_HEADER_LEN);
        header.copy_from_slice(&put_file_header(content_len, dir_index, name_len));
        rest.copy_from_slice(name);
        self.position += len_u64(required);
        Ok(required)
    }

    /// Checks that the stream may end here.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InlineOwed`] while the body in progress owes bytes.
    pub fn finish(&self) -> Result<(), EncodeError> {
        self.ready_for_header()
    }
}
