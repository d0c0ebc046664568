//! The command against its library and against `cat`, measured in the same run on two
//! layers: 60,000 small files (1 byte to 8 KiB) and a few large files (128 MiB each).
//!
//! - `join --no-sync -o FILE` against the library's rebuild of the same bundle into a path
//!   (`Bundle::open` then `rebuild_to_path`, sources read ahead as `join` reads them) and
//!   against `cat TAR > FILE`: what the command adds on top of the library and what both
//!   cost over a plain copy. The library runs in this process, and again in a process of
//!   its own (this bench, started with `--library-join`), which pays what any process
//!   pays (starting, memory new to it, exiting): the difference between the two library
//!   rows is that, and the rest is the command's own.
//! - `verify` against the library's rebuild into SHA-256 (`rebuild_to_writer`) and `cat`,
//!   with `sha256sum TAR` for reference.
//! - `join`, which syncs its output before renaming it into place, against `cat+sync`
//!   (`cat TAR > FILE` then `sync FILE`).
//!
//! - The successor format (splitdirfdstream, `split --format dir`) against the first and
//!   against `cat`, every row under `ulimit -n 256`: `join --no-sync` of each against
//!   `cat`, and `join` of each against `cat+sync`.
//!
//! Every run that writes a file starts after an untimed `sync`, so that none pays for the
//! writeback of another.
//!
//! Run with `cargo bench -p splitfdstream-cli --bench join`. Environment:
//! `BENCH_RUNS` (default 5), `BENCH_SMALL_FILES` (default 60000), `BENCH_LARGE_FILES`
//! (default 3; 0 skips the layer), `BENCH_LARGE_MIB` (default 128), `BENCH_DIR` (default:
//! a temporary directory).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use splitfdstream_adapters::bundle::{Bundle, Durability};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic bytes (xorshift).
fn fill(out: &mut [u8], seed: &mut u64) {
    for chunk in out.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
    }
}

fn append(builder: &mut tar::Builder<impl Write>, name: &str, content: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(u64::try_from(content.len()).unwrap());
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
}

fn small_layer(tar: &Path, files: usize) {
    let mut builder = tar::Builder::new(BufWriter::new(File::create(tar).unwrap()));
    let mut seed = 0x1234_5678_9abc_def1;
    let mut content = vec![0u8; 8192];
    for i in 0..files {
        let len = 1 + (i * 7919) % 8192;
        fill(&mut content[..len], &mut seed);
        append(
            &mut builder,
            &format!("usr/lib/d{}/f{i}", i % 500),
            &content[..len],
        );
    }
    builder.into_inner().unwrap().flush().unwrap();
}

fn large_layer(tar: &Path, files: usize, mib: usize) {
    let mut builder = tar::Builder::new(BufWriter::new(File::create(tar).unwrap()));
    let mut seed = 0x0fed_cba9_8765_4321;
    let mut content = vec![0u8; mib << 20];
    for i in 0..files {
        fill(&mut content, &mut seed);
        append(&mut builder, &format!("opt/big{i}.bin"), &content);
    }
    builder.into_inner().unwrap().flush().unwrap();
}

