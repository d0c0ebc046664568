//! Decoding helpers shared by the integration tests and the fuzz targets.
//!
//! Both decoders are driven to completion and their output normalised into whole
//! [`Event`]s, checking on the way every invariant the API promises (progress on each call,
//! non-empty fragments borrowed from the input, consistent offsets, a failed decoder
//! staying failed), so that the callers only have to compare outcomes.

// Each including crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod dir;
pub mod update;

use splitfdstream::{Chunk, Chunks, DecodeError, Decoder, Limits};

#[cfg(feature = "sparse")]
pub mod sparse;

/// A whole chunk, fragments merged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The body of an inline chunk.
    Inline(Vec<u8>),
    /// A reference to an external source.
    External(u64),
}

/// Everything a decoder reported about a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Completed chunks, in order. The fragments of an inline chunk cut short are not in it.
    pub events: Vec<Event>,
    /// `Ok` for a clean end, else the error that ended decoding.
    pub end: Result<(), DecodeError>,
}

/// A slice length as `u64`.
pub fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Whether `inner` lies within `outer` (it was borrowed from it, not copied).
pub fn borrowed_from(inner: &[u8], outer: &[u8]) -> bool {
    let outer = outer.as_ptr_range();
    let inner = inner.as_ptr_range();
    outer.start <= inner.start && inner.end <= outer.end
}

/// Splits `stream` at `cuts` (sorted or not, duplicates and out-of-range values allowed).
pub fn split_at<'s>(stream: &'s [u8], cuts: &[usize]) -> Vec<&'s [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&cut| cut.min(stream.len())).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        pieces.push(&stream[start..cut]);
        start = cut;
    }
    pieces.push(&stream[start..]);
    pieces
}

/// Feeds `pieces` to a [`Decoder`] in order and checks the push API's promises.
///
/// Empty pieces are passed too: they must consume nothing and yield nothing.
pub fn push<'p>(pieces: impl IntoIterator<Item = &'p [u8]>, limits: Limits) -> Outcome {
    let mut decoder = Decoder::with_limits(limits);
    let mut events = Vec::new();
    // The inline chunk in progress: its body so far and its declared length.
    let mut pending: Option<(Vec<u8>, u64)> = None;
    let mut fed = 0u64;
    let mut offered = 0u64;
    for piece in pieces {
        offered += len64(piece.len());
        if piece.is_empty() {
            let step = decoder.decode(piece);
            assert!(
                matches!(step, Ok(s) if s.consumed == 0 && s.chunk.is_none()),
                "an empty piece must be a no-op, got {step:?}"
            );
        }
        let mut rest = piece;
        while !rest.is_empty() {
            let step = match decoder.decode(rest) {
                Ok(step) => step,
                Err(error) => {
                    assert!(
                        !matches!(error, DecodeError::Truncated { .. }),
                        "decode reports truncation only through finish"
                    );
                    // A failed decoder stays failed.
                    assert_eq!(decoder.decode(rest), Err(error));
                    assert_eq!(decoder.decode(&[]), Err(error));
                    assert_eq!(decoder.finish(), Err(error));
                    return Outcome {
                        events,
                        end: Err(error),
                    };
                }
            };
            assert!(
                step.consumed > 0 && step.consumed <= rest.len(),
                "consumed {} of {}",
                step.consumed,
                rest.len()
            );
            match step.chunk {
                None => assert_eq!(step.consumed, rest.len(), "no event means all consumed"),
                Some(Chunk::External(index)) => {
                    assert!(pending.is_none(), "external chunk inside an inline one");
                    assert!(decoder.is_at_boundary());
                    events.push(Event::External(index.get()));
                }
                Some(Chunk::Inline(fragment)) => {
                    assert!(!fragment.data.is_empty(), "empty fragment");
                    assert!(borrowed_from(fragment.data, &rest[..step.consumed]));
                    // The fragment is the tail of what this call consumed.
                    assert_eq!(
                        fragment.data.as_ptr_range().end,
                        rest[..step.consumed].as_ptr_range().end
                    );
                    let (body, declared) =
                        pending.get_or_insert_with(|| (Vec::new(), fragment.chunk_len()));
                    assert_eq!(fragment.offset, len64(body.len()), "fragment offset");
                    assert_eq!(fragment.chunk_len(), *declared, "declared length changed");
                    assert_eq!(decoder.inline_remaining(), fragment.remaining);
                    body.extend_from_slice(fragment.data);
                    if fragment.is_last() {
                        let (body, _) = pending.take().unwrap();
                        assert!(decoder.is_at_boundary());
                        events.push(Event::Inline(body));
                    }
                }
            }
            fed += len64(step.consumed);
            assert_eq!(decoder.position(), fed);
            rest = &rest[step.consumed..];
        }
    }
    // Without a limit error, every byte offered is consumed.
    assert_eq!(fed, offered, "consumed less than offered");
    let end = decoder.finish();
    match end {
        Ok(()) => assert!(pending.is_none() && decoder.is_at_boundary()),
        Err(DecodeError::Truncated { missing }) => {
            assert!(!decoder.is_at_boundary());
            assert!(missing > 0);
            if let Some((body, declared)) = &pending {
                assert_eq!(missing, declared - len64(body.len()));
            }
        }
        Err(other) => panic!("finish reported {other:?} although decode never failed"),
    }
    Outcome { events, end }
}

