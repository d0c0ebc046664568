//! Golden byte vectors for every edge case of splitdirfdstream, decoded whole, at every
//! split point and byte by byte, by the push decoder, the pull iterator and a reference
//! model; and the encoder producing the same bytes and refusing what the reference reader
//! would refuse.

// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::dir::{model, pull, push, push_bytewise, push_whole, Event, Outcome};
use common::split_at;
use splitfdstream::dir::{
    check_name, Chunk, ChunkKind, Chunks, DecodeError, Decoder, EncodeError, Encoder, Limits,
    NameError, Status, Step, MAX_CHUNK_BODY, MAX_NAME_LEN, MAX_NEED,
};
use splitfdstream::InlineFragment;

/// Bytes from space-separated hex pairs, so vectors read like a hex dump.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

const METADATA_TAR: &str = "00 03 00 00 00 74 61 72";
const EMPTY_INLINE: &str = "01 00 00 00 00";
const FILE_A_B: &str = "02 05 00 00 00 00 00 00 00 01 00 00 00 03 00 00 00 61 2f 62";

fn metadata(body: &[u8]) -> Vec<u8> {
    [
        &[0][..],
        &u32::try_from(body.len()).unwrap().to_le_bytes(),
        body,
    ]
    .concat()
}

fn inline_data(body: &[u8]) -> Vec<u8> {
    [
        &[1][..],
        &u32::try_from(body.len()).unwrap().to_le_bytes(),
        body,
    ]
    .concat()
}

fn file(content_len: u64, dir_index: u32, name: &[u8]) -> Vec<u8> {
    file_declaring(
        content_len,
        dir_index,
        u32::try_from(name.len()).unwrap(),
        name,
    )
}

/// A FileBackedData chunk whose name length field says `name_len`, whatever follows.
fn file_declaring(content_len: u64, dir_index: u32, name_len: u32, name: &[u8]) -> Vec<u8> {
    [
        &[2][..],
        &content_len.to_le_bytes(),
        &dir_index.to_le_bytes(),
        &name_len.to_le_bytes(),
        name,
    ]
    .concat()
}

fn file_event(content_len: u64, dir_index: u32, name: &[u8]) -> Event {
    Event::FileBacked {
        content_len,
        dir_index,
        name: name.to_vec(),
    }
}

fn md(body: &[u8]) -> Event {
    Event::Metadata(body.to_vec())
}

fn inl(body: &[u8]) -> Event {
    Event::InlineData(body.to_vec())
}

fn truncated(missing: u64, offset: u64) -> Result<(), DecodeError> {
    Err(DecodeError::Truncated { missing, offset })
}

fn bad_name(error: NameError, offset: u64) -> Result<(), DecodeError> {
    Err(DecodeError::Name { error, offset })
}

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

fn long_name(len: usize) -> Vec<u8> {
    (0..len)
        .map(|at| {
            if at % 10 == 9 {
                b'/'
            } else {
                b'a' + u8::try_from(at % 26).unwrap()
            }
        })
        .collect()
}