fn time(mut command: Command) -> Duration {
    let started = Instant::now();
    let status = command.status().unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A writer that hashes, as `verify` does.
#[derive(Default)]
struct Hashing(Sha256, u64);

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += u64::try_from(buf.len()).unwrap();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes back everything dirty, so that no timed run pays for an earlier one's writeback.
fn sync() {
    assert!(Command::new("sync").status().unwrap().success());
}

/// Times `run` after removing `out` and syncing, neither of which is timed.
fn fresh(out: &Path, run: impl FnOnce() -> Duration) -> Duration {
    let _ = fs::remove_file(out);
    sync();
    run()
}

fn timed(run: impl FnOnce()) -> Duration {
    let started = Instant::now();
    run();
    started.elapsed()
}

#[derive(Default)]
struct Samples {
    cat: Vec<Duration>,
    cat_sync: Vec<Duration>,
    join: Vec<Duration>,
    join_no_sync: Vec<Duration>,
    library_join: Vec<Duration>,
    verify: Vec<Duration>,
    library_verify: Vec<Duration>,
    library_join_process: Vec<Duration>,
    library_verify_process: Vec<Duration>,
    sha256sum: Vec<Duration>,
    open: Vec<Duration>,
}

fn measure(dir: &Path, label: &str, tar: &Path, runs: usize) {
    let bin = env!("CARGO_BIN_EXE_splitfdstream");
    let stream = dir.join(format!("{label}.sfd"));
    let out = dir.join(format!("{label}.out"));
    let started = Instant::now();
    let status = Command::new(bin)
        .args(["-q", "split"])
        .arg(tar)
        .arg("-o")
        .arg(&stream)
        .status()
        .unwrap();
    assert!(status.success());
    let split = started.elapsed();
    sync();

    let mut samples = Samples::default();
    let mut digests = Vec::new();
    // Warm the page cache for every row, then alternate so drift hits all equally.
    for round in 0..=runs {
        let c = fresh(&out, || {
            let mut command = Command::new("cat");
            command
                .arg(tar)
                .stdout(Stdio::from(File::create(&out).unwrap()));
            time(command)
        });
        let s = fresh(&out, || {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(r#"cat "$1" > "$2" && sync "$2""#)
                .arg("sh")
                .arg(tar)
                .arg(&out);
            time(command)
        });
        let j = fresh(&out, || {
            let mut command = Command::new(bin);
            command.arg("join").arg(&stream).arg("-o").arg(&out);
            time(command)
        });
        let n = fresh(&out, || {
            let mut command = Command::new(bin);
            command
                .args(["join", "--no-sync"])
                .arg(&stream)
                .arg("-o")
                .arg(&out);
            time(command)
        });
        // The library: the same bundle API and sources (read ahead) that `join` uses, in
        // this process and in a process of its own (which pays for starting, memory that
        // is new to it, and exiting, as the command does).
        let l = fresh(&out, || timed(|| library_join(&stream, &out)));
        let lp = fresh(&out, || {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command.arg(LIBRARY_JOIN).arg(&stream).arg(&out);
            time(command)
        });
        let mut command = Command::new(bin);
        command.arg("verify").arg(&stream).stdout(Stdio::null());
        let v = time(command);
        let mut hashing = Hashing::default();
        let lv = timed(|| {
            Bundle::open(&stream)
                .unwrap()
                .rebuild_to_writer(&mut hashing)
                .unwrap();
        });
        digests.push(hashing.0.finalize());
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .arg(LIBRARY_VERIFY)
            .arg(&stream)
            .stdout(Stdio::null());
        let lvp = time(command);
        let mut command = Command::new("sha256sum");
        command.arg(tar).stdout(Stdio::null());
        let h = time(command);
        // Reading the fd list and the sizes file, which both rows above include.
        let o = timed(|| drop(Bundle::open(&stream).unwrap()));
        if round > 0 {
            samples.cat.push(c);
            samples.cat_sync.push(s);
            samples.join.push(j);
            samples.join_no_sync.push(n);
            samples.library_join.push(l);
            samples.library_join_process.push(lp);
            samples.library_verify_process.push(lvp);
            samples.verify.push(v);
            samples.library_verify.push(lv);
            samples.sha256sum.push(h);
            samples.open.push(o);
        }
    }
    assert!(
        fs::read(&out).unwrap() == fs::read(tar).unwrap(),
        "join is not identical"
    );
    let expected = Sha256::digest(fs::read(tar).unwrap());
    assert!(digests.iter().all(|digest| *digest == expected));
    let _ = fs::remove_file(&out);
    let size = fs::metadata(tar).unwrap().len();
    let cat = median(samples.cat);
    let cat_sync = median(samples.cat_sync);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "{label}: {:.1} MiB, split {:.1} ms",
        f64::from(u32::try_from(size >> 10).unwrap_or(u32::MAX)) / 1024.0,
        ms(split),
    );
    for (row, command, library, process) in [
        (
            "join --no-sync",
            samples.join_no_sync,
            samples.library_join,
            samples.library_join_process,
        ),
        (
            "verify",
            samples.verify.clone(),
            samples.library_verify,
            samples.library_verify_process,
        ),
    ] {
        let (command, library, process) = (median(command), median(library), median(process));
        println!(
            "  {row:<14} {:>7.1} ms   library {:>7.1} ms   command/library {:.2}x   cat {:>7.1} ms   command/cat {:.2}x   library/cat {:.2}x",
            ms(command),
            ms(library),
            ratio(command, library),
            ms(cat),
            ratio(command, cat),
            ratio(library, cat),
        );
        println!(
            "  {:<14} {:>7.1} ms   the library in a process of its own   command/that {:.2}x",
            "",
            ms(process),
            ratio(command, process),
        );
    }
    let (join, sha256sum) = (median(samples.join), median(samples.sha256sum));
    println!(
        "  join           {:>7.1} ms   cat+sync {:>7.1} ms   ratio {:.2}x   (join/cat {:.2}x)",
        ms(join),
        ms(cat_sync),
        ratio(join, cat_sync),
        ratio(join, cat),
    );
    println!(
        "  Bundle::open   {:>7.1} ms   (the fd list and the sizes file, read and parsed)",
        ms(median(samples.open))
    );
    println!(
        "  sha256sum      {:>7.1} ms   (verify/sha256sum {:.2}x)",
        ms(sha256sum),
        ratio(median(samples.verify), sha256sum)
    );
}

/// `sh -c 'ulimit -n 256 && exec "$@"'` running `program` with `args`.
fn limited(program: &str, args: &[&std::ffi::OsStr]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$@""#)
        .arg("sh")
        .arg(program)
        .args(args);
    command
}

/// The successor format against the first and against `cat`, under `ulimit -n 256`.
fn measure_formats(dir: &Path, label: &str, tar: &Path, runs: usize) {
    let bin = env!("CARGO_BIN_EXE_splitfdstream");
    let v1 = dir.join(format!("{label}.sfd"));
    let sdfs = dir.join(format!("{label}.sdfs"));
    let out = dir.join(format!("{label}.out"));
    for (stream, format) in [(&v1, "v1"), (&sdfs, "dir")] {
        if !stream.exists() {
            let status = Command::new(bin)
                .args(["-q", "split", "--format", format])
                .arg(tar)
                .arg("-o")
                .arg(stream)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    sync();
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let (mut cat, mut cat_sync) = (Vec::new(), Vec::new());
    let (mut dir_no_sync, mut v1_no_sync) = (Vec::new(), Vec::new());
    let (mut dir_join, mut v1_join) = (Vec::new(), Vec::new());
    for round in 0..=runs {
        let c = fresh(&out, || {
            let mut command = limited("cat", &[tar.as_os_str()]);
            command.stdout(Stdio::from(File::create(&out).unwrap()));
            time(command)
        });
        let s = fresh(&out, || {
            time(limited(
                "sh",
                &[
                    os("-c"),
                    os(r#"cat "$1" > "$2" && sync "$2""#),
                    os("sh"),
                    tar.as_os_str(),
                    out.as_os_str(),
                ],
            ))
        });
        let mut rows = [Duration::ZERO; 4];
        for (at, (stream, sync_flag)) in [
            (&sdfs, Some("--no-sync")),
            (&v1, Some("--no-sync")),
            (&sdfs, None),
            (&v1, None),
        ]
        .into_iter()
        .enumerate()
        {
            rows[at] = fresh(&out, || {
                let mut args = vec![os("join")];
                args.extend(sync_flag.map(os));
                args.extend([stream.as_os_str(), os("-o"), out.as_os_str()]);
                time(limited(bin, &args))
            });
            assert!(
                fs::metadata(&out).unwrap().len() == fs::metadata(tar).unwrap().len(),
                "join of {} is incomplete",
                stream.display()
            );
        }
        if round > 0 {
            cat.push(c);
            cat_sync.push(s);
            dir_no_sync.push(rows[0]);
            v1_no_sync.push(rows[1]);
            dir_join.push(rows[2]);
            v1_join.push(rows[3]);
        }
    }
    assert!(
        fs::read(&out).unwrap() == fs::read(tar).unwrap(),
        "join is not identical"
    );
    let _ = fs::remove_file(&out);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let (cat, cat_sync) = (median(cat), median(cat_sync));
    println!("{label}: the two formats, under ulimit -n 256");
    for (row, dir_time, v1_time, base, base_name) in [
        (
            "join --no-sync",
            median(dir_no_sync),
            median(v1_no_sync),
            cat,
            "cat",
        ),
        (
            "join",
            median(dir_join),
            median(v1_join),
            cat_sync,
            "cat+sync",
        ),
    ] {
        println!(
            "  {row:<14} dir {:>7.1} ms   v1 {:>7.1} ms   {base_name} {:>7.1} ms   dir/v1 {:.2}x   dir/{base_name} {:.2}x   v1/{base_name} {:.2}x",
            ms(dir_time),
            ms(v1_time),
            ms(base),
            ratio(dir_time, v1_time),
            ratio(dir_time, base),
            ratio(v1_time, base),
        );
    }
}

/// Runs the library's rebuild into a path, as the `library` row does, in this process.
const LIBRARY_JOIN: &str = "--library-join";
/// Runs the library's rebuild into SHA-256, as the `library` row does, in this process.
const LIBRARY_VERIFY: &str = "--library-verify";

fn library_join(stream: &Path, out: &Path) {
    Bundle::open(stream)
        .unwrap()
        .rebuild_to_path(out, Durability::Unsynced)
        .unwrap();
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == LIBRARY_JOIN) {
        library_join(Path::new(&args[2]), Path::new(&args[3]));
        return;
    }
    if args.get(1).is_some_and(|arg| arg == LIBRARY_VERIFY) {
        let mut hashing = Hashing::default();
        Bundle::open(Path::new(&args[2]))
            .unwrap()
            .rebuild_to_writer(&mut hashing)
            .unwrap();
        println!("{:x}  {}", hashing.0.finalize(), hashing.1);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and only wants
    // the target to build and start.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("join bench: run with `cargo bench -p splitfdstream-cli --bench join`");
        return;
    }
    let runs = env_or("BENCH_RUNS", 5);
    let small_files = env_or("BENCH_SMALL_FILES", 60_000);
    let large_files = env_or("BENCH_LARGE_FILES", 3);
    let large_mib = env_or("BENCH_LARGE_MIB", 128);
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("BENCH_DIR").map_or_else(|| temp.path().to_path_buf(), Into::into);
    fs::create_dir_all(&dir).unwrap();

    println!(
        "medians of {runs} runs each, every row alternating, page cache warm, synced before each run that writes"
    );
    let small = dir.join("small.tar");
    small_layer(&small, small_files);
    measure(&dir, &format!("{small_files} files"), &small, runs);
    measure_formats(&dir, &format!("{small_files} files"), &small, runs);
    fs::remove_file(&small).unwrap();

    if large_files == 0 {
        return;
    }
    let large = dir.join("large.tar");
    large_layer(&large, large_files, large_mib);
    measure(
        &dir,
        &format!("{large_files}x{large_mib} MiB"),
        &large,
        runs,
    );
    measure_formats(
        &dir,
        &format!("{large_files}x{large_mib} MiB"),
        &large,
        runs,
    );
}
