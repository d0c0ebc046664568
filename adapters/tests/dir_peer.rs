//! Interoperability with the published reference implementation of splitdirfdstream,
//! `composefs-splitdirfdstream` 0.9.4, at the level of rebuilding from directories: a
//! stream either side writes, the other rebuilds from the same directories byte for byte;
//! what its `reconstruct` refuses, ours refuses too; and the deliberate differences (a file
//! longer than declared, a file that is not a regular file) are checked as such.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use composefs_splitdirfdstream as reference;
use splitfdstream::dir::{Chunk, Chunks, Encoder};
use splitfdstream_adapters::fd::Reconstruct;
use splitfdstream_adapters::std::{reconstruct_as, DirSources};
use splitfdstream_adapters::Format;

const DIR: Format = Format::Splitdirfdstream;

/// One chunk, as both sides write it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Metadata(Vec<u8>),
    Inline(Vec<u8>),
    File(u32, u64, Vec<u8>),
}

fn ours(events: &[Event]) -> Vec<u8> {
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut out = vec![0; 64 * 1024];
    for event in events {
        let n = match event {
            Event::Metadata(body) => encoder.metadata(body, &mut out),
            Event::Inline(body) => encoder.inline_data(body, &mut out),
            Event::File(dir, len, name) => encoder.file_backed(*dir, *len, name, &mut out),
        }
        .unwrap();
        stream.extend_from_slice(&out[..n]);
    }
    encoder.finish().unwrap();
    stream
}

fn theirs(events: &[Event]) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut writer = reference::SplitdirfdstreamWriter::new(&mut stream);
    for event in events {
        match event {
            Event::Metadata(body) => writer.write_metadata(body).unwrap(),
            Event::Inline(body) => writer.write_inline_data(body).unwrap(),
            Event::File(dir, len, name) => writer.write_file_backed_data(*dir, *len, name).unwrap(),
        }
    }
    writer.finish().unwrap();
    stream
}

/// The events our decoder reads from `stream`, bodies whole.
fn our_read(stream: &[u8]) -> Vec<Event> {
    Chunks::new(stream)
        .map(|chunk| match chunk.unwrap() {
            Chunk::Metadata(f) => Event::Metadata(f.data.to_vec()),
            Chunk::InlineData(f) => Event::Inline(f.data.to_vec()),
            Chunk::FileBackedData(f) => Event::File(f.dir_index, f.content_len, f.name.to_vec()),
        })
        .collect()
}

/// The events the reference reader reads from `stream`.
fn their_read(stream: &[u8]) -> Vec<Event> {
    let mut reader = reference::SplitdirfdstreamReader::new(stream);
    let mut events = Vec::new();
    while let Some(chunk) = reader.next_chunk().unwrap() {
        events.push(match chunk {
            reference::Chunk::Metadata(body) => Event::Metadata(body.to_vec()),
            reference::Chunk::InlineData(body) => Event::Inline(body.to_vec()),
            reference::Chunk::FileBackedData {
                dirfd_index,
                length,
                filename,
            } => Event::File(dirfd_index, length, filename.to_vec()),
        });
    }
    events
}

/// A name of `len` bytes made of components of at most 255 bytes (the file systems'
/// limit), its directories created beneath `root`.
fn deep_name(root: &Path, len: usize) -> Vec<u8> {
    let mut name = Vec::new();
    while len - name.len() > 255 {
        name.extend(std::iter::repeat_n(b'd', 254));
        std::fs::create_dir_all(root.join(std::str::from_utf8(&name).unwrap())).unwrap();
        name.push(b'/');
    }
    name.extend(std::iter::repeat_n(b'f', len - name.len()));
    name
}

/// Three directories of files with every edge case, the events of a layer naming them,
/// and the bytes it rebuilds to.
struct Layer {
    dirs: [tempfile::TempDir; 3],
    events: Vec<Event>,
    expected: Vec<u8>,
}

