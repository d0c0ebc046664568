//! Reading and writing chunk headers, and checking them against the limits: one place for
//! the decoder, the pull iterator and the encoder.

use super::chunk::{ChunkKind, BODY_HEADER_LEN, FILE_HEADER_LEN};
use super::error::DecodeError;
use super::limits::Limits;
use super::name::{check_len, NameError};

/// The kind a type byte announces, or the error for an unknown one at `offset`.
#[inline(always)]
pub(crate) fn kind_of(byte: u8, offset: u64) -> Result<ChunkKind, DecodeError> {
    ChunkKind::from_type_byte(byte).ok_or(DecodeError::UnknownType { byte, offset })
}

/// The body length of a Metadata or InlineData header, checked against the limits.
#[inline(always)]
pub(crate) fn body_len(
    header: &[u8; BODY_HEADER_LEN],
    limits: &Limits,
    offset: u64,
) -> Result<u64, DecodeError> {
    let len = u64::from(u32::from_le_bytes([
        header[1], header[2], header[3], header[4],
    ]));
    if len > limits.max_inline {
        return Err(DecodeError::InlineTooLarge {
            len,
            max: limits.max_inline,
            offset,
        });
    }
    Ok(len)
}

/// The fields of a FileBackedData header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileHeader {
    pub(crate) content_len: u64,
    pub(crate) dir_index: u32,
    /// The name length; at most the name cap, so it fits any `usize`.
    pub(crate) name_len: usize,
}

/// The fields of a FileBackedData header, checked against the limits (the name's length
/// too, so that no caller waits for a name it would refuse).
#[inline(always)]
pub(crate) fn file_header(
    header: &[u8; FILE_HEADER_LEN],
    limits: &Limits,
    offset: u64,
) -> Result<FileHeader, DecodeError> {
    let content_len = u64::from_le_bytes([
        header[1], header[2], header[3], header[4], header[5], header[6], header[7], header[8],
    ]);
    let dir_index = u32::from_le_bytes([header[9], header[10], header[11], header[12]]);
    let name_len = u32::from_le_bytes([header[13], header[14], header[15], header[16]]);
    if dir_index > limits.max_index {
        return Err(DecodeError::IndexTooLarge {
            index: dir_index,
            max: limits.max_index,
            offset,
        });
    }
    let name_error = |error| DecodeError::Name { error, offset };
    check_len(u64::from(name_len), limits.max_name).map_err(name_error)?;
    // The name cap is at most 4096, so this conversion cannot fail.
    let name_len = usize::try_from(name_len).map_err(|_| {
        name_error(NameError::TooLong {
            len: u64::from(name_len),
            max: limits.max_name,
        })
    })?;
    Ok(FileHeader {
        content_len,
        dir_index,
        name_len,
    })
}

/// The header of a Metadata or InlineData chunk with a body of `len` bytes.
pub(crate) fn put_body_header(kind: ChunkKind, len: u32) -> [u8; BODY_HEADER_LEN] {
    let len = len.to_le_bytes();
    [kind.type_byte(), len[0], len[1], len[2], len[3]]
}

/// The header of a FileBackedData chunk.
pub(crate) fn put_file_header(
    content_len: u64,
    dir_index: u32,
    name_len: u32,
) -> [u8; FILE_HEADER_LEN] {
    let mut header = [0; FILE_HEADER_LEN];
    header[0] = ChunkKind::FileBackedData.type_byte();
    header[1..9].copy_from_slice(&content_len.to_le_bytes());
    header[9..13].copy_from_slice(&dir_index.to_le_bytes());
    header[13..17].copy_from_slice(&name_len.to_le_bytes());
    header
}
