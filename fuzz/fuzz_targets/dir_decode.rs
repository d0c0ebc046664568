//! splitdirfdstream, arbitrary bytes: no panic, push and pull and the model agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use splitfdstream::dir::Limits;
use splitfdstream_fuzz::dir::{model, pull, push_whole};
use splitfdstream_fuzz::{dir_limits_from, len64};

fuzz_target!(|stream: &[u8]| {
    let pushed = push_whole(stream, Limits::new());
    if pushed.end.is_ok() {
        let consumed: u64 = pushed.events.iter().map(|event| event.wire_len()).sum();
        assert_eq!(consumed, len64(stream.len()));
    }
    assert_eq!(pushed, pull(stream, Limits::new()));
    assert_eq!(pushed, model(stream, Limits::new()));

    // The same bytes under limits chosen by the first byte.
    if let Some(&selector) = stream.first() {
        let limits = dir_limits_from(selector);
        let pushed = push_whole(stream, limits);
        assert_eq!(pushed, pull(stream, limits));
        assert_eq!(pushed, model(stream, limits));
    }
});
