//! Rebuilding a splitdirfdstream into a file, side by side in one run:
//!
//! - `ours`: [`Reconstruct`] with the successor format over [`DirSources`] (names opened
//!   confined beneath the directory, read ahead by helper threads, large files copied by
//!   the kernel), what `splitfdstream join --format dir` uses;
//! - `reference`: `composefs-splitdirfdstream` 0.9.4's `reconstruct`, into the same kind
//!   of file, handed the `File` itself;
//! - `reference+buf`: the same, through a 128 KiB `BufWriter`, its best case;
//! - `ours, no read-ahead`: ours with every file opened when used, on one thread, as the
//!   reference does.
//!
//! Two layers, each in one directory: 60,000 small files (1 byte – 8 KiB) behind 512-byte
//! headers and padding as in a tar, and 3 files of 64 MiB. Each variant runs once to warm
//! the page cache, then the variants are interleaved for 5 rounds (`BENCH_ROUNDS`), with
//! `sync` (untimed) before each timed run, and the medians of wall and CPU time (user +
//! system, of every thread, from `getrusage`) are printed with their ratios to ours.
//!
//! `cargo bench -p splitfdstream-adapters --features fd --bench dir_rebuild`;
//! `BENCH_DIR` says where the layers are written (default: the temporary directory).

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use composefs_splitdirfdstream as reference;
use splitfdstream::dir::Encoder;
use splitfdstream_adapters::fd::Reconstruct;
use splitfdstream_adapters::std::DirSources;
use splitfdstream_adapters::Format;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Layer {
    name: &'static str,
    dir: PathBuf,
    stream: Vec<u8>,
    len: u64,
}

/// Writes `sizes.len()` files beneath `root/name` and the stream that names them.
fn generate(root: &Path, name: &'static str, sizes: &[usize]) -> Layer {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    let mut rng = Rng(0x5eed ^ u64::try_from(sizes.len()).unwrap());
    let mut encoder = Encoder::new();
    let mut stream = Vec::new();
    let mut out = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let mut len = 0u64;
    let mut content = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        pending.extend_from_slice(&[0u8; 512]);
        let n = encoder.metadata(&pending, &mut out).unwrap();
        stream.extend_from_slice(&out[..n]);
        len += u64::try_from(pending.len()).unwrap();
        pending.clear();
        let name = format!("usr/lib/pkg{}/file{i}.py", i / 1000);
        if i % 1000 == 0 {
            std::fs::create_dir_all(dir.join(&name).parent().unwrap()).unwrap();
        }
        content.clear();
        content.extend((0..size).map(|_| rng.next().to_le_bytes()[0]));
        std::fs::write(dir.join(&name), &content).unwrap();
        let size = u64::try_from(size).unwrap();
        let n = encoder
            .file_backed(0, size, name.as_bytes(), &mut out)
            .unwrap();
        stream.extend_from_slice(&out[..n]);
        len += size;
        pending.resize(usize::try_from((512 - size % 512) % 512).unwrap(), 0);
    }
    pending.resize(pending.len() + 1024, 0);
    let n = encoder.metadata(&pending, &mut out).unwrap();
    stream.extend_from_slice(&out[..n]);
    len += u64::try_from(pending.len()).unwrap();
    Layer {
        name,
        dir,
        stream,
        len,
    }
}

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the rusage it is given; the memory is zeroed and owned.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap())
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap())
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[derive(Clone, Copy)]
enum Variant {
    Ours,
    OursWhenUsed,
    Reference,
    ReferenceBuffered,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Ours,
        Variant::OursWhenUsed,
        Variant::Reference,
        Variant::ReferenceBuffered,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Ours => "ours (fd, DirSources)",
            Variant::OursWhenUsed => "ours, no read-ahead",
            Variant::Reference => "reference",
            Variant::ReferenceBuffered => "reference+buf",
        }
    }

    /// Rebuilds `layer` into `out`; returns the wall and CPU time.
    fn run(self, layer: &Layer, out: &Path) -> (Duration, Duration) {
        let _ = std::fs::remove_file(out);
        let status = Command::new("sync").status().unwrap();
        assert!(status.success());
        let (wall, cpu) = (Instant::now(), cpu_time());
        let file = File::create(out).unwrap();
        let written = match self {
            Variant::Ours | Variant::OursWhenUsed => {
                let ahead = matches!(self, Variant::Ours);
                let mut sources = DirSources::open([&layer.dir])
                    .unwrap()
                    .with_read_ahead(ahead);
                if ahead {
                    sources.read_ahead_for(&layer.stream).unwrap();
                }
                Reconstruct::new()
                    .format(Format::Splitdirfdstream)
                    .run(layer.stream.as_slice(), &sources, &file)
                    .unwrap()
                    .total
            }
            Variant::Reference | Variant::ReferenceBuffered => {
                let dir = File::open(&layer.dir).unwrap();
                let dirs: [BorrowedFd<'_>; 1] = [dir.as_fd()];
                if matches!(self, Variant::Reference) {
                    let mut file = &file;
                    reference::reconstruct(layer.stream.as_slice(), &dirs, &mut file).unwrap()
                } else {
                    let mut buffered = BufWriter::with_capacity(128 * 1024, &file);
                    let n = reference::reconstruct(layer.stream.as_slice(), &dirs, &mut buffered)
                        .unwrap();
                    buffered.flush().unwrap();
                    n
                }
            }
        };
        drop(file);
        let times = (wall.elapsed(), cpu_time() - cpu);
        assert_eq!(written, layer.len, "{}", self.name());
        assert_eq!(std::fs::metadata(out).unwrap().len(), layer.len);
        times
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> io::Result<()> {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::tempdir_in(base)?;
    let small: Vec<usize> = {
        let mut rng = Rng(42);
        (0..60_000)
            .map(|_| 1 + usize::try_from(rng.next() % 8192).unwrap())
            .collect()
    };
    let layers = [
        generate(root.path(), "60,000 small files", &small),
        generate(root.path(), "3 large files", &[64 << 20; 3]),
    ];
    let out = root.path().join("rebuilt");
    for layer in &layers {
        let mb = layer.len / 1_000_000;
        println!("\n{} ({mb} MB rebuilt), into a regular file", layer.name);
        let mut results = vec![(Vec::new(), Vec::new()); Variant::ALL.len()];
        for variant in Variant::ALL {
            variant.run(layer, &out);
        }
        for _ in 0..rounds {
            for (at, variant) in Variant::ALL.iter().enumerate() {
                let (wall, cpu) = variant.run(layer, &out);
                results[at].0.push(wall);
                results[at].1.push(cpu);
            }
        }
        let medians: Vec<(Duration, Duration)> = results
            .iter_mut()
            .map(|(wall, cpu)| (median(wall), median(cpu)))
            .collect();
        let (our_wall, our_cpu) = medians[0];
        println!(
            "  {:<24} {:>10} {:>10} {:>14} {:>12}",
            "variant", "wall", "cpu", "ours faster by", "ours cpu is"
        );
        for (variant, (wall, cpu)) in Variant::ALL.iter().zip(&medians) {
            println!(
                "  {:<24} {:>8.1}ms {:>8.1}ms {:>13.2}x {:>11.2}x",
                variant.name(),
                wall.as_secs_f64() * 1e3,
                cpu.as_secs_f64() * 1e3,
                wall.as_secs_f64() / our_wall.as_secs_f64(),
                our_cpu.as_secs_f64() / cpu.as_secs_f64(),
            );
        }
    }
    Ok(())
}
