//! The update file: the golden bytes of the module docs, every error with its offset,
//! decoded whole, at every split point and byte by byte by the push decoder and by the
//! pull iterator; and property tests: random updates encoded then decoded, push ≡ pull.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::update::{pull, push, Outcome, Owned};
use proptest::prelude::*;
use splitfdstream::update::{
    Checkpoint, DecodeError, EncodeError, Encoder, Header, Limits, Part, SourceRange,
};

/// Decodes `file` whole, at every split point and byte by byte, by push and pull; all
/// must agree. Returns the outcome.
fn decode_every_way(file: &[u8], limits: Limits) -> Outcome {
    let whole = push([file], limits);
    assert_eq!(pull(file, limits), whole, "pull differs from push");
    for cut in 0..=file.len() {
        assert_eq!(
            push([&file[..cut], &file[cut..]], limits),
            whole,
            "split at {cut}"
        );
    }
    assert_eq!(push(file.chunks(1), limits), whole, "byte by byte");
    whole
}

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

const SHA_HELLO_WORLD: &str = "b9 4d 27 b9 93 4d 3e 08 a5 2e 52 d7 da 7d ab fa
    c4 84 ef e3 7a 53 80 ee 90 88 f7 ac e2 ef cd e9";
const SHA_HELLO: &str = "2c f2 4d ba 5f b0 a3 0e 26 e8 3b 2a c5 b9 e2 9e
    1b 16 1e 5c 1f a7 42 5e 73 04 33 62 93 8b 98 24";

fn golden() -> Vec<u8> {
    hex(&format!(
        "53 46 44 55 50 44 01 00  0b 00 00 00 00 00 00 00 {SHA_HELLO_WORLD}
         01 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00  05 00 00 00 00 00 00 00 {SHA_HELLO}
         00 00 00 00 00 00 00 00
         fa ff ff ff ff ff ff ff 20 77 6f 72 6c 64"
    ))
}

fn sha(text: &str) -> [u8; 32] {
    hex(text).try_into().unwrap()
}

#[test]
fn golden_bytes_decode() {
    let (events, end) = decode_every_way(&golden(), Limits::new());
    end.unwrap();
    assert_eq!(
        events,
        [
            Owned::Header(Header {
                target_len: 11,
                target_sha256: sha(SHA_HELLO_WORLD),
                range_count: 1
            }),
            Owned::Range(
                0,
                SourceRange {
                    offset: 0,
                    len: 5,
                    sha256: sha(SHA_HELLO)
                }
            ),
            Owned::External(0),
            Owned::Inline(b" world".to_vec()),
        ]
    );
}

#[test]
fn golden_bytes_encode() {
    let mut out = [0u8; 256];
    let mut encoder = Encoder::new();
    let header = Header {
        target_len: 11,
        target_sha256: sha(SHA_HELLO_WORLD),
        range_count: 1,
    };
    let mut len = encoder.header(&header, &mut out).unwrap();
    let range = SourceRange {
        offset: 0,
        len: 5,
        sha256: sha(SHA_HELLO),
    };
    len += encoder.range(&range, &mut out[len..]).unwrap();
    len += encoder.external(0, &mut out[len..]).unwrap();
    len += encoder.inline(b" world", &mut out[len..]).unwrap();
    encoder.finish().unwrap();
    assert_eq!(out[..len], golden());
}

#[test]
fn bad_magic_and_version() {
    let mut file = golden();
    file[0] = b'X';
    let (events, end) = decode_every_way(&file, Limits::new());
    assert!(events.is_empty());
    assert_eq!(end, Err(DecodeError::BadMagic { found: *b"XFDUPD" }));

    let mut file = golden();
    file[6] = 2;
    assert_eq!(
        decode_every_way(&file, Limits::new()).1,
        Err(DecodeError::UnsupportedVersion { version: 2 })
    );
}

