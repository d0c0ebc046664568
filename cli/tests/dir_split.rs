//! `split --format dir`: a tar becomes a splitdirfdstream, `STREAM.dirs` (line 0 the
//! objects directory) and the objects; the command joins it back byte for byte, and the
//! reference implementation (`composefs-splitdirfdstream` 0.9.4) reads the same stream chunk
//! for chunk and rebuilds it from the objects directory.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::Path;

use common::{fails, ok, sha256_hex};
use composefs_splitdirfdstream as reference;

/// A tar with two members of the same content, one of another, an empty one and a
/// directory; returns its bytes.
fn layer_tar(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in [
        ("one", &b"same content"[..]),
        ("two", b"different"),
        ("three", b"same content"),
        ("empty", b""),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(u64::try_from(content.len()).unwrap());
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, content).unwrap();
    }
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_cksum();
    builder.append_data(&mut header, "sub/", &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap();
    fs::write(dir.join("layer.tar"), &bytes).unwrap();
    bytes
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Metadata(Vec<u8>),
    Inline(Vec<u8>),
    File(u32, u64, Vec<u8>),
}

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

fn our_read(stream: &[u8]) -> Vec<Event> {
    use splitfdstream::dir::{Chunk, Chunks};
    Chunks::new(stream)
        .map(|chunk| match chunk.unwrap() {
            Chunk::Metadata(f) => Event::Metadata(f.data.to_vec()),
            Chunk::InlineData(f) => Event::Inline(f.data.to_vec()),
            Chunk::FileBackedData(f) => Event::File(f.dir_index, f.content_len, f.name.to_vec()),
        })
        .collect()
}

#[test]
fn split_dir_joins_back_and_the_reference_reads_and_rebuilds_it() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let tar = layer_tar(dir);
    fs::create_dir(dir.join("out")).unwrap();
    ok(
        dir,
        [
            "-q",
            "split",
            "--format",
            "dir",
            "layer.tar",
            "-o",
            "out/layer.sdfs",
        ],
    );
    assert_eq!(
        common::names(&dir.join("out")),
        ["layer.sdfs", "layer.sdfs.dirs", "layer.sdfs.objects"]
    );
    // Line 0 of the list is the objects directory, relative to the list.
    assert_eq!(
        fs::read_to_string(dir.join("out/layer.sdfs.dirs")).unwrap(),
        "layer.sdfs.objects\n"
    );
    let mut objects = common::names(&dir.join("out/layer.sdfs.objects"));
    // An empty member has no content to reference: its header alone is Metadata.
    let mut expected_objects = vec![sha256_hex(b"same content"), sha256_hex(b"different")];
    objects.sort();
    expected_objects.sort();
    assert_eq!(objects, expected_objects);

    // The command joins it (the format from the sidecar), byte for byte.
    assert_eq!(ok(dir, ["join", "out/layer.sdfs"]), tar);
    ok(dir, ["join", "out/layer.sdfs", "-o", "copy.tar"]);
    assert_eq!(fs::read(dir.join("copy.tar")).unwrap(), tar);

    // The reference reads our stream chunk for chunk.
    let stream = fs::read(dir.join("out/layer.sdfs")).unwrap();
    let theirs = their_read(&stream);
    assert_eq!(theirs, our_read(&stream));
    let files: Vec<&Event> = theirs
        .iter()
        .filter(|event| matches!(event, Event::File(..)))
        .collect();
    assert_eq!(
        files,
        [
            &Event::File(0, 12, sha256_hex(b"same content").into_bytes()),
            &Event::File(0, 9, sha256_hex(b"different").into_bytes()),
            &Event::File(0, 12, sha256_hex(b"same content").into_bytes()),
        ]
    );
    assert!(theirs
        .iter()
        .all(|event| !matches!(event, Event::Metadata(body) if body.is_empty())));

    // And rebuilds it from the objects directory, byte for byte.
    let objects = File::open(dir.join("out/layer.sdfs.objects")).unwrap();
    let mut rebuilt = Vec::new();
    reference::reconstruct(&stream[..], &[objects.as_fd()], &mut rebuilt).unwrap();
    assert_eq!(rebuilt, tar);
}

