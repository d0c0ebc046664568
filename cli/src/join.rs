//! `join` and `verify`: rebuild the original bytes from a stream and its fd list.
//!
//! Both are thin drivers of the adapters crate's `reconstruct` over lazily opened path
//! sources, so a layer of any number of files rebuilds under a low open-file limit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use splitfdstream_adapters::std::{reconstruct, PathSources, Sources};
use splitfdstream_adapters::SourceError;

use crate::fdlist;
use crate::output::AtomicFile;
use crate::progress::Progress;

/// The sources named by the fd list at `fds`, opened only when referenced.
///
/// # Errors
///
/// The list cannot be read or parsed.
pub fn path_sources(fds: &Path) -> Result<PathSources> {
    Ok(PathSources::from_paths(fdlist::read(fds)?))
}

/// Rebuilds the stream at `stream` from `sources` into `out`; returns the bytes written.
///
/// # Errors
///
/// The stream is malformed or truncated, a source is missing, unreadable or changes size,
/// or writing fails; the error says which, with the fd list's size for a missing index.
pub fn rebuild(
    stream: &Path,
    sources: &(impl Sources + ?Sized),
    source_count: usize,
    fds: &Path,
    out: impl Write,
) -> Result<u64> {
    let file = File::open(stream).with_context(|| format!("cannot open {}", stream.display()))?;
    reconstruct(&file, sources, out).map_err(|error| {
        let missing = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<SourceError>())
            .is_some_and(|inner| matches!(inner, SourceError::Missing { .. }));
        let error = anyhow::Error::new(error);
        if missing {
            error.context(format!(
                "the fd list {} has {source_count} entries (indices 0 to {})",
                fds.display(),
                source_count.saturating_sub(1)
            ))
        } else {
            error
        }
    })
}

/// The `join` command: writes the rebuilt bytes to `output` (complete or not at all), or
/// to stdout.
///
/// # Errors
///
/// As [`rebuild`], or the output cannot be created.
pub fn run(stream: &Path, fds: &Path, output: Option<&Path>, quiet: bool) -> Result<()> {
    let sources = path_sources(fds)?;
    let count = sources.len();
    let progress = Progress::new(quiet, "join", None);
    let context = || format!("cannot join {}", stream.display());
    match output {
        None => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                bail!(
                    "refusing to write binary output to a terminal; use -o FILE or redirect stdout"
                );
            }
            // A descriptor of our own, so writes are not line-buffered.
            let out = File::from(
                stdout
                    .as_fd()
                    .try_clone_to_owned()
                    .context("cannot use stdout")?,
            );
            write_to(stream, &sources, count, fds, &out, &progress).with_context(context)?;
        }
        Some(path) if is_special(path) => {
            // A device or FIFO cannot be replaced by a rename; write to it in place.
            let out = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            write_to(stream, &sources, count, fds, &out, &progress).with_context(context)?;
        }
        Some(path) => {
            let out = AtomicFile::create(path)?;
            write_to(stream, &sources, count, fds, out.file(), &progress).with_context(context)?;
            out.commit()?;
        }
    }
    progress.finish();
    Ok(())
}

fn write_to(
    stream: &Path,
    sources: &PathSources,
    count: usize,
    fds: &Path,
    out: &File,
    progress: &Progress,
) -> Result<u64> {
    if progress.is_visible() {
        rebuild(stream, sources, count, fds, progress.track(out))
    } else {
        rebuild(stream, sources, count, fds, out)
    }
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
pub fn verify(stream: &Path, fds: &Path, quiet: bool) -> Result<()> {
    let sources = path_sources(fds)?;
    let progress = Progress::new(quiet, "verify", None);
    let mut hashing = HashingWriter::default();
    rebuild(
        stream,
        &sources,
        sources.len(),
        fds,
        progress.track(&mut hashing),
    )
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
