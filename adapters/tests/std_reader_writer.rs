//! The std chunk reader and writer: model equivalence under any read pattern, truncation,
//! interrupted reads, short writes.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io;

use common::{encode, layer, one_byte, read_sizes, Item, Jittery};
use proptest::prelude::*;
use splitfdstream::{Chunk, DecodeError, Limits};
use splitfdstream_adapters::std::{Reader, Writer};
use splitfdstream_adapters::{ReadError, WriteError};

/// Reads all chunks, merging fragments, checking fragment offsets on the way.
fn read_all<R: io::Read>(mut reader: Reader<R>) -> Result<Vec<Item>, ReadError<io::Error>> {
    let mut items = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    while let Some(chunk) = reader.next_chunk()? {
        match chunk {
            Chunk::Inline(fragment) => {
                assert!(!fragment.data.is_empty());
                let body = current.get_or_insert_with(Vec::new);
                assert_eq!(fragment.offset, u64::try_from(body.len()).unwrap());
                body.extend_from_slice(fragment.data);
                if fragment.is_last() {
                    items.push(Item::Inline(current.take().unwrap()));
                }
            }
            Chunk::External(index) => {
                assert!(current.is_none());
                items.push(Item::External(index.get()));
            }
        }
    }
    assert!(current.is_none());
    Ok(items)
}

#[test]
fn golden_bytes() {
    let stream = encode(&[Item::Inline(b"hello".to_vec()), Item::External(7)]);
    assert_eq!(
        stream,
        [
            0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o', 7, 0, 0,
            0, 0, 0, 0, 0
        ]
    );
    let items = read_all(Reader::new(stream.as_slice())).unwrap();
    assert_eq!(items, [Item::Inline(b"hello".to_vec()), Item::External(7)]);
}

#[test]
fn one_byte_reads_and_smallest_buffer_give_the_same_chunks() {
    let items = vec![
        Item::Inline(vec![1; 1000]),
        Item::External(3),
        Item::External(1 << 40),
        Item::Inline(vec![2; 9]),
    ];
    let stream = encode(&items);
    assert_eq!(
        read_all(Reader::new(one_byte(stream.as_slice()))).unwrap(),
        items
    );
    assert_eq!(
        read_all(Reader::with_capacity(1, stream.as_slice())).unwrap(),
        items
    );
}

#[test]
fn interrupted_reads_are_retried() {
    let items = vec![Item::Inline(vec![5; 100]), Item::External(0)];
    let stream = encode(&items);
    let reader = Jittery::new(stream.as_slice(), vec![0, 0, 3, 0, 7]);
    assert_eq!(read_all(Reader::new(reader)).unwrap(), items);
}

#[test]
fn truncated_prefix_is_an_error_converting_to_invalid_data() {
    let mut stream = encode(&[Item::External(1)]);
    stream.extend_from_slice(&[0xfb, 0xff, 0xff]);
    let error = read_all(Reader::new(stream.as_slice())).unwrap_err();
    assert!(matches!(
        error,
        ReadError::Decode(DecodeError::Truncated { missing: 5 })
    ));
    let error = io::Error::from(error);
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let source = error.get_ref().unwrap().downcast_ref::<DecodeError>();
    assert_eq!(source, Some(&DecodeError::Truncated { missing: 5 }));
}

#[test]
fn stream_ending_mid_inline_is_an_error() {
    let stream = encode(&[Item::Inline(vec![9; 10])]);
    let error = read_all(Reader::new(&stream[..15])).unwrap_err();
    assert!(matches!(
        error,
        ReadError::Decode(DecodeError::Truncated { missing: 3 })
    ));
}

#[test]
fn i64_min_inline_length_is_truncation_not_a_panic() {
    let mut stream = i64::MIN.to_le_bytes().to_vec();
    stream.extend_from_slice(b"abc");
    let error = read_all(Reader::new(stream.as_slice())).unwrap_err();
    assert!(
        matches!(error, ReadError::Decode(DecodeError::Truncated { missing }) if missing == (1 << 63) - 3)
    );
}

