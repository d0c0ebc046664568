//! `join`: rebuild a bundle's original bytes into a file or stdout.
//!
//! The library does the work: sources opened and read ahead on helper threads, kernel
//! copies into the output, each source checked against the sizes file, and an output that
//! appears only when complete. The command adds the progress bar and stdout.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use splitfdstream_adapters::bundle::{Bundle, Durability, Output};

use crate::explain::explain;
use crate::progress::Progress;

/// The `join` command: writes the rebuilt bytes to `output` (complete or not at all, and
/// with [`Durability::Synced`] on disk before it appears), or to stdout.
///
/// # Errors
///
/// The stream is malformed, a source is missing, unreadable or of the wrong size, or the
/// output cannot be written.
pub fn run(
    bundle: &Bundle,
    output: Option<&Path>,
    durability: Durability,
    quiet: bool,
) -> Result<()> {
    if output.is_none() && io::stdout().is_terminal() {
        bail!("refusing to write binary output to a terminal; use -o FILE or redirect stdout");
    }
    let progress = Progress::new(quiet, "join", crate::total::of(quiet, bundle));
    let context = || format!("cannot join {}", bundle.stream().display());
    match output {
        None => {
            // A descriptor of our own, so writes are not line-buffered.
            let stdout = io::stdout().as_fd().try_clone_to_owned();
            let out = File::from(stdout.context("cannot use stdout")?);
            write_to(bundle, &out, &progress).with_context(context)?;
        }
        Some(path) => {
            let out = Output::create_or_in_place(path)?;
            write_to(bundle, out.file(), &progress).with_context(context)?;
            out.commit(durability)?;
        }
    }
    progress.finish();
    Ok(())
}

/// Rebuilds into `out`, following the output file's length for a visible bar: kernel
/// copies bypass any writer that could count.
fn write_to(bundle: &Bundle, out: &File, progress: &Progress) -> Result<u64> {
    let rebuild = || {
        bundle
            .rebuild_to_fd(out)
            .map_err(|error| explain(error, bundle))
    };
    if !progress.is_visible() {
        return rebuild();
    }
    if !out.metadata().is_ok_and(|meta| meta.is_file()) {
        return bundle
            .rebuild_to_writer(progress.track(out))
            .map_err(|error| explain(error, bundle));
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Ok(meta) = out.metadata() {
                    progress.set_position(meta.len());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let result = rebuild();
        done.store(true, Ordering::Relaxed);
        result
    })
}
