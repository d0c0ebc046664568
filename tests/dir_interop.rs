//! Interoperability with the published reference implementation of splitdirfdstream,
//! `composefs-splitdirfdstream` 0.9.4, at the codec level: what our encoder writes its
//! reader reads chunk for chunk (and its `reconstruct` rebuilds byte for byte), what its
//! writer produces our decoders read chunk for chunk, both write the same bytes, and bad
//! input it refuses we refuse too. The deliberate differences are checked as such.

// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use common::dir::{model, pull, push, push_bytewise, push_whole, Event};
use common::split_at;
use composefs_splitdirfdstream as reference;
use proptest::prelude::*;
use splitfdstream::dir::{DecodeError, Encoder, Limits, MAX_CHUNK_BODY};

/// Reads a whole stream with the reference reader, or says why it refuses it. A
/// FileBackedData name its `validate_filename` refuses counts as refused: its reader leaves
/// names unchecked, and every consumer it offers (`open_beneath`, `reconstruct`) refuses
/// them before opening anything.
fn reference_read(stream: &[u8]) -> Result<Vec<Event>, String> {
    let mut reader = reference::SplitdirfdstreamReader::new(stream);
    let mut events = Vec::new();
    while let Some(chunk) = reader.next_chunk().map_err(|error| error.to_string())? {
        events.push(match chunk {
            reference::Chunk::Metadata(body) => Event::Metadata(body.to_vec()),
            reference::Chunk::InlineData(body) => Event::InlineData(body.to_vec()),
            reference::Chunk::FileBackedData {
                dirfd_index,
                length,
                filename,
            } => {
                reference::validate_filename(filename).map_err(|error| error.to_string())?;
                Event::FileBacked {
                    content_len: length,
                    dir_index: dirfd_index,
                    name: filename.to_vec(),
                }
            }
        });
    }
    Ok(events)
}

/// Writes `events` with the reference writer.
fn reference_write(events: &[Event]) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut writer = reference::SplitdirfdstreamWriter::new(&mut stream);
    for event in events {
        match event {
            Event::Metadata(body) => writer.write_metadata(body).unwrap(),
            Event::InlineData(body) => writer.write_inline_data(body).unwrap(),
            Event::FileBacked {
                content_len,
                dir_index,
                name,
            } => writer
                .write_file_backed_data(*dir_index, *content_len, name)
                .unwrap(),
        }
    }
    writer.finish().unwrap();
    stream
}

/// Writes `events` with our encoder.
fn our_write(events: &[Event]) -> Vec<u8> {
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    for event in events {
        let mut out = vec![0u8; event.wire_len().try_into().unwrap()];
        let written = match event {
            Event::Metadata(body) => encoder.metadata(body, &mut out).unwrap(),
            Event::InlineData(body) => encoder.inline_data(body, &mut out).unwrap(),
            Event::FileBacked {
                content_len,
                dir_index,
                name,
            } => encoder
                .file_backed(*dir_index, *content_len, name, &mut out)
                .unwrap(),
        };
        stream.extend_from_slice(&out[..written]);
    }
    encoder.finish().unwrap();
    stream
}

/// Our decoders on `stream`: pull, push whole, byte by byte and cut at `cuts`, which must
/// all agree; returns the events.
fn our_read(stream: &[u8], limits: Limits, cuts: &[usize]) -> Result<Vec<Event>, DecodeError> {
    let pulled = pull(stream, limits);
    assert_eq!(push_whole(stream, limits), pulled);
    assert_eq!(push(split_at(stream, cuts), limits), pulled);
    if stream.len() <= 1 << 16 {
        assert_eq!(push_bytewise(stream, limits), pulled);
    }
    assert_eq!(model(stream, limits), pulled);
    pulled.end.map(|()| pulled.events)
}

fn file(content_len: u64, dir_index: u32, name: &[u8]) -> Event {
    Event::FileBacked {
        content_len,
        dir_index,
        name: name.to_vec(),
    }
}

