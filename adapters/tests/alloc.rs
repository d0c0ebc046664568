//! Allocation behaviour, measured by a counting global allocator: decoding allocates
//! nothing per chunk, and a 1 GiB inline chunk passes through in bounded memory.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};

use common::{encode, Item};
use splitfdstream::Chunk;
use splitfdstream_adapters::std::{reconstruct, Reader, Reconstructor};

/// Counts per thread, so that tests running in parallel do not see each other.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<u64> = const { Cell::new(0) };
    static PEAK: Cell<u64> = const { Cell::new(0) };
}

fn size(layout: Layout) -> u64 {
    u64::try_from(layout.size()).unwrap_or(u64::MAX)
}

fn grow(bytes: u64) {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrink(bytes: u64) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// const-initialised thread locals that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(size(layout));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(size(layout));
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(size(layout));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        shrink(size(layout));
        grow(u64::try_from(new_size).unwrap_or(u64::MAX));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Resets the peak to what is live now and returns that.
fn start_peak() -> u64 {
    let live = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(live));
    live
}

fn peak() -> u64 {
    PEAK.with(Cell::get)
}

fn many_chunks(count: usize) -> (Vec<Item>, Vec<Vec<u8>>) {
    let sources = vec![b"first".to_vec(), vec![9; 3000], Vec::new()];
    let items = (0..count)
        .map(|i| {
            if i % 3 == 0 {
                Item::Inline(vec![1; 1 + i % 700])
            } else {
                Item::External(u64::try_from(i % 3).unwrap())
            }
        })
        .collect();
    (items, sources)
}

#[test]
fn decoding_allocates_nothing_per_chunk() {
    let (items, _) = many_chunks(30_000);
    let stream = encode(&items);
    let mut reader = Reader::with_capacity(4096, stream.as_slice());
    let before = allocations();
    let mut chunks = 0u64;
    while let Some(chunk) = reader.next_chunk().unwrap() {
        if matches!(chunk, Chunk::Inline(f) if f.is_last()) || matches!(chunk, Chunk::External(_)) {
            chunks += 1;
        }
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(chunks, 30_000);

    // The embedded reader allocates nothing at all.
    let mut buf = [0u8; 100];
    let before = allocations();
    let mut reader = splitfdstream_adapters::embedded_io::Reader::new(stream.as_slice(), &mut buf);
    while reader.next_chunk().unwrap().is_some() {}
    assert_eq!(allocations() - before, 0);
}

#[test]
fn reconstruction_allocates_a_fixed_amount_whatever_the_chunk_count() {
    let count_for = |chunks: usize| {
        let (items, sources) = many_chunks(chunks);
        let stream = encode(&items);
        let before = allocations();
        reconstruct(stream.as_slice(), &sources, io::sink()).unwrap();
        allocations() - before
    };
    let few = count_for(10);
    assert!(few <= 2, "{few} allocations");
    assert_eq!(count_for(30_000), few);

    let (items, sources) = many_chunks(30_000);
    let stream = encode(&items);
    let mut reconstructor = Reconstructor::new(stream.as_slice(), &sources);
    let mut buf = vec![0u8; 1000];
    let before = allocations();
    while reconstructor.read(&mut buf).unwrap() > 0 {}
    assert_eq!(allocations() - before, 0);
}

#[test]
fn the_embedded_driver_rebuilds_the_successor_format_without_allocating() {
    use splitfdstream_adapters::embedded_io::{reconstruct_as, NamedTable, SliceSource};
    let mut stream = vec![0u8; 64 * 1024];
    let mut encoder = splitfdstream::dir::Encoder::new();
    let mut len = 0;
    for i in 0..1000u32 {
        len += encoder.metadata(b"<header>", &mut stream[len..]).unwrap();
        let name: &[u8] = if i % 2 == 0 { b"even" } else { b"odd/file" };
        len += encoder
            .file_backed(i % 2, 4, name, &mut stream[len..])
            .unwrap();
    }
    let mut table: NamedTable<SliceSource<'_>, 2> = NamedTable::new();
    table.push(0, b"even", SliceSource::new(b"EVEN")).unwrap();
    table
        .push(1, b"odd/file", SliceSource::new(b"ODD!"))
        .unwrap();
    let mut buf = [0u8; 512];
    let mut image = vec![0u8; 12_000];
    let before = allocations();
    let written = reconstruct_as(
        splitfdstream_adapters::Format::Splitdirfdstream,
        &stream[..len],
        &mut table,
        &mut image[..],
        &mut buf,
    )
    .unwrap();
    assert_eq!(allocations() - before, 0);
    assert_eq!(written, 12_000);
    assert_eq!(&image[..24], b"<header>EVEN<header>ODD!");
}

const GIB: u64 = 1 << 30;
const BLOCK: u64 = 1 << 16;

/// The byte at `position` of the big inline body: one value per 64 KiB block, so that
/// misplaced or repeated blocks show.
fn pattern(position: u64) -> u8 {
    u8::try_from((position / BLOCK) % 251).unwrap()
}

/// A stream generated as it is read: a 1 GiB inline chunk, then External(0).
struct LazyStream {
    position: u64,
}

impl Read for LazyStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut header = (-i64::try_from(GIB).unwrap()).to_le_bytes().to_vec();
        header.truncate(8);
        let total = 8 + GIB + 8;
        let mut n = 0;
        while n < buf.len() && self.position < total {
            if self.position < 8 {
                let at = usize::try_from(self.position).unwrap();
                buf[n] = header[at];
                n += 1;
                self.position += 1;
            } else if self.position < 8 + GIB {
                let body = self.position - 8;
                let block_left = BLOCK - body % BLOCK;
                let body_left = GIB - body;
                let room = u64::try_from(buf.len() - n).unwrap();
                let take = block_left.min(body_left).min(room);
                let take_usize = usize::try_from(take).unwrap();
                buf[n..n + take_usize].fill(pattern(body));
                n += take_usize;
                self.position += take;
            } else {
                buf[n] = 0; // External(0): eight zero bytes
                n += 1;
                self.position += 1;
            }
        }
        Ok(n)
    }
}

