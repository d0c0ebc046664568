//! splitdirfdstream decode throughput, side by side in one run on the same warm in-memory
//! stream:
//!
//! - `walk`: a bare header walk that reads each type byte and length field and jumps over
//!   the body or name, checking nothing; no decoder can do less;
//! - `reference`: `composefs-splitdirfdstream` 0.9.4's `SplitdirfdstreamReader`, which
//!   copies each body and name into its buffer;
//! - `Chunks`: this crate's pull iterator over the whole stream;
//! - `Decoder`: this crate's push decoder fed 64 KiB windows (widened when it asks for a
//!   name that crosses a window's end, as a reader compacting its buffer would).
//!
//! The streams are shaped like a container layer's tar: for each member a 512-byte Metadata
//! header, then its content by reference (a FileBackedData chunk with a path-like name) or
//! inline (InlineData), then Metadata padding. In `by reference`, four members in five are
//! referenced and inline ones hold 0–2 KiB; in `inline`, every member's 4–64 KiB travel
//! inline, as a producer sends files it cannot pass by name. Every consumer does the same minimal work
//! per chunk (sums of lengths, indices and name lengths, xor of first bytes) and must reach
//! the same tally. Each measurement is repeated many times, interleaved, and the median is
//! reported.
//!
//! Run with `cargo bench -p splitfdstream --bench dir_decode`; add `-- --quick` (or set
//! `BENCH_QUICK=1`) for a short, noisier run. `BENCH_MIB` sets the streams' size (default
//! 4 MiB, more than a core's L2 cache; 1 MiB fits in it).

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use composefs_splitdirfdstream as reference;
use splitfdstream::dir::{Chunk, Chunks, Decoder, Encoder, Status};

/// Window fed to the push decoder, as a reader with a 64 KiB buffer would.
const PIECE: usize = 64 * 1024;

/// What each consumer computes, so that none can skip the work the others do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    body_len: u64,
    first_bytes: u8,
    files: u64,
}

impl Tally {
    #[inline(always)]
    fn body(&mut self, len: u64, first: u8) {
        self.body_len = self.body_len.wrapping_add(len);
        self.first_bytes ^= first;
    }

    #[inline(always)]
    fn file(&mut self, content_len: u64, dir_index: u32, name_len: u64, first: u8) {
        self.files = self
            .files
            .wrapping_add(content_len)
            .wrapping_add(u64::from(dir_index))
            .wrapping_add(name_len);
        self.first_bytes ^= first;
    }
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap()
}

fn u32_at(stream: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(stream[at..at + 4].try_into().unwrap())
}

/// The floor: read type bytes and length fields, touch the first byte, jump.
fn walk(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let mut at = 0;
    while let Some(&kind) = stream.get(at) {
        if kind == 2 {
            let content_len = u64::from_le_bytes(stream[at + 1..at + 9].try_into().unwrap());
            let dir_index = u32_at(stream, at + 9);
            let name_len = usize::try_from(u32_at(stream, at + 13)).unwrap();
            tally.file(content_len, dir_index, len64(name_len), stream[at + 17]);
            at += 17 + name_len;
        } else {
            let len = usize::try_from(u32_at(stream, at + 1)).unwrap();
            tally.body(
                len64(len),
                stream.get(at + 5).copied().filter(|_| len > 0).unwrap_or(0),
            );
            at += 5 + len;
        }
    }
    tally
}

/// The reference reader over the same bytes.
fn reference_reader(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let mut reader = reference::SplitdirfdstreamReader::new(stream);
    while let Some(chunk) = reader.next_chunk().unwrap() {
        match chunk {
            reference::Chunk::Metadata(body) | reference::Chunk::InlineData(body) => {
                tally.body(len64(body.len()), body.first().copied().unwrap_or(0));
            }
            reference::Chunk::FileBackedData {
                dirfd_index,
                length,
                filename,
            } => tally.file(length, dirfd_index, len64(filename.len()), filename[0]),
        }
    }
    tally
}

