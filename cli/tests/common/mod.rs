//! Helpers shared by the command's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_splitfdstream")
}

/// Runs the binary with `args` in `dir`; stdin is empty.
pub fn run<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Runs the binary and asserts success; returns stdout.
pub fn ok<I, S>(dir: &Path, args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = run(dir, &args);
    assert!(
        output.status.success(),
        "splitfdstream {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs the binary, asserts exit status 1 with exactly one `error: ` line on stderr that
/// contains every one of `needles`; returns that line.
pub fn fails<I, S>(dir: &Path, args: I, needles: &[&str]) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = run(dir, &args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{args:?}: stderr {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    lines[0].to_owned()
}

/// Whether `program --version` runs and its output contains `marker`; prints why a test
/// is skipped otherwise.
pub fn have(program: &str, marker: &str, test: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(marker));
    if !found {
        eprintln!("skipped {test}: `{program}` ({marker}) is not installed");
    }
    found
}

/// Runs a shell command in `dir`, asserting success.
pub fn sh(dir: &Path, script: &str) -> Output {
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `sha256sum FILE`'s digest.
pub fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Splits `tar` into `stream` (with default objects and fd list), joins it to a new file
/// and checks the bytes; checks `verify` against `sha256sum`. Returns the objects'
/// directory.
pub fn round_trip(dir: &Path, tar: &Path, stream: &str) -> PathBuf {
    round_trip_to(dir, tar, tar, stream)
}

/// As [`round_trip`], for an `input` whose join is `plain` (the input decompressed).
#[allow(dead_code)]
pub fn round_trip_to(dir: &Path, input: &Path, plain: &Path, stream: &str) -> PathBuf {
    let tar = plain;
    ok(
        dir,
        [
            OsStr::new("--quiet"),
            OsStr::new("split"),
            input.as_os_str(),
            OsStr::new("-o"),
            OsStr::new(stream),
        ],
    );
    let joined = dir.join(format!("{stream}.joined"));
    ok(
        dir,
        [
            OsStr::new("join"),
            OsStr::new(stream),
            OsStr::new("-o"),
            joined.as_os_str(),
        ],
    );
    let original = fs::read(tar).unwrap();
    let rebuilt = fs::read(&joined).unwrap();
    assert!(
        original == rebuilt,
        "{}: join is not byte-identical",
        tar.display()
    );
    let verify = String::from_utf8(ok(dir, ["verify", stream])).unwrap();
    let expected = format!("{}  {}\n", sha256sum(tar), original.len());
    assert_eq!(verify, expected, "{}: verify", tar.display());
    fs::remove_file(joined).unwrap();
    dir.join(format!("{stream}.objects"))
}

/// The names of the files in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the tests run as root (device nodes can be made, permissions do not stop us).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `inspect --json` of a stream.
pub fn inspect_json(dir: &Path, stream: &str) -> serde_json::Value {
    serde_json::from_slice(&ok(dir, ["inspect", "--json", stream])).unwrap()
}
