//! The `splitfdstream` command: split a tar into a stream, content-addressed objects and an
//! fd list; join them back byte for byte; convert tar-split metadata; inspect and verify
//! streams; and a self-contained demo.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use splitfdstream_adapters::bundle::{dir_list, fd_list, sizes, Bundle, Durability};
use splitfdstream_adapters::{Format, UnknownFormat};

mod convert;
mod demo;
mod explain;
mod inspect;
mod inspect_dir;
mod join;
mod objects;
mod progress;
mod regular;
mod split;
mod stream;
mod tarsplit;
mod tarwalk;
mod total;
mod update;
mod verify;

/// Split tar archives into a splitfdstream (inline metadata plus references to external
/// files) and join them back byte for byte.
#[derive(Debug, Parser)]
#[command(name = "splitfdstream", version, propagate_version = true)]
#[command(after_help = "\
Files:
  STREAM         the stream: inline bytes and references to external sources
  STREAM.fds     the fd list: line i is the path of external source i, relative to the
                 list's directory; `\\\\` and `\\n` are the only escapes
  STREAM.sizes   line i is the size in bytes of external source i, in decimal; join and
                 verify refuse a source of another size (without the file they cannot
                 tell a truncated or appended-to source from an intact one)
  STREAM.objects content-addressed objects (named by SHA-256), each stored once
  STREAM.dirs    for a splitdirfdstream (--format dir): line i is the directory of index
                 i, in the fd list's syntax; split writes the objects directory as line 0

Exit status: 0 on success, 1 on an error (one `error:` line on stderr), 2 on a usage error.

Example:
  splitfdstream split layer.tar -o layer.sfd
  splitfdstream join layer.sfd -o copy.tar && cmp layer.tar copy.tar")]
struct Cli {
    /// Print nothing but results and errors; no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Split(SplitArgs),
    Join(JoinArgs),
    FromTarSplit(FromTarSplitArgs),
    Inspect(InspectArgs),
    Verify(VerifyArgs),
    Convert(ConvertArgs),
    Demo(DemoArgs),
    Delta(update::DeltaArgs),
    Apply(update::ApplyArgs),
    #[command(hide = true)]
    DemoReceive(DemoReceiveArgs),
}

/// Split a tar, a cpio archive or an initramfs image into a stream, objects and an fd list.
///
/// Every regular member's stored bytes become a content-addressed object (identical
/// contents are stored once); headers, extended records, names, padding and anything
/// after the archive stay inline, so `join` rebuilds the exact input bytes, decompressed.
/// A compressed input (gzip, zstd, xz, bzip2, LZ4) is decompressed on the fly; an
/// initramfs image may mix NUL padding, plain cpio archives (newc or crc) and compressed
/// ones.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream split layer.tar -o layer.sfd
  # writes layer.sfd, layer.sfd.fds, layer.sfd.sizes and layer.sfd.objects/
  splitfdstream split layer.tar.gz -o layer.sfd --objects /srv/objects
  # join rebuilds the uncompressed tar
  splitfdstream split layer.tar --format dir -o layer.sdfs
  # writes layer.sdfs, layer.sdfs.dirs (line 0: the objects directory) and layer.sdfs.objects/")]
struct SplitArgs {
    /// The tar, cpio archive or initramfs image, or `-` for stdin; plain or compressed.
    tar: PathBuf,
    /// Where to write the stream.
    #[arg(short, long, value_name = "STREAM")]
    output: PathBuf,
    /// Directory for the objects [default: STREAM.objects].
    #[arg(long, value_name = "DIR")]
    objects: Option<PathBuf>,
    /// The stream's format: `v1` (splitfdstream, with STREAM.fds and STREAM.sizes) or
    /// `dir` (splitdirfdstream, with STREAM.dirs; each object named beneath directory 0,
    /// the objects directory).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, default_value = "v1")]
    format: Format,
    /// The directory list of a `dir` stream [default: STREAM.dirs].
    #[arg(long, value_name = "LIST")]
    dirs: Option<PathBuf>,
    #[command(flatten)]
    sidecars: Sidecars,
}

