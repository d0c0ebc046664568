//! Helpers for the sparse stream's tests and fuzz targets: push and pull drivers that
//! check the API's promises on the way and normalise what they see into whole
//! [`Event`]s, a restore onto an in-memory disk, and an encoding driver.

use std::io::{Read, Write as _};

use splitfdstream::sparse::{
    Compression, DecodeError, Decoder, EncodeError, Encoder, Event as Fragmented, Frame, Frames,
    Limits, Lz4Frames, Metadata, MetadataFields,
};

use super::{borrowed_from, len64, split_at};

/// A whole event, fragments merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The metadata JSON and what it says.
    Metadata { json: Vec<u8>, metadata: Metadata },
    /// An uncompressed data payload.
    Data { start: u64, bytes: Vec<u8> },
    /// A compressed data payload: its extent and its LZ4 frames.
    Lz4 {
        start: u64,
        len: u64,
        frames: Vec<Vec<u8>>,
    },
    /// A zero extent.
    Zero { start: u64, len: u64 },
    /// The `stop` frame.
    Stop,
    /// The checked trailer.
    Trailer { json: Vec<u8>, entries: u64 },
}

/// Everything a decoder reported about a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Completed events, in order; a payload cut short is not in it.
    pub events: Vec<Event>,
    /// `Ok` for a complete stream, else the error that ended decoding.
    pub end: Result<(), DecodeError>,
}

/// A payload being assembled from fragments.
enum Pending {
    None,
    Json(Vec<u8>),
    Data {
        start: u64,
        len: u64,
        bytes: Vec<u8>,
    },
    Lz4 {
        start: u64,
        len: u64,
        frames: Vec<Vec<u8>>,
        open: Option<Vec<u8>>,
    },
}

