//! The command line itself: help, usage errors, output formats, the fd list's escapes and
//! the demo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;

use common::{ok, run};

const SUBCOMMANDS: [&str; 7] = [
    "split",
    "join",
    "from-tar-split",
    "inspect",
    "verify",
    "convert",
    "demo",
];

#[test]
fn every_subcommand_has_help_with_an_example() {
    let work = tempfile::tempdir().unwrap();
    for subcommand in SUBCOMMANDS {
        let help = String::from_utf8(ok(work.path(), [subcommand, "--help"])).unwrap();
        assert!(help.contains("Example:"), "{subcommand}: {help}");
        assert!(
            help.contains(&format!("splitfdstream {subcommand}")),
            "{subcommand}: {help}"
        );
    }
    let help = String::from_utf8(ok(work.path(), ["--help"])).unwrap();
    for subcommand in SUBCOMMANDS {
        assert!(help.contains(subcommand), "{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let work = tempfile::tempdir().unwrap();
    for args in [
        &["split"][..],
        &["join"],
        &["frobnicate"],
        &["inspect", "x", "--bogus"],
        &[],
    ] {
        let output = run(work.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("Usage"),
            "{args:?}"
        );
    }
    assert!(run(work.path(), ["--version"]).status.success());
}

fn inline(bytes: &[u8]) -> Vec<u8> {
    let len = i64::try_from(bytes.len()).unwrap();
    let mut chunk = (-len).to_le_bytes().to_vec();
    chunk.extend_from_slice(bytes);
    chunk
}

#[test]
fn inspect_lists_chunks_and_summarises() {
    let work = tempfile::tempdir().unwrap();
    let mut stream = inline(b"hello");
    for index in [3u64, 3, 0, 1 << 40] {
        stream.extend_from_slice(&index.to_le_bytes());
    }
    stream.extend_from_slice(&inline(b"!"));
    fs::write(work.path().join("s.sfd"), &stream).unwrap();

    let json: serde_json::Value =
        serde_json::from_slice(&ok(work.path(), ["inspect", "s.sfd", "--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "chunks": 6,
            "inline_chunks": 2,
            "inline_bytes": 6,
            "external_chunks": 4,
            "distinct_indices": 3,
            "max_index": 1u64 << 40,
            "stream_bytes": 54,
            "compression": null,
        })
    );

    let text = String::from_utf8(ok(work.path(), ["inspect", "s.sfd"])).unwrap();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[1], ["0", "inline", "5"]);
    assert_eq!(lines[2], ["13", "external", "3"]);
    assert_eq!(lines[5], ["37", "external", "1099511627776"]);
    assert_eq!(lines[6], ["45", "inline", "1"]);
    assert!(lines[7]
        .join(" ")
        .starts_with("6 chunks: 2 inline (6 bytes), 4 external (3 distinct"));

    fs::write(work.path().join("empty.sfd"), b"").unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&ok(work.path(), ["inspect", "empty.sfd", "--json"])).unwrap();
    assert_eq!(json["chunks"], 0);
    assert!(json["max_index"].is_null());
}

#[test]
fn fd_list_escapes_and_relative_paths() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir(dir.join("lists")).unwrap();
    fs::create_dir(dir.join("data")).unwrap();
    // A name with a newline, a backslash and a byte that is not UTF-8.
    let name = b"new\nline\\back\xff";
    fs::write(dir.join("data").join(OsStr::from_bytes(name)), b"[escaped]").unwrap();
    fs::write(dir.join("data/plain"), b"[plain]").unwrap();
    let absolute = dir.join("data/plain");
    let mut list = b"../data/new\\nline\\\\back\xff\n".to_vec();
    list.extend_from_slice(absolute.as_os_str().as_bytes());
    list.push(b'\n');
    fs::write(dir.join("lists/s.fds"), list).unwrap();
    let mut stream = inline(b"<");
    stream.extend_from_slice(&0u64.to_le_bytes());
    stream.extend_from_slice(&1u64.to_le_bytes());
    stream.extend_from_slice(&0u64.to_le_bytes());
    fs::write(dir.join("s.sfd"), stream).unwrap();
    // Relative entries resolve against the list's directory, not the current one.
    let joined = ok(dir, ["join", "s.sfd", "--fds", "lists/s.fds"]);
    assert_eq!(joined, b"<[escaped][plain][escaped]");
}

