//! Golden byte vectors for every edge case of the format, decoded whole, at every split
//! point and byte by byte, by the push decoder, the pull iterator and a reference model;
//! and the encoder producing the same bytes and refusing what cannot be expressed.

// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{model, pull, push, push_bytewise, push_whole, split_at, Event, Outcome};
use splitfdstream::{
    Chunk, Chunks, DecodeError, Decoder, EncodeError, Encoder, FdIndex, Header, HeaderKind,
    InlineFragment, Limits, Step, HEADER_LEN, MAX_INLINE_LEN,
};

/// Bytes from space-separated hex pairs, so vectors read like a hex dump.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

const HELLO: &str = "fb ff ff ff ff ff ff ff 68 65 6c 6c 6f";
const EXTERNAL_7: &str = "07 00 00 00 00 00 00 00";
const TWO_POW_63: u64 = 1 << 63;

struct Vector {
    name: String,
    stream: Vec<u8>,
    limits: Limits,
    expected: Outcome,
}

fn vector(name: &str, stream: Vec<u8>, events: Vec<Event>, end: Result<(), DecodeError>) -> Vector {
    limited(name, stream, Limits::new(), events, end)
}

fn limited(
    name: &str,
    stream: Vec<u8>,
    limits: Limits,
    events: Vec<Event>,
    end: Result<(), DecodeError>,
) -> Vector {
    Vector {
        name: name.to_owned(),
        stream,
        limits,
        expected: Outcome { events, end },
    }
}

fn inline(body: &[u8]) -> Event {
    Event::Inline(body.to_vec())
}

fn truncated(missing: u64) -> Result<(), DecodeError> {
    Err(DecodeError::Truncated { missing })
}

