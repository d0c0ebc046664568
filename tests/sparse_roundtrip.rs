//! Property tests for the sparse stream: random extent lists encoded (raw or LZ4, one or
//! several frames per extent) decode back to the same events and the same disk however
//! the stream is fed; push ≡ pull; a reference model that reads streams the way
//! virtnbdbackup does (payload lengths from the trailer) agrees; the stream ends cleanly
//! only where it may; and mutated streams never make the decoders disagree or panic.

#![cfg(feature = "sparse")]
// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::len64;
use common::sparse::{
    encode, pull, push_bytewise, push_split, push_whole, restore, Encoded, Event, Piece,
};
use proptest::prelude::*;
use splitfdstream::sparse::{Compression, DecodeError, Limits};

/// A disk and the extents to write, in order (later ones may overlap earlier ones).
#[derive(Clone, Debug)]
struct Disk {
    virtual_size: u64,
    pieces: Vec<Piece>,
    compression: Option<Compression>,
}

fn piece(virtual_size: u64) -> impl Strategy<Value = Piece> {
    let data = (
        proptest::collection::vec(any::<u8>(), 0..600),
        proptest::collection::vec(any::<usize>(), 0..3),
        any::<u64>(),
    )
        .prop_map(move |(bytes, cuts, at)| {
            let room = virtual_size - len64(bytes.len());
            let cuts = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
            Piece::Data {
                start: at % (room + 1),
                bytes,
                cuts,
            }
        });
    let zero = (any::<u64>(), any::<u64>()).prop_map(move |(len, at)| {
        let len = len % (virtual_size + 1);
        Piece::Zero {
            start: at % (virtual_size - len + 1),
            len,
        }
    });
    prop_oneof![3 => data, 1 => zero]
}

fn disk() -> impl Strategy<Value = Disk> {
    (600u64..=1 << 16, any::<Option<Option<u8>>>()).prop_flat_map(|(virtual_size, level)| {
        let compression = level.map(|level| Compression::Lz4 {
            level: level.map(u64::from),
        });
        proptest::collection::vec(piece(virtual_size), 0..8).prop_map(move |pieces| Disk {
            virtual_size,
            pieces,
            compression,
        })
    })
}

/// The disk the pieces describe, written over `base`.
fn model_disk(disk: &Disk, base: &[u8]) -> Vec<u8> {
    let mut image = base.to_vec();
    for piece in &disk.pieces {
        match piece {
            Piece::Data { start, bytes, .. } => {
                let at = usize::try_from(*start).unwrap();
                image[at..at + bytes.len()].copy_from_slice(bytes);
            }
            Piece::Zero { start, len } => {
                let at = usize::try_from(*start).unwrap();
                image[at..at + usize::try_from(*len).unwrap()].fill(0);
            }
        }
    }
    image
}

fn field(header: &[u8], range: std::ops::Range<usize>) -> u64 {
    u64::from_str_radix(std::str::from_utf8(&header[range]).unwrap(), 16).unwrap()
}

