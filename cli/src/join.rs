//! `join` and `verify`: rebuild the original bytes from a stream and its fd list.
//!
//! Both are thin drivers of the adapters crate over lazily opened path sources, so a layer
//! of any number of files rebuilds under a low open-file limit: `join` uses its descriptor
//! reconstruction (kernel copies into the output) over sources opened and read ahead by
//! helper threads, `verify` its `std::io` one (the bytes must pass through SHA-256).
//! Both check every source against its size in the sizes file, when there is one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use splitfdstream::FdIndex;
use splitfdstream_adapters::fd;
use splitfdstream_adapters::std::{
    reconstruct, Error, ExpectedLens, PathSources, SourceFailure, SourceFault, Sources,
    DEFAULT_OPEN_AHEAD,
};
use splitfdstream_adapters::SourceError;

use crate::fdlist;
use crate::output::AtomicFile;
use crate::progress::Progress;
use crate::sizes;

/// The paths of the fd list at `fds` and, when there is a sizes file, the size each source
/// must have.
///
/// # Errors
///
/// The list or the sizes file cannot be read or parsed, or they disagree on the number of
/// sources.
pub fn load(fds: &Path, sizes: &sizes::Lookup) -> Result<(Vec<PathBuf>, Option<Vec<u64>>)> {
    let paths = fdlist::read(fds)?;
    let lens = sizes.load(paths.len(), fds)?;
    Ok((paths, lens))
}

/// `sources`, each of which must have the size the sizes file gives it (any size without a
/// sizes file): the stream's references carry no length, so this is what catches a source
/// that was truncated or appended to.
pub fn checked<S: Sources>(sources: S, lens: Option<Vec<u64>>) -> ExpectedLens<S> {
    let lens = lens.unwrap_or_default().into_iter().map(Some).collect();
    ExpectedLens::new(sources, lens)
}

/// Sources opened and read ahead by helper threads, holding at most about a quarter of
/// the open-file limit (and at most [`DEFAULT_OPEN_AHEAD`]) open, so that a join runs
/// under a limit as low as 64.
pub fn open_ahead(paths: Vec<PathBuf>) -> PathSources {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let depth = limit
        .and_then(|limit| usize::try_from(limit / 4).ok())
        .map_or(DEFAULT_OPEN_AHEAD, |quarter| {
            quarter.clamp(4, DEFAULT_OPEN_AHEAD)
        });
    PathSources::from_paths(paths)
        .with_depth(depth)
        .with_cache_capacity(OPEN_SOURCES)
}

/// Sources kept open for references out of order. Reopening a deduplicated source costs
/// one `open`; keeping few open lets a join run under an open-file limit as low as 64.
pub const OPEN_SOURCES: usize = 32;

/// Opens the stream at `stream` and rebuilds it with `how` (one of the adapters'
/// reconstructions over `sources`); returns the bytes written.
///
/// # Errors
///
/// The stream is malformed or truncated, a source is missing, unreadable or changes size,
/// or writing fails; the error says which, with the fd list's size for a missing index.
pub fn rebuild(
    stream: &Path,
    sources: &PathSources,
    fds: &Path,
    how: impl FnOnce(&File) -> Result<u64, Error>,
) -> Result<u64> {
    let file = File::open(stream).with_context(|| format!("cannot open {}", stream.display()))?;
    how(&file).map_err(|error| explain(error, sources.len(), fds))
}

/// Adds what the fd list knows to a reconstruction error: its size for an index it lacks.
/// The typed error already names the source's path.
fn explain(error: Error, count: usize, fds: &Path) -> anyhow::Error {
    let missing = matches!(
        error.source_failure().map(SourceFailure::fault),
        Some(SourceFault::Check(SourceError::Missing { .. }))
    );
    let error = anyhow::Error::new(error);
    if missing {
        let entries = if count == 1 { "entry" } else { "entries" };
        return error.context(format!(
            "the fd list {} has {count} {entries}",
            fds.display()
        ));
    }
    error
}

/// The `join` command: writes the rebuilt bytes to `output` (complete or not at all, and
/// when `durable`, on disk before it appears), or to stdout.
///
/// # Errors
///
/// As [`rebuild`], or the output cannot be created.
pub fn run(
    stream: &Path,
    fds: &Path,
    sizes: &sizes::Lookup,
    output: Option<&Path>,
    durable: bool,
    quiet: bool,
) -> Result<()> {
    if output.is_none() && io::stdout().is_terminal() {
        bail!("refusing to write binary output to a terminal; use -o FILE or redirect stdout");
    }
    // Opening and reading the files of a layer of small ones is most of the work: helper
    // threads do it ahead of use, within a quarter of the open-file limit.
    let (paths, lens) = load(fds, sizes)?;
    let sources = checked(open_ahead(paths), lens);
    let progress = Progress::new(quiet, "join", total_for_progress(quiet, stream, &sources));
    let context = || format!("cannot join {}", stream.display());
    match output {
        None => {
            let stdout = io::stdout();
            // A descriptor of our own, so writes are not line-buffered.
            let out = File::from(
                stdout
                    .as_fd()
                    .try_clone_to_owned()
                    .context("cannot use stdout")?,
            );
            write_to(stream, &sources, fds, &out, &progress).with_context(context)?;
        }
        Some(path) if is_special(path) => {
            // A device or FIFO cannot be replaced by a rename; write to it in place.
            let out = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            write_to(stream, &sources, fds, &out, &progress).with_context(context)?;
        }
        Some(path) => {
            let out = AtomicFile::create(path)?;
            write_to(stream, &sources, fds, out.file(), &progress).with_context(context)?;
            if durable {
                out.commit()?;
            } else {
                out.commit_without_sync()?;
            }
        }
    }
    progress.finish();
    Ok(())
}

