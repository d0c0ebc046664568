//! `DirSources`: the successor format's files named beneath directories, opened confined
//! by the one source policy, read ahead, counted with inotify, checked against the length
//! the stream declares, and copied by the kernel.
#![cfg(all(feature = "std", feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, Write};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use splitfdstream::dir::Encoder;
use splitfdstream_adapters::fd::Reconstruct;
use splitfdstream_adapters::std::{
    reconstruct_as, DirSources, Error, ReadAt, Reconstructor, SourceFault, Sources,
};
use splitfdstream_adapters::{Format, SourceError, SourceRef};

const DIR: Format = Format::Splitdirfdstream;

/// Sizes of every class: read whole ahead, or passed on open for a kernel copy.
const SIZES: [usize; 6] = [0, 1, 4096, 100_000, 200_000, 1 << 20];

/// What a stream is made of.
enum Piece {
    Metadata(Vec<u8>),
    Inline(Vec<u8>),
    File(u32, Vec<u8>, u64),
}

fn encode(pieces: &[Piece]) -> Vec<u8> {
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut out = vec![0; 8192];
    for piece in pieces {
        let n = match piece {
            Piece::Metadata(body) => encoder.metadata(body, &mut out),
            Piece::Inline(body) => encoder.inline_data(body, &mut out),
            Piece::File(dir, name, len) => encoder.file_backed(*dir, *len, name, &mut out),
        }
        .unwrap();
        stream.extend_from_slice(&out[..n]);
    }
    encoder.finish().unwrap();
    stream
}

/// Two directories of files, a stream naming each once behind a header, and the bytes it
/// rebuilds to.
struct Layer {
    dirs: [tempfile::TempDir; 2],
    names: Vec<(u32, String)>,
    stream: Vec<u8>,
    expected: Vec<u8>,
}

impl Layer {
    fn paths(&self) -> [PathBuf; 2] {
        [
            self.dirs[0].path().to_path_buf(),
            self.dirs[1].path().to_path_buf(),
        ]
    }

    fn sources(&self, read_ahead: bool) -> DirSources {
        let mut sources = DirSources::open(self.paths())
            .unwrap()
            .with_read_ahead(read_ahead);
        if read_ahead {
            assert_eq!(
                sources.read_ahead_for(&self.stream).unwrap(),
                self.names.len()
            );
        }
        sources
    }
}

fn layer(files: usize) -> Layer {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut names = Vec::new();
    let mut pieces = Vec::new();
    let mut expected = Vec::new();
    for i in 0..files {
        let dir = u32::try_from(i % 2).unwrap();
        let name = format!("f{i} with space ü");
        let content: Vec<u8> = (0..SIZES[i % SIZES.len()])
            .map(|at| u8::try_from((at * 7 + i) % 251).unwrap())
            .collect();
        std::fs::write(dirs[i % 2].path().join(&name), &content).unwrap();
        let header = format!("<{i}>").into_bytes();
        expected.extend_from_slice(&header);
        expected.extend_from_slice(&content);
        pieces.push(Piece::Metadata(header));
        let len = u64::try_from(content.len()).unwrap();
        pieces.push(Piece::File(dir, name.clone().into_bytes(), len));
        names.push((dir, name));
    }
    pieces.push(Piece::Inline(Vec::new()));
    Layer {
        dirs,
        names,
        stream: encode(&pieces),
        expected,
    }
}

/// Counts the opens of the files in `dirs` while `run` runs, by directory and name.
fn opens_during(dirs: &[&Path], run: impl FnOnce()) -> BTreeMap<(usize, String), usize> {
    let watch = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).unwrap();
    let mut watches = Vec::new();
    for dir in dirs {
        watches.push(inotify::add_watch(&watch, *dir, WatchFlags::OPEN).unwrap());
    }
    run();
    let mut counts = BTreeMap::new();
    let mut buf = [MaybeUninit::uninit(); 64 * 1024];
    let mut events = inotify::Reader::new(&watch, &mut buf);
    loop {
        match events.next() {
            Ok(event) => {
                assert!(!event.events().contains(ReadFlags::QUEUE_OVERFLOW));
                if let Some(name) = event.file_name() {
                    let dir = watches.iter().position(|&w| w == event.wd()).unwrap();
                    let key = (dir, name.to_string_lossy().into_owned());
                    *counts.entry(key).or_default() += 1;
                }
            }
            Err(rustix::io::Errno::AGAIN) => return counts,
            Err(error) => panic!("reading inotify events: {error}"),
        }
    }
}