/// A name of exactly 4096 bytes, in components a file system could hold.
fn name_4096() -> Vec<u8> {
    let mut name: Vec<u8> = (0..4096)
        .map(|at| if at % 200 == 199 { b'/' } else { b'n' })
        .collect();
    name[4095] = b'z';
    name
}

/// Every edge case the issue names, as one stream's chunks.
fn edge_cases() -> Vec<Event> {
    vec![
        Event::Metadata(b"ustar header bytes".to_vec()),
        Event::InlineData(Vec::new()),
        Event::Metadata(vec![0; 512]),
        file(0, 0, b"empty-file"),
        file(5, 0, b"dir/with space/a b.txt"),
        file(6, 1, b"new\nline"),
        file(7, 2, "caf\u{e9}/\u{65e5}\u{672c}\u{8a9e}.txt".as_bytes()),
        file(8, 3, &[0xff, b'/', 0xc3, 0x28]),
        file(5 << 30, 1, b"sparse/above-4-GiB"),
        file(u64::MAX, 0, b"u64-max"),
        file(1, u32::MAX, b"the-last-directory"),
        file(9, 0, &name_4096()),
        file(10, 0, b"./dots/.../..a/b.."),
        Event::InlineData(b"inline content".to_vec()),
        Event::InlineData((0..=255).cycle().take(100_000).collect()),
        Event::InlineData(Vec::new()),
    ]
}

#[test]
fn the_edge_cases_travel_both_ways_chunk_for_chunk() {
    let events = edge_cases();
    let ours = our_write(&events);
    let theirs = reference_write(&events);
    assert_eq!(ours, theirs, "both write the same bytes");
    assert_eq!(reference_read(&ours), Ok(events.clone()));
    let cuts = [1, 17, 40, 600, 4000, 9000, ours.len() - 3];
    assert_eq!(our_read(&theirs, Limits::new(), &cuts), Ok(events.clone()));
    assert_eq!(our_read(&theirs, Limits::reference(), &cuts), Ok(events));
}

#[test]
fn each_edge_case_alone_travels_both_ways() {
    for event in edge_cases() {
        let events = vec![event];
        let theirs = reference_write(&events);
        assert_eq!(our_write(&events), theirs, "{events:?}");
        assert_eq!(reference_read(&theirs).as_ref(), Ok(&events));
        assert_eq!(our_read(&theirs, Limits::new(), &[3]), Ok(events));
    }
}

#[test]
fn empty_metadata_is_dropped_by_both_writers_and_read_by_both_readers() {
    let events = vec![Event::Metadata(Vec::new()), Event::InlineData(Vec::new())];
    let theirs = reference_write(&events);
    assert_eq!(theirs, [1, 0, 0, 0, 0]);
    assert_eq!(our_write(&events), theirs);
    // A hand-made empty Metadata chunk is read by both.
    let stream = [0, 0, 0, 0, 0];
    assert_eq!(
        reference_read(&stream),
        Ok(vec![Event::Metadata(Vec::new())])
    );
    assert_eq!(
        our_read(&stream, Limits::new(), &[]),
        Ok(vec![Event::Metadata(Vec::new())])
    );
}

#[test]
fn a_body_above_256_mib_is_split_where_the_reference_writer_refuses_it() {
    let len = usize::try_from(MAX_CHUNK_BODY).unwrap() + 1;
    let body = vec![0x5a; len];
    let mut sink = std::io::sink();
    let refused = reference::SplitdirfdstreamWriter::new(&mut sink).write_inline_data(&body);
    assert!(
        matches!(refused, Err(reference::Error::InlineTooLarge { .. })),
        "{refused:?}"
    );
    let mut stream = vec![0u8; len + 10];
    let written = Encoder::new().inline_data(&body, &mut stream).unwrap();
    assert_eq!(written, len + 10, "two chunks");
    let mut reader = reference::SplitdirfdstreamReader::new(&stream[..]);
    let Some(reference::Chunk::InlineData(first)) = reader.next_chunk().unwrap() else {
        panic!("the first piece")
    };
    assert_eq!(first.len(), len - 1);
    assert!(first.iter().all(|&byte| byte == 0x5a));
    let Some(reference::Chunk::InlineData(second)) = reader.next_chunk().unwrap() else {
        panic!("the second piece")
    };
    assert_eq!(second, [0x5a]);
    assert!(reader.next_chunk().unwrap().is_none());
}

