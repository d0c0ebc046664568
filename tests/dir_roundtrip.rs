//! Property tests for splitdirfdstream: encode → decode identity under random feed splits,
//! push ≡ pull, a clean end exactly at chunk boundaries, and agreement with a reference
//! model on arbitrary bytes.

// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::dir::{encode, model, pull, push, push_bytewise, push_whole, Encoded, Write};
use common::split_at;
use proptest::prelude::*;
use splitfdstream::dir::{DecodeError, Limits};

/// Names: mostly valid (components, dots, spaces, newlines, UTF-8, long ones), sometimes
/// breaking a rule, which the encoder must refuse.
fn name() -> impl Strategy<Value = Vec<u8>> {
    let component = prop_oneof![
        6 => "[a-z0-9 ._\n-]{1,12}".prop_map(String::into_bytes),
        1 => Just(b".".to_vec()),
        1 => Just(b"...".to_vec()),
        2 => "[.a]{1,10}".prop_map(String::into_bytes),
        1 => Just("\u{e9}t\u{e9}".as_bytes().to_vec()),
        1 => proptest::collection::vec(1u8..=255, 1..8)
            .prop_map(|bytes| bytes.into_iter().filter(|&b| b != b'/').collect()),
    ];
    let good = proptest::collection::vec(component, 1..6)
        .prop_map(|parts| parts.join(&b'/'))
        .prop_filter("non-empty", |name| !name.is_empty());
    prop_oneof![
        12 => good,
        1 => Just(vec![b'n'; 4096]),
        1 => Just(Vec::new()),
        1 => Just(vec![b'n'; 4097]),
        1 => Just(b"a/\0b".to_vec()),
        1 => Just(b"/abs".to_vec()),
        1 => Just(b"a/../b".to_vec()),
        1 => Just(b"..".to_vec()),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    let body = (
        any::<bool>(),
        prop_oneof![
            2 => Just(Vec::new()),
            6 => proptest::collection::vec(any::<u8>(), 1..64),
            2 => proptest::collection::vec(any::<u8>(), 64..1024),
        ],
        proptest::collection::vec(any::<usize>(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(metadata, body, cuts, by_caller)| {
            let cuts = cuts.iter().map(|cut| cut % (body.len() + 1)).collect();
            Write::Body {
                metadata,
                body,
                cuts,
                by_caller,
            }
        });
    let file = (
        prop_oneof![3 => 0u32..4, 1 => any::<u32>()],
        prop_oneof![
            3 => 0u64..10_000,
            1 => Just(u64::from(u32::MAX) + 1),
            1 => any::<u64>(),
        ],
        name(),
    )
        .prop_map(|(dir_index, content_len, name)| Write::FileBacked {
            dir_index,
            content_len,
            name,
        });
    prop_oneof![3 => body, 2 => file]
}

/// Random chunk lists, with bodies split every 1 to 300 bytes or at 256 MiB.
fn encoded() -> impl Strategy<Value = Encoded> {
    (
        proptest::collection::vec(write(), 0..20),
        prop_oneof![1 => 1u64..300, 1 => Just(u64::MAX)],
    )
        .prop_map(|(writes, split)| encode(&writes, split))
}

/// An encoded stream and feed cuts within it.
fn encoded_with_cuts() -> impl Strategy<Value = (Encoded, Vec<usize>)> {
    encoded().prop_flat_map(|encoded| {
        let len = encoded.stream.len();
        let cuts = proptest::collection::vec(0..=len, 0..16);
        (Just(encoded), cuts)
    })
}

/// Arbitrary-looking streams built from plausible headers, so that random bytes do not
/// always fail at the first type byte.
fn wild_stream() -> impl Strategy<Value = Vec<u8>> {
    let body_header = (0u8..=1, prop_oneof![4 => 0u32..40, 1 => any::<u32>()])
        .prop_map(|(kind, len)| [&[kind][..], &len.to_le_bytes()].concat());
    let file_header = (
        any::<u64>(),
        prop_oneof![3 => 0u32..4, 1 => any::<u32>()],
        prop_oneof![4 => 0u32..24, 1 => Just(4096u32), 1 => Just(4097u32), 1 => any::<u32>()],
    )
        .prop_map(|(len, dir, name_len)| {
            [
                &[2][..],
                &len.to_le_bytes(),
                &dir.to_le_bytes(),
                &name_len.to_le_bytes(),
            ]
            .concat()
        });
    let piece = prop_oneof![
        3 => body_header,
        3 => file_header,
        3 => "[a-z./]{0,24}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ];
    (
        proptest::collection::vec(piece, 0..12),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(pieces, cut)| {
            let stream = pieces.concat();
            let keep = cut.index(stream.len() + 1).max(stream.len() / 2);
            stream[..keep].to_vec()
        })
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(u64::MAX), 0u64..48],
        prop_oneof![Just(4096u64), 0u64..24],
        prop_oneof![Just(u32::MAX), 0u32..4],
    )
        .prop_map(|(max_inline, max_name, max_index)| {
            Limits::new()
                .max_inline(max_inline)
                .max_name(max_name)
                .max_index(max_index)
        })
}

/// How many bytes a cut leaves missing before the chunk it falls in would be complete:
/// only the rest of the header when the cut is within it.
fn missing_at(encoded: &Encoded, cut: usize) -> Option<(u64, u64)> {
    let next = encoded.boundaries.iter().find(|&&b| b >= cut)?;
    if *next == cut {
        return None;
    }
    let start = *encoded.boundaries.iter().rev().find(|&&b| b < cut)?;
    let header = if encoded.stream[start] == 2 { 17 } else { 5 };
    let missing = if cut - start < header {
        start + header - cut
    } else {
        next - cut
    };
    Some((
        u64::try_from(missing).unwrap(),
        u64::try_from(start).unwrap(),
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity((encoded, cuts) in encoded_with_cuts()) {
        let whole = push_whole(&encoded.stream, Limits::new());
        prop_assert_eq!(&whole.events, &encoded.expected);
        prop_assert_eq!(whole.end, Ok(()));
        // What the encoder writes, the reference reader's limits accept.
        prop_assert_eq!(&push_whole(&encoded.stream, Limits::reference()), &whole);
        let split = push(split_at(&encoded.stream, &cuts), Limits::new());
        prop_assert_eq!(&split, &whole);
    }

    #[test]
    fn push_equals_pull((encoded, cuts) in encoded_with_cuts()) {
        let pulled = pull(&encoded.stream, Limits::new());
        prop_assert_eq!(&pulled.events, &encoded.expected);
        prop_assert_eq!(&model(&encoded.stream, Limits::new()), &pulled);
        prop_assert_eq!(push(split_at(&encoded.stream, &cuts), Limits::new()), pulled);
    }

    #[test]
    fn finish_fails_exactly_when_cut_mid_chunk((encoded, cuts) in encoded_with_cuts()) {
        for cut in cuts {
            let short = &encoded.stream[..cut];
            let expected = match missing_at(&encoded, cut) {
                None => Ok(()),
                Some((missing, offset)) => Err(DecodeError::Truncated { missing, offset }),
            };
            prop_assert_eq!(push_whole(short, Limits::new()).end, expected, "cut at {}", cut);
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

    #[test]
    fn check_name_agrees_with_the_model(
        name in prop_oneof![
            3 => name(),
            // Dots, slashes and NULs anywhere, across word boundaries.
            2 => proptest::collection::vec(
                prop_oneof![4 => Just(b'.'), 3 => Just(b'/'), 1 => Just(0u8), 2 => Just(b'a')],
                0..40,
            ),
        ]
    ) {
        prop_assert_eq!(
            splitfdstream::dir::check_name(&name),
            common::dir::model_check_name(&name)
        );
    }
}
