//! std reconstruction: model equivalence of `reconstruct`, `Reconstructor` and
//! `SeekableReconstructor`, and every bad input named in the issue.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};

use common::{
    encode, layer, one_byte, read_sizes, rebuild, source_error, source_io_error, Item, Jittery,
    Trickle,
};
use proptest::prelude::*;
use splitfdstream::DecodeError;
use splitfdstream_adapters::std::{
    reconstruct, ExpectedLens, PathSources, ReadAt, Reconstructor, SeekableReconstructor, Sources,
};
use splitfdstream_adapters::SourceError;

fn rebuild_all_ways<S: Sources + ?Sized>(stream: &[u8], sources: &S) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let written = reconstruct(stream, sources, &mut out)?;
    assert_eq!(written, u64::try_from(out.len()).unwrap());
    let mut pulled = Vec::new();
    Reconstructor::new(stream, sources).read_to_end(&mut pulled)?;
    assert_eq!(pulled, out);
    Ok(out)
}

#[test]
fn files_paths_and_memory_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let contents: [&[u8]; 3] = [b"AAA", b"", b"bb"];
    let paths: Vec<_> = (0..3).map(|i| dir.path().join(i.to_string())).collect();
    for (path, content) in paths.iter().zip(contents) {
        std::fs::write(path, content).unwrap();
    }
    let items = [
        Item::Inline(b"head ".to_vec()),
        Item::External(2),
        Item::External(1),
        Item::External(0),
        Item::External(2), // the same source again, from offset 0
        Item::Inline(b" tail".to_vec()),
    ];
    let stream = encode(&items);
    let expected = b"head bbAAAbb tail";

    let files: Vec<File> = paths.iter().map(|p| File::open(p).unwrap()).collect();
    assert_eq!(rebuild_all_ways(&stream, &files).unwrap(), expected);
    assert_eq!(rebuild_all_ways(&stream, &files[..]).unwrap(), expected);
    assert_eq!(
        rebuild_all_ways(&stream, &PathSources::from_paths(&paths)).unwrap(),
        expected
    );
    let one = PathSources::from_paths(&paths).with_cache_capacity(0);
    assert_eq!(rebuild_all_ways(&stream, &one).unwrap(), expected);
    assert_eq!(one.open_files(), 1);
    assert_eq!(rebuild_all_ways(&stream, &contents).unwrap(), expected);
}

#[test]
fn the_open_file_cache_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = PathSources::new().with_cache_capacity(3);
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10u64 {
        let path = dir.path().join(i.to_string());
        std::fs::write(&path, i.to_string()).unwrap();
        assert_eq!(sources.push(path), i);
        items.push(Item::External(i));
        items.push(Item::External(i / 2));
        expected.extend_from_slice(i.to_string().as_bytes());
        expected.extend_from_slice((i / 2).to_string().as_bytes());
    }
    assert_eq!(
        rebuild_all_ways(&encode(&items), &sources).unwrap(),
        expected
    );
    assert_eq!(sources.open_files(), 3);
}

/// Rebuilds External(0) from `path` on another thread, giving up after ten seconds.
fn rebuild_path_with_deadline(
    path: &std::path::Path,
) -> Result<Vec<u8>, splitfdstream_adapters::std::Error> {
    let stream = encode(&[Item::External(0)]);
    let sources = PathSources::from_paths([path]);
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let rebuilt = reconstruct(stream.as_slice(), &sources, &mut out).map(|_| out);
        let _ = done.send(rebuilt);
    });
    result
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("reconstruct did not return: the path source hung")
}

