//! What the `futures-03` wrapper costs: the same in-memory reconstruction in one run,
//!
//! - `asynch (direct)`: [`asynch::reconstruct`] over sources, stream and output that
//!   implement `embedded-io-async` themselves;
//! - `futures_03`: [`futures_03::reconstruct`] over the same memory through its
//!   `futures-io` implementations, each wrapped in `FromFutures`.
//!
//! Both run on `futures::executor::block_on`, with one memory type that implements both
//! trait families the same way, so the difference is the wrapper alone. The layer: a few
//! thousand files of mixed sizes behind 512-byte headers and padding as in a tar, tiny
//! files and a large one inline; the output counts and drops the bytes. Each buffer size
//! is measured separately (a small buffer means more calls through the wrapper); runs are
//! interleaved, and medians and the ratio futures_03 / direct are printed.
//!
//! `cargo bench -p splitfdstream-adapters --features futures-03 --bench futures_reconstruct`;
//! set `BENCH_QUICK=1` for a short, noisier run.

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{median, mib, usize_of, Rng};
use embedded_io_async_07::{ErrorType, Read, Seek, SeekFrom, Write};
use futures::executor::block_on;
use futures_io_03::{AsyncRead, AsyncSeek, AsyncWrite};
use splitfdstream_adapters::futures_03::{self, FromFutures};
use splitfdstream_adapters::{asynch, embedded_io};

/// Bytes in memory with a cursor, readable and seekable through both trait families by
/// the same code; never pending.
struct Memory<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Memory<'a> {
    fn new(bytes: &'a [u8]) -> Memory<'a> {
        Memory { bytes, position: 0 }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let rest = self.bytes.get(self.position..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        n
    }

    fn seek_to(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let len = u64::try_from(self.bytes.len()).unwrap();
        let position = match pos {
            io::SeekFrom::Start(at) => Some(at),
            io::SeekFrom::End(delta) => len.checked_add_signed(delta),
            io::SeekFrom::Current(delta) => u64::try_from(self.position)
                .unwrap()
                .checked_add_signed(delta),
        }
        .ok_or(io::ErrorKind::InvalidInput)?;
        self.position = usize_of(position);
        Ok(position)
    }
}

/// An output that counts the bytes and drops them (as seen by the optimiser, it reads
/// them), or keeps them to be checked.
#[derive(Default)]
struct Out {
    len: u64,
    kept: Option<Vec<u8>>,
}

impl Out {
    fn take(&mut self, buf: &[u8]) -> usize {
        self.len += u64::try_from(black_box(buf).len()).unwrap();
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(buf);
        }
        buf.len()
    }
}

impl ErrorType for Memory<'_> {
    type Error = io::Error;
}

impl Read for Memory<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Seek for Memory<'_> {
    async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_to(pos.into())
    }
}

impl AsyncRead for Memory<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().read_into(buf)))
    }
}

impl AsyncSeek for Memory<'_> {
    fn poll_seek(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        pos: io::SeekFrom,
    ) -> Poll<io::Result<u64>> {
        Poll::Ready(self.get_mut().seek_to(pos))
    }
}

impl ErrorType for Out {
    type Error = io::Error;
}

impl Write for Out {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.take(buf))
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncWrite for Out {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().take(buf)))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

struct Layer {
    stream: Vec<u8>,
    content: Vec<u8>,
    /// Each source's bytes, as a range of `content`.
    sources: Vec<std::ops::Range<usize>>,
    rebuilt_len: u64,
}

