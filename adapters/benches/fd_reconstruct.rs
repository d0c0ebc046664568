//! Reconstruction into descriptors, side by side in one run:
//!
//! - `ours`: [`Reconstruct`] (kernel copies, batched small pieces);
//! - `pread+write`: the std [`reconstruct`], which copies every external with `pread` and
//!   `write` through a 128 KiB staging buffer (the baseline);
//! - `cat`: `cat` of the original tar-equivalent file into the same kind of output, the
//!   floor for moving those bytes at all.
//!
//! Two layers: 60,000 small files (1 byte – 8 KiB) behind 512-byte headers and padding
//! as in a tar, and a few large files (3 × 120 MiB). Each is rebuilt into a regular file,
//! into a pipe drained by another thread, and into a Unix socket drained by another
//! thread. Sources are open descriptors (as received with `SCM_RIGHTS`); both layers are
//! also rebuilt from paths ([`PathSources`], opened, read and closed ahead by helper
//! threads) by every driver: `fd, paths` ([`Reconstruct`], what `splitfdstream join`
//! uses), `std, paths` ([`reconstruct`], what `verify` uses), `Read, paths`
//! ([`Reconstructor`] copied out with `io::copy`), `seek, paths`
//! ([`SeekableReconstructor`], likewise) and, with the `tokio-1` feature, `tokio, paths`;
//! the `vs fd,paths` column compares each with the first. The 60,000-file layer is also
//! rebuilt from paths opened lazily, one at a time on the reconstruction's thread (`fd,
//! lazy`), and from paths opened ahead with an `openat` each rather than in groups through
//! `io_uring` (`fd, openat`). Every
//! variant runs once to warm the page cache, then the variants are interleaved for
//! several rounds and the median wall time and CPU time (user + system, of this process
//! and of `cat`, from `getrusage`) are printed with their ratios.
//!
//! For the 60,000-file layer one more row, `read only`, is a floor rather than a
//! competitor: one thread per core opens, `fstat`s, reads and closes every source by a
//! name relative to its directory, and writes nothing. Any reconstruction from paths does
//! at least this work, and writes the output besides, which into a regular file costs at
//! least what `cat` spends (it copies in the kernel with `copy_file_range`): the `floor`
//! line spreads those two CPU times over the cores, the wall time no reconstruction from
//! paths into a file can beat on this machine.
//!
//! `cargo bench -p splitfdstream-adapters --features std,fd --bench fd_reconstruct`; set
//! `BENCH_QUICK=1` for fewer rounds, `BENCH_ROUNDS=N` for `N` rounds, `BENCH_LAYER=small` or `large` for one layer,
//! `BENCH_METHODS=none` to run ours without kernel copies, `BENCH_OUTPUT=file`, `pipe` or
//! `socket` for one kind of output, and `BENCH_DIR` for where the layers are written
//! (default: the temporary directory).

// A benchmark stops loudly on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use splitfdstream_adapters::fd::{Methods, Reconstruct};
use splitfdstream_adapters::std::{
    reconstruct, PathSources, Reconstructor, SeekableReconstructor, Writer,
};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap()
}

struct Layer {
    name: &'static str,
    paths: Vec<PathBuf>,
    stream: Vec<u8>,
    /// The original tar-equivalent bytes, in a file for `cat`.
    original: PathBuf,
    len: u64,
    /// The sources' lengths added up.
    sources_len: u64,
}