/// The trailer's entries as lists of frame sizes (an integer is one frame).
fn trailer_entries(json: &[u8]) -> Vec<Vec<u64>> {
    let text = std::str::from_utf8(json).unwrap();
    let inner = text
        .trim()
        .strip_prefix('[')
        .unwrap()
        .strip_suffix(']')
        .unwrap();
    let mut entries = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        if let Some(object) = rest.strip_prefix('{') {
            let end = object.find('}').unwrap();
            let list = &object[object.find('[').unwrap() + 1..object.find(']').unwrap()];
            entries.push(
                list.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().parse().unwrap())
                    .collect(),
            );
            rest = object[end + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            entries.push(vec![rest[..end].trim().parse().unwrap()]);
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    entries
}

/// Reads a good stream the way virtnbdbackup's restore does: string headers, the
/// compressed payload lengths from the trailer found at the end of the stream.
fn model(stream: &[u8]) -> Vec<Event> {
    let header = |at: usize| {
        let bytes = &stream[at..at + 40];
        (
            std::str::from_utf8(&bytes[..4]).unwrap().to_owned(),
            field(bytes, 5..21),
            field(bytes, 22..38),
        )
    };
    let (kind, _, len) = header(0);
    assert_eq!(kind, "meta");
    let json_len = usize::try_from(len).unwrap();
    let json = &stream[40..40 + json_len];
    let metadata = splitfdstream::sparse::Metadata::parse(json).unwrap();
    let compressed = !std::str::from_utf8(json)
        .unwrap()
        .contains("\"compressed\":false");
    let mut events = vec![Event::Metadata {
        json: json.to_vec(),
        metadata,
    }];
    let mut entries = Vec::new();
    if compressed {
        let (kind, _, len) = header(stream.len() - 40);
        assert_eq!(kind, "comp");
        let end = stream.len() - 42;
        entries = trailer_entries(&stream[end - usize::try_from(len).unwrap()..end]);
    }
    let mut entries = entries.into_iter();
    let mut at = 40 + json_len + 2;
    loop {
        let (kind, start, len) = header(at);
        at += 40;
        match kind.as_str() {
            "data" if compressed => {
                let mut frames = Vec::new();
                for size in entries.next().unwrap() {
                    let size = usize::try_from(size).unwrap();
                    frames.push(stream[at..at + size].to_vec());
                    at += size;
                }
                events.push(Event::Lz4 { start, len, frames });
                at += 2;
            }
            "data" => {
                let len = usize::try_from(len).unwrap();
                events.push(Event::Data {
                    start,
                    bytes: stream[at..at + len].to_vec(),
                });
                at += len + 2;
            }
            "zero" => events.push(Event::Zero { start, len }),
            "stop" => {
                events.push(Event::Stop);
                break;
            }
            other => panic!("unexpected frame {other}"),
        }
    }
    if compressed {
        let json = &stream[at..stream.len() - 42];
        events.push(Event::Trailer {
            json: json.to_vec(),
            entries: len64(trailer_entries(json).len()),
        });
    }
    events
}

fn encoded_disk() -> impl Strategy<Value = (Disk, Encoded, Vec<usize>)> {
    disk().prop_flat_map(|disk| {
        let encoded = encode(disk.virtual_size, &disk.pieces, disk.compression);
        let len = encoded.stream.len();
        (
            Just(disk),
            Just(encoded),
            proptest::collection::vec(0..=len, 0..12),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn encoded_disks_decode_to_the_same_disk((disk, encoded, cuts) in encoded_disk()) {
        let stream = &encoded.stream;
        let whole = push_whole(stream, Limits::new());
        prop_assert_eq!(&whole.end, &Ok(()));
        prop_assert_eq!(&whole.events, &encoded.expected);
        prop_assert_eq!(&pull(stream, Limits::new()), &whole);
        prop_assert_eq!(&push_split(stream, &cuts, Limits::new()), &whole);
        prop_assert_eq!(&model(stream), &whole.events);

        let base = vec![0xa5u8; usize::try_from(disk.virtual_size).unwrap()];
        prop_assert_eq!(restore(&whole.events, &base), model_disk(&disk, &base));
    }

    #[test]
    fn a_stream_ends_cleanly_only_where_it_may((disk, encoded, cuts) in encoded_disk()) {
        let stream = &encoded.stream;
        // A compressed stream may also end right after `stop`, before its trailer.
        let stop_end = encoded
            .expected
            .iter()
            .find_map(|event| match event {
                Event::Trailer { json, .. } => Some(stream.len() - json.len() - 42),
                _ => None,
            });
        for &cut in &cuts {
            let outcome = push_whole(&stream[..cut], Limits::new());
            if cut == stream.len() || Some(cut) == stop_end {
                prop_assert_eq!(&outcome.end, &Ok(()));
            } else {
                let truncated = matches!(
                    outcome.end,
                    Err(DecodeError::Truncated { offset, .. }) if offset == len64(cut)
                );
                prop_assert!(truncated, "cut at {}: {:?}", cut, outcome.end);
            }
            prop_assert_eq!(pull(&stream[..cut], Limits::new()), outcome);
        }
        let _ = disk;
    }

    #[test]
    fn mutated_streams_decode_alike_however_fed(
        (_disk, encoded, cuts) in encoded_disk(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut stream = encoded.stream.clone();
        for (at, byte) in flips {
            let at = at % stream.len();
            stream[at] = byte;
        }
        let whole = push_whole(&stream, Limits::new());
        prop_assert_eq!(&pull(&stream, Limits::new()), &whole);
        prop_assert_eq!(&push_split(&stream, &cuts, Limits::new()), &whole);
        if stream.len() < 4096 {
            prop_assert_eq!(&push_bytewise(&stream, Limits::new()), &whole);
        }
    }

    #[test]
    fn arbitrary_bytes_decode_alike_however_fed(
        stream in proptest::collection::vec(any::<u8>(), 0..256),
        cuts in proptest::collection::vec(0usize..256, 0..8),
    ) {
        let whole = push_whole(&stream, Limits::new());
        prop_assert!(whole.end.is_err());
        prop_assert_eq!(&pull(&stream, Limits::new()), &whole);
        prop_assert_eq!(&push_split(&stream, &cuts, Limits::new()), &whole);
        prop_assert_eq!(&push_bytewise(&stream, Limits::new()), &whole);
    }
}