/// Which format a stream to read is in, and the successor format's directory list.
#[derive(Debug, Args)]
struct Reading {
    /// The stream's format: `v1` (splitfdstream, with STREAM.fds) or `dir`
    /// (splitdirfdstream, with STREAM.dirs) [default: from the sidecar beside the stream].
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,
    /// The directory list of a `dir` stream: line i is the directory of index i
    /// [default: STREAM.dirs].
    #[arg(long, value_name = "LIST")]
    dirs: Option<PathBuf>,
}

fn parse_format(name: &str) -> Result<Format, String> {
    name.parse()
        .map_err(|error: UnknownFormat| error.to_string())
}

impl Reading {
    /// The bundle of `stream`, in the format given, else the one its sidecar says.
    fn open(&self, stream: &std::path::Path, sidecars: &Sidecars) -> anyhow::Result<Bundle> {
        let format = self
            .format
            .or_else(|| self.dirs.as_ref().map(|_| Format::Splitdirfdstream))
            .or_else(|| {
                // A list given for the first format says which one it is.
                let v1 = sidecars.fds.is_some() || sidecars.sizes.is_some();
                if v1 {
                    Some(Format::Splitfdstream)
                } else {
                    dir_list::format_beside(stream)
                }
            })
            .unwrap_or_default();
        match format {
            Format::Splitdirfdstream => {
                if sidecars.fds.is_some() || sidecars.sizes.is_some() {
                    anyhow::bail!(
                        "--fds and --sizes are for the v1 format; a dir stream has --dirs"
                    );
                }
                Ok(Bundle::open_dirs(stream, self.dirs.as_deref())?)
            }
            _ => {
                if self.dirs.is_some() {
                    anyhow::bail!("--dirs is for the dir format; a v1 stream has --fds");
                }
                sidecars.open(stream)
            }
        }
    }
}

/// The files beside a stream, for every subcommand that reads or writes them.
#[derive(Debug, Args)]
struct Sidecars {
    /// The fd list [default: STREAM.fds].
    #[arg(long, value_name = "LIST")]
    fds: Option<PathBuf>,
    /// The sizes file [default: STREAM.sizes]. `join` and `verify` refuse a source of
    /// another size than it gives, and without the default file do not check sizes.
    #[arg(long, value_name = "FILE")]
    sizes: Option<PathBuf>,
}

impl Sidecars {
    /// The fd list of `stream`.
    fn fd_list(&self, stream: &std::path::Path) -> PathBuf {
        self.fds
            .clone()
            .unwrap_or_else(|| fd_list::default_path(stream))
    }

    /// The sizes file of `stream`.
    fn sizes_file(&self, stream: &std::path::Path) -> PathBuf {
        self.sizes
            .clone()
            .unwrap_or_else(|| sizes::default_path(stream))
    }

    /// The bundle of `stream`, read and checked.
    fn open(&self, stream: &std::path::Path) -> anyhow::Result<Bundle> {
        Ok(Bundle::open_with(
            stream,
            self.fds.as_deref(),
            self.sizes.as_deref(),
        )?)
    }
}

/// Rebuild the original bytes from a stream and its sources.
///
/// Sources are opened only when the stream refers to them, a few at a time, so a layer of
/// any number of files joins under a low open-file limit. OUT appears only when complete,
/// and by default only once it is on disk.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream join layer.sfd -o layer.tar
  splitfdstream join layer.sfd | tar -tvf -")]
struct JoinArgs {
    /// The stream.
    stream: PathBuf,
    #[command(flatten)]
    sidecars: Sidecars,
    #[command(flatten)]
    reading: Reading,
    /// Where to write the rebuilt bytes [default: stdout].
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Rename OUT into place without first waiting for it to reach the disk: faster, but
    /// after a power loss or crash OUT may be incomplete.
    #[arg(long)]
    no_sync: bool,
}