fn layer() -> Layer {
    let dirs = [
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    ];
    let long = deep_name(dirs[2].path(), 4000);
    let files: Vec<(u32, Vec<u8>, Vec<u8>)> = vec![
        (0, b"empty".to_vec(), Vec::new()),
        (
            1,
            "with space\nnewline ü ✓".as_bytes().to_vec(),
            b"utf8".to_vec(),
        ),
        (2, long, vec![b'L'; 5000]),
        (
            0,
            b"./big//file".to_vec(),
            (0..600_000u32)
                .map(|i| u8::try_from(i % 251).unwrap())
                .collect(),
        ),
        (1, b"sub/link".to_vec(), b"target".to_vec()),
    ];
    std::fs::create_dir(dirs[0].path().join("big")).unwrap();
    std::fs::create_dir(dirs[1].path().join("sub")).unwrap();
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for (i, (dir, name, content)) in files.iter().enumerate() {
        let root = dirs[usize::try_from(*dir).unwrap()].path();
        let path = root.join(std::str::from_utf8(name).unwrap());
        if name.ends_with(b"link") {
            // A symbolic link that stays beneath the directory.
            std::fs::write(root.join("target"), content).unwrap();
            std::os::unix::fs::symlink("../target", &path).unwrap();
        } else {
            std::fs::write(&path, content).unwrap();
        }
        let header = format!("<header {i}>").into_bytes();
        expected.extend_from_slice(&header);
        expected.extend_from_slice(content);
        events.push(Event::Metadata(header));
        events.push(Event::File(
            *dir,
            u64::try_from(content.len()).unwrap(),
            name.clone(),
        ));
        // An empty file also travels inline, as a zero-length InlineData chunk.
        events.push(Event::Inline(Vec::new()));
    }
    events.push(Event::Inline(b"trailer".to_vec()));
    expected.extend_from_slice(b"trailer");
    Layer {
        dirs,
        events,
        expected,
    }
}

impl Layer {
    fn fds(&self) -> Vec<File> {
        self.dirs
            .iter()
            .map(|d| File::open(d.path()).unwrap())
            .collect()
    }

    fn sources(&self) -> DirSources {
        DirSources::open(self.dirs.iter().map(tempfile::TempDir::path)).unwrap()
    }
}

/// The reference's rebuild of `stream` from `dirs`.
fn their_rebuild(stream: &[u8], dirs: &[File]) -> Result<Vec<u8>, reference::Error> {
    let fds: Vec<BorrowedFd<'_>> = dirs.iter().map(AsFd::as_fd).collect();
    let mut out = Vec::new();
    reference::reconstruct(stream, &fds, &mut out).map(|_| out)
}

