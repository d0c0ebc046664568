//! Decoding and encoding helpers for the splitdirfdstream module, shared by its integration
//! tests and fuzz targets, in the same style as the first format's helpers beside it.
//!
//! The push driver plays a caller with a growable buffer: when the decoder asks for more
//! input ([`Status::NeedMore`]), it keeps the unconsumed bytes and appends the next piece
//! behind them, as a reader with a 4 KiB + 17 buffer would.

use super::{borrowed_from, len64};
use splitfdstream::dir::{
    check_name, Chunk, Chunks, DecodeError, Decoder, EncodeError, Encoder, Limits, NameError,
    Status, MAX_NEED,
};

/// A whole chunk, fragments merged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The body of a Metadata chunk.
    Metadata(Vec<u8>),
    /// The body of an InlineData chunk.
    InlineData(Vec<u8>),
    /// A FileBackedData chunk.
    FileBacked {
        /// Declared file length.
        content_len: u64,
        /// Directory index.
        dir_index: u32,
        /// File name.
        name: Vec<u8>,
    },
}

impl Event {
    /// Bytes this chunk takes on the wire.
    pub fn wire_len(&self) -> u64 {
        match self {
            Event::Metadata(body) | Event::InlineData(body) => 5 + len64(body.len()),
            Event::FileBacked { name, .. } => 17 + len64(name.len()),
        }
    }
}

/// Everything a decoder reported about a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Completed chunks, in order. The fragments of a body cut short are not in it.
    pub events: Vec<Event>,
    /// `Ok` for a clean end, else the error that ended decoding.
    pub end: Result<(), DecodeError>,
}

/// The body in progress: whether it is Metadata, its bytes so far, its declared length.
type Pending = (bool, Vec<u8>, u64);

/// Feeds `pieces` to a [`Decoder`] in order and checks the push API's promises.
pub fn push<'p>(pieces: impl IntoIterator<Item = &'p [u8]>, limits: Limits) -> Outcome {
    let mut decoder = Decoder::with_limits(limits);
    let mut events = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut fed = 0u64;
    let mut offered = 0u64;
    // Bytes the decoder left unconsumed with a NeedMore, to be fed again with more behind.
    let mut held: Vec<u8> = Vec::new();
    for piece in pieces {
        offered += len64(piece.len());
        if piece.is_empty() {
            let before = decoder.is_at_boundary();
            let step = decoder.decode(piece);
            assert!(
                matches!(step, Ok(s) if s.consumed == 0 && s.status == Status::Partial),
                "an empty piece must be a no-op, got {step:?}"
            );
            assert_eq!(decoder.is_at_boundary(), before);
        }
        let joined: Vec<u8>;
        let mut rest: &[u8] = if held.is_empty() {
            piece
        } else {
            held.extend_from_slice(piece);
            joined = std::mem::take(&mut held);
            &joined
        };
        while !rest.is_empty() {
            let step = match decoder.decode(rest) {
                Ok(step) => step,
                Err(error) => {
                    assert!(
                        !matches!(error, DecodeError::Truncated { .. }),
                        "decode reports truncation only through finish"
                    );
                    // A failed decoder stays failed.
                    assert_eq!(decoder.decode(rest), Err(error));
                    assert_eq!(decoder.decode(&[]), Err(error));
                    assert_eq!(decoder.finish(), Err(error));
                    return Outcome {
                        events,
                        end: Err(error),
                    };
                }
            };
            assert!(step.consumed <= rest.len());
            match step.status {
                Status::NeedMore { at_least } => {
                    assert_eq!(step.consumed, 0, "NeedMore consumes nothing");
                    assert!(
                        at_least > rest.len(),
                        "asked for {at_least} with {}",
                        rest.len()
                    );
                    assert!(at_least <= MAX_NEED);
                    assert!(at_least <= 17 + usize::try_from(limits.name_cap()).unwrap());
                    assert!(pending.is_none());
                    assert!(!decoder.is_at_boundary());
                    // Asking again changes nothing.
                    let position = decoder.position();
                    assert_eq!(decoder.decode(rest), Ok(step));
                    assert_eq!(decoder.position(), position);
                    held = rest.to_vec();
                    break;
                }
                Status::Partial => {
                    assert_eq!(step.consumed, rest.len(), "partial means all consumed");
                    assert!(!decoder.is_at_boundary() || pending.is_none());
                }
                Status::Chunk(Chunk::FileBackedData(file)) => {
                    assert!(step.consumed > 0);
                    assert!(pending.is_none(), "file-backed chunk inside a body");
                    assert!(decoder.is_at_boundary());
                    assert!(borrowed_from(file.name, &rest[..step.consumed]));
                    assert_eq!(
                        file.name.as_ptr_range().end,
                        rest[..step.consumed].as_ptr_range().end
                    );
                    assert_eq!(check_name(file.name), Ok(()));
                    events.push(Event::FileBacked {
                        content_len: file.content_len,
                        dir_index: file.dir_index,
                        name: file.name.to_vec(),
                    });
                }
                Status::Chunk(Chunk::Metadata(fragment) | Chunk::InlineData(fragment)) => {
                    assert!(step.consumed > 0);
                    let metadata = matches!(step.status, Status::Chunk(Chunk::Metadata(_)));
                    assert!(borrowed_from(fragment.data, &rest[..step.consumed]));
                    // The fragment is the tail of what this call consumed.
                    assert_eq!(
                        fragment.data.as_ptr_range().end,
                        rest[..step.consumed].as_ptr_range().end
                    );
                    if fragment.data.is_empty() {
                        assert!(
                            fragment.is_whole(),
                            "only an empty body is an empty fragment"
                        );
                    }
                    let (kind, body, declared) =
                        pending.get_or_insert_with(|| (metadata, Vec::new(), fragment.chunk_len()));
                    assert_eq!(*kind, metadata, "kind changed within a body");
                    assert_eq!(fragment.offset, len64(body.len()), "fragment offset");
                    assert_eq!(fragment.chunk_len(), *declared, "declared length changed");
                    assert_eq!(decoder.inline_remaining(), fragment.remaining);
                    body.extend_from_slice(fragment.data);
                    if fragment.is_last() {
                        let (_, body, _) = pending.take().unwrap();
                        assert!(decoder.is_at_boundary());
                        events.push(if metadata {
                            Event::Metadata(body)
                        } else {
                            Event::InlineData(body)
                        });
                    }
                }
            }
            fed += len64(step.consumed);
            assert_eq!(decoder.position(), fed);
            rest = &rest[step.consumed..];
        }
    }
    // Without a rule or limit error, every byte offered is consumed or held for a name.
    assert_eq!(fed + len64(held.len()), offered, "bytes lost");
    let end = decoder.finish();
    match end {
        Ok(()) => assert!(pending.is_none() && held.is_empty() && decoder.is_at_boundary()),
        Err(DecodeError::Truncated { missing, offset }) => {
            assert!(!decoder.is_at_boundary());
            assert!(missing > 0);
            assert!(offset <= fed);
            if let Some((_, body, declared)) = &pending {
                assert_eq!(missing, declared - len64(body.len()));
            }
        }
        Err(other) => panic!("finish reported {other:?} although decode never failed"),
    }
    Outcome { events, end }
}

