//! The `embedded-io` adapters: reader, writer and the `no_std` reconstruct with in-memory
//! sources in a fixed-capacity table. Runs with and without the `std` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{encode, layer, one_byte, read_sizes, rebuild, Item, Jittery};
use embedded_io_07::{ErrorKind, ErrorType, Read, Seek, SeekFrom};
use proptest::prelude::*;
use splitfdstream::{Chunk, DecodeError};
use splitfdstream_adapters::embedded_io::{
    reconstruct, Reader, ReconstructError, SliceSource, SourceTable, Writer,
};
use splitfdstream_adapters::StreamError;
use splitfdstream_adapters::{ReadError, SourceError, WriteError};

fn read_all<R: Read>(reader: &mut Reader<'_, R>) -> Result<Vec<Item>, ReadError<R::Error>> {
    let mut items = Vec::new();
    let mut current = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        match chunk {
            Chunk::Inline(fragment) => {
                assert_eq!(fragment.offset, u64::try_from(current.len()).unwrap());
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

/// An in-memory embedded-io writer that takes everything at once.
fn vec_out() -> Jittery<Vec<u8>> {
    Jittery::new(Vec::new(), vec![usize::MAX])
}

fn table<'a>(sources: &'a [Vec<u8>]) -> SourceTable<SliceSource<'a>, 8> {
    let mut table = SourceTable::new();
    for source in sources {
        table.push(SliceSource::new(source)).unwrap();
    }
    table
}

#[test]
fn reader_streams_a_chunk_larger_than_its_buffer() {
    let items = [Item::Inline(vec![7; 1000]), Item::External(1 << 40)];
    let stream = encode(&items);
    let mut buf = [0u8; 8];
    let mut reader = Reader::new(stream.as_slice(), &mut buf);
    let mut fragments = 0;
    while let Some(chunk) = reader.next_chunk().unwrap() {
        if let Chunk::Inline(fragment) = chunk {
            assert!(fragment.data.len() <= 8);
            fragments += 1;
        }
    }
    assert_eq!(fragments, 125);
    assert_eq!(reader.position(), 1016);
}

#[test]
fn reader_rejects_a_buffer_below_eight_bytes_without_panicking() {
    let mut buf = [0u8; 7];
    let mut reader = Reader::new(&[][..], &mut buf);
    assert!(matches!(
        reader.next_chunk(),
        Err(ReadError::BufferTooSmall { len: 7 })
    ));
}

#[test]
fn reader_reports_truncation_and_retries_interruptions() {
    let stream = encode(&[Item::External(3), Item::Inline(b"abc".to_vec())]);
    let mut buf = [0u8; 16];
    let mut reader = Reader::new(Jittery::new(&stream[..18], vec![0, 1, 0, 2]), &mut buf);
    let error = read_all(&mut reader).unwrap_err();
    assert!(matches!(
        error,
        ReadError::Decode(DecodeError::Truncated { missing: 1 })
    ));
}

#[test]
fn writer_handles_short_writes_and_a_full_output() {
    let mut writer = Writer::new(Jittery::new(Vec::new(), vec![1, 0, 2, 5]));
    writer.write_inline(b"hello").unwrap();
    writer.write_inline(b"").unwrap();
    writer.write_external(7).unwrap();
    let out = writer.finish().unwrap().inner;
    assert_eq!(
        out,
        encode(&[Item::Inline(b"hello".to_vec()), Item::External(7)])
    );

    let mut small = [0u8; 4];
    let mut writer = Writer::new(&mut small[..]);
    // embedded-io's slice writer reports Full, which we pass on as an I/O error.
    assert!(matches!(writer.write_external(1), Err(WriteError::Io(_))));

    let mut writer = Writer::new(vec_out());
    writer.begin_inline(2).unwrap();
    assert!(matches!(
        writer.write_external(1),
        Err(WriteError::Encode(_))
    ));
    assert!(matches!(writer.finish(), Err(WriteError::Encode(_))));
}

/// A writer that accepts nothing and says so with `Ok(0)`: embedded-io's own `write_all`
/// panics on it.
struct Stuck;

impl ErrorType for Stuck {
    type Error = ErrorKind;
}

impl embedded_io_07::Write for Stuck {
    fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn a_writer_returning_zero_is_an_error_not_a_panic() {
    let mut writer = Writer::new(Stuck);
    assert!(matches!(
        writer.write_inline(b"x"),
        Err(WriteError::WriteZero)
    ));
    let stream = encode(&[Item::Inline(b"x".to_vec())]);
    let mut buf = [0u8; 16];
    let sources = table(&[]);
    let mut sources = sources;
    let error = reconstruct(stream.as_slice(), &mut sources, Stuck, &mut buf).unwrap_err();
    assert_eq!(error, ReconstructError::Write(ErrorKind::WriteZero));
}

#[test]
fn the_source_table_refuses_a_source_past_its_capacity() {
    let mut table: SourceTable<SliceSource<'_>, 2> = SourceTable::new();
    table.push(SliceSource::new(b"a")).unwrap();
    table.push(SliceSource::new(b"b")).unwrap();
    let full = table.push_with_len(SliceSource::new(b"c"), 1).unwrap_err();
    assert_eq!(full.capacity, 2);
    assert_eq!(full.source.as_bytes(), b"c");
    assert_eq!(full.to_string(), "source table is full: capacity 2");
    assert_eq!(table.len(), 2);
}

#[test]
fn reconstruct_rebuilds_an_image_from_regions() {
    let sources = vec![b"kernel".to_vec(), Vec::new(), b"boot".to_vec()];
    let items = [
        Item::Inline(b"v2:".to_vec()),
        Item::External(2),
        Item::External(1),
        Item::External(0),
        Item::External(2),
    ];
    let stream = encode(&items);
    let mut table = table(&sources);
    let mut out = Jittery::new(Vec::new(), vec![1, 0, 3]);
    let mut buf = [0u8; 16];
    let written = reconstruct(one_byte(stream.as_slice()), &mut table, &mut out, &mut buf).unwrap();
    assert_eq!(out.inner, b"v2:bootkernelboot");
    assert_eq!(written, 17);
}

#[test]
fn reconstruct_reports_each_bad_input() {
    let sources = vec![b"abc".to_vec()];
    let mut buf = [0u8; 32];

    let stream = encode(&[Item::External(1)]);
    let error =
        reconstruct(stream.as_slice(), &mut table(&sources), vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::Missing { index: 1 })
    );

    let stream = encode(&[Item::Inline(b"abc".to_vec())]);
    let error = reconstruct(&stream[..10], &mut table(&sources), vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Decode(StreamError::Splitfdstream(DecodeError::Truncated {
            missing: 1
        }))
    );
    let error = reconstruct(&stream[..5], &mut table(&sources), vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Decode(StreamError::Splitfdstream(DecodeError::Truncated {
            missing: 3
        }))
    );

    let stream = encode(&[Item::External(0)]);
    let mut sized: SourceTable<SliceSource<'_>, 1> = SourceTable::new();
    sized.push_with_len(SliceSource::new(b"abc"), 4).unwrap();
    let error = reconstruct(stream.as_slice(), &mut sized, vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::SizeMismatch {
            index: 0,
            expected: 4,
            actual: 3
        })
    );

    let error = reconstruct(
        stream.as_slice(),
        &mut table(&sources),
        vec_out(),
        &mut buf[..15],
    )
    .unwrap_err();
    assert_eq!(error, ReconstructError::BufferTooSmall { len: 15 });
}

