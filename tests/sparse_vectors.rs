//! Golden vectors for the sparse stream: every frame kind, every metadata key style, LZ4
//! payloads and trailers, and every check, decoded whole, at every split point and byte by
//! byte by the push decoder and by the pull iterator; every proper prefix of a good stream
//! is a truncation; and the encoder writing the same bytes and refusing bad streams.

#![cfg(feature = "sparse")]
// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::sparse::{pull, push_bytewise, push_split, push_whole, Event, Outcome};
use splitfdstream::sparse::{
    Compression, DecodeError, EncodeError, Encoder, FrameKind, Limits, Lz4Fault, Metadata,
    MetadataFault, MetadataFields,
};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

/// `hello` as python-lz4 compresses it with virtnbdbackup's settings (block and content
/// checksums, content size).
const HELLO_LZ4: &str = "04 22 4d 18 7c 40 05 00 00 00 00 00 00 00 03 05 00 00 80 68 65 6c 6c 6f \
                         f9 77 00 fb 00 00 00 00 f9 77 00 fb";
/// `abcd` eight times, likewise: one compressed block.
const ABCD_LZ4: &str = "04 22 4d 18 7c 40 20 00 00 00 00 00 00 00 19 0e 00 00 00 4f 61 62 63 64 \
                        04 00 04 50 64 61 62 63 64 32 79 41 d2 00 00 00 00 30 04 20 8f";
/// Nothing, likewise: no content size.
const EMPTY_LZ4: &str = "04 22 4d 18 74 40 bd 00 00 00 00 05 5d cc 02";

fn header(kind: &str, start: u64, len: u64) -> Vec<u8> {
    format!("{kind} {start:016x} {len:016x}\r\n").into_bytes()
}

fn meta(json: &str) -> Vec<u8> {
    [
        header("meta", 0, json.len() as u64),
        json.as_bytes().to_vec(),
        b"\r\n".to_vec(),
    ]
    .concat()
}

fn data(start: u64, len: u64, payload: &[u8]) -> Vec<u8> {
    [
        header("data", start, len),
        payload.to_vec(),
        b"\r\n".to_vec(),
    ]
    .concat()
}

fn zero(start: u64, len: u64) -> Vec<u8> {
    header("zero", start, len)
}

fn stop() -> Vec<u8> {
    header("stop", 0, 0)
}

fn trailer(json: &str) -> Vec<u8> {
    [
        json.as_bytes().to_vec(),
        b"\r\n".to_vec(),
        header("comp", 0, json.len() as u64),
    ]
    .concat()
}

const PLAIN: &str =
    r#"{"virtualSize": 65536, "dataSize": 5, "streamVersion": 2, "compressed": false}"#;
const LZ4: &str = r#"{"virtualSize": 4096, "dataSize": 5, "streamVersion": 2, "compressed": 2, "compressionMethod": "lz4"}"#;

fn plain_metadata(virtual_size: u64, data_size: u64) -> Metadata {
    Metadata {
        virtual_size,
        data_size,
        compression: None,
        incremental: false,
        stream_version: Some(2),
    }
}

fn lz4_metadata(data_size: u64) -> Metadata {
    Metadata {
        virtual_size: 4096,
        data_size,
        compression: Some(Compression::Lz4 { level: Some(2) }),
        incremental: false,
        stream_version: Some(2),
    }
}

fn metadata_event(json: &str, metadata: Metadata) -> Event {
    Event::Metadata {
        json: json.as_bytes().to_vec(),
        metadata,
    }
}

struct Vector {
    name: &'static str,
    stream: Vec<u8>,
    limits: Limits,
    expected: Outcome,
    /// Stream lengths, besides the whole, at which the stream may cleanly end.
    complete_at: Vec<usize>,
}

fn good(name: &'static str, stream: Vec<u8>, events: Vec<Event>) -> Vector {
    Vector {
        name,
        stream,
        limits: Limits::new(),
        expected: Outcome {
            events,
            end: Ok(()),
        },
        complete_at: Vec::new(),
    }
}

fn bad(name: &'static str, stream: Vec<u8>, events: Vec<Event>, error: DecodeError) -> Vector {
    Vector {
        name,
        stream,
        limits: Limits::new(),
        expected: Outcome {
            events,
            end: Err(error),
        },
        complete_at: Vec::new(),
    }
}

