//! Bad input: each case exits 1 with one clear `error:` line and leaves no partial output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::path::Path;

use common::{fails, ok};

/// A small tar made in-process, split into `layer.sfd` with its objects and fd list.
fn split_layer(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in [("a", vec![b'a'; 3000]), ("b", b"bee\n".to_vec())] {
        let mut header = tar::Header::new_gnu();
        header.set_size(u64::try_from(content.len()).unwrap());
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, content.as_slice())
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    fs::write(dir.join("layer.tar"), &tar).unwrap();
    ok(dir, ["-q", "split", "layer.tar", "-o", "layer.sfd"]);
    tar
}

/// Nothing but `expected` in `dir`: no output, no temporary file.
fn only(dir: &Path, expected: &[&str]) {
    let mut found = common::names(dir);
    found.sort();
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(found, expected);
}

const LAYER: [&str; 5] = [
    "layer.tar",
    "layer.sfd",
    "layer.sfd.fds",
    "layer.sfd.sizes",
    "layer.sfd.objects",
];

fn object_paths(dir: &Path) -> Vec<String> {
    let list = fs::read_to_string(dir.join("layer.sfd.fds")).unwrap();
    list.lines().map(str::to_owned).collect()
}

#[test]
fn truncated_stream() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let stream = fs::read(dir.join("layer.sfd")).unwrap();
    for cut in [stream.len() - 3, stream.len() - 100, 5] {
        fs::write(dir.join("layer.sfd"), &stream[..cut]).unwrap();
        fails(
            dir,
            ["join", "layer.sfd", "-o", "out.tar"],
            &["cannot join layer.sfd", "truncated"],
        );
        fails(dir, ["verify", "layer.sfd"], &["truncated"]);
        fails(dir, ["inspect", "layer.sfd", "--json"], &["truncated"]);
        only(dir, &LAYER);
    }
}

#[test]
fn index_beyond_the_fd_list() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let mut stream = fs::read(dir.join("layer.sfd")).unwrap();
    stream.extend_from_slice(&5u64.to_le_bytes());
    fs::write(dir.join("layer.sfd"), stream).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &[
            "the fd list layer.sfd.fds has 2 entries",
            "external source 5: no such source",
        ],
    );
    only(dir, &LAYER);
}

#[test]
fn missing_object() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let objects = object_paths(dir);
    fs::remove_file(dir.join(&objects[1])).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &[
            "external source 1",
            &objects[1],
            "No such file or directory",
        ],
    );
    only(dir, &LAYER);
}

#[test]
fn unreadable_object() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let objects = object_paths(dir);
    // Permission bits do not stop root; a directory in the object's place cannot be read
    // by anyone.
    fs::remove_file(dir.join(&objects[0])).unwrap();
    fs::create_dir(dir.join(&objects[0])).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &["external source 0", &objects[0], "is a directory"],
    );
    fails(dir, ["verify", "layer.sfd"], &["is a directory"]);
    only(dir, &LAYER);
}

#[test]
fn unreadable_object_by_permissions() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let objects = object_paths(dir);
    let path = dir.join(&objects[0]);
    // A symlink loop cannot be opened by anyone, root included.
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(path.file_name().unwrap(), &path).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &["external source 0", &objects[0], "symbolic links"],
    );
    fails(
        dir,
        ["verify", "layer.sfd"],
        &[&objects[0], "symbolic links"],
    );
    only(dir, &LAYER);
    if common::is_root() {
        eprintln!("unreadable_object_by_permissions: root reads mode-0000 files; checked a symlink loop only");
        return;
    }
    fs::remove_file(&path).unwrap();
    fs::write(&path, vec![b'a'; 3000]).unwrap();
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &["Permission denied"],
    );
    only(dir, &LAYER);
}

/// Runs the command with a time limit, since a FIFO source could block it forever, and
/// asserts that it fails with one `error:` line holding every one of `needles`.
fn fails_promptly(dir: &Path, args: &[&str], needles: &[&str]) {
    let output = std::process::Command::new("timeout")
        .arg("60")
        .arg(common::bin())
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
}