/// A region whose end is at `size` but which yields only `actual` bytes (it shrank).
struct Shrinking {
    size: u64,
    actual: SliceSource<'static>,
}

impl ErrorType for Shrinking {
    type Error = ErrorKind;
}

impl Read for Shrinking {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.actual.read(buf)
    }
}

impl Seek for Shrinking {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        match pos {
            SeekFrom::End(0) => Ok(self.size),
            other => self.actual.seek(other),
        }
    }
}

#[test]
fn a_source_that_shrinks_or_grows_while_read_is_an_error() {
    let stream = encode(&[Item::External(0)]);
    let mut buf = [0u8; 16];
    let mut shrunk = [Shrinking {
        size: 10,
        actual: SliceSource::new(b"abc"),
    }];
    let error = reconstruct(stream.as_slice(), &mut shrunk, vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::Shrank {
            index: 0,
            expected: 10,
            read: 3
        })
    );
    let mut grown = [Shrinking {
        size: 2,
        actual: SliceSource::new(b"abc"),
    }];
    let error = reconstruct(stream.as_slice(), &mut grown, vec_out(), &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::Grew {
            index: 0,
            expected: 2
        })
    );
}

proptest! {
    #[test]
    fn reader_matches_the_model((items, _) in layer(), sizes in read_sizes(), len in 8usize..100) {
        let stream = encode(&items);
        let mut buf = vec![0u8; len];
        let mut reader = Reader::new(Jittery::new(stream.as_slice(), sizes), &mut buf);
        prop_assert_eq!(read_all(&mut reader).unwrap(), items);
    }

    #[test]
    fn reconstruct_matches_the_model((items, sources) in layer(), sizes in read_sizes(), out_sizes in read_sizes(), len in 16usize..200) {
        let stream = encode(&items);
        let mut out = Jittery::new(Vec::new(), out_sizes);
        let mut buf = vec![0u8; len];
        let mut table = table(&sources);
        let written = reconstruct(Jittery::new(stream.as_slice(), sizes), &mut table, &mut out, &mut buf).unwrap();
        let expected = rebuild(&items, &sources);
        prop_assert_eq!(written, u64::try_from(expected.len()).unwrap());
        prop_assert_eq!(out.inner, expected);
    }

    #[test]
    fn any_bytes_never_panic(stream in prop::collection::vec(any::<u8>(), 0..100)) {
        let sources = vec![b"a".to_vec()];
        let mut buf = [0u8; 16];
        let _ = reconstruct(stream.as_slice(), &mut table(&sources), vec_out(), &mut buf);
    }
}