fn once_each(layer: &Layer, opens: &BTreeMap<(usize, String), usize>, driver: &str) {
    for (dir, name) in &layer.names {
        let dir = usize::try_from(*dir).unwrap();
        let count = opens.get(&(dir, name.clone())).copied().unwrap_or(0);
        assert_eq!(count, 1, "{driver}: {dir}/{name} ({opens:?})");
    }
}

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
fn every_driver_rebuilds_from_directories_opening_each_file_once() {
    let layer = layer(36);
    let paths = layer.paths();
    let dirs = [paths[0].as_path(), paths[1].as_path()];
    for read_ahead in [true, false] {
        let mode = if read_ahead { "ahead" } else { "when used" };
        let opens = opens_during(&dirs, || {
            let mut out = Vec::new();
            let sources = layer.sources(read_ahead);
            reconstruct_as(DIR, layer.stream.as_slice(), &sources, &mut out).unwrap();
            assert!(out == layer.expected);
        });
        once_each(&layer, &opens, &format!("std::reconstruct_as, {mode}"));

        // The Read adapter cannot hold a source between reads: it asks again, which must
        // not open anything.
        let opens = opens_during(&dirs, || {
            let rebuilt = Reconstructor::new(layer.stream.as_slice(), layer.sources(read_ahead))
                .with_format(DIR);
            assert!(read_in_pieces(rebuilt, 4096) == layer.expected);
        });
        once_each(&layer, &opens, &format!("Reconstructor, {mode}"));

        let opens = opens_during(&dirs, || {
            let mut out = tempfile::tempfile().unwrap();
            let copied = Reconstruct::new()
                .format(DIR)
                .run(layer.stream.as_slice(), &layer.sources(read_ahead), &out)
                .unwrap();
            assert_eq!(copied.total, u64::try_from(layer.expected.len()).unwrap());
            // The files over 128 KiB were copied by the kernel, not read and written.
            assert!(
                copied.splice + copied.copy_file_range >= 200_000 + (1 << 20),
                "{copied:?}"
            );
            let mut rebuilt = Vec::new();
            out.rewind().unwrap();
            out.read_to_end(&mut rebuilt).unwrap();
            assert!(rebuilt == layer.expected);
        });
        once_each(&layer, &opens, &format!("fd::Reconstruct, {mode}"));

        // tokio reads sources on its blocking pool, a batch at a time, asking again for
        // the one it copies between batches.
        #[cfg(feature = "tokio-1")]
        {
            let opens = opens_during(&dirs, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let out = runtime.block_on(async {
                    let sources = std::sync::Arc::new(layer.sources(read_ahead));
                    let mut out = Vec::new();
                    splitfdstream_adapters::tokio_1::reconstruct_as(
                        DIR,
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
            once_each(&layer, &opens, &format!("tokio_1::reconstruct_as, {mode}"));
        }
    }
}

#[test]
fn the_read_ahead_survives_a_stream_that_differs_from_the_announced_order() {
    let layer = layer(12);
    let mut sources = DirSources::open(layer.paths()).unwrap();
    // Announced backwards: every reference but the last is opened when used.
    sources.read_ahead_in_order(layer.names.iter().rev().map(|(d, n)| (*d, n.as_bytes())));
    let mut out = Vec::new();
    reconstruct_as(DIR, layer.stream.as_slice(), &sources, &mut out).unwrap();
    assert!(out == layer.expected);
    // Each file is held open at most once, within the cache's capacity.
    assert!(sources.open_files() <= 12);
}

#[test]
fn source_again_reopens_nothing() {
    let layer = layer(6);
    let sources = layer.sources(false);
    let paths = layer.paths();
    let (dir, name) = &layer.names[5];
    let reference = SourceRef::Named {
        dir: *dir,
        name: name.as_bytes(),
        len: 1 << 20,
    };
    let opens = opens_during(&[paths[0].as_path(), paths[1].as_path()], || {
        let first = sources.source(reference).unwrap().unwrap();
        for _ in 0..10 {
            let again = sources.source_again(reference).unwrap().unwrap();
            assert_eq!(again.size().unwrap(), first.size().unwrap());
            assert!(again.fd().is_some());
        }
    });
    assert_eq!(opens.get(&(1, name.clone())), Some(&1), "{opens:?}");
    assert_eq!(sources.source_size(reference).unwrap(), Some(1 << 20));
}

/// The source failure of `error`, with its directory index and the text of the error.
fn failure(error: &Error) -> (u64, String) {
    let failure = error.source_failure().expect("a source error");
    (failure.index(), error.to_string())
}

#[test]
fn names_that_leave_the_directory_are_refused_naming_the_directory_and_the_name() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let root = dirs[1].path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/member"), b"member").unwrap();
    // A link that stays beneath resolves.
    std::os::unix::fs::symlink("sub/member", root.join("inside")).unwrap();
    std::os::unix::fs::symlink("../sub/member", root.join("sub/up-and-back")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.join("absolute")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc/hostname", root.join("up")).unwrap();
    let sources = DirSources::open([dirs[0].path(), root]).unwrap();

    let stream = encode(&[
        Piece::File(1, b"inside".to_vec(), 6),
        Piece::File(1, b"sub/up-and-back".to_vec(), 6),
        Piece::File(1, b"./sub//member".to_vec(), 6),
    ]);
    let mut out = Vec::new();
    reconstruct_as(DIR, stream.as_slice(), &sources, &mut out).unwrap();
    assert_eq!(out, b"membermembermember");

    for name in ["absolute", "up"] {
        let stream = encode(&[Piece::File(1, name.as_bytes().to_vec(), 6)]);
        for fd_driver in [false, true] {
            let error = if fd_driver {
                let out = tempfile::tempfile().unwrap();
                Reconstruct::new()
                    .format(DIR)
                    .run(stream.as_slice(), &sources, &out)
                    .map(drop)
                    .unwrap_err()
            } else {
                reconstruct_as(DIR, stream.as_slice(), &sources, io::sink())
                    .map(drop)
                    .unwrap_err()
            };
            let (index, text) = failure(&error);
            assert_eq!(index, 1);
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{text}");
            assert!(
                text.contains("directory 1") && text.contains(name),
                "{text}"
            );
            assert!(text.contains("outside the directory"), "{text}");
        }
    }

    // Names the decoder refuses never reach the sources; asked directly, they refuse
    // them too, naming the directory and the name.
    for (name, why) in [
        (&b"../x"[..], "`..`"),
        (b"sub/../../x", "`..`"),
        (b"/etc/hostname", "absolute"),
        (b"", "empty"),
        (b"a\0b", "NUL"),
    ] {
        let reference = SourceRef::Named {
            dir: 1,
            name,
            len: 1,
        };
        let error = sources.source(reference).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let text = error.to_string();
        assert!(text.starts_with("directory 1: "), "{text}");
        assert!(text.contains(why), "{text}");
        assert!(sources.source_size(reference).is_err());
    }
    // A directory past the list has no source: the drivers report it missing.
    let stream = encode(&[Piece::File(2, b"inside".to_vec(), 6)]);
    let error = reconstruct_as(DIR, stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert!(matches!(
        error.source_failure().unwrap().fault(),
        SourceFault::Check(SourceError::Missing { index: 2 })
    ));
}

#[test]
fn a_fifo_a_directory_or_a_device_beneath_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    for (name, what) in [("fifo", "is a FIFO"), ("subdir", "is a directory")] {
        let stream = encode(&[Piece::File(0, name.as_bytes().to_vec(), 0)]);
        for read_ahead in [true, false] {
            let mut sources = DirSources::open([dir.path()])
                .unwrap()
                .with_read_ahead(read_ahead);
            sources.read_ahead_for(&stream).unwrap();
            let error = reconstruct_as(DIR, stream.as_slice(), &sources, io::sink()).unwrap_err();
            let (index, text) = failure(&error);
            assert_eq!(index, 0);
            assert!(text.contains(what) && text.contains(name), "{text}");
        }
    }
}

#[test]
fn a_descriptor_that_is_not_a_directory_is_refused() {
    let file = tempfile::tempfile().unwrap();
    let error = DirSources::new().push_fd(OwnedFd::from(file)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotADirectory);
    assert!(error.to_string().contains("a regular file"), "{error}");
    let error = DirSources::open([Path::new("/nonexistent-dir")]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    // A received directory descriptor works like a path.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"abc").unwrap();
    let fd: OwnedFd = std::fs::File::open(dir.path()).unwrap().into();
    let sources = DirSources::from_fds([fd]).unwrap();
    let stream = encode(&[Piece::File(0, b"a".to_vec(), 3)]);
    let mut out = Vec::new();
    reconstruct_as(DIR, stream.as_slice(), &sources, &mut out).unwrap();
    assert_eq!(out, b"abc");
}

/// The size check of every driver against the length the stream declares.
#[test]
fn a_file_shorter_or_longer_than_declared_is_an_error_in_every_driver() {
    for size in [10usize, 300_000] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![b'x'; size]).unwrap();
        let declared = u64::try_from(size).unwrap();
        for len in [declared - 1, declared + 1] {
            let stream = encode(&[Piece::File(0, b"f".to_vec(), len)]);
            for read_ahead in [true, false] {
                let mut sources = DirSources::open([dir.path()])
                    .unwrap()
                    .with_read_ahead(read_ahead);
                sources.read_ahead_for(&stream).unwrap();
                let error =
                    reconstruct_as(DIR, stream.as_slice(), &sources, io::sink()).unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
                let out = tempfile::tempfile().unwrap();
                let error = Reconstruct::new()
                    .format(DIR)
                    .run(stream.as_slice(), &sources, &out)
                    .unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
                assert!(matches!(
                    error.source_failure().unwrap().fault(),
                    SourceFault::Check(
                        SourceError::SizeMismatch { .. }
                            | SourceError::Grew { .. }
                            | SourceError::Shrank { .. }
                    )
                ));
                let rebuilt = Reconstructor::new(stream.as_slice(), &sources)
                    .with_format(DIR)
                    .read_to_end(&mut Vec::new());
                assert!(rebuilt.is_err());
            }
        }
    }
}

/// An output that changes the source file after its first write: the file changes while
/// it is being copied.
struct Meddling {
    file: PathBuf,
    grow: bool,
    done: bool,
}

impl Write for Meddling {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.done {
            self.done = true;
            let file = OpenOptions::new().write(true).open(&self.file)?;
            if self.grow {
                file.set_len(2 << 20)?;
            } else {
                file.set_len(200_000)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_file_that_changes_while_it_is_read_is_an_error() {
    for grow in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        std::fs::write(&file, vec![b'x'; 1 << 20]).unwrap();
        let stream = encode(&[Piece::File(0, b"big".to_vec(), 1 << 20)]);
        let mut sources = DirSources::open([dir.path()]).unwrap();
        sources.read_ahead_for(&stream).unwrap();
        let out = Meddling {
            file,
            grow,
            done: false,
        };
        let error = reconstruct_as(DIR, stream.as_slice(), &sources, out).unwrap_err();
        let fault = error.source_failure().unwrap().fault();
        let expected = if grow {
            matches!(fault, SourceFault::Check(SourceError::Grew { .. }))
        } else {
            matches!(fault, SourceFault::Check(SourceError::Shrank { .. }))
        };
        assert!(expected, "grow {grow}: {error}");
    }
}