/// Checks what it is given against the pattern, then the external.
struct Checker {
    position: u64,
    expected_block: Vec<u8>,
    block_value: Option<u8>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            position: 0,
            expected_block: vec![0; usize::try_from(BLOCK).unwrap()],
            block_value: None,
        }
    }

    fn check(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.position >= GIB {
                let at = usize::try_from(self.position - GIB).unwrap();
                assert_eq!(bytes, &b"tail"[at..at + bytes.len()]);
                self.position += u64::try_from(bytes.len()).unwrap();
                return;
            }
            let value = pattern(self.position);
            if self.block_value != Some(value) {
                self.expected_block.fill(value);
                self.block_value = Some(value);
            }
            let block_left = BLOCK - self.position % BLOCK;
            let take = usize::try_from(block_left).unwrap().min(bytes.len());
            assert!(
                bytes[..take] == self.expected_block[..take],
                "wrong bytes near {}",
                self.position
            );
            bytes = &bytes[take..];
            self.position += u64::try_from(take).unwrap();
        }
    }
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_1_gib_inline_chunk_streams_through_bounded_memory() {
    const BOUND: u64 = 4 << 20;
    let sources: [&[u8]; 1] = [b"tail"];

    let mut checker = Checker::new();
    let mut buf = vec![0u8; 64 * 1024];
    let base = start_peak();
    let mut reconstructor = Reconstructor::new(LazyStream { position: 0 }, &sources);
    loop {
        let n = reconstructor.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        checker.check(&buf[..n]);
    }
    drop(reconstructor);
    assert_eq!(checker.position, GIB + 4);
    let used = peak() - base;
    assert!(used < BOUND, "Reconstructor peaked at {used} bytes");

    let mut checker = Checker::new();
    let base = start_peak();
    let written = reconstruct(LazyStream { position: 0 }, &sources, &mut checker).unwrap();
    assert_eq!(written, GIB + 4);
    assert_eq!(checker.position, GIB + 4);
    let used = peak() - base;
    assert!(used < BOUND, "reconstruct peaked at {used} bytes");
}
