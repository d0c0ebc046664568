//! `from-tar-split` against metadata written by the real `tar-split` tool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::{fails, ok, sh};

fn have_tools(test: &str) -> bool {
    if !common::have("tar", "GNU tar", test) {
        return false;
    }
    // `tar-split --version` prints its version to stdout.
    let found = Command::new("tar-split").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped {test}: `tar-split` is not installed (Debian package tar-split)");
    }
    found
}

/// A layer tar, its tar-split metadata (`layer.json.gz` and plain `layer.json`) and the
/// tar unpacked under `root/`.
fn layer(dir: &Path) {
    let src = dir.join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/config"), b"key = value\n").unwrap();
    fs::write(src.join("etc/copy"), b"key = value\n").unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::write(src.join("big"), vec![0x5a; 200_000]).unwrap();
    fs::write(src.join(OsStr::from_bytes(b"caf\xe9")), b"not utf-8\n").unwrap();
    fs::write(src.join("n".repeat(140)), b"long name\n").unwrap();
    sh(&src, "ln big big-hardlink && ln -s etc/config link");
    sh(
        dir,
        "tar --format=pax --sort=name -cf layer.tar -C src . \
         && tar-split disasm --no-stdout --output layer.json.gz layer.tar 2>/dev/null \
         && mkdir root && tar -xf layer.tar -C root",
    );
    let mut plain = Vec::new();
    let gzipped = fs::File::open(dir.join("layer.json.gz")).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzipped), &mut plain).unwrap();
    fs::write(dir.join("layer.json"), plain).unwrap();
    // The non-UTF-8 name is carried as name_raw.
    let plain = fs::read_to_string(dir.join("layer.json")).unwrap();
    assert!(plain.contains("\"name_raw\""), "{plain}");
}

fn convert_and_join(dir: &Path, metadata: &str) {
    ok(
        dir,
        [
            "-q",
            "from-tar-split",
            metadata,
            "--root",
            "root",
            "-o",
            "s.sfd",
        ],
    );
    // Sources are the unpacked files themselves, not copies.
    let list = fs::read(dir.join("s.sfd.fds")).unwrap();
    assert!(
        list.starts_with(b"root/"),
        "{}",
        String::from_utf8_lossy(&list)
    );
    ok(dir, ["join", "s.sfd", "-o", "joined.tar"]);
    assert!(fs::read(dir.join("joined.tar")).unwrap() == fs::read(dir.join("layer.tar")).unwrap());
    let verify = String::from_utf8(ok(dir, ["verify", "s.sfd"])).unwrap();
    assert!(verify.starts_with(&common::sha256sum(&dir.join("layer.tar"))));
    for file in ["s.sfd", "s.sfd.fds", "joined.tar"] {
        fs::remove_file(dir.join(file)).unwrap();
    }
}

#[test]
fn gzip_and_plain_metadata_rebuild_the_tar() {
    if !have_tools("gzip_and_plain_metadata_rebuild_the_tar") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    layer(work.path());
    convert_and_join(work.path(), "layer.json.gz");
    convert_and_join(work.path(), "layer.json");
}

#[test]
fn a_tampered_file_fails_its_crc_and_leaves_nothing() {
    if !have_tools("a_tampered_file_fails_its_crc_and_leaves_nothing") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    layer(dir);
    // Same size, different bytes.
    fs::write(dir.join("root/etc/config"), b"key = VALUE\n").unwrap();
    fails(
        dir,
        [
            "from-tar-split",
            "layer.json.gz",
            "--root",
            "root",
            "-o",
            "s.sfd",
        ],
        &["CRC-64 mismatch", "root/etc/config", "line "],
    );
    assert!(!dir.join("s.sfd").exists());
    assert!(!dir.join("s.sfd.fds").exists());
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.as_bytes().starts_with(b".s.sfd"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Without verification the conversion trusts the files; the join then differs.
    ok(
        dir,
        [
            "-q",
            "from-tar-split",
            "layer.json.gz",
            "--root",
            "root",
            "-o",
            "s.sfd",
            "--no-verify",
        ],
    );
    let joined = ok(dir, ["join", "s.sfd"]);
    assert_eq!(joined.len(), fs::read(dir.join("layer.tar")).unwrap().len());
    assert!(joined != fs::read(dir.join("layer.tar")).unwrap());
}

#[test]
fn a_resized_or_missing_file_is_an_error() {
    if !have_tools("a_resized_or_missing_file_is_an_error") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    layer(dir);
    fs::write(dir.join("root/big"), b"shorter").unwrap();
    fails(
        dir,
        [
            "from-tar-split",
            "layer.json",
            "--root",
            "root",
            "-o",
            "s.sfd",
        ],
        &["root/big is 7 bytes, the metadata says 200000"],
    );
    fs::remove_file(dir.join("root/big")).unwrap();
    fails(
        dir,
        [
            "from-tar-split",
            "layer.json",
            "--root",
            "root",
            "-o",
            "s.sfd",
        ],
        &["line 4", "big: No such file"],
    );
    assert!(!dir.join("s.sfd").exists());
}

#[test]
fn malformed_metadata_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir(dir.join("root")).unwrap();
    let cases: [(&[u8], &str); 4] = [
        (
            b"{\"type\":2,\"payload\":\"AAAA\"}\nnot json\n",
            "line 2: not a tar-split entry",
        ),
        (b"{\"type\":7}\n", "unknown entry type 7"),
        (b"{\"type\":2,\"payload\":\"***\"}\n", "not base64"),
        (
            b"{\"type\":1,\"name\":\"../escape\",\"size\":3}\n",
            "leaves the root directory",
        ),
    ];
    for (metadata, message) in cases {
        fs::write(dir.join("m.json"), metadata).unwrap();
        fails(
            dir,
            ["from-tar-split", "m.json", "--root", "root", "-o", "s.sfd"],
            &[message],
        );
        assert!(!dir.join("s.sfd").exists());
    }
}

