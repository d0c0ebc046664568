//! Property tests: encode → decode identity under random feed splits, push ≡ pull, clean
//! end exactly at chunk boundaries, and agreement with a reference model on arbitrary bytes.

// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{encode, model, pull, push, push_bytewise, push_whole, split_at, Encoded, Write};
use proptest::prelude::*;
use splitfdstream::{DecodeError, Limits};

/// Indices that matter: small ones, both sides of `u32::MAX`, the format's maximum, and
/// values above it that the encoder must refuse.
fn index() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..16,
        1 => Just(u64::from(u32::MAX)),
        1 => Just(u64::from(u32::MAX) + 1),
        1 => 0u64..=i64::MAX.unsigned_abs(),
        1 => Just(i64::MAX.unsigned_abs()),
        1 => (i64::MAX.unsigned_abs() + 1)..=u64::MAX,
    ]
}

fn write() -> impl Strategy<Value = Write> {
    let inline = (
        prop_oneof![
            1 => Just(Vec::new()),
            6 => proptest::collection::vec(any::<u8>(), 1..64),
            2 => proptest::collection::vec(any::<u8>(), 64..2048),
        ],
        proptest::collection::vec(any::<usize>(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(body, cuts, by_caller)| {
            let cuts = cuts.iter().map(|cut| cut % (body.len() + 1)).collect();
            Write::Inline {
                body,
                cuts,
                by_caller,
            }
        });
    prop_oneof![2 => inline, 1 => index().prop_map(Write::External)]
}

fn encoded() -> impl Strategy<Value = Encoded> {
    proptest::collection::vec(write(), 0..24).prop_map(|writes| encode(&writes))
}

/// An encoded stream and feed cuts within it.
fn encoded_with_cuts() -> impl Strategy<Value = (Encoded, Vec<usize>)> {
    encoded().prop_flat_map(|encoded| {
        let len = encoded.stream.len();
        let cuts = proptest::collection::vec(0..=len, 0..16);
        (Just(encoded), cuts)
    })
}

/// The bytes where a cut leaves a stream `missing` bytes short of its next boundary.
fn missing_at(encoded: &Encoded, cut: usize) -> Option<u64> {
    let next = encoded
        .boundaries
        .iter()
        .find(|&&boundary| boundary >= cut)?;
    if *next == cut {
        return None;
    }
    let start = encoded
        .boundaries
        .iter()
        .rev()
        .find(|&&boundary| boundary < cut)?;
    if cut - start < 8 {
        // Inside the prefix: only the rest of the prefix is known to be missing.
        Some(u64::try_from(8 - (cut - start)).unwrap())
    } else {
        Some(u64::try_from(next - cut).unwrap())
    }
}

/// Arbitrary-looking streams biased towards interesting prefixes, so that random bytes
/// do not always declare an absurd inline length on the first chunk.
fn wild_stream() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        3 => (-40i64..0).prop_map(i64::to_le_bytes),
        2 => (0i64..8).prop_map(i64::to_le_bytes),
        1 => Just(i64::MIN.to_le_bytes()),
        1 => Just(i64::MAX.to_le_bytes()),
        1 => any::<i64>().prop_map(i64::to_le_bytes),
    ]
    .prop_map(|bytes| bytes.to_vec());
    let piece = prop_oneof![
        3 => prefix,
        2 => proptest::collection::vec(any::<u8>(), 0..40),
    ];
    (
        proptest::collection::vec(piece, 0..12),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(pieces, cut)| {
            let stream = pieces.concat();
            // Sometimes cut the stream short anywhere, prefixes included.
            let keep = cut.index(stream.len() + 1).max(stream.len() / 2);
            stream[..keep].to_vec()
        })
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(u64::MAX), 0u64..48],
        prop_oneof![Just(u64::MAX), 0u64..8],
    )
        .prop_map(|(max_inline, max_index)| {
            Limits::new().max_inline(max_inline).max_index(max_index)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity((encoded, cuts) in encoded_with_cuts()) {
        let whole = push_whole(&encoded.stream, Limits::new());
        prop_assert_eq!(&whole.events, &encoded.expected);
        prop_assert_eq!(whole.end, Ok(()));
        let split = push(split_at(&encoded.stream, &cuts), Limits::new());
        prop_assert_eq!(&split, &whole);
    }

    #[test]
    fn push_equals_pull((encoded, cuts) in encoded_with_cuts()) {
        let pulled = pull(&encoded.stream, Limits::new());
        prop_assert_eq!(&pulled.events, &encoded.expected);
        prop_assert_eq!(push(split_at(&encoded.stream, &cuts), Limits::new()), pulled);
    }

    #[test]
    fn finish_fails_exactly_when_cut_mid_chunk((encoded, cuts) in encoded_with_cuts()) {
        for cut in cuts {
            let short = &encoded.stream[..cut];
            let end = push_whole(short, Limits::new()).end;
            let expected = match missing_at(&encoded, cut) {
                None => Ok(()),
                Some(missing) => Err(DecodeError::Truncated { missing }),
            };
            prop_assert_eq!(end, expected, "cut at {}", cut);
            prop_assert_eq!(pull(short, Limits::new()).end, expected, "cut at {}", cut);
        }
    }

    #[test]
    fn decoders_agree_with_the_model_on_wild_bytes(
        stream in wild_stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        let expected = model(&stream, limits);
        prop_assert_eq!(&pull(&stream, limits), &expected);
        prop_assert_eq!(&push_whole(&stream, limits), &expected);
        prop_assert_eq!(&push(split_at(&stream, &cuts), limits), &expected);
        prop_assert_eq!(&push_bytewise(&stream, limits), &expected);
    }

    #[test]
    fn decoders_agree_with_the_model_on_random_bytes(
        stream in proptest::collection::vec(any::<u8>(), 0..64),
        limits in limits(),
    ) {
        let expected = model(&stream, limits);
        prop_assert_eq!(&pull(&stream, limits), &expected);
        prop_assert_eq!(&push_bytewise(&stream, limits), &expected);
    }
}

/// Every cut of one fixed stream, so the boundary rule is checked exhaustively at least once.
#[test]
fn finish_at_every_cut_of_a_mixed_stream() {
    let encoded = encode(&[
        Write::Inline {
            body: b"hello".to_vec(),
            cuts: vec![],
            by_caller: false,
        },
        Write::External(7),
        Write::External(1 << 40),
        Write::Inline {
            body: (0..=255).collect(),
            cuts: vec![3, 100],
            by_caller: true,
        },
        Write::Inline {
            body: Vec::new(),
            cuts: vec![],
            by_caller: false,
        },
        Write::External(u64::MAX),
        Write::Inline {
            body: b"!".to_vec(),
            cuts: vec![0, 1],
            by_caller: false,
        },
    ]);
    assert_eq!(encoded.boundaries, [0, 13, 21, 29, 293, 302]);
    let mut clean = 0;
    for cut in 0..=encoded.stream.len() {
        let short = &encoded.stream[..cut];
        let end = push_whole(short, Limits::new()).end;
        assert_eq!(
            end.is_ok(),
            encoded.boundaries.contains(&cut),
            "cut at {cut}"
        );
        assert_eq!(end, pull(short, Limits::new()).end, "cut at {cut}");
        assert_eq!(end, model(short, Limits::new()).end, "cut at {cut}");
        clean += usize::from(end.is_ok());
    }
    assert_eq!(clean, encoded.boundaries.len());
}