#[test]
fn split_writes_relative_lists_and_dedups() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    for name in ["one", "two", "three"] {
        let content: &[u8] = if name == "two" {
            b"different"
        } else {
            b"same content"
        };
        let mut header = tar::Header::new_ustar();
        header.set_size(u64::try_from(content.len()).unwrap());
        header.set_cksum();
        builder.append_data(&mut header, name, content).unwrap();
    }
    fs::write(dir.join("layer.tar"), builder.into_inner().unwrap()).unwrap();
    fs::create_dir(dir.join("out")).unwrap();
    let output = run(dir, ["split", "layer.tar", "-o", "out/layer.sfd"]);
    assert!(output.status.success());
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.contains("3 member contents in 2 distinct objects"),
        "{summary}"
    );
    let list = fs::read_to_string(dir.join("out/layer.sfd.fds")).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines,
        [
            format!("layer.sfd.objects/{}", common::sha256_hex(b"same content")),
            format!("layer.sfd.objects/{}", common::sha256_hex(b"different")),
        ]
    );
    let json = common::inspect_json(dir, "out/layer.sfd");
    assert_eq!(json["external_chunks"], 3);
    assert_eq!(json["distinct_indices"], 2);
    // The objects are read-only: they are shared by every stream that names them.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(dir.join("out").join(lines[0]))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o222, 0);
    // Splitting again reuses the stored objects.
    ok(
        dir,
        [
            "-q",
            "split",
            "layer.tar",
            "-o",
            "out/again.sfd",
            "--objects",
            "out/layer.sfd.objects",
        ],
    );
    assert_eq!(common::names(&dir.join("out/layer.sfd.objects")).len(), 2);
    assert_eq!(
        ok(dir, ["join", "out/again.sfd"]),
        fs::read(dir.join("layer.tar")).unwrap()
    );
}

#[test]
fn quiet_prints_only_results() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_cksum();
    builder.append_data(&mut header, "f", &b"abc"[..]).unwrap();
    fs::write(dir.join("layer.tar"), builder.into_inner().unwrap()).unwrap();
    let output = run(dir, ["--quiet", "split", "layer.tar", "-o", "s.sfd"]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    let output = run(dir, ["split", "layer.tar", "-o", "t.sfd"]);
    assert!(!output.stderr.is_empty(), "not quiet: a summary");
    let output = run(dir, ["-q", "verify", "s.sfd"]);
    assert!(output.stderr.is_empty());
    let size = fs::metadata(dir.join("layer.tar")).unwrap().len();
    let expected = format!("{}  {size}\n", common::sha256sum(&dir.join("layer.tar")));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
    // Progress bars are drawn only on a terminal: with stderr a pipe, nothing but results.
    let output = run(dir, ["join", "s.sfd", "-o", "out.tar"]);
    assert!(output.stderr.is_empty() && output.stdout.is_empty());
}

#[test]
fn join_to_stdout_and_over_an_existing_file() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("src"), b"payload").unwrap();
    fs::write(dir.join("s.sfd.fds"), b"src\n").unwrap();
    let mut stream = inline(b"head:");
    stream.extend_from_slice(&0u64.to_le_bytes());
    fs::write(dir.join("s.sfd"), stream).unwrap();
    assert_eq!(ok(dir, ["join", "s.sfd"]), b"head:payload");
    assert_eq!(ok(dir, ["join", "s.sfd", "-o", "-"]), b"head:payload");
    fs::write(dir.join("out"), b"old and longer content").unwrap();
    ok(dir, ["join", "s.sfd", "-o", "out"]);
    assert_eq!(fs::read(dir.join("out")).unwrap(), b"head:payload");
    // A device is written in place, not replaced.
    ok(dir, ["join", "s.sfd", "-o", "/dev/null"]);
}

#[test]
fn demo_round_trips_a_generated_tree() {
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), ["demo"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("identical: the rebuilt tar matches the original byte for byte"),
        "{stdout}"
    );
    assert!(stdout.contains("dedup"), "{stdout}");
    assert!(
        stdout.contains("6 source descriptors over a Unix socket (SCM_RIGHTS) to receiver process"),
        "{stdout}"
    );
    assert!(stdout.contains("/s)"), "throughput: {stdout}");
    // The successor format: the stream and one directory, whatever the number of files.
    assert!(
        stdout.contains("stream + 1 directory descriptor over a Unix socket (SCM_RIGHTS)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("descriptors passed: splitfdstream 7, splitdirfdstream 2"),
        "{stdout}"
    );
    assert!(stdout.contains("in both formats"), "{stdout}");
    // Nothing left behind in the working directory.
    assert!(common::names(work.path()).is_empty());
}

