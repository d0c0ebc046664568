//! Arbitrary chunk lists: what the encoder writes decodes back to the same chunks.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use splitfdstream::{DecodeError, Limits};
use splitfdstream_fuzz::{encode, model, pull, push, push_whole, split_at, Write};

#[derive(Arbitrary, Debug)]
enum Item {
    External(u64),
    Inline {
        body: Vec<u8>,
        cuts: Vec<u8>,
        by_caller: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    items: Vec<Item>,
    feed_cuts: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let writes: Vec<Write> = input
        .items
        .into_iter()
        .map(|item| match item {
            Item::External(index) => Write::External(index),
            Item::Inline {
                body,
                cuts,
                by_caller,
            } => Write::Inline {
                body,
                cuts: cuts.into_iter().map(usize::from).collect(),
                by_caller,
            },
        })
        .collect();
    let encoded = encode(&writes);
    let stream = &encoded.stream;

    let whole = push_whole(stream, Limits::new());
    assert_eq!(whole.end, Ok(()));
    assert_eq!(whole.events, encoded.expected);
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
