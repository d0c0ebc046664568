//! Arbitrary bytes as a sparse stream: no panic, and push, pull and byte-by-byte feeding
//! agree, with and without limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use splitfdstream::sparse::Limits;
use splitfdstream_fuzz::sparse::{pull, push_bytewise, push_whole};

fuzz_target!(|stream: &[u8]| {
    for limits in [Limits::new(), Limits::new().max_metadata(64).max_data(16)] {
        let whole = push_whole(stream, limits);
        assert_eq!(pull(stream, limits), whole);
        if stream.len() <= 4096 {
            assert_eq!(push_bytewise(stream, limits), whole);
        }
    }
});