/// Our rebuilds of `stream`: the std driver, and the fd driver into a file (read ahead).
fn our_rebuilds(stream: &[u8], layer: &Layer) -> [Result<Vec<u8>, String>; 2] {
    let plain = {
        let mut out = Vec::new();
        reconstruct_as(DIR, stream, &layer.sources(), &mut out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    };
    let kernel = (|| {
        let mut sources = layer.sources();
        sources.read_ahead_for(stream).map_err(|e| e.to_string())?;
        let mut out = tempfile::tempfile().unwrap();
        Reconstruct::new()
            .format(DIR)
            .run(stream, &sources, &out)
            .map_err(|e| e.to_string())?;
        let mut rebuilt = Vec::new();
        out.rewind().unwrap();
        out.read_to_end(&mut rebuilt).unwrap();
        Ok(rebuilt)
    })();
    [plain, kernel]
}

#[test]
fn each_side_rebuilds_the_others_stream_byte_for_byte() {
    let layer = layer();
    let dirs = layer.fds();
    let our_stream = ours(&layer.events);
    let their_stream = theirs(&layer.events);
    // The same bytes on the wire, read chunk for chunk the same by both readers.
    assert!(our_stream == their_stream);
    assert_eq!(their_read(&our_stream), layer.events);
    assert_eq!(our_read(&their_stream), layer.events);
    // Rebuilt byte for byte by both.
    assert!(their_rebuild(&our_stream, &dirs).unwrap() == layer.expected);
    for rebuilt in our_rebuilds(&their_stream, &layer) {
        assert!(rebuilt.unwrap() == layer.expected);
    }
}

#[test]
fn a_content_len_above_4_gib_is_declared_and_read_by_both() {
    let events = vec![
        Event::Metadata(b"h".to_vec()),
        Event::File(7, (5 << 30) + 3, b"huge".to_vec()),
        Event::File(u32::MAX, u64::MAX, b"max".to_vec()),
    ];
    assert_eq!(their_read(&ours(&events)), events);
    assert_eq!(our_read(&theirs(&events)), events);
}

#[test]
fn what_the_reference_refuses_to_rebuild_we_refuse_too() {
    let layer = layer();
    let dirs = layer.fds();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    let root = layer.dirs[1].path();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../etc/hostname", root.join("up")).unwrap();
    std::fs::write(root.join("short"), b"abc").unwrap();
    let too_deep = deep_name(root, 4096);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "escaping absolute symlink",
            ours(&[Event::File(1, 6, b"escape".to_vec())]),
        ),
        (
            "escaping relative symlink",
            ours(&[Event::File(1, 6, b"up".to_vec())]),
        ),
        (
            "missing file",
            ours(&[Event::File(1, 1, b"nothing here".to_vec())]),
        ),
        (
            "directory out of range",
            ours(&[Event::File(3, 3, b"short".to_vec())]),
        ),
        (
            "file shorter than declared",
            ours(&[Event::File(1, 4, b"short".to_vec())]),
        ),
        (
            "path too long for the kernel",
            ours(&[Event::File(1, 1, too_deep)]),
        ),
        ("unknown type byte", vec![3, 0, 0, 0, 0]),
        ("truncated header", vec![2, 3, 0, 0]),
        ("truncated body", vec![0, 5, 0, 0, 0, b'a']),
        ("`..` component", {
            let mut s = vec![2];
            s.extend_from_slice(&3u64.to_le_bytes());
            s.extend_from_slice(&1u32.to_le_bytes());
            s.extend_from_slice(&8u32.to_le_bytes());
            s.extend_from_slice(b"../short");
            s
        }),
        ("absolute name", {
            let mut s = vec![2];
            s.extend_from_slice(&3u64.to_le_bytes());
            s.extend_from_slice(&1u32.to_le_bytes());
            s.extend_from_slice(&11u32.to_le_bytes());
            s.extend_from_slice(b"/etc/passwd");
            s
        }),
    ];
    for (what, stream) in cases {
        assert!(
            their_rebuild(&stream, &dirs).is_err(),
            "{what}: the reference accepted it"
        );
        for rebuilt in our_rebuilds(&stream, &layer) {
            assert!(rebuilt.is_err(), "{what}: we accepted it");
        }
    }
}

#[test]
fn deliberate_differences() {
    let layer = layer();
    let dirs = layer.fds();
    let root = layer.dirs[0].path();
    // A file longer than declared: the reference cuts it, we refuse it.
    std::fs::write(root.join("long"), b"abcdef").unwrap();
    let stream = ours(&[Event::File(0, 3, b"long".to_vec())]);
    assert_eq!(their_rebuild(&stream, &dirs).unwrap(), b"abc");
    for rebuilt in our_rebuilds(&stream, &layer) {
        let error = rebuilt.unwrap_err();
        assert!(error.contains("long"), "{error}");
    }
    // A directory where a file should be: the reference opens it and fails reading it;
    // we refuse it by type before reading.
    std::fs::create_dir(root.join("a dir")).unwrap();
    let stream = ours(&[Event::File(0, 0, b"a dir".to_vec())]);
    assert_eq!(their_rebuild(&stream, &dirs).unwrap(), b"");
    for rebuilt in our_rebuilds(&stream, &layer) {
        let error = rebuilt.unwrap_err();
        assert!(error.contains("is a directory"), "{error}");
    }
}
