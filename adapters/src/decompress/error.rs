//! What goes wrong in a compressed input, with the format and the offsets that say where.

use ::std::fmt;
use ::std::io;

use super::Compression;

/// What is wrong with a compressed member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The decoder rejected the data.
    Corrupt,
    /// The input ended inside the member.
    Truncated,
    /// Bytes after the member start no member of a known format.
    Junk,
}

/// A corrupt, truncated or trailing-junk compressed input; converts to an `io::Error` of
/// kind `InvalidData`.
#[derive(Debug)]
pub struct DecompressError {
    compression: Compression,
    member: u64,
    offset: u64,
    problem: Problem,
    source: Option<io::Error>,
}

impl DecompressError {
    pub(crate) fn new(
        compression: Compression,
        member: u64,
        offset: u64,
        problem: Problem,
    ) -> DecompressError {
        DecompressError {
            compression,
            member,
            offset,
            problem,
            source: None,
        }
    }

    /// The decoder's `error` for the member of `compression` at `member`, found at input
    /// offset `offset`.
    pub(crate) fn from_io(
        compression: Option<Compression>,
        member: u64,
        offset: u64,
        error: io::Error,
    ) -> io::Error {
        let Some(compression) = compression else {
            return error;
        };
        let problem = if error.kind() == io::ErrorKind::UnexpectedEof {
            Problem::Truncated
        } else {
            Problem::Corrupt
        };
        DecompressError {
            compression,
            member,
            offset,
            problem,
            source: Some(error),
        }
        .into()
    }

    /// The member's format.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Input offset of the member's first byte.
    pub fn member_offset(&self) -> u64 {
        self.member
    }

    /// Input offset where the problem was found: how far the decoder had read, the end of
    /// a truncated input, or the first byte of the junk.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What is wrong.
    pub fn problem(&self) -> Problem {
        self.problem
    }
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DecompressError {
            compression,
            member,
            offset,
            ..
        } = self;
        match self.problem {
            Problem::Corrupt => write!(
                f,
                "corrupt {compression} data in the member at offset {member} (detected at input offset {offset})"
            )?,
            Problem::Truncated => write!(
                f,
                "truncated {compression} data: the member at offset {member} is cut at input offset {offset}"
            )?,
            Problem::Junk => write!(
                f,
                "junk after the {compression} member at offset {member}: the bytes at input offset {offset} start no compressed member"
            )?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl ::std::error::Error for DecompressError {}

impl From<DecompressError> for io::Error {
    fn from(error: DecompressError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}