/// Feeds the whole of `stream` to a [`Decoder`] in one piece.
pub fn push_whole(stream: &[u8], limits: Limits) -> Outcome {
    push([stream], limits)
}

/// Feeds `stream` to a [`Decoder`] one byte at a time.
pub fn push_bytewise(stream: &[u8], limits: Limits) -> Outcome {
    push(stream.chunks(1), limits)
}

/// Iterates over `stream` with [`Chunks`] and checks the pull API's promises.
pub fn pull(stream: &[u8], limits: Limits) -> Outcome {
    let mut chunks = Chunks::with_limits(stream, limits);
    let mut events = Vec::new();
    let mut end = Ok(());
    let mut position = 0u64;
    loop {
        assert_eq!(chunks.position(), position);
        let Some(item) = chunks.next() else { break };
        let event = match item {
            Ok(Chunk::Metadata(fragment)) => {
                assert!(fragment.is_whole(), "Chunks yields whole chunks");
                assert!(borrowed_from(fragment.data, stream));
                Event::Metadata(fragment.data.to_vec())
            }
            Ok(Chunk::InlineData(fragment)) => {
                assert!(fragment.is_whole(), "Chunks yields whole chunks");
                assert!(borrowed_from(fragment.data, stream));
                Event::InlineData(fragment.data.to_vec())
            }
            Ok(Chunk::FileBackedData(file)) => {
                assert!(borrowed_from(file.name, stream));
                Event::FileBacked {
                    content_len: file.content_len,
                    dir_index: file.dir_index,
                    name: file.name.to_vec(),
                }
            }
            Err(error) => {
                // The error is yielded once, and then the iterator ends for good.
                assert_eq!(chunks.position(), position, "position of the failed chunk");
                assert!(chunks.next().is_none());
                assert!(chunks.next().is_none());
                end = Err(error);
                break;
            }
        };
        position += event.wire_len();
        events.push(event);
    }
    if end.is_ok() {
        assert!(chunks.remainder().is_empty());
        assert_eq!(position, len64(stream.len()));
    }
    Outcome { events, end }
}

