//! `split`: a tar becomes a stream, content-addressed objects and an fd list.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fdlist;
use crate::objects::ObjectStore;
use crate::output::AtomicFile;
use crate::progress::Progress;
use crate::stream::{StreamStats, StreamWriter};
use crate::tarwalk::{self, Sink, Walk};

const READ_BUFFER: usize = 1 << 20;

/// Where a split writes.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// The stream file.
    pub stream: PathBuf,
    /// The objects directory.
    pub objects: PathBuf,
    /// The fd list.
    pub fds: PathBuf,
    /// The sizes file.
    pub sizes: PathBuf,
}

impl Outputs {
    /// The outputs for `stream`, with the default `STREAM.objects/`, `STREAM.fds` and
    /// `STREAM.sizes` unless given.
    pub fn new(
        stream: &Path,
        objects: Option<PathBuf>,
        fds: Option<PathBuf>,
        sizes: Option<PathBuf>,
    ) -> Outputs {
        Outputs {
            stream: stream.to_path_buf(),
            objects: objects.unwrap_or_else(|| with_suffix(stream, ".objects")),
            fds: fds.unwrap_or_else(|| default_fds(stream)),
            sizes: sizes.unwrap_or_else(|| crate::sizes::default_path(stream)),
        }
    }
}

/// `STREAM.fds`, the fd list every command looks for by default.
pub fn default_fds(stream: &Path) -> PathBuf {
    with_suffix(stream, ".fds")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// What a split did.
#[derive(Clone, Debug)]
pub struct Report {
    /// What the walk over the archive found.
    pub walk: Walk,
    /// What went into the stream.
    pub stream: StreamStats,
    /// Distinct objects referenced.
    pub objects: u64,
    /// Their total size.
    pub object_bytes: u64,
}

struct SplitSink<'a, W: io::Write> {
    writer: StreamWriter<W>,
    store: &'a mut ObjectStore,
}

impl<W: io::Write> Sink for SplitSink<'_, W> {
    fn inline(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.inline(bytes).context("cannot write the stream")
    }

    fn content(&mut self, content: &mut dyn Read, len: u64) -> Result<()> {
        let index = self.store.add(content, len)?;
        self.writer
            .external(index)
            .context("cannot write the stream")
    }
}

/// Splits the archive read from `input` into `outputs`. Nothing appears at the stream or
/// list path unless the whole split succeeds, and objects written by a failed split are
/// removed again.
///
/// # Errors
///
/// The input is not a tar, cannot be read, or an output cannot be written.
pub fn split(input: impl Read, outputs: &Outputs) -> Result<Report> {
    // Create the outputs first, so an unwritable destination fails before any work.
    let stream_file = AtomicFile::create(&outputs.stream)?;
    let list_dir = fdlist::canonical_base(&outputs.fds)?;
    let mut store = ObjectStore::open(&outputs.objects)?;
    match split_into(input, stream_file, &mut store, &list_dir, outputs) {
        Ok((walk, stream)) => Ok(Report {
            walk,
            stream,
            objects: u64::try_from(store.paths().len()).unwrap_or(u64::MAX),
            object_bytes: store.distinct_bytes(),
        }),
        Err(error) => {
            store.discard();
            Err(error)
        }
    }
}

fn split_into(
    input: impl Read,
    stream_file: AtomicFile,
    store: &mut ObjectStore,
    list_dir: &Path,
    outputs: &Outputs,
) -> Result<(Walk, StreamStats)> {
    let input = io::BufReader::with_capacity(READ_BUFFER, input);
    let mut sink = SplitSink {
        writer: StreamWriter::new(BufWriter::with_capacity(READ_BUFFER, stream_file)),
        store,
    };
    let walk = tarwalk::walk(input, &mut sink)?;
    let (buffered, stats) = sink.writer.finish().context("cannot write the stream")?;
    let stream_file = buffered
        .into_inner()
        .map_err(|error| error.into_error())
        .context("cannot write the stream")?;
    let entries: Vec<Vec<u8>> = sink
        .store
        .paths()
        .iter()
        .map(|path| fdlist::entry_for(list_dir, path))
        .collect();
    let sizes = crate::sizes::write(&outputs.sizes, sink.store.sizes())?;
    sink.store.sync()?;
    let list = fdlist::write(&outputs.fds, &entries)?;
    commit_last(stream_file, [(list, &outputs.fds), (sizes, &outputs.sizes)])?;
    Ok((walk, stats))
}

/// Commits `sides` (the fd list and the sizes file) and then `stream`, so that a stream is
/// never paired with the lists of an earlier one: if it cannot be committed, the new
/// lists are removed again.
///
/// # Errors
///
/// A commit fails.
pub fn commit_last<const N: usize>(
    stream: AtomicFile,
    sides: [(AtomicFile, &Path); N],
) -> Result<()> {
    let mut committed = Vec::with_capacity(N);
    for (file, path) in sides {
        if let Err(error) = file.commit() {
            for path in committed {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
        committed.push(path);
    }
    if let Err(error) = stream.commit() {
        for path in committed {
            let _ = std::fs::remove_file(path);
        }
        return Err(error);
    }
    Ok(())
}

/// The `split` command.
///
/// # Errors
///
/// As [`split`], or the input file cannot be opened.
pub fn run(tar: &Path, outputs: &Outputs, quiet: bool) -> Result<()> {
    let report = if tar == Path::new("-") {
        if io::stdin().is_terminal() {
            anyhow::bail!("refusing to read a tar from a terminal; pipe one in or name a file");
        }
        let progress = Progress::new(quiet, "split", None);
        split(progress.track(io::stdin().lock()), outputs)?
    } else {
        let file = File::open(tar).with_context(|| format!("cannot open {}", tar.display()))?;
        let total = file.metadata().ok().map(|meta| meta.len());
        let progress = Progress::new(quiet, "split", total);
        split(progress.track(file), outputs)
            .with_context(|| format!("cannot split {}", tar.display()))?
    };
    if !quiet {
        eprintln!(
            "split {} bytes: {} headers, {} member contents in {} distinct objects ({} bytes) under {}",
            report.walk.total_bytes,
            report.walk.headers,
            report.walk.content_members,
            report.objects,
            report.object_bytes,
            outputs.objects.display(),
        );
        eprintln!(
            "stream {}: {} bytes ({} inline in {} chunks, {} external references); fd list {}",
            outputs.stream.display(),
            report.stream.stream_bytes,
            report.stream.inline_bytes,
            report.stream.inline_chunks,
            report.stream.external_chunks,
            outputs.fds.display(),
        );
        if let Some(offset) = report.walk.unparsed_from {
            eprintln!(
                "note: the block at offset {offset} is not a tar header; everything from there on is kept inline"
            );
        }
    }
    Ok(())
}