#[test]
fn non_regular_sources_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    common::sh(dir, "mkfifo fifo");
    fs::write(dir.join("s.sfd"), 0u64.to_le_bytes()).unwrap();
    for source in ["fifo", "/dev/zero"] {
        fs::write(dir.join("s.sfd.fds"), format!("{source}\n")).unwrap();
        let needles = [source, "must be a regular file"];
        fails_promptly(dir, &["join", "s.sfd", "-o", "out.tar"], &needles);
        fails_promptly(dir, &["verify", "s.sfd"], &needles);
        only(dir, &["fifo", "s.sfd", "s.sfd.fds"]);
    }
}

#[test]
fn object_whose_size_changed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let tar = split_layer(dir);
    let objects = object_paths(dir);
    assert_eq!(
        fs::read_to_string(dir.join("layer.sfd.sizes")).unwrap(),
        "3000\n4\n"
    );
    let first = dir.join(&objects[0]);
    let second = dir.join(&objects[1]);
    let original = fs::read(&first).unwrap();
    // Truncated: the rebuilt tar would be short and misaligned.
    set_content(&first, &original[..100]);
    for args in [
        &["join", "layer.sfd", "-o", "out.tar"][..],
        &["verify", "layer.sfd"],
    ] {
        fails(dir, args, &[&objects[0], "3000", "100"]);
    }
    only(dir, &LAYER);
    set_content(&first, &original);
    // Appended to: the member's header still says 4 bytes.
    set_content(&second, b"bee\nand more\n");
    for args in [
        &["join", "layer.sfd", "-o", "out.tar"][..],
        &["verify", "layer.sfd"],
    ] {
        fails(dir, args, &[&objects[1], "4"]);
    }
    only(dir, &LAYER);
    // Without a sizes file the change cannot be seen; the intact layer still joins.
    set_content(&second, b"bee\n");
    ok(dir, ["join", "layer.sfd", "-o", "out.tar"]);
    assert!(fs::read(dir.join("out.tar")).unwrap() == tar);
}

/// Replaces a read-only object's content.
fn set_content(path: &Path, content: &[u8]) {
    fs::remove_file(path).unwrap();
    fs::write(path, content).unwrap();
}

#[test]
fn bad_sizes_file() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    fs::write(dir.join("layer.sfd.sizes"), "3000\n").unwrap();
    for args in [
        &["join", "layer.sfd", "-o", "out.tar"][..],
        &["verify", "layer.sfd"],
    ] {
        fails(
            dir,
            args,
            &["the sizes file layer.sfd.sizes has 1 line, the fd list layer.sfd.fds has 2 entries"],
        );
    }
    fs::write(dir.join("layer.sfd.sizes"), "3000\n4\n5\n").unwrap();
    fails(dir, ["verify", "layer.sfd"], &["has 3 lines"]);
    fs::write(dir.join("layer.sfd.sizes"), "3000\nfour\n").unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "out.tar"],
        &[
            "invalid sizes file layer.sfd.sizes",
            "line 2",
            "not a size in bytes",
        ],
    );
    fs::write(dir.join("layer.sfd.sizes"), "3000\n99999999999999999999\n").unwrap();
    fails(
        dir,
        ["verify", "layer.sfd"],
        &[
            "invalid sizes file layer.sfd.sizes",
            "line 2",
            "out of range",
        ],
    );
    only(dir, &LAYER);
    fs::write(dir.join("good.sizes"), "3000\n4\n").unwrap();
    ok(
        dir,
        [
            "join",
            "layer.sfd",
            "--sizes",
            "good.sizes",
            "-o",
            "out.tar",
        ],
    );
    fails(
        dir,
        ["verify", "layer.sfd", "--sizes", "absent.sizes"],
        &["cannot read sizes file absent.sizes"],
    );
}

