//! Arbitrary disks: what the sparse encoder writes (raw or LZ4) decodes back to the same
//! events and the same disk however it is fed, and ends cleanly only where it may.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use splitfdstream::sparse::{Compression, DecodeError, Limits};
use splitfdstream_fuzz::sparse::{encode, pull, push_split, push_whole, restore, Event, Piece};

#[derive(Arbitrary, Debug)]
enum Item {
    Data {
        at: u16,
        bytes: Vec<u8>,
        cuts: Vec<u8>,
    },
    Zero {
        at: u16,
        len: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    virtual_size: u16,
    compression: Option<Option<u8>>,
    items: Vec<Item>,
    feed_cuts: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let virtual_size = u64::from(input.virtual_size) + 1;
    let mut disk = vec![0xa5u8; usize::from(input.virtual_size) + 1];
    let mut pieces = Vec::new();
    for item in input.items {
        match item {
            Item::Data {
                at,
                mut bytes,
                cuts,
            } => {
                bytes.truncate(disk.len());
                let start = usize::from(at) % (disk.len() - bytes.len() + 1);
                disk[start..start + bytes.len()].copy_from_slice(&bytes);
                let cuts = cuts
                    .into_iter()
                    .map(|cut| usize::from(cut) % (bytes.len() + 1))
                    .collect();
                pieces.push(Piece::Data {
                    start: start as u64,
                    bytes,
                    cuts,
                });
            }
            Item::Zero { at, len } => {
                let len = usize::from(len) % (disk.len() + 1);
                let start = usize::from(at) % (disk.len() - len + 1);
                disk[start..start + len].fill(0);
                pieces.push(Piece::Zero {
                    start: start as u64,
                    len: len as u64,
                });
            }
        }
    }
    let compression = input.compression.map(|level| Compression::Lz4 {
        level: level.map(u64::from),
    });
    let encoded = encode(virtual_size, &pieces, compression);
    let stream = &encoded.stream;
    let whole = push_whole(stream, Limits::new());
    assert_eq!(whole.end, Ok(()));
    assert_eq!(whole.events, encoded.expected);
    assert_eq!(pull(stream, Limits::new()), whole);
    let cuts: Vec<usize> = input
        .feed_cuts
        .iter()
        .map(|&cut| usize::from(cut))
        .collect();
    assert_eq!(push_split(stream, &cuts, Limits::new()), whole);
    assert_eq!(restore(&whole.events, &vec![0xa5; disk.len()]), disk);

    let stop_end = encoded.expected.iter().find_map(|event| match event {
        Event::Trailer { json, .. } => Some(stream.len() - json.len() - 42),
        _ => None,
    });
    for &cut in &cuts {
        let cut = cut.min(stream.len());
        let end = push_whole(&stream[..cut], Limits::new()).end;
        if cut == stream.len() || Some(cut) == stop_end {
            assert_eq!(end, Ok(()));
        } else {
            assert!(
                matches!(end, Err(DecodeError::Truncated { offset, .. }) if offset == cut as u64),
                "cut at {cut}: {end:?}"
            );
        }
    }
});
