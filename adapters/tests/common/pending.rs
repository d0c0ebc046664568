//! Helpers for the async adapters' tests: a deterministic generator for I/O that returns
//! `Pending` at random, the chunks a reader yields as owned pieces, and a driver that
//! drops a reader's future whenever it is pending.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use splitfdstream::Chunk;

use super::Item;

/// A small deterministic generator (xorshift64*), seeded by the test.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        usize::try_from(x % u64::try_from(n).unwrap()).unwrap()
    }
}

/// A chunk as a reader yields it, owned: an inline fragment with its offset and remaining
/// bytes, or an external index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Inline(Vec<u8>, u64, u64),
    External(u64),
}

pub fn piece(chunk: Chunk<'_>) -> Piece {
    match chunk {
        Chunk::Inline(f) => Piece::Inline(f.data.to_vec(), f.offset, f.remaining),
        Chunk::External(index) => Piece::External(index.get()),
    }
}

/// The bytes `pieces` stand for, with `<index>` for each external: equal for two readers
/// that yield the same chunks, however their fragments are cut.
pub fn flatten(pieces: &[Piece]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Inline(data, _, _) => bytes.extend_from_slice(data),
            Piece::External(index) => bytes.extend_from_slice(format!("<{index}>").as_bytes()),
        }
    }
    bytes
}

/// The stream of the cancel-safety tests: prefixes split across reads, a large index.
pub fn cancel_safety_items() -> Vec<Item> {
    vec![
        Item::Inline(b"hello".to_vec()),
        Item::External(3),
        Item::Inline(vec![9; 40]),
        Item::External(1 << 40),
        Item::Inline(b"end".to_vec()),
    ]
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls `future` once with a waker that does nothing: its output, or `None` if pending.
pub fn poll_once<F: Future>(future: Pin<&mut F>) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Noop));
    match future.poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Reads `reader` to its end, each chunk first with `poll_next` (one poll, `None` when it
/// was pending and its future dropped) and then, after a drop, with `next` to completion.
/// Returns the pieces and how many futures were dropped.
pub fn read_with_drops<R>(
    reader: &mut R,
    mut poll_next: impl FnMut(&mut R) -> Option<Option<Piece>>,
    mut next: impl FnMut(&mut R) -> Option<Piece>,
) -> (Vec<Piece>, usize) {
    let mut got = Vec::new();
    let mut dropped = 0;
    loop {
        let next = poll_next(reader).unwrap_or_else(|| {
            dropped += 1;
            next(reader)
        });
        match next {
            Some(piece) => got.push(piece),
            None => return (got, dropped),
        }
    }
}
