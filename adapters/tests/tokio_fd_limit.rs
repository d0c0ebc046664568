//! 60,000 sources reconstruct on tokio under `ulimit -n 256`, through the same bounded
//! cache of lazily opened files as the blocking adapter.
//!
//! The test re-runs itself in a child process whose open-file limit `sh`'s `ulimit`
//! lowered, so the limit is real and does not leak into other tests.
#![cfg(all(feature = "tokio-1", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{self, Write};
use std::sync::Arc;

use common::fd_limit::{in_child_under_limit, Layer, LIMIT, SOURCES};
use splitfdstream_adapters::std::DEFAULT_OPEN_FILES;
use splitfdstream_adapters::tokio_1::reconstruct;

#[test]
fn sixty_thousand_sources_reconstruct_on_tokio_under_ulimit_256() {
    in_child_under_limit(
        "sixty_thousand_sources_reconstruct_on_tokio_under_ulimit_256",
        "SPLITFDSTREAM_TOKIO_FD_LIMIT_CHILD",
        child,
    );
}

fn child() {
    let Layer {
        dir,
        sources,
        stream,
        expected,
    } = Layer::new();
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
