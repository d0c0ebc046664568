//! First end-to-end checks of the std reconstruction over real files.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::Read;

use splitfdstream_adapters::std::{reconstruct, PathSources, Reconstructor, Writer};

fn stream() -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    writer.write_inline(b"head ").unwrap();
    writer.write_external(1).unwrap();
    writer.write_external(0).unwrap();
    writer.write_external(1).unwrap();
    writer.write_inline(b" tail").unwrap();
    writer.finish().unwrap()
}

#[test]
fn files_and_paths_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::write(&a, b"AAA").unwrap();
    std::fs::write(&b, b"bb").unwrap();
    let expected = b"head bbAAAbb tail";

    let files = [File::open(&a).unwrap(), File::open(&b).unwrap()];
    let mut out = Vec::new();
    assert_eq!(
        reconstruct(stream().as_slice(), &files[..], &mut out).unwrap(),
        17
    );
    assert_eq!(out, expected);

    let paths = PathSources::from_paths([&a, &b]);
    let mut out = Vec::new();
    reconstruct(stream().as_slice(), &paths, &mut out).unwrap();
    assert_eq!(out, expected);

    let mut out = Vec::new();
    Reconstructor::new(stream().as_slice(), &paths)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, expected);
}