/// Make a stream from containers-storage tar-split metadata and the layer's files.
///
/// Segments go inline; each file entry refers to the file under ROOT (nothing is copied),
/// after checking its size and CRC-64 against the metadata unless --no-verify. Member
/// names must be relative, without `..`, and name regular files reached without following
/// a symbolic link or crossing a mount point: the files are opened beneath ROOT, never
/// outside it (Linux 5.6 or later). The metadata's sizes go to the sizes file.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  # ID: a layer of containers-storage, whose files are unpacked in its diff/ directory
  cd /var/lib/containers/storage/overlay
  splitfdstream from-tar-split ../overlay-layers/ID.tar-split.gz --root ID/diff -o /tmp/ID.sfd
  splitfdstream join /tmp/ID.sfd -o /tmp/ID.tar
  splitfdstream from-tar-split --format dir ../overlay-layers/ID.tar-split.gz --root ID/diff -o /tmp/ID.sdfs")]
struct FromTarSplitArgs {
    /// The metadata: JSON lines, gzip-compressed or plain.
    metadata: PathBuf,
    /// Directory the member names are relative to (the unpacked layer).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Where to write the stream.
    #[arg(short, long, value_name = "STREAM")]
    output: PathBuf,
    #[command(flatten)]
    sidecars: Sidecars,
    /// Do not read the files to check their size and CRC-64.
    #[arg(long)]
    no_verify: bool,
    /// The stream's format: `v1` (with STREAM.fds and STREAM.sizes) or `dir`
    /// (splitdirfdstream, with STREAM.dirs: ROOT is directory 0, each member named beneath
    /// it; a member whose name is not UTF-8, or that cannot be opened by name beneath ROOT
    /// without following a symbolic link or crossing a mount, is sent inline).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, default_value = "v1")]
    format: Format,
    /// The directory list of a `dir` stream [default: STREAM.dirs].
    #[arg(long, value_name = "LIST")]
    dirs: Option<PathBuf>,
}

/// List a stream's chunks and summarize them; or an initramfs image's segments.
///
/// One line per chunk (stream offset, kind, inline length or external index; for a
/// splitdirfdstream, metadata and inline lengths, and each file's length, directory index
/// and name), then a summary; --json prints one JSON object instead. A compressed stream
/// is read decompressed, and named as such. Given an initramfs image or a cpio archive
/// instead, one line per segment (input offset, compression, input and decompressed
/// bytes), then the archives and members it holds.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream inspect layer.sfd | tail -1
  splitfdstream inspect layer.sfd --json
  splitfdstream inspect layer.sdfs --json   # a splitdirfdstream: STREAM.dirs beside it")]
struct InspectArgs {
    /// The stream.
    stream: PathBuf,
    /// Print one JSON object: for v1, chunks, inline_chunks, inline_bytes,
    /// external_chunks, distinct_indices, max_index, stream_bytes, compression (of the
    /// stream file, or null); for dir, format, chunks, metadata_chunks, metadata_bytes,
    /// inline_chunks, inline_bytes, file_chunks, file_bytes, distinct_files, max_dir_index,
    /// stream_bytes and files (offset, dir, len, name, and name_base64 for a name that is
    /// not UTF-8).
    #[arg(long)]
    json: bool,
    /// The stream's format: `v1` or `dir` [default: from the sidecar beside the stream,
    /// STREAM.dirs or STREAM.fds].
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,
}

/// Rebuild into SHA-256 without writing; print `<sha256 hex>  <size>`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream verify layer.sfd
  sha256sum layer.tar   # the same digest")]
struct VerifyArgs {
    /// The stream.
    stream: PathBuf,
    #[command(flatten)]
    sidecars: Sidecars,
    #[command(flatten)]
    reading: Reading,
}

/// Rewrite a stream in the other format, referring to the same files (nothing copied).
///
/// To `dir`: directory 0 is the objects directory (--objects, by default STREAM.objects, or
/// else the directory of source 0); sources beneath it are named relative to it, and a
/// source elsewhere is named beneath its own directory, which gets a line of its own in
/// OUT.dirs. To `v1`: each distinct file becomes a line of OUT.fds, with its declared
/// length in OUT.sizes. OUT and its sidecar appear only when complete.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream convert layer.sfd --to dir -o layer.sdfs   # reuses layer.sfd.objects/
  splitfdstream convert layer.sdfs --to v1 -o again.sfd
  splitfdstream join layer.sdfs | cmp - layer.tar")]
