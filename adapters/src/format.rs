//! The stream formats the drivers read, behind one decoding interface.
//!
//! Every driver decodes through [`Feed`](crate::drive::Feed), which asks a
//! [`StreamDecoder`] for the next event; the first format and its successor each implement
//! it once, so a new format plugs into every driver without a copy of any of them.

use core::fmt;

use splitfdstream::{dir, Chunk, DecodeError, Decoder, FdIndex, Limits};

/// Which wire format a stream is in.
///
/// ```
/// use splitfdstream_adapters::Format;
///
/// assert_eq!(Format::default(), Format::Splitfdstream);
/// assert_eq!("dir".parse::<Format>(), Ok(Format::Splitdirfdstream));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    /// The first format: inline chunks and references to the `i`-th source
    /// ([`splitfdstream::Decoder`]).
    #[default]
    Splitfdstream,
    /// The successor: Metadata and InlineData bodies, and whole files named beneath
    /// directories ([`splitfdstream::dir::Decoder`]).
    Splitdirfdstream,
}

impl core::str::FromStr for Format {
    type Err = UnknownFormat;

    /// `v1` or `splitfdstream`; `dir` or `splitdirfdstream`.
    fn from_str(name: &str) -> Result<Format, UnknownFormat> {
        match name {
            "v1" | "splitfdstream" => Ok(Format::Splitfdstream),
            "dir" | "splitdirfdstream" => Ok(Format::Splitdirfdstream),
            _ => Err(UnknownFormat),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Splitfdstream => "splitfdstream",
            Format::Splitdirfdstream => "splitdirfdstream",
        })
    }
}

/// A format name that is none of [`Format`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownFormat;

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown stream format: expected v1 or dir")
    }
}

impl core::error::Error for UnknownFormat {}

/// A malformed or truncated stream, in its format's own terms (each error has the stream
/// offset).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamError {
    /// A splitfdstream.
    Splitfdstream(DecodeError),
    /// A splitdirfdstream.
    Splitdirfdstream(dir::DecodeError),
    /// A FileBackedData name longer than the caller's stream buffer can ever hold.
    NameTooLong {
        /// The buffer's length.
        buffer: usize,
        /// Bytes the decoder needs at once.
        needed: usize,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Splitfdstream(error) => error.fmt(f),
            StreamError::Splitdirfdstream(error) => error.fmt(f),
            StreamError::NameTooLong { buffer, needed } => write!(
                f,
                "a file name needs {needed} bytes of stream buffer, which has {buffer}"
            ),
        }
    }
}

impl core::error::Error for StreamError {}

impl From<DecodeError> for StreamError {
    fn from(error: DecodeError) -> Self {
        StreamError::Splitfdstream(error)
    }
}

impl From<dir::DecodeError> for StreamError {
    fn from(error: dir::DecodeError) -> Self {
        StreamError::Splitdirfdstream(error)
    }
}

/// What one decoding call found, with the input bytes it consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Inline bytes: the last `len` bytes consumed.
    Inline {
        len: usize,
        offset: u64,
        remaining: u64,
    },
    /// A reference to the `i`-th source.
    Index(FdIndex),
    /// A file named beneath a directory: its name is the last `name_len` bytes consumed.
    Named { dir: u32, name_len: usize, len: u64 },
    /// Nothing complete (part of a header, held by the decoder).
    Partial,
    /// Nothing consumed: the next input must start with the same bytes and hold this many.
    NeedMore(usize),
}

/// A format's decoder as the drivers use it.
pub(crate) trait StreamDecoder {
    /// The format's error.
    type Error;

    /// Decodes from `input`: returns the bytes consumed and what was found.
    fn next(&mut self, input: &[u8]) -> Result<(usize, Found), Self::Error>;

    /// Checks that the stream may end here.
    fn finish(&self) -> Result<(), Self::Error>;

    /// Stream bytes consumed so far.
    fn position(&self) -> u64;

    /// Whether the stream may end here: between two chunks.
    fn is_at_boundary(&self) -> bool;
}

impl StreamDecoder for Decoder {
    type Error = DecodeError;