/// Feeds `pieces` to a [`Decoder`] in order and checks the push API's promises.
pub fn push<'p>(pieces: impl IntoIterator<Item = &'p [u8]>, limits: Limits) -> Outcome {
    let mut decoder = Decoder::with_limits(limits);
    let mut events = Vec::new();
    let mut pending = Pending::None;
    let mut trailer_json: Vec<u8> = Vec::new();
    let mut stopped = false;
    let mut fed = 0u64;
    for piece in pieces {
        if piece.is_empty() {
            let step = decoder.decode(piece);
            assert!(
                matches!(step, Ok(s) if s.consumed == 0 && s.event.is_none()),
                "an empty piece must be a no-op, got {step:?}"
            );
        }
        let mut rest = piece;
        while !rest.is_empty() {
            let step = match decoder.decode(rest) {
                Ok(step) => step,
                Err(error) => {
                    assert!(
                        !matches!(error, DecodeError::Truncated { .. }),
                        "decode reports truncation only through finish"
                    );
                    assert_eq!(
                        decoder.decode(rest),
                        Err(error),
                        "a failed decoder stays failed"
                    );
                    assert_eq!(decoder.decode(&[]), Err(error));
                    assert_eq!(decoder.finish(), Err(error));
                    return Outcome {
                        events,
                        end: Err(error),
                    };
                }
            };
            assert!(
                step.consumed > 0 && step.consumed <= rest.len(),
                "consumed {} of {}",
                step.consumed,
                rest.len()
            );
            let consumed = &rest[..step.consumed];
            if stopped {
                trailer_json.extend_from_slice(consumed);
            }
            let fragment_data = match step.event {
                Some(Fragmented::MetadataFragment(f)) => Some(f.data),
                Some(Fragmented::Data(f)) => Some(f.data),
                Some(Fragmented::Lz4(f)) => Some(f.data),
                _ => None,
            };
            if let Some(data) = fragment_data {
                assert!(!data.is_empty(), "empty fragment");
                assert!(
                    borrowed_from(data, consumed),
                    "fragment not borrowed from the input"
                );
                assert_eq!(
                    data.as_ptr_range().end,
                    consumed.as_ptr_range().end,
                    "a fragment is the tail of what its call consumed"
                );
            }
            match step.event {
                None => assert_eq!(step.consumed, rest.len(), "no event means all consumed"),
                Some(Fragmented::MetadataFragment(f)) => {
                    let json = match &mut pending {
                        Pending::None => {
                            pending = Pending::Json(Vec::new());
                            match &mut pending {
                                Pending::Json(json) => json,
                                _ => unreachable!(),
                            }
                        }
                        Pending::Json(json) => json,
                        _ => panic!("metadata fragment inside a payload"),
                    };
                    assert_eq!(f.offset, len64(json.len()));
                    json.extend_from_slice(f.data);
                }
                Some(Fragmented::Metadata(metadata)) => {
                    let json = match std::mem::replace(&mut pending, Pending::None) {
                        Pending::Json(json) => json,
                        Pending::None => Vec::new(),
                        _ => panic!("metadata inside a payload"),
                    };
                    assert_eq!(decoder.metadata(), Some(&metadata));
                    assert_eq!(Metadata::parse(&json), Ok(metadata));
                    events.push(Event::Metadata { json, metadata });
                }
                Some(Fragmented::Data(f)) => {
                    if matches!(pending, Pending::None) {
                        assert_eq!(f.offset, 0);
                        pending = Pending::Data {
                            start: f.extent.start,
                            len: f.extent.len,
                            bytes: Vec::new(),
                        };
                    }
                    let Pending::Data { start, len, bytes } = &mut pending else {
                        panic!("data fragment inside another payload");
                    };
                    assert_eq!((f.extent.start, f.extent.len), (*start, *len));
                    assert_eq!(f.offset, len64(bytes.len()), "data fragment offset");
                    assert_eq!(f.disk_offset(), *start + f.offset);
                    bytes.extend_from_slice(f.data);
                    assert_eq!(f.remaining, *len - len64(bytes.len()));
                }
                Some(Fragmented::Lz4(f)) => {
                    if matches!(pending, Pending::None) {
                        pending = Pending::Lz4 {
                            start: f.extent.start,
                            len: f.extent.len,
                            frames: Vec::new(),
                            open: None,
                        };
                    }
                    let Pending::Lz4 {
                        start,
                        len,
                        frames,
                        open,
                    } = &mut pending
                    else {
                        panic!("LZ4 fragment inside another payload");
                    };
                    assert_eq!((f.extent.start, f.extent.len), (*start, *len));
                    assert_eq!(f.frame, len64(frames.len()), "LZ4 frame index");
                    let frame = open.get_or_insert_with(Vec::new);
                    assert_eq!(f.offset, len64(frame.len()), "LZ4 fragment offset");
                    frame.extend_from_slice(f.data);
                    if let Some(info) = f.end {
                        assert_eq!(info.len, len64(frame.len()));
                        frames.push(open.take().unwrap());
                    }
                }
                Some(Fragmented::DataEnd(end)) => {
                    match std::mem::replace(&mut pending, Pending::None) {
                        Pending::None => {
                            // An empty uncompressed payload has no fragments.
                            assert_eq!(
                                (end.extent.len, end.payload_len, end.lz4_frames),
                                (0, 0, 0)
                            );
                            events.push(Event::Data {
                                start: end.extent.start,
                                bytes: Vec::new(),
                            });
                        }
                        Pending::Data { start, len, bytes } => {
                            assert_eq!((end.extent.start, end.extent.len), (start, len));
                            assert_eq!(len64(bytes.len()), len);
                            assert_eq!((end.payload_len, end.lz4_frames), (len, 0));
                            events.push(Event::Data { start, bytes });
                        }
                        Pending::Lz4 {
                            start,
                            len,
                            frames,
                            open,
                        } => {
                            assert!(open.is_none(), "payload ended inside an LZ4 frame");
                            assert_eq!((end.extent.start, end.extent.len), (start, len));
                            assert_eq!(end.lz4_frames, len64(frames.len()));
                            let total: usize = frames.iter().map(Vec::len).sum();
                            assert_eq!(end.payload_len, len64(total));
                            events.push(Event::Lz4 { start, len, frames });
                        }
                        Pending::Json(_) => panic!("data end inside the metadata"),
                    }
                }
                Some(Fragmented::Zero(extent)) => {
                    assert!(matches!(pending, Pending::None));
                    events.push(Event::Zero {
                        start: extent.start,
                        len: extent.len,
                    });
                }
                Some(Fragmented::Stop) => {
                    assert!(matches!(pending, Pending::None));
                    assert!(decoder.is_complete());
                    stopped = true;
                    events.push(Event::Stop);
                }
                Some(Fragmented::Trailer { len, entries }) => {
                    assert!(decoder.is_complete());
                    // What followed `stop`: the trailer, CRLF and the comp frame.
                    let json_len = usize::try_from(len).unwrap();
                    assert_eq!(trailer_json.len(), json_len + 42);
                    assert_eq!(&trailer_json[json_len..json_len + 2], b"\r\n");
                    assert!(trailer_json[json_len + 2..].starts_with(b"comp "));
                    trailer_json.truncate(json_len);
                    events.push(Event::Trailer {
                        json: std::mem::take(&mut trailer_json),
                        entries,
                    });
                }
            }
            if matches!(step.event, Some(Fragmented::Stop)) {
                trailer_json.clear();
            }
            fed += len64(step.consumed);
            assert_eq!(decoder.position(), fed);
            rest = &rest[step.consumed..];
        }
    }
    let end = decoder.finish();
    match end {
        Ok(()) => assert!(decoder.is_complete()),
        Err(DecodeError::Truncated { missing, offset }) => {
            assert!(missing > 0);
            assert_eq!(offset, fed);
            assert!(!decoder.is_complete());
        }
        Err(other) => panic!("finish reported {other:?} although decode never failed"),
    }
    Outcome { events, end }
}