struct ConvertArgs {
    /// The stream.
    stream: PathBuf,
    /// The format to write: `v1` (splitfdstream) or `dir` (splitdirfdstream).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    to: Format,
    /// Where to write the converted stream.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Directory 0 of a `dir` result [default: STREAM.objects, or the directory of
    /// source 0].
    #[arg(long, value_name = "DIR")]
    objects: Option<PathBuf>,
    #[command(flatten)]
    sidecars: Sidecars,
    #[command(flatten)]
    reading: Reading,
}

/// Show the whole round trip on a sample tree, or on your own tar.
///
/// Builds a sample tree and its tar in a temporary directory (or takes --input), splits
/// it, hands the stream and the opened sources to a receiver, rebuilds the tar there and
/// checks that it is identical to the original. Needs no network and no files.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream demo
  splitfdstream demo --input layer.tar")]
struct DemoArgs {
    /// Use this tar instead of a generated one.
    #[arg(long, value_name = "TAR")]
    input: Option<PathBuf>,
}

/// The demo's receiver: takes a stream and its sources from the Unix socket on stdin.
#[derive(Debug, Args)]
struct DemoReceiveArgs {
    /// Where to rebuild.
    out: PathBuf,
    /// The stream's format.
    #[arg(long, value_parser = parse_format, default_value = "v1")]
    format: Format,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Split(args) => {
            let Sidecars { fds, sizes } = args.sidecars;
            let dir = args.format == Format::Splitdirfdstream;
            if dir && (fds.is_some() || sizes.is_some()) {
                anyhow::bail!("--fds and --sizes are for the v1 format; a dir stream has --dirs");
            }
            if !dir && args.dirs.is_some() {
                anyhow::bail!("--dirs is for the dir format; a v1 stream has --fds");
            }
            let mut outputs =
                split::Outputs::new(&args.output, args.objects, fds, sizes).in_format(args.format);
            if let Some(dirs) = args.dirs {
                outputs.dirs = dirs;
            }
            split::run(&args.tar, &outputs, quiet)
        }
        Command::Join(args) => {
            let bundle = args.reading.open(&args.stream, &args.sidecars)?;
            let output = args.output.filter(|path| path.as_os_str() != "-");
            let durability = if args.no_sync {
                Durability::Unsynced
            } else {
                Durability::Synced
            };
            join::run(&bundle, output.as_deref(), durability, quiet)
        }
        Command::FromTarSplit(args) => {
            let dir = args.format == Format::Splitdirfdstream;
            if dir && (args.sidecars.fds.is_some() || args.sidecars.sizes.is_some()) {
                anyhow::bail!("--fds and --sizes are for the v1 format; a dir stream has --dirs");
            }
            if !dir && args.dirs.is_some() {
                anyhow::bail!("--dirs is for the dir format; a v1 stream has --fds");
            }
            let fds = args.sidecars.fd_list(&args.output);
            let sizes = args.sidecars.sizes_file(&args.output);
            let dirs = args
                .dirs
                .unwrap_or_else(|| dir_list::default_path(&args.output));
            let options = tarsplit::Options {
                root: &args.root,
                stream: &args.output,
                fds: &fds,
                sizes: &sizes,
                verify: !args.no_verify,
                format: args.format,
                dirs: &dirs,
            };
            tarsplit::run(&args.metadata, &options, quiet)
        }
        Command::Inspect(args) => inspect::run(&args.stream, args.json, args.format),
        Command::Verify(args) => {
            let bundle = args.reading.open(&args.stream, &args.sidecars)?;
            verify::run(&bundle, quiet)
        }
        Command::Convert(args) => {
            let bundle = args.reading.open(&args.stream, &args.sidecars)?;
            convert::run(
                &bundle,
                args.to,
                &args.output,
                args.objects.as_deref(),
                quiet,
            )
        }
        Command::Demo(args) => demo::run(args.input.as_deref(), quiet),
        Command::DemoReceive(args) => demo::receive(&args.out, args.format),
        Command::Delta(args) => update::delta(&args, quiet),
        Command::Apply(args) => update::apply(&args, quiet),
    }
}

/// Whether the error is a closed stdout (`inspect | head`): not worth a message.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, each separated by `: `, skipping a cause whose
/// text the line already ends with (an I/O error wrapped with its own message).
fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version exit 0; usage errors exit 2.
        Err(error) => error.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}
