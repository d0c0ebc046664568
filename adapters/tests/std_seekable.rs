//! `SeekableReconstructor`: random reads across chunk boundaries against the model.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{self, Cursor, Read, Seek, SeekFrom};

use common::{encode, layer, rebuild, source_error, Item};
use proptest::prelude::*;
use splitfdstream_adapters::std::{ExpectedLens, PathSources, ReadAt, SeekableReconstructor};
use splitfdstream_adapters::SourceError;

#[test]
fn seeks_and_reads_across_boundaries_and_the_same_external_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, b"EXT").unwrap();
    let empty = dir.path().join("e");
    std::fs::write(&empty, b"").unwrap();
    let items = [
        Item::Inline(b"ab".to_vec()),
        Item::External(0),
        Item::External(1),
        Item::External(0),
        Item::Inline(b"cd".to_vec()),
    ];
    let mut stream = vec![0xee; 5]; // the stream starts at a non-zero offset of its file
    stream.extend_from_slice(&encode(&items));
    let mut cursor = Cursor::new(stream);
    cursor.seek(SeekFrom::Start(5)).unwrap();
    let sources = PathSources::from_paths([&path, &empty]);
    let mut rebuilt = SeekableReconstructor::new(cursor, &sources).unwrap();
    assert_eq!(rebuilt.len(), 10);

    let mut buf = [0u8; 10];
    assert_eq!(rebuilt.read_at(&mut buf, 0).unwrap(), 10);
    assert_eq!(&buf, b"abEXTEXTcd");
    let mut buf = [0u8; 6];
    assert_eq!(rebuilt.read_at(&mut buf, 1).unwrap(), 6);
    assert_eq!(&buf, b"bEXTEX");
    assert_eq!(rebuilt.read_at(&mut buf, 7).unwrap(), 3);
    assert_eq!(&buf[..3], b"Tcd");
    assert_eq!(rebuilt.read_at(&mut buf, 10).unwrap(), 0);
    assert_eq!(rebuilt.read_at(&mut buf, u64::MAX).unwrap(), 0);

    rebuilt.seek(SeekFrom::Start(4)).unwrap();
    let mut rest = String::new();
    rebuilt.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "TEXTcd");
    assert_eq!(rebuilt.seek(SeekFrom::End(-2)).unwrap(), 8);
    assert_eq!(rebuilt.seek(SeekFrom::Current(-3)).unwrap(), 5);
    let mut two = [0u8; 2];
    rebuilt.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"EX");
    assert_eq!(
        rebuilt.seek(SeekFrom::Current(-100)).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn bad_input_is_reported_when_indexing() {
    let sources: [&[u8]; 1] = [b"x"];
    let error = SeekableReconstructor::new(Cursor::new(encode(&[Item::External(1)])), &sources)
        .unwrap_err();
    assert_eq!(source_error(&error), SourceError::Missing { index: 1 });
    let truncated = encode(&[Item::Inline(b"abc".to_vec())]);
    let error = SeekableReconstructor::new(Cursor::new(&truncated[..9]), &sources).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let sized = ExpectedLens::new(sources, vec![Some(2)]);
    let error =
        SeekableReconstructor::new(Cursor::new(encode(&[Item::External(0)])), &sized).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::SizeMismatch {
            index: 0,
            expected: 2,
            actual: 1
        }
    );
}

#[derive(Debug)]
struct Unsized;

impl ReadAt for Unsized {
    fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
        Ok(0)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

#[test]
fn a_source_of_unknown_size_needs_an_expected_size() {
    let stream = encode(&[Item::External(0)]);
    let error = SeekableReconstructor::new(Cursor::new(&stream), [Unsized]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::Unsupported);
    assert_eq!(source_error(&error), SourceError::UnknownSize { index: 0 });
    let mut rebuilt = SeekableReconstructor::new(
        Cursor::new(&stream),
        ExpectedLens::new([Unsized], vec![Some(3)]),
    )
    .unwrap();
    // It claimed 3 bytes and holds none: it shrank.
    let error = rebuilt.read_at(&mut [0; 3], 0).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Shrank {
            index: 0,
            expected: 3,
            read: 0
        }
    );
}

#[test]
fn a_file_that_changes_after_indexing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let sources = PathSources::from_paths([&path]);
    let stream = encode(&[Item::External(0)]);
    let mut rebuilt = SeekableReconstructor::new(Cursor::new(&stream), &sources).unwrap();
    std::fs::write(&path, b"0123").unwrap();
    let error = rebuilt.read_at(&mut [0; 10], 0).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Shrank {
            index: 0,
            expected: 10,
            read: 4
        }
    );
    std::fs::write(&path, b"0123456789AB").unwrap();
    let error = rebuilt.read_at(&mut [0; 10], 0).unwrap_err();
    assert_eq!(
        source_error(&error),
        SourceError::Grew {
            index: 0,
            expected: 10
        }
    );
}

proptest! {
    #[test]
    fn random_reads_match_the_model(
        (items, sources) in layer(),
        reads in prop::collection::vec((any::<u16>(), 0usize..700), 1..30),
    ) {
        let expected = rebuild(&items, &sources);
        let stream = encode(&items);
        let mut rebuilt = SeekableReconstructor::new(Cursor::new(stream), &sources).unwrap();
        prop_assert_eq!(rebuilt.len(), u64::try_from(expected.len()).unwrap());
        for (offset, len) in reads {
            let offset = usize::from(offset) % (expected.len() + 10);
            let mut buf = vec![0u8; len];
            let n = rebuilt.read_at(&mut buf, u64::try_from(offset).unwrap()).unwrap();
            let want = expected.get(offset..).unwrap_or_default();
            let want = &want[..want.len().min(len)];
            prop_assert_eq!(&buf[..n], want);
        }
        let mut all = Vec::new();
        rebuilt.seek(SeekFrom::Start(0)).unwrap();
        rebuilt.read_to_end(&mut all).unwrap();
        prop_assert_eq!(all, expected);
    }
}