fn vectors() -> Vec<Vector> {
    let tar = hex(METADATA_TAR);
    let empty = hex(EMPTY_INLINE);
    let a_b = hex(FILE_A_B);
    let name_4096 = long_name(MAX_NAME_LEN);
    let mut all = vec![
        vector("empty input is an empty stream", vec![], vec![], Ok(())),
        vector("metadata tar", tar.clone(), vec![md(b"tar")], Ok(())),
        vector(
            "empty inline data is an empty file",
            empty.clone(),
            vec![inl(b"")],
            Ok(()),
        ),
        vector(
            "empty metadata is read, though never written",
            metadata(b""),
            vec![md(b"")],
            Ok(()),
        ),
        vector(
            "file a/b",
            a_b.clone(),
            vec![file_event(5, 1, b"a/b")],
            Ok(()),
        ),
        vector(
            "a tar-like sequence",
            [&tar[..], &empty, &a_b, &inline_data(b"hello"), &tar, &empty].concat(),
            vec![
                md(b"tar"),
                inl(b""),
                file_event(5, 1, b"a/b"),
                inl(b"hello"),
                md(b"tar"),
                inl(b""),
            ],
            Ok(()),
        ),
        vector(
            "the same file referenced twice",
            [&a_b[..], &a_b].concat(),
            vec![file_event(5, 1, b"a/b"), file_event(5, 1, b"a/b")],
            Ok(()),
        ),
        vector(
            "an empty file by reference",
            file(0, 0, b"empty"),
            vec![file_event(0, 0, b"empty")],
            Ok(()),
        ),
        vector(
            "content_len above 4 GiB",
            file(5 << 30, 2, b"big"),
            vec![file_event(5 << 30, 2, b"big")],
            Ok(()),
        ),
        vector(
            "content_len u64::MAX",
            file(u64::MAX, 0, b"x"),
            vec![file_event(u64::MAX, 0, b"x")],
            Ok(()),
        ),
        vector(
            "directory index u32::MAX",
            file(1, u32::MAX, b"x"),
            vec![file_event(1, u32::MAX, b"x")],
            Ok(()),
        ),
        vector(
            "a name of 4096 bytes",
            file(7, 0, &name_4096),
            vec![file_event(7, 0, &name_4096)],
            Ok(()),
        ),
        vector(
            "names with spaces, newlines and UTF-8",
            [
                &file(1, 0, b"with space/a b")[..],
                &file(2, 1, b"new\nline")[..],
                &file(3, 2, "caf\u{e9}/\u{65e5}\u{672c}".as_bytes())[..],
                &file(4, 3, &[0xff, 0xfe, b'/', 0x80])[..],
            ]
            .concat(),
            vec![
                file_event(1, 0, b"with space/a b"),
                file_event(2, 1, b"new\nline"),
                file_event(3, 2, "caf\u{e9}/\u{65e5}\u{672c}".as_bytes()),
                file_event(4, 3, &[0xff, 0xfe, b'/', 0x80]),
            ],
            Ok(()),
        ),
        vector(
            "dots that are not parent components, and empty components",
            [
                &file(1, 0, b".")[..],
                &file(1, 0, b"./a")[..],
                &file(1, 0, b"...")[..],
                &file(1, 0, b"..a/b..")[..],
                &file(1, 0, b"a//b/")[..],
            ]
            .concat(),
            vec![
                file_event(1, 0, b"."),
                file_event(1, 0, b"./a"),
                file_event(1, 0, b"..."),
                file_event(1, 0, b"..a/b.."),
                file_event(1, 0, b"a//b/"),
            ],
            Ok(()),
        ),
        // Unknown type bytes, reported at the byte.
        vector(
            "type byte 3",
            hex("03"),
            vec![],
            Err(DecodeError::UnknownType { byte: 3, offset: 0 }),
        ),
        vector(
            "type byte 0xff after a chunk",
            [&tar[..], &[0xff, 0, 0, 0, 0]].concat(),
            vec![md(b"tar")],
            Err(DecodeError::UnknownType {
                byte: 0xff,
                offset: 8,
            }),
        ),
        // Name rules.
        vector(
            "an empty name",
            file(1, 0, b""),
            vec![],
            bad_name(NameError::Empty, 0),
        ),
        vector(
            "a name of 4097 bytes is refused at its header",
            file_declaring(1, 0, 4097, b""),
            vec![],
            bad_name(
                NameError::TooLong {
                    len: 4097,
                    max: 4096,
                },
                0,
            ),
        ),
        vector(
            "a name length of u32::MAX is refused at its header",
            [&tar[..], &file_declaring(1, 0, u32::MAX, b"abc")].concat(),
            vec![md(b"tar")],
            bad_name(
                NameError::TooLong {
                    len: u32::MAX.into(),
                    max: 4096,
                },
                8,
            ),
        ),
        vector(
            "a NUL in a name",
            [&a_b[..], &file(1, 0, b"a\0b")].concat(),
            vec![file_event(5, 1, b"a/b")],
            bad_name(NameError::Nul { at: 1 }, 20),
        ),
        vector(
            "a NUL in the second word of a name",
            file(1, 0, b"0123456789\0"),
            vec![],
            bad_name(NameError::Nul { at: 10 }, 0),
        ),
        vector(
            "an absolute name",
            file(1, 0, b"/etc/passwd"),
            vec![],
            bad_name(NameError::Absolute, 0),
        ),
        vector(
            "a NUL is reported before absoluteness",
            file(1, 0, b"/a\0"),
            vec![],
            bad_name(NameError::Nul { at: 2 }, 0),
        ),
        vector(
            "a name that is ..",
            file(1, 0, b".."),
            vec![],
            bad_name(NameError::ParentComponent { at: 0 }, 0),
        ),
        vector(
            "a leading .. component",
            file(1, 0, b"../x"),
            vec![],
            bad_name(NameError::ParentComponent { at: 0 }, 0),
        ),
        vector(
            "a middle .. component past the first word",
            file(1, 0, b"abcdefgh/ij/../k"),
            vec![],
            bad_name(NameError::ParentComponent { at: 12 }, 0),
        ),
        vector(
            "a trailing .. component",
            file(1, 0, b"a/.."),
            vec![],
            bad_name(NameError::ParentComponent { at: 2 }, 0),
        ),
        // Truncation: a clean end only before a type byte.
        vector(
            "metadata header without its body",
            tar[..5].to_vec(),
            vec![],
            truncated(3, 0),
        ),
        vector(
            "short metadata body",
            tar[..7].to_vec(),
            vec![],
            truncated(1, 0),
        ),
        vector(
            "short body after a whole chunk",
            [&a_b[..], &inline_data(b"hello")[..7]].concat(),
            vec![file_event(5, 1, b"a/b")],
            truncated(3, 20),
        ),
        vector(
            "file header without its name",
            a_b[..17].to_vec(),
            vec![],
            truncated(3, 0),
        ),
        vector(
            "short name",
            [&tar[..], &a_b[..19]].concat(),
            vec![md(b"tar")],
            truncated(1, 8),
        ),
        vector(
            "a 4096-byte name cut short",
            file(7, 0, &name_4096)[..17 + 4000].to_vec(),
            vec![],
            truncated(96, 0),
        ),
        vector(
            "a body of u32::MAX declared",
            hex("01 ff ff ff ff 61 62"),
            vec![],
            truncated(u64::from(u32::MAX) - 2, 0),
        ),
        // Limits: checked at the header, before any body or name byte, with its offset.
        limited(
            "max_inline below the body",
            tar.clone(),
            Limits::new().max_inline(2),
            vec![],
            Err(DecodeError::InlineTooLarge {
                len: 3,
                max: 2,
                offset: 0,
            }),
        ),
        limited(
            "max_inline equal to the body",
            tar.clone(),
            Limits::new().max_inline(3),
            vec![md(b"tar")],
            Ok(()),
        ),
        limited(
            "max_inline applies to inline data, before the body arrives",
            [&empty[..], &inline_data(b"hello")[..5]].concat(),
            Limits::new().max_inline(4),
            vec![inl(b"")],
            Err(DecodeError::InlineTooLarge {
                len: 5,
                max: 4,
                offset: 5,
            }),
        ),
        limited(
            "the reference's limits refuse a body of 256 MiB + 1 at its header",
            [
                &[1][..],
                &u32::try_from(MAX_CHUNK_BODY + 1).unwrap().to_le_bytes(),
            ]
            .concat(),
            Limits::reference(),
            vec![],
            Err(DecodeError::InlineTooLarge {
                len: MAX_CHUNK_BODY + 1,
                max: MAX_CHUNK_BODY,
                offset: 0,
            }),
        ),
        limited(
            "the reference's limits take a body of 256 MiB",
            [
                &[0][..],
                &u32::try_from(MAX_CHUNK_BODY).unwrap().to_le_bytes(),
            ]
            .concat(),
            Limits::reference(),
            vec![],
            truncated(MAX_CHUNK_BODY, 0),
        ),
        limited(
            "max_index below the index, after a chunk",
            [&tar[..], &a_b].concat(),
            Limits::new().max_index(0),
            vec![md(b"tar")],
            Err(DecodeError::IndexTooLarge {
                index: 1,
                max: 0,
                offset: 8,
            }),
        ),
        limited(
            "max_index is checked before the name is there",
            a_b[..17].to_vec(),
            Limits::new().max_index(0),
            vec![],
            Err(DecodeError::IndexTooLarge {
                index: 1,
                max: 0,
                offset: 0,
            }),
        ),
        limited(
            "max_index equal to the index",
            a_b.clone(),
            Limits::new().max_index(1),
            vec![file_event(5, 1, b"a/b")],
            Ok(()),
        ),
        limited(
            "max_name below the name, before the name is there",
            a_b[..17].to_vec(),
            Limits::new().max_name(2),
            vec![],
            bad_name(NameError::TooLong { len: 3, max: 2 }, 0),
        ),
        limited(
            "max_name equal to the name",
            a_b.clone(),
            Limits::new().max_name(3),
            vec![file_event(5, 1, b"a/b")],
            Ok(()),
        ),
        limited(
            "max_name above the format's maximum keeps the maximum",
            file_declaring(1, 0, 4097, b""),
            Limits::new().max_name(1 << 20),
            vec![],
            bad_name(
                NameError::TooLong {
                    len: 4097,
                    max: 4096,
                },
                0,
            ),
        ),
        limited(
            "limits on bodies do not apply to file lengths",
            file(5 << 30, 0, b"x"),
            Limits::reference().max_inline(0),
            vec![file_event(5 << 30, 0, b"x")],
            Ok(()),
        ),
    ];
    for partial in 1..5 {
        let missing = u64::try_from(5 - partial).unwrap();
        all.push(vector(
            &format!("partial body header of {partial} bytes after a chunk"),
            [&a_b[..], &tar[..partial]].concat(),
            vec![file_event(5, 1, b"a/b")],
            truncated(missing, 20),
        ));
    }
    for partial in 1..17 {
        let missing = u64::try_from(17 - partial).unwrap();
        all.push(vector(
            &format!("partial file header of {partial} bytes"),
            a_b[..partial].to_vec(),
            vec![],
            truncated(missing, 0),
        ));
    }
    all
}