/// A region that hands out one byte per read, after an `Interrupted` error each time.
struct Stuttering {
    inner: SliceSource<'static>,
    interrupted: bool,
}

impl ErrorType for Stuttering {
    type Error = ErrorKind;
}

impl Read for Stuttering {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.interrupted = !self.interrupted;
        if self.interrupted {
            return Err(ErrorKind::Interrupted);
        }
        let n = buf.len().min(1);
        self.inner.read(&mut buf[..n])
    }
}

impl Seek for Stuttering {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        self.inner.seek(pos)
    }
}

#[test]
fn sources_read_one_byte_at_a_time_with_interruptions_give_identical_output() {
    let stream = encode(&[
        Item::External(0),
        Item::Inline(b"|".to_vec()),
        Item::External(0),
    ]);
    let mut table: SourceTable<Stuttering, 1> = SourceTable::new();
    table
        .push(Stuttering {
            inner: SliceSource::new(b"flash region"),
            interrupted: false,
        })
        .map_err(|_| "full")
        .unwrap();
    let mut out = vec_out();
    let mut buf = [0u8; 16];
    reconstruct(stream.as_slice(), &mut table, &mut out, &mut buf).unwrap();
    assert_eq!(out.inner, b"flash region|flash region");
}

#[test]
fn a_source_longer_than_its_expected_size_is_an_error_even_with_short_reads() {
    // Seeking gives the source's own size, so the expected one is checked against it
    // before any byte is read: a longer source is never cut to the expected size.
    let stream = encode(&[Item::External(0)]);
    let mut table: SourceTable<Stuttering, 1> = SourceTable::new();
    table
        .push_with_len(
            Stuttering {
                inner: SliceSource::new(b"0123456789"),
                interrupted: false,
            },
            4,
        )
        .map_err(|_| "full")
        .unwrap();
    let mut out = vec_out();
    let mut buf = [0u8; 16];
    let error = reconstruct(stream.as_slice(), &mut table, &mut out, &mut buf).unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::SizeMismatch {
            index: 0,
            expected: 4,
            actual: 10
        })
    );
    assert!(out.inner.is_empty());
}