/// An independent decoder of a whole stream, written from the format's definition: fields
/// read with explicit byte arithmetic, names checked with a split on `/` rather than the
/// crate's word-at-a-time scan.
pub fn model(stream: &[u8], limits: Limits) -> Outcome {
    fn field(bytes: &[u8]) -> u64 {
        bytes
            .iter()
            .rev()
            .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
    }
    let mut events = Vec::new();
    let mut at = 0usize;
    let done = |events, end| Outcome { events, end };
    loop {
        let left = &stream[at..];
        let offset = len64(at);
        let truncated = |missing: usize| {
            Err(DecodeError::Truncated {
                missing: len64(missing),
                offset,
            })
        };
        let Some(&type_byte) = left.first() else {
            return done(events, Ok(()));
        };
        match type_byte {
            0 | 1 => {
                if left.len() < 5 {
                    return done(events, truncated(5 - left.len()));
                }
                let len = field(&left[1..5]);
                if len > limits.inline_cap() {
                    let max = limits.inline_cap();
                    let end = Err(DecodeError::InlineTooLarge { len, max, offset });
                    return done(events, end);
                }
                let len = usize::try_from(len).unwrap();
                if left.len() < 5 + len {
                    return done(events, truncated(5 + len - left.len()));
                }
                let body = left[5..5 + len].to_vec();
                events.push(if type_byte == 0 {
                    Event::Metadata(body)
                } else {
                    Event::InlineData(body)
                });
                at += 5 + len;
            }
            2 => {
                if left.len() < 17 {
                    return done(events, truncated(17 - left.len()));
                }
                let content_len = field(&left[1..9]);
                let dir_index = u32::try_from(field(&left[9..13])).unwrap();
                let name_len = field(&left[13..17]);
                if dir_index > limits.index_cap() {
                    let max = limits.index_cap();
                    let end = Err(DecodeError::IndexTooLarge {
                        index: dir_index,
                        max,
                        offset,
                    });
                    return done(events, end);
                }
                let name_error = |error| Err(DecodeError::Name { error, offset });
                if name_len == 0 {
                    return done(events, name_error(NameError::Empty));
                }
                if name_len > limits.name_cap() {
                    let max = limits.name_cap();
                    return done(
                        events,
                        name_error(NameError::TooLong { len: name_len, max }),
                    );
                }
                let name_len = usize::try_from(name_len).unwrap();
                if left.len() < 17 + name_len {
                    return done(events, truncated(17 + name_len - left.len()));
                }
                let name = &left[17..17 + name_len];
                if let Err(error) = model_name_rules(name) {
                    return done(events, name_error(error));
                }
                events.push(Event::FileBacked {
                    content_len,
                    dir_index,
                    name: name.to_vec(),
                });
                at += 17 + name_len;
            }
            byte => return done(events, Err(DecodeError::UnknownType { byte, offset })),
        }
    }
}

/// The byte rules of a name, from their definition.
pub fn model_name_rules(name: &[u8]) -> Result<(), NameError> {
    if let Some(at) = name.iter().position(|&byte| byte == 0) {
        return Err(NameError::Nul { at });
    }
    if name.first() == Some(&b'/') {
        return Err(NameError::Absolute);
    }
    let mut start = 0;
    for component in name.split(|&byte| byte == b'/') {
        if component == b".." {
            return Err(NameError::ParentComponent { at: start });
        }
        start += component.len() + 1;
    }
    Ok(())
}

/// The whole rules of a name, from their definition.
pub fn model_check_name(name: &[u8]) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 4096 {
        return Err(NameError::TooLong {
            len: len64(name.len()),
            max: 4096,
        });
    }
    model_name_rules(name)
}

/// One request to the [`Encoder`].
#[derive(Clone, Debug)]
pub enum Write {
    /// A Metadata (`metadata: true`) or InlineData body.
    Body {
        /// Metadata rather than InlineData.
        metadata: bool,
        /// The body.
        body: Vec<u8>,
        /// Where to cut the body into separately written pieces; empty to write it with one
        /// whole-body call.
        cuts: Vec<usize>,
        /// Whether the pieces are copied by the caller and accounted for with
        /// [`Encoder::advance_body`].
        by_caller: bool,
    },
    /// A FileBackedData chunk; a name that breaks the rules must be refused.
    FileBacked {
        /// Directory index.
        dir_index: u32,
        /// Declared file length.
        content_len: u64,
        /// File name.
        name: Vec<u8>,
    },
}

/// A stream produced by [`encode`] and what it must decode to.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The wire bytes.
    pub stream: Vec<u8>,
    /// The chunks the stream must decode to.
    pub expected: Vec<Event>,
    /// Stream offsets where a chunk starts or the stream ends.
    pub boundaries: Vec<usize>,
}