/// Writes `sizes.len()` files into `dir` and the stream and original that use them.
fn generate(dir: &Path, name: &'static str, sizes: &[usize]) -> Layer {
    let layer_dir = dir.join(name);
    std::fs::create_dir(&layer_dir).unwrap();
    let original_path = dir.join(format!("{name}.tar"));
    let mut original = io::BufWriter::new(File::create(&original_path).unwrap());
    let mut writer = Writer::new(Vec::new());
    let mut rng = Rng(0x5eed ^ u64::try_from(sizes.len()).unwrap());
    let mut paths = Vec::with_capacity(sizes.len());
    let mut pending: Vec<u8> = Vec::new();
    let mut content = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let mut header = [0u8; 512];
        let label = format!("{name}/{i}");
        header[..label.len()].copy_from_slice(label.as_bytes());
        pending.extend_from_slice(&header);
        writer.write_inline(&pending).unwrap();
        original.write_all(&pending).unwrap();
        pending.clear();

        content.clear();
        content.extend((0..len).map(|_| rng.next().to_le_bytes()[0]));
        let path = layer_dir.join(i.to_string());
        std::fs::write(&path, &content).unwrap();
        paths.push(path);
        writer.write_external(u64::try_from(i).unwrap()).unwrap();
        original.write_all(&content).unwrap();
        // Padding to the next 512-byte block goes out with the next header.
        pending.resize((512 - len % 512) % 512, 0);
    }
    pending.resize(pending.len() + 1024, 0);
    writer.write_inline(&pending).unwrap();
    original.write_all(&pending).unwrap();
    original.into_inner().unwrap().sync_all().unwrap();
    let len = std::fs::metadata(&original_path).unwrap().len();
    Layer {
        name,
        paths,
        stream: writer.finish().unwrap(),
        original: original_path,
        len,
        sources_len: sizes.iter().map(|&n| u64::try_from(n).unwrap()).sum(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    File,
    Pipe,
    Socket,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Output::File => "regular file",
            Output::Pipe => "pipe (drained by a thread)",
            Output::Socket => "Unix socket (drained by a thread)",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Ours,
    FdPaths,
    FdLazy,
    FdOpenat,
    StdPaths,
    ReadPaths,
    SeekPaths,
    #[cfg(feature = "tokio-1")]
    TokioPaths,
    Baseline,
    Cat,
    ReadOnly,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Ours => "ours",
            Variant::FdPaths => "fd, paths",
            Variant::FdLazy => "fd, lazy",
            Variant::FdOpenat => "fd, openat",
            Variant::StdPaths => "std, paths",
            Variant::ReadPaths => "Read, paths",
            Variant::SeekPaths => "seek, paths",
            #[cfg(feature = "tokio-1")]
            Variant::TokioPaths => "tokio, paths",
            Variant::Baseline => "pread+write",
            Variant::Cat => "cat",
            Variant::ReadOnly => "read only",
        }
    }
}

/// User + system CPU time of this process (all threads) and of its waited-for children.
fn cpu_time() -> Duration {
    fn of(who: libc::c_int) -> Duration {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the rusage it is given; the memory is zeroed and owned.
        let usage = unsafe {
            assert_eq!(libc::getrusage(who, usage.as_mut_ptr()), 0);
            usage.assume_init()
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap())
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap())
        };
        time(usage.ru_utime) + time(usage.ru_stime)
    }
    of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
}

/// Opens `output`; returns the descriptor to write to and, for a pipe or socket, the
/// thread draining the other end (which returns the bytes it drained).
fn open_output(kind: Output, file: &Path) -> (File, Option<thread::JoinHandle<u64>>) {
    fn drain(mut from: impl Read + Send + 'static) -> thread::JoinHandle<u64> {
        thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                match from.read(&mut buf) {
                    Ok(0) => return total,
                    Ok(n) => total += u64::try_from(n).unwrap(),
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => panic!("drain: {error}"),
                }
            }
        })
    }
    match kind {
        Output::File => (File::create(file).unwrap(), None),
        Output::Pipe => {
            let (reader, writer) =
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
            (File::from(writer), Some(drain(File::from(reader))))
        }
        Output::Socket => {
            let (ours, theirs) = UnixStream::pair().unwrap();
            (File::from(OwnedFd::from(ours)), Some(drain(theirs)))
        }
    }
}

/// Our reconstruction; `BENCH_METHODS=none` forbids kernel copies, to compare.
fn ours() -> Reconstruct {
    match std::env::var("BENCH_METHODS").as_deref() {
        Ok("none") => Reconstruct::new().methods(Methods::NONE),
        _ => Reconstruct::new(),
    }
}