/// Feeds the whole of `stream` to a [`Decoder`] in one piece.
pub fn push_whole(stream: &[u8], limits: Limits) -> Outcome {
    push([stream], limits)
}

/// Feeds `stream` to a [`Decoder`] one byte at a time.
pub fn push_bytewise(stream: &[u8], limits: Limits) -> Outcome {
    push(stream.chunks(1), limits)
}

/// Iterates over `stream` with [`Chunks`] and checks the pull API's promises.
pub fn pull(stream: &[u8], limits: Limits) -> Outcome {
    let mut chunks = Chunks::with_limits(stream, limits);
    let mut events = Vec::new();
    let mut end = Ok(());
    let mut position = 0u64;
    loop {
        assert_eq!(chunks.position(), position);
        let Some(item) = chunks.next() else { break };
        match item {
            Ok(Chunk::External(index)) => {
                events.push(Event::External(index.get()));
                position += 8;
            }
            Ok(Chunk::Inline(fragment)) => {
                assert!(fragment.is_whole(), "Chunks yields whole chunks");
                assert!(!fragment.data.is_empty());
                assert!(borrowed_from(fragment.data, stream));
                events.push(Event::Inline(fragment.data.to_vec()));
                position += 8 + len64(fragment.data.len());
            }
            Err(error) => {
                // The error is yielded once, and then the iterator ends for good.
                assert_eq!(chunks.position(), position, "position of the failed chunk");
                assert!(chunks.next().is_none());
                assert!(chunks.next().is_none());
                end = Err(error);
                break;
            }
        }
    }
    if end.is_ok() {
        assert!(chunks.remainder().is_empty());
        assert_eq!(position, len64(stream.len()));
    }
    Outcome { events, end }
}

/// An independent decoder of a whole stream, written from the format's definition with
/// signed 128-bit arithmetic instead of the crate's unsigned one.
pub fn model(stream: &[u8], limits: Limits) -> Outcome {
    let mut events = Vec::new();
    let mut at = 0usize;
    let total = i128::try_from(stream.len()).unwrap();
    loop {
        let left = &stream[at..];
        if left.is_empty() {
            return Outcome {
                events,
                end: Ok(()),
            };
        }
        if left.len() < 8 {
            let missing = u64::try_from(8 - left.len()).unwrap();
            let end = Err(DecodeError::Truncated { missing });
            return Outcome { events, end };
        }
        let offset = u64::try_from(at).unwrap();
        let prefix = i128::from(i64::from_le_bytes(left[..8].try_into().unwrap()));
        at += 8;
        if prefix >= 0 {
            let index = u64::try_from(prefix).unwrap();
            if index > limits.index_cap() {
                let max = limits.index_cap();
                let end = Err(DecodeError::IndexTooLarge { index, max, offset });
                return Outcome { events, end };
            }
            events.push(Event::External(index));
        } else {
            let len = -prefix;
            let len_u64 = u64::try_from(len).unwrap();
            if len_u64 > limits.inline_cap() {
                let max = limits.inline_cap();
                let end = Err(DecodeError::InlineTooLarge {
                    len: len_u64,
                    max,
                    offset,
                });
                return Outcome { events, end };
            }
            let here = i128::try_from(at).unwrap();
            if here + len > total {
                let missing = u64::try_from(here + len - total).unwrap();
                let end = Err(DecodeError::Truncated { missing });
                return Outcome { events, end };
            }
            let next = usize::try_from(here + len).unwrap();
            events.push(Event::Inline(stream[at..next].to_vec()));
            at = next;
        }
    }
}