#[cfg(unix)]
#[test]
fn path_sources_refuse_fifos_character_devices_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    match std::process::Command::new("mkfifo").arg(&fifo).status() {
        Ok(status) if status.success() => {
            let error = rebuild_path_with_deadline(&fifo).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            let message = error.to_string();
            assert!(
                message.contains("fifo") && message.contains("a FIFO"),
                "{message}"
            );
        }
        _ => eprintln!("skipping the FIFO case: mkfifo is not available"),
    }

    let error = rebuild_path_with_deadline(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("/dev/zero") && message.contains("a character device"),
        "{message}"
    );

    let error = rebuild_path_with_deadline(dir.path()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
    assert!(error.to_string().contains("a directory"), "{error}");

    // A symbolic link to a regular file is followed.
    let file = dir.path().join("file");
    std::fs::write(&file, b"content").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert_eq!(rebuild_path_with_deadline(&link).unwrap(), b"content");
}

#[test]
fn index_with_no_source_is_not_found() {
    let stream = encode(&[Item::Inline(b"x".to_vec()), Item::External(2)]);
    let sources: [&[u8]; 2] = [b"a", b"b"];
    let error = reconstruct(stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert_eq!(source_error(&error), SourceError::Missing { index: 2 });
    assert!(error.to_string().contains("external source 2"), "{error}");
    let mut pulled = Vec::new();
    let error = Reconstructor::new(stream.as_slice(), &sources)
        .read_to_end(&mut pulled)
        .unwrap_err();
    assert_eq!(source_error(&error), SourceError::Missing { index: 2 });
    assert_eq!(
        pulled, b"x",
        "bytes before the bad chunk are delivered, none after"
    );
    // Indices beyond usize and beyond u32 are carried, not truncated to a valid one.
    let stream = encode(&[Item::External((1 << 32) + 1)]);
    let error = reconstruct(stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Missing {
            index: (1 << 32) + 1
        }
    );
}

#[test]
fn missing_and_unreadable_sources_name_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let stream = encode(&[Item::External(0)]);

    let sources = PathSources::from_paths([dir.path().join("absent")]);
    let error = reconstruct(stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert_eq!(source_io_error(&error).index(), 0);
    assert!(error.to_string().contains("absent"), "{error}");

    // A directory is not a source: refused before it is opened.
    let sources = PathSources::from_paths([dir.path()]);
    let error = reconstruct(stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert_eq!(source_io_error(&error).index(), 0);
    let error = Reconstructor::new(stream.as_slice(), &sources)
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(source_io_error(&error).index(), 0);
}

#[test]
fn truncated_streams_are_invalid_data() {
    let sources: [&[u8]; 1] = [b"a"];
    let full = encode(&[Item::External(0), Item::Inline(b"body".to_vec())]);
    for (cut, missing) in [(3, 5), (8 + 5, 3), (8 + 8 + 2, 2)] {
        let error = reconstruct(&full[..cut], &sources, io::sink()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let decode = match &error {
            splitfdstream_adapters::std::Error::Decode(error) => Some(error),
            _ => None,
        };
        assert_eq!(
            decode,
            Some(&splitfdstream_adapters::StreamError::Splitfdstream(
                DecodeError::Truncated { missing }
            )),
            "cut at {cut}"
        );
        let error = Reconstructor::new(&full[..cut], &sources)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}

/// A source that claims `size` bytes but holds `actual`: it changed since its size was
/// taken.
struct Changing {
    size: u64,
    actual: Vec<u8>,
    reads: Cell<usize>,
}

impl ReadAt for Changing {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.reads.set(self.reads.get() + 1);
        self.actual.as_slice().read_at(buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.size))
    }
}

#[test]
fn a_source_that_shrinks_or_grows_is_an_error() {
    let stream = encode(&[Item::External(0)]);
    let shrunk = [Changing {
        size: 10,
        actual: vec![1; 4],
        reads: Cell::new(0),
    }];
    let error = reconstruct(stream.as_slice(), &shrunk, io::sink()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        source_error(&error),
        SourceError::Shrank {
            index: 0,
            expected: 10,
            read: 4
        }
    );
    let error = Reconstructor::new(stream.as_slice(), &shrunk)
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Shrank {
            index: 0,
            expected: 10,
            read: 4
        }
    );

    let grown = [Changing {
        size: 4,
        actual: vec![1; 10],
        reads: Cell::new(0),
    }];
    let mut out = Vec::new();
    let error = reconstruct(stream.as_slice(), &grown, &mut out).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Grew {
            index: 0,
            expected: 4
        }
    );
    assert!(out.len() <= 4, "no byte past the known size is passed on");
    let error = Reconstructor::new(stream.as_slice(), &grown)
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Grew {
            index: 0,
            expected: 4
        }
    );
}