fn vectors() -> Vec<Vector> {
    let hello = hex(HELLO);
    let ext7 = hex(EXTERNAL_7);
    let mut all = vec![
        vector("empty input is an empty stream", vec![], vec![], Ok(())),
        vector(
            "inline hello",
            hello.clone(),
            vec![inline(b"hello")],
            Ok(()),
        ),
        vector("external 7", ext7.clone(), vec![Event::External(7)], Ok(())),
        vector(
            "prefix 0 is external 0",
            hex("00 00 00 00 00 00 00 00"),
            vec![Event::External(0)],
            Ok(()),
        ),
        vector(
            "prefix -1 is one inline byte",
            hex("ff ff ff ff ff ff ff ff 00"),
            vec![inline(&[0])],
            Ok(()),
        ),
        vector(
            "hello, external 7, hello, external 0",
            [&hello[..], &ext7, &hello, &[0; 8]].concat(),
            vec![
                inline(b"hello"),
                Event::External(7),
                inline(b"hello"),
                Event::External(0),
            ],
            Ok(()),
        ),
        vector(
            "the same index referenced twice",
            [&ext7[..], &ext7].concat(),
            vec![Event::External(7), Event::External(7)],
            Ok(()),
        ),
        vector(
            "i64::MIN declares 2^63 inline bytes",
            hex("00 00 00 00 00 00 00 80"),
            vec![],
            truncated(TWO_POW_63),
        ),
        vector(
            "i64::MIN with 3 body bytes",
            hex("00 00 00 00 00 00 00 80 61 62 63"),
            vec![],
            truncated(TWO_POW_63 - 3),
        ),
        vector(
            "i64::MIN + 1 declares 2^63 - 1 inline bytes",
            hex("01 00 00 00 00 00 00 80"),
            vec![],
            truncated(TWO_POW_63 - 1),
        ),
        vector(
            "index u32::MAX + 1 is kept",
            hex("00 00 00 00 01 00 00 00"),
            vec![Event::External(1 << 32)],
            Ok(()),
        ),
        vector(
            "index 2^40 is kept",
            hex("00 00 00 00 00 01 00 00"),
            vec![Event::External(1 << 40)],
            Ok(()),
        ),
        vector(
            "index i64::MAX is kept",
            hex("ff ff ff ff ff ff ff 7f"),
            vec![Event::External(i64::MAX.unsigned_abs())],
            Ok(()),
        ),
        vector(
            "inline prefix without its body",
            hello[..8].to_vec(),
            vec![],
            truncated(5),
        ),
        vector(
            "short inline body",
            hello[..11].to_vec(),
            vec![],
            truncated(2),
        ),
        vector(
            "short inline body after a whole chunk",
            [&ext7[..], &hello[..12]].concat(),
            vec![Event::External(7)],
            truncated(1),
        ),
        // Limits: checked at the prefix, before any body byte, with the prefix's offset.
        limited(
            "max_inline below the chunk",
            hello.clone(),
            Limits::new().max_inline(4),
            vec![],
            Err(DecodeError::InlineTooLarge {
                len: 5,
                max: 4,
                offset: 0,
            }),
        ),
        limited(
            "max_inline equal to the chunk",
            hello.clone(),
            Limits::new().max_inline(5),
            vec![inline(b"hello")],
            Ok(()),
        ),
        limited(
            "max_inline rejects at the prefix, before the body arrives",
            [&ext7[..], &hello[..8]].concat(),
            Limits::new().max_inline(4),
            vec![Event::External(7)],
            Err(DecodeError::InlineTooLarge {
                len: 5,
                max: 4,
                offset: 8,
            }),
        ),
        limited(
            "max_inline rejects i64::MIN rather than report truncation",
            hex("00 00 00 00 00 00 00 80"),
            Limits::new().max_inline(1 << 20),
            vec![],
            Err(DecodeError::InlineTooLarge {
                len: TWO_POW_63,
                max: 1 << 20,
                offset: 0,
            }),
        ),
        limited(
            "max_index below the index, after an inline chunk, stays failed",
            [&hello[..], &ext7, &hello].concat(),
            Limits::new().max_index(6),
            vec![inline(b"hello")],
            Err(DecodeError::IndexTooLarge {
                index: 7,
                max: 6,
                offset: 13,
            }),
        ),
        limited(
            "max_index equal to the index",
            ext7.clone(),
            Limits::new().max_index(7),
            vec![Event::External(7)],
            Ok(()),
        ),
        limited(
            "max_index u32::MAX rejects 2^40 without truncating it",
            hex("00 00 00 00 00 01 00 00"),
            Limits::new().max_index(u32::MAX.into()),
            vec![],
            Err(DecodeError::IndexTooLarge {
                index: 1 << 40,
                max: u32::MAX.into(),
                offset: 0,
            }),
        ),
        limited(
            "max_index does not apply to inline chunks",
            [&hello[..], &[0; 8]].concat(),
            Limits::new().max_index(0).max_inline(5),
            vec![inline(b"hello"), Event::External(0)],
            Ok(()),
        ),
    ];
    for partial in 1..HEADER_LEN {
        let missing = u64::try_from(HEADER_LEN - partial).unwrap();
        all.push(vector(
            &format!("partial prefix of {partial} bytes"),
            hello[..partial].to_vec(),
            vec![],
            truncated(missing),
        ));
        all.push(vector(
            &format!("partial prefix of {partial} bytes after a whole chunk"),
            [&hello[..], &ext7[..partial]].concat(),
            vec![inline(b"hello")],
            truncated(missing),
        ));
    }
    all
}

#[test]
fn golden_bytes_match_the_format_notes() {
    assert_eq!(hex(HELLO), [&(-5i64).to_le_bytes()[..], b"hello"].concat());
    assert_eq!(hex(EXTERNAL_7), 7i64.to_le_bytes());
}

#[test]
fn vectors_decode_whole() {
    for v in vectors() {
        assert_eq!(pull(&v.stream, v.limits), v.expected, "pull: {}", v.name);
        assert_eq!(
            push_whole(&v.stream, v.limits),
            v.expected,
            "push: {}",
            v.name
        );
        assert_eq!(model(&v.stream, v.limits), v.expected, "model: {}", v.name);
    }
}

