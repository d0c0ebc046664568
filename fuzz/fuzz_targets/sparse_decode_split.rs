//! Arbitrary split points: the sparse decoder yields the same events however its input is
//! cut.

#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use splitfdstream::sparse::Limits;
use splitfdstream_fuzz::sparse::{push_split, push_whole};

#[derive(Debug)]
struct Input {
    cuts: Vec<usize>,
    stream: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> libfuzzer_sys::arbitrary::Result<Self> {
        let cuts = Vec::<u16>::arbitrary(u)?;
        // The rest of the input is the stream, so that seeds and crashes read as streams.
        let stream = u.bytes(u.len())?.to_vec();
        Ok(Input {
            cuts: cuts.into_iter().map(usize::from).collect(),
            stream,
        })
    }
}

fuzz_target!(|input: Input| {
    let whole = push_whole(&input.stream, Limits::new());
    assert_eq!(push_split(&input.stream, &input.cuts, Limits::new()), whole);
});
