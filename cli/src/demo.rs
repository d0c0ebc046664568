//! `demo`: the whole round trip, explained as it happens.
//!
//! A sender splits a tar and passes the stream and its opened sources to a receiver
//! process over a Unix socket (`SCM_RIGHTS`); the receiver rebuilds the tar from the
//! descriptors alone, with the kernel's copy paths. When the sources are too many to hold
//! open at once, the demo says so and rebuilds in-process from lazily opened paths.
//!
//! Then the same in the successor format, splitdirfdstream: the stream and one descriptor
//! for the objects directory, whatever the number of files, and the count of descriptors
//! each handoff passed.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use indicatif::HumanBytes;
use sha2::{Digest, Sha256};
use splitfdstream_adapters::bundle::Bundle;
use splitfdstream_adapters::fd;
use splitfdstream_adapters::std::DirSources;
use splitfdstream_adapters::Format;

use crate::objects::hex;
use crate::regular;
use crate::split::{self, Outputs};

/// The sender's side of the handoff: the stream and its sources, in index order.
enum Handoff {
    /// Every source open: what travels over the socket.
    Descriptors { stream: File, sources: Vec<File> },
    /// More sources than descriptors allowed: the bundle, its sources opened lazily.
    Paths(Box<Bundle>),
}

/// Opens the stream and every source of the fd list.
fn open_handoff(stream: &Path, fds: &Path) -> Result<Handoff> {
    let bundle = Bundle::open_with(stream, Some(fds), None)?;
    let stream = bundle.open_stream()?;
    // Every source open at once, with room for the process's own descriptors, or none.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let room = limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit.saturating_sub(64)).unwrap_or(usize::MAX)
    });
    if bundle.source_count() > room {
        return Ok(Handoff::Paths(Box::new(bundle)));
    }
    let mut files = Vec::with_capacity(bundle.source_count());
    for path in bundle.source_paths() {
        files.push(crate::regular::open(path)?);
    }
    Ok(Handoff::Descriptors {
        stream,
        sources: files,
    })
}

/// What the receiver reports.
struct Joined {
    written: u64,
    elapsed: Duration,
}

/// Starts a receiver process, passes it the stream and `others` (the sources, or for the
/// successor format the directories) and waits for its report.
fn join_in_receiver(
    format: Format,
    stream: &File,
    others: &[File],
    out: &Path,
) -> Result<(Joined, u32)> {
    let (ours, theirs) = UnixStream::pair().context("cannot create a socket pair")?;
    let exe = std::env::current_exe().context("cannot find this program to start a receiver")?;
    let child = Command::new(exe)
        .arg("demo-receive")
        .arg("--format")
        .arg(format.to_string())
        .arg(out)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the receiver")?;
    let pid = child.id();
    let sent = if format == Format::Splitdirfdstream {
        fd::send_dirs(&ours, stream, others)
    } else {
        fd::send(&ours, stream, others)
    };
    drop(ours);
    let output = child
        .wait_with_output()
        .context("the receiver did not finish")?;
    sent.context("cannot pass the descriptors")?;
    if !output.status.success() {
        bail!(
            "the receiver failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let report = String::from_utf8_lossy(&output.stdout);
    let mut numbers = report.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(written)), Some(Ok(nanos))) = (numbers.next(), numbers.next()) else {
        bail!("the receiver's report is garbled: {report:?}");
    };
    Ok((
        Joined {
            written,
            elapsed: Duration::from_nanos(nanos),
        },
        pid,
    ))
}

/// The hidden `demo-receive` command: the receiver. Takes the stream and its sources from
/// the Unix socket on stdin, rebuilds into `out` and prints `<bytes> <nanoseconds>`.
///
/// # Errors
///
/// Receiving or rebuilding fails.
pub fn receive(out: &Path, format: Format) -> Result<()> {
    let stdin = io::stdin();
    if format == Format::Splitdirfdstream {
        let received = fd::receive_dirs(stdin.as_fd(), 240)
            .context("cannot receive the stream and its directories")?;
        let mut stream = Vec::new();
        File::from(received.stream)
            .read_to_end(&mut stream)
            .context("cannot read the stream")?;
        let mut sources = DirSources::from_fds(received.dirs)?;
        sources
            .read_ahead_for(&stream)
            .context("cannot read the stream")?;
        let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
        let started = Instant::now();
        let written = fd::Reconstruct::new()
            .format(format)
            .run(stream.as_slice(), &sources, &file)
            .context("cannot rebuild the tar")?
            .total;
        println!("{written} {}", started.elapsed().as_nanos());
        return Ok(());
    }
    let received =
        fd::receive(stdin.as_fd()).context("cannot receive the stream and its sources")?;
    let stream = File::from(received.stream);
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let started = Instant::now();
    let written =
        fd::reconstruct(&stream, &received.sources, &file).context("cannot rebuild the tar")?;
    println!("{written} {}", started.elapsed().as_nanos());
    Ok(())
}