#[test]
fn truncation_anywhere_is_reported_with_its_offset() {
    let file = golden();
    for cut in 0..file.len() {
        let (_, end) = decode_every_way(&file[..cut], Limits::new());
        let expected = match cut {
            0..56 => Err(DecodeError::Truncated {
                missing: 56 - cut as u64,
                offset: 0,
            }),
            56..104 => Err(DecodeError::Truncated {
                missing: 104 - cut as u64,
                offset: 56,
            }),
            // On a chunk boundary: only the target's hash can tell.
            104 | 112 => Ok(()),
            _ => Err(DecodeError::Stream {
                error: splitfdstream::DecodeError::Truncated {
                    missing: [112, 120, 126].into_iter().find(|&end| end > cut).unwrap() as u64
                        - cut as u64,
                },
                stream_offset: 104,
            }),
        };
        assert_eq!(end, expected, "cut at {cut}");
    }
}

#[test]
fn range_rules() {
    let mut file = golden();
    file[64..72].copy_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        decode_every_way(&file, Limits::new()).1,
        Err(DecodeError::EmptyRange {
            index: 0,
            offset: 56
        })
    );
    let mut file = golden();
    file[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(
        decode_every_way(&file, Limits::new()).1,
        Err(DecodeError::RangeOverflow {
            index: 0,
            offset: 56
        })
    );
    // External(1) with one range: unknown, at the chunk's file offset.
    let mut file = golden();
    file[104] = 1;
    let (events, end) = decode_every_way(&file, Limits::new());
    assert_eq!(events.len(), 2);
    assert_eq!(
        end,
        Err(DecodeError::UnknownRange {
            index: 1,
            range_count: 1,
            offset: 104
        })
    );
    // A table too large for any file.
    let mut file = golden();
    file[48..56].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        decode_every_way(&file, Limits::new()).1,
        Err(DecodeError::TooManyRanges {
            count: u64::MAX,
            ..
        })
    ));
}

#[test]
fn limits_are_checked_at_the_header() {
    let file = golden();
    assert_eq!(
        decode_every_way(&file, Limits::new().max_ranges(0)).1,
        Err(DecodeError::TooManyRanges { count: 1, max: 0 })
    );
    assert_eq!(
        decode_every_way(&file, Limits::new().max_target(10)).1,
        Err(DecodeError::TargetTooLarge { len: 11, max: 10 })
    );
    assert_eq!(
        decode_every_way(&file, Limits::new().max_inline(5)).1,
        Err(DecodeError::Stream {
            error: splitfdstream::DecodeError::InlineTooLarge {
                len: 6,
                max: 5,
                offset: 8
            },
            stream_offset: 104
        })
    );
}

#[test]
fn encoder_refuses_malformed_files() {
    let mut out = [0u8; 256];
    let mut encoder = Encoder::new();
    assert_eq!(
        encoder.external(0, &mut out),
        Err(EncodeError::OutOfOrder {
            expected: Part::Header
        })
    );
    assert_eq!(
        encoder.finish(),
        Err(EncodeError::OutOfOrder {
            expected: Part::Header
        })
    );
    let header = Header {
        target_len: 1,
        target_sha256: [0; 32],
        range_count: 2,
    };
    assert_eq!(
        encoder.header(&header, &mut out[..55]),
        Err(EncodeError::InsufficientSize { required: 56 })
    );
    encoder.header(&header, &mut out).unwrap();
    assert_eq!(
        encoder.header(&header, &mut out),
        Err(EncodeError::OutOfOrder {
            expected: Part::Range
        })
    );
    let empty = SourceRange {
        offset: 3,
        len: 0,
        sha256: [0; 32],
    };
    assert_eq!(
        encoder.range(&empty, &mut out),
        Err(EncodeError::Range(DecodeError::EmptyRange {
            index: 0,
            offset: 0
        }))
    );
    let range = SourceRange {
        offset: 3,
        len: 1,
        sha256: [0; 32],
    };
    encoder.range(&range, &mut out).unwrap();
    assert_eq!(
        encoder.finish(),
        Err(EncodeError::OutOfOrder {
            expected: Part::Range
        })
    );
    encoder.range(&range, &mut out).unwrap();
    assert_eq!(
        encoder.range(&range, &mut out),
        Err(EncodeError::OutOfOrder {
            expected: Part::Stream
        })
    );
    encoder.begin_inline(4, &mut out).unwrap();
    assert!(matches!(encoder.finish(), Err(EncodeError::Stream(_))));
}

