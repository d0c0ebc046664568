//! `split`: a tar, a cpio archive or an initramfs image, plain or compressed, becomes a
//! stream (of either format), content-addressed objects and an fd or directory list.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use splitfdstream_adapters::archive::{self, cpio};
use splitfdstream_adapters::bundle::{
    dir_list, fd_list, sizes, BundleWriter, DirBundleWriter, Durability,
};
use splitfdstream_adapters::decompress::{
    Compression, DecompressError, Decompressed, Segment, Segments,
};
use splitfdstream_adapters::Format;

use crate::objects::ObjectStore;
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
    /// The stream's format.
    pub format: Format,
    /// The directory list, for the successor format.
    pub dirs: PathBuf,
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
        let objects = objects.unwrap_or_else(|| {
            let mut name = stream.as_os_str().to_os_string();
            name.push(".objects");
            PathBuf::from(name)
        });
        Outputs {
            stream: stream.to_path_buf(),
            objects,
            fds: fds.unwrap_or_else(|| fd_list::default_path(stream)),
            sizes: sizes.unwrap_or_else(|| sizes::default_path(stream)),
            format: Format::Splitfdstream,
            dirs: dir_list::default_path(stream),
        }
    }

    /// The same outputs in `format`.
    pub fn in_format(mut self, format: Format) -> Outputs {
        self.format = format;
        self
    }

    /// The sidecar that lists the sources: the fd list, or the directory list.
    pub fn list(&self) -> &Path {
        match self.format {
            Format::Splitdirfdstream => &self.dirs,
            _ => &self.fds,
        }
    }
}

/// What a split did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The input's compression, if it was compressed.
    pub compression: Option<Compression>,
    /// The input's segments (compressed members, plain parts).
    pub segments: Vec<Segment>,
    /// What the walk over the archive found.
    pub archive: Archive,
    /// What went into the stream.
    pub stream: StreamStats,
    /// Distinct objects referenced.
    pub objects: u64,
    /// Their total size.
    pub object_bytes: u64,
}

/// What the walk over the input found.
#[derive(Clone, Debug)]
pub enum Archive {
    /// A tar archive.
    Tar(Walk),
    /// cpio archives: one, or an initramfs image.
    Cpio(cpio::Walk),
}

impl Archive {
    /// Regular members whose content became objects.
    pub fn content_members(&self) -> u64 {
        match self {
            Archive::Tar(walk) => walk.content_members,
            Archive::Cpio(walk) => walk.content_members,
        }
    }
}

impl<W: io::Write> archive::Sink for SplitSink<'_, W> {
    type Error = anyhow::Error;

    fn inline(&mut self, bytes: &[u8]) -> Result<()> {
        Sink::inline(self, bytes)
    }

    fn content(&mut self, content: &mut dyn Read, len: u64) -> Result<()> {
        Sink::content(self, content, len)
    }
}

struct SplitSink<'a, W: io::Write> {
    writer: StreamWriter<W>,
    store: &'a mut ObjectStore,
    /// Whether the stream is a splitdirfdstream.
    dir: bool,
}

impl<W: io::Write> Sink for SplitSink<'_, W> {
    fn inline(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.inline(bytes).context("cannot write the stream")
    }

    fn content(&mut self, content: &mut dyn Read, len: u64) -> Result<()> {
        let index = self.store.add(content, len)?;
        let written = if self.dir {
            // Directory 0 is the objects directory; the object's name is its file name.
            let (name, size) = self.store.object(index).context("no such object")?;
            self.writer.file_backed(0, size, name.as_bytes())
        } else {
            self.writer.external(index)
        };
        written.context("cannot write the stream")
    }
}

/// The bundle being written, in either format.
enum Bundle {
    V1(BundleWriter),
    Dir(DirBundleWriter),
}

impl Bundle {
    fn create(outputs: &Outputs) -> Result<Bundle> {
        Ok(match outputs.format {
            Format::Splitdirfdstream => Bundle::Dir(DirBundleWriter::create_with(
                &outputs.stream,
                Some(&outputs.dirs),
            )?),
            _ => Bundle::V1(BundleWriter::create_with(
                &outputs.stream,
                Some(&outputs.fds),
                Some(&outputs.sizes),
            )?),
        })
    }

    fn stream(&mut self) -> &mut dyn Write {
        match self {
            Bundle::V1(writer) => writer,
            Bundle::Dir(writer) => writer,
        }
    }

    fn commit(self, store: &ObjectStore) -> Result<()> {
        match self {
            Bundle::V1(writer) => {
                writer.commit(store.paths(), store.sizes(), Durability::Synced)?;
            }
            Bundle::Dir(writer) => writer.commit(&[store.dir()], Durability::Synced)?,
        }
        Ok(())
    }
}

