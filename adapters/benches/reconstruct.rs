//! Reconstruction of a tar-like layer, side by side in one run:
//!
//! - `baseline`: what the format's first implementation does: read each 8-byte prefix,
//!   read each inline chunk into a fresh `Vec` and write it, copy each external with
//!   `pread` into a buffer and `write` it, every source opened up front (untimed);
//! - `baseline + opens`: the same, timing the opening of every source too;
//! - `ours, open files`: [`reconstruct`] over the same open files, compared with
//!   `baseline`;
//! - `ours, lazy paths`: [`reconstruct`] over [`PathSources`], opening files lazily
//!   through its bounded cache, compared with `baseline + opens` (both open every file).
//!
//! The layer: thousands of files of mixed sizes in a temporary directory, each behind a
//! 512-byte header and padding as in a tar, small files and two large ones carried inline.
//! Each variant rebuilds it into `io::sink()` and into a new regular file; runs are
//! interleaved in an order rotated each round and repeated, and the median, the speed
//! ratio to the matching baseline and the peak heap use (from a counting allocator) are
//! printed. Caches are warm: this measures the
//! copying, not the disk.
//!
//! `cargo bench -p splitfdstream-adapters --features std --bench reconstruct`; set
//! `BENCH_QUICK=1` for a short, noisier run.

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{median, mib, usize_of, Rng};
use splitfdstream_adapters::std::{reconstruct, PathSources, ReadAt, Writer};

/// Live and peak heap bytes of the whole process (the benchmark is single-threaded).
struct Counting;

static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

