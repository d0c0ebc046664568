//! Decode throughput, side by side in one run on the same warm in-memory streams:
//!
//! - `limit`: a bare loop that reads each 8-byte prefix and jumps to the next chunk; no
//!   decoder can do less, so it is the physical limit;
//! - `copying`: a straightforward `std::io` reader that copies every inline chunk into a
//!   fresh `Vec` with `read_exact`, as the format's first implementation does;
//! - `Chunks`: this crate's pull iterator over the whole stream;
//! - `Decoder`: this crate's push decoder fed 64 KiB pieces.
//!
//! Every consumer does the same minimal work per chunk (sum of inline lengths, xor of each
//! inline chunk's first byte, sum of external indices) and must reach the same checksum.
//! Each measurement is repeated many times, interleaved, and the median is reported.
//!
//! Run with `cargo bench --bench decode`; add `-- --quick` (or set `BENCH_QUICK=1`) for a
//! short, noisier run.

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use splitfdstream::{Chunk, Chunks, Decoder, Encoder};

/// Piece size fed to the push decoder, as a reader with a 64 KiB buffer would.
const PIECE: usize = 64 * 1024;

/// What each consumer computes, so that none can skip the work the others do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    inline_len: u64,
    first_bytes: u8,
    indices: u64,
}

impl Tally {
    #[inline(always)]
    fn inline(&mut self, len: u64, first: u8) {
        self.inline_len = self.inline_len.wrapping_add(len);
        self.first_bytes ^= first;
    }

    #[inline(always)]
    fn external(&mut self, index: u64) {
        self.indices = self.indices.wrapping_add(index);
    }
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap()
}

/// (a) The physical limit: read each prefix, touch the first body byte, jump.
fn limit(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let mut at = 0;
    while let Some(prefix) = stream.get(at..at + 8) {
        let prefix = i64::from_le_bytes(prefix.try_into().unwrap());
        at += 8;
        if prefix < 0 {
            let len = prefix.unsigned_abs();
            tally.inline(len, stream[at]);
            at += usize::try_from(len).unwrap();
        } else {
            tally.external(prefix.unsigned_abs());
        }
    }
    tally
}

/// (b) The first implementation's approach: `read_exact` each prefix, then each inline body
/// into a newly allocated `Vec`.
fn copying(mut reader: impl Read) -> Tally {
    let mut tally = Tally::default();
    loop {
        let mut prefix = [0u8; 8];
        match reader.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(error) => panic!("{error}"),
        }
        let prefix = i64::from_le_bytes(prefix);
        if prefix < 0 {
            let len = usize::try_from(prefix.unsigned_abs()).unwrap();
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let body = black_box(body);
            tally.inline(len64(body.len()), body[0]);
        } else {
            tally.external(prefix.unsigned_abs());
        }
    }
    tally
}

/// (c) The pull iterator.
fn chunks(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    for chunk in Chunks::new(stream) {
        match chunk.unwrap() {
            Chunk::Inline(fragment) => tally.inline(len64(fragment.data.len()), fragment.data[0]),
            Chunk::External(index) => tally.external(index.get()),
        }
    }
    tally
}

/// (d) The push decoder, fed 64 KiB pieces.
fn decoder(stream: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for piece in stream.chunks(PIECE) {
        let mut rest = piece;
        while !rest.is_empty() {
            let step = decoder.decode(rest).unwrap();
            match step.chunk {
                Some(Chunk::Inline(fragment)) => {
                    // Only a chunk's first fragment carries its first byte.
                    let first = if fragment.is_first() {
                        fragment.data[0]
                    } else {
                        0
                    };
                    tally.inline(len64(fragment.data.len()), first);
                }
                Some(Chunk::External(index)) => tally.external(index.get()),
                None => {}
            }
            rest = &rest[step.consumed..];
        }
    }
    decoder.finish().unwrap();
    tally
}

/// A small deterministic generator, so every run measures the same streams.
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

struct Stream {
    name: &'static str,
    bytes: Vec<u8>,
    chunks: usize,
}