#[test]
fn split_dir_refuses_the_first_formats_sidecars_and_leaves_nothing_on_error() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    layer_tar(dir);
    fails(
        dir,
        [
            "split",
            "--format",
            "dir",
            "layer.tar",
            "-o",
            "s",
            "--fds",
            "x",
        ],
        &["--fds and --sizes are for the v1 format"],
    );
    fails(
        dir,
        ["split", "layer.tar", "-o", "s", "--dirs", "x"],
        &["--dirs is for the dir format"],
    );
    // A directory list that cannot be written: no stream, no list, no objects.
    fs::create_dir_all(dir.join("s.dirs/inside")).unwrap();
    fails(
        dir,
        ["-q", "split", "--format", "dir", "layer.tar", "-o", "s"],
        &["s.dirs"],
    );
    assert_eq!(common::names(dir), ["layer.tar", "s.dirs"]);
}

#[test]
fn inspect_reads_either_format_from_the_sidecar_or_format() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    layer_tar(dir);
    ok(
        dir,
        [
            "-q",
            "split",
            "--format",
            "dir",
            "layer.tar",
            "-o",
            "l.sdfs",
        ],
    );
    ok(dir, ["-q", "split", "layer.tar", "-o", "l.sfd"]);
    let same = sha256_hex(b"same content");

    // The successor format, from STREAM.dirs: names and directory indices.
    let json = common::inspect_json(dir, "l.sdfs");
    assert_eq!(json["format"], "dir");
    assert_eq!(json["file_chunks"], 3);
    assert_eq!(json["distinct_files"], 2);
    assert_eq!(json["max_dir_index"], 0);
    assert_eq!(json["file_bytes"], 12 + 9 + 12);
    assert_eq!(json["files"][0]["name"], same.as_str());
    assert_eq!(json["files"][0]["dir"], 0);
    assert_eq!(json["files"][0]["len"], 12);
    assert_eq!(
        json["stream_bytes"],
        fs::metadata(dir.join("l.sdfs")).unwrap().len()
    );
    let text = String::from_utf8(ok(dir, ["inspect", "l.sdfs"])).unwrap();
    let files: Vec<Vec<&str>> = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.get(1) == Some(&"file"))
        .collect();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0][2..], ["12", "0", same.as_str()]);
    assert!(text
        .lines()
        .last()
        .unwrap()
        .contains("3 file-backed (33 bytes, 2 distinct files, max directory 0)"));

    // The first format, from STREAM.fds, as before.
    let json = common::inspect_json(dir, "l.sfd");
    assert_eq!(json["external_chunks"], 3);
    assert!(json.get("format").is_none());

    // --format overrides the sidecar: the dir stream read as v1 does not decode.
    fails(
        dir,
        ["inspect", "l.sdfs", "--format", "v1"],
        &["cannot inspect l.sdfs"],
    );
    fs::remove_file(dir.join("l.sdfs.dirs")).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&ok(dir, ["inspect", "l.sdfs", "--format", "dir", "--json"]))
            .unwrap();
    assert_eq!(json["file_chunks"], 3);
}