/// The chunks a body of `body` becomes when split every `split` bytes.
pub fn split_body(metadata: bool, body: &[u8], split: usize) -> Vec<Event> {
    if body.is_empty() {
        return if metadata {
            vec![]
        } else {
            vec![Event::InlineData(vec![])]
        };
    }
    body.chunks(split)
        .map(|piece| {
            if metadata {
                Event::Metadata(piece.to_vec())
            } else {
                Event::InlineData(piece.to_vec())
            }
        })
        .collect()
}

/// Drives an [`Encoder`] splitting bodies every `split` bytes through `writes`, checking
/// that it refuses what the reference reader refuses and never lets a chunk start while
/// body bytes are owed.
pub fn encode(writes: &[Write], split: u64) -> Encoded {
    let mut encoder = Encoder::with_split(split);
    let split = usize::try_from(encoder.split()).unwrap();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut header = [0u8; 5];
    for write in writes {
        match write {
            Write::FileBacked {
                dir_index,
                content_len,
                name,
            } => {
                let mut out = vec![0u8; 17 + name.len()];
                match encoder.file_backed(*dir_index, *content_len, name, &mut out) {
                    Ok(written) => {
                        assert_eq!(written, out.len());
                        assert_eq!(model_check_name(name), Ok(()));
                        stream.extend_from_slice(&out);
                        expected.push(Event::FileBacked {
                            content_len: *content_len,
                            dir_index: *dir_index,
                            name: name.clone(),
                        });
                    }
                    Err(error) => {
                        let rule = model_check_name(name).expect_err("a good name refused");
                        assert_eq!(error, EncodeError::Name(rule));
                        assert!(out.iter().all(|&byte| byte == 0), "written on error");
                    }
                }
            }
            Write::Body {
                metadata,
                body,
                cuts,
                ..
            } if cuts.is_empty() => {
                let mut out = vec![0u8; body.len() + 5 * (body.len() / split + 1)];
                let written = if *metadata {
                    encoder.metadata(body, &mut out).unwrap()
                } else {
                    encoder.inline_data(body, &mut out).unwrap()
                };
                stream.extend_from_slice(&out[..written]);
                expected.extend(split_body(*metadata, body, split));
            }
            Write::Body {
                metadata,
                body,
                cuts,
                by_caller,
            } => {
                let len = len64(body.len());
                let written = if *metadata {
                    encoder.begin_metadata(len, &mut header).unwrap()
                } else {
                    encoder.begin_inline_data(len, &mut header).unwrap()
                };
                stream.extend_from_slice(&header[..written]);
                for piece in super::split_at(body, cuts) {
                    if *by_caller {
                        let mut rest = piece;
                        while !rest.is_empty() {
                            let written = encoder.body_header(&mut header).unwrap();
                            stream.extend_from_slice(&header[..written]);
                            let room = usize::try_from(encoder.room()).unwrap();
                            let take = room.min(rest.len());
                            if take < rest.len() {
                                // Past the room, the header must come first.
                                let too_many = len64(take + 1);
                                assert_eq!(
                                    encoder.clone().advance_body(too_many),
                                    Err(EncodeError::HeaderDue {
                                        len: too_many,
                                        room: len64(room)
                                    })
                                );
                            }
                            stream.extend_from_slice(&rest[..take]);
                            encoder.advance_body(len64(take)).unwrap();
                            rest = &rest[take..];
                        }
                    } else {
                        let mut out = vec![0u8; piece.len() + 5 * (piece.len() / split + 1)];
                        let written = encoder.body(piece, &mut out).unwrap();
                        stream.extend_from_slice(&out[..written]);
                    }
                    let owed = encoder.owed();
                    if owed > 0 {
                        let refused = EncodeError::InlineOwed { remaining: owed };
                        assert_eq!(encoder.finish(), Err(refused));
                        let mut scratch = [0u8; 64];
                        assert_eq!(encoder.file_backed(0, 0, b"a", &mut scratch), Err(refused));
                        assert_eq!(encoder.metadata(b"x", &mut scratch), Err(refused));
                        assert_eq!(encoder.inline_data(b"", &mut scratch), Err(refused));
                        assert_eq!(encoder.begin_inline_data(1, &mut scratch), Err(refused));
                    }
                }
                expected.extend(split_body(*metadata, body, split));
            }
        }
        assert_eq!(encoder.owed(), 0);
    }
    assert_eq!(encoder.finish(), Ok(()));
    assert_eq!(encoder.position(), len64(stream.len()));
    let mut boundaries = vec![0];
    for event in &expected {
        let last = *boundaries.last().unwrap();
        boundaries.push(last + usize::try_from(event.wire_len()).unwrap());
    }
    assert_eq!(*boundaries.last().unwrap(), stream.len());
    Encoded {
        stream,
        expected,
        boundaries,
    }
}
