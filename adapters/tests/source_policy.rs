//! The source policy and the `Sources` contract, seen from the kernel: every driver opens
//! each file named by path exactly once per reference (counted with inotify), and a FIFO
//! where a path source should be is refused at once by every kind of path source.
#![cfg(all(feature = "std", feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::{encode, Item};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use splitfdstream_adapters::fd::Reconstruct;
use splitfdstream_adapters::std::{
    open_path_source, reconstruct, Beneath, PathSources, Reconstructor, SeekableReconstructor,
};

/// Files of every size class: read whole ahead of use, or passed on open for a kernel
/// copy (over 128 KiB).
const SIZES: [usize; 6] = [0, 1, 4096, 100_000, 200_000, 1 << 20];

/// A directory of files, a stream that names each once behind a header, and the bytes it
/// rebuilds to.
struct Layer {
    dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
    stream: Vec<u8>,
    expected: Vec<u8>,
}

fn layer(files: usize) -> Layer {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for i in 0..files {
        let path = dir.path().join(format!("f{i}"));
        let content: Vec<u8> = (0..SIZES[i % SIZES.len()])
            .map(|at| u8::try_from((at * 7 + i) % 251).unwrap())
            .collect();
        std::fs::write(&path, &content).unwrap();
        let header = format!("<{i}>").into_bytes();
        expected.extend_from_slice(&header);
        expected.extend_from_slice(&content);
        items.push(Item::Inline(header));
        items.push(Item::External(u64::try_from(i).unwrap()));
        paths.push(path);
    }
    Layer {
        dir,
        paths,
        stream: encode(&items),
        expected,
    }
}

/// Counts the opens of the files in `dir` while `run` runs, by name.
fn opens_during(dir: &Path, run: impl FnOnce()) -> BTreeMap<String, usize> {
    let watch = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).unwrap();
    inotify::add_watch(&watch, dir, WatchFlags::OPEN).unwrap();
    run();
    let mut counts = BTreeMap::new();
    let mut buf = [MaybeUninit::uninit(); 64 * 1024];
    let mut events = inotify::Reader::new(&watch, &mut buf);
    loop {
        match events.next() {
            Ok(event) => {
                assert!(
                    !event.events().contains(ReadFlags::QUEUE_OVERFLOW),
                    "the inotify queue overflowed: the count would be wrong"
                );
                if let Some(name) = event.file_name() {
                    *counts
                        .entry(name.to_string_lossy().into_owned())
                        .or_default() += 1;
                }
            }
            Err(rustix::io::Errno::AGAIN) => return counts,
            Err(error) => panic!("reading inotify events: {error}"),
        }
    }
}

/// Asserts that each file of `layer` was opened exactly once (an empty one at most once:
/// random access knows its size from `stat` and never reads it).
fn once_each(layer: &Layer, opens: &BTreeMap<String, usize>, driver: &str) {
    for path in &layer.paths {
        let name = path.file_name().unwrap().to_string_lossy();
        let count = opens.get(&*name).copied().unwrap_or(0);
        let empty = std::fs::metadata(path).unwrap().len() == 0;
        assert!(
            count == 1 || (empty && count == 0),
            "{driver}: {name} opened {count} times ({opens:?})"
        );
    }
}

/// Reads everything from `from` in pieces of `piece` bytes, so that one source takes many
/// reads.
fn read_in_pieces(mut from: impl Read, piece: usize) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0; piece];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(error) => panic!("read failed: {error}"),
        }
    }
}

#[test]
fn every_driver_opens_each_path_source_once() {
    let layer = layer(60);
    for read_ahead in [true, false] {
        let sources = || PathSources::from_paths(layer.paths.clone()).with_read_ahead(read_ahead);
        let mode = if read_ahead { "ahead" } else { "lazy" };

        let opens = opens_during(layer.dir.path(), || {
            let mut out = Vec::new();
            reconstruct(layer.stream.as_slice(), &sources(), &mut out).unwrap();
            assert!(out == layer.expected);
        });
        once_each(&layer, &opens, &format!("std::reconstruct, {mode}"));

        let opens = opens_during(layer.dir.path(), || {
            let rebuilt = Reconstructor::new(layer.stream.as_slice(), sources());
            assert!(read_in_pieces(rebuilt, 4096) == layer.expected);
        });
        once_each(&layer, &opens, &format!("Reconstructor, {mode}"));

        let opens = opens_during(layer.dir.path(), || {
            let stream = Cursor::new(layer.stream.as_slice());
            let rebuilt = SeekableReconstructor::new(stream, sources()).unwrap();
            assert!(read_in_pieces(rebuilt, 4096) == layer.expected);
        });
        once_each(&layer, &opens, &format!("SeekableReconstructor, {mode}"));

        let opens = opens_during(layer.dir.path(), || {
            let out = tempfile::tempfile().unwrap();
            let copied = Reconstruct::new()
                .run(layer.stream.as_slice(), &sources(), &out)
                .unwrap();
            assert_eq!(copied.total, u64::try_from(layer.expected.len()).unwrap());
        });
        once_each(&layer, &opens, &format!("fd::Reconstruct, {mode}"));

        #[cfg(feature = "tokio-1")]
        {
            let opens = opens_during(layer.dir.path(), || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let out = runtime.block_on(async {
                    let sources = std::sync::Arc::new(sources());
                    let mut out = Vec::new();
                    splitfdstream_adapters::tokio_1::reconstruct(
                        layer.stream.as_slice(),
                        sources,
                        &mut out,
                    )
                    .await
                    .unwrap();
                    out
                });
                assert!(out == layer.expected);
            });
            once_each(&layer, &opens, &format!("tokio_1::reconstruct, {mode}"));
        }
    }
}