#[test]
fn unverified_sizes_cannot_overflow() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir(dir.join("root")).unwrap();
    fs::write(dir.join("root/a"), b"a").unwrap();
    let entry = format!(
        "{{\"type\":1,\"name\":\"a\",\"size\":{},\"payload\":null}}\n",
        u64::MAX
    );
    fs::write(dir.join("m.json"), entry.repeat(2)).unwrap();
    ok(
        dir,
        [
            "-q",
            "from-tar-split",
            "m.json",
            "--root",
            "root",
            "-o",
            "s.sfd",
            "--no-verify",
        ],
    );
    fails(
        dir,
        ["from-tar-split", "m.json", "--root", "root", "-o", "s.sfd"],
        &["root/a is 1 bytes, the metadata says 18446744073709551615"],
    );
}

/// Runs `from-tar-split m.json --root root -o s.sfd` with `extra` arguments, under a time
/// limit (a FIFO must never block it), and asserts one `error:` line holding `needles` and
/// no output.
fn convert_fails(dir: &Path, extra: &[&str], needles: &[&str]) {
    let output = Command::new("timeout")
        .arg("60")
        .arg(common::bin())
        .args(["from-tar-split", "m.json", "--root", "root", "-o", "s.sfd"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    assert_eq!(common::names(dir), ["m.json", "root"]);
}

fn file_entry(name: &str, size: u64) -> String {
    format!("{{\"type\":2,\"payload\":\"aGVhZGVy\"}}\n{{\"type\":1,\"name\":\"{name}\",\"size\":{size},\"payload\":null}}\n")
}

#[test]
fn members_are_opened_beneath_the_root_only() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir_all(dir.join("root/sub")).unwrap();
    fs::write(dir.join("root/sub/a"), b"abc").unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("root/esc")).unwrap();
    std::os::unix::fs::symlink("../../etc", dir.join("root/sub/up")).unwrap();
    std::os::unix::fs::symlink("sub", dir.join("root/inside")).unwrap();
    let cases = [
        (
            "esc/hostname",
            "esc/hostname: leads outside the directory through a symbolic link",
        ),
        (
            "sub/up/hostname",
            "sub/up/hostname: leads outside the directory through a symbolic link",
        ),
        ("inside/a", "inside/a: is reached through a symbolic link"),
        ("/etc/hostname", "is absolute"),
        ("../etc/hostname", "leaves the root directory"),
        ("sub/../../etc/hostname", "leaves the root directory"),
        ("sub", "sub: is a directory; a path source must be"),
    ];
    for (name, message) in cases {
        fs::write(dir.join("m.json"), file_entry(name, 3)).unwrap();
        convert_fails(dir, &["--no-verify"], &[message]);
        convert_fails(dir, &[], &[message]);
    }
    // The member's real path converts.
    fs::write(dir.join("m.json"), file_entry("sub/a", 3)).unwrap();
    ok(
        dir,
        [
            "-q",
            "from-tar-split",
            "m.json",
            "--root",
            "root",
            "-o",
            "s.sfd",
            "--no-verify",
        ],
    );
    assert_eq!(ok(dir, ["join", "s.sfd"]), b"headerabc");
}

#[test]
fn a_fifo_member_is_refused_without_blocking() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir(dir.join("root")).unwrap();
    sh(&dir.join("root"), "mkfifo fifo");
    fs::write(dir.join("m.json"), file_entry("fifo", 3)).unwrap();
    convert_fails(
        dir,
        &[],
        &["line 2: fifo: is a FIFO; a path source must be"],
    );
    convert_fails(
        dir,
        &["--no-verify"],
        &["line 2: fifo: is a FIFO; a path source must be"],
    );
}

