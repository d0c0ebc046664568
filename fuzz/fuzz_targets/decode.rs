//! Arbitrary bytes: no panic, all input consumed, push and pull and the model agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use splitfdstream::{DecodeError, Limits};
use splitfdstream_fuzz::{len64, limits_from, model, pull, push_whole};

fuzz_target!(|stream: &[u8]| {
    // Without limits the decoder never fails before the end: it consumes everything, and
    // the only possible error is a truncation reported by `finish`.
    let pushed = push_whole(stream, Limits::new());
    assert!(matches!(
        pushed.end,
        Ok(()) | Err(DecodeError::Truncated { .. })
    ));
    let consumed: u64 = pushed
        .events
        .iter()
        .map(|event| match event {
            splitfdstream_fuzz::Event::Inline(body) => 8 + len64(body.len()),
            splitfdstream_fuzz::Event::External(_) => 8,
        })
        .sum();
    if pushed.end.is_ok() {
        assert_eq!(consumed, len64(stream.len()));
    }
    assert_eq!(pushed, pull(stream, Limits::new()));
    assert_eq!(pushed, model(stream, Limits::new()));

    // The same bytes under limits chosen by the first byte.
    if let Some(&selector) = stream.first() {
        let limits = limits_from(selector);
        let pushed = push_whole(stream, limits);
        assert_eq!(pushed, pull(stream, limits));
        assert_eq!(pushed, model(stream, limits));
    }
});
