//! Update files, any bytes: the push decoder and the pull iterator never panic and agree
//! on every event and on the error, up to the first cut chunk.

#![no_main]

use libfuzzer_sys::fuzz_target;
use splitfdstream::update::Limits;
use splitfdstream_fuzz::update::{pull, push};

fuzz_target!(|file: &[u8]| {
    let whole = push([file], Limits::new());
    assert_eq!(pull(file, Limits::new()), whole);
});