/// One request to the [`Encoder`](splitfdstream::Encoder).
#[derive(Clone, Debug)]
pub enum Write {
    /// A reference to `index`; above `i64::MAX` it must be refused.
    External(u64),
    /// An inline chunk; an empty one must be dropped.
    Inline {
        /// The chunk's body.
        body: Vec<u8>,
        /// Where to cut the body into separately written pieces; empty to write it with
        /// [`Encoder::inline`](splitfdstream::Encoder::inline) in one call.
        cuts: Vec<usize>,
        /// Whether the pieces are copied by the caller and accounted for with
        /// [`Encoder::advance_inline`](splitfdstream::Encoder::advance_inline).
        by_caller: bool,
    },
}

/// A stream produced by [`encode`] and what it must decode to.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The wire bytes.
    pub stream: Vec<u8>,
    /// The chunks the stream must decode to.
    pub expected: Vec<Event>,
    /// Stream offsets where a chunk starts or the stream ends.
    pub boundaries: Vec<usize>,
}

/// Drives an [`Encoder`](splitfdstream::Encoder) through `writes`, checking that it refuses
/// what cannot be expressed and never lets a chunk start while inline bytes are owed.
pub fn encode(writes: &[Write]) -> Encoded {
    use splitfdstream::{EncodeError, Encoder};

    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut boundaries = vec![0];
    let mut header = [0u8; 8];
    for write in writes {
        match write {
            Write::External(index) => match encoder.external(*index, &mut header) {
                Ok(written) => {
                    assert_eq!(written, 8);
                    assert!(i64::try_from(*index).is_ok());
                    stream.extend_from_slice(&header);
                    expected.push(Event::External(*index));
                }
                Err(error) => {
                    assert!(i64::try_from(*index).is_err());
                    assert_eq!(error, EncodeError::IndexTooLarge { index: *index });
                    continue;
                }
            },
            Write::Inline { body, cuts, .. } if cuts.is_empty() => {
                let mut out = vec![0u8; 8 + body.len()];
                let written = encoder.inline(body, &mut out).unwrap();
                stream.extend_from_slice(&out[..written]);
                if body.is_empty() {
                    assert_eq!(written, 0, "an empty inline write must be dropped");
                    continue;
                }
                expected.push(Event::Inline(body.clone()));
            }
            Write::Inline {
                body,
                cuts,
                by_caller,
            } => {
                let written = encoder
                    .begin_inline(len64(body.len()), &mut header)
                    .unwrap();
                if body.is_empty() {
                    assert_eq!(written, 0, "an empty inline chunk must be dropped");
                    continue;
                }
                stream.extend_from_slice(&header[..written]);
                for piece in split_at(body, cuts) {
                    if *by_caller {
                        stream.extend_from_slice(piece);
                        encoder.advance_inline(len64(piece.len())).unwrap();
                    } else {
                        let mut out = vec![0u8; piece.len()];
                        assert_eq!(encoder.inline_body(piece, &mut out).unwrap(), piece.len());
                        stream.extend_from_slice(&out);
                    }
                    let owed = encoder.owed();
                    if owed > 0 {
                        let refused = EncodeError::InlineOwed { remaining: owed };
                        assert_eq!(encoder.finish(), Err(refused));
                        assert_eq!(encoder.external(0, &mut header), Err(refused));
                        assert_eq!(encoder.inline(b"x", &mut [0; 9]), Err(refused));
                        assert_eq!(encoder.begin_inline(1, &mut header), Err(refused));
                    }
                }
                expected.push(Event::Inline(body.clone()));
            }
        }
        assert_eq!(encoder.owed(), 0);
        boundaries.push(stream.len());
    }
    assert_eq!(encoder.finish(), Ok(()));
    assert_eq!(encoder.position(), len64(stream.len()));
    boundaries.dedup();
    Encoded {
        stream,
        expected,
        boundaries,
    }
}
