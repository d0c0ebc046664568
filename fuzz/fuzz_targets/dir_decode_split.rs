//! splitdirfdstream, arbitrary split points: the decoder yields the same chunks however its
//! input is cut, names held back and fed again included.

#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use splitfdstream_fuzz::dir::{push, push_whole};
use splitfdstream_fuzz::{dir_limits_from, split_at};

#[derive(Debug)]
struct Input {
    selector: u8,
    cuts: Vec<usize>,
    stream: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> libfuzzer_sys::arbitrary::Result<Self> {
        let selector = u8::arbitrary(u)?;
        let cuts = Vec::<u16>::arbitrary(u)?;
        // The rest of the input is the stream, so that seeds and crashes read as streams.
        let stream = u.bytes(u.len())?.to_vec();
        let cuts = cuts.into_iter().map(usize::from).collect();
        Ok(Input {
            selector,
            cuts,
            stream,
        })
    }
}

fuzz_target!(|input: Input| {
    let limits = dir_limits_from(input.selector);
    let whole = push_whole(&input.stream, limits);
    let pieces = split_at(&input.stream, &input.cuts);
    assert_eq!(push(pieces.iter().copied(), limits), whole);
    assert_eq!(push(input.stream.chunks(1), limits), whole);
});