/// Splits the archive read from `input` into `outputs`. Nothing appears at the stream or
/// list path unless the whole split succeeds, and objects written by a failed split are
/// removed again.
///
/// # Errors
///
/// The input is not a tar, cannot be read or decompressed, or an output cannot be
/// written.
pub fn split(input: impl Read, outputs: &Outputs) -> Result<Report> {
    // Create the outputs first, so an unwritable destination fails before any work.
    let mut bundle = Bundle::create(outputs)?;
    let mut store = ObjectStore::open(&outputs.objects)?;
    let dir = outputs.format == Format::Splitdirfdstream;
    match split_into(input, bundle.stream(), &mut store, dir) {
        Ok((archive, stream, compression, segments)) => {
            // Objects on disk before a stream that names them appears.
            let committed = store.sync().and_then(|()| bundle.commit(&store));
            if let Err(error) = committed {
                store.discard();
                return Err(error);
            }
            Ok(Report {
                compression,
                segments,
                archive,
                stream,
                objects: u64::try_from(store.paths().len()).unwrap_or(u64::MAX),
                object_bytes: store.distinct_bytes(),
            })
        }
        Err(error) => {
            store.discard();
            Err(error)
        }
    }
}

type Split = (Archive, StreamStats, Option<Compression>, Vec<Segment>);

fn split_into(
    input: impl Read,
    bundle: &mut dyn Write,
    store: &mut ObjectStore,
    dir: bool,
) -> Result<Split> {
    let mut segments = Segments::new(input).context("cannot read the input")?;
    let is_cpio = cpio::is_cpio(segments.peek(6).context("cannot read the input")?);
    let buffered = BufWriter::with_capacity(READ_BUFFER, bundle);
    let writer = if dir {
        StreamWriter::dir(buffered)
    } else {
        StreamWriter::new(buffered)
    };
    let mut sink = SplitSink { writer, store, dir };
    let (archive, compression, segments) = if is_cpio {
        let walk = cpio::walk_image(&mut segments, &mut sink)?;
        let compression = walk.segments.iter().find_map(|segment| segment.compression);
        let segments = walk.segments.clone();
        (Archive::Cpio(walk), compression, segments)
    } else {
        let (walk, compression, segments) = walk_tar(segments, &mut sink)?;
        (Archive::Tar(walk), compression, segments)
    };
    let (buffered, stats) = sink.writer.finish().context("cannot write the stream")?;
    buffered
        .into_inner()
        .map_err(|error| error.into_error())
        .context("cannot write the stream")?;
    Ok((archive, stats, compression, segments))
}

/// Walks a tar archive, plain or compressed.
fn walk_tar<R: Read>(
    segments: Segments<R>,
    sink: &mut impl Sink,
) -> Result<(Walk, Option<Compression>, Vec<Segment>)> {
    let mut input = Decompressed::from_segments(segments);
    let compression = input.compression();
    let walk = tarwalk::walk(io::BufReader::with_capacity(READ_BUFFER, &mut input), sink);
    let walk = match walk {
        Ok(walk) => walk,
        // A corrupt member may decompress to garbage before its checksum fails: the
        // decompression error, if there is one, is the one to report.
        Err(error) if compression.is_some() && !from_decompression(&error) => {
            io::copy(&mut input, &mut io::sink()).context("cannot read the input")?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    Ok((walk, compression, input.segments().to_vec()))
}

/// Whether a decompression error caused `error`.
fn from_decompression(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<DecompressError>())
    })
}

/// The `split` command.
///
/// # Errors
///
/// As [`split`], or the input file cannot be opened.
pub fn run(tar: &Path, outputs: &Outputs, quiet: bool) -> Result<()> {
    let report = if tar == Path::new("-") {
        if io::stdin().is_terminal() {
            anyhow::bail!(
                "refusing to read an archive from a terminal; pipe one in or name a file"
            );
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
        print_report(&report, outputs);
    }
    Ok(())
}

fn print_report(report: &Report, outputs: &Outputs) {
    match &report.archive {
        Archive::Tar(walk) => {
            if let Some(compression) = report.compression {
                let members = report.segments.len();
                let compressed: u64 = report.segments.iter().map(|s| s.compressed_len).sum();
                eprintln!(
                    "input: {compression}-compressed, {compressed} bytes in {members} member{}",
                    if members == 1 { "" } else { "s" }
                );
            }
            eprintln!(
                "split {} bytes: {} headers, {} member contents in {} distinct objects ({} bytes) under {}",
                walk.total_bytes,
                walk.headers,
                walk.content_members,
                report.objects,
                report.object_bytes,
                outputs.objects.display(),
            );
        }
        Archive::Cpio(walk) => {
            for segment in &walk.segments {
                eprintln!(
                    "input at offset {}: {}, {} bytes, {} decompressed",
                    segment.offset,
                    segment
                        .compression
                        .map_or("plain", |compression| compression.name()),
                    segment.compressed_len,
                    segment.len,
                );
            }
            eprintln!(
                "split {} bytes: {} cpio archives, {} members, {} member contents in {} distinct objects ({} bytes) under {}",
                walk.total_bytes,
                walk.archives,
                walk.members,
                walk.content_members,
                report.objects,
                report.object_bytes,
                outputs.objects.display(),
            );
        }
    }
    eprintln!(
        "stream {}: {} bytes ({} inline in {} chunks, {} external references); {} {}",
        outputs.stream.display(),
        report.stream.stream_bytes,
        report.stream.inline_bytes,
        report.stream.inline_chunks,
        report.stream.external_chunks,
        if outputs.format == Format::Splitdirfdstream {
            "directory list"
        } else {
            "fd list"
        },
        outputs.list().display(),
    );
    if let Archive::Tar(Walk {
        unparsed_from: Some(offset),
        ..
    }) = report.archive
    {
        eprintln!(
            "note: the block at offset {offset} is not a tar header; everything from there on is kept inline"
        );
    }
}
