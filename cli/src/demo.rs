//! `demo`: the whole round trip, explained as it happens.
//!
//! A sender splits a tar and hands the stream and its opened sources to a receiver, which
//! rebuilds the tar from descriptors alone. The handoff goes through [`Channel`], so the
//! in-process channel used here can be replaced by descriptor passing over a Unix socket
//! without touching either side.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use indicatif::HumanBytes;
use sha2::{Digest, Sha256};
use splitfdstream_adapters::std::{reconstruct, PathSources};

use crate::fdlist;
use crate::objects::hex;
use crate::split::{self, Outputs};

/// The external sources as the receiver gets them.
#[derive(Debug)]
pub enum Received {
    /// Open descriptors, in index order: what travels over a socket.
    Descriptors(Vec<File>),
    /// Paths, opened lazily: used when there are more sources than descriptors allowed.
    Paths(Vec<PathBuf>),
}

/// What the sender hands over: the stream and its sources, in index order.
#[derive(Debug)]
pub struct Handoff {
    /// The stream, open for reading.
    pub stream: File,
    /// The sources.
    pub sources: Received,
}

/// How a handoff travels from sender to receiver.
pub trait Channel {
    /// A short description for the demo's output.
    fn describe(&self) -> &'static str;

    /// Sends a handoff.
    ///
    /// # Errors
    ///
    /// The channel fails.
    fn send(&mut self, handoff: Handoff) -> Result<()>;

    /// Receives the handoff sent.
    ///
    /// # Errors
    ///
    /// The channel fails or nothing was sent.
    fn receive(&mut self) -> Result<Handoff>;
}

/// Sender and receiver in one process: the handoff is moved, descriptors and all.
#[derive(Debug, Default)]
pub struct InProcess {
    slot: Option<Handoff>,
}

impl Channel for InProcess {
    fn describe(&self) -> &'static str {
        "in-process"
    }

    fn send(&mut self, handoff: Handoff) -> Result<()> {
        self.slot = Some(handoff);
        Ok(())
    }

    fn receive(&mut self) -> Result<Handoff> {
        self.slot.take().context("nothing was sent")
    }
}

/// The sender's side: opens the stream and every source of the fd list.
fn open_handoff(stream: &Path, fds: &Path) -> Result<Handoff> {
    let paths = fdlist::read(fds)?;
    let stream = File::open(stream).with_context(|| format!("cannot open {}", stream.display()))?;
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        match File::open(path) {
            Ok(file) => files.push(file),
            // Out of descriptors (EMFILE/ENFILE): send paths instead of descriptors.
            Err(error) if matches!(error.raw_os_error(), Some(23 | 24)) => {
                return Ok(Handoff {
                    stream,
                    sources: Received::Paths(paths),
                });
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot open {}", path.display()))
            }
        }
    }
    Ok(Handoff {
        stream,
        sources: Received::Descriptors(files),
    })
}

/// The receiver's side: rebuilds the tar into `out`; returns the bytes written.
fn receive_and_join(handoff: &Handoff, out: &File) -> Result<u64> {
    let written = match &handoff.sources {
        Received::Descriptors(files) => reconstruct(&handoff.stream, files.as_slice(), out),
        Received::Paths(paths) => reconstruct(
            &handoff.stream,
            &PathSources::from_paths(paths.clone()),
            out,
        ),
    };
    written.context("cannot rebuild the tar")
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
    let outputs = Outputs::new(&work.path().join("layer.sfd"), None, None);
    let started = Instant::now();
    let input_file = File::open(&tar).with_context(|| format!("cannot open {}", tar.display()))?;
    let report = split::split(input_file, &outputs)
        .with_context(|| format!("cannot split {}", tar.display()))?;
    let split_time = started.elapsed();
    say(format!(
        "split     {} member contents -> {} objects ({}); stream {} with {} inline, in {}",
        report.walk.content_members,
        report.objects,
        HumanBytes(report.object_bytes),
        HumanBytes(report.stream.stream_bytes),
        HumanBytes(report.stream.inline_bytes),
        millis(split_time),
    ));
    if report.walk.content_members > report.objects {
        say(format!(
            "dedup     {} identical contents stored once",
            report.walk.content_members - report.objects
        ));
    }

    // Hand over the stream and the sources.
    let mut channel = InProcess::default();
    let handoff = open_handoff(&outputs.stream, &outputs.fds)?;
    let what = match &handoff.sources {
        Received::Descriptors(files) => format!("stream + {} descriptors", files.len()),
        Received::Paths(paths) => {
            format!(
                "stream + {} paths (too many sources to open at once)",
                paths.len()
            )
        }
    };
    channel.send(handoff)?;
    let handoff = channel.receive()?;
    say(format!("handoff   {what}, {}", channel.describe()));

    // Receiver: join.
    let rebuilt_path = work.path().join("rebuilt.tar");
    let rebuilt = File::create(&rebuilt_path)
        .with_context(|| format!("cannot create {}", rebuilt_path.display()))?;
    let started = Instant::now();
    let written = receive_and_join(&handoff, &rebuilt)?;
    let join_time = started.elapsed();
    drop(handoff);
    say(format!(
        "join      {} rebuilt in {} ({}/s)",
        HumanBytes(written),
        millis(join_time),
        HumanBytes(per_second(written, join_time)),
    ));

    let (original, original_size) = sha256_of(&tar)?;
    let (copy, copy_size) = sha256_of(&rebuilt_path)?;
    ensure!(
        original == copy && original_size == copy_size,
        "the rebuilt tar differs from the original: {original} ({original_size} bytes) vs {copy} ({copy_size} bytes)"
    );
    println!("identical: the rebuilt tar matches the original byte for byte (sha256 {original}, {original_size} bytes)");
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
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let got = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(got) => got,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()))
            }
        };
        hasher.update(&buf[..got]);
        size += u64::try_from(got).unwrap_or(0);
    }
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
