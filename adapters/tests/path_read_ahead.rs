//! Sources opened ahead by a helper thread: in order, out of order, repeated, missing, and
//! never more than the depth open at once.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{self, Read, Seek, Write};

use splitfdstream::FdIndex;
use splitfdstream_adapters::fd::{Copied, Reconstruct};
use splitfdstream_adapters::std::{
    reconstruct, ExpectedLens, PathSources, ReadAt, Sources, Writer,
};

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

fn content(sources: &PathSources, i: u64) -> String {
    let file = sources.source(index(i).into()).unwrap().unwrap();
    let mut buf = vec![0; 256];
    let n = file.read_at(&mut buf, 0).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn any_order_of_references_gets_the_right_files() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 50);
    let sources = PathSources::from_paths(paths.clone()).with_depth(4);
    assert_eq!(sources.len(), 50);
    assert_eq!(sources.path(index(3)), Some(paths[3].as_path()));
    for i in [0u64, 1, 2, 2, 7, 3, 8, 49, 0, 48] {
        let want = std::fs::read_to_string(&paths[usize::try_from(i).unwrap()]).unwrap();
        assert_eq!(content(&sources, i), want, "source {i}");
    }
    assert!(sources.source(index(50).into()).unwrap().is_none());
    assert!(sources
        .source(index(u64::MAX >> 1).into())
        .unwrap()
        .is_none());
}

#[test]
fn a_missing_file_is_an_error_naming_it_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = files(dir.path(), 3);
    paths.insert(1, dir.path().join("missing"));
    let sources = PathSources::from_paths(paths);
    assert!(content(&sources, 0).starts_with("content 0"));
    let error = sources.source(index(1).into()).unwrap_err();
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

    let sources = PathSources::from_paths(paths).with_depth(8);
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
    drop(PathSources::from_paths(paths.clone()));
    let sources = PathSources::from_paths(paths).with_depth(2);
    assert!(content(&sources, 10).starts_with("content 10"));
    drop(sources);
}

/// Rebuilds `stream` from `sources` into a file; returns the bytes and how they got there.
fn rebuild(stream: &[u8], sources: &impl Sources) -> io::Result<(Vec<u8>, Copied)> {
    let mut out = tempfile::tempfile()?;
    let copied = Reconstruct::new().run(stream, sources, &out)?;
    out.rewind()?;
    let mut got = Vec::new();
    out.read_to_end(&mut got)?;
    Ok((got, copied))
}

fn stream_of(indices: impl IntoIterator<Item = u64>) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    for i in indices {
        writer.write_inline(b"<>").unwrap();
        writer.write_external(i).unwrap();
    }
    writer.finish().unwrap()
}

#[test]
fn files_around_the_read_ahead_size_are_read_whole_or_passed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [
        0,
        1,
        4095,
        128 * 1024 - 1,
        128 * 1024,
        128 * 1024 + 1,
        3 << 20,
    ];
    let paths: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let path = dir.path().join(format!("f{i}"));
            let content: Vec<u8> = (0..len).map(|b| u8::try_from(b % 251).unwrap()).collect();
            std::fs::write(&path, content).unwrap();
            path
        })
        .collect();
    let count = u64::try_from(paths.len()).unwrap();
    let stream = stream_of((0..count).chain([6, 2]));
    let (want, _) = rebuild(&stream, &PathSources::from_paths(paths.clone())).unwrap();
    for helpers in [1, 2, 3] {
        let sources = PathSources::from_paths(paths.clone())
            .with_depth(4)
            .with_helpers(helpers);
        let (got, copied) = rebuild(&stream, &sources).unwrap();
        assert!(got == want, "rebuilt bytes differ with {helpers} helpers");
        assert_eq!(copied.total, u64::try_from(want.len()).unwrap());
    }
    // Read ahead whole, a source has no descriptor; a larger one keeps its file open.
    let sources = PathSources::from_paths(paths);
    let small = sources.source(index(3).into()).unwrap().unwrap();
    assert!(small.fd().is_none());
    assert_eq!(small.size().unwrap(), Some(128 * 1024 - 1));
    let large = sources.source(index(5).into()).unwrap().unwrap();
    assert!(large.fd().is_some());
    assert_eq!(large.size().unwrap(), Some(128 * 1024 + 1));
    let mut buf = vec![0; 10];
    assert_eq!(large.read_at(&mut buf, 128 * 1024 - 5).unwrap(), 6);
    let want: Vec<u8> = (128 * 1024 - 5..128 * 1024 + 1)
        .map(|b| u8::try_from(b % 251).unwrap())
        .collect();
    assert_eq!(buf[..6], want[..]);
}