/// One run; returns wall and CPU time.
fn run(
    layer: &Layer,
    files: &[File],
    variant: Variant,
    output: Output,
    scratch: &Path,
) -> (Duration, Duration) {
    let target = scratch.join("out");
    let cpu = cpu_time();
    let start = Instant::now();
    let (out, drainer) = open_output(output, &target);
    let written = match variant {
        Variant::Ours => {
            ours()
                .run(layer.stream.as_slice(), files, &out)
                .unwrap()
                .total
        }
        Variant::FdPaths | Variant::FdLazy | Variant::FdOpenat => {
            let paths = paths(layer)
                .with_read_ahead(variant != Variant::FdLazy)
                .with_io_uring(variant != Variant::FdOpenat);
            ours()
                .run(layer.stream.as_slice(), &paths, &out)
                .unwrap()
                .total
        }
        Variant::StdPaths => reconstruct(layer.stream.as_slice(), &paths(layer), &out).unwrap(),
        Variant::ReadPaths => {
            let rebuilt = Reconstructor::new(layer.stream.as_slice(), paths(layer));
            copy(rebuilt, &out)
        }
        Variant::SeekPaths => {
            let stream = io::Cursor::new(layer.stream.as_slice());
            copy(
                SeekableReconstructor::new(stream, paths(layer)).unwrap(),
                &out,
            )
        }
        #[cfg(feature = "tokio-1")]
        Variant::TokioPaths => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let out = tokio::fs::File::from_std(out.try_clone().unwrap());
                let sources = std::sync::Arc::new(paths(layer));
                splitfdstream_adapters::tokio_1::reconstruct(layer.stream.as_slice(), sources, out)
                    .await
            })
            .unwrap(),
        // The first implementation's way: each source opened when the stream names it.
        Variant::Baseline if files.is_empty() => {
            let lazy = paths(layer).with_read_ahead(false);
            reconstruct(layer.stream.as_slice(), &lazy, &out).unwrap()
        }
        Variant::Baseline => reconstruct(layer.stream.as_slice(), files, &out).unwrap(),
        Variant::Cat => {
            let status = Command::new("cat")
                .arg(&layer.original)
                .stdout(Stdio::from(out.try_clone().unwrap()))
                .status()
                .unwrap();
            assert!(status.success());
            layer.len
        }
        Variant::ReadOnly => read_only(layer),
    };
    drop(out);
    if let Some(drainer) = drainer {
        let drained = drainer.join().unwrap();
        if variant != Variant::ReadOnly {
            assert_eq!(drained, written);
        }
    }
    let wall = start.elapsed();
    let cpu = cpu_time() - cpu;
    assert_eq!(
        written,
        layer.len,
        "{} wrote the wrong length",
        variant.name()
    );
    if output == Output::File {
        if variant != Variant::ReadOnly {
            assert_eq!(std::fs::metadata(&target).unwrap().len(), layer.len);
        }
        std::fs::remove_file(&target).unwrap();
    }
    (wall, cpu)
}

/// Copies all of `from` into `out` through a 128 KiB buffer, as a caller of a `Read`
/// adapter would; returns the bytes copied.
fn copy(mut from: impl Read, mut out: &File) -> u64 {
    let mut buf = vec![0; 128 * 1024];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        out.write_all(&buf[..n]).unwrap();
        total += u64::try_from(n).unwrap();
    }
}

/// The sources of `layer` by path, read ahead.
fn paths(layer: &Layer) -> PathSources {
    PathSources::from_paths(layer.paths.iter().cloned())
}