/// Feeds the whole of `stream` in one piece.
pub fn push_whole(stream: &[u8], limits: Limits) -> Outcome {
    push([stream], limits)
}

/// Feeds `stream` one byte at a time.
pub fn push_bytewise(stream: &[u8], limits: Limits) -> Outcome {
    push(stream.chunks(1), limits)
}

/// Feeds `stream` cut at `cuts`.
pub fn push_split(stream: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    push(split_at(stream, cuts), limits)
}

/// Iterates over `stream` with [`Frames`] and checks the pull API's promises.
pub fn pull(stream: &[u8], limits: Limits) -> Outcome {
    let mut frames = Frames::with_limits(stream, limits);
    let mut events = Vec::new();
    let mut end = Ok(());
    while let Some(item) = frames.next() {
        let frame = match item {
            Ok(frame) => frame,
            Err(error) => {
                assert!(frames.next().is_none(), "the error is yielded once");
                assert!(frames.next().is_none());
                end = Err(error);
                break;
            }
        };
        events.push(match frame {
            Frame::Metadata { json, metadata } => {
                assert!(borrowed_from(json, stream));
                Event::Metadata {
                    json: json.to_vec(),
                    metadata,
                }
            }
            Frame::Data {
                extent,
                payload,
                lz4_frames: 0,
            } => {
                assert!(payload.is_empty() || borrowed_from(payload, stream));
                assert_eq!(len64(payload.len()), extent.len);
                Event::Data {
                    start: extent.start,
                    bytes: payload.to_vec(),
                }
            }
            Frame::Data {
                extent,
                payload,
                lz4_frames,
            } => {
                let frames: Vec<Vec<u8>> = Lz4Frames::new(payload)
                    .map(|frame| frame.unwrap().data.to_vec())
                    .collect();
                assert_eq!(len64(frames.len()), lz4_frames);
                Event::Lz4 {
                    start: extent.start,
                    len: extent.len,
                    frames,
                }
            }
            Frame::Zero(extent) => Event::Zero {
                start: extent.start,
                len: extent.len,
            },
            Frame::Stop => Event::Stop,
            Frame::Trailer { json, entries } => Event::Trailer {
                json: json.to_vec(),
                entries,
            },
        });
    }
    if end.is_ok() {
        assert!(frames.remainder().is_empty());
        assert_eq!(frames.position(), len64(stream.len()));
    }
    Outcome { events, end }
}

/// Decompresses one LZ4 frame.
pub fn decompress(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    lz4_flex::frame::FrameDecoder::new(frame)
        .read_to_end(&mut out)
        .expect("an LZ4 frame that decompresses");
    out
}

/// Compresses `bytes` into one LZ4 frame with block and content checksums and the
/// content size, as virtnbdbackup's frames have.
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let info = lz4_flex::frame::FrameInfo::new()
        .block_checksums(true)
        .content_checksum(true)
        .content_size(Some(len64(bytes.len())));
    let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The disk `events` describe, `virtual_size` bytes long, restored from `base`
/// (decompressing LZ4 frames and checking their sizes).
pub fn restore(events: &[Event], base: &[u8]) -> Vec<u8> {
    let mut disk = base.to_vec();
    for event in events {
        match event {
            Event::Metadata { metadata, .. } => {
                disk.resize(usize::try_from(metadata.virtual_size).unwrap(), 0);
            }
            Event::Data { start, bytes } => {
                let at = usize::try_from(*start).unwrap();
                disk[at..at + bytes.len()].copy_from_slice(bytes);
            }
            Event::Lz4 { start, len, frames } => {
                let mut at = usize::try_from(*start).unwrap();
                let mut total = 0;
                for frame in frames {
                    let bytes = decompress(frame);
                    disk[at..at + bytes.len()].copy_from_slice(&bytes);
                    at += bytes.len();
                    total += bytes.len();
                }
                assert_eq!(len64(total), *len, "LZ4 frames decompress to the extent");
            }
            Event::Zero { start, len } => {
                let at = usize::try_from(*start).unwrap();
                disk[at..at + usize::try_from(*len).unwrap()].fill(0);
            }
            Event::Stop | Event::Trailer { .. } => {}
        }
    }
    disk
}

/// One extent of a disk to encode.
#[derive(Clone, Debug)]
pub enum Piece {
    /// Data at `start`; compressed as one LZ4 frame per piece between `cuts`.
    Data {
        start: u64,
        bytes: Vec<u8>,
        cuts: Vec<usize>,
    },
    /// A zero extent.
    Zero { start: u64, len: u64 },
}