#[test]
fn a_source_read_ahead_is_checked_against_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 3);
    let lens: Vec<Option<u64>> = paths
        .iter()
        .map(|p| Some(std::fs::metadata(p).unwrap().len()))
        .collect();
    let stream = stream_of([0, 1, 2]);
    let sources = ExpectedLens::new(PathSources::from_paths(paths.clone()), lens.clone());
    rebuild(&stream, &sources).unwrap();
    let mut wrong = lens;
    wrong[1] = wrong[1].map(|len| len + 1);
    let sources = ExpectedLens::new(PathSources::from_paths(paths), wrong);
    let error = rebuild(&stream, &sources).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
}

#[test]
fn paths_in_several_directories_open_as_their_full_paths_would() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(a.join("sub")).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::write(a.join("x"), "ax").unwrap();
    std::fs::write(a.join("sub/y"), "ay").unwrap();
    std::fs::write(b.join("x"), "bx").unwrap();
    std::fs::write(root.path().join("top"), "top").unwrap();
    let paths = vec![
        a.join("x"),
        b.join("x"),
        a.join("sub").join("..").join("x"), // `..` inside: resolved like any path
        a.join("sub/y"),
        a.join("x"),
        root.path().join("b/./x"),
        a.join("sub/../../top"),
    ];
    for (depth, io_uring) in [(2, true), (2, false), (64, true), (64, false)] {
        let sources = PathSources::from_paths(paths.clone())
            .with_depth(depth)
            .with_io_uring(io_uring);
        for (i, want) in ["ax", "bx", "ax", "ay", "ax", "bx", "top"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                content(&sources, u64::try_from(i).unwrap()),
                *want,
                "{:?}, depth {depth}, io_uring {io_uring}",
                paths[i]
            );
        }
    }
}

#[test]
fn paths_that_do_not_name_a_file_fail_as_opening_them_would() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("file"), "content").unwrap();
    let mut trailing_slash = root.path().join("file").into_os_string();
    trailing_slash.push("/");
    let paths = vec![
        std::path::PathBuf::from(trailing_slash), // a file is not a directory
        root.path().join("missing-dir/file"),
        root.path().join("missing"),
        root.path().join("file/.."),
        root.path().join("file"),
    ];
    for io_uring in [true, false] {
        let sources = PathSources::from_paths(paths.clone())
            .with_helpers(2)
            .with_io_uring(io_uring);
        for (i, path) in paths.iter().enumerate().take(4) {
            let want = std::fs::File::open(path).unwrap_err();
            let got = sources
                .source(index(u64::try_from(i).unwrap()).into())
                .unwrap_err();
            assert_eq!(got.kind(), want.kind(), "{path:?}: {got}");
            assert!(got.to_string().contains(&*path.to_string_lossy()), "{got}");
        }
        assert_eq!(content(&sources, 4), "content");
    }
}

#[test]
fn relative_paths_are_opened_like_files_by_path() {
    // A relative path has no directory to open beneath: it is relative to the working
    // directory, as for `File::open`.
    let relative = std::path::PathBuf::from("Cargo.toml");
    let want = std::fs::read_to_string(&relative).unwrap();
    let stream = stream_of([0]);
    let (got, _) = rebuild(&stream, &PathSources::from_paths([relative])).unwrap();
    assert_eq!(got, [b"<>".as_slice(), want.as_bytes()].concat());
}

#[test]
fn a_directory_fifo_or_character_device_is_refused_without_blocking() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR).unwrap();
    std::fs::write(root.path().join("file"), "content").unwrap();
    let paths = vec![
        root.path().to_path_buf(),
        fifo,
        "/dev/zero".into(),
        root.path().join("file"),
    ];
    for (helpers, io_uring) in [(1, true), (2, true), (2, false)] {
        let sources = PathSources::from_paths(paths.clone())
            .with_helpers(helpers)
            .with_io_uring(io_uring);
        for (i, what) in ["directory", "FIFO", "character device"].iter().enumerate() {
            let error = sources
                .source(index(u64::try_from(i).unwrap()).into())
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            assert!(error.to_string().contains(what), "{error}");
            assert!(error.to_string().contains(&*paths[i].to_string_lossy()));
        }
        assert_eq!(content(&sources, 3), "content");
        // Out of order, opened directly: the same check.
        let error = sources.source(index(1).into()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
    }
    let error = rebuild(&stream_of([3, 0]), &PathSources::from_paths(paths)).unwrap_err();
    assert!(error.to_string().contains("source 0"), "{error}");
}

#[test]
fn a_file_whose_size_says_nothing_is_read_to_its_end() {
    // procfs reports size 0 for files that have content.
    let path = std::path::PathBuf::from("/proc/self/status");
    let sources = PathSources::from_paths([path.clone()]);
    let source = sources.source(index(0).into()).unwrap().unwrap();
    let mut buf = vec![0; 64 * 1024];
    let n = source.read_at(&mut buf, 0).unwrap();
    assert!(n > 0 && buf[..n].starts_with(b"Name:"), "{n}");
    assert_eq!(source.size().unwrap(), Some(u64::try_from(n).unwrap()));
}

/// Set in the child process that counts descriptors with no other test running.
const COUNT_CHILD: &str = "SPLITFDSTREAM_FD_COUNT_CHILD";

