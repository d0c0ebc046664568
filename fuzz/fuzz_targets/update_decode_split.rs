//! Update files, arbitrary split points: the push decoder yields the same events however
//! its input is cut.

#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use splitfdstream::update::Limits;
use splitfdstream_fuzz::split_at;
use splitfdstream_fuzz::update::push;

#[derive(Debug)]
struct Input {
    cuts: Vec<usize>,
    file: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> libfuzzer_sys::arbitrary::Result<Self> {
        let cuts = Vec::<u16>::arbitrary(u)?;
        // The rest of the input is the file, so that seeds and crashes read as files.
        let file = u.bytes(u.len())?.to_vec();
        Ok(Input {
            cuts: cuts.into_iter().map(usize::from).collect(),
            file,
        })
    }
}

fuzz_target!(|input: Input| {
    let whole = push([&input.file[..]], Limits::new());
    let pieces = split_at(&input.file, &input.cuts);
    assert_eq!(push(pieces.iter().copied(), Limits::new()), whole);
    assert_eq!(push(input.file.chunks(1), Limits::new()), whole);
});
