//! 60,000 sources reconstruct under `ulimit -n 256`, which the format's first
//! implementation (every descriptor open at once) cannot do.
//!
//! The test re-runs itself in a child process whose open-file limit `sh`'s `ulimit`
//! lowered, so the limit is real and does not leak into other tests.
#![cfg(all(feature = "std", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::process::Command;

use common::{encode, Item};
use splitfdstream_adapters::std::{reconstruct, PathSources, SeekableReconstructor};

const CHILD: &str = "SPLITFDSTREAM_FD_LIMIT_CHILD";
const SOURCES: usize = 60_000;
const LIMIT: usize = 256;

#[test]
fn sixty_thousand_sources_reconstruct_under_ulimit_256() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([
            "--exact",
            "sixty_thousand_sources_reconstruct_under_ulimit_256",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{log}");
    assert!(
        log.contains("child: rebuilt"),
        "the child did not run the check:\n{log}"
    );
}

fn open_file_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(LIMIT)
}

fn child() {
    assert!(open_file_limit() <= LIMIT, "the limit was not lowered");
    let dir = tempfile::tempdir().unwrap();
    let mut sources = PathSources::new();
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for i in 0..SOURCES {
        let path = dir.path().join(i.to_string());
        let content = format!("content of {i}\n").repeat(1 + i % 3);
        File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        sources.push(path);
        let header = format!("<{i}>");
        items.push(Item::Inline(header.clone().into_bytes()));
        items.push(Item::External(u64::try_from(i).unwrap()));
        expected.extend_from_slice(header.as_bytes());
        expected.extend_from_slice(content.as_bytes());
    }
    // Reference an early source again at the end: it was evicted and must reopen.
    items.push(Item::External(0));
    expected.extend_from_slice(b"content of 0\n");
    let stream = encode(&items);

    // What needing every descriptor at once runs into here.
    let mut all_open = Vec::new();
    let error = (0..SOURCES)
        .map(|i| File::open(dir.path().join(i.to_string())))
        .find_map(|opened| opened.map(|file| all_open.push(file)).err())
        .expect("opening every source at once should hit the limit");
    assert_eq!(
        error.raw_os_error(),
        Some(24),
        "expected EMFILE, got {error}"
    );
    drop(all_open);

    let mut out = Vec::new();
    let written = reconstruct(stream.as_slice(), &sources, &mut out).unwrap();
    assert_eq!(written, u64::try_from(expected.len()).unwrap());
    assert!(out == expected, "rebuilt bytes differ");
    assert!(sources.open_files() <= splitfdstream_adapters::std::DEFAULT_OPEN_FILES);

    let mut rebuilt = SeekableReconstructor::new(Cursor::new(&stream), &sources).unwrap();
    let mut all = Vec::new();
    rebuilt.read_to_end(&mut all).unwrap();
    assert!(all == expected, "seekable rebuilt bytes differ");
    let _ = io::stdout().flush();
    println!("child: rebuilt {written} bytes from {SOURCES} sources under ulimit -n {LIMIT}");
}
