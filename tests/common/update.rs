//! Drivers for the update file's tests and fuzz targets: the push decoder fed any pieces
//! and the pull iterator, both collected into owned events that compare equal when the
//! two agree.

use splitfdstream::update::{DecodeError, Decoder, Event, Events, Header, Limits, SourceRange};
use splitfdstream::Chunk;

/// An event with owned data; inline fragments of one chunk merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Header(Header),
    Range(u64, SourceRange),
    Inline(Vec<u8>),
    External(u64),
}

pub fn push_owned(events: &mut Vec<Owned>, event: Event<'_>) {
    match event {
        Event::Header(header) => events.push(Owned::Header(header)),
        Event::Range { index, range } => events.push(Owned::Range(index, range)),
        Event::Chunk(Chunk::External(index)) => events.push(Owned::External(index.get())),
        Event::Chunk(Chunk::Inline(fragment)) => {
            if fragment.offset > 0 {
                if let Some(Owned::Inline(bytes)) = events.last_mut() {
                    bytes.extend_from_slice(fragment.data);
                    return;
                }
            }
            events.push(Owned::Inline(fragment.data.to_vec()));
        }
    }
}

pub type Outcome = (Vec<Owned>, Result<(), DecodeError>);

pub fn push<'a>(pieces: impl IntoIterator<Item = &'a [u8]>, limits: Limits) -> Outcome {
    let mut decoder = Decoder::with_limits(limits);
    let mut events = Vec::new();
    // Whether the last inline chunk is still owed bytes: the pull iterator, which yields
    // whole chunks only, never shows a cut one.
    let mut open_inline = false;
    for mut piece in pieces {
        while !piece.is_empty() {
            match decoder.decode(piece) {
                Ok(step) => {
                    if let Some(event) = step.event {
                        open_inline =
                            matches!(event, Event::Chunk(Chunk::Inline(f)) if f.remaining > 0);
                        push_owned(&mut events, event);
                    }
                    assert!(step.consumed > 0 || step.event.is_some());
                    piece = &piece[step.consumed..];
                }
                Err(error) => {
                    assert_eq!(decoder.finish(), Err(error));
                    return (events, Err(error));
                }
            }
        }
    }
    let end = decoder.finish();
    if end.is_err() && open_inline {
        events.pop();
    }
    (events, end)
}

pub fn pull(file: &[u8], limits: Limits) -> Outcome {
    let mut events = Vec::new();
    for event in Events::with_limits(file, limits) {
        match event {
            Ok(event) => push_owned(&mut events, event),
            Err(error) => return (events, Err(error)),
        }
    }
    (events, Ok(()))
}
