//! Compressed inputs, made by the real tools: GNU tar's `-z`, `--zstd`, `-J`, `-j` and
//! LZ4 (frame and legacy) tars split and join to the uncompressed tar byte for byte,
//! `verify` prints the uncompressed digest, compressed streams are read by every command,
//! and corrupt, truncated or trailing-junk inputs fail naming the format and the offset
//! with nothing left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::path::Path;

use common::{fails, have, inspect_json, names, ok, round_trip_to, sh};

/// The compressors, each as a shell command from stdin to stdout, with the `--version`
/// marker of its tool.
const COMPRESSORS: [(&str, &str, &str, &str); 6] = [
    ("gzip", "gzip -c", "gzip", "gzip"),
    ("zstd", "zstd -q -c", "zstd", "Zstandard"),
    ("xz", "xz -c", "xz", "xz"),
    ("bzip2", "bzip2 -c", "bzip2", "bzip2"),
    ("lz4", "lz4 -q -c", "lz4", "LZ4"),
    ("lz4 (legacy)", "lz4 -q -l -c", "lz4", "LZ4"),
];

fn have_all(test: &str) -> bool {
    let mut all = have("tar", "GNU tar", test);
    for (_, _, tool, marker) in COMPRESSORS {
        all &= tool == "bzip2" || have(tool, marker, test);
    }
    // bzip2 prints its version on stderr.
    all && sh(Path::new("."), "command -v bzip2").status.success()
}

fn tree(dir: &Path) {
    sh(
        dir,
        "mkdir -p src/d && printf hello > src/a && printf hello > src/d/dup && : > src/empty \
         && head -c 300000 /dev/urandom > src/big && ln -s a src/link && ln src/a src/hard",
    );
}

#[test]
fn gnu_tar_compressed_archives_join_to_the_plain_tar() {
    if !have_all("gnu_tar_compressed_archives_join_to_the_plain_tar") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    tree(dir);
    sh(dir, "tar -C src -cf plain.tar .");
    for (flag, name) in [("-z", "gz"), ("--zstd", "zst"), ("-J", "xz"), ("-j", "bz2")] {
        sh(dir, &format!("tar -C src {flag} -cf layer.tar.{name} ."));
        // GNU tar writes the same archive it compresses.
        sh(dir, &format!("tar -C src -cf layer.{name}.tar ."));
        let input = dir.join(format!("layer.tar.{name}"));
        let plain = dir.join(format!("layer.{name}.tar"));
        let objects = round_trip_to(dir, &input, &plain, name);
        assert!(fs::read_dir(objects).unwrap().count() >= 2, "{name}");
    }
    for (label, command, _, _) in COMPRESSORS {
        sh(dir, &format!("{command} < plain.tar > compressed"));
        let objects = round_trip_to(dir, &dir.join("compressed"), &dir.join("plain.tar"), "c");
        assert!(fs::read_dir(&objects).unwrap().count() >= 2, "{label}");
        fs::remove_dir_all(objects).unwrap();
        let report =
            String::from_utf8(common::run(dir, ["split", "compressed", "-o", "c"]).stderr).unwrap();
        assert!(
            report.contains(&format!("input: {label}-compressed")),
            "{label}: {report}"
        );
    }
}

#[test]
fn concatenated_members_and_frames_are_one_input() {
    if !have_all("concatenated_members_and_frames_are_one_input") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    tree(dir);
    sh(dir, "tar -C src -cf plain.tar .");
    // Split the tar in two and compress each half on its own: several gzip members,
    // several zstd frames.
    sh(
        dir,
        "head -c 5120 plain.tar > one && tail -c +5121 plain.tar > two",
    );
    for command in ["gzip -c", "zstd -q -c", "xz -c", "bzip2 -c", "lz4 -q -c"] {
        sh(
            dir,
            &format!("{{ {command} < one; {command} < two; }} > multi"),
        );
        round_trip_to(dir, &dir.join("multi"), &dir.join("plain.tar"), "m");
        fs::remove_dir_all(dir.join("m.objects")).unwrap();
    }
}

#[test]
fn compressed_streams_are_read_by_every_command() {
    if !have_all("compressed_streams_are_read_by_every_command") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    tree(dir);
    sh(dir, "tar -C src -cf plain.tar .");
    ok(dir, ["--quiet", "split", "plain.tar", "-o", "s.sfd"]);
    let expected = common::sha256sum(&dir.join("plain.tar"));
    let plain_summary = inspect_json(dir, "s.sfd");
    assert_eq!(plain_summary["compression"], serde_json::Value::Null);
    sh(dir, "zstd -q --rm s.sfd -o s.zst && mv s.zst s.sfd");
    let summary = inspect_json(dir, "s.sfd");
    assert_eq!(summary["compression"], "zstd");
    assert_eq!(summary["chunks"], plain_summary["chunks"]);
    let listing = String::from_utf8(ok(dir, ["inspect", "s.sfd"])).unwrap();
    assert!(
        listing.starts_with("input: a zstd-compressed stream"),
        "{listing}"
    );
    let verify = String::from_utf8(ok(dir, ["verify", "s.sfd"])).unwrap();
    assert!(verify.starts_with(&expected), "{verify}");
    ok(dir, ["join", "s.sfd", "-o", "joined.tar"]);
    assert_eq!(
        fs::read(dir.join("joined.tar")).unwrap(),
        fs::read(dir.join("plain.tar")).unwrap()
    );
}

#[test]
fn corrupt_truncated_and_trailing_junk_inputs_leave_nothing() {
    if !have_all("corrupt_truncated_and_trailing_junk_inputs_leave_nothing") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    tree(dir);
    sh(dir, "tar -C src -cf plain.tar . && rm -r src");
    let before = |dir: &Path| {
        let mut names = names(dir);
        names.retain(|n| n != "plain.tar");
        names
    };
    for (label, command, _, _) in COMPRESSORS {
        sh(dir, &format!("{command} < plain.tar > whole"));
        let len = fs::metadata(dir.join("whole")).unwrap().len();
        // Truncated.
        sh(dir, &format!("head -c {} whole > bad", len * 2 / 3));
        let line = fails(dir, ["split", "bad", "-o", "s.sfd"], &[label, "offset"]);
        assert!(
            line.contains("truncated") || line.contains("corrupt"),
            "{line}"
        );
        assert_eq!(before(dir), ["bad", "whole"], "{label}");
        // Corrupt: bytes in the middle changed (legacy LZ4 has no checksum).
        if label != "lz4 (legacy)" {
            sh(
                dir,
                &format!(
                    "cp whole bad && printf 'CORRUPTCORRUPT' | dd of=bad bs=1 seek={} conv=notrunc 2>/dev/null",
                    len / 2
                ),
            );
            fails(dir, ["split", "bad", "-o", "s.sfd"], &[label, "offset"]);
            assert_eq!(before(dir), ["bad", "whole"], "{label}");
            // Junk after the member.
            sh(dir, "cp whole bad && printf 'junk after the member' >> bad");
            fails(
                dir,
                ["split", "bad", "-o", "s.sfd"],
                &["junk after the", label, &format!("input offset {len}")],
            );
            assert_eq!(before(dir), ["bad", "whole"], "{label}");
        }
    }
}