#[test]
fn a_real_file_truncated_between_references_is_caught_by_its_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let mut sources = PathSources::new();
    sources.push_with_len(&path, 10);
    let stream = encode(&[Item::External(0)]);
    assert_eq!(rebuild_all_ways(&stream, &sources).unwrap(), b"0123456789");
    std::fs::write(&path, b"01234").unwrap();
    let error = reconstruct(stream.as_slice(), &sources, io::sink()).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::SizeMismatch {
            index: 0,
            expected: 10,
            actual: 5
        }
    );
}

#[test]
fn expected_sizes_are_checked_never_cut_or_padded() {
    let stream = encode(&[Item::External(0), Item::External(1)]);
    let sources = ExpectedLens::new([&b"four"[..], b"three"], vec![Some(4), Some(3)]);
    let mut out = Vec::new();
    let error = reconstruct(stream.as_slice(), &sources, &mut out).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        source_error(&error),
        SourceError::SizeMismatch {
            index: 1,
            expected: 3,
            actual: 5
        }
    );
    let sources = ExpectedLens::new([&b"four"[..], b"three"], vec![None, Some(5)]);
    assert_eq!(rebuild_all_ways(&stream, &sources).unwrap(), b"fourthree");
}

/// A source whose size cannot be known up front (like a pipe), read to its end.
struct Unsized(Vec<u8>);

impl ReadAt for Unsized {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

#[test]
fn sources_of_unknown_size_are_read_to_their_end_and_checked_when_expected() {
    let stream = encode(&[Item::External(0)]);
    let sources = [Unsized(vec![7; 300_000])];
    assert_eq!(
        rebuild_all_ways(&stream, &sources).unwrap(),
        vec![7; 300_000]
    );
    let expected = ExpectedLens::new([Unsized(vec![7; 10])], vec![Some(11)]);
    let error = reconstruct(stream.as_slice(), &expected, io::sink()).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Shrank {
            index: 0,
            expected: 11,
            read: 10
        }
    );
}

#[test]
fn a_source_longer_than_its_expected_size_is_an_error_even_with_short_reads() {
    // The size is only what the caller expects, and every read is short: a read that
    // lands on the expected size proves nothing, so a read of 0 must confirm the end.
    let stream = encode(&[Item::External(0)]);
    let sources = ExpectedLens::new([Trickle(b"0123456789".to_vec())], vec![Some(4)]);
    let grew = SourceError::Grew {
        index: 0,
        expected: 4,
    };
    let mut out = Vec::new();
    let error = reconstruct(stream.as_slice(), &sources, &mut out).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(source_error(&error), grew);
    assert!(
        out.len() <= 4,
        "no byte past the expected size is passed on"
    );
    let error = Reconstructor::new(stream.as_slice(), &sources)
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(source_error(&error), grew);

    // Of the right size, it rebuilds.
    let sources = ExpectedLens::new([Trickle(b"0123".to_vec())], vec![Some(4)]);
    assert_eq!(rebuild_all_ways(&stream, &sources).unwrap(), b"0123");
}

/// Every read of the source is interrupted once before it succeeds.
struct Interrupting {
    bytes: Vec<u8>,
    interrupted: Cell<bool>,
}

impl ReadAt for Interrupting {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if !self.interrupted.replace(true) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupted.set(false);
        let n = buf.len().min(3);
        self.bytes.read_at(&mut buf[..n], offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        self.bytes.size()
    }
}