/// Vectors short enough to try every pair of split points.
fn short(v: &Vector) -> bool {
    v.stream.len() <= 128
}

#[test]
fn golden_bytes_match_the_format_notes() {
    assert_eq!(hex(METADATA_TAR), metadata(b"tar"));
    assert_eq!(hex(EMPTY_INLINE), inline_data(b""));
    assert_eq!(hex(FILE_A_B), file(5, 1, b"a/b"));
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
        assert_eq!(push_bytewise(&v.stream, v.limits), v.expected, "{}", v.name);
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
    for v in vectors().into_iter().filter(short) {
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
fn a_name_not_wholly_in_the_input_consumes_nothing() {
    let stream = [&hex(METADATA_TAR)[..], &hex(FILE_A_B)].concat();
    let mut decoder = Decoder::new();
    let step = decoder.decode(&stream[..27]).unwrap();
    assert_eq!(step.consumed, 8);
    // Header whole, name cut: nothing consumed, the whole chunk asked for.
    let need = Step {
        consumed: 0,
        status: Status::NeedMore { at_least: 20 },
    };
    assert_eq!(decoder.decode(&stream[8..27]), Ok(need));
    assert_eq!(
        decoder.decode(&stream[8..10]),
        Ok(Step {
            consumed: 2,
            status: Status::Partial,
        })
    );
    // Two header bytes are now held inside; the rest of the header and the name must come
    // in one piece.
    assert_eq!(
        decoder.decode(&stream[10..20]),
        Ok(Step {
            consumed: 10,
            status: Status::Partial,
        })
    );
    assert_eq!(
        decoder.decode(&stream[20..27]),
        Ok(Step {
            consumed: 0,
            status: Status::NeedMore { at_least: 8 },
        })
    );
    assert!(!decoder.is_at_boundary());
    assert_eq!(decoder.position(), 20);
    let step = decoder.decode(&stream[20..]).unwrap();
    assert_eq!(step.consumed, 8);
    let Some(Chunk::FileBackedData(file)) = step.chunk() else {
        panic!("{step:?}")
    };
    assert!(
        core::ptr::eq(file.name, &stream[25..28]),
        "borrowed, not copied"
    );
    assert_eq!((file.content_len, file.dir_index), (5, 1));
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn finish_after_need_more_is_truncation() {
    let stream = hex(FILE_A_B);
    let mut decoder = Decoder::new();
    let step = decoder.decode(&stream[..18]).unwrap();
    assert_eq!(step.status, Status::NeedMore { at_least: 20 });
    assert_eq!(decoder.finish(), truncated(2, 0));
    // With header bytes held inside, the offset is still the chunk's.
    let stream = [&hex(EMPTY_INLINE)[..], &hex(FILE_A_B)].concat();
    let mut decoder = Decoder::new();
    assert_eq!(decoder.decode(&stream[..9]).unwrap().consumed, 5);
    assert_eq!(decoder.decode(&stream[5..9]).unwrap().consumed, 4);
    let step = decoder.decode(&stream[9..23]).unwrap();
    assert_eq!(step.status, Status::NeedMore { at_least: 16 });
    assert_eq!(decoder.finish(), truncated(2, 5));
}

/// A reader with a fixed buffer of `capacity` bytes that compacts and refills, as an
/// adapter would; returns the names it saw, or the error.
fn through_fixed_buffer(
    stream: &[u8],
    capacity: usize,
    limits: Limits,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    let mut decoder = Decoder::with_limits(limits);
    let mut buffer = vec![0u8; capacity];
    let (mut start, mut end, mut read) = (0, 0, 0);
    let mut names = Vec::new();
    loop {
        if start == end || read < stream.len() && end < capacity {
            // Compact and refill.
            buffer.copy_within(start..end, 0);
            end -= start;
            start = 0;
            let take = (capacity - end).min(stream.len() - read);
            buffer[end..end + take].copy_from_slice(&stream[read..read + take]);
            end += take;
            read += take;
        }
        if start == end {
            decoder.finish()?;
            return Ok(names);
        }
        let step = decoder.decode(&buffer[start..end])?;
        start += step.consumed;
        match step.status {
            Status::Chunk(Chunk::FileBackedData(file)) => names.push(file.name.to_vec()),
            Status::NeedMore { at_least } => {
                assert!(at_least <= capacity, "the decoder asked for more than fits");
                if read == stream.len() {
                    decoder.finish()?;
                    unreachable!("finish after NeedMore at the end must fail");
                }
                // Compact so that the next refill makes room.
                buffer.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            _ => {}
        }
    }
}

#[test]
fn a_buffer_of_max_need_bytes_always_suffices() {
    assert_eq!(MAX_NEED, 4096 + 17);
    let names: Vec<Vec<u8>> = (1..=MAX_NAME_LEN)
        .step_by(511)
        .chain([MAX_NAME_LEN])
        .map(long_name)
        .collect();
    let mut stream = Vec::new();
    for (at, name) in names.iter().enumerate() {
        stream.extend_from_slice(&metadata(&vec![0x5a; at * 7]));
        stream.extend_from_slice(&file(1, 0, name));
    }
    for capacity in [MAX_NEED, MAX_NEED + 1, MAX_NEED + 1000] {
        assert_eq!(
            through_fixed_buffer(&stream, capacity, Limits::new()),
            Ok(names.clone())
        );
    }
}

#[test]
fn a_small_buffer_with_a_name_cap_gets_an_error_not_a_loop() {
    let stream = [&hex(METADATA_TAR)[..], &file(1, 0, &long_name(300))].concat();
    // A 64-byte buffer: the decoder would need 317 bytes in one piece.
    let limits = Limits::new().max_name(64 - 17);
    assert_eq!(
        through_fixed_buffer(&stream, 64, limits),
        Err(DecodeError::Name {
            error: NameError::TooLong { len: 300, max: 47 },
            offset: 8,
        })
    );
    // Names that fit go through.
    let stream = file(1, 0, &long_name(47));
    assert_eq!(
        through_fixed_buffer(&stream, 64, limits),
        Ok(vec![long_name(47)])
    );
}

#[test]
fn bodies_stream_through_fragments_of_any_size() {
    let mut decoder = Decoder::new();
    let header = hex("00 ff ff ff ff");
    assert_eq!(
        decoder.decode(&header),
        Ok(Step {
            consumed: 5,
            status: Status::Partial
        })
    );
    assert_eq!(decoder.inline_remaining(), u64::from(u32::MAX));
    let piece = vec![0x5a; 1 << 20];
    for round in 0..4u64 {
        let step = decoder.decode(&piece).unwrap();
        let Some(Chunk::Metadata(fragment)) = step.chunk() else {
            panic!("{step:?}")
        };
        assert!(
            core::ptr::eq(fragment.data, &piece[..]),
            "borrowed, not copied"
        );
        assert_eq!(fragment.offset, round << 20);
        assert_eq!(fragment.chunk_len(), u64::from(u32::MAX));
    }
    assert_eq!(
        decoder.finish(),
        truncated(u64::from(u32::MAX) - (4 << 20), 0)
    );
}

#[test]
fn an_empty_body_is_one_empty_fragment_at_its_place() {
    let stream = [&hex(EMPTY_INLINE)[..], &hex(METADATA_TAR)].concat();
    let mut decoder = Decoder::new();
    let step = decoder.decode(&stream).unwrap();
    assert_eq!(step.consumed, 5, "stops after one event");
    let expected = InlineFragment {
        data: &stream[5..5],
        offset: 0,
        remaining: 0,
    };
    assert_eq!(step.status, Status::Chunk(Chunk::InlineData(expected)));
    assert!(decoder.is_at_boundary());
    assert_eq!(step.chunk().map(|c| c.kind()), Some(ChunkKind::InlineData));
}

#[test]
fn a_failed_decoder_stays_failed_until_reset() {
    let limits = Limits::new().max_index(0);
    let mut decoder = Decoder::with_limits(limits);
    let error = DecodeError::IndexTooLarge {
        index: 1,
        max: 0,
        offset: 0,
    };
    assert_eq!(decoder.decode(&hex(FILE_A_B)), Err(error));
    assert_eq!(decoder.decode(&hex(METADATA_TAR)), Err(error));
    assert_eq!(decoder.decode(&[]), Err(error));
    assert_eq!(decoder.finish(), Err(error));
    decoder.reset();
    assert_eq!(decoder.limits(), limits);
    assert_eq!(decoder.position(), 0);
    assert_eq!(decoder.decode(&hex(METADATA_TAR)).unwrap().consumed, 8);
    assert_eq!(
        decoder.decode(&[9]),
        Err(DecodeError::UnknownType { byte: 9, offset: 8 })
    );
}

#[test]
fn chunks_reports_its_position_and_remainder() {
    let stream = [&hex(METADATA_TAR)[..], &hex(FILE_A_B)[..18]].concat();
    let mut chunks = Chunks::new(&stream);
    assert!(matches!(chunks.next(), Some(Ok(Chunk::Metadata(_)))));
    assert_eq!(chunks.position(), 8);
    assert_eq!(chunks.remainder(), &stream[8..]);
    assert_eq!(
        chunks.next(),
        Some(Err(DecodeError::Truncated {
            missing: 2,
            offset: 8
        }))
    );
    assert_eq!(chunks.position(), 8);
    assert!(chunks.remainder().is_empty());
    assert_eq!(chunks.next(), None);
}

#[test]
fn check_name_agrees_with_the_rules() {
    let cases: [(&[u8], Result<(), NameError>); 14] = [
        (b"a", Ok(())),
        (b"objects/ab/cdef0123456789", Ok(())),
        (b".", Ok(())),
        (b"...", Ok(())),
        (b"a/.../b", Ok(())),
        (b".hidden/..x", Ok(())),
        (b"", Err(NameError::Empty)),
        (b"/", Err(NameError::Absolute)),
        (b"..", Err(NameError::ParentComponent { at: 0 })),
        (
            b"a/b/c/d/e/f/..",
            Err(NameError::ParentComponent { at: 12 }),
        ),
        (
            b"abcdefghijklmno/../",
            Err(NameError::ParentComponent { at: 16 }),
        ),
        (b"abcdefghijklmnop\0", Err(NameError::Nul { at: 16 })),
        (b"../\0", Err(NameError::Nul { at: 3 })),
        (b"/..", Err(NameError::Absolute)),
    ];
    for (name, expected) in cases {
        assert_eq!(
            check_name(name),
            expected,
            "{:?}",
            String::from_utf8_lossy(name)
        );
        assert_eq!(common::dir::model_check_name(name), expected);
    }
    assert_eq!(check_name(&long_name(4096)), Ok(()));
    assert_eq!(
        check_name(&long_name(4097)),
        Err(NameError::TooLong {
            len: 4097,
            max: 4096
        })
    );
}

#[test]
fn encoder_produces_the_golden_stream() {
    let golden = [
        &hex(METADATA_TAR)[..],
        &hex(EMPTY_INLINE),
        &hex(FILE_A_B),
        &inline_data(b"hello"),
    ]
    .concat();
    let mut out = vec![0u8; golden.len()];
    let mut encoder = Encoder::new();
    let mut len = 0;
    len += encoder.metadata(b"tar", &mut out[len..]).unwrap();
    assert_eq!(encoder.metadata(b"", &mut out[len..]), Ok(0));
    assert_eq!(encoder.begin_metadata(0, &mut out[len..]), Ok(0));
    len += encoder.begin_inline_data(0, &mut out[len..]).unwrap();
    assert_eq!(encoder.owed(), 0);
    len += encoder.file_backed(1, 5, b"a/b", &mut out[len..]).unwrap();
    len += encoder.begin_inline_data(5, &mut out[len..]).unwrap();
    len += encoder.body(b"he", &mut out[len..]).unwrap();
    out[len..len + 3].copy_from_slice(b"llo");
    encoder.advance_body(3).unwrap();
    len += 3;
    encoder.finish().unwrap();
    assert_eq!(len, golden.len());
    assert_eq!(out, golden);
    assert_eq!(encoder.position(), u64::try_from(golden.len()).unwrap());
}

#[test]
fn encoder_splits_bodies_above_256_mib() {
    // A 600 MiB body the caller writes itself: only headers go through the encoder.
    let total = 600 << 20;
    let mut encoder = Encoder::new();
    assert_eq!(encoder.split(), MAX_CHUNK_BODY);
    let mut header = [0u8; 5];
    assert_eq!(encoder.begin_inline_data(total, &mut header), Ok(5));
    let mut headers = vec![header];
    while encoder.owed() > 0 {
        if encoder.body_header(&mut header).unwrap() == 5 {
            headers.push(header);
        }
        // A sink writing 100 MiB at most per call.
        let piece = encoder.room().min(100 << 20);
        encoder.advance_body(piece).unwrap();
    }
    encoder.finish().unwrap();
    let lens: Vec<u64> = headers
        .iter()
        .map(|h| {
            assert_eq!(h[0], 1, "every piece is InlineData");
            u64::from(u32::from_le_bytes([h[1], h[2], h[3], h[4]]))
        })
        .collect();
    assert_eq!(
        lens,
        [MAX_CHUNK_BODY, MAX_CHUNK_BODY, total - 2 * MAX_CHUNK_BODY]
    );
    assert_eq!(encoder.position(), total + 15);

    // Exactly 256 MiB stays one chunk.
    let mut encoder = Encoder::new();
    encoder.begin_metadata(MAX_CHUNK_BODY, &mut header).unwrap();
    encoder.advance_body(MAX_CHUNK_BODY).unwrap();
    assert_eq!(encoder.body_header(&mut header), Ok(0));
    assert_eq!(encoder.finish(), Ok(()));
}

#[test]
fn encoder_body_writes_the_split_headers_itself() {
    let mut encoder = Encoder::with_split(4);
    let mut out = [0u8; 64];
    let mut len = encoder.begin_metadata(10, &mut out).unwrap();
    len += encoder.body(b"abcdefg", &mut out[len..]).unwrap();
    len += encoder.body(b"hij", &mut out[len..]).unwrap();
    encoder.finish().unwrap();
    let expected = [metadata(b"abcd"), metadata(b"efgh"), metadata(b"ij")].concat();
    assert_eq!(&out[..len], expected);
    let mut encoder = Encoder::with_split(4);
    let len = encoder.inline_data(b"abcdefgh", &mut out).unwrap();
    assert_eq!(
        &out[..len],
        [inline_data(b"abcd"), inline_data(b"efgh")].concat()
    );
    // The split is taken between 1 and 256 MiB.
    assert_eq!(Encoder::with_split(0).split(), 1);
    assert_eq!(Encoder::with_split(u64::MAX).split(), MAX_CHUNK_BODY);
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
fn encoder_refuses_names_that_break_the_rules() {
    let fresh = Encoder::new();
    let long = long_name(4097);
    let cases: [(&[u8], NameError); 6] = [
        (b"", NameError::Empty),
        (
            &long,
            NameError::TooLong {
                len: 4097,
                max: 4096,
            },
        ),
        (b"a\0", NameError::Nul { at: 1 }),
        (b"/a", NameError::Absolute),
        (b"a/../b", NameError::ParentComponent { at: 2 }),
        (b"..", NameError::ParentComponent { at: 0 }),
    ];
    for (name, error) in cases {
        refused(&fresh, 8192, EncodeError::Name(error), |e, out| {
            e.file_backed(0, 1, name, out)
        });
    }
    let mut encoder = Encoder::new();
    let mut out = vec![0u8; MAX_NEED];
    assert_eq!(
        encoder.file_backed(0, 1, &long_name(4096), &mut out),
        Ok(MAX_NEED)
    );
}

#[test]
fn encoder_insufficient_size_leaves_everything_untouched() {
    let fresh = Encoder::new();
    let short = |required| EncodeError::InsufficientSize { required };
    refused(&fresh, 4, short(5), |e, out| e.begin_inline_data(0, out));
    refused(&fresh, 4, short(5), |e, out| e.begin_metadata(3, out));
    refused(&fresh, 7, short(8), |e, out| e.metadata(b"tar", out));
    refused(&fresh, 4, short(5), |e, out| e.inline_data(b"", out));
    refused(&fresh, 19, short(20), |e, out| {
        e.file_backed(1, 5, b"a/b", out)
    });
    let split = Encoder::with_split(4);
    refused(&split, 24, short(25), |e, out| {
        e.inline_data(b"0123456789", out)
    });

    let mut open = Encoder::with_split(4);
    open.begin_inline_data(10, &mut [0; 5]).unwrap();
    refused(&open, 9, short(10), |e, out| e.body(b"abcd5", out));
    open.advance_body(4).unwrap();
    refused(&open, 4, short(5), |e, out| e.body_header(out));
}

#[test]
fn encoder_refuses_new_chunks_while_body_bytes_are_owed() {
    let mut encoder = Encoder::new();
    encoder.begin_metadata(5, &mut [0; 5]).unwrap();
    encoder.body(b"he", &mut [0; 2]).unwrap();
    let owed = EncodeError::InlineOwed { remaining: 3 };
    refused(&encoder, 64, owed, |e, out| e.file_backed(0, 1, b"a", out));
    refused(&encoder, 64, owed, |e, out| e.metadata(b"x", out));
    refused(&encoder, 64, owed, |e, out| e.metadata(b"", out));
    refused(&encoder, 64, owed, |e, out| e.inline_data(b"", out));
    refused(&encoder, 64, owed, |e, out| e.begin_inline_data(0, out));
    refused(&encoder, 64, owed, |e, out| e.begin_metadata(0, out));
    assert_eq!(encoder.finish(), Err(owed));
    encoder.advance_body(3).unwrap();
    assert_eq!(encoder.finish(), Ok(()));
}

#[test]
fn encoder_refuses_body_bytes_beyond_the_declared_length_or_the_room() {
    let fresh = Encoder::new();
    let overrun = EncodeError::InlineOverrun {
        len: 1,
        remaining: 0,
    };
    refused(&fresh, 64, overrun, |e, out| e.body(b"x", out));
    let mut encoder = Encoder::with_split(2);
    encoder.begin_inline_data(3, &mut [0; 5]).unwrap();
    let overrun = EncodeError::InlineOverrun {
        len: 4,
        remaining: 3,
    };
    refused(&encoder, 64, overrun, |e, out| e.body(b"abcd", out));
    let mut after = encoder.clone();
    assert_eq!(after.advance_body(4), Err(overrun));
    assert_eq!(
        after.advance_body(3),
        Err(EncodeError::HeaderDue { len: 3, room: 2 })
    );
    assert_eq!(after, encoder);
    // With the header written, the rest fits.
    encoder.advance_body(2).unwrap();
    assert_eq!(encoder.room(), 0);
    assert_eq!(
        encoder.advance_body(1),
        Err(EncodeError::HeaderDue { len: 1, room: 0 })
    );
    assert_eq!(encoder.body_header(&mut [0; 5]), Ok(5));
    encoder.advance_body(1).unwrap();
    assert_eq!(encoder.finish(), Ok(()));
}

#[test]
fn errors_display_lowercase_with_their_numbers() {
    let messages = [
        DecodeError::UnknownType {
            byte: 7,
            offset: 13,
        }
        .to_string(),
        DecodeError::Truncated {
            missing: 5,
            offset: 13,
        }
        .to_string(),
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
        DecodeError::Name {
            error: NameError::ParentComponent { at: 2 },
            offset: 13,
        }
        .to_string(),
        EncodeError::Name(NameError::Nul { at: 3 }).to_string(),
        EncodeError::HeaderDue { len: 9, room: 4 }.to_string(),
        EncodeError::InlineOverrun {
            len: 9,
            remaining: 4,
        }
        .to_string(),
        NameError::TooLong {
            len: 4097,
            max: 4096,
        }
        .to_string(),
    ];
    for message in &messages {
        assert!(message.starts_with(char::is_lowercase), "{message}");
        assert!(
            message.contains("13") || !message.contains("offset"),
            "{message}"
        );
    }
    assert!(messages[0].contains("0x07"));
    assert!(messages[4].contains("`..`") && messages[4].contains('2'));
    assert!(messages[5].contains('3'));
    assert!(messages[8].contains("4097") && messages[8].contains("4096"));
    let name_error = DecodeError::Name {
        error: NameError::Absolute,
        offset: 0,
    };
    let source = core::error::Error::source(&name_error).unwrap();
    assert_eq!(source.to_string(), NameError::Absolute.to_string());
}
