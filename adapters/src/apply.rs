//! The sans-IO part of applying an update file, shared by the blocking and async drivers
//! (and through them by the `std` applier): what the target must be, where the checkpoints
//! fall, and the errors. The copy loop itself is [`Rebuild`], as for every reconstruction.

use core::fmt;

use embedded_io_07::ErrorKind;
use sha2::{Digest, Sha256};
use splitfdstream::update::{self, Checkpoint, Header, SourceRange};
use splitfdstream::{FdIndex, Limits};

use crate::drive::{len_u64, Rebuild};
use crate::error::SourceError;

/// How an apply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Applied {
    /// The target is complete: `len` bytes whose length and SHA-256 match the header.
    Complete {
        /// The target's length.
        len: u64,
    },
    /// The checkpoint callback asked to stop; resume from this checkpoint.
    Stopped(Checkpoint),
}

/// Why an update could not be applied.
///
/// The update, the old slot and the new slot each have their own error type, so their I/O
/// errors are reported by [`ErrorKind`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ApplyError {
    /// The update file is malformed or truncated.
    Decode(update::DecodeError),
    /// The old slot's bytes for a range do not have the range's SHA-256: this update was
    /// made for another image. Nothing of the range was used.
    RangeMismatch {
        /// The range's index in the table.
        index: u64,
        /// Where it starts in the old slot.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The old slot ends inside a range.
    OldTooShort {
        /// The range's index in the table.
        index: u64,
        /// Where it starts in the old slot.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The update rebuilds more or fewer bytes than its header declares.
    TargetLength {
        /// The length the header declares.
        expected: u64,
        /// The length rebuilt (when more: at least this many).
        actual: u64,
    },
    /// The rebuilt target does not have the SHA-256 the header declares.
    TargetMismatch,
    /// The checkpoint is not one of this update (another target, or offsets outside it).
    ForeignCheckpoint,
    /// Reading or seeking the update failed.
    Update(ErrorKind),
    /// Reading or seeking the old slot failed.
    Old(ErrorKind),
    /// Writing, reading back or seeking the new slot failed (`WriteZero` when it accepted
    /// nothing).
    New(ErrorKind),
    /// The buffer is shorter than 16 bytes.
    BufferTooSmall {
        /// Length of the buffer given.
        len: usize,
    },
}

impl From<update::DecodeError> for ApplyError {
    fn from(error: update::DecodeError) -> Self {
        ApplyError::Decode(error)
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ApplyError::Decode(error) => write!(f, "invalid update: {error}"),
            ApplyError::RangeMismatch { index, offset, len } => write!(
                f,
                "the old image differs from the one the update was made for: source range {index} ({len} bytes at offset {offset}) has another SHA-256"
            ),
            ApplyError::OldTooShort { index, offset, len } => write!(
                f,
                "the old image ends inside source range {index} ({len} bytes at offset {offset})"
            ),
            ApplyError::TargetLength { expected, actual } => write!(
                f,
                "the update rebuilds {actual} bytes, but its header declares {expected}"
            ),
            ApplyError::TargetMismatch => {
                f.write_str("the rebuilt image does not have the SHA-256 the update declares")
            }
            ApplyError::ForeignCheckpoint => f.write_str("the checkpoint is not one of this update"),
            ApplyError::Update(kind) => write!(f, "reading the update failed: {kind:?}"),
            ApplyError::Old(kind) => write!(f, "reading the old image failed: {kind:?}"),
            ApplyError::New(kind) => write!(f, "writing the new image failed: {kind:?}"),
            ApplyError::BufferTooSmall { len } => write!(
                f,
                "buffer of {len} bytes is too small: at least {MIN_APPLY_BUFFER_LEN} required"
            ),
        }
    }
}

impl core::error::Error for ApplyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ApplyError::Decode(error) => Some(error),
            _ => None,
        }
    }
}

/// The smallest buffer an apply accepts: room for a chunk prefix in each half.
pub(crate) const MIN_APPLY_BUFFER_LEN: usize = 2 * crate::MIN_BUFFER_LEN;

/// The state of one apply between I/O calls.
pub(crate) struct Apply {
    pub(crate) rebuild: Rebuild,
    pub(crate) header: Header,
    hasher: Sha256,
    written: u64,
    /// File offset in the update where `rebuild` started decoding.
    stream_base: u64,
    /// The range being copied.
    pub(crate) range: Option<SourceRange>,
    /// File offset of the last checkpoint reported (or of the start).
    last_checkpoint: u64,
}

impl Apply {
    /// Starts at the beginning of the stream.
    pub(crate) fn start(header: Header) -> Result<Apply, ApplyError> {
        let stream_base = header
            .stream_offset()
            .ok_or(update::DecodeError::TooManyRanges {
                count: header.range_count,
                max: 0,
            })?;
        Ok(Apply::at(header, stream_base, 0, Sha256::new()))
    }