fn encode(
    inline_lens: impl Iterator<Item = (usize, bool)>,
    rng: &mut XorShift,
) -> (Vec<u8>, usize) {
    let mut encoder = Encoder::new();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    let mut header = [0u8; 8];
    for (len, external_after) in inline_lens {
        let body: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
        let written = encoder.begin_inline(len64(len), &mut header).unwrap();
        bytes.extend_from_slice(&header[..written]);
        bytes.extend_from_slice(&body);
        encoder.advance_inline(len64(len)).unwrap();
        chunks += 1;
        if external_after {
            let index = len64(chunks % 997);
            let written = encoder.external(index, &mut header).unwrap();
            bytes.extend_from_slice(&header[..written]);
            chunks += 1;
        }
    }
    encoder.finish().unwrap();
    (bytes, chunks)
}

/// Inline chunks of 512–1024 bytes, each followed by an external reference, about 1 MiB:
/// the shape of a tar stream whose file contents stay on disk.
fn tar_like() -> Stream {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut lens = Vec::new();
    let mut total = 0;
    while total < 1 << 20 {
        let len = 512 + rng.below(513);
        total += 8 + len + 8;
        lens.push((len, true));
    }
    let (bytes, chunks) = encode(lens.into_iter(), &mut rng);
    Stream {
        name: "tar-like",
        bytes,
        chunks,
    }
}

/// 64 inline chunks of 1 MiB each: content sent inline in bulk.
fn bulk() -> Stream {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (bytes, chunks) = encode((0..64).map(|_| (1 << 20, false)), &mut rng);
    Stream {
        name: "bulk",
        bytes,
        chunks,
    }
}

type Consumer = fn(&[u8]) -> Tally;

const CONSUMERS: [(&str, Consumer); 4] = [
    ("limit", limit),
    ("copying", |stream| copying(stream)),
    ("Chunks", chunks),
    ("Decoder", decoder),
];

/// Median nanoseconds per chunk of each consumer, in `CONSUMERS` order.
fn measure(stream: &Stream, samples: usize, sample_time: Duration) -> [f64; 4] {
    let expected = limit(&stream.bytes);
    let mut passes = [0usize; 4];
    for (slot, (name, consumer)) in CONSUMERS.iter().enumerate() {
        // Check, warm up, and size each sample to last about `sample_time`.
        assert_eq!(consumer(&stream.bytes), expected, "{name} disagrees");
        let start = Instant::now();
        let mut runs = 0;
        while start.elapsed() < sample_time || runs < 2 {
            black_box(consumer(black_box(&stream.bytes)));
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
                black_box(consumer(black_box(&stream.bytes)));
            }
            let per_pass =
                start.elapsed().as_secs_f64() / f64::from(u32::try_from(passes[slot]).unwrap());
            times[slot].push(per_pass * 1e9 / f64::from(u32::try_from(stream.chunks).unwrap()));
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
        "decode benchmark: {} mode, median of {samples} samples of about {} ms each",
        if quick { "quick" } else { "full" },
        sample_time.as_millis()
    );

    for stream in [tar_like(), bulk()] {
        let [limit, copying, chunks, decoder] = measure(&stream, samples, sample_time);
        println!();
        println!(
            "{}: {} chunks, {} bytes",
            stream.name,
            stream.chunks,
            stream.bytes.len()
        );
        for (name, ns) in [
            ("limit loop", limit),
            ("copying reader", copying),
            ("Chunks", chunks),
            ("Decoder (64 KiB)", decoder),
        ] {
            println!("  {name:<18} {ns:>12.2} ns/chunk");
        }
        if stream.name == "tar-like" {
            println!(
                "  Chunks / limit     {}",
                verdict(chunks / limit, chunks / limit <= 1.3, "target <= 1.3")
            );
            println!(
                "  Decoder / limit    {}",
                verdict(decoder / limit, decoder / limit <= 1.6, "target <= 1.6")
            );
            println!(
                "  copying / Chunks   {}",
                verdict(copying / chunks, copying / chunks >= 2.5, "info")
            );
            println!(
                "  copying / Decoder  {}",
                verdict(copying / decoder, copying / decoder >= 2.5, "target >= 2.5")
            );
        } else {
            println!(
                "  copying / Chunks   {}",
                verdict(copying / chunks, copying / chunks >= 100.0, "info")
            );
            println!(
                "  copying / Decoder  {}",
                verdict(
                    copying / decoder,
                    copying / decoder >= 100.0,
                    "target >= 100"
                )
            );
        }
    }
}