/// Rebuilds into the descriptor `out` with the kernel's copy paths (`copy_file_range` into
/// files, `splice` into pipes), falling back to reads and writes.
fn write_to(
    stream: &Path,
    sources: &ExpectedLens<PathSources>,
    fds: &Path,
    out: &File,
    progress: &Progress,
) -> Result<u64> {
    let kernel = |stream: &File| fd::reconstruct(stream, sources, out);
    if !progress.is_visible() {
        return rebuild(stream, sources.sources(), fds, kernel);
    }
    if out.metadata().is_ok_and(|meta| meta.is_file()) {
        // Kernel copies bypass any writer: follow the output file's length instead.
        let done = AtomicBool::new(false);
        return std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(meta) = out.metadata() {
                        progress.set_position(meta.len());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            let result = rebuild(stream, sources.sources(), fds, kernel);
            done.store(true, Ordering::Relaxed);
            result
        });
    }
    rebuild(stream, sources.sources(), fds, |stream| {
        reconstruct(stream, sources, progress.track(out))
    })
}

/// The size of the rebuilt output, for a progress bar's total: the inline bytes of the
/// stream plus the current size of every source it refers to. Worked out only when a bar is
/// drawn; `None` (a bar without a total) when anything is off, which the join itself will
/// then report.
fn total_for_progress(
    quiet: bool,
    stream: &Path,
    sources: &ExpectedLens<PathSources>,
) -> Option<u64> {
    if !Progress::shown(quiet) {
        return None;
    }
    let file = File::open(stream).ok()?;
    let mut sizes = std::collections::HashMap::new();
    let mut externals = 0u64;
    let summary = crate::inspect::scan(io::BufReader::new(file), |listed| {
        if let crate::inspect::Listed::External { index, .. } = listed {
            let size = match sizes.get(&index) {
                Some(&size) => size,
                None => {
                    let at = FdIndex::new(index).context("no such source")?;
                    let path = sources.sources().path(at).context("no such source")?;
                    let size = match sources.expected_len(at.into()) {
                        Some(size) => size,
                        None => fs::metadata(path)?.len(),
                    };
                    sizes.insert(index, size);
                    size
                }
            };
            externals = externals.saturating_add(size);
        }
        Ok(())
    })
    .ok()?;
    Some(summary.inline_bytes.saturating_add(externals))
}

/// Whether `path` exists and is something other than a regular file.
fn is_special(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| !meta.is_file())
}

/// A writer that only hashes and counts.
#[derive(Default)]
pub struct HashingWriter {
    hasher: Sha256,
    size: u64,
}

impl HashingWriter {
    /// The SHA-256 (lower-case hex) and size of what was written.
    pub fn finish(self) -> (String, u64) {
        (crate::objects::hex(&self.hasher.finalize()), self.size)
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.size += u64::try_from(buf.len()).unwrap_or(0);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `verify` command: rebuilds into SHA-256 without writing and prints
/// `<sha256 hex>  <size>`.
///
/// # Errors
///
/// As [`rebuild`].
pub fn verify(stream: &Path, fds: &Path, sizes: &sizes::Lookup, quiet: bool) -> Result<()> {
    let (paths, lens) = load(fds, sizes)?;
    // As for `join`: helper threads open and read the sources ahead of the hashing.
    let sources = checked(open_ahead(paths), lens);
    let progress = Progress::new(quiet, "verify", total_for_progress(quiet, stream, &sources));
    let mut hashing = HashingWriter::default();
    rebuild(stream, sources.sources(), fds, |stream| {
        reconstruct(stream, &sources, progress.track(&mut hashing))
    })
    .with_context(|| format!("cannot verify {}", stream.display()))?;
    progress.finish();
    let (digest, size) = hashing.finish();
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{digest}  {size}")?;
    stdout.flush()?;
    Ok(())
}

/// The fd list for `stream`: `fds` when given, `STREAM.fds` otherwise.
pub fn fds_or_default(stream: &Path, fds: Option<PathBuf>) -> PathBuf {
    fds.unwrap_or_else(|| crate::split::default_fds(stream))
}
