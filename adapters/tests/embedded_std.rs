//! `std::io` types in the `no_std` `embedded-io` drivers, through `embedded-io-adapters`'
//! `FromStd`: files and cursors as stream, sources and output, one-byte and interrupted
//! reads, and errors by kind. Runs with and without the `std` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::io::{self, Cursor};

use common::{encode, layer, one_byte, read_sizes, rebuild, Item, Jittery};
use embedded_io_07::ErrorKind;
use embedded_io_adapters_07::std::FromStd;
use proptest::prelude::*;
use splitfdstream::{Chunk, DecodeError};
use splitfdstream_adapters::embedded_io::{reconstruct, Reader, ReconstructError, SourceTable};
use splitfdstream_adapters::StreamError;
use splitfdstream_adapters::{ReadError, SourceError};

/// The items a reader yields, its inline fragments joined back into chunks.
fn read_items<R: embedded_io_07::Read>(
    reader: &mut Reader<'_, R>,
) -> Result<Vec<Item>, ReadError<R::Error>> {
    let mut items = Vec::new();
    let mut current = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        match chunk {
            Chunk::Inline(fragment) => {
                current.extend_from_slice(fragment.data);
                if fragment.is_last() {
                    items.push(Item::Inline(std::mem::take(&mut current)));
                }
            }
            Chunk::External(index) => items.push(Item::External(index.get())),
        }
    }
    Ok(items)
}

/// Writes `bytes` to a new file in `dir` and opens it for reading.
fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> File {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    File::open(path).unwrap()
}

/// A `std::io::Write` that always fails with `kind`.
struct Failing(io::ErrorKind);

impl io::Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(self.0.into())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Reconstruction from a file stream and file sources, into a `Vec`, through short and
    /// interrupted reads of the stream, rebuilds the model's bytes.
    #[test]
    fn reconstruct_from_files_rebuilds_the_model(
        (items, sources) in layer(),
        sizes in read_sizes(),
        buf_len in 16usize..300,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let stream = file(&dir, "stream", &encode(&items));
        let mut files: Vec<FromStd<File>> = sources
            .iter()
            .enumerate()
            .map(|(at, bytes)| FromStd::new(file(&dir, &format!("s{at}"), bytes)))
            .collect();
        let mut out = FromStd::new(Jittery::new(Vec::new(), sizes.clone()));
        let mut buf = vec![0u8; buf_len];
        let written = reconstruct(
            FromStd::new(Jittery::new(stream, sizes)),
            files.as_mut_slice(),
            &mut out,
            &mut buf,
        )
        .unwrap();
        let expected = rebuild(&items, &sources);
        prop_assert_eq!(written, u64::try_from(expected.len()).unwrap());
        prop_assert_eq!(&out.inner().inner, &expected);
    }

    /// The reader over a `Cursor` yields the model's chunks, one byte per read.
    #[test]
    fn reader_over_a_cursor_yields_the_model((items, _sources) in layer(), buf_len in 8usize..64) {
        let mut buf = vec![0u8; buf_len];
        let mut reader = Reader::new(FromStd::new(one_byte(Cursor::new(encode(&items)))), &mut buf);
        prop_assert_eq!(read_items(&mut reader).unwrap(), items);
    }
}

#[test]
fn reader_over_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let items = [
        Item::Inline(b"header".to_vec()),
        Item::External(1 << 40),
        Item::Inline(vec![7; 300]),
    ];
    let mut buf = [0u8; 32];
    let mut reader = Reader::new(FromStd::new(file(&dir, "s", &encode(&items))), &mut buf);
    assert_eq!(read_items(&mut reader).unwrap(), items);
    assert_eq!(reader.position(), 14 + 8 + 308);
}

#[test]
fn sources_of_the_wrong_size_or_missing_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut buf = [0u8; 64];
    let stream = encode(&[Item::Inline(b"x".to_vec()), Item::External(0)]);

    // The file holds 4 bytes, 5 are expected.
    let mut table: SourceTable<FromStd<File>, 2> = SourceTable::new();
    table
        .push_with_len(FromStd::new(file(&dir, "four", b"four")), 5)
        .map_err(|full| full.capacity)
        .unwrap();
    let mut out = FromStd::new(Vec::new());
    let error = reconstruct(
        FromStd::new(Cursor::new(&stream)),
        &mut table,
        &mut out,
        &mut buf,
    );
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::SizeMismatch {
            index: 0,
            expected: 5,
            actual: 4
        }))
    );
    // Nothing of the source was written.
    assert_eq!(out.inner(), b"x");

    let mut none: [FromStd<File>; 0] = [];
    let error = reconstruct(
        FromStd::new(Cursor::new(&stream)),
        &mut none,
        FromStd::new(Vec::new()),
        &mut buf,
    );
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::Missing { index: 0 }))
    );
}

#[test]
fn stream_and_output_errors_keep_their_kind() {
    let mut buf = [0u8; 64];
    let stream = encode(&[Item::Inline(b"abc".to_vec())]);

    // A stream cut inside its chunk.
    let error = reconstruct(
        FromStd::new(Cursor::new(&stream[..10])),
        &mut [] as &mut [FromStd<File>],
        FromStd::new(Vec::new()),
        &mut buf,
    );
    assert_eq!(
        error,
        Err(ReconstructError::Decode(StreamError::Splitfdstream(
            DecodeError::Truncated { missing: 1 }
        )))
    );

    // An output that fails, and one that accepts nothing.
    for (kind, expected) in [
        (io::ErrorKind::PermissionDenied, ErrorKind::PermissionDenied),
        (io::ErrorKind::WriteZero, ErrorKind::WriteZero),
    ] {
        let error = reconstruct(
            FromStd::new(Cursor::new(&stream)),
            &mut [] as &mut [FromStd<File>],
            FromStd::new(Failing(kind)),
            &mut buf,
        );
        assert_eq!(error, Err(ReconstructError::Write(expected)));
    }
}
