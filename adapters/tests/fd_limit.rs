//! 60,000 sources reconstruct under `ulimit -n 256`, which the format's first
//! implementation (every descriptor open at once) cannot do.
//!
//! The test re-runs itself in a child process whose open-file limit `sh`'s `ulimit`
//! lowered, so the limit is real and does not leak into other tests.
#![cfg(all(feature = "std", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{self, Cursor, Read, Write};

use common::fd_limit::{in_child_under_limit, Layer, LIMIT, SOURCES};
use splitfdstream_adapters::std::{reconstruct, SeekableReconstructor, DEFAULT_OPEN_FILES};

#[test]
fn sixty_thousand_sources_reconstruct_under_ulimit_256() {
    in_child_under_limit(
        "sixty_thousand_sources_reconstruct_under_ulimit_256",
        "SPLITFDSTREAM_FD_LIMIT_CHILD",
        child,
    );
}

fn child() {
    let Layer {
        sources,
        stream,
        expected,
        ..
    } = &Layer::new();
    let mut out = Vec::new();
    let written = reconstruct(stream.as_slice(), sources, &mut out).unwrap();
    assert_eq!(written, u64::try_from(expected.len()).unwrap());
    assert!(out == *expected, "rebuilt bytes differ");
    assert!(sources.open_files() <= DEFAULT_OPEN_FILES);

    let mut rebuilt = SeekableReconstructor::new(Cursor::new(stream), sources).unwrap();
    let mut all = Vec::new();
    rebuilt.read_to_end(&mut all).unwrap();
    assert!(all == *expected, "seekable rebuilt bytes differ");
    let _ = io::stdout().flush();
    println!("child: rebuilt {written} bytes from {SOURCES} sources under ulimit -n {LIMIT}");
}