#[test]
fn reading_a_source_again_reopens_nothing_but_a_new_use_sees_a_changed_file() {
    let layer = layer(6);
    let sources = PathSources::from_paths(layer.paths.clone());
    let big = splitfdstream::FdIndex::new(5).unwrap().into();
    use splitfdstream_adapters::std::{ReadAt, Sources};
    let opens = opens_during(layer.dir.path(), || {
        let first = sources.source(big).unwrap().unwrap();
        for _ in 0..10 {
            let again = sources.source_again(big).unwrap().unwrap();
            assert_eq!(again.size().unwrap(), first.size().unwrap());
        }
    });
    assert_eq!(opens.get("f5"), Some(&1), "{opens:?}");
    // A new use of a small file read ahead earlier reads it again.
    let small = splitfdstream::FdIndex::new(2).unwrap().into();
    let before = sources.source(small).unwrap().unwrap();
    assert_eq!(before.size().unwrap(), Some(4096));
    std::fs::write(&layer.paths[2], b"changed").unwrap();
    let after = sources.source(small).unwrap().unwrap();
    let mut buf = [0; 16];
    let n = after.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"changed");
}

/// Runs `open` on another thread and gives up after ten seconds: a blocking open of a
/// FIFO would never return.
fn within_deadline<T: Send + 'static>(open: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(open());
    });
    result
        .recv_timeout(Duration::from_secs(10))
        .expect("the open did not return: a FIFO blocked it")
}

fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

fn assert_fifo_refused(error: &io::Error, what: &str) {
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{what}: {error}");
    assert!(error.to_string().contains("is a FIFO"), "{what}: {error}");
}

#[test]
fn a_fifo_is_refused_at_once_by_every_kind_of_path_source() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    make_fifo(&fifo);

    let path = fifo.clone();
    let error = within_deadline(move || open_path_source(&path).map(drop)).unwrap_err();
    assert_fifo_refused(&error, "open_path_source");

    let root = dir.path().to_path_buf();
    let error = within_deadline(move || {
        let beneath = Beneath::open_dir(&root).unwrap();
        beneath.open(Path::new("fifo")).map(drop)
    })
    .unwrap_err();
    assert_fifo_refused(&error, "Beneath::open");

    let encoded = encode(&[Item::External(0)]);
    for read_ahead in [true, false] {
        let (path, stream) = (fifo.clone(), encoded.clone());
        let error = within_deadline(move || {
            let sources = PathSources::from_paths([path]).with_read_ahead(read_ahead);
            reconstruct(stream.as_slice(), &sources, io::sink()).map(drop)
        })
        .unwrap_err();
        let failure = error.source_failure().expect("a source error");
        assert_eq!(failure.path(), Some(fifo.as_path()));
        assert!(error.to_string().contains("is a FIFO"), "{error}");
        let (path, stream) = (fifo.clone(), encoded.clone());
        let error = within_deadline(move || {
            let sources = PathSources::from_paths([path]).with_read_ahead(read_ahead);
            let out: OwnedFd = tempfile::tempfile().unwrap().into();
            Reconstruct::new()
                .run(stream.as_slice(), &sources, &out)
                .map(drop)
        })
        .unwrap_err();
        assert!(error.to_string().contains("is a FIFO"), "{error}");
    }
}

#[test]
fn a_path_replaced_by_a_fifo_between_uses_is_refused_without_blocking() {
    // The race the first policy lost: the type was checked on the path, then the path was
    // opened blocking. Here the file is a regular file when first used and a FIFO at the
    // next use; every open is non-blocking and checked on the descriptor.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source");
    std::fs::write(&path, b"regular").unwrap();
    let stream = encode(&[Item::External(0), Item::External(0)]);
    let sources = PathSources::from_paths([path.clone()]).with_read_ahead(false);
    let mut out = Vec::new();
    reconstruct(stream.as_slice(), &sources, &mut out).unwrap();
    assert_eq!(out, b"regularregular");
    std::fs::remove_file(&path).unwrap();
    make_fifo(&path);
    let error =
        within_deadline(move || reconstruct(stream.as_slice(), &sources, io::sink()).map(drop))
            .unwrap_err();
    assert!(error.to_string().contains("is a FIFO"), "{error}");
}
