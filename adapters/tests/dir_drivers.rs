//! The successor format through the same drivers as the first: every std-side driver
//! rebuilds a splitdirfdstream from sources that resolve named references, whatever the
//! stream buffer, and checks each file's length against the one the stream declares.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{self, Read};

use splitfdstream::dir::Encoder;
use splitfdstream_adapters::std::{
    reconstruct_as, Error, ReadAt, Reconstructor, SourceFault, Sources,
};
use splitfdstream_adapters::{Format, SourceError, SourceRef};

/// Files in memory, named by directory and name.
struct Named(HashMap<(u32, Vec<u8>), Vec<u8>>);

impl Sources for Named {
    type Source<'a> = &'a [u8];

    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<&[u8]>> {
        Ok(match reference {
            SourceRef::Named { dir, name, .. } => {
                self.0.get(&(dir, name.to_vec())).map(Vec::as_slice)
            }
            _ => None,
        })
    }
}

enum Piece {
    Metadata(Vec<u8>),
    Inline(Vec<u8>),
    File(u32, Vec<u8>, u64),
}

fn encode(pieces: &[Piece]) -> Vec<u8> {
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    for piece in pieces {
        let mut out = vec![0; 8192 + 64];
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

/// A tar-like stream over files in two directories, one of them named by a 4096-byte
/// name, and the bytes it rebuilds to.
fn layer() -> (Vec<u8>, Named, Vec<u8>) {
    let mut files = HashMap::new();
    let mut pieces = Vec::new();
    let mut expected = Vec::new();
    let long = vec![b'n'; 4096];
    let names: Vec<Vec<u8>> = vec![
        b"etc/hostname".to_vec(),
        "with space and ünïcode".as_bytes().to_vec(),
        long,
        b"empty".to_vec(),
    ];
    for (i, name) in names.iter().enumerate() {
        let dir = u32::try_from(i % 2).unwrap();
        let content: Vec<u8> = if name == b"empty" {
            Vec::new()
        } else {
            (0..1000 + i * 300)
                .map(|at| u8::try_from(at % 251).unwrap())
                .collect()
        };
        let header = format!("<header {i}>").into_bytes();
        expected.extend_from_slice(&header);
        expected.extend_from_slice(&content);
        pieces.push(Piece::Metadata(header));
        let len = u64::try_from(content.len()).unwrap();
        pieces.push(Piece::File(dir, name.clone(), len));
        files.insert((dir, name.clone()), content);
    }
    pieces.push(Piece::Inline(b"inline body".to_vec()));
    pieces.push(Piece::Inline(Vec::new()));
    expected.extend_from_slice(b"inline body");
    (encode(&pieces), Named(files), expected)
}

#[test]
fn every_std_driver_rebuilds_the_successor_format() {
    let (stream, sources, expected) = layer();
    let mut out = Vec::new();
    let written = reconstruct_as(
        Format::Splitdirfdstream,
        stream.as_slice(),
        &sources,
        &mut out,
    )
    .unwrap();
    assert_eq!(written, u64::try_from(expected.len()).unwrap());
    assert!(out == expected);

    // A stream buffer just big enough for the longest name: names arrive split across
    // reads and are put back together at the front of the buffer.
    for capacity in [4096 + 17, 5000, 64 * 1024] {
        let mut rebuilt = Vec::new();
        Reconstructor::with_capacity(capacity, stream.as_slice(), &sources)
            .with_format(Format::Splitdirfdstream)
            .read_to_end(&mut rebuilt)
            .unwrap();
        assert!(rebuilt == expected, "capacity {capacity}");
    }
    // One byte of stream per read.
    let mut rebuilt = Vec::new();
    Reconstructor::with_capacity(4096 + 17, common::one_byte(stream.as_slice()), &sources)
        .with_format(Format::Splitdirfdstream)
        .read_to_end(&mut rebuilt)
        .unwrap();
    assert!(rebuilt == expected);
}

#[test]
fn a_buffer_that_cannot_hold_a_name_is_an_error_not_a_loop() {
    let (stream, sources, _) = layer();
    let error = Reconstructor::with_capacity(1024, stream.as_slice(), &sources)
        .with_format(Format::Splitdirfdstream)
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    let typed = Error::from_io(&error).expect("a typed error");
    assert!(matches!(typed, Error::Decode(_)), "{typed:?}");
}

#[test]
fn a_file_of_another_length_than_declared_is_an_error() {
    let (stream, mut sources, _) = layer();
    sources
        .0
        .get_mut(&(0, b"etc/hostname".to_vec()))
        .unwrap()
        .push(b'!');
    let error = reconstruct_as(
        Format::Splitdirfdstream,
        stream.as_slice(),
        &sources,
        io::sink(),
    )
    .unwrap_err();
    let failure = error.source_failure().expect("a source error");
    assert_eq!(failure.path().unwrap().to_str(), Some("etc/hostname"));
    assert!(matches!(
        failure.fault(),
        SourceFault::Check(SourceError::SizeMismatch {
            expected: 1000,
            actual: 1001,
            ..
        })
    ));
    sources
        .0
        .get_mut(&(0, b"etc/hostname".to_vec()))
        .unwrap()
        .pop();
    sources
        .0
        .remove(&(1, "with space and ünïcode".as_bytes().to_vec()));
    let error = reconstruct_as(
        Format::Splitdirfdstream,
        stream.as_slice(),
        &sources,
        io::sink(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_first_format_stream_read_as_the_successor_fails_cleanly() {
    let first = common::encode(&[common::Item::Inline(b"abc".to_vec())]);
    let sources = Named(HashMap::new());
    let error = reconstruct_as(
        Format::Splitdirfdstream,
        first.as_slice(),
        &sources,
        io::sink(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    // And a slice source reads positionally like any other.
    assert_eq!(b"abc".as_slice().size().unwrap(), Some(3));
}
