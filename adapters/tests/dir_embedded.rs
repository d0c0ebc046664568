//! The successor format through the `no_std` drivers: files named beneath directories
//! resolve through a fixed-capacity `NamedTable`, blocking and async alike, with the
//! length each chunk declares enforced and every refusal typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use splitfdstream::dir::{self, Encoder, NameError};
use splitfdstream_adapters::embedded_io::{
    reconstruct_as, NamedTable, ReconstructError, Refusal, SliceSource,
};
use splitfdstream_adapters::{Format, SourceError, StreamError};

const DIR: Format = Format::Splitdirfdstream;

/// The longest name the format allows.
const LONG: usize = 4096;

fn long_name() -> Vec<u8> {
    let mut name = vec![b'n'; LONG];
    name[100] = b'/';
    name
}

/// A stream of every edge case: empty Metadata is dropped by the encoder, a zero-length
/// InlineData chunk travels, an empty file, a 4096-byte name, a name with spaces, a
/// newline and UTF-8, two directories, one file twice.
fn stream() -> (Vec<u8>, Vec<u8>) {
    let mut encoder = Encoder::new();
    let mut out = vec![0; 16 * 1024];
    let mut len = 0;
    len += encoder.metadata(b"<h0>", &mut out[len..]).unwrap();
    len += encoder.inline_data(b"", &mut out[len..]).unwrap();
    len += encoder
        .file_backed(0, 6, b"kernel", &mut out[len..])
        .unwrap();
    len += encoder
        .file_backed(1, 0, b"empty", &mut out[len..])
        .unwrap();
    len += encoder
        .file_backed(1, 4, "a b\nü".as_bytes(), &mut out[len..])
        .unwrap();
    len += encoder
        .file_backed(0, 4, &long_name(), &mut out[len..])
        .unwrap();
    len += encoder
        .file_backed(0, 6, b"kernel", &mut out[len..])
        .unwrap();
    len += encoder.inline_data(b"tail", &mut out[len..]).unwrap();
    encoder.finish().unwrap();
    out.truncate(len);
    (out, b"<h0>kernelutf8longkerneltail".to_vec())
}

fn table<'a>() -> NamedTable<SliceSource<'a>, 8, LONG> {
    let mut table = NamedTable::new();
    table
        .push(0, b"kernel", SliceSource::new(b"kernel"))
        .unwrap();
    table.push(1, b"empty", SliceSource::new(b"")).unwrap();
    table
        .push(1, "a b\nü".as_bytes(), SliceSource::new(b"utf8"))
        .unwrap();
    table
        .push(0, &long_name(), SliceSource::new(b"long"))
        .unwrap();
    table
}

#[test]
fn a_named_table_rebuilds_every_edge_case() {
    let (stream, expected) = stream();
    let mut sources = table();
    let mut image = [0u8; 64];
    // Half of the buffer holds the stream: a 4096-byte name and its header fit.
    let mut buf = vec![0u8; 2 * dir::MAX_NEED];
    let written = reconstruct_as(
        DIR,
        stream.as_slice(),
        &mut sources,
        &mut image[..],
        &mut buf,
    )
    .unwrap();
    assert_eq!(
        &image[..usize::try_from(written).unwrap()],
        expected.as_slice()
    );

    // Fed one byte at a time, names arrive cut and are put back together.
    let mut image = [0u8; 64];
    let one = OneByte(stream.as_slice());
    let written = reconstruct_as(DIR, one, &mut sources, &mut image[..], &mut buf).unwrap();
    assert_eq!(
        &image[..usize::try_from(written).unwrap()],
        expected.as_slice()
    );
}

/// A reader that hands out one byte per read.
struct OneByte<'a>(&'a [u8]);

impl embedded_io_07::ErrorType for OneByte<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io_07::Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let (Some(first), Some(slot)) = (self.0.first(), buf.first_mut()) else {
            return Ok(0);
        };
        *slot = *first;
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn a_buffer_too_small_for_a_name_is_a_decode_error() {
    let (stream, _) = stream();
    let mut sources = table();
    let mut buf = [0u8; 1024];
    let error = reconstruct_as(
        DIR,
        stream.as_slice(),
        &mut sources,
        &mut [0u8; 64][..],
        &mut buf,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            ReconstructError::Decode(StreamError::Splitdirfdstream(dir::DecodeError::Name {
                error: NameError::TooLong { len: 4096, .. },
                ..
            }))
        ),
        "{error:?}"
    );
}