#[test]
fn every_descriptor_is_closed_after_a_run_and_after_an_error() {
    if std::env::var_os(COUNT_CHILD).is_none() {
        // Other tests in this binary open files concurrently, so the count is exact only
        // in a process that runs this test alone.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "every_descriptor_is_closed_after_a_run_and_after_an_error",
                "--test-threads=1",
            ])
            .env(COUNT_CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success(), "child: {status}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut paths = files(dir.path(), 500);
    let big = dir.path().join("big");
    std::fs::write(&big, vec![1u8; 1 << 20]).unwrap();
    for at in (0..500).step_by(50) {
        paths[at] = big.clone();
    }
    let before = open_fds();
    let stream = stream_of(0..500);
    rebuild(
        &stream,
        &PathSources::from_paths(paths.clone()).with_helpers(3),
    )
    .unwrap();
    assert_eq!(open_fds(), before, "after a run");
    paths[250] = dir.path().join("missing");
    rebuild(&stream, &PathSources::from_paths(paths)).unwrap_err();
    assert_eq!(open_fds(), before, "after an error");
}

#[test]
fn a_batch_of_large_files_past_the_memory_bound_is_passed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..80u8)
        .map(|i| {
            let path = dir.path().join(i.to_string());
            let len = 100_000 + usize::from(i) * 1000;
            std::fs::write(&path, vec![i; len]).unwrap();
            path
        })
        .collect();
    let stream = stream_of(0..80);
    let (want, _) = rebuild(&stream, &PathSources::from_paths(paths.clone())).unwrap();
    let sources = PathSources::from_paths(paths)
        .with_depth(256)
        .with_helpers(1);
    let (got, _) = rebuild(&stream, &sources).unwrap();
    assert!(got == want, "rebuilt bytes differ");
}

/// Files larger than what is read whole are passed on open; however many a batch of the
/// helpers covers, no more than about the depth of them are open at once, so a layer of
/// large files rebuilds under `ulimit -n 256` with the default depth of 128.
#[test]
fn files_passed_on_open_stay_within_the_depth() {
    common::fd_limit::in_child_under_limit(
        "files_passed_on_open_stay_within_the_depth",
        "SPLITFDSTREAM_OPEN_AHEAD_LIMIT_CHILD",
        large_files_child,
    );
}

fn large_files_child() {
    const FILES: usize = 600;
    const LEN: u64 = 200 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..FILES)
        .map(|i| {
            let path = dir.path().join(i.to_string());
            let mut file = std::fs::File::create(&path).unwrap();
            // Sparse but for a mark at each end, so every file differs.
            file.write_all(&i.to_le_bytes()).unwrap();
            file.set_len(LEN).unwrap();
            file.seek(io::SeekFrom::End(-8)).unwrap();
            file.write_all(&i.to_le_bytes()).unwrap();
            path
        })
        .collect();
    let count = u64::try_from(FILES).unwrap();
    let stream = stream_of(0..count);
    let sources = PathSources::from_paths(paths.clone());
    let (got, copied) = rebuild(&stream, &sources).unwrap();
    assert_eq!(copied.total, count * (LEN + 2));
    let mut want = Vec::new();
    reconstruct(
        stream.as_slice(),
        &PathSources::from_paths(paths),
        &mut want,
    )
    .unwrap();
    assert!(got == want, "rebuilt bytes differ");
    let _ = io::stdout().flush();
    println!(
        "child: rebuilt {} bytes from {FILES} files passed on open",
        copied.total
    );
}

/// Whether this kernel lets a process open files through an `io_uring`.
fn io_uring_available() -> bool {
    io_uring::IoUring::<io_uring::squeue::Entry>::builder()
        .setup_submit_all()
        .build(4)
        .is_ok()
}

fn io_uring_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("io_uring"))
        .count()
}

/// Helpers open files through an `io_uring` where the kernel allows it, and the bytes are
/// those of opening each file with `openat`.
#[test]
fn helpers_open_through_io_uring_where_the_kernel_allows_it() {
    if !io_uring_available() {
        println!("skipped: io_uring is not available here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 3000);
    let stream = stream_of(0..3000);
    let (want, _) = rebuild(&stream, &PathSources::from_paths(paths.clone())).unwrap();
    for io_uring in [true, false] {
        let sources = PathSources::from_paths(paths.clone()).with_io_uring(io_uring);
        let (got, _) = rebuild(&stream, &sources).unwrap();
        assert!(got == want, "rebuilt bytes differ (io_uring {io_uring})");
    }
    // With a small depth the helpers wait, rings open, until the reader catches up.
    let sources = PathSources::from_paths(paths).with_depth(8).with_helpers(2);
    assert!(content(&sources, 0).starts_with("content 0"));
    let mut rings = 0;
    for _ in 0..100 {
        rings = io_uring_descriptors();
        if rings >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        rings >= 2,
        "{rings} io_uring descriptors: the helpers have no ring"
    );
}
