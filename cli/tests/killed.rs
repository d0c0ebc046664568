//! A `join` or `split` killed with SIGKILL in the middle of writing leaves no file in the
//! output directory, and the previous output, if any, exactly as it was.
//!
//! The input comes through a pipe that the test keeps open, so the command cannot finish:
//! the kill lands after the output has taken many bytes (read from the output's position
//! in `/proc/PID/fdinfo`), and before anything could be committed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bytes written so far to the file the process has open in `dir` (a temporary one:
/// nothing else there is open for writing), when it has one.
fn written_in(pid: u32, dir: &Path) -> Option<u64> {
    let dir = dir.to_string_lossy().into_owned();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    for entry in fds.flatten() {
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let inside = target
            .strip_prefix(&dir)
            .is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'));
        if !inside {
            continue;
        }
        let fd = entry.file_name();
        let info =
            fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.to_string_lossy())).ok()?;
        let pos = info
            .lines()
            .find_map(|line| line.strip_prefix("pos:"))
            .and_then(|pos| pos.trim().parse().ok());
        if pos.is_some() {
            return pos;
        }
    }
    None
}

/// Waits until `child` has written at least `bytes` to a file in `dir`.
fn wait_for_bytes(child: &mut Child, dir: &Path, bytes: u64) {
    let started = Instant::now();
    loop {
        if written_in(child.id(), dir).is_some_and(|pos| pos >= bytes) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the command ended before the kill: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no {bytes} bytes written in {} after 120 s",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

/// Every file under `dir` (recursively) with its size and SHA-256; directories are walked,
/// not listed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(at) = dirs.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                files.push((path, bytes.len(), common::sha256_hex(&bytes)));
            }
        }
    }
    files.sort();
    files
}

const MIB: usize = 1 << 20;

#[test]
fn killed_join_leaves_nothing_and_the_previous_output_intact() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().canonicalize().unwrap();
    let source: Vec<u8> = (0..MIB).map(|i| u8::try_from(i % 251).unwrap()).collect();
    fs::write(dir.join("source"), &source).unwrap();
    fs::write(dir.join("list.fds"), "source\n").unwrap();
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    for previous in [None, Some(b"the previous output\n".repeat(1000))] {
        if let Some(previous) = &previous {
            fs::write(out.join("joined.tar"), previous).unwrap();
        }
        let before = snapshot(&out);
        let mut child = Command::new(common::bin())
            .args(["--quiet", "join", "/dev/stdin", "--fds"])
            .arg(dir.join("list.fds"))
            .arg("-o")
            .arg(out.join("joined.tar"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // 64 references to the 1 MiB source; the stream stays open, so the join cannot end.
        let mut stream = child.stdin.take().unwrap();
        for _ in 0..64 {
            stream.write_all(&0u64.to_le_bytes()).unwrap();
        }
        stream.flush().unwrap();
        wait_for_bytes(&mut child, &out, 16 << 20);
        kill(child);
        drop(stream);
        assert_eq!(snapshot(&out), before, "previous output: {previous:?}");
    }
}

/// A tar header for a member of `len` bytes.
fn header(name: &str, len: usize) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_size(u64::try_from(len).unwrap());
    header.set_mode(0o644);
    header.set_cksum();
    header.as_bytes().to_vec()
}

#[test]
fn killed_split_leaves_nothing_and_the_previous_output_intact() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().canonicalize().unwrap();
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    // A previous split into the same place: stream, fd list, sizes file and objects.
    let mut previous = tar::Builder::new(Vec::new());
    let mut member = tar::Header::new_gnu();
    member.set_size(5);
    member.set_cksum();
    previous
        .append_data(&mut member, "small", &b"small"[..])
        .unwrap();
    fs::write(dir.join("previous.tar"), previous.into_inner().unwrap()).unwrap();
    for previous in [false, true] {
        if previous {
            common::ok(&dir, ["-q", "split", "previous.tar", "-o", "out/layer.sfd"]);
        }
        let before = snapshot(&out);
        let mut child = Command::new(common::bin())
            .args(["--quiet", "split", "-", "-o"])
            .arg(out.join("layer.sfd"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // One member of 64 MiB, of which 24 MiB arrive: large enough to go to its object
        // file as it is read; the pipe stays open, so the split cannot end.
        let mut tar = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let mut content = header("big", 64 * MIB);
            content.extend((0..24 * MIB).map(|i| u8::try_from(i % 253).unwrap()));
            // Fails with EPIPE once the split is killed.
            let _ = tar.write_all(&content);
            tar
        });
        wait_for_bytes(&mut child, &out.join("layer.sfd.objects"), 16 << 20);
        kill(child);
        drop(feeder.join().unwrap());
        // Without a previous split, the objects directory the killed one made stays,
        // empty: the object being written had no name yet.
        assert_eq!(snapshot(&out), before, "previous output: {previous}");
    }
}
