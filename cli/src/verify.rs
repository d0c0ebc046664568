//! `verify`: rebuild a bundle into SHA-256 without writing it.

use std::io::{self, Write};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use splitfdstream_adapters::bundle::Bundle;

use crate::explain::explain;
use crate::progress::Progress;

/// A writer that only hashes and counts.
#[derive(Default)]
struct HashingWriter {
    hasher: Sha256,
    size: u64,
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

/// The `verify` command: prints `<sha256 hex>  <size>` of the rebuilt bytes.
///
/// # Errors
///
/// The stream is malformed, or a source is missing, unreadable or of the wrong size.
pub fn run(bundle: &Bundle, quiet: bool) -> Result<()> {
    let progress = Progress::new(quiet, "verify", crate::total::of(quiet, bundle));
    let mut hashing = HashingWriter::default();
    // Sources are read ahead on helper threads, as for `join`.
    bundle
        .rebuild_to_writer(progress.track(&mut hashing))
        .map_err(|error| explain(error, bundle))
        .with_context(|| format!("cannot verify {}", bundle.stream().display()))?;
    progress.finish();
    let digest = crate::objects::hex(&hashing.hasher.finalize());
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{digest}  {}", hashing.size)?;
    stdout.flush()?;
    Ok(())
}
