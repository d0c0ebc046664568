//! `join -o FILE` against `cat TAR > FILE`, measured in the same run on two layers: 60,000
//! small files (1 byte to 8 KiB) and a few large files (128 MiB each). `join` syncs its
//! output before renaming it into place, which `cat` does not: `join` is compared with
//! `cat+sync` (`cat TAR > FILE` then `sync FILE`), and `join --no-sync`, which renames
//! without syncing, with `cat`.
//!
//! Run with `cargo bench -p splitfdstream-cli --bench join`. Environment:
//! `BENCH_RUNS` (default 7), `BENCH_SMALL_FILES` (default 60000), `BENCH_LARGE_FILES`
//! (default 3), `BENCH_LARGE_MIB` (default 128), `BENCH_DIR` (default: a temporary
//! directory).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    // Written back before measuring, so that no run competes with writeback of the objects.
    assert!(Command::new("sync").status().unwrap().success());

    let (mut cat, mut cat_sync, mut join, mut join_no_sync) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Warm the page cache for both sides, then alternate so drift hits both equally.
    for round in 0..=runs {
        let _ = fs::remove_file(&out);
        let mut command = Command::new("cat");
        command
            .arg(tar)
            .stdout(Stdio::from(File::create(&out).unwrap()));
        let c = time(command);
        let _ = fs::remove_file(&out);
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"cat "$1" > "$2" && sync "$2""#)
            .arg("sh")
            .arg(tar)
            .arg(&out);
        let s = time(command);
        let _ = fs::remove_file(&out);
        let mut command = Command::new(bin);
        command.arg("join").arg(&stream).arg("-o").arg(&out);
        let j = time(command);
        let _ = fs::remove_file(&out);
        let mut command = Command::new(bin);
        command
            .args(["join", "--no-sync"])
            .arg(&stream)
            .arg("-o")
            .arg(&out);
        let n = time(command);
        if round > 0 {
            cat.push(c);
            cat_sync.push(s);
            join.push(j);
            join_no_sync.push(n);
        }
    }
    assert!(
        fs::read(&out).unwrap() == fs::read(tar).unwrap(),
        "join is not identical"
    );
    let _ = fs::remove_file(&out);
    let size = fs::metadata(tar).unwrap().len();
    let (cat, cat_sync, join, join_no_sync) = (
        median(cat),
        median(cat_sync),
        median(join),
        median(join_no_sync),
    );
    println!(
        "{label}: {:.1} MiB, split {:.1} ms",
        f64::from(u32::try_from(size >> 10).unwrap_or(u32::MAX)) / 1024.0,
        ms(split),
    );
    println!(
        "  join --no-sync {:>7.1} ms   cat      {:>7.1} ms   ratio {:.2}x",
        ms(join_no_sync),
        ms(cat),
        join_no_sync.as_secs_f64() / cat.as_secs_f64(),
    );
    println!(
        "  join           {:>7.1} ms   cat+sync {:>7.1} ms   ratio {:.2}x   (join/cat {:.2}x)",
        ms(join),
        ms(cat_sync),
        join.as_secs_f64() / cat_sync.as_secs_f64(),
        join.as_secs_f64() / cat.as_secs_f64(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and only wants
    // the target to build and start.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("join bench: run with `cargo bench -p splitfdstream-cli --bench join`");
        return;
    }
    let runs = env_or("BENCH_RUNS", 7);
    let small_files = env_or("BENCH_SMALL_FILES", 60_000);
    let large_files = env_or("BENCH_LARGE_FILES", 3);
    let large_mib = env_or("BENCH_LARGE_MIB", 128);
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("BENCH_DIR").map_or_else(|| temp.path().to_path_buf(), Into::into);
    fs::create_dir_all(&dir).unwrap();

    println!("medians of {runs} runs each, join and cat alternating, page cache warm");
    let small = dir.join("small.tar");
    small_layer(&small, small_files);
    measure(&dir, &format!("{small_files} files"), &small, runs);
    fs::remove_file(&small).unwrap();

    let large = dir.join("large.tar");
    large_layer(&large, large_files, large_mib);
    measure(
        &dir,
        &format!("{large_files}x{large_mib} MiB"),
        &large,
        runs,
    );
}