#[test]
fn limits_apply() {
    let stream = encode(&[Item::Inline(vec![0; 100])]);
    let reader = Reader::new(stream.as_slice()).with_limits(Limits::new().max_inline(99));
    let error = read_all(reader).unwrap_err();
    assert!(matches!(
        error,
        ReadError::Decode(DecodeError::InlineTooLarge { len: 100, .. })
    ));
}

#[test]
fn io_errors_pass_through() {
    struct Failing;
    impl io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"))
        }
    }
    let error = read_all(Reader::new(Failing)).unwrap_err();
    assert!(matches!(&error, ReadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset));
    assert_eq!(
        io::Error::from(error).kind(),
        io::ErrorKind::ConnectionReset
    );
}

#[test]
fn writer_handles_short_and_interrupted_writes() {
    let out = Jittery::new(Vec::new(), vec![1, 0, 3, 2, 0, 5]);
    let mut writer = Writer::new(out);
    writer.write_inline(b"hello").unwrap();
    writer.write_inline(b"").unwrap(); // dropped
    writer.write_external(7).unwrap();
    writer.begin_inline(4).unwrap();
    writer.write_inline_body(b"wo").unwrap();
    writer.write_inline_body(b"rd").unwrap();
    let stream = writer.finish().unwrap().inner;
    assert_eq!(
        stream,
        encode(&[
            Item::Inline(b"hello".to_vec()),
            Item::External(7),
            Item::Inline(b"word".to_vec())
        ])
    );
}

#[test]
fn writer_refuses_malformed_streams() {
    let mut writer = Writer::new(Vec::new());
    writer.begin_inline(3).unwrap();
    assert!(matches!(
        writer.write_external(1),
        Err(WriteError::Encode(_))
    ));
    assert!(matches!(
        writer.write_inline_body(b"abcd"),
        Err(WriteError::Encode(_))
    ));
    writer.write_inline_body(b"ab").unwrap();
    assert_eq!(writer.owed(), 1);
    let error = writer.finish().unwrap_err();
    assert!(matches!(error, WriteError::Encode(_)));
    assert_eq!(io::Error::from(error).kind(), io::ErrorKind::InvalidInput);
    let mut writer = Writer::new(Vec::new());
    assert!(matches!(
        writer.write_external(u64::MAX),
        Err(WriteError::Encode(_))
    ));
}

#[test]
fn writer_reports_a_writer_that_accepts_nothing() {
    let mut full = [0u8; 4];
    let mut writer = Writer::new(&mut full[..]);
    let error = writer.write_external(1).unwrap_err();
    assert!(matches!(error, WriteError::WriteZero));
    assert_eq!(io::Error::from(error).kind(), io::ErrorKind::WriteZero);
}

proptest! {
    #[test]
    fn reader_matches_the_model((items, _) in layer(), sizes in read_sizes(), capacity in 1usize..100) {
        let stream = encode(&items);
        let reader = Reader::with_capacity(capacity, Jittery::new(stream.as_slice(), sizes));
        prop_assert_eq!(read_all(reader).unwrap(), items);
    }

    #[test]
    fn writer_output_is_the_model_encoding((items, _) in layer(), sizes in read_sizes()) {
        let mut writer = Writer::new(Jittery::new(Vec::new(), sizes));
        for item in &items {
            match item {
                Item::Inline(bytes) => writer.write_inline(bytes).unwrap(),
                Item::External(index) => writer.write_external(*index).unwrap(),
            }
        }
        prop_assert_eq!(writer.finish().unwrap().inner, encode(&items));
    }

    #[test]
    fn any_bytes_decode_without_panic(stream in prop::collection::vec(any::<u8>(), 0..200), capacity in 1usize..40) {
        let _ = read_all(Reader::with_capacity(capacity, stream.as_slice()));
    }
}