#[test]
fn interrupted_reads_and_short_writes_are_handled() {
    let items = [
        Item::Inline(vec![1; 100]),
        Item::External(0),
        Item::Inline(vec![2; 3]),
    ];
    let sources = [Interrupting {
        bytes: (0..=255).collect(),
        interrupted: Cell::new(false),
    }];
    let expected = rebuild(&items, &[(0..=255).collect()]);
    let stream = encode(&items);
    let out = Jittery::new(Vec::new(), vec![0, 1, 7, 0, 3]);
    let mut out = out;
    let reader = Jittery::new(stream.as_slice(), vec![0, 5, 0, 1]);
    reconstruct(reader, &sources, &mut out).unwrap();
    assert_eq!(out.inner, expected);
    let mut pulled = Vec::new();
    let reader = Jittery::new(stream.as_slice(), vec![0, 5, 0, 1]);
    Reconstructor::new(reader, &sources)
        .read_to_end(&mut pulled)
        .unwrap();
    assert_eq!(pulled, expected);
}

#[test]
fn output_that_accepts_nothing_is_an_error_not_a_hang() {
    let stream = encode(&[Item::Inline(b"abc".to_vec())]);
    let sources: [&[u8]; 0] = [];
    let mut full = [0u8; 2];
    let error = reconstruct(stream.as_slice(), &sources, &mut full[..]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WriteZero);
}

#[test]
fn one_byte_reads_give_identical_output() {
    let items = [
        Item::Inline(vec![3; 70_000]),
        Item::External(0),
        Item::Inline(vec![4; 5]),
        Item::External(0),
    ];
    let source: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sources = [source.clone()];
    let expected = rebuild(&items, &sources);
    let stream = encode(&items);
    let mut out = Vec::new();
    reconstruct(one_byte(stream.as_slice()), &sources, &mut out).unwrap();
    assert_eq!(out, expected);
    // One byte at a time out of the Reconstructor, too.
    let mut reconstructor = Reconstructor::new(one_byte(stream.as_slice()), &sources);
    let mut pulled = Vec::new();
    let mut byte = [0u8; 1];
    while reconstructor.read(&mut byte).unwrap() == 1 {
        pulled.push(byte[0]);
    }
    assert_eq!(pulled, expected);
}

proptest! {
    #[test]
    fn reconstruct_matches_the_model((items, sources) in layer(), sizes in read_sizes(), out_sizes in read_sizes()) {
        let stream = encode(&items);
        let expected = rebuild(&items, &sources);
        let mut out = Jittery::new(Vec::new(), out_sizes.clone());
        let written = reconstruct(Jittery::new(stream.as_slice(), sizes.clone()), &sources, &mut out).unwrap();
        prop_assert_eq!(written, u64::try_from(expected.len()).unwrap());
        prop_assert_eq!(&out.inner, &expected);

        // Pulled through caller buffers of random sizes.
        let mut reconstructor = Reconstructor::with_capacity(1 + sizes[0] % 50, Jittery::new(stream.as_slice(), sizes), &sources);
        let mut pulled = Vec::new();
        let mut buf = vec![0u8; 5000];
        for size in out_sizes.iter().cycle() {
            let size = (*size).max(1);
            let n = reconstructor.read(&mut buf[..size]).unwrap();
            if n == 0 {
                break;
            }
            pulled.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(pulled, expected);
    }

    #[test]
    fn any_stream_bytes_give_an_error_or_output_never_a_panic(stream in prop::collection::vec(any::<u8>(), 0..100)) {
        let sources: [&[u8]; 2] = [b"a", b""];
        let _ = reconstruct(stream.as_slice(), &sources, io::sink());
        let _ = Reconstructor::new(stream.as_slice(), &sources).read_to_end(&mut Vec::new());
        if let Ok(mut rebuilt) = SeekableReconstructor::new(io::Cursor::new(&stream), &sources) {
            let _ = rebuilt.read_to_end(&mut Vec::new());
        }
    }
}
