//! Sources opened ahead by a helper thread: in order, out of order, repeated, missing, and
//! never more than the depth open at once.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{self, Read, Seek};

use splitfdstream::FdIndex;
use splitfdstream_adapters::fd::{OpenAhead, Reconstruct};
use splitfdstream_adapters::std::{reconstruct, PathSources, ReadAt, Sources, Writer};

fn files(dir: &std::path::Path, count: usize) -> Vec<std::path::PathBuf> {
    (0..count)
        .map(|i| {
            let path = dir.join(i.to_string());
            std::fs::write(&path, format!("content {i}\n").repeat(1 + i % 5)).unwrap();
            path
        })
        .collect()
}

fn index(i: u64) -> FdIndex {
    FdIndex::new(i).unwrap()
}

fn content(sources: &OpenAhead, i: u64) -> String {
    let file = sources.source(index(i)).unwrap().unwrap();
    let mut buf = vec![0; 256];
    let n = file.read_at(&mut buf, 0).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn any_order_of_references_gets_the_right_files() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 50);
    let sources = OpenAhead::new(paths.clone()).with_depth(4);
    assert_eq!(sources.len(), 50);
    assert_eq!(sources.path(index(3)), Some(paths[3].as_path()));
    for i in [0u64, 1, 2, 2, 7, 3, 8, 49, 0, 48] {
        let want = std::fs::read_to_string(&paths[usize::try_from(i).unwrap()]).unwrap();
        assert_eq!(content(&sources, i), want, "source {i}");
    }
    assert!(sources.source(index(50)).unwrap().is_none());
    assert!(sources.source(index(u64::MAX >> 1)).unwrap().is_none());
}

#[test]
fn a_missing_file_is_an_error_naming_it_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = files(dir.path(), 3);
    paths.insert(1, dir.path().join("missing"));
    let sources = OpenAhead::new(paths);
    assert!(content(&sources, 0).starts_with("content 0"));
    let error = sources.source(index(1)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert!(error.to_string().contains("missing"), "{error}");
    assert!(content(&sources, 2).starts_with("content 1"));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn reconstructs_like_path_sources_with_few_files_open() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2000);
    let mut writer = Writer::new(Vec::new());
    for i in 0..2000u64 {
        writer.write_inline(format!("<{i}>").as_bytes()).unwrap();
        writer.write_external(i).unwrap();
    }
    writer.write_external(5).unwrap();
    let stream = writer.finish().unwrap();
    let mut want = Vec::new();
    reconstruct(
        stream.as_slice(),
        &PathSources::from_paths(paths.clone()),
        &mut want,
    )
    .unwrap();

    let sources = OpenAhead::new(paths).with_depth(8);
    let mut out = tempfile::tempfile().unwrap();
    Reconstruct::new()
        .run(stream.as_slice(), &sources, &out)
        .unwrap();
    out.rewind().unwrap();
    let mut got = Vec::new();
    out.read_to_end(&mut got).unwrap();
    assert!(got == want, "rebuilt bytes differ");
    // Other tests run meanwhile, so only a loose bound: nowhere near 2000 files.
    assert!(open_fds() < 200, "{} descriptors open", open_fds());
    drop(sources);
}

#[test]
fn dropping_unused_or_half_used_sources_stops_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 300);
    drop(OpenAhead::new(paths.clone()));
    let sources = OpenAhead::new(paths).with_depth(2);
    assert!(content(&sources, 10).starts_with("content 10"));
    drop(sources);
}