    fn next(&mut self, input: &[u8]) -> Result<(usize, Found), DecodeError> {
        let step = self.decode(input)?;
        let found = match step.chunk {
            // The decoder hands out inline data as the tail of what it consumed.
            Some(Chunk::Inline(fragment)) => Found::Inline {
                len: fragment.data.len(),
                offset: fragment.offset,
                remaining: fragment.remaining,
            },
            Some(Chunk::External(index)) => Found::Index(index),
            None => Found::Partial,
        };
        Ok((step.consumed, found))
    }

    fn finish(&self) -> Result<(), DecodeError> {
        Decoder::finish(self)
    }

    fn position(&self) -> u64 {
        Decoder::position(self)
    }

    fn is_at_boundary(&self) -> bool {
        Decoder::is_at_boundary(self)
    }
}

impl StreamDecoder for dir::Decoder {
    type Error = dir::DecodeError;

    fn next(&mut self, input: &[u8]) -> Result<(usize, Found), dir::DecodeError> {
        let step = self.decode(input)?;
        let found = match step.status {
            // Bodies and names are the tail of what the call consumed.
            dir::Status::Chunk(dir::Chunk::Metadata(fragment))
            | dir::Status::Chunk(dir::Chunk::InlineData(fragment)) => Found::Inline {
                len: fragment.data.len(),
                offset: fragment.offset,
                remaining: fragment.remaining,
            },
            dir::Status::Chunk(dir::Chunk::FileBackedData(file)) => Found::Named {
                dir: file.dir_index,
                name_len: file.name.len(),
                len: file.content_len,
            },
            dir::Status::NeedMore { at_least } => Found::NeedMore(at_least),
            _ => Found::Partial,
        };
        Ok((step.consumed, found))
    }

    fn finish(&self) -> Result<(), dir::DecodeError> {
        dir::Decoder::finish(self)
    }

    fn position(&self) -> u64 {
        dir::Decoder::position(self)
    }

    fn is_at_boundary(&self) -> bool {
        dir::Decoder::is_at_boundary(self)
    }
}

/// The decoder of either format, chosen at run time.
#[derive(Clone, Debug)]
pub(crate) enum AnyDecoder {
    Splitfdstream(Decoder),
    Splitdirfdstream(dir::Decoder),
}

impl AnyDecoder {
    /// A decoder of `format` for a stream buffer of `buffer` bytes: the successor's names
    /// are capped so that one always fits in it.
    pub(crate) fn new(format: Format, limits: Limits, buffer: usize) -> AnyDecoder {
        match format {
            Format::Splitfdstream => AnyDecoder::Splitfdstream(Decoder::with_limits(limits)),
            Format::Splitdirfdstream => {
                let room = crate::drive::len_u64(buffer.saturating_sub(dir::FILE_HEADER_LEN));
                let limits = dir::Limits::new().max_name(room);
                AnyDecoder::Splitdirfdstream(dir::Decoder::with_limits(limits))
            }
        }
    }
}

impl StreamDecoder for AnyDecoder {
    type Error = StreamError;

    fn next(&mut self, input: &[u8]) -> Result<(usize, Found), StreamError> {
        match self {
            AnyDecoder::Splitfdstream(decoder) => Ok(decoder.next(input)?),
            AnyDecoder::Splitdirfdstream(decoder) => Ok(decoder.next(input)?),
        }
    }

    fn finish(&self) -> Result<(), StreamError> {
        match self {
            AnyDecoder::Splitfdstream(decoder) => Ok(StreamDecoder::finish(decoder)?),
            AnyDecoder::Splitdirfdstream(decoder) => Ok(StreamDecoder::finish(decoder)?),
        }
    }

    fn position(&self) -> u64 {
        match self {
            AnyDecoder::Splitfdstream(decoder) => StreamDecoder::position(decoder),
            AnyDecoder::Splitdirfdstream(decoder) => StreamDecoder::position(decoder),
        }
    }

    fn is_at_boundary(&self) -> bool {
        match self {
            AnyDecoder::Splitfdstream(decoder) => StreamDecoder::is_at_boundary(decoder),
            AnyDecoder::Splitdirfdstream(decoder) => StreamDecoder::is_at_boundary(decoder),
        }
    }
}