#[test]
fn vectors_decode_byte_by_byte() {
    for v in vectors() {
        let outcome = push_bytewise(&v.stream, v.limits);
        assert_eq!(outcome, v.expected, "{}", v.name);
    }
}

#[test]
fn vectors_decode_at_every_split_point() {
    for v in vectors() {
        for cut in 0..=v.stream.len() {
            let outcome = push(split_at(&v.stream, &[cut]), v.limits);
            assert_eq!(outcome, v.expected, "{} cut at {cut}", v.name);
        }
    }
}

#[test]
fn vectors_decode_at_every_pair_of_split_points() {
    for v in vectors() {
        for first in 0..=v.stream.len() {
            for second in first..=v.stream.len() {
                let outcome = push(split_at(&v.stream, &[first, second]), v.limits);
                assert_eq!(
                    outcome, v.expected,
                    "{} cut at {first} and {second}",
                    v.name
                );
            }
        }
    }
}

#[test]
fn inline_fragments_borrow_each_piece_byte_by_byte() {
    let stream = hex(HELLO);
    let mut decoder = Decoder::new();
    for (at, byte) in stream[..8].iter().enumerate() {
        let step = decoder.decode(core::slice::from_ref(byte)).unwrap();
        assert_eq!(
            step,
            Step {
                consumed: 1,
                chunk: None
            },
            "prefix byte {at}"
        );
        assert!(!decoder.is_at_boundary());
    }
    assert_eq!(decoder.inline_remaining(), 5);
    for (at, byte) in stream[8..].iter().enumerate() {
        let step = decoder.decode(core::slice::from_ref(byte)).unwrap();
        let offset = u64::try_from(at).unwrap();
        let expected = InlineFragment {
            data: core::slice::from_ref(byte),
            offset,
            remaining: 4 - offset,
        };
        assert_eq!(
            step,
            Step {
                consumed: 1,
                chunk: Some(Chunk::Inline(expected))
            }
        );
        let Some(Chunk::Inline(fragment)) = step.chunk else {
            unreachable!()
        };
        assert!(core::ptr::eq(fragment.data, core::slice::from_ref(byte)));
        assert_eq!(fragment.chunk_len(), 5);
    }
    assert!(decoder.is_at_boundary());
    assert_eq!(decoder.position(), 13);
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn prefix_and_body_come_out_of_one_call() {
    let stream = [&hex(HELLO)[..], &hex(EXTERNAL_7)].concat();
    let mut decoder = Decoder::new();
    let step = decoder.decode(&stream).unwrap();
    assert_eq!(step.consumed, 13, "stops after one event");
    let Some(Chunk::Inline(fragment)) = step.chunk else {
        panic!("{step:?}")
    };
    assert!(fragment.is_whole());
    assert!(
        core::ptr::eq(fragment.data, &stream[8..13]),
        "borrowed, not copied"
    );
    let step = decoder.decode(&stream[13..]).unwrap();
    assert_eq!(step.consumed, 8);
    assert_eq!(step.chunk, Some(Chunk::External(FdIndex::new(7).unwrap())));
}

#[test]
fn the_huge_inline_chunk_streams_without_overflow() {
    // i64::MIN: the decoder hands out whatever body arrives and keeps counting down from
    // 2^63 without negating the prefix.
    let mut decoder = Decoder::new();
    let prefix = i64::MIN.to_le_bytes();
    assert_eq!(
        decoder.decode(&prefix).unwrap(),
        Step {
            consumed: 8,
            chunk: None
        }
    );
    assert_eq!(decoder.inline_remaining(), TWO_POW_63);
    let body = [0x5a; 100];
    let step = decoder.decode(&body).unwrap();
    let Some(Chunk::Inline(fragment)) = step.chunk else {
        panic!("{step:?}")
    };
    assert_eq!((fragment.offset, fragment.remaining), (0, TWO_POW_63 - 100));
    assert_eq!(fragment.chunk_len(), TWO_POW_63);
    assert_eq!(decoder.finish(), truncated(TWO_POW_63 - 100));
}

#[test]
fn a_failed_decoder_stays_failed_until_reset() {
    let limits = Limits::new().max_index(3);
    let mut decoder = Decoder::with_limits(limits);
    let error = DecodeError::IndexTooLarge {
        index: 7,
        max: 3,
        offset: 0,
    };
    assert_eq!(decoder.decode(&hex(EXTERNAL_7)), Err(error));
    // Even input that would be valid on its own is refused, and so is the end.
    assert_eq!(decoder.decode(&[0; 8]), Err(error));
    assert_eq!(decoder.decode(&[]), Err(error));
    assert_eq!(decoder.finish(), Err(error));
    decoder.reset();
    assert_eq!(decoder.limits(), limits);
    assert_eq!(decoder.position(), 0);
    let step = decoder.decode(&[2, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(step.chunk, Some(Chunk::External(FdIndex::new(2).unwrap())));
    assert_eq!(
        decoder.decode(&hex(EXTERNAL_7)),
        Err(DecodeError::IndexTooLarge {
            index: 7,
            max: 3,
            offset: 8
        })
    );
}

#[test]
fn chunks_reports_its_position_and_remainder() {
    let stream = [&hex(HELLO)[..], &hex(EXTERNAL_7)[..3]].concat();
    let mut chunks = Chunks::new(&stream);
    assert!(matches!(chunks.next(), Some(Ok(Chunk::Inline(_)))));
    assert_eq!(chunks.position(), 13);
    assert_eq!(chunks.remainder(), &stream[13..]);
    assert_eq!(
        chunks.next(),
        Some(Err(DecodeError::Truncated { missing: 5 }))
    );
    assert_eq!(chunks.position(), 13);
    assert!(chunks.remainder().is_empty());
    assert_eq!(chunks.next(), None);
}

#[test]
fn headers_produce_the_golden_bytes() {
    let cases: [(Header, &str); 7] = [
        (Header::inline(5).unwrap(), "fb ff ff ff ff ff ff ff"),
        (Header::inline(1).unwrap(), "ff ff ff ff ff ff ff ff"),
        (
            Header::inline(TWO_POW_63).unwrap(),
            "00 00 00 00 00 00 00 80",
        ),
        (Header::external(7).unwrap(), EXTERNAL_7),
        (Header::external(0).unwrap(), "00 00 00 00 00 00 00 00"),
        (
            Header::external(1 << 40).unwrap(),
            "00 00 00 00 00 01 00 00",
        ),
        (
            Header::external(i64::MAX.unsigned_abs()).unwrap(),
            "ff ff ff ff ff ff ff 7f",
        ),
    ];
    for (header, golden) in cases {
        assert_eq!(header.as_bytes()[..], hex(golden)[..], "{header:?}");
        assert_eq!(Header::from_bytes(*header.as_bytes()), header);
    }
    assert_eq!(MAX_INLINE_LEN, TWO_POW_63);
    assert_eq!(Header::inline(TWO_POW_63).unwrap().prefix(), i64::MIN);
    assert_eq!(
        Header::inline(TWO_POW_63).unwrap().kind(),
        HeaderKind::Inline { len: TWO_POW_63 }
    );
    assert_eq!(
        Header::from_bytes([0; 8]).kind(),
        HeaderKind::External(FdIndex::new(0).unwrap())
    );
    assert_eq!(
        Header::for_index(FdIndex::MAX).as_bytes(),
        Header::external(i64::MAX.unsigned_abs())
            .unwrap()
            .as_bytes()
    );
}

#[test]
fn headers_refuse_what_the_format_cannot_express() {
    assert_eq!(Header::inline(0), Err(EncodeError::EmptyInline));
    assert_eq!(
        Header::inline(TWO_POW_63 + 1),
        Err(EncodeError::InlineTooLarge {
            len: TWO_POW_63 + 1
        })
    );
    assert_eq!(
        Header::inline(u64::MAX),
        Err(EncodeError::InlineTooLarge { len: u64::MAX })
    );
    assert_eq!(
        Header::external(TWO_POW_63),
        Err(EncodeError::IndexTooLarge { index: TWO_POW_63 })
    );
    assert_eq!(
        Header::external(u64::MAX),
        Err(EncodeError::IndexTooLarge { index: u64::MAX })
    );
}

#[test]
fn encoder_produces_the_golden_stream() {
    let golden = [&hex(HELLO)[..], &hex(EXTERNAL_7), &hex(HELLO), &[0; 8]].concat();
    let mut out = vec![0u8; golden.len()];
    let mut encoder = Encoder::new();
    let mut len = 0;
    len += encoder.inline(b"hello", &mut out[len..]).unwrap();
    len += encoder.external(7, &mut out[len..]).unwrap();
    len += encoder.begin_inline(5, &mut out[len..]).unwrap();
    len += encoder.inline_body(b"he", &mut out[len..]).unwrap();
    out[len..len + 3].copy_from_slice(b"llo");
    encoder.advance_inline(3).unwrap();
    len += 3;
    len += encoder
        .external_index(FdIndex::new(0).unwrap(), &mut out[len..])
        .unwrap();
    encoder.finish().unwrap();
    assert_eq!(len, golden.len());
    assert_eq!(out, golden);
    assert_eq!(encoder.position(), 42);
}

#[test]
fn encoder_writes_the_extreme_prefixes() {
    let mut encoder = Encoder::new();
    let mut out = [0u8; 16];
    assert_eq!(encoder.external(1 << 40, &mut out).unwrap(), 8);
    assert_eq!(out[..8], hex("00 00 00 00 00 01 00 00")[..]);
    assert_eq!(encoder.begin_inline(TWO_POW_63, &mut out[8..]).unwrap(), 8);
    assert_eq!(out[8..], i64::MIN.to_le_bytes());
    assert_eq!(encoder.owed(), TWO_POW_63);
    assert_eq!(
        encoder.finish(),
        Err(EncodeError::InlineOwed {
            remaining: TWO_POW_63
        })
    );
    encoder.advance_inline(TWO_POW_63).unwrap();
    assert_eq!(encoder.finish(), Ok(()));
}

/// Runs `call` on a fresh 0xaa-filled buffer of `size` bytes against a copy of `encoder`,
/// checks that it fails with `expected` and that neither the buffer nor the encoder changed.
fn refused(
    encoder: &Encoder,
    size: usize,
    expected: EncodeError,
    call: impl FnOnce(&mut Encoder, &mut [u8]) -> Result<usize, EncodeError>,
) {
    let mut after = encoder.clone();
    let mut out = vec![0xaa; size];
    assert_eq!(call(&mut after, &mut out), Err(expected));
    assert!(
        out.iter().all(|&byte| byte == 0xaa),
        "buffer written on {expected:?}"
    );
    assert_eq!(&after, encoder, "encoder changed on {expected:?}");
}

#[test]
fn encoder_insufficient_size_leaves_everything_untouched() {
    let fresh = Encoder::new();
    let short = EncodeError::InsufficientSize { required: 8 };
    refused(&fresh, 7, short, |e, out| e.external(7, out));
    refused(&fresh, 0, short, |e, out| e.external(7, out));
    refused(&fresh, 7, short, |e, out| {
        e.external_index(FdIndex::MAX, out)
    });
    refused(&fresh, 7, short, |e, out| e.begin_inline(5, out));
    let whole = EncodeError::InsufficientSize { required: 13 };
    refused(&fresh, 12, whole, |e, out| e.inline(b"hello", out));
    refused(&fresh, 8, whole, |e, out| e.inline(b"hello", out));

    let mut open = Encoder::new();
    open.begin_inline(5, &mut [0; 8]).unwrap();
    let body = EncodeError::InsufficientSize { required: 4 };
    refused(&open, 3, body, |e, out| e.inline_body(b"hell", out));
}

#[test]
fn encoder_refuses_new_chunks_while_inline_bytes_are_owed() {
    let mut encoder = Encoder::new();
    encoder.begin_inline(5, &mut [0; 8]).unwrap();
    encoder.inline_body(b"he", &mut [0; 2]).unwrap();
    let owed = EncodeError::InlineOwed { remaining: 3 };
    refused(&encoder, 64, owed, |e, out| e.external(7, out));
    refused(&encoder, 64, owed, |e, out| {
        e.external_index(FdIndex::MAX, out)
    });
    refused(&encoder, 64, owed, |e, out| e.inline(b"x", out));
    refused(&encoder, 64, owed, |e, out| e.begin_inline(1, out));
    // Not even an empty inline write slips through as a no-op.
    refused(&encoder, 64, owed, |e, out| e.inline(b"", out));
    refused(&encoder, 64, owed, |e, out| e.begin_inline(0, out));
    assert_eq!(encoder.finish(), Err(owed));
    encoder.advance_inline(3).unwrap();
    assert_eq!(encoder.finish(), Ok(()));
}

#[test]
fn encoder_refuses_body_bytes_beyond_the_declared_length() {
    let fresh = Encoder::new();
    refused(
        &fresh,
        64,
        EncodeError::InlineOverrun {
            len: 1,
            remaining: 0,
        },
        |e, out| e.inline_body(b"x", out),
    );
    let mut encoder = Encoder::new();
    encoder.begin_inline(2, &mut [0; 8]).unwrap();
    let overrun = EncodeError::InlineOverrun {
        len: 3,
        remaining: 2,
    };
    refused(&encoder, 64, overrun, |e, out| e.inline_body(b"abc", out));
    let mut after = encoder.clone();
    assert_eq!(after.advance_inline(3), Err(overrun));
    assert_eq!(after, encoder);
}

#[test]
fn encoder_drops_empty_inline_writes() {
    let fresh = Encoder::new();
    let mut encoder = fresh.clone();
    let mut out = [0xaa; 16];
    assert_eq!(encoder.inline(b"", &mut out), Ok(0));
    assert_eq!(encoder.begin_inline(0, &mut out), Ok(0));
    assert_eq!(encoder.inline_body(b"", &mut out), Ok(0));
    assert_eq!(encoder.advance_inline(0), Ok(()));
    assert_eq!(out, [0xaa; 16]);
    assert_eq!(encoder, fresh);
    assert_eq!(encoder.finish(), Ok(()));
}

#[test]
fn encoder_refuses_unexpressible_chunks() {
    let fresh = Encoder::new();
    for index in [TWO_POW_63, u64::MAX] {
        refused(
            &fresh,
            64,
            EncodeError::IndexTooLarge { index },
            |e, out| e.external(index, out),
        );
    }
    let len = TWO_POW_63 + 1;
    refused(&fresh, 64, EncodeError::InlineTooLarge { len }, |e, out| {
        e.begin_inline(len, out)
    });
}

#[test]
fn errors_display_lowercase_with_their_numbers() {
    let messages = [
        DecodeError::Truncated { missing: 5 }.to_string(),
        DecodeError::InlineTooLarge {
            len: 5,
            max: 4,
            offset: 13,
        }
        .to_string(),
        DecodeError::IndexTooLarge {
            index: 7,
            max: 6,
            offset: 13,
        }
        .to_string(),
        EncodeError::InsufficientSize { required: 13 }.to_string(),
        EncodeError::InlineOwed { remaining: 3 }.to_string(),
    ];
    for message in &messages {
        assert!(message.starts_with(char::is_lowercase), "{message}");
    }
    assert!(messages[0].contains('5'));
    assert!(messages[1].contains("13") && messages[1].contains('4'));
    assert!(messages[2].contains('7') && messages[2].contains('6'));
}