/// A tar-like layer of `files` members, its sources slices of one block of content.
fn generate(files: usize) -> Layer {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let content: Vec<u8> = (0..8 << 20)
        .map(|_| u8::try_from(rng.below(256)).unwrap())
        .collect();
    let mut writer = embedded_io::Writer::new(Vec::new());
    let mut sources = Vec::new();
    let mut rebuilt_len = 0u64;
    let mut inline = |writer: &mut embedded_io::Writer<Vec<u8>>, bytes: &[u8]| {
        writer.write_inline(bytes).unwrap();
        rebuilt_len += u64::try_from(bytes.len()).unwrap();
    };
    for i in 0..files {
        let size = usize_of(match rng.below(100) {
            0..=69 => rng.below(16 << 10),
            70..=97 => (16 << 10) + rng.below(240 << 10),
            _ => (1 << 20) + rng.below(3 << 20),
        });
        let start = usize_of(rng.below(1024));
        let body = start..start + size.min(content.len() - start);
        let mut header = [0u8; 512];
        header[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
        inline(&mut writer, &header);
        if body.len() < 64 {
            inline(&mut writer, &content[body.clone()]);
        } else {
            writer
                .write_external(u64::try_from(sources.len()).unwrap())
                .unwrap();
            sources.push(body.clone());
        }
        inline(&mut writer, &[0u8; 512][..(512 - body.len() % 512) % 512]);
    }
    inline(&mut writer, &content[..4 << 20]);
    inline(&mut writer, &[0u8; 1024]);
    let stream = writer.finish().unwrap();
    let rebuilt_len = rebuilt_len
        + sources
            .iter()
            .map(|r| u64::try_from(r.len()).unwrap())
            .sum::<u64>();
    Layer {
        stream,
        content,
        sources,
        rebuilt_len,
    }
}

impl Layer {
    fn memories(&self) -> Vec<Memory<'_>> {
        self.sources
            .iter()
            .map(|r| Memory::new(&self.content[r.clone()]))
            .collect()
    }
}

fn direct(layer: &Layer, buf: &mut [u8], out: &mut Out) -> u64 {
    let mut sources = layer.memories();
    block_on(asynch::reconstruct(
        Memory::new(&layer.stream),
        sources.as_mut_slice(),
        out,
        buf,
    ))
    .unwrap()
}

fn wrapped(layer: &Layer, buf: &mut [u8], out: &mut Out) -> u64 {
    let mut sources: Vec<FromFutures<Memory<'_>>> =
        layer.memories().into_iter().map(FromFutures::new).collect();
    block_on(futures_03::reconstruct(
        Memory::new(&layer.stream),
        sources.as_mut_slice(),
        out,
        buf,
    ))
    .unwrap()
}

type Run = fn(&Layer, &mut [u8], &mut Out) -> u64;

fn timed(layer: &Layer, buf: &mut [u8], run: Run) -> Duration {
    let mut out = Out::default();
    let start = Instant::now();
    let written = run(layer, buf, &mut out);
    let elapsed = start.elapsed();
    assert_eq!((written, out.len), (layer.rebuilt_len, layer.rebuilt_len));
    elapsed
}

/// The bytes `run` rebuilds.
fn kept(layer: &Layer, run: Run) -> Vec<u8> {
    let mut out = Out {
        len: 0,
        kept: Some(Vec::new()),
    };
    run(layer, &mut vec![0u8; 4096], &mut out);
    out.kept.unwrap()
}

fn main() {
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (members, rounds) = if quick { (500, 3) } else { (3000, 21) };
    let layer = generate(members);
    assert!(
        kept(&layer, direct) == kept(&layer, wrapped),
        "the two paths rebuild different bytes"
    );
    println!(
        "layer: {members} members, {} external sources, rebuilt {:.1} MiB in memory; {rounds} rounds",
        layer.sources.len(),
        mib(layer.rebuilt_len),
    );
    println!(
        "\n  {:<10} {:>16} {:>16} {:>22}",
        "buffer", "asynch (direct)", "futures_03", "futures_03 / direct"
    );
    for buf_len in [128 << 10, 4 << 10, 512] {
        let mut buf = vec![0u8; buf_len];
        // Warm-up, once each.
        timed(&layer, &mut buf, direct);
        timed(&layer, &mut buf, wrapped);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            if round % 2 == 0 {
                ours.push(timed(&layer, &mut buf, direct));
                theirs.push(timed(&layer, &mut buf, wrapped));
            } else {
                theirs.push(timed(&layer, &mut buf, wrapped));
                ours.push(timed(&layer, &mut buf, direct));
            }
        }
        let (direct_median, wrapped_median) = (median(&mut ours), median(&mut theirs));
        println!(
            "  {:<10} {:>14.2}ms {:>14.2}ms {:>21.3}x",
            format!("{} B", buf_len),
            direct_median.as_secs_f64() * 1000.0,
            wrapped_median.as_secs_f64() * 1000.0,
            wrapped_median.as_secs_f64() / direct_median.as_secs_f64(),
        );
    }
}
