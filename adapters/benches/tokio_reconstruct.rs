//! tokio reconstruction of a tar-like layer against the blocking std one, in one run.
//!
//! - `blocking`: [`std::reconstruct`](splitfdstream_adapters::std::reconstruct) from a
//!   `std::fs::File` stream into `io::sink()` or a `std::fs::File`;
//! - `tokio, current-thread` and `tokio, multi-thread`:
//!   [`tokio_1::reconstruct`](splitfdstream_adapters::tokio_1::reconstruct) from a
//!   `tokio::fs::File` stream into `tokio::io::sink()` or a `tokio::fs::File`.
//!
//! Sources are the same in all three: lazily opened paths ([`PathSources`], bounded cache)
//! and, separately, files opened up front. The layer: thousands of files of mixed sizes
//! behind 512-byte headers and padding as in a tar, tiny files and two large ones inline.
//! Runs are interleaved and repeated; medians and the ratio tokio / blocking are printed
//! (the goal: at most 1.3). Caches are warm: this measures the drivers, not the disk.
//!
//! `cargo bench -p splitfdstream-adapters --features tokio-1 --bench tokio_reconstruct`;
//! set `BENCH_QUICK=1` for a short, noisier run.

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{median, mib, usize_of, Rng};
use splitfdstream_adapters::std::{reconstruct, PathSources, Sources, Writer};
use splitfdstream_adapters::tokio_1;
use tokio::runtime::{Builder, Runtime};

struct Layer {
    dir: tempfile::TempDir,
    stream: PathBuf,
    sources: Vec<PathBuf>,
    rebuilt_len: u64,
}

/// Writes the sources and the stream of a tar-like layer of `files` members.
fn generate(files: usize) -> Layer {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let stream_path = dir.path().join("layer.sfd");
    let mut writer = Writer::new(io::BufWriter::new(File::create(&stream_path).unwrap()));
    let content: Vec<u8> = (0..24 << 20)
        .map(|_| u8::try_from(rng.below(256)).unwrap())
        .collect();
    let mut sources = Vec::new();
    let mut rebuilt_len = 0u64;
    let mut inline = |writer: &mut Writer<_>, bytes: &[u8]| {
        writer.write_inline(bytes).unwrap();
        rebuilt_len += u64::try_from(bytes.len()).unwrap();
    };
    for i in 0..files {
        // Mostly small files, some medium, a few large: the shape of a container layer.
        let size = usize_of(match rng.below(100) {
            0..=69 => rng.below(16 << 10),
            70..=97 => (16 << 10) + rng.below(240 << 10),
            _ => (1 << 20) + rng.below(7 << 20),
        });
        let start = usize_of(rng.below(1024));
        let body = &content[start..start + size.min(content.len() - start)];
        let mut header = [0u8; 512];
        header[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
        inline(&mut writer, &header);
        if body.len() < 64 {
            inline(&mut writer, body);
        } else {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, body).unwrap();
            writer
                .write_external(u64::try_from(sources.len()).unwrap())
                .unwrap();
            sources.push(path);
        }
        inline(&mut writer, &[0u8; 512][..(512 - body.len() % 512) % 512]);
    }
    for len in [4 << 20, 24 << 20] {
        inline(&mut writer, &content[..len]);
    }
    inline(&mut writer, &[0u8; 1024]);
    writer.finish().unwrap().flush().unwrap();
    let rebuilt_len = sources
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum::<u64>()
        + rebuilt_len;
    Layer {
        dir,
        stream: stream_path,
        sources,
        rebuilt_len,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Blocking,
    CurrentThread,
    MultiThread,
}

impl Variant {
    const ALL: [Variant; 3] = [
        Variant::Blocking,
        Variant::CurrentThread,
        Variant::MultiThread,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Blocking => "blocking std",
            Variant::CurrentThread => "tokio, current-thread",
            Variant::MultiThread => "tokio, multi-thread",
        }
    }
}

struct Runtimes {
    current: Runtime,
    multi: Runtime,
}

fn run_tokio<S>(runtime: &Runtime, layer: &Layer, sources: Arc<S>, to_file: bool) -> u64
where
    S: Sources + Send + Sync + ?Sized + 'static,
{
    let out_path = layer.dir.path().join("out.tar");
    runtime.block_on(async {
        let stream = tokio::fs::File::open(&layer.stream).await.unwrap();
        if to_file {
            let mut out = tokio::fs::File::create(&out_path).await.unwrap();
            tokio_1::reconstruct(stream, sources, &mut out)
                .await
                .unwrap()
        } else {
            tokio_1::reconstruct(stream, sources, tokio::io::sink())
                .await
                .unwrap()
        }
    })
}

