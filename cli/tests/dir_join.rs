//! `join` and `verify` of a splitdirfdstream, the successor format: a stream written by
//! the reference implementation (`composefs-splitdirfdstream` 0.9.4) with a directory list
//! beside it is joined and verified by the command, which picks the format from the
//! sidecar (`STREAM.dirs`) or from `--format`; files of another length than declared and
//! names leaving their directory are errors that leave no output.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::path::Path;

use common::{fails, ok, sha256_hex};
use composefs_splitdirfdstream as reference;

/// Two directories of files (a name with spaces, a newline and UTF-8, an empty file) and
/// a stream the reference writer wrote naming them; returns the bytes it rebuilds to.
fn bundle(dir: &Path, stream: &str) -> Vec<u8> {
    fs::create_dir_all(dir.join("objects/ab")).unwrap();
    fs::create_dir_all(dir.join("diff")).unwrap();
    fs::write(dir.join("objects/ab/cdef"), b"object content").unwrap();
    fs::write(dir.join("diff/with space\nand ü"), b"diff content").unwrap();
    fs::write(dir.join("diff/empty"), b"").unwrap();
    let mut bytes = Vec::new();
    let mut writer = reference::SplitdirfdstreamWriter::new(&mut bytes);
    writer.write_metadata(b"<header 0>").unwrap();
    writer.write_file_backed_data(0, 14, b"ab/cdef").unwrap();
    writer.write_metadata(b"<header 1>").unwrap();
    writer
        .write_file_backed_data(1, 12, "with space\nand ü".as_bytes())
        .unwrap();
    writer.write_file_backed_data(1, 0, b"empty").unwrap();
    writer.write_inline_data(b"").unwrap();
    writer.write_inline_data(b"inline").unwrap();
    writer.finish().unwrap();
    fs::write(dir.join(stream), bytes).unwrap();
    // The directory list, relative to its own directory.
    fs::write(dir.join(format!("{stream}.dirs")), "objects\ndiff\n").unwrap();
    b"<header 0>object content<header 1>diff contentinline".to_vec()
}

#[test]
fn join_and_verify_read_the_format_from_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let expected = bundle(dir.path(), "layer.sdfs");
    ok(dir.path(), ["join", "layer.sdfs", "-o", "out.tar"]);
    assert_eq!(fs::read(dir.path().join("out.tar")).unwrap(), expected);
    let stdout = ok(dir.path(), ["-q", "join", "layer.sdfs", "--no-sync"]);
    assert_eq!(stdout, expected);
    let line = String::from_utf8(ok(dir.path(), ["verify", "layer.sdfs"])).unwrap();
    assert_eq!(
        line.trim_end(),
        format!("{}  {}", sha256_hex(&expected), expected.len())
    );
    // The format and the list given explicitly.
    fs::rename(dir.path().join("layer.sdfs.dirs"), dir.path().join("list")).unwrap();
    ok(
        dir.path(),
        [
            "join",
            "layer.sdfs",
            "--format",
            "dir",
            "--dirs",
            "list",
            "-o",
            "out2.tar",
        ],
    );
    assert_eq!(fs::read(dir.path().join("out2.tar")).unwrap(), expected);
    // Without a sidecar, the first format is assumed: the stream does not decode as it.
    fails(dir.path(), ["verify", "layer.sdfs"], &["fd list"]);
    fails(
        dir.path(),
        ["verify", "layer.sdfs", "--format", "dir", "--fds", "x"],
        &["--fds and --sizes are for the v1 format"],
    );
    let usage = common::run(dir.path(), ["verify", "layer.sdfs", "--format", "v2"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("unknown stream format"));
}

#[test]
fn a_file_of_another_length_or_one_outside_fails_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path(), "layer.sdfs");
    fs::write(dir.path().join("diff/with space\nand ü"), b"diff content!").unwrap();
    fails(
        dir.path(),
        ["join", "layer.sdfs", "-o", "out.tar"],
        &["directory 1", "with space"],
    );
    assert!(!dir.path().join("out.tar").exists());
    fs::write(dir.path().join("diff/with space\nand ü"), b"diff content").unwrap();
    fs::remove_file(dir.path().join("objects/ab/cdef")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("objects/ab/cdef")).unwrap();
    fails(
        dir.path(),
        ["join", "layer.sdfs", "-o", "out.tar"],
        &["directory 0", "ab/cdef", "outside the directory"],
    );
    assert!(!dir.path().join("out.tar").exists());
}