    /// Starts at a checkpoint, the bytes before it already hashed into `hasher`.
    pub(crate) fn resume(
        header: Header,
        checkpoint: &Checkpoint,
        hasher: Sha256,
    ) -> Result<Apply, ApplyError> {
        Ok(Apply::at(
            header,
            checkpoint.stream_offset,
            checkpoint.target_offset,
            hasher,
        ))
    }

    fn at(header: Header, stream_base: u64, written: u64, hasher: Sha256) -> Apply {
        Apply {
            rebuild: Rebuild::first_format(Limits::new()),
            header,
            hasher,
            written,
            stream_base,
            range: None,
            last_checkpoint: stream_base,
        }
    }

    /// Whether `checkpoint` belongs to the update with `header`.
    pub(crate) fn check_checkpoint(
        header: &Header,
        checkpoint: &Checkpoint,
    ) -> Result<(), ApplyError> {
        let stream_offset = header.stream_offset().unwrap_or(u64::MAX);
        if checkpoint.target_sha256 != header.target_sha256
            || checkpoint.stream_offset < stream_offset
            || checkpoint.target_offset > header.target_len
        {
            return Err(ApplyError::ForeignCheckpoint);
        }
        Ok(())
    }

    /// The checkpoint due now, if the apply sits on a chunk boundary it has not reported.
    pub(crate) fn due_checkpoint(&mut self) -> Option<Checkpoint> {
        let stream_offset = self.stream_base.saturating_add(self.rebuild.position());
        if !self.rebuild.at_chunk_boundary() || stream_offset == self.last_checkpoint {
            return None;
        }
        self.last_checkpoint = stream_offset;
        Some(Checkpoint {
            stream_offset,
            target_offset: self.written,
            target_sha256: self.header.target_sha256,
        })
    }

    /// Accounts for target bytes about to be written; refuses more than the header declares.
    pub(crate) fn output(&mut self, bytes: &[u8]) -> Result<(), ApplyError> {
        let written = self.written.saturating_add(len_u64(bytes.len()));
        if written > self.header.target_len {
            return Err(ApplyError::TargetLength {
                expected: self.header.target_len,
                actual: written,
            });
        }
        self.hasher.update(bytes);
        self.written = written;
        Ok(())
    }

    /// Checks the complete target's length and SHA-256.
    pub(crate) fn finish(self) -> Result<Applied, ApplyError> {
        if self.written != self.header.target_len {
            return Err(ApplyError::TargetLength {
                expected: self.header.target_len,
                actual: self.written,
            });
        }
        if self.hasher.finalize().as_slice() != self.header.target_sha256 {
            return Err(ApplyError::TargetMismatch);
        }
        Ok(Applied::Complete { len: self.written })
    }

    /// The file offset of the record of range `index`.
    pub(crate) fn record_offset(&self, index: FdIndex) -> Result<u64, ApplyError> {
        self.header.range_offset(index.get()).ok_or_else(|| {
            ApplyError::Decode(update::DecodeError::UnknownRange {
                index: index.get(),
                range_count: self.header.range_count,
                offset: self
                    .stream_base
                    .saturating_add(self.rebuild.position())
                    .saturating_sub(8),
            })
        })
    }

    /// A stream error, as an error of the update file.
    pub(crate) fn stream_error(&self, error: crate::StreamError) -> ApplyError {
        let error = match error {
            crate::StreamError::Splitfdstream(error) => error,
            // The stream of an update file is of the first format; nothing else decodes it.
            _ => splitfdstream::DecodeError::Truncated { missing: 0 },
        };
        ApplyError::Decode(update::DecodeError::Stream {
            error,
            stream_offset: self.stream_base,
        })
    }

    /// A source error of the copy loop: the old slot ended inside the current range.
    pub(crate) fn source_error(&self, error: SourceError) -> ApplyError {
        let (offset, len) = self.range.map_or((0, 0), |range| (range.offset, range.len));
        ApplyError::OldTooShort {
            index: error.index(),
            offset,
            len,
        }
    }
}

/// The SHA-256 check of one range, fed as the range is read.
pub(crate) struct RangeCheck {
    hasher: Sha256,
    pub(crate) remaining: u64,
}

impl RangeCheck {
    pub(crate) fn new(range: &SourceRange) -> RangeCheck {
        RangeCheck {
            hasher: Sha256::new(),
            remaining: range.len,
        }
    }

    /// How many bytes to read next into a buffer of `room` bytes.
    pub(crate) fn want(&self, room: usize) -> usize {
        usize::try_from(self.remaining).map_or(room, |remaining| remaining.min(room))
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.remaining = self.remaining.saturating_sub(len_u64(bytes.len()));
    }

    pub(crate) fn matches(self, range: &SourceRange) -> bool {
        self.hasher.finalize().as_slice() == range.sha256
    }
}

/// A fresh SHA-256 for the target, fed with the bytes written before a checkpoint.
pub(crate) fn target_hasher() -> Sha256 {
    Sha256::new()
}

/// Feeds `bytes` to a target hasher.
pub(crate) fn hash_into(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update(bytes);
}