/// The pull iterator.
fn chunks(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    for chunk in Chunks::new(stream) {
        match chunk.unwrap() {
            Chunk::Metadata(fragment) | Chunk::InlineData(fragment) => tally.body(
                len64(fragment.data.len()),
                fragment.data.first().copied().unwrap_or(0),
            ),
            Chunk::FileBackedData(file) => {
                tally.file(
                    file.content_len,
                    file.dir_index,
                    len64(file.name.len()),
                    file.name[0],
                );
            }
        }
    }
    tally
}

/// The push decoder, fed 64 KiB windows.
fn decoder(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    let mut start = 0;
    let mut end = PIECE.min(stream.len());
    while start < stream.len() {
        let step = decoder.decode(&stream[start..end]).unwrap();
        start += step.consumed;
        match step.status {
            Status::Chunk(Chunk::Metadata(fragment) | Chunk::InlineData(fragment)) => {
                // Only a body's first fragment carries its first byte.
                let first = if fragment.is_first() {
                    fragment.data.first().copied().unwrap_or(0)
                } else {
                    0
                };
                tally.body(len64(fragment.data.len()), first);
            }
            Status::Chunk(Chunk::FileBackedData(file)) => {
                tally.file(
                    file.content_len,
                    file.dir_index,
                    len64(file.name.len()),
                    file.name[0],
                );
            }
            Status::Partial => {}
            Status::NeedMore { at_least } => {
                // A reader would compact its buffer and read more behind the bytes it kept.
                end = (start + at_least.max(PIECE)).min(stream.len());
                continue;
            }
        }
        if start == end {
            end = (start + PIECE).min(stream.len());
        }
    }
    decoder.finish().unwrap();
    tally
}

/// A small deterministic generator, so every run measures the same stream.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> usize {
        usize::try_from(self.next() % bound).unwrap()
    }
}

/// About `BENCH_MIB` MiB (default 4) shaped like a layer's tar: members with a 512-byte header, content by
/// reference (with names of 20–90 bytes across four directories) or inline, and padding to
/// 512 bytes. One member in `inline_one_in` is inline, with a body below `inline_max`.
fn tar_like(inline_one_in: u64, inline_min: usize, inline_max: u64) -> (Vec<u8>, usize) {
    const WORDS: [&str; 8] = [
        "usr",
        "lib",
        "share",
        "python3.11",
        "site-packages",
        "doc",
        "x86_64-linux-gnu",
        "locale",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut out = vec![0u8; 1 << 17];
    let mut chunks = 0;
    let mib: usize = std::env::var("BENCH_MIB").map_or(4, |mib| mib.parse().unwrap());
    while stream.len() < mib << 20 {
        let header: Vec<u8> = (0..512).map(|_| rng.next().to_le_bytes()[0]).collect();
        let written = encoder.metadata(&header, &mut out).unwrap();
        stream.extend_from_slice(&out[..written]);
        chunks += 1;
        let size = if rng.below(inline_one_in) == 0 {
            let len = inline_min + rng.below(inline_max);
            let content: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[1]).collect();
            let written = encoder.inline_data(&content, &mut out).unwrap();
            stream.extend_from_slice(&out[..written]);
            content.len()
        } else {
            let mut name = String::new();
            while name.len() < 20 + rng.below(60) {
                name.push_str(WORDS[rng.below(8)]);
                name.push('/');
            }
            name.push_str(&format!("file-{}.py", rng.below(100_000)));
            let size = rng.below(1 << 16);
            let dir = u32::try_from(rng.below(4)).unwrap();
            let written = encoder
                .file_backed(dir, len64(size), name.as_bytes(), &mut out)
                .unwrap();
            stream.extend_from_slice(&out[..written]);
            size
        };
        chunks += 1;
        let padding = (512 - size % 512) % 512;
        if padding > 0 {
            let written = encoder.metadata(&vec![0; padding], &mut out).unwrap();
            stream.extend_from_slice(&out[..written]);
            chunks += 1;
        }
    }
    encoder.finish().unwrap();
    (stream, chunks)
}

type Consumer = fn(&[u8]) -> Tally;