/// A stream produced by [`encode`] and what it must decode to.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub stream: Vec<u8>,
    pub expected: Vec<Event>,
}

/// Drives an [`Encoder`] over `pieces`, compressing data when `compression` is set, and
/// checks that it refuses what would make a bad stream on the way.
pub fn encode(virtual_size: u64, pieces: &[Piece], compression: Option<Compression>) -> Encoded {
    let data_size: u64 = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Data { bytes, .. } => len64(bytes.len()),
            Piece::Zero { .. } => 0,
        })
        .sum();
    let mut encoder = Encoder::new();
    let mut stream = vec![0u8; 4096];
    let fields = MetadataFields {
        compression,
        date: "2024-01-01T00:00:00",
        ..MetadataFields::new(virtual_size, data_size, "vda", "virtnbdbackup.0")
    };
    let len = encoder.metadata(&fields, &mut stream).unwrap();
    stream.truncate(len);
    let metadata = Metadata {
        virtual_size,
        data_size,
        compression,
        incremental: false,
        stream_version: Some(2),
    };
    let mut expected = vec![Event::Metadata {
        json: stream[40..len - 2].to_vec(),
        metadata,
    }];
    let mut header = [0u8; 40];
    let mut entries: Vec<(u64, Vec<u64>)> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Zero { start, len } => {
                let written = encoder.zero(*start, *len, &mut header).unwrap();
                stream.extend_from_slice(&header[..written]);
                expected.push(Event::Zero {
                    start: *start,
                    len: *len,
                });
            }
            Piece::Data { start, bytes, cuts } => {
                let len = len64(bytes.len());
                if compression.is_none() {
                    if cuts.is_empty() {
                        let mut out = vec![0u8; bytes.len() + 42];
                        let written = encoder.data(*start, bytes, &mut out).unwrap();
                        stream.extend_from_slice(&out[..written]);
                    } else {
                        encoder.begin_data(*start, len, &mut header).unwrap();
                        stream.extend_from_slice(&header);
                        for part in split_at(bytes, cuts) {
                            stream.extend_from_slice(part);
                            encoder.advance_data(len64(part.len())).unwrap();
                            if encoder.owed() > 0 {
                                assert_eq!(
                                    encoder.end_data(&mut [0; 2]),
                                    Err(EncodeError::DataOwed {
                                        remaining: encoder.owed()
                                    })
                                );
                            }
                        }
                        let mut crlf = [0u8; 2];
                        encoder.end_data(&mut crlf).unwrap();
                        stream.extend_from_slice(&crlf);
                    }
                    expected.push(Event::Data {
                        start: *start,
                        bytes: bytes.clone(),
                    });
                } else {
                    encoder.begin_data(*start, len, &mut header).unwrap();
                    stream.extend_from_slice(&header);
                    let frames: Vec<Vec<u8>> =
                        split_at(bytes, cuts).into_iter().map(compress).collect();
                    for (frame, part) in frames.iter().zip(split_at(bytes, cuts)) {
                        let mut out = vec![0u8; frame.len()];
                        let written = encoder
                            .lz4_frame(frame, len64(part.len()), &mut out)
                            .unwrap();
                        stream.extend_from_slice(&out[..written]);
                    }
                    let mut crlf = [0u8; 2];
                    encoder.end_data(&mut crlf).unwrap();
                    stream.extend_from_slice(&crlf);
                    entries.push((len, frames.iter().map(|f| len64(f.len())).collect()));
                    expected.push(Event::Lz4 {
                        start: *start,
                        len,
                        frames,
                    });
                }
            }
        }
    }
    assert_eq!(encoder.data_written(), data_size);
    let written = encoder.stop(&mut header).unwrap();
    stream.extend_from_slice(&header[..written]);
    expected.push(Event::Stop);
    if compression.is_some() {
        assert_eq!(encoder.finish(), Err(EncodeError::Incomplete));
        let trailer_start = stream.len();
        for (len, sizes) in &entries {
            let mut out = vec![0u8; 64 + 22 * sizes.len()];
            let written = encoder.trailer_entry(*len, sizes, &mut out).unwrap();
            stream.extend_from_slice(&out[..written]);
        }
        let mut out = [0u8; 64];
        let written = encoder.end_trailer(&mut out).unwrap();
        stream.extend_from_slice(&out[..written]);
        let json = stream[trailer_start..stream.len() - 42].to_vec();
        expected.push(Event::Trailer {
            json,
            entries: len64(entries.len()),
        });
    }
    encoder.finish().unwrap();
    assert_eq!(encoder.position(), len64(stream.len()));
    Encoded { stream, expected }
}