#[test]
fn object_that_changes_size_while_read() {
    // /proc/self/pagemap reports size 0 when opened and then fills every read: what an
    // object that grew during a join looks like. The join must refuse rather than deliver
    // bytes its size never promised.
    let pagemap = Path::new("/proc/self/pagemap");
    if !pagemap.exists() {
        eprintln!("skipped object_that_changes_size_while_read: no /proc/self/pagemap");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("s.sfd"), 0u64.to_le_bytes()).unwrap();
    fs::write(dir.join("s.sfd.fds"), "/proc/self/pagemap\n").unwrap();
    fails(
        dir,
        ["join", "s.sfd", "-o", "out.tar"],
        &["(/proc/self/pagemap)", "grew while being read"],
    );
    fails(dir, ["verify", "s.sfd"], &["(/proc/self/pagemap)"]);
    only(dir, &["s.sfd", "s.sfd.fds"]);
}

#[test]
fn non_tar_input_to_split() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("text"), "this is not a tar archive\n".repeat(100)).unwrap();
    fs::write(dir.join("short"), "tiny").unwrap();
    fs::write(dir.join("empty"), "").unwrap();
    fs::write(dir.join("gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    let cases = [
        ("text", "the first 512-byte block is not a valid tar header"),
        ("short", "shorter than one 512-byte block"),
        ("empty", "the input is empty"),
    ];
    for (input, message) in cases {
        fails(
            dir,
            ["split", input, "-o", "s.sfd"],
            &["not a tar archive", message],
        );
        only(dir, &["text", "short", "empty", "gz"]);
    }
    fails(
        dir,
        ["split", "gz", "-o", "s.sfd"],
        &["truncated gzip data", "offset 0"],
    );
    only(dir, &["text", "short", "empty", "gz"]);
    fails(
        dir,
        ["split", "absent.tar", "-o", "s.sfd"],
        &["cannot open absent.tar"],
    );
}

#[test]
fn minimum_inline_length() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut stream = i64::MIN.to_le_bytes().to_vec();
    stream.extend_from_slice(b"some bytes");
    fs::write(dir.join("s.sfd"), &stream).unwrap();
    fs::write(dir.join("s.sfd.fds"), "").unwrap();
    fails(
        dir,
        ["join", "s.sfd", "-o", "out.tar"],
        &["truncated", "9223372036854775798 more bytes"],
    );
    fails(dir, ["verify", "s.sfd"], &["truncated"]);
    fails(dir, ["inspect", "s.sfd"], &["truncated"]);
    only(dir, &["s.sfd", "s.sfd.fds"]);
}

#[test]
fn output_directory_not_writable() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    fs::write(dir.join("a-file"), "").unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "missing/out.tar"],
        &["cannot create missing/out.tar"],
    );
    fails(
        dir,
        ["join", "layer.sfd", "-o", "a-file/out.tar"],
        &["cannot create a-file/out.tar"],
    );
    fails(
        dir,
        ["split", "layer.tar", "-o", "missing/s.sfd"],
        &["cannot create missing/s.sfd"],
    );
    // An objects directory that cannot be made: no stream and no fd list either.
    fails(
        dir,
        [
            "split",
            "layer.tar",
            "-o",
            "s.sfd",
            "--objects",
            "a-file/objects",
        ],
        &["cannot create objects directory a-file/objects"],
    );
    // Failures that stop root too: a directory in the output's place, a symlink loop.
    fs::create_dir(dir.join("a-dir")).unwrap();
    std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "-o", "a-dir"],
        &["a-dir", "Is a directory"],
    );
    fails(
        dir,
        ["split", "layer.tar", "-o", "a-dir", "--objects", "objects"],
        &["a-dir", "Is a directory"],
    );
    fails(
        dir,
        ["join", "layer.sfd", "-o", "loop/out.tar"],
        &["cannot create loop/out.tar", "symbolic links"],
    );
    fails(
        dir,
        ["split", "layer.tar", "-o", "loop/s.sfd"],
        &["cannot create loop/s.sfd", "symbolic links"],
    );
    assert!(common::names(&dir.join("a-dir")).is_empty());
    fs::remove_dir(dir.join("a-dir")).unwrap();
    fs::remove_file(dir.join("loop")).unwrap();
    if common::is_root() {
        eprintln!("output_directory_not_writable: root writes to mode-0555 directories; checked missing, looping and non-directory parents");
    } else {
        fs::create_dir(dir.join("ro")).unwrap();
        fs::set_permissions(
            dir.join("ro"),
            std::os::unix::fs::PermissionsExt::from_mode(0o555),
        )
        .unwrap();
        fails(
            dir,
            ["join", "layer.sfd", "-o", "ro/out.tar"],
            &["Permission denied"],
        );
        fs::remove_dir(dir.join("ro")).unwrap();
    }
    let mut expected = LAYER.to_vec();
    expected.push("a-file");
    only(dir, &expected);
}

