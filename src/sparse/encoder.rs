//! The stateful encoder that writes into caller buffers.

use crate::chunk::len_u64;
use crate::sparse::error::EncodeError;
use crate::sparse::header::{FrameHeader, FrameKind, FRAME_HEADER_LEN};
use crate::sparse::lz4::{Lz4Fault, Lz4Frames};
use crate::sparse::metadata::{MetadataFields, METADATA_CAPACITY};
use crate::sparse::trailer::{entry_len, write_entry, TrailerDigest, TRAILER_OBJECT_THRESHOLD};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// Nothing written yet.
    Start,
    /// Between frames.
    Frames,
    /// Inside a data payload: `owed` uncompressed bytes not yet written (or covered by LZ4
    /// frames), `lz4_frames` written so far.
    Data { owed: u64, lz4_frames: u64 },
    /// After `stop`.
    Stopped,
    /// Inside the trailer, `entries` written.
    Trailer { entries: u64 },
    /// After the `comp` frame.
    Done,
}

/// Writes a well-formed sparse stream into caller-provided buffers.
///
/// The encoder remembers what the stream has declared, so it cannot produce a stream that
/// its [`Decoder`](crate::sparse::Decoder) or virtnbdbackup would refuse: frames come in
/// order, extents stay below the virtual size, a payload is complete before the next
/// frame, [`stop`](Encoder::stop) is refused unless the data extents add up to the
/// metadata's `dataSize`, LZ4 frames are checked to be whole and well formed, and the
/// trailer is refused unless it describes the frames written. Every method either writes
/// completely or fails and leaves the encoder unchanged (the contents of `out` are then
/// unspecified).
///
/// Payload bytes can be copied by the encoder or written by the caller straight to its
/// sink and accounted for ([`advance_data`](Encoder::advance_data),
/// [`advance_lz4_frame`](Encoder::advance_lz4_frame)), so large payloads need no copy.
///
/// ```
/// use splitfdstream::sparse::{EncodeError, Encoder, MetadataFields};
///
/// let mut out = [0u8; 1024];
/// let mut encoder = Encoder::new();
/// let mut len = encoder.metadata(&MetadataFields::new(1 << 20, 8, "vda", "cp"), &mut out)?;
/// len += encoder.data(0, b"four", &mut out[len..])?;
/// // dataSize says 8, only 4 bytes of data so far: `stop` is refused.
/// assert_eq!(
///     encoder.stop(&mut out[len..]),
///     Err(EncodeError::DataSizeMismatch { declared: 8, actual: 4 })
/// );
/// len += encoder.data(4096, b"more", &mut out[len..])?;
/// len += encoder.stop(&mut out[len..])?;
/// encoder.finish()?;
/// # let _ = len;
/// # Ok::<(), EncodeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encoder {
    phase: Phase,
    virtual_size: u64,
    data_size: u64,
    compressed: bool,
    data_total: u64,
    position: u64,
    /// Payloads and LZ4 frame sizes written, and the same from the trailer entries.
    frames: TrailerDigest,
    trailer: TrailerDigest,
    /// Payloads' extent lengths, and those the trailer entries were given.
    lens: TrailerDigest,
    trailer_lens: TrailerDigest,
    trailer_len: u64,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder at the start of a stream.
    pub const fn new() -> Encoder {
        Encoder {
            phase: Phase::Start,
            virtual_size: 0,
            data_size: 0,
            compressed: false,
            data_total: 0,
            position: 0,
            frames: TrailerDigest::NEW,
            trailer: TrailerDigest::NEW,
            lens: TrailerDigest::NEW,
            trailer_lens: TrailerDigest::NEW,
            trailer_len: 0,
        }
    }

    /// Stream bytes produced so far (including payload bytes accounted for).
    pub const fn position(&self) -> u64 {
        self.position
    }

    /// The data extents' lengths written so far, added up.
    pub const fn data_written(&self) -> u64 {
        self.data_total
    }

    /// Uncompressed bytes the current data payload still owes (0 outside one).
    pub const fn owed(&self) -> u64 {
        match self.phase {
            Phase::Data { owed, .. } => owed,
            _ => 0,
        }
    }

    fn expect(&self, kind: FrameKind, ok: bool) -> Result<(), EncodeError> {
        if ok {
            Ok(())
        } else {
            Err(EncodeError::UnexpectedFrame { kind })
        }
    }

    fn check_extent(&self, start: u64, len: u64) -> Result<(), EncodeError> {
        match start.checked_add(len) {
            Some(end) if end <= self.virtual_size => Ok(()),
            _ => Err(EncodeError::ExtentPastEnd {
                start,
                len,
                virtual_size: self.virtual_size,
            }),
        }
    }

    fn compression(&self, compressed: bool) -> Result<(), EncodeError> {
        if self.compressed == compressed {
            Ok(())
        } else {
            Err(EncodeError::CompressionMismatch {
                compressed: self.compressed,
            })
        }
    }

    /// Writes the `meta` frame: header, JSON and CRLF. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::UnexpectedFrame`] if it is not the first frame,
    /// [`EncodeError::MetadataTooLarge`] above [`METADATA_CAPACITY`],
    /// [`EncodeError::InsufficientSize`] when `out` cannot hold the frame.
    pub fn metadata(
        &mut self,
        fields: &MetadataFields<'_>,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.expect(FrameKind::Meta, self.phase == Phase::Start)?;
        let room = out.len().saturating_sub(FRAME_HEADER_LEN + 2);
        let json = out
            .get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + room)
            .ok_or(EncodeError::InsufficientSize {
                required: FRAME_HEADER_LEN + 3,
            })?;
        let len = fields
            .write_json(json)
            .map_err(|_| EncodeError::InsufficientSize {
                required: out.len().saturating_add(1),
            })?;
        if len > METADATA_CAPACITY {
            return Err(EncodeError::MetadataTooLarge {
                len,
                max: METADATA_CAPACITY,
            });
        }
        FrameHeader::new(FrameKind::Meta, 0, len_u64(len)).write(out)?;
        out[FRAME_HEADER_LEN + len..FRAME_HEADER_LEN + len + 2].copy_from_slice(b"\r\n");
        self.phase = Phase::Frames;
        self.virtual_size = fields.virtual_size;
        self.data_size = fields.data_size;
        self.compressed = fields.compression.is_some();
        let written = FRAME_HEADER_LEN + len + 2;
        self.position += len_u64(written);
        Ok(written)
    }

    /// Writes a `zero` frame for `len` bytes at `start`. Returns 40.
    ///
    /// # Errors
    ///
    /// [`EncodeError::UnexpectedFrame`] before the metadata, inside a payload or after
    /// `stop`; [`EncodeError::ExtentPastEnd`]; [`EncodeError::InsufficientSize`].
    pub fn zero(&mut self, start: u64, len: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.expect(FrameKind::Zero, self.phase == Phase::Frames)?;
        self.check_extent(start, len)?;
        let written = FrameHeader::new(FrameKind::Zero, start, len).write(out)?;
        self.position += len_u64(written);
        Ok(written)
    }

    /// Writes the header of a `data` frame for `len` bytes at `start`; the payload follows
    /// through [`data_body`](Encoder::data_body) or [`advance_data`](Encoder::advance_data)
    /// (uncompressed) or [`lz4_frame`](Encoder::lz4_frame) or
    /// [`advance_lz4_frame`](Encoder::advance_lz4_frame) (compressed), then
    /// [`end_data`](Encoder::end_data). Returns 40.
    ///
    /// # Errors
    ///
    /// As [`zero`](Encoder::zero).
    pub fn begin_data(
        &mut self,
        start: u64,
        len: u64,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.expect(FrameKind::Data, self.phase == Phase::Frames)?;
        self.check_extent(start, len)?;
        let written = FrameHeader::new(FrameKind::Data, start, len).write(out)?;
        self.phase = Phase::Data {
            owed: len,
            lz4_frames: 0,
        };
        self.data_total = self.data_total.saturating_add(len);
        if self.compressed {
            self.frames.entry();
            self.lens.entry();
            self.lens.frame(len);
        }
        self.position += len_u64(written);
        Ok(written)
    }

    fn owe(&self, len: u64) -> Result<(u64, u64), EncodeError> {
        match self.phase {
            Phase::Data { owed, lz4_frames } if len <= owed => Ok((owed - len, lz4_frames)),
            Phase::Data { owed, .. } => Err(EncodeError::DataOverrun {
                len,
                remaining: owed,
            }),
            _ => Err(EncodeError::UnexpectedFrame {
                kind: FrameKind::Data,
            }),
        }
    }

    /// Copies a piece of an uncompressed payload into `out`; returns its length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::CompressionMismatch`] in a compressed stream,
    /// [`EncodeError::DataOverrun`] past the payload's end, [`EncodeError::UnexpectedFrame`]
    /// outside a payload, [`EncodeError::InsufficientSize`].
    pub fn data_body(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.compression(false)?;
        let (owed, lz4_frames) = self.owe(len_u64(body.len()))?;
        let slot = out
            .get_mut(..body.len())
            .ok_or(EncodeError::InsufficientSize {
                required: body.len(),
            })?;
        slot.copy_from_slice(body);
        self.phase = Phase::Data { owed, lz4_frames };
        self.position += len_u64(body.len());
        Ok(body.len())
    }

    /// Records that the caller wrote `len` bytes of an uncompressed payload itself.
    ///
    /// # Errors
    ///
    /// As [`data_body`](Encoder::data_body), but for the buffer.
    pub fn advance_data(&mut self, len: u64) -> Result<(), EncodeError> {
        self.compression(false)?;
        let (owed, lz4_frames) = self.owe(len)?;
        self.phase = Phase::Data { owed, lz4_frames };
        self.position += len;
        Ok(())
    }

    /// Copies one whole LZ4 frame of a compressed payload into `out`, `content_len` being
    /// the uncompressed bytes it holds. The frame is walked to check that it is one whole,
    /// well-formed LZ4 frame, and its declared content size, if any, must be
    /// `content_len`. Returns the frame's length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Lz4`] for a malformed or partial frame,
    /// [`EncodeError::NotOneLz4Frame`] when bytes follow the frame,
    /// [`EncodeError::ContentSizeMismatch`], [`EncodeError::DataOverrun`] when the
    /// content goes past the extent, [`EncodeError::CompressionMismatch`] in an
    /// uncompressed stream, [`EncodeError::UnexpectedFrame`] outside a payload,
    /// [`EncodeError::InsufficientSize`].
    pub fn lz4_frame(
        &mut self,
        frame: &[u8],
        content_len: u64,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.compression(true)?;
        let mut frames = Lz4Frames::new(frame);
        let info = match frames.next() {
            Some(Ok(whole)) => whole.info,
            Some(Err(error)) => return Err(EncodeError::Lz4(error.fault)),
            None => return Err(EncodeError::Lz4(Lz4Fault::Truncated { missing: 4 })),
        };
        if info.len != len_u64(frame.len()) {
            return Err(EncodeError::NotOneLz4Frame {
                frame_len: info.len,
                given: len_u64(frame.len()),
            });
        }
        if let Some(declared) = info.content_size {
            if declared != content_len {
                return Err(EncodeError::ContentSizeMismatch {
                    len: content_len,
                    declared,
                });
            }
        }
        self.owe(content_len)?;
        let slot = out
            .get_mut(..frame.len())
            .ok_or(EncodeError::InsufficientSize {
                required: frame.len(),
            })?;
        slot.copy_from_slice(frame);
        self.advance_lz4_frame(info.len, content_len)?;
        Ok(frame.len())
    }

    /// Records that the caller wrote an LZ4 frame of `frame_len` bytes holding
    /// `content_len` uncompressed bytes itself (unchecked: the encoder does not see it).
    ///
    /// # Errors
    ///
    /// As [`lz4_frame`](Encoder::lz4_frame), but for the frame's contents and the buffer.
    pub fn advance_lz4_frame(
        &mut self,
        frame_len: u64,
        content_len: u64,
    ) -> Result<(), EncodeError> {
        self.compression(true)?;
        let (owed, lz4_frames) = self.owe(content_len)?;
        self.phase = Phase::Data {
            owed,
            lz4_frames: lz4_frames + 1,
        };
        self.frames.frame(frame_len);
        self.position += frame_len;
        Ok(())
    }

    /// Ends the current data payload with its CRLF. Returns 2.
    ///
    /// # Errors
    ///
    /// [`EncodeError::DataOwed`] while uncompressed bytes are owed or not covered by LZ4
    /// frames, [`EncodeError::Lz4`] for a compressed payload with no frame,
    /// [`EncodeError::UnexpectedFrame`] outside a payload, [`EncodeError::InsufficientSize`].
    pub fn end_data(&mut self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let Phase::Data { owed, lz4_frames } = self.phase else {
            return Err(EncodeError::UnexpectedFrame {
                kind: FrameKind::Data,
            });
        };
        if owed > 0 {
            return Err(EncodeError::DataOwed { remaining: owed });
        }
        if self.compressed && lz4_frames == 0 {
            return Err(EncodeError::Lz4(Lz4Fault::Truncated { missing: 4 }));
        }
        out.get_mut(..2)
            .ok_or(EncodeError::InsufficientSize { required: 2 })?
            .copy_from_slice(b"\r\n");
        self.phase = Phase::Frames;
        self.position += 2;
        Ok(2)
    }

    /// Writes a whole uncompressed `data` frame: header, `payload` and CRLF. Returns the
    /// bytes written.
    ///
    /// # Errors
    ///
    /// As [`begin_data`](Encoder::begin_data) and [`data_body`](Encoder::data_body).
    pub fn data(
        &mut self,
        start: u64,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.compression(false)?;
        let required = FRAME_HEADER_LEN
            .saturating_add(payload.len())
            .saturating_add(2);
        if out.len() < required {
            return Err(EncodeError::InsufficientSize { required });
        }
        let saved = self.clone();
        let result = (|| {
            let mut len = self.begin_data(start, len_u64(payload.len()), out)?;
            len += self.data_body(payload, &mut out[len..])?;
            len += self.end_data(&mut out[len..])?;
            Ok(len)
        })();
        if result.is_err() {
            *self = saved;
        }
        result
    }

    /// Writes the `stop` frame. Returns 40.
    ///
    /// # Errors
    ///
    /// [`EncodeError::DataSizeMismatch`] unless the data extents written add up to the
    /// metadata's `dataSize`; [`EncodeError::UnexpectedFrame`] before the metadata,
    /// inside a payload or after `stop`; [`EncodeError::InsufficientSize`].
    pub fn stop(&mut self, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.expect(FrameKind::Stop, self.phase == Phase::Frames)?;
        if self.data_total != self.data_size {
            return Err(EncodeError::DataSizeMismatch {
                declared: self.data_size,
                actual: self.data_total,
            });
        }
        let written = FrameHeader::new(FrameKind::Stop, 0, 0).write(out)?;
        self.phase = Phase::Stopped;
        self.position += len_u64(written);
        Ok(written)
    }

    /// Writes the trailer entry of the next compressed payload, in order: `extent_len` is
    /// its uncompressed length, `frame_sizes` the sizes of its LZ4 frames. The entry is an
    /// integer for a single frame of an extent under 32 MiB and an object otherwise, the
    /// forms virtnbdbackup's restore reads. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::CompressionMismatch`] in an uncompressed stream,
    /// [`EncodeError::UnexpectedFrame`] before `stop` or after the trailer,
    /// [`EncodeError::InsufficientSize`].
    pub fn trailer_entry(
        &mut self,
        extent_len: u64,
        frame_sizes: &[u64],
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.compression(true)?;
        let entries = match self.phase {
            Phase::Stopped => 0,
            Phase::Trailer { entries } => entries,
            _ => {
                return Err(EncodeError::UnexpectedFrame {
                    kind: FrameKind::Comp,
                })
            }
        };
        let object = frame_sizes.len() != 1 || extent_len >= TRAILER_OBJECT_THRESHOLD;
        let separator: &[u8] = if entries == 0 { b"[" } else { b", " };
        let required = separator.len() + entry_len(object, frame_sizes);
        let slot = out
            .get_mut(..required)
            .ok_or(EncodeError::InsufficientSize { required })?;
        slot[..separator.len()].copy_from_slice(separator);
        let written =
            separator.len() + write_entry(object, frame_sizes, &mut slot[separator.len()..]);
        self.trailer.entry();
        for &size in frame_sizes {
            self.trailer.frame(size);
        }
        self.trailer_lens.entry();
        self.trailer_lens.frame(extent_len);
        self.phase = Phase::Trailer {
            entries: entries + 1,
        };
        self.trailer_len += len_u64(written);
        self.position += len_u64(written);
        Ok(written)
    }

    /// Closes the trailer and writes its CRLF and the `comp` frame. Returns the bytes
    /// written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TrailerMismatch`] unless the entries describe, in order, every
    /// compressed payload written and its LZ4 frames; [`EncodeError::CompressionMismatch`]
    /// in an uncompressed stream; [`EncodeError::UnexpectedFrame`] before `stop`;
    /// [`EncodeError::InsufficientSize`].
    pub fn end_trailer(&mut self, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.compression(true)?;
        let close: &[u8] = match self.phase {
            Phase::Stopped => b"[]",
            Phase::Trailer { .. } => b"]",
            _ => {
                return Err(EncodeError::UnexpectedFrame {
                    kind: FrameKind::Comp,
                })
            }
        };
        if self.trailer != self.frames || self.trailer_lens != self.lens {
            return Err(EncodeError::TrailerMismatch);
        }
        let required = close.len() + 2 + FRAME_HEADER_LEN;
        let slot = out
            .get_mut(..required)
            .ok_or(EncodeError::InsufficientSize { required })?;
        let json_len = self.trailer_len + len_u64(close.len());
        slot[..close.len()].copy_from_slice(close);
        slot[close.len()..close.len() + 2].copy_from_slice(b"\r\n");
        FrameHeader::new(FrameKind::Comp, 0, json_len).write(&mut slot[close.len() + 2..])?;
        self.phase = Phase::Done;
        self.trailer_len = json_len;
        self.position += len_u64(required);
        Ok(required)
    }

    /// Checks that the stream is complete.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Incomplete`] before `stop`, or before the trailer in a compressed
    /// stream.
    pub fn finish(&self) -> Result<(), EncodeError> {
        match self.phase {
            Phase::Done => Ok(()),
            Phase::Stopped if !self.compressed => Ok(()),
            _ => Err(EncodeError::Incomplete),
        }
    }
}