/// Opens, `fstat`s, reads and closes every source of `layer`, one thread per core, by
/// names relative to their directory; writes nothing. Returns the layer's length once
/// the sources' bytes are all accounted for.
fn read_only(layer: &Layer) -> u64 {
    use rustix::fs::{fstat, open, openat, Mode, OFlags};
    let threads = thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let read: u64 = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|first| {
                scope.spawn(move || {
                    let dir = layer.paths[0].parent().unwrap();
                    let dir = open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
                    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOATIME;
                    let mut buf = vec![0u8; 1 << 17];
                    let mut total = 0u64;
                    for path in layer.paths.iter().skip(first).step_by(threads) {
                        let file =
                            openat(&dir, path.file_name().unwrap(), flags, Mode::empty()).unwrap();
                        let size = usize::try_from(fstat(&file).unwrap().st_size).unwrap();
                        let n = rustix::io::pread(&file, &mut buf[..=size], 0).unwrap();
                        assert_eq!(n, size);
                        total += u64::try_from(n).unwrap();
                    }
                    total
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(read, layer.sources_len);
    layer.len
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Raises the open-file limit so that every source can be open at once.
fn raise_open_file_limit(need: u64) -> bool {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    if current.current.is_none_or(|soft| soft >= need) {
        return true;
    }
    let maximum = current.maximum.map(|hard| hard.max(need));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(need),
            maximum,
        },
    )
    .is_ok()
}

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let rounds = std::env::var("BENCH_ROUNDS").map_or(if quick { 3 } else { 5 }, |rounds| {
        rounds.parse().expect("BENCH_ROUNDS is a number")
    });
    let scratch = tempfile::tempdir_in(
        std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
    )
    .unwrap();

    let setup = Instant::now();
    let mut rng = Rng(42);
    let small: Vec<usize> = (0..60_000)
        .map(|_| 1 + usize_of(rng.next() % 8192))
        .collect();
    let large = [120 << 20, 120 << 20, (120 << 20) + 12_345];
    let layers = [
        generate(scratch.path(), "small", &small),
        generate(scratch.path(), "large", &large),
    ];
    // Written back before measuring, so that no variant competes with writeback of the
    // sources (the original is synced as it is written).
    rustix::fs::sync();
    println!(
        "setup: {:.1} s; layers: {} files, {:.0} MiB; {} files, {:.0} MiB; {rounds} rounds",
        setup.elapsed().as_secs_f64(),
        layers[0].paths.len(),
        mib(layers[0].len),
        layers[1].paths.len(),
        mib(layers[1].len),
    );

    let only = std::env::var("BENCH_LAYER").ok();
    for layer in layers
        .iter()
        .filter(|l| only.as_deref().is_none_or(|o| o == l.name))
    {
        let need = u64::try_from(layer.paths.len()).unwrap() + 256;
        let files: Vec<File> = if raise_open_file_limit(need) {
            layer.paths.iter().map(|p| File::open(p).unwrap()).collect()
        } else {
            println!(
                "cannot open {} files at once here: every variant opens them by path",
                layer.paths.len()
            );
            Vec::new()
        };
        let mut variants = vec![Variant::Cat, Variant::Baseline];
        if !files.is_empty() {
            variants.insert(1, Variant::Ours);
        }
        variants.extend([
            Variant::FdPaths,
            Variant::StdPaths,
            Variant::ReadPaths,
            Variant::SeekPaths,
            #[cfg(feature = "tokio-1")]
            Variant::TokioPaths,
        ]);
        if layer.name == "small" {
            variants.extend([Variant::FdLazy, Variant::FdOpenat, Variant::ReadOnly]);
        }
        let outputs = match std::env::var("BENCH_OUTPUT").as_deref() {
            Ok("file") => vec![Output::File],
            Ok("pipe") => vec![Output::Pipe],
            Ok("socket") => vec![Output::Socket],
            _ => vec![Output::File, Output::Pipe, Output::Socket],
        };
        for output in outputs {
            // The floor is for a regular file, where `cat`'s cost is the least any writer
            // pays; it writes nothing itself, so one row does.
            let variants: Vec<Variant> = variants
                .iter()
                .copied()
                .filter(|&v| v != Variant::ReadOnly || output == Output::File)
                .collect();
            let mut wall = vec![Vec::new(); variants.len()];
            let mut cpu = vec![Vec::new(); variants.len()];
            for &variant in &variants {
                run(layer, &files, variant, output, scratch.path());
            }
            for round in 0..rounds {
                for step in 0..variants.len() {
                    let at = (step + round) % variants.len();
                    // Written back before each run, so that none inherits another's writeback.
                    rustix::fs::sync();
                    let (w, c) = run(layer, &files, variants[at], output, scratch.path());
                    wall[at].push(w);
                    cpu[at].push(c);
                }
            }
            let wall: Vec<Duration> = wall.iter_mut().map(|t| median(t)).collect();
            let cpu: Vec<Duration> = cpu.iter_mut().map(|t| median(t)).collect();
            let cat = 0;
            let base = variants
                .iter()
                .position(|&v| v == Variant::Baseline)
                .unwrap();
            let ahead = variants
                .iter()
                .position(|&v| v == Variant::FdPaths)
                .unwrap();
            println!(
                "\n{} layer ({:.0} MiB) into a {}, median of {rounds}:",
                layer.name,
                mib(layer.len),
                output.name()
            );
            println!(
                "  {:<12} {:>9} {:>9} {:>10} {:>10} {:>12} {:>12}",
                "", "wall ms", "cpu ms", "wall/cat", "cpu/cat", "cpu/pread+w", "vs fd,paths"
            );
            for (at, variant) in variants.iter().enumerate() {
                println!(
                    "  {:<12} {:>9.1} {:>9.1} {:>9.2}x {:>9.2}x {:>11.2}x {:>11.2}x",
                    variant.name(),
                    wall[at].as_secs_f64() * 1e3,
                    cpu[at].as_secs_f64() * 1e3,
                    wall[at].as_secs_f64() / wall[cat].as_secs_f64(),
                    cpu[at].as_secs_f64() / cpu[cat].as_secs_f64().max(1e-6),
                    cpu[at].as_secs_f64() / cpu[base].as_secs_f64().max(1e-6),
                    wall[at].as_secs_f64() / wall[ahead].as_secs_f64(),
                );
            }
            if let Some(read) = variants.iter().position(|&v| v == Variant::ReadOnly) {
                // Reading the sources and writing the output (at cat's cost, the cheapest
                // way to write these bytes here) on every core at once, with no overhead.
                let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
                let floor =
                    (cpu[read] + cpu[cat]).as_secs_f64() / f64::from(u32::try_from(cores).unwrap());
                println!(
                    "  floor: (read only + cat) CPU over {cores} cores = {:.1} ms, {:.2}x cat",
                    floor * 1e3,
                    floor / wall[cat].as_secs_f64(),
                );
            }
        }
    }
}

fn mib(bytes: u64) -> f64 {
    // Display only.
    #[allow(clippy::cast_precision_loss)]
    let bytes = bytes as f64;
    bytes / f64::from(1 << 20)
}