const CONSUMERS: [(&str, Consumer); 4] = [
    ("walk", walk),
    ("reference", reference_reader),
    ("Chunks", chunks),
    ("Decoder", decoder),
];

/// Median nanoseconds per chunk of each consumer, in `CONSUMERS` order.
fn measure(stream: &[u8], chunks: usize, samples: usize, sample_time: Duration) -> [f64; 4] {
    let expected = walk(stream);
    let mut passes = [0usize; 4];
    for (slot, (name, consumer)) in CONSUMERS.iter().enumerate() {
        // Check, warm up, and size each sample to last about `sample_time`.
        assert_eq!(consumer(stream), expected, "{name} disagrees");
        let start = Instant::now();
        let mut runs = 0;
        while start.elapsed() < sample_time || runs < 2 {
            black_box(consumer(black_box(stream)));
            runs += 1;
        }
        passes[slot] = runs;
    }
    let mut times: [Vec<f64>; 4] = Default::default();
    // Interleave the consumers so that drift in machine speed hits them all alike.
    for _ in 0..samples {
        for (slot, (_, consumer)) in CONSUMERS.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..passes[slot] {
                black_box(consumer(black_box(stream)));
            }
            let per_pass =
                start.elapsed().as_secs_f64() / f64::from(u32::try_from(passes[slot]).unwrap());
            times[slot].push(per_pass * 1e9 / f64::from(u32::try_from(chunks).unwrap()));
        }
    }
    times.map(|mut series| {
        series.sort_by(f64::total_cmp);
        series[series.len() / 2]
    })
}

fn verdict(ratio: f64, holds: bool, target: &str) -> String {
    format!(
        "{ratio:>7.2}x  {} ({target})",
        if holds { "ok    " } else { "MISSED" }
    )
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick")
        || std::env::var_os("BENCH_QUICK").is_some_and(|value| value != "0");
    let (samples, sample_time) = if quick {
        (9, Duration::from_millis(5))
    } else {
        (101, Duration::from_millis(20))
    };
    println!(
        "splitdirfdstream decode benchmark: {} mode, median of {samples} samples of about {} ms each",
        if quick { "quick" } else { "full" },
        sample_time.as_millis()
    );
    let streams = [
        ("tar-like, by reference", tar_like(5, 0, 2048)),
        ("tar-like, inline", tar_like(1, 4096, 60 << 10)),
    ];
    // `BENCH_ONLY=<consumer>` runs one consumer alone for a while, for a profiler.
    if let Some(only) = std::env::var_os("BENCH_ONLY") {
        let (_, consumer) = CONSUMERS
            .iter()
            .find(|(name, _)| *name == only)
            .expect("BENCH_ONLY names a consumer");
        for (_, (stream, _)) in &streams {
            for _ in 0..20_000 {
                black_box(consumer(black_box(stream)));
            }
        }
        return;
    }
    for (name, (stream, chunks)) in streams {
        let [walk, reference, chunks_ns, decoder] = measure(&stream, chunks, samples, sample_time);
        println!();
        println!("{name}: {chunks} chunks, {} bytes", stream.len());
        for (name, ns) in [
            ("header walk", walk),
            ("reference reader", reference),
            ("Chunks", chunks_ns),
            ("Decoder (64 KiB)", decoder),
        ] {
            println!("  {name:<18} {ns:>10.2} ns/chunk");
        }
        println!(
            "  reference / Chunks  {}",
            verdict(
                reference / chunks_ns,
                reference / chunks_ns >= 5.0,
                "target >= 5"
            )
        );
        println!(
            "  reference / Decoder {}",
            verdict(
                reference / decoder,
                reference / decoder >= 5.0,
                "target >= 5"
            )
        );
        println!(
            "  reference / walk    {}",
            verdict(
                reference / walk,
                true,
                "info: the most any decoder can gain"
            )
        );
        println!(
            "  Chunks / walk       {}",
            verdict(chunks_ns / walk, chunks_ns / walk <= 1.5, "target <= 1.5")
        );
        println!(
            "  Decoder / walk      {}",
            verdict(decoder / walk, decoder / walk <= 1.5, "target <= 1.5")
        );
    }
}
