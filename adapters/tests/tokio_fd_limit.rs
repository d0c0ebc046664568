//! 60,000 sources reconstruct on tokio under `ulimit -n 256`, through the same bounded
//! cache of lazily opened files as the blocking adapter.
//!
//! The test re-runs itself in a child process whose open-file limit `sh`'s `ulimit`
//! lowered, so the limit is real and does not leak into other tests.
#![cfg(all(feature = "tokio-1", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::io::{self, Write};
use std::process::Command;
use std::sync::Arc;

use common::{encode, Item};
use splitfdstream_adapters::std::{PathSources, DEFAULT_OPEN_FILES};
use splitfdstream_adapters::tokio_1::reconstruct;

const CHILD: &str = "SPLITFDSTREAM_TOKIO_FD_LIMIT_CHILD";
const SOURCES: usize = 60_000;
const LIMIT: usize = 256;

#[test]
fn sixty_thousand_sources_reconstruct_on_tokio_under_ulimit_256() {
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
            "sixty_thousand_sources_reconstruct_on_tokio_under_ulimit_256",
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

    // A multi-thread runtime, its blocking pool, and the stream and output as files.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sources = Arc::new(sources);
    let stream_path = dir.path().join("stream");
    let out_path = dir.path().join("out");
    std::fs::write(&stream_path, &stream).unwrap();
    let written = runtime.block_on(async {
        let stream = tokio::fs::File::open(&stream_path).await.unwrap();
        let mut out = tokio::fs::File::create(&out_path).await.unwrap();
        let written = reconstruct(stream, Arc::clone(&sources), &mut out)
            .await
            .unwrap();
        out.sync_all().await.unwrap();
        written
    });
    assert_eq!(written, u64::try_from(expected.len()).unwrap());
    assert!(
        std::fs::read(&out_path).unwrap() == expected,
        "rebuilt bytes differ"
    );
    assert!(sources.open_files() <= DEFAULT_OPEN_FILES);
    let _ = io::stdout().flush();
    println!("child: rebuilt {written} bytes from {SOURCES} sources under ulimit -n {LIMIT}");
}