#[test]
fn a_source_of_another_length_or_a_missing_one_is_an_error() {
    let mut buf = [0u8; 256];
    let mut stream = [0u8; 64];
    for (declared, content) in [(5, &b"kernel"[..]), (7, b"kernel")] {
        let len = Encoder::new()
            .file_backed(0, declared, b"kernel", &mut stream)
            .unwrap();
        let mut sources: NamedTable<SliceSource<'_>, 1> = NamedTable::new();
        sources
            .push(0, b"kernel", SliceSource::new(content))
            .unwrap();
        let error = reconstruct_as(
            DIR,
            &stream[..len],
            &mut sources,
            &mut [0u8; 16][..],
            &mut buf,
        )
        .unwrap_err();
        assert_eq!(
            error,
            ReconstructError::Source(SourceError::SizeMismatch {
                index: 0,
                expected: declared,
                actual: 6
            })
        );
    }
    // Another directory, or another name: no source, reported by directory index.
    let len = Encoder::new()
        .file_backed(3, 6, b"kernel", &mut stream)
        .unwrap();
    let mut sources: NamedTable<SliceSource<'_>, 1> = NamedTable::new();
    sources
        .push(0, b"kernel", SliceSource::new(b"kernel"))
        .unwrap();
    let error = reconstruct_as(
        DIR,
        &stream[..len],
        &mut sources,
        &mut [0u8; 16][..],
        &mut buf,
    )
    .unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::Missing { index: 3 })
    );
    // A first-format stream's references are not named: the table has nothing for them.
    let first = [0u8; 8];
    let error = splitfdstream_adapters::embedded_io::reconstruct(
        &first[..],
        &mut sources,
        &mut [0u8; 16][..],
        &mut buf,
    )
    .unwrap_err();
    assert_eq!(
        error,
        ReconstructError::Source(SourceError::Missing { index: 0 })
    );
}

#[test]
fn the_table_refuses_what_it_cannot_hold_and_hands_the_source_back() {
    let mut table: NamedTable<SliceSource<'_>, 2, 8> = NamedTable::new();
    table.push(0, b"a", SliceSource::new(b"1")).unwrap();
    let refused = table.push(0, b"a", SliceSource::new(b"2")).unwrap_err();
    assert_eq!(
        (refused.refusal, refused.source.as_bytes()),
        (Refusal::Duplicate, &b"2"[..])
    );
    let refused = table
        .push(0, b"123456789", SliceSource::new(b"3"))
        .unwrap_err();
    assert_eq!(refused.refusal, Refusal::NameTooLong { len: 9, max: 8 });
    for (name, error) in [
        (&b"../a"[..], NameError::ParentComponent { at: 0 }),
        (b"/a", NameError::Absolute),
        (b"", NameError::Empty),
        (b"a\0", NameError::Nul { at: 1 }),
    ] {
        let refused = table.push(0, name, SliceSource::new(b"4")).unwrap_err();
        assert_eq!(refused.refusal, Refusal::Name(error));
    }
    // The same name beneath another directory is another file.
    table.push(1, b"a", SliceSource::new(b"5")).unwrap();
    let refused = table.push(2, b"a", SliceSource::new(b"6")).unwrap_err();
    assert_eq!(refused.refusal, Refusal::Full { capacity: 2 });
    assert_eq!(refused.to_string(), "named table is full: capacity 2");
    assert_eq!(table.len(), 2);
}

#[cfg(feature = "async")]
#[test]
fn the_async_driver_rebuilds_the_same_bytes() {
    let (stream, expected) = stream();
    let mut sources = table();
    let mut image = [0u8; 64];
    let mut buf = vec![0u8; 2 * dir::MAX_NEED];
    let written = embassy_futures::block_on(splitfdstream_adapters::asynch::reconstruct_as(
        DIR,
        stream.as_slice(),
        &mut sources,
        &mut image[..],
        &mut buf,
    ))
    .unwrap();
    assert_eq!(
        &image[..usize::try_from(written).unwrap()],
        expected.as_slice()
    );
    // The declared length is enforced here too.
    let mut short: NamedTable<SliceSource<'_>, 8, LONG> = table();
    let mut stream2 = [0u8; 64];
    let len = Encoder::new()
        .file_backed(0, 99, b"kernel", &mut stream2)
        .unwrap();
    let error = embassy_futures::block_on(splitfdstream_adapters::asynch::reconstruct_as(
        DIR,
        &stream2[..len],
        &mut short,
        &mut image[..],
        &mut buf,
    ))
    .unwrap_err();
    assert!(matches!(
        error,
        ReconstructError::Source(SourceError::SizeMismatch { expected: 99, .. })
    ));
}