/// Hand-made bad streams: each must be refused by the reference and by us.
fn bad_streams() -> Vec<(&'static str, Vec<u8>)> {
    let file_header = |name_len: u32| {
        [
            &[2][..],
            &1u64.to_le_bytes(),
            &0u32.to_le_bytes(),
            &name_len.to_le_bytes(),
        ]
        .concat()
    };
    let body_too_long = u32::try_from(MAX_CHUNK_BODY + 1).unwrap().to_le_bytes();
    vec![
        ("unknown type byte 3", vec![3]),
        (
            "unknown type byte 0xff after a chunk",
            vec![1, 0, 0, 0, 0, 0xff],
        ),
        ("a partial body header", vec![0, 1, 0]),
        ("a short body", vec![1, 4, 0, 0, 0, b'a']),
        ("a partial file header", file_header(3)[..10].to_vec()),
        ("a short name", [&file_header(3)[..], b"ab"].concat()),
        (
            "a name of 4097 bytes",
            [&file_header(4097)[..], &[b'a'; 4097]].concat(),
        ),
        ("a name length of u32::MAX", file_header(u32::MAX)),
        ("an empty name", file_header(0)),
        ("a NUL in a name", [&file_header(3)[..], b"a\0b"].concat()),
        ("an absolute name", [&file_header(4)[..], b"/etc"].concat()),
        ("a .. component", [&file_header(5)[..], b"a/../"].concat()),
        ("a name that is ..", [&file_header(2)[..], b".."].concat()),
        (
            "metadata above 256 MiB",
            [&[0][..], &body_too_long].concat(),
        ),
        (
            "inline data above 256 MiB",
            [&[1][..], &body_too_long].concat(),
        ),
    ]
}

