//! The state an interrupted apply needs to continue, in a few dozen bytes.

use core::fmt;

use super::header::SHA256_LEN;

/// Length of a [`Checkpoint`]'s bytes.
pub const CHECKPOINT_LEN: usize = 52;

const CHECKPOINT_MAGIC: [u8; 4] = *b"SFDC";

/// Where an apply stood at a chunk boundary: the file offset of the next chunk in the
/// update, and how many target bytes were written before it. It names the update by its
/// target's SHA-256, so a checkpoint is never applied to another update.
///
/// A device persists [`to_bytes`](Checkpoint::to_bytes) (52 bytes) when the applier reports
/// one; after a reset, it resumes from it: the bytes already written are hashed again from
/// the new slot, and the stream continues at `stream_offset`.
///
/// ```
/// use splitfdstream::update::{Checkpoint, CheckpointError};
///
/// let checkpoint = Checkpoint { stream_offset: 200, target_offset: 4096, target_sha256: [3; 32] };
/// let bytes = checkpoint.to_bytes();
/// assert_eq!(Checkpoint::from_bytes(&bytes), Ok(checkpoint));
/// assert_eq!(Checkpoint::from_bytes(&[0; 52]), Err(CheckpointError::BadMagic));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Checkpoint {
    /// File offset in the update of the next chunk to apply.
    pub stream_offset: u64,
    /// Target bytes written before that chunk.
    pub target_offset: u64,
    /// The target's SHA-256, from the update's header.
    pub target_sha256: [u8; SHA256_LEN],
}

impl Checkpoint {
    /// The checkpoint's bytes: `SFDC`, the two offsets (little-endian), the SHA-256.
    pub fn to_bytes(&self) -> [u8; CHECKPOINT_LEN] {
        let mut bytes = [0; CHECKPOINT_LEN];
        bytes[..4].copy_from_slice(&CHECKPOINT_MAGIC);
        bytes[4..12].copy_from_slice(&self.stream_offset.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.target_offset.to_le_bytes());
        bytes[20..].copy_from_slice(&self.target_sha256);
        bytes
    }

    /// Reads a checkpoint.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::BadMagic`] when the bytes are not a checkpoint (erased flash, for
    /// instance).
    pub fn from_bytes(bytes: &[u8; CHECKPOINT_LEN]) -> Result<Checkpoint, CheckpointError> {
        if bytes[..4] != CHECKPOINT_MAGIC {
            return Err(CheckpointError::BadMagic);
        }
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[4..12]);
        let stream_offset = u64::from_le_bytes(word);
        word.copy_from_slice(&bytes[12..20]);
        let target_offset = u64::from_le_bytes(word);
        let mut target_sha256 = [0; SHA256_LEN];
        target_sha256.copy_from_slice(&bytes[20..]);
        Ok(Checkpoint {
            stream_offset,
            target_offset,
            target_sha256,
        })
    }
}

/// Why bytes are not a [`Checkpoint`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CheckpointError {
    /// They do not start with the checkpoint magic `SFDC`.
    BadMagic,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::BadMagic => f.write_str("not a checkpoint: bad magic"),
        }
    }
}

impl core::error::Error for CheckpointError {}