fn run_blocking<S: Sources + ?Sized>(layer: &Layer, sources: &S, to_file: bool) -> u64 {
    let stream = File::open(&layer.stream).unwrap();
    if to_file {
        let out = File::create(layer.dir.path().join("out.tar")).unwrap();
        reconstruct(stream, sources, out).unwrap()
    } else {
        reconstruct(stream, sources, io::sink()).unwrap()
    }
}

/// One timed run; `open` selects files opened up front over lazily opened paths.
fn run(
    layer: &Layer,
    runtimes: &Runtimes,
    files: &Arc<Vec<File>>,
    variant: Variant,
    open: bool,
    to_file: bool,
) -> Duration {
    let start = Instant::now();
    let written = if open {
        match variant {
            Variant::Blocking => run_blocking(layer, files.as_slice(), to_file),
            Variant::CurrentThread => {
                run_tokio(&runtimes.current, layer, Arc::clone(files), to_file)
            }
            Variant::MultiThread => run_tokio(&runtimes.multi, layer, Arc::clone(files), to_file),
        }
    } else {
        let sources = PathSources::from_paths(&layer.sources);
        match variant {
            Variant::Blocking => run_blocking(layer, &sources, to_file),
            Variant::CurrentThread => {
                run_tokio(&runtimes.current, layer, Arc::new(sources), to_file)
            }
            Variant::MultiThread => run_tokio(&runtimes.multi, layer, Arc::new(sources), to_file),
        }
    };
    let elapsed = start.elapsed();
    assert_eq!(written, layer.rebuilt_len);
    elapsed
}

fn main() {
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (members, rounds) = if quick { (800, 3) } else { (4000, 9) };
    let layer = generate(members);
    let runtimes = Runtimes {
        current: Builder::new_current_thread().enable_all().build().unwrap(),
        multi: Builder::new_multi_thread().enable_all().build().unwrap(),
    };
    let files: Arc<Vec<File>> = Arc::new(
        layer
            .sources
            .iter()
            .map(|p| File::open(p).unwrap())
            .collect(),
    );
    println!(
        "layer: {members} members, {} external sources, rebuilt {:.1} MiB; {rounds} rounds, warm cache",
        layer.sources.len(),
        mib(layer.rebuilt_len),
    );

    // Checked once: tokio rebuilds the blocking bytes.
    let out_path = layer.dir.path().join("out.tar");
    run_blocking(&layer, files.as_slice(), true);
    let blocking = std::fs::read(&out_path).unwrap();
    run_tokio(&runtimes.multi, &layer, Arc::clone(&files), true);
    assert!(
        std::fs::read(&out_path).unwrap() == blocking,
        "tokio and blocking rebuild different bytes"
    );
    drop(blocking);

    let mut worst = 0f64;
    for (open, sources_label) in [(false, "lazy paths"), (true, "open files")] {
        for (to_file, out_label) in [(false, "sink"), (true, "regular file")] {
            let mut times = [Vec::new(), Vec::new(), Vec::new()];
            run(&layer, &runtimes, &files, Variant::Blocking, open, to_file); // warm-up
            for _ in 0..rounds {
                for (at, variant) in Variant::ALL.into_iter().enumerate() {
                    times[at].push(run(&layer, &runtimes, &files, variant, open, to_file));
                }
            }
            let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
            println!("\n{sources_label} into {out_label}:");
            println!(
                "  {:<24} {:>10} {:>10} {:>18}",
                "variant", "median", "MiB/s", "time vs blocking"
            );
            for (at, variant) in Variant::ALL.into_iter().enumerate() {
                let secs = medians[at].as_secs_f64();
                let ratio = secs / medians[0].as_secs_f64();
                if at > 0 {
                    worst = worst.max(ratio);
                }
                println!(
                    "  {:<24} {:>8.1}ms {:>10.0} {:>17.2}x",
                    variant.name(),
                    secs * 1000.0,
                    mib(layer.rebuilt_len) / secs,
                    ratio
                );
            }
        }
    }
    println!("\nworst tokio / blocking ratio: {worst:.2}x (goal: at most 1.30x)");
}