#[test]
fn demo_takes_an_input_tar() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_cksum();
    builder
        .append_data(&mut header, "given", &b"12345"[..])
        .unwrap();
    fs::write(dir.join("mine.tar"), builder.into_inner().unwrap()).unwrap();
    let stdout = String::from_utf8(ok(dir, ["demo", "--input", "mine.tar"])).unwrap();
    assert!(stdout.contains("input     mine.tar"), "{stdout}");
    assert!(stdout.contains("identical"), "{stdout}");
    let output = run(dir, ["demo", "--input", "absent.tar"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn demo_with_more_sources_than_open_files_joins_from_paths() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..200 {
        let content = format!("file {i}\n");
        let mut header = tar::Header::new_gnu();
        header.set_size(u64::try_from(content.len()).unwrap());
        header.set_cksum();
        builder
            .append_data(&mut header, format!("f{i}"), content.as_bytes())
            .unwrap();
    }
    fs::write(dir.join("many.tar"), builder.into_inner().unwrap()).unwrap();
    let script = format!(
        "ulimit -n 64 && exec {} demo --input many.tar",
        common::bin()
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("200 sources are more than this process may open at once"),
        "{stdout}"
    );
    // The successor format passes its 200 files as one directory.
    assert!(
        stdout.contains("descriptors passed: splitfdstream none (too many to pass; rebuilt from paths), splitdirfdstream 2"),
        "{stdout}"
    );
    assert!(stdout.contains("identical"), "{stdout}");
}

#[test]
fn large_members_join_into_files_and_pipes() {
    // Members above the kernel-copy threshold go through the kernel's copies into a file
    // and into a pipe; both must give the same bytes as the archive.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    for (i, len) in [3_000_000usize, 200_000, 5, 1 << 20]
        .into_iter()
        .enumerate()
    {
        let content: Vec<u8> = (0..len)
            .map(|b| u8::try_from((b * 7 + i) % 251).unwrap())
            .collect();
        let mut header = tar::Header::new_gnu();
        header.set_size(u64::try_from(len).unwrap());
        header.set_cksum();
        builder
            .append_data(&mut header, format!("m{i}"), content.as_slice())
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    fs::write(dir.join("layer.tar"), &tar).unwrap();
    ok(dir, ["-q", "split", "layer.tar", "-o", "layer.sfd"]);
    assert!(ok(dir, ["join", "layer.sfd"]) == tar);
    ok(dir, ["join", "layer.sfd", "-o", "joined.tar"]);
    assert!(fs::read(dir.join("joined.tar")).unwrap() == tar);
    // Without waiting for the disk: the same bytes, renamed into place, nothing left over.
    ok(dir, ["join", "--no-sync", "layer.sfd", "-o", "fast.tar"]);
    assert!(fs::read(dir.join("fast.tar")).unwrap() == tar);
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn progress_bars_only_on_a_terminal() {
    // `script` runs the command on a pseudo-terminal, as a person would.
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_script {
        eprintln!(
            "skipped progress_bars_only_on_a_terminal: `script` (util-linux) is not installed"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(Vec::new());
    let content = vec![7u8; 4 << 20];
    let mut header = tar::Header::new_gnu();
    header.set_size(u64::try_from(content.len()).unwrap());
    header.set_cksum();
    builder
        .append_data(&mut header, "big", content.as_slice())
        .unwrap();
    fs::write(dir.join("layer.tar"), builder.into_inner().unwrap()).unwrap();
    let on_terminal = |args: &str| {
        let command = format!("{} {args}", common::bin());
        let output = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{command}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shown = on_terminal("split layer.tar -o a.sfd");
    assert!(
        shown.contains(" split ["),
        "a bar on the terminal: {shown:?}"
    );
    let quiet = on_terminal("--quiet split layer.tar -o b.sfd");
    assert!(!quiet.contains('['), "no bar with --quiet: {quiet:?}");
    let joined = on_terminal("join a.sfd -o joined.tar");
    assert!(joined.contains("join ["), "{joined:?}");
    assert_eq!(
        fs::read(dir.join("joined.tar")).unwrap(),
        fs::read(dir.join("layer.tar")).unwrap()
    );
}