fn good_vectors() -> Vec<Vector> {
    let hello = hex(HELLO_LZ4);
    let abcd = hex(ABCD_LZ4);
    let empty = hex(EMPTY_LZ4);
    let minimal = r#"{"virtualSize": 0, "dataSize": 0, "streamVersion": 2, "compressed": false}"#;
    let ovirt = r#"{"virtual-size": 4096, "data-size": 2, "date": "2020-01-01T00:00:00"}"#;
    let version1 =
        r#"{"virtualSize": 4096, "dataSize": 0, "stream-version": 1, "incremental": true}"#;
    let several = r#"{"virtualSize": 4096, "dataSize": 37, "streamVersion": 2, "compressed": 2, "compressionMethod": "lz4"}"#;
    let lz4_stream = [meta(LZ4), data(0, 5, &hello), stop(), trailer("[36]")].concat();
    let stop_at = lz4_stream.len() - trailer("[36]").len();
    let mut vectors = vec![
        good(
            "metadata and stop",
            [meta(minimal), stop()].concat(),
            vec![metadata_event(minimal, plain_metadata(0, 0)), Event::Stop],
        ),
        good(
            "data with upper-case hex, zero",
            [
                meta(PLAIN),
                b"data 000000000000ABC0 0000000000000005\r\nhello\r\n".to_vec(),
                zero(0, 0x1000),
                stop(),
            ]
            .concat(),
            vec![
                metadata_event(PLAIN, plain_metadata(65536, 5)),
                Event::Data {
                    start: 0xabc0,
                    bytes: b"hello".to_vec(),
                },
                Event::Zero {
                    start: 0,
                    len: 0x1000,
                },
                Event::Stop,
            ],
        ),
        good(
            "ovirt-imageio keys, no version",
            [meta(ovirt), data(4094, 2, b"hi"), stop()].concat(),
            vec![
                metadata_event(
                    ovirt,
                    Metadata {
                        stream_version: None,
                        ..plain_metadata(4096, 2)
                    },
                ),
                Event::Data {
                    start: 4094,
                    bytes: b"hi".to_vec(),
                },
                Event::Stop,
            ],
        ),
        good(
            "stream-version 1, incremental, empty data frame",
            [meta(version1), data(7, 0, b""), stop()].concat(),
            vec![
                metadata_event(
                    version1,
                    Metadata {
                        stream_version: Some(1),
                        incremental: true,
                        ..plain_metadata(4096, 0)
                    },
                ),
                Event::Data {
                    start: 7,
                    bytes: Vec::new(),
                },
                Event::Stop,
            ],
        ),
        good(
            "compressed, one frame, integer trailer entry",
            lz4_stream.clone(),
            vec![
                metadata_event(LZ4, lz4_metadata(5)),
                Event::Lz4 {
                    start: 0,
                    len: 5,
                    frames: vec![hello.clone()],
                },
                Event::Stop,
                Event::Trailer {
                    json: b"[36]".to_vec(),
                    entries: 1,
                },
            ],
        ),
        good(
            "compressed, without a trailer",
            lz4_stream[..stop_at].to_vec(),
            vec![
                metadata_event(LZ4, lz4_metadata(5)),
                Event::Lz4 {
                    start: 0,
                    len: 5,
                    frames: vec![hello.clone()],
                },
                Event::Stop,
            ],
        ),
        good(
            "compressed, two frames and an empty one, object entry",
            [
                meta(several),
                data(100, 37, &[hello.clone(), abcd.clone()].concat()),
                data(4096, 0, &empty),
                stop(),
                trailer(r#"[{"81": [36, 45]}, 15]"#),
            ]
            .concat(),
            vec![
                metadata_event(several, lz4_metadata(37)),
                Event::Lz4 {
                    start: 100,
                    len: 37,
                    frames: vec![hello.clone(), abcd.clone()],
                },
                Event::Lz4 {
                    start: 4096,
                    len: 0,
                    frames: vec![empty.clone()],
                },
                Event::Stop,
                Event::Trailer {
                    json: br#"[{"81": [36, 45]}, 15]"#.to_vec(),
                    entries: 2,
                },
            ],
        ),
        good(
            "compressed, trailer with JSON whitespace and an escaped key",
            [
                meta(LZ4),
                data(0, 5, &hello),
                stop(),
                trailer("\n[ {\"a\\\"b\" : [ 36 ] }\t]"),
            ]
            .concat(),
            vec![
                metadata_event(LZ4, lz4_metadata(5)),
                Event::Lz4 {
                    start: 0,
                    len: 5,
                    frames: vec![hello.clone()],
                },
                Event::Stop,
                Event::Trailer {
                    json: b"\n[ {\"a\\\"b\" : [ 36 ] }\t]".to_vec(),
                    entries: 1,
                },
            ],
        ),
    ];
    vectors[4].complete_at = vec![stop_at];
    vectors[6].complete_at =
        vec![vectors[6].stream.len() - trailer(r#"[{"81": [36, 45]}, 15]"#).len()];
    vectors[7].complete_at = vec![stop_at];
    vectors
}

fn bad_vectors() -> Vec<Vector> {
    let hello = hex(HELLO_LZ4);
    let plain_meta = || metadata_event(PLAIN, plain_metadata(65536, 5));
    let lz4_meta = || metadata_event(LZ4, lz4_metadata(5));
    let m = meta(PLAIN).len() as u64;
    let lm = meta(LZ4).len() as u64;
    let hello_event = || Event::Lz4 {
        start: 0,
        len: 5,
        frames: vec![hex(HELLO_LZ4)],
    };
    let lz4_to_stop = || [meta(LZ4), data(0, 5, &hex(HELLO_LZ4)), stop()].concat();
    let stop_offset = lz4_to_stop().len() as u64;
    let comp_offset = |json: &str| stop_offset + json.len() as u64 + 2;
    let metadata_fault = |json: &str, fault| {
        bad(
            "metadata",
            meta(json),
            vec![],
            DecodeError::Metadata { fault, offset: 40 },
        )
    };
    let mut bad_checksum = hello.clone();
    bad_checksum[14] = 0x04;
    let big_block = hex("04 22 4d 18 40 40 c0 01 00 01 00");
    let mut vectors = vec![
        bad(
            "empty input",
            vec![],
            vec![],
            DecodeError::Truncated {
                missing: 40,
                offset: 0,
            },
        ),
        bad(
            "unknown frame kind",
            [meta(PLAIN), header("junk", 0, 0), stop()].concat(),
            vec![plain_meta()],
            DecodeError::UnknownFrame {
                kind: *b"junk",
                offset: m,
            },
        ),
        bad(
            "upper-case kind is unknown",
            [meta(PLAIN), header("STOP", 0, 0)].concat(),
            vec![plain_meta()],
            DecodeError::UnknownFrame {
                kind: *b"STOP",
                offset: m,
            },
        ),
        bad(
            "a non-hex digit",
            [
                meta(PLAIN),
                b"zero 000000000000000g 0000000000000001\r\n".to_vec(),
            ]
            .concat(),
            vec![plain_meta()],
            DecodeError::MalformedHeader { offset: m },
        ),
        bad(
            "a header without CRLF",
            [
                meta(PLAIN),
                b"zero 0000000000000000 0000000000000001\n\n".to_vec(),
            ]
            .concat(),
            vec![plain_meta()],
            DecodeError::MalformedHeader { offset: m },
        ),
        bad(
            "stop with a length",
            [meta(PLAIN), header("stop", 0, 1)].concat(),
            vec![plain_meta()],
            DecodeError::MalformedHeader { offset: m },
        ),
        bad(
            "data before the metadata",
            [data(0, 5, b"hello"), meta(PLAIN), stop()].concat(),
            vec![],
            DecodeError::UnexpectedFrame {
                kind: FrameKind::Data,
                offset: 0,
            },
        ),
        bad(
            "a second meta",
            [meta(PLAIN), meta(PLAIN)].concat(),
            vec![plain_meta()],
            DecodeError::UnexpectedFrame {
                kind: FrameKind::Meta,
                offset: m,
            },
        ),
        bad(
            "comp before stop",
            [meta(PLAIN), header("comp", 0, 0)].concat(),
            vec![plain_meta()],
            DecodeError::UnexpectedFrame {
                kind: FrameKind::Comp,
                offset: m,
            },
        ),
        bad(
            "data past the virtual size",
            [meta(PLAIN), data(65532, 5, b"hello"), stop()].concat(),
            vec![plain_meta()],
            DecodeError::ExtentPastEnd {
                start: 65532,
                len: 5,
                virtual_size: 65536,
                offset: m,
            },
        ),
        bad(
            "zero past the virtual size",
            [meta(PLAIN), zero(65536, 1)].concat(),
            vec![plain_meta()],
            DecodeError::ExtentPastEnd {
                start: 65536,
                len: 1,
                virtual_size: 65536,
                offset: m,
            },
        ),
        bad(
            "an extent whose end overflows",
            [meta(PLAIN), zero(u64::MAX, 2)].concat(),
            vec![plain_meta()],
            DecodeError::ExtentPastEnd {
                start: u64::MAX,
                len: 2,
                virtual_size: 65536,
                offset: m,
            },
        ),
        bad(
            "data without CRLF",
            [
                meta(PLAIN),
                header("data", 0, 5),
                b"hello\r!".to_vec(),
                stop(),
            ]
            .concat(),
            vec![plain_meta()],
            DecodeError::MissingCrlf { offset: m + 45 },
        ),
        bad(
            "metadata without CRLF",
            [
                header("meta", 0, PLAIN.len() as u64),
                PLAIN.as_bytes().to_vec(),
                b"\n\r".to_vec(),
            ]
            .concat(),
            vec![],
            DecodeError::MissingCrlf {
                offset: 40 + PLAIN.len() as u64,
            },
        ),
        bad(
            "data adding up to less than dataSize",
            [meta(PLAIN), data(0, 4, b"hell"), stop()].concat(),
            vec![
                plain_meta(),
                Event::Data {
                    start: 0,
                    bytes: b"hell".to_vec(),
                },
            ],
            DecodeError::DataSizeMismatch {
                declared: 5,
                actual: 4,
                offset: m + 46,
            },
        ),
        bad(
            "bytes after stop",
            [meta(PLAIN), data(0, 5, b"hello"), stop(), b"\r\n".to_vec()].concat(),
            vec![
                plain_meta(),
                Event::Data {
                    start: 0,
                    bytes: b"hello".to_vec(),
                },
                Event::Stop,
            ],
            DecodeError::TrailingBytes { offset: m + 87 },
        ),
        bad(
            "a trailer in an uncompressed stream",
            [meta(PLAIN), data(0, 5, b"hello"), stop(), trailer("[]")].concat(),
            vec![
                plain_meta(),
                Event::Data {
                    start: 0,
                    bytes: b"hello".to_vec(),
                },
                Event::Stop,
            ],
            DecodeError::TrailingBytes { offset: m + 87 },
        ),
        bad(
            "bytes after comp",
            [lz4_to_stop(), trailer("[36]"), b"\r\n".to_vec()].concat(),
            vec![
                lz4_meta(),
                hello_event(),
                Event::Stop,
                Event::Trailer {
                    json: b"[36]".to_vec(),
                    entries: 1,
                },
            ],
            DecodeError::TrailingBytes {
                offset: comp_offset("[36]") + 40,
            },
        ),
        bad(
            "a malformed trailer",
            [lz4_to_stop(), trailer("[36,]")].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::MalformedTrailer {
                offset: stop_offset + 4,
            },
        ),
        bad(
            "a trailer number with a leading zero",
            [lz4_to_stop(), trailer("[036]")].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::MalformedTrailer {
                offset: stop_offset + 2,
            },
        ),
        bad(
            "a frame header after stop in a compressed stream",
            [lz4_to_stop(), stop()].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::MalformedTrailer {
                offset: stop_offset,
            },
        ),
        bad(
            "a comp length that is not the trailer's",
            [lz4_to_stop(), b"[36]\r\n".to_vec(), header("comp", 0, 5)].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::TrailerLength {
                declared: 5,
                actual: 4,
                offset: comp_offset("[36]"),
            },
        ),
        bad(
            "another frame where comp belongs",
            [lz4_to_stop(), b"[36]\r\n".to_vec(), stop()].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::UnexpectedFrame {
                kind: FrameKind::Stop,
                offset: comp_offset("[36]"),
            },
        ),
        bad(
            "a trailer with a wrong size",
            [lz4_to_stop(), trailer("[35]")].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::TrailerMismatch {
                offset: comp_offset("[35]"),
            },
        ),
        bad(
            "a trailer with an entry too many",
            [lz4_to_stop(), trailer("[36, 1]")].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::TrailerMismatch {
                offset: comp_offset("[36, 1]"),
            },
        ),
        bad(
            "a trailer splitting one frame in two",
            [lz4_to_stop(), trailer(r#"[{"36": [18, 18]}]"#)].concat(),
            vec![lz4_meta(), hello_event(), Event::Stop],
            DecodeError::TrailerMismatch {
                offset: comp_offset(r#"[{"36": [18, 18]}]"#),
            },
        ),
        bad(
            "raw bytes in a compressed payload",
            [meta(LZ4), data(0, 5, b"hello"), stop()].concat(),
            vec![lz4_meta()],
            DecodeError::Lz4 {
                fault: Lz4Fault::Magic {
                    found: u32::from_le_bytes(*b"hell"),
                },
                offset: lm + 40,
            },
        ),
        bad(
            "a compressed payload with no frame",
            [meta(LZ4), data(0, 5, b""), stop()].concat(),
            vec![lz4_meta()],
            DecodeError::Lz4 {
                fault: Lz4Fault::Magic {
                    found: u32::from_le_bytes(*b"\r\nst"),
                },
                offset: lm + 40,
            },
        ),
        bad(
            "an LZ4 header checksum that does not match",
            [meta(LZ4), data(0, 5, &bad_checksum), stop()].concat(),
            vec![lz4_meta()],
            DecodeError::Lz4 {
                fault: Lz4Fault::HeaderChecksum {
                    expected: 0x03,
                    found: 0x04,
                },
                offset: lm + 44,
            },
        ),
        bad(
            "an LZ4 block above the frame's maximum",
            [meta(LZ4), data(0, 5, &big_block)].concat(),
            vec![lz4_meta()],
            DecodeError::Lz4 {
                fault: Lz4Fault::BlockTooLarge {
                    len: 65537,
                    max: 65536,
                },
                offset: lm + 47,
            },
        ),
        bad(
            "LZ4 content short of the extent",
            [
                meta(
                    r#"{"virtualSize": 4096, "dataSize": 6, "streamVersion": 2, "compressed": 2}"#,
                ),
                data(0, 6, &hello),
                stop(),
            ]
            .concat(),
            vec![metadata_event(
                r#"{"virtualSize": 4096, "dataSize": 6, "streamVersion": 2, "compressed": 2}"#,
                lz4_metadata(6),
            )],
            DecodeError::ContentSizeMismatch {
                len: 6,
                declared: 5,
                offset: meta(
                    r#"{"virtualSize": 4096, "dataSize": 6, "streamVersion": 2, "compressed": 2}"#,
                )
                .len() as u64
                    + 40
                    + 36,
            },
        ),
        bad(
            "LZ4 content past the extent",
            [
                meta(
                    r#"{"virtualSize": 4096, "dataSize": 4, "streamVersion": 2, "compressed": 2}"#,
                ),
                data(0, 4, &hello),
                stop(),
            ]
            .concat(),
            vec![metadata_event(
                r#"{"virtualSize": 4096, "dataSize": 4, "streamVersion": 2, "compressed": 2}"#,
                lz4_metadata(4),
            )],
            DecodeError::ContentSizeMismatch {
                len: 4,
                declared: 5,
                offset: meta(
                    r#"{"virtualSize": 4096, "dataSize": 4, "streamVersion": 2, "compressed": 2}"#,
                )
                .len() as u64
                    + 40,
            },
        ),
        metadata_fault(
            r#"{"dataSize": 0}"#,
            MetadataFault::MissingKey("virtualSize"),
        ),
        metadata_fault(
            r#"{"virtualSize": 0}"#,
            MetadataFault::MissingKey("dataSize"),
        ),
        metadata_fault(
            r#"{"virtualSize": 0, "virtual-size": 0, "dataSize": 0}"#,
            MetadataFault::DuplicateKey("virtualSize"),
        ),
        metadata_fault(
            r#"{"virtualSize": 0, "dataSize": 0, "streamVersion": 3}"#,
            MetadataFault::UnsupportedVersion(3),
        ),
        metadata_fault(
            r#"{"virtualSize": 0, "dataSize": 0, "stream-version": 1, "compressed": 2}"#,
            MetadataFault::CompressedBeforeVersion2,
        ),
        metadata_fault(
            r#"{"virtualSize": 0, "dataSize": 0, "streamVersion": 2, "compressed": true, "compressionMethod": "zstd"}"#,
            MetadataFault::UnsupportedCompression,
        ),
        metadata_fault(
            r#"{"virtualSize": 0, "dataSize": 0, "x": [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}"#,
            MetadataFault::TooDeep,
        ),
        metadata_fault(
            r#"{"virtualSize": "0", "dataSize": 0}"#,
            MetadataFault::Json,
        ),
        metadata_fault(r#"[1, 2]"#, MetadataFault::Json),
        metadata_fault("", MetadataFault::Json),
    ];
    let mut limited = bad(
        "metadata over the limit",
        [meta(PLAIN), stop()].concat(),
        vec![],
        DecodeError::MetadataTooLarge {
            len: PLAIN.len() as u64,
            max: 10,
            offset: 0,
        },
    );
    limited.limits = Limits::new().max_metadata(10);
    vectors.push(limited);
    let mut limited = bad(
        "data over the limit",
        [meta(PLAIN), data(0, 5, b"hello"), stop()].concat(),
        vec![plain_meta()],
        DecodeError::DataTooLarge {
            len: 5,
            max: 4,
            offset: m,
        },
    );
    limited.limits = Limits::new().max_data(4);
    vectors.push(limited);
    vectors
}

/// Every way of feeding `vector` gives its expected outcome.
fn check(vector: &Vector) {
    let Vector {
        name,
        stream,
        limits,
        expected,
        ..
    } = vector;
    assert_eq!(&push_whole(stream, *limits), expected, "{name}: whole");
    assert_eq!(&pull(stream, *limits), expected, "{name}: pull");
    assert_eq!(
        &push_bytewise(stream, *limits),
        expected,
        "{name}: byte by byte"
    );
    for cut in 0..=stream.len() {
        assert_eq!(
            &push_split(stream, &[cut], *limits),
            expected,
            "{name}: split at {cut}"
        );
    }
}

#[test]
fn good_streams_decode_however_they_are_fed() {
    for vector in good_vectors() {
        check(&vector);
    }
}

#[test]
fn every_check_is_a_typed_error_with_its_offset() {
    for vector in bad_vectors() {
        check(&vector);
    }
}

#[test]
fn every_proper_prefix_of_a_good_stream_is_truncated() {
    for vector in good_vectors() {
        for cut in 0..vector.stream.len() {
            let outcome = push_whole(&vector.stream[..cut], vector.limits);
            if vector.complete_at.contains(&cut) {
                assert_eq!(outcome.end, Ok(()), "{}: cut at {cut}", vector.name);
                continue;
            }
            assert!(
                matches!(outcome.end, Err(DecodeError::Truncated { offset, missing })
                    if offset == cut as u64 && missing > 0),
                "{}: cut at {cut}: {:?}",
                vector.name,
                outcome.end
            );
            assert_eq!(pull(&vector.stream[..cut], vector.limits), outcome);
        }
    }
}

#[test]
fn errors_display_in_lower_case() {
    for vector in bad_vectors() {
        let error = vector.expected.end.unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
    }
}

fn encode_plain() -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let mut encoder = Encoder::new();
    let fields = MetadataFields {
        date: "2024-01-01T00:00:00",
        ..MetadataFields::new(65536, 5, "vda", "virtnbdbackup.0")
    };
    let mut len = encoder.metadata(&fields, &mut out).unwrap();
    len += encoder.data(0xabc0, b"hello", &mut out[len..]).unwrap();
    len += encoder.zero(0, 0x1000, &mut out[len..]).unwrap();
    len += encoder.stop(&mut out[len..]).unwrap();
    encoder.finish().unwrap();
    out.truncate(len);
    out
}

#[test]
fn encoder_writes_the_golden_bytes() {
    let json = r#"{"virtualSize":65536,"dataSize":5,"date":"2024-01-01T00:00:00","diskName":"vda","diskFormat":"raw","checkpointName":"virtnbdbackup.0","compressed":false,"compressionMethod":"lz4","parentCheckpoint":false,"incremental":false,"streamVersion":2}"#;
    let expected = [
        meta(json),
        b"data 000000000000abc0 0000000000000005\r\nhello\r\n".to_vec(),
        zero(0, 0x1000),
        stop(),
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&encode_plain()),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn encoder_writes_trailers_as_virtnbdbackup_does() {
    let hello = hex(HELLO_LZ4);
    let abcd = hex(ABCD_LZ4);
    let mut out = vec![0u8; 2048];
    let mut encoder = Encoder::new();
    let fields = MetadataFields {
        compression: Some(Compression::Lz4 { level: Some(2) }),
        ..MetadataFields::new(64 << 20, 37 + (32 << 20), "vda", "cp")
    };
    let mut len = encoder.metadata(&fields, &mut out).unwrap();
    let body = len;
    len += encoder.begin_data(0, 37, &mut out[len..]).unwrap();
    len += encoder.lz4_frame(&hello, 5, &mut out[len..]).unwrap();
    len += encoder.lz4_frame(&abcd, 32, &mut out[len..]).unwrap();
    len += encoder.end_data(&mut out[len..]).unwrap();
    // A 32 MiB extent in one frame written by the caller: an object entry, which is how
    // virtnbdbackup's restore reads extents of its request size.
    len += encoder
        .begin_data(1 << 20, 32 << 20, &mut out[len..])
        .unwrap();
    encoder.advance_lz4_frame(1000, 32 << 20).unwrap();
    let after_big = len;
    len += encoder.end_data(&mut out[len..]).unwrap();
    len += encoder.stop(&mut out[len..]).unwrap();
    let trailer_at = len;
    len += encoder
        .trailer_entry(37, &[36, 45], &mut out[len..])
        .unwrap();
    len += encoder
        .trailer_entry(32 << 20, &[1000], &mut out[len..])
        .unwrap();
    len += encoder.end_trailer(&mut out[len..]).unwrap();
    encoder.finish().unwrap();
    let json = r#"[{"81": [36, 45]}, {"1000": [1000]}]"#;
    assert_eq!(&out[trailer_at..len], &trailer(json)[..]);
    assert_eq!(encoder.position(), (len + 1000) as u64);
    let _ = (body, after_big);

    // One frame under 32 MiB: an integer entry.
    let mut encoder = Encoder::new();
    let fields = MetadataFields {
        compression: Some(Compression::Lz4 { level: None }),
        ..MetadataFields::new(4096, 5, "vda", "cp")
    };
    let mut out = vec![0u8; 1024];
    let mut len = encoder.metadata(&fields, &mut out).unwrap();
    len += encoder.begin_data(0, 5, &mut out[len..]).unwrap();
    len += encoder.lz4_frame(&hello, 5, &mut out[len..]).unwrap();
    len += encoder.end_data(&mut out[len..]).unwrap();
    len += encoder.stop(&mut out[len..]).unwrap();
    len += encoder.trailer_entry(5, &[36], &mut out[len..]).unwrap();
    len += encoder.end_trailer(&mut out[len..]).unwrap();
    assert!(out[..len].ends_with(&trailer("[36]")));
    let outcome = push_whole(&out[..len], Limits::new());
    assert_eq!(outcome.end, Ok(()));
    assert!(matches!(outcome.events[0], Event::Metadata { metadata, .. }
        if metadata.compression == Some(Compression::Lz4 { level: None })));
}

#[test]
fn encoder_refuses_what_would_make_a_bad_stream() {
    let hello = hex(HELLO_LZ4);
    let mut out = vec![0u8; 1024];
    let mut encoder = Encoder::new();
    assert_eq!(
        encoder.zero(0, 1, &mut out),
        Err(EncodeError::UnexpectedFrame {
            kind: FrameKind::Zero
        })
    );
    assert_eq!(
        encoder.stop(&mut out),
        Err(EncodeError::UnexpectedFrame {
            kind: FrameKind::Stop
        })
    );
    let fields = MetadataFields::new(4096, 5, "vda", "cp");
    assert_eq!(
        encoder.metadata(&fields, &mut out[..41]),
        Err(EncodeError::InsufficientSize { required: 42 })
    );
    encoder.metadata(&fields, &mut out).unwrap();
    assert_eq!(
        encoder.metadata(&fields, &mut out),
        Err(EncodeError::UnexpectedFrame {
            kind: FrameKind::Meta
        })
    );
    assert_eq!(
        encoder.data(4092, b"hello", &mut out),
        Err(EncodeError::ExtentPastEnd {
            start: 4092,
            len: 5,
            virtual_size: 4096
        })
    );
    assert_eq!(
        encoder.zero(u64::MAX, 1, &mut out),
        Err(EncodeError::ExtentPastEnd {
            start: u64::MAX,
            len: 1,
            virtual_size: 4096
        })
    );
    // A failed whole-frame write leaves the encoder as it was.
    let before = encoder.clone();
    assert_eq!(
        encoder.data(0, b"hello", &mut out[..46]),
        Err(EncodeError::InsufficientSize { required: 47 })
    );
    assert_eq!(encoder, before);
    assert_eq!(
        encoder.lz4_frame(&hello, 5, &mut out),
        Err(EncodeError::CompressionMismatch { compressed: false })
    );
    encoder.begin_data(0, 5, &mut out).unwrap();
    assert_eq!(
        encoder.stop(&mut out),
        Err(EncodeError::UnexpectedFrame {
            kind: FrameKind::Stop
        })
    );
    assert_eq!(
        encoder.end_data(&mut out),
        Err(EncodeError::DataOwed { remaining: 5 })
    );
    assert_eq!(
        encoder.data_body(b"hello!", &mut out),
        Err(EncodeError::DataOverrun {
            len: 6,
            remaining: 5
        })
    );
    encoder.data_body(b"hello", &mut out).unwrap();
    encoder.end_data(&mut out).unwrap();
    encoder.data(10, b"x", &mut out).unwrap();
    assert_eq!(
        encoder.stop(&mut out),
        Err(EncodeError::DataSizeMismatch {
            declared: 5,
            actual: 6
        })
    );
    assert_eq!(encoder.finish(), Err(EncodeError::Incomplete));

    // Compressed: frames are checked, and so is the trailer.
    let mut encoder = Encoder::new();
    let fields = MetadataFields {
        compression: Some(Compression::Lz4 { level: Some(1) }),
        ..MetadataFields::new(4096, 5, "vda", "cp")
    };
    encoder.metadata(&fields, &mut out).unwrap();
    assert_eq!(
        encoder.data(0, b"hello", &mut out),
        Err(EncodeError::CompressionMismatch { compressed: true })
    );
    encoder.begin_data(0, 5, &mut out).unwrap();
    assert_eq!(
        encoder.end_data(&mut out),
        Err(EncodeError::DataOwed { remaining: 5 })
    );
    assert_eq!(
        encoder.lz4_frame(&hello, 4, &mut out),
        Err(EncodeError::ContentSizeMismatch {
            len: 4,
            declared: 5
        })
    );
    assert_eq!(
        encoder.lz4_frame(&hello[..20], 5, &mut out),
        Err(EncodeError::Lz4(Lz4Fault::Truncated { missing: 8 }))
    );
    assert_eq!(
        encoder.lz4_frame(&[hello.clone(), hello.clone()].concat(), 5, &mut out),
        Err(EncodeError::NotOneLz4Frame {
            frame_len: 36,
            given: 72
        })
    );
    assert_eq!(
        encoder.lz4_frame(b"hello", 5, &mut out),
        Err(EncodeError::Lz4(Lz4Fault::Magic {
            found: u32::from_le_bytes(*b"hell")
        }))
    );
    encoder.lz4_frame(&hello, 5, &mut out).unwrap();
    encoder.end_data(&mut out).unwrap();
    encoder.stop(&mut out).unwrap();
    assert_eq!(encoder.finish(), Err(EncodeError::Incomplete));
    let mut wrong = encoder.clone();
    wrong.trailer_entry(5, &[35], &mut out).unwrap();
    assert_eq!(
        wrong.end_trailer(&mut out),
        Err(EncodeError::TrailerMismatch)
    );
    let mut wrong_len = encoder.clone();
    wrong_len.trailer_entry(4, &[36], &mut out).unwrap();
    assert_eq!(
        wrong_len.end_trailer(&mut out),
        Err(EncodeError::TrailerMismatch)
    );
    assert_eq!(
        encoder.clone().end_trailer(&mut out),
        Err(EncodeError::TrailerMismatch)
    );
    encoder.trailer_entry(5, &[36], &mut out).unwrap();
    encoder.end_trailer(&mut out).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn metadata_fields_escape_names() {
    let fields = MetadataFields {
        parent_checkpoint: Some("a\"b"),
        ..MetadataFields::new(1, 0, "v\\da", "c\np")
    };
    let mut json = [0u8; 512];
    let len = fields.write_json(&mut json).unwrap();
    let text = std::str::from_utf8(&json[..len]).unwrap();
    assert!(text.contains(r#""diskName":"v\\da""#), "{text}");
    assert!(text.contains(r#""parentCheckpoint":"a\"b""#), "{text}");
    assert_eq!(Metadata::parse(&json[..len]).unwrap().virtual_size, 1);
}