#[test]
fn the_sizes_file_catches_a_changed_member() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir(dir.join("root")).unwrap();
    fs::write(dir.join("root/a"), b"abc").unwrap();
    let mut metadata = file_entry("a", 3);
    metadata.push_str(&file_entry("./a", 3));
    fs::write(dir.join("m.json"), &metadata).unwrap();
    let convert = [
        "-q",
        "from-tar-split",
        "m.json",
        "--root",
        "root",
        "-o",
        "s.sfd",
        "--no-verify",
    ];
    ok(dir, convert);
    assert_eq!(
        fs::read_to_string(dir.join("s.sfd.fds")).unwrap(),
        "root/a\n"
    );
    assert_eq!(fs::read_to_string(dir.join("s.sfd.sizes")).unwrap(), "3\n");
    assert_eq!(ok(dir, ["join", "s.sfd"]), b"headerabcheaderabc");
    fs::write(dir.join("root/a"), b"abcd").unwrap();
    fails(
        dir,
        ["join", "s.sfd", "-o", "out.tar"],
        &["root/a", "3", "4"],
    );
    fails(dir, ["verify", "s.sfd"], &["root/a"]);
    // One name with two sizes cannot rebuild a tar.
    metadata.push_str(&file_entry("a", 4));
    fs::write(dir.join("m.json"), &metadata).unwrap();
    fails(
        dir,
        convert,
        &["root/a is named again with 4 bytes, after 3 bytes"],
    );
}

/// `--format dir`: the root is directory 0 and members are named beneath it; the member
/// whose name is not UTF-8 and the ones reached through a symbolic link travel inline; the
/// reference implementation rebuilds the same tar from the root.
#[cfg(target_os = "linux")]
#[test]
fn the_dir_format_names_members_beneath_the_root_or_sends_them_inline() {
    use composefs_splitdirfdstream as reference;
    use std::os::fd::AsFd;

    if !have_tools("the_dir_format_names_members_beneath_the_root_or_sends_them_inline") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    layer(dir);
    // etc/ reached through a symbolic link that stays beneath the root: the consumer's
    // policy would follow it, ours refuses to name a file that is not at its real path.
    fs::rename(dir.join("root/etc"), dir.join("root/real-etc")).unwrap();
    std::os::unix::fs::symlink("real-etc", dir.join("root/etc")).unwrap();
    let tar = fs::read(dir.join("layer.tar")).unwrap();

    let out = run_ok_stderr(
        dir,
        &[
            "from-tar-split",
            "--format",
            "dir",
            "layer.json.gz",
            "--root",
            "root",
            "-o",
            "s.sdfs",
        ],
    );
    assert!(
        out.contains("named beneath directory 0, 3 sent inline"),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("s.sdfs.dirs")).unwrap(),
        "root\n"
    );
    assert!(!dir.join("s.sdfs.fds").exists());
    ok(dir, ["join", "s.sdfs", "-o", "joined.tar"]);
    assert!(fs::read(dir.join("joined.tar")).unwrap() == tar);

    // Named members by their path beneath the root; the others inline, CRC-checked.
    let json = common::inspect_json(dir, "s.sdfs");
    let names: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"big") && names.contains(&"n".repeat(140).as_str()));
    assert!(names
        .iter()
        .all(|name| !name.starts_with("etc") && !name.starts_with("caf")));
    assert_eq!(json["max_dir_index"], 0);
    assert!(json["inline_chunks"].as_u64().unwrap() >= 3);

    let stream = fs::read(dir.join("s.sdfs")).unwrap();
    let root = fs::File::open(dir.join("root")).unwrap();
    let mut rebuilt = Vec::new();
    reference::reconstruct(&stream[..], &[root.as_fd()], &mut rebuilt).unwrap();
    assert!(rebuilt == tar);

    // A member sent inline is still checked against its CRC-64.
    fs::write(dir.join("root/real-etc/config"), b"key = VALUE\n").unwrap();
    fails(
        dir,
        [
            "from-tar-split",
            "--format",
            "dir",
            "layer.json.gz",
            "--root",
            "root",
            "-o",
            "t.sdfs",
        ],
        &["CRC-64 mismatch", "config"],
    );
    assert!(!dir.join("t.sdfs").exists() && !dir.join("t.sdfs.dirs").exists());
    // A symbolic link that leaves the root is never followed, even to send inline.
    fs::remove_file(dir.join("root/etc")).unwrap();
    std::os::unix::fs::symlink(dir.join("root/real-etc"), dir.join("root/etc")).unwrap();
    fails(
        dir,
        [
            "from-tar-split",
            "--format",
            "dir",
            "layer.json.gz",
            "--root",
            "root",
            "-o",
            "t.sdfs",
        ],
        &["etc/con"],
    );
    assert!(!dir.join("t.sdfs").exists() && !dir.join("t.sdfs.dirs").exists());
}

/// Runs the command, asserting success; returns stderr.
#[cfg(target_os = "linux")]
fn run_ok_stderr(dir: &Path, args: &[&str]) -> String {
    let output = common::run(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    stderr
}
