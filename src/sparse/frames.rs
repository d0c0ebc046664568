//! The pull iterator over a complete in-memory stream.

use crate::sparse::decoder::Decoder;
use crate::sparse::error::DecodeError;
use crate::sparse::event::{Event, Extent};
use crate::sparse::header::FRAME_HEADER_LEN;
use crate::sparse::limits::Limits;
use crate::sparse::metadata::Metadata;

/// One whole frame of a stream held in memory, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'i> {
    /// The `meta` frame: its JSON and what it says.
    Metadata {
        /// The JSON, as on the wire.
        json: &'i [u8],
        /// The fields a restore needs.
        metadata: Metadata,
    },
    /// A `data` frame and its payload.
    Data {
        /// Where the bytes go.
        extent: Extent,
        /// The payload: `extent.len` raw bytes, or in a compressed stream its LZ4 frames
        /// (iterate over them with [`Lz4Frames`](crate::sparse::Lz4Frames)).
        payload: &'i [u8],
        /// LZ4 frames in the payload; 0 in an uncompressed stream.
        lz4_frames: u64,
    },
    /// A `zero` frame.
    Zero(Extent),
    /// The `stop` frame.
    Stop,
    /// The compression trailer and its `comp` frame, checked against the payloads.
    Trailer {
        /// The trailer JSON.
        json: &'i [u8],
        /// Its entries.
        entries: u64,
    },
}

/// An iterator over the frames of a complete sparse stream held in memory (a buffer, a
/// memory map), yielding whole frames borrowed from it.
///
/// It runs a [`Decoder`] over the stream, so both check exactly the same things and
/// yield the same extents. If the stream is bad or ends early, the iterator yields that
/// error once and then ends.
///
/// ```
/// use splitfdstream::sparse::{Encoder, Frame, Frames, MetadataFields};
///
/// let mut stream = [0u8; 512];
/// let mut encoder = Encoder::new();
/// let mut len = encoder.metadata(&MetadataFields::new(4096, 3, "vda", "cp"), &mut stream)?;
/// len += encoder.data(100, b"abc", &mut stream[len..])?;
/// len += encoder.stop(&mut stream[len..])?;
///
/// let frames: Vec<_> = Frames::new(&stream[..len]).collect::<Result<_, _>>()?;
/// assert!(matches!(frames[0], Frame::Metadata { metadata, .. } if metadata.data_size == 3));
/// assert!(matches!(frames[1], Frame::Data { extent, payload: b"abc", .. } if extent.start == 100));
/// assert_eq!(frames[2], Frame::Stop);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Frames<'i> {
    stream: &'i [u8],
    at: usize,
    decoder: Decoder,
    done: bool,
}

impl<'i> Frames<'i> {
    /// Iterates over the frames of `stream`, with the default [`Limits`].
    pub const fn new(stream: &'i [u8]) -> Frames<'i> {
        Frames::with_limits(stream, Limits::new())
    }

    /// Iterates over the frames of `stream`, rejecting frames that exceed `limits`.
    pub const fn with_limits(stream: &'i [u8], limits: Limits) -> Frames<'i> {
        Frames {
            stream,
            at: 0,
            decoder: Decoder::with_limits(limits),
            done: false,
        }
    }

    /// Stream offset of the next frame.
    pub const fn position(&self) -> u64 {
        self.decoder.position()
    }

    /// The bytes not yet decoded.
    pub fn remainder(&self) -> &'i [u8] {
        &self.stream[self.at..]
    }

    fn fail(&mut self, error: DecodeError) -> Option<Result<Frame<'i>, DecodeError>> {
        self.done = true;
        Some(Err(error))
    }

    /// The `len` bytes that end `back` bytes before the current position.
    fn behind(&self, back: usize, len: u64) -> &'i [u8] {
        let end = self.at.saturating_sub(back);
        let start = usize::try_from(len).map_or(0, |len| end.saturating_sub(len));
        &self.stream[start..end]
    }
}

impl<'i> Iterator for Frames<'i> {
    type Item = Result<Frame<'i>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let rest = &self.stream[self.at..];
            if rest.is_empty() {
                self.done = true;
                return match self.decoder.finish() {
                    Ok(()) => None,
                    Err(error) => Some(Err(error)),
                };
            }
            let step = match self.decoder.decode(rest) {
                Ok(step) => step,
                Err(error) => return self.fail(error),
            };
            self.at += step.consumed;
            let frame = match step.event {
                Some(Event::Metadata(metadata)) => Frame::Metadata {
                    json: &self.stream[FRAME_HEADER_LEN.min(self.at)..self.at.saturating_sub(2)],
                    metadata,
                },
                Some(Event::DataEnd(end)) => Frame::Data {
                    extent: end.extent,
                    payload: self.behind(2, end.payload_len),
                    lz4_frames: end.lz4_frames,
                },
                Some(Event::Zero(extent)) => Frame::Zero(extent),
                Some(Event::Stop) => Frame::Stop,
                Some(Event::Trailer { len, entries }) => Frame::Trailer {
                    json: self.behind(FRAME_HEADER_LEN + 2, len),
                    entries,
                },
                Some(Event::MetadataFragment(_) | Event::Data(_) | Event::Lz4(_)) | None => {
                    continue
                }
            };
            return Some(Ok(frame));
        }
    }
}

impl core::iter::FusedIterator for Frames<'_> {}