fn grow(bytes: usize) {
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrink(bytes: usize) {
    LIVE.fetch_sub(u64::try_from(bytes).unwrap_or(0), Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        shrink(layout.size());
        grow(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated at the peak of `run`, above what was live before it.
fn measure<T>(run: impl FnOnce() -> T) -> (T, Duration, u64) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let result = run();
    let elapsed = start.elapsed();
    (result, elapsed, PEAK.load(Ordering::Relaxed) - base)
}

struct Layer {
    dir: tempfile::TempDir,
    stream: PathBuf,
    sources: Vec<PathBuf>,
    rebuilt_len: u64,
    files: usize,
    inline_bytes: u64,
}

/// Writes the sources and the stream of a tar-like layer into a temporary directory.
fn generate(files: usize) -> Layer {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let stream_path = dir.path().join("layer.sfd");
    let mut writer = Writer::new(io::BufWriter::new(File::create(&stream_path).unwrap()));
    let mut sources = Vec::new();
    let mut rebuilt_len = 0u64;
    let mut inline_bytes = 0u64;
    let mut content = vec![0u8; 24 << 20];
    for byte in &mut content {
        *byte = u8::try_from(rng.below(256)).unwrap();
    }
    let mut inline = |writer: &mut Writer<_>, bytes: &[u8], rebuilt_len: &mut u64| {
        writer.write_inline(bytes).unwrap();
        *rebuilt_len += u64::try_from(bytes.len()).unwrap();
        inline_bytes += u64::try_from(bytes.len()).unwrap();
    };
    for i in 0..files {
        // Mostly small files, some medium, a few large: the shape of a container layer.
        let size = match rng.below(100) {
            0..=69 => rng.below(16 << 10),
            70..=97 => (16 << 10) + rng.below(240 << 10),
            _ => (1 << 20) + rng.below(3 << 20),
        };
        let size = usize_of(size);
        let start = usize_of(rng.below(1024));
        let body = &content[start..start + size.min(content.len() - start)];
        let mut header = [0u8; 512];
        header[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
        inline(&mut writer, &header, &mut rebuilt_len);
        if body.len() < 64 {
            // Tiny files travel inline, as splitting tools do.
            inline(&mut writer, body, &mut rebuilt_len);
        } else {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, body).unwrap();
            writer
                .write_external(u64::try_from(sources.len()).unwrap())
                .unwrap();
            sources.push(path);
            rebuilt_len += u64::try_from(body.len()).unwrap();
        }
        let padding = (512 - body.len() % 512) % 512;
        inline(&mut writer, &[0u8; 512][..padding], &mut rebuilt_len);
    }
    // Two large inline chunks (a file a splitter chose not to externalise), then the
    // end-of-archive blocks.
    for len in [4 << 20, 24 << 20] {
        inline(&mut writer, &content[..len], &mut rebuilt_len);
    }
    inline(&mut writer, &[0u8; 1024], &mut rebuilt_len);
    writer.finish().unwrap().flush().unwrap();
    Layer {
        dir,
        stream: stream_path,
        sources,
        rebuilt_len,
        files,
        inline_bytes,
    }
}

/// The format's first implementation: a fresh `Vec` per inline chunk, `pread` + `write`
/// through a buffer per external, all sources open.
fn baseline<W: Write + ?Sized>(stream: &Path, sources: &[File], out: &mut W) -> io::Result<u64> {
    let mut stream = BufReader::new(File::open(stream)?);
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let mut prefix = [0u8; 8];
        match stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(total),
            Err(error) => return Err(error),
        }
        let prefix = i64::from_le_bytes(prefix);
        if prefix < 0 {
            let mut chunk = vec![0u8; usize_of(prefix.unsigned_abs())];
            stream.read_exact(&mut chunk)?;
            out.write_all(&chunk)?;
            total += u64::try_from(chunk.len()).unwrap();
        } else {
            let source = &sources[usize_of(prefix.unsigned_abs())];
            let mut offset = 0u64;
            loop {
                let n = source.read_at(&mut buf, offset)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
                offset += u64::try_from(n).unwrap();
            }
            total += offset;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Baseline,
    BaselineOpening,
    OursFiles,
    OursPaths,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Baseline,
        Variant::BaselineOpening,
        Variant::OursFiles,
        Variant::OursPaths,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline (Vec + pread)",
            Variant::BaselineOpening => "baseline + opens",
            Variant::OursFiles => "ours, open files",
            Variant::OursPaths => "ours, lazy paths",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Sink,
    File,
}

fn run(layer: &Layer, files: &[File], variant: Variant, output: Output) -> (Duration, u64) {
    let out_path = layer.dir.path().join("out.tar");
    // A new file each run, created before the clock starts and removed after it stops, so
    // that no run pays for freeing another's pages.
    let mut out_file = (output == Output::File).then(|| File::create_new(&out_path).unwrap());
    let (written, elapsed, peak) = measure(|| {
        let mut sink = io::sink();
        let out: &mut dyn Write = match out_file.as_mut() {
            Some(file) => file,
            None => &mut sink,
        };
        match variant {
            Variant::Baseline => baseline(&layer.stream, files, out),
            Variant::BaselineOpening => {
                let files: Vec<File> = layer
                    .sources
                    .iter()
                    .map(|p| File::open(p).unwrap())
                    .collect();
                baseline(&layer.stream, &files, out)
            }
            Variant::OursFiles => {
                reconstruct(File::open(&layer.stream).unwrap(), files, out).map_err(io::Error::from)
            }
            Variant::OursPaths => {
                let sources = PathSources::from_paths(&layer.sources);
                reconstruct(File::open(&layer.stream).unwrap(), &sources, out)
                    .map_err(io::Error::from)
            }
        }
        .unwrap()
    });
    assert_eq!(written, layer.rebuilt_len);
    if let Some(file) = black_box(out_file) {
        drop(file);
        std::fs::remove_file(&out_path).unwrap();
    }
    (elapsed, peak)
}

fn main() {
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (files, rounds): (usize, usize) = if quick { (800, 3) } else { (3000, 15) };
    let layer = generate(files);
    let opened: Vec<File> = layer
        .sources
        .iter()
        .map(|p| File::open(p).unwrap())
        .collect();
    println!(
        "layer: {} members, {} external sources, rebuilt {:.1} MiB ({:.1} MiB inline); up to {} rounds, warm cache",
        layer.files,
        layer.sources.len(),
        mib(layer.rebuilt_len),
        mib(layer.inline_bytes),
        rounds
    );

    // Checked once: every variant rebuilds the same bytes.
    let reference = {
        let mut out = Vec::new();
        baseline(&layer.stream, &opened, &mut out).unwrap();
        out
    };
    let mut ours = Vec::new();
    reconstruct(File::open(&layer.stream).unwrap(), &opened[..], &mut ours).unwrap();
    assert!(
        ours == reference,
        "ours and the baseline rebuild different bytes"
    );
    drop((reference, ours));

    // BENCH_ONLY=baseline|baseline-opening|files|paths and BENCH_OUTPUT=sink|file run one case repeatedly,
    // for a profiler or strace.
    if let (Ok(only), Ok(output)) = (std::env::var("BENCH_ONLY"), std::env::var("BENCH_OUTPUT")) {
        let variant = match only.as_str() {
            "baseline" => Variant::Baseline,
            "baseline-opening" => Variant::BaselineOpening,
            "files" => Variant::OursFiles,
            _ => Variant::OursPaths,
        };
        let output = if output == "file" {
            Output::File
        } else {
            Output::Sink
        };
        let mut times: Vec<Duration> = (0..rounds)
            .map(|_| run(&layer, &opened, variant, output).0)
            .collect();
        println!("{}: median {:?}", variant.name(), median(&mut times));
        return;
    }

    for output in [Output::Sink, Output::File] {
        let label = match output {
            Output::Sink => "io::sink()",
            Output::File => "regular file",
        };
        // Writing a file costs several times more than a sink, and varies less.
        let rounds = if output == Output::File {
            rounds.div_ceil(2)
        } else {
            rounds
        };
        let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        let mut peaks = [0u64; 4];
        run(&layer, &opened, Variant::Baseline, output); // warm-up
        for round in 0..rounds {
            // Rotated each round, so no variant always follows the same one.
            for turn in 0..Variant::ALL.len() {
                let at = (turn + round) % Variant::ALL.len();
                let variant = Variant::ALL[at];
                let (elapsed, peak) = run(&layer, &opened, variant, output);
                times[at].push(elapsed);
                peaks[at] = peaks[at].max(peak);
            }
        }
        let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
        println!("\ninto {label}, median of {rounds}:");
        for (at, variant) in Variant::ALL.into_iter().enumerate() {
            let secs = medians[at].as_secs_f64();
            // Each of ours against the baseline that does the same opening work.
            let reference = match variant {
                Variant::Baseline | Variant::BaselineOpening => None,
                Variant::OursFiles => Some(0),
                Variant::OursPaths => Some(1),
            };
            let versus = reference.map_or(String::new(), |r| {
                format!(
                    "{:.2}x faster, {:.1}% of its heap",
                    medians[r].as_secs_f64() / secs,
                    100.0 * mib(peaks[at]) / mib(peaks[r]).max(f64::MIN_POSITIVE)
                )
            });
            println!(
                "  {:<24} {:>8.1}ms {:>8.0} MiB/s {:>9.2} MiB heap   {}",
                variant.name(),
                secs * 1000.0,
                mib(layer.rebuilt_len) / secs,
                mib(peaks[at]),
                versus
            );
        }
    }
}