#[test]
fn convert_between_the_formats_reuses_the_objects() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let tar = layer_tar(dir);
    ok(dir, ["-q", "split", "layer.tar", "-o", "l.sfd"]);
    let objects_before = common::names(&dir.join("l.sfd.objects"));

    // v1 to dir: the objects directory is directory 0, nothing is copied.
    ok(
        dir,
        ["-q", "convert", "l.sfd", "--to", "dir", "-o", "l.sdfs"],
    );
    assert_eq!(
        fs::read_to_string(dir.join("l.sdfs.dirs")).unwrap(),
        "l.sfd.objects\n"
    );
    assert!(!dir.join("l.sdfs.objects").exists());
    assert_eq!(common::names(&dir.join("l.sfd.objects")), objects_before);
    assert_eq!(ok(dir, ["join", "l.sdfs"]), tar);
    let stream = fs::read(dir.join("l.sdfs")).unwrap();
    let objects = File::open(dir.join("l.sfd.objects")).unwrap();
    let mut rebuilt = Vec::new();
    reference::reconstruct(&stream[..], &[objects.as_fd()], &mut rebuilt).unwrap();
    assert_eq!(rebuilt, tar);

    // And back: each distinct file a source, with its declared length.
    ok(
        dir,
        ["-q", "convert", "l.sdfs", "--to", "v1", "-o", "back.sfd"],
    );
    assert_eq!(ok(dir, ["join", "back.sfd"]), tar);
    assert_eq!(
        fs::read_to_string(dir.join("back.sfd.sizes")).unwrap(),
        "12\n9\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("back.sfd.fds")).unwrap(),
        format!(
            "l.sfd.objects/{}\nl.sfd.objects/{}\n",
            sha256_hex(b"same content"),
            sha256_hex(b"different")
        )
    );

    // Converting to the format it is in is an error that leaves nothing.
    fails(
        dir,
        ["convert", "l.sdfs", "--to", "dir", "-o", "x.sdfs"],
        &["already in the splitdirfdstream format"],
    );
    assert!(!dir.join("x.sdfs").exists() && !dir.join("x.sdfs.dirs").exists());
}

#[test]
fn convert_gives_sources_outside_the_objects_directory_their_own_directory() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir_all(dir.join("h.sfd.objects/ab")).unwrap();
    fs::create_dir(dir.join("other")).unwrap();
    fs::write(dir.join("h.sfd.objects/ab/cdef"), b"object").unwrap();
    fs::write(dir.join("other/file"), b"elsewhere").unwrap();
    // "<", External(0), External(1), External(0), ">".
    let mut stream = Vec::new();
    stream.extend_from_slice(&(-1i64).to_le_bytes());
    stream.push(b'<');
    for index in [0i64, 1, 0] {
        stream.extend_from_slice(&index.to_le_bytes());
    }
    stream.extend_from_slice(&(-1i64).to_le_bytes());
    stream.push(b'>');
    fs::write(dir.join("h.sfd"), &stream).unwrap();
    fs::write(dir.join("h.sfd.fds"), "h.sfd.objects/ab/cdef\nother/file\n").unwrap();
    let expected = b"<objectelsewhereobject>".to_vec();
    assert_eq!(ok(dir, ["join", "h.sfd"]), expected);

    ok(
        dir,
        ["-q", "convert", "h.sfd", "--to", "dir", "-o", "h.sdfs"],
    );
    assert_eq!(
        fs::read_to_string(dir.join("h.sdfs.dirs")).unwrap(),
        "h.sfd.objects\nother\n"
    );
    let json = common::inspect_json(dir, "h.sdfs");
    let files: Vec<(u64, &str, u64)> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["dir"].as_u64().unwrap(),
                file["name"].as_str().unwrap(),
                file["len"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [(0, "ab/cdef", 6), (1, "file", 9), (0, "ab/cdef", 6)]
    );
    assert_eq!(ok(dir, ["join", "h.sdfs"]), expected);
    let dirs = [
        File::open(dir.join("h.sfd.objects")).unwrap(),
        File::open(dir.join("other")).unwrap(),
    ];
    let fds: Vec<_> = dirs.iter().map(AsFd::as_fd).collect();
    let mut rebuilt = Vec::new();
    reference::reconstruct(
        &fs::read(dir.join("h.sdfs")).unwrap()[..],
        &fds,
        &mut rebuilt,
    )
    .unwrap();
    assert_eq!(rebuilt, expected);

    // A reference past the fd list is an error that leaves nothing.
    fs::write(dir.join("h.sfd.fds"), "h.sfd.objects/ab/cdef\n").unwrap();
    fails(
        dir,
        ["convert", "h.sfd", "--to", "dir", "-o", "bad.sdfs"],
        &["cannot convert h.sfd", "no source 1"],
    );
    assert!(!dir.join("bad.sdfs").exists() && !dir.join("bad.sdfs.dirs").exists());
}