/// The `demo` command.
///
/// # Errors
///
/// Any step fails, or the rebuilt tar differs from the original.
pub fn run(input: Option<&Path>, quiet: bool) -> Result<()> {
    let work = tempfile::Builder::new()
        .prefix("splitfdstream-demo.")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let say = |line: String| {
        if !quiet {
            println!("{line}");
        }
    };

    let tar = match input {
        Some(tar) => {
            let size = fs::metadata(tar)
                .with_context(|| format!("cannot read {}", tar.display()))?
                .len();
            say(format!(
                "input     {} ({})",
                tar.display(),
                HumanBytes(size)
            ));
            tar.to_path_buf()
        }
        None => {
            let tree = work.path().join("tree");
            let files = build_tree(&tree).context("cannot build the sample tree")?;
            let tar = work.path().join("sample.tar");
            build_tar(&tree, &tar).context("cannot build the sample tar")?;
            let size = fs::metadata(&tar)?.len();
            say(format!(
                "sample    {files} files (a duplicate, an empty file, a symlink, a long and a non-UTF-8 name) in a temporary directory"
            ));
            say(format!(
                "tar       sample.tar, {} built in-process",
                HumanBytes(size)
            ));
            tar
        }
    };

    // Sender: split.
    let outputs = Outputs::new(&work.path().join("layer.sfd"), None, None, None);
    let started = Instant::now();
    let input_file = File::open(&tar).with_context(|| format!("cannot open {}", tar.display()))?;
    let report = split::split(input_file, &outputs)
        .with_context(|| format!("cannot split {}", tar.display()))?;
    let split_time = started.elapsed();
    say(format!(
        "split     {} member contents -> {} objects ({}); stream {} with {} inline, in {}",
        report.archive.content_members(),
        report.objects,
        HumanBytes(report.object_bytes),
        HumanBytes(report.stream.stream_bytes),
        HumanBytes(report.stream.inline_bytes),
        millis(split_time),
    ));
    if report.archive.content_members() > report.objects {
        say(format!(
            "dedup     {} identical contents stored once",
            report.archive.content_members() - report.objects
        ));
    }

    // Hand the stream and the opened sources to a receiver, which rebuilds the tar.
    let rebuilt_path = work.path().join("rebuilt.tar");
    let mut v1_passed = None;
    let joined = match open_handoff(&outputs.stream, &outputs.fds)? {
        Handoff::Descriptors { stream, sources } => {
            let (joined, pid) =
                join_in_receiver(Format::Splitfdstream, &stream, &sources, &rebuilt_path)?;
            say(format!(
                "handoff   stream + {} source descriptors over a Unix socket (SCM_RIGHTS) to receiver process {pid}",
                sources.len()
            ));
            v1_passed = Some(sources.len() + 1);
            joined
        }
        Handoff::Paths(bundle) => {
            say(format!(
                "handoff   {} sources are more than this process may open at once: rebuilding in-process from lazily opened paths",
                bundle.source_count()
            ));
            let rebuilt = File::create(&rebuilt_path)
                .with_context(|| format!("cannot create {}", rebuilt_path.display()))?;
            let started = Instant::now();
            let written = bundle
                .rebuild_fd_with(&bundle.path_sources(), &rebuilt)
                .context("cannot rebuild the tar")?;
            Joined {
                written,
                elapsed: started.elapsed(),
            }
        }
    };
    say(format!(
        "join      {} rebuilt in {} ({}/s)",
        HumanBytes(joined.written),
        millis(joined.elapsed),
        HumanBytes(per_second(joined.written, joined.elapsed)),
    ));

    let (original, original_size) = sha256_of(&tar)?;
    let (copy, copy_size) = sha256_of(&rebuilt_path)?;
    ensure!(
        original == copy && original_size == copy_size,
        "the rebuilt tar differs from the original: {original} ({original_size} bytes) vs {copy} ({copy_size} bytes)"
    );

    // The successor format: one descriptor for the objects directory, names in the stream.
    say("successor format: splitdirfdstream, files named beneath directories".to_owned());
    let dir_outputs = Outputs::new(&work.path().join("layer.sdfs"), None, None, None)
        .in_format(Format::Splitdirfdstream);
    let input_file = File::open(&tar).with_context(|| format!("cannot open {}", tar.display()))?;
    let report = split::split(input_file, &dir_outputs)
        .with_context(|| format!("cannot split {}", tar.display()))?;
    say(format!(
        "split     {} member contents -> {} objects named beneath directory 0; stream {}",
        report.archive.content_members(),
        report.objects,
        HumanBytes(report.stream.stream_bytes),
    ));
    let stream = File::open(&dir_outputs.stream)
        .with_context(|| format!("cannot open {}", dir_outputs.stream.display()))?;
    let dirs = [File::open(&dir_outputs.objects)
        .with_context(|| format!("cannot open {}", dir_outputs.objects.display()))?];
    let dir_rebuilt = work.path().join("rebuilt-dir.tar");
    let (joined, pid) = join_in_receiver(Format::Splitdirfdstream, &stream, &dirs, &dir_rebuilt)?;
    say(format!(
        "handoff   stream + {} directory descriptor over a Unix socket (SCM_RIGHTS) to receiver process {pid}",
        dirs.len()
    ));
    say(format!(
        "join      {} rebuilt in {} ({}/s)",
        HumanBytes(joined.written),
        millis(joined.elapsed),
        HumanBytes(per_second(joined.written, joined.elapsed)),
    ));
    let (dir_copy, dir_size) = sha256_of(&dir_rebuilt)?;
    ensure!(
        original == dir_copy && original_size == dir_size,
        "the tar rebuilt from the splitdirfdstream differs from the original: {original} ({original_size} bytes) vs {dir_copy} ({dir_size} bytes)"
    );
    let v1_passed = v1_passed.map_or_else(
        || "none (too many to pass; rebuilt from paths)".to_owned(),
        |count| count.to_string(),
    );
    say(format!(
        "descriptors passed: splitfdstream {v1_passed}, splitdirfdstream {}",
        dirs.len() + 1
    ));
    println!("identical: the rebuilt tar matches the original byte for byte in both formats (sha256 {original}, {original_size} bytes)");
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn per_second(bytes: u64, duration: Duration) -> u64 {
    let nanos = duration.as_nanos().max(1);
    u64::try_from(u128::from(bytes) * 1_000_000_000 / nanos).unwrap_or(u64::MAX)
}

fn sha256_of(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let size = regular::read_to_end_with(&mut file, path, |piece| hasher.update(piece))?;
    Ok((hex(&hasher.finalize()), size))
}

/// Deterministic filler bytes (xorshift), so the sample is the same on every run.
fn filler(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A small tree with the cases worth showing; returns the number of regular files.
fn build_tree(root: &Path) -> Result<usize> {
    let long_dir = root.join(
        "a-directory-whose-name-is-long-enough-that-the-whole-path-needs-a-gnu-long-name-record",
    );
    for dir in [
        root.join("etc"),
        root.join("usr/bin"),
        root.join("usr/share/doc"),
        long_dir.clone(),
    ] {
        fs::create_dir_all(&dir)?;
    }
    let config = b"# sample configuration\nlisten = 127.0.0.1:8080\nworkers = 4\n";
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (root.join("etc/app.conf"), config.to_vec()),
        (root.join("usr/share/doc/app.conf.example"), config.to_vec()),
        (root.join("etc/empty"), Vec::new()),
        (
            root.join("usr/bin/app"),
            filler(3 << 20, 0x9e37_79b9_7f4a_7c15),
        ),
        (root.join("usr/bin/helper"), filler(200_000, 42)),
        (
            root.join("usr/share/doc/README"),
            b"splitfdstream demo\n".repeat(100),
        ),
        (
            long_dir.join("with-a-long-file-name-as-well.txt"),
            b"long names survive\n".to_vec(),
        ),
    ];
    files.push((
        root.join(std::ffi::OsStr::from_bytes(b"etc/caf\xe9-latin1.txt")),
        b"a name that is not UTF-8\n".to_vec(),
    ));
    for (path, bytes) in &files {
        fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::os::unix::fs::symlink("app.conf", root.join("etc/app.conf.link"))?;
    Ok(files.len())
}

/// Packs `tree` into `tar` with the `tar` crate (GNU headers, symlinks kept as links).
fn build_tar(tree: &Path, tar: &Path) -> Result<()> {
    let file = File::create(tar).with_context(|| format!("cannot create {}", tar.display()))?;
    let mut builder = tar::Builder::new(io::BufWriter::new(file));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all("sample", tree)?;
    let mut out = builder.into_inner()?;
    io::Write::flush(&mut out)?;
    if out.get_ref().metadata()?.len() == 0 {
        bail!("the tar is empty");
    }
    Ok(())
}
