//! splitdirfdstream, arbitrary chunk lists: what the encoder writes (bodies split at an
//! arbitrary size) decodes back to the same chunks, and ends cleanly only at boundaries.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use splitfdstream::dir::{DecodeError, Limits};
use splitfdstream_fuzz::dir::{encode, model, pull, push, push_whole, Write};
use splitfdstream_fuzz::split_at;

#[derive(Arbitrary, Debug)]
enum Item {
    Body {
        metadata: bool,
        body: Vec<u8>,
        cuts: Vec<u8>,
        by_caller: bool,
    },
    FileBacked {
        dir_index: u32,
        content_len: u64,
        name: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    split: u16,
    items: Vec<Item>,
    feed_cuts: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let writes: Vec<Write> = input
        .items
        .into_iter()
        .map(|item| match item {
            Item::Body {
                metadata,
                body,
                cuts,
                by_caller,
            } => Write::Body {
                metadata,
                body,
                cuts: cuts.into_iter().map(usize::from).collect(),
                by_caller,
            },
            Item::FileBacked {
                dir_index,
                content_len,
                name,
            } => Write::FileBacked {
                dir_index,
                content_len,
                name,
            },
        })
        .collect();
    let encoded = encode(&writes, u64::from(input.split));
    let stream = &encoded.stream;

    let whole = push_whole(stream, Limits::new());
    assert_eq!(whole.end, Ok(()));
    assert_eq!(whole.events, encoded.expected);
    assert_eq!(push_whole(stream, Limits::reference()), whole);
    assert_eq!(pull(stream, Limits::new()), whole);
    assert_eq!(model(stream, Limits::new()), whole);
    let cuts: Vec<usize> = input.feed_cuts.into_iter().map(usize::from).collect();
    assert_eq!(push(split_at(stream, &cuts), Limits::new()), whole);

    // Cut short anywhere, the stream ends cleanly exactly at a chunk boundary.
    for &cut in &cuts {
        let cut = cut.min(stream.len());
        let end = push_whole(&stream[..cut], Limits::new()).end;
        let at_boundary = encoded.boundaries.binary_search(&cut).is_ok();
        assert_eq!(end.is_ok(), at_boundary, "cut at {cut}: {end:?}");
        assert!(end.is_ok() || matches!(end, Err(DecodeError::Truncated { .. })));
    }
});