#[test]
fn bad_input_the_reference_refuses_we_refuse_too() {
    for (what, stream) in bad_streams() {
        let theirs = reference_read(&stream);
        assert!(theirs.is_err(), "the reference accepts {what}: {theirs:?}");
        let ours = our_read(&stream, Limits::reference(), &[1, 7]);
        assert!(ours.is_err(), "we accept {what}: {ours:?}");
        // Without the reference's body cap, only the oversized bodies are not refused at
        // once: they stream, and the stream is then cut short.
        let ours = our_read(&stream, Limits::new(), &[]);
        if what.ends_with("above 256 MiB") {
            assert!(
                matches!(ours, Err(DecodeError::Truncated { missing, offset: 0 }) if missing == MAX_CHUNK_BODY + 1),
                "{what}: {ours:?}"
            );
        } else {
            assert!(ours.is_err(), "we accept {what} without limits: {ours:?}");
        }
    }
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "splitfdstream-dir-interop-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_reference_reconstructs_what_we_encode_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;

    let scratch = Scratch::new("reconstruct");
    let dirs: Vec<PathBuf> = (0..3).map(|i| scratch.0.join(format!("d{i}"))).collect();
    let files: Vec<(u32, &[u8], Vec<u8>)> = vec![
        (0, b"empty", Vec::new()),
        (0, b"sub dir/with space", b"spaces".to_vec()),
        (1, b"new\nline", b"a newline in the name".to_vec()),
        (
            2,
            "caf\u{e9}/\u{65e5}\u{672c}".as_bytes(),
            vec![0xab; 70_000],
        ),
        (1, b"dedup", b"read twice from offset 0".to_vec()),
    ];
    for dir in &dirs {
        std::fs::create_dir_all(dir).unwrap();
    }
    for (dir, name, content) in &files {
        let path = dirs[usize::try_from(*dir).unwrap()].join(std::ffi::OsStr::from_bytes(name));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut out = vec![0u8; 1 << 17];
    for (at, (dir, name, content)) in files.iter().chain(&files[4..]).enumerate() {
        let header = format!("header {at}\n");
        let written = encoder.metadata(header.as_bytes(), &mut out).unwrap();
        stream.extend_from_slice(&out[..written]);
        expected.extend_from_slice(header.as_bytes());
        let content_len = u64::try_from(content.len()).unwrap();
        let written = encoder
            .file_backed(*dir, content_len, name, &mut out)
            .unwrap();
        stream.extend_from_slice(&out[..written]);
        expected.extend_from_slice(content);
        // The same content inline too, the empty one included.
        let written = encoder.inline_data(content, &mut out).unwrap();
        stream.extend_from_slice(&out[..written]);
        expected.extend_from_slice(content);
    }
    encoder.finish().unwrap();

    let handles: Vec<std::fs::File> = dirs
        .iter()
        .map(|d| std::fs::File::open(d).unwrap())
        .collect();
    let dirfds: Vec<BorrowedFd<'_>> = handles.iter().map(AsFd::as_fd).collect();
    let mut rebuilt = Vec::new();
    let total = reference::reconstruct(&stream[..], &dirfds, &mut rebuilt).unwrap();
    assert_eq!(total, u64::try_from(expected.len()).unwrap());
    assert_eq!(rebuilt, expected);
}

/// Valid chunk lists, as both writers accept them.
fn valid_events() -> impl Strategy<Value = Vec<Event>> {
    let name = proptest::collection::vec("[a-z0-9 ._\n\u{e9}-]{1,10}", 1..5)
        .prop_map(|parts| parts.join("/").into_bytes())
        .prop_filter("no .. component", |name| {
            !name.split(|&b| b == b'/').any(|c| c == b"..")
        });
    let event = prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 1..600).prop_map(Event::Metadata),
        2 => proptest::collection::vec(any::<u8>(), 0..600).prop_map(Event::InlineData),
        3 => (any::<u64>(), 0u32..8, name).prop_map(|(content_len, dir_index, name)| {
            Event::FileBacked { content_len, dir_index, name }
        }),
    ];
    proptest::collection::vec(event, 0..24)
}

/// Streams built from plausible headers, whose bodies stay small or exceed 256 MiB, so
/// that the reference reader never buffers much.
fn wild_stream() -> impl Strategy<Value = Vec<u8>> {
    let body_len = prop_oneof![
        6 => 0u32..40,
        1 => Just(u32::try_from(MAX_CHUNK_BODY + 1).unwrap()),
        1 => (u32::try_from(MAX_CHUNK_BODY).unwrap() + 1)..=u32::MAX,
    ];
    let body_header = (0u8..=2, body_len)
        .prop_map(|(kind, len)| [&[kind.min(1)][..], &len.to_le_bytes()].concat());
    let file_header = (
        any::<u64>(),
        0u32..4,
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
        4 => "[a-z./]{0,24}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_chunk_lists_travel_both_ways(
        events in valid_events(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let theirs = reference_write(&events);
        let ours = our_write(&events);
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(reference_read(&ours), Ok(events.clone()));
        prop_assert_eq!(our_read(&theirs, Limits::reference(), &cuts), Ok(events));
    }

    #[test]
    fn on_wild_bytes_we_refuse_exactly_what_the_reference_refuses(stream in wild_stream()) {
        let theirs = reference_read(&stream);
        let ours = our_read(&stream, Limits::reference(), &[5]);
        match theirs {
            Ok(events) => prop_assert_eq!(ours, Ok(events)),
            Err(why) => prop_assert!(ours.is_err(), "the reference refuses ({}), we accept", why),
        }
    }
}