#[test]
fn checkpoint_bytes() {
    let checkpoint = Checkpoint {
        stream_offset: 0x0102,
        target_offset: 7,
        target_sha256: [0xaa; 32],
    };
    let bytes = checkpoint.to_bytes();
    assert_eq!(&bytes[..14], b"SFDC\x02\x01\0\0\0\0\0\0\x07\0");
    assert_eq!(Checkpoint::from_bytes(&bytes), Ok(checkpoint));
}

/// A random update: a header, a table, and a stream of chunks that refer to it.
#[derive(Clone, Debug)]
struct Update {
    header: Header,
    ranges: Vec<SourceRange>,
    chunks: Vec<Result<u64, Vec<u8>>>,
}

fn update() -> impl Strategy<Value = Update> {
    let range = (any::<u32>(), 1..u32::MAX, any::<[u8; 32]>()).prop_map(|(offset, len, sha256)| {
        SourceRange {
            offset: offset.into(),
            len: len.into(),
            sha256,
        }
    });
    (
        proptest::collection::vec(range, 0..5),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_flat_map(|(ranges, target_len, target_sha256)| {
            let count = ranges.len() as u64;
            let chunk = if count == 0 {
                proptest::collection::vec(any::<u8>(), 1..40)
                    .prop_map(Err)
                    .boxed()
            } else {
                prop_oneof![
                    (0..count).prop_map(Ok),
                    proptest::collection::vec(any::<u8>(), 1..40).prop_map(Err),
                ]
                .boxed()
            };
            let header = Header {
                target_len,
                target_sha256,
                range_count: count,
            };
            (
                Just(header),
                Just(ranges),
                proptest::collection::vec(chunk, 0..8),
            )
        })
        .prop_map(|(header, ranges, chunks)| Update {
            header,
            ranges,
            chunks,
        })
}

fn encode(update: &Update) -> (Vec<u8>, Vec<Owned>) {
    let mut out = vec![0u8; 56 + 48 * update.ranges.len() + 48 * update.chunks.len() + 8];
    let mut encoder = Encoder::new();
    let mut len = encoder.header(&update.header, &mut out).unwrap();
    let mut events = vec![Owned::Header(update.header)];
    for (index, range) in update.ranges.iter().enumerate() {
        len += encoder.range(range, &mut out[len..]).unwrap();
        events.push(Owned::Range(index as u64, *range));
    }
    for chunk in &update.chunks {
        match chunk {
            Ok(index) => {
                len += encoder.external(*index, &mut out[len..]).unwrap();
                events.push(Owned::External(*index));
            }
            Err(bytes) => {
                len += encoder.inline(bytes, &mut out[len..]).unwrap();
                events.push(Owned::Inline(bytes.clone()));
            }
        }
    }
    encoder.finish().unwrap();
    out.truncate(len);
    (out, events)
}

proptest! {
    #[test]
    fn encode_then_decode_at_random_splits(update in update(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let (file, expected) = encode(&update);
        let whole = push([&file[..]], Limits::new());
        prop_assert_eq!(&whole, &(expected, Ok(())));
        prop_assert_eq!(&pull(&file, Limits::new()), &whole);
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (file.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points {
            pieces.push(&file[start..point]);
            start = point;
        }
        pieces.push(&file[start..]);
        prop_assert_eq!(&push(pieces, Limits::new()), &whole);
    }

    #[test]
    fn push_equals_pull_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200), cut in any::<usize>()) {
        // Mostly valid prefixes: a real header in front of random bytes.
        let mut file = Header { target_len: 3, target_sha256: [0; 32], range_count: 2 }.to_bytes().to_vec();
        file.extend_from_slice(&bytes);
        let whole = push([&file[..]], Limits::new());
        prop_assert_eq!(&pull(&file, Limits::new()), &whole);
        let cut = cut % (file.len() + 1);
        prop_assert_eq!(&push([&file[..cut], &file[cut..]], Limits::new()), &whole);
        prop_assert_eq!(&push([&bytes[..]], Limits::new()), &pull(&bytes, Limits::new()));
    }
}