#[test]
fn failed_split_removes_the_objects_it_wrote() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    // The second object's name is taken by a directory, so storing it fails after the
    // first object was written; the split must take that one back.
    let second = common::sha256_hex(b"bee\n");
    fs::create_dir_all(dir.join("objects").join(&second)).unwrap();
    fails(
        dir,
        ["split", "layer.tar", "-o", "s.sfd", "--objects", "objects"],
        &["cannot store object", &second],
    );
    assert_eq!(common::names(&dir.join("objects")), vec![second]);
    let mut expected = LAYER.to_vec();
    expected.push("objects");
    only(dir, &expected);
}

#[test]
fn bad_fd_list() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    split_layer(dir);
    let list = fs::read_to_string(dir.join("layer.sfd.fds")).unwrap();
    fs::write(dir.join("bad.fds"), format!("{list}with \\t tab\n")).unwrap();
    fails(
        dir,
        ["join", "layer.sfd", "--fds", "bad.fds", "-o", "out.tar"],
        &["invalid fd list bad.fds", "line 3", "unknown escape"],
    );
    fails(
        dir,
        ["join", "layer.sfd", "--fds", "none.fds"],
        &["cannot read fd list none.fds"],
    );
    fs::write(dir.join("empty-line.fds"), format!("{list}\n")).unwrap();
    fails(
        dir,
        ["verify", "layer.sfd", "--fds", "empty-line.fds"],
        &["invalid fd list empty-line.fds", "line 3", "empty path"],
    );
    fs::write(dir.join("lone.fds"), format!("{list}ends\\")).unwrap();
    fails(
        dir,
        ["verify", "layer.sfd", "--fds", "lone.fds"],
        &["invalid fd list lone.fds", "line 3", "lone backslash"],
    );
    // No stream: named before anything else is read.
    fails(
        dir,
        [
            "join",
            "absent.sfd",
            "--fds",
            "layer.sfd.fds",
            "-o",
            "out.tar",
        ],
        &["cannot open absent.sfd", "No such file"],
    );
    fails(dir, ["verify", "absent.sfd"], &["cannot open absent.sfd"]);
    let mut expected = LAYER.to_vec();
    expected.extend(["bad.fds", "empty-line.fds", "lone.fds"]);
    only(dir, &expected);
}

#[test]
fn random_streams_never_panic() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("a"), b"source a").unwrap();
    fs::write(dir.join("s.sfd.fds"), "a\na\n/proc/self/status\n").unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..40 {
        let mut stream = Vec::new();
        for _ in 0..next() % 6 {
            // Small indices, small and huge inline lengths, and random prefixes.
            let prefix: i64 = match next() % 4 {
                0 => i64::try_from(next() % 4).unwrap(),
                1 => -i64::try_from(next() % 12).unwrap(),
                2 => i64::from_le_bytes(next().to_le_bytes()),
                _ => i64::MIN,
            };
            stream.extend_from_slice(&prefix.to_le_bytes());
            let body = usize::try_from(next() % 10).unwrap();
            stream.extend(std::iter::repeat_n(b'x', body));
        }
        fs::write(dir.join("s.sfd"), &stream).unwrap();
        for args in [
            &["inspect", "s.sfd"][..],
            &["inspect", "--json", "s.sfd"],
            &["join", "s.sfd", "-o", "out"],
            &["verify", "s.sfd"],
        ] {
            let output = common::run(dir, args);
            let code = output.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "{args:?} on {stream:?}: {output:?}"
            );
            if code == Some(1) {
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    stderr.starts_with("error: ") && stderr.lines().count() == 1,
                    "{stderr}"
                );
            }
        }
        let _ = fs::remove_file(dir.join("out"));
    }
}
