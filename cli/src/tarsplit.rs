//! `from-tar-split`: containers-storage tar-split metadata becomes a stream whose external
//! sources are the layer's files on disk.
//!
//! The metadata is JSON lines, plain or compressed (gzip, zstd, xz, bzip2, LZ4). Type 2 entries (segments) carry
//! base64 raw tar bytes that go inline; type 1 entries (files) name a member whose `size`
//! content bytes are read from disk, with the base64 big-endian CRC-64 (Go's `crc64.ISO`
//! table) of that content as `payload`. Nothing is copied: the fd list points at the files.
//!
//! Member names are resolved beneath the root as for splitdirfdstream names: relative,
//! without `..`, opened with `openat2` and `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV`, never with an unconfined open. Symlinks are not followed at all
//! (`RESOLVE_NO_SYMLINKS`): tar-split names regular files by their real path in the layer,
//! and the fd list must record the very file that was checked, which a path through a
//! symlink would not be. A member must be a regular file; its path is recorded only after
//! these checks, and its size from the metadata goes to the sizes file.
//!
//! In the successor format (`--format dir`) the root is directory 0 and each member is
//! referenced by its name beneath it, after the same checks. A member the consumer could
//! not open by name (a name that is not UTF-8, which composefs refuses, or longer than the
//! format allows; a path through a symbolic link or into another file system) travels
//! inline instead, as containers-storage's producer sends it: read, and CRC-checked, through
//! an open that may follow such links and cross such mounts, but still only beneath the
//! root.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use serde::Deserialize;

use splitfdstream::dir::check_name;
use splitfdstream_adapters::bundle::{BundleWriter, DirBundleWriter, Durability};
use splitfdstream_adapters::decompress::Decompressed;
use splitfdstream_adapters::Format;

use crate::progress::Progress;
use crate::regular::{self, Beneath};
use crate::stream::StreamWriter;

/// The checksum tar-split records for file contents.
const CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_GO_ISO);

const READ_BUFFER: usize = 1 << 20;
const SEGMENT: u8 = 2;
const FILE: u8 = 1;

/// One line of tar-split metadata.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: u8,
    name: Option<String>,
    name_raw: Option<String>,
    #[serde(default)]
    size: u64,
    payload: Option<String>,
}

/// What a conversion did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Segments read.
    pub segments: u64,
    /// File entries read (including empty ones).
    pub files: u64,
    /// Distinct files referenced.
    pub sources: u64,
    /// Bytes of the tar the stream rebuilds.
    pub tar_bytes: u64,
    /// Bytes of file content checked against the metadata's CRC-64.
    pub verified_bytes: u64,
    /// Members sent inline (successor format only).
    pub inline_members: u64,
}

/// Options of a conversion.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    /// Directory the member names are relative to.
    pub root: &'a Path,
    /// Where the stream goes.
    pub stream: &'a Path,
    /// Where the fd list goes.
    pub fds: &'a Path,
    /// Where the sizes file goes.
    pub sizes: &'a Path,
    /// Check each file's size and CRC-64.
    pub verify: bool,
    /// The stream's format.
    pub format: Format,
    /// Where the directory list goes (successor format).
    pub dirs: &'a Path,
}

/// Converts the metadata at `metadata`.
///
/// # Errors
///
/// The metadata cannot be read or parsed, a file is missing, or (when verifying) a file's
/// size or CRC-64 differs from the metadata; or an output cannot be written.
pub fn convert(metadata: &Path, options: &Options<'_>, progress: &Progress) -> Result<Report> {
    let file =
        File::open(metadata).with_context(|| format!("cannot open {}", metadata.display()))?;
    let lines = BufReader::with_capacity(
        READ_BUFFER,
        Decompressed::new(file).with_context(|| format!("cannot read {}", metadata.display()))?,
    );
    let root = std::fs::canonicalize(options.root)
        .with_context(|| format!("cannot open root directory {}", options.root.display()))?;
    let beneath = Beneath::root(&root)?;
    let dir = options.format == Format::Splitdirfdstream;
    let (mut v1, mut successor) = if dir {
        let bundle = DirBundleWriter::create_with(options.stream, Some(options.dirs))?;
        (None, Some(bundle))
    } else {
        let bundle =
            BundleWriter::create_with(options.stream, Some(options.fds), Some(options.sizes))?;
        (Some(bundle), None)
    };
    let out: &mut dyn io::Write = match (&mut v1, &mut successor) {
        (Some(bundle), _) => bundle,
        (_, Some(bundle)) => bundle,
        (None, None) => bail!("no bundle to write"),
    };
    let buffered = BufWriter::with_capacity(READ_BUFFER, out);
    let mut writer = if dir {
        StreamWriter::dir(buffered)
    } else {
        StreamWriter::new(buffered)
    };
    let crossing = if dir {
        Some(Beneath::root_crossing(&root)?)
    } else {
        None
    };
    let mut converter = Converter {
        root,
        beneath,
        crossing,
        verify: options.verify,
        index_of: HashMap::new(),
        entries: Vec::new(),
        sizes: Vec::new(),
        checked: HashMap::new(),
        report: Report::default(),
        progress,
    };
    converter
        .read_lines(lines, &mut writer)
        .with_context(|| format!("in {}", metadata.display()))?;
    let (buffered, _) = writer.finish().context("cannot write the stream")?;
    buffered
        .into_inner()
        .map_err(|error| error.into_error())
        .context("cannot write the stream")?;
    if let Some(bundle) = v1 {
        bundle.commit(&converter.entries, &converter.sizes, Durability::Synced)?;
    } else if let Some(bundle) = successor {
        bundle.commit(&[&converter.root], Durability::Synced)?;
    }
    Ok(converter.report)
}

struct Converter<'a> {
    /// The canonical root, for the paths the fd list records.
    root: PathBuf,
    /// The root, opened once, that every member is resolved beneath.
    beneath: Beneath,
    /// For the successor format: the root again, for reading members sent inline.
    crossing: Option<Beneath>,
    verify: bool,
    /// Index of each distinct relative name.
    index_of: HashMap<PathBuf, u64>,
    /// Source paths by index.
    entries: Vec<PathBuf>,
    /// Source sizes by index, from the metadata.
    sizes: Vec<u64>,
    /// Size and CRC-64 computed per file, so a file named twice is read once.
    checked: HashMap<PathBuf, (u64, u64)>,
    report: Report,
    progress: &'a Progress,
}

impl Converter<'_> {
    fn read_lines(
        &mut self,
        mut lines: impl BufRead,
        writer: &mut StreamWriter<impl io::Write>,
    ) -> Result<()> {
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            number += 1;
            let got = lines
                .read_until(b'\n', &mut line)
                .context("cannot read the metadata")?;
            if got == 0 {
                return Ok(());
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_slice(&line)
                .with_context(|| format!("line {number}: not a tar-split entry"))?;
            self.entry(entry, writer)
                .with_context(|| format!("line {number}"))?;
        }
    }

    fn entry(&mut self, entry: Entry, writer: &mut StreamWriter<impl io::Write>) -> Result<()> {
        match entry.kind {
            SEGMENT => {
                let bytes = match &entry.payload {
                    Some(payload) => base64::engine::general_purpose::STANDARD
                        .decode(payload)
                        .context("segment payload is not base64")?,
                    None => Vec::new(),
                };
                self.report.segments += 1;
                let len = u64::try_from(bytes.len()).unwrap_or(0);
                self.report.tar_bytes = self.report.tar_bytes.saturating_add(len);
                writer.inline(&bytes).context("cannot write the stream")
            }
            FILE => {
                self.report.files += 1;
                if entry.size == 0 {
                    return Ok(());
                }
                let name = match (&entry.name_raw, &entry.name) {
                    (Some(raw), _) => base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .context("name_raw is not base64")?,
                    (None, Some(name)) => name.as_bytes().to_vec(),
                    (None, None) => bail!("file entry without a name"),
                };
                let relative = member_path(&name)?;
                let path = self.root.join(&relative);
                if self.crossing.is_some() {
                    self.report.tar_bytes = self.report.tar_bytes.saturating_add(entry.size);
                    return self.named(&name, &relative, &path, &entry, writer);
                }
                let index = match self.index_of.get(&relative) {
                    Some(&index) => {
                        let known = usize::try_from(index)
                            .ok()
                            .and_then(|at| self.sizes.get(at).copied());
                        if known != Some(entry.size) {
                            bail!(
                                "{} is named again with {} bytes, after {} bytes",
                                path.display(),
                                entry.size,
                                known.unwrap_or(0)
                            );
                        }
                        index
                    }
                    None => {
                        // Only a file found beneath the root, as a regular file, is ever
                        // recorded in the fd list.
                        if self.verify {
                            self.check(&relative, &path, entry.size, entry.payload.as_deref())?;
                        } else {
                            self.beneath.check(&relative)?;
                        }
                        let index = u64::try_from(self.entries.len()).unwrap_or(u64::MAX);
                        self.index_of.insert(relative, index);
                        self.entries.push(path);
                        self.sizes.push(entry.size);
                        self.report.sources += 1;
                        index
                    }
                };
                self.report.tar_bytes = self.report.tar_bytes.saturating_add(entry.size);
                writer.external(index).context("cannot write the stream")
            }
            other => bail!("unknown entry type {other}"),
        }
    }

    /// A member of a successor-format stream: referenced by name when the consumer can
    /// open it so, else sent inline.
    fn named(
        &mut self,
        name: &[u8],
        relative: &Path,
        path: &Path,
        entry: &Entry,
        writer: &mut StreamWriter<impl io::Write>,
    ) -> Result<()> {
        let name_bytes = relative.as_os_str().as_bytes();
        let by_name = std::str::from_utf8(name).is_ok()
            && check_name(name_bytes).is_ok()
            && self.beneath.check(relative).is_ok();
        if by_name {
            if self.verify {
                self.check(relative, path, entry.size, entry.payload.as_deref())?;
            }
            self.report.sources += 1;
            return writer
                .file_backed(0, entry.size, name_bytes)
                .context("cannot write the stream");
        }
        let Some(crossing) = &self.crossing else {
            bail!("no root to read {} from", path.display());
        };
        let mut file = crossing.open(relative)?;
        let mut digest = CRC64.digest();
        let progress = self.progress;
        writer
            .inline_data_from(entry.size, &mut file, |piece| {
                digest.update(piece);
                progress.inc(piece.len());
            })
            .with_context(|| format!("cannot send {} inline", path.display()))?;
        self.report.inline_members += 1;
        if self.verify {
            self.report.verified_bytes += entry.size;
            expect_crc(digest.finalize(), entry.payload.as_deref(), path)?;
        }
        Ok(())
    }

    fn check(
        &mut self,
        relative: &Path,
        path: &Path,
        size: u64,
        payload: Option<&str>,
    ) -> Result<()> {
        let (actual_size, crc) = match self.checked.get(path) {
            Some(&known) => known,
            None => {
                let file = self.beneath.open(relative)?;
                let computed = crc_of(file, path, self.progress)?;
                self.checked.insert(path.to_path_buf(), computed);
                self.report.verified_bytes += computed.0;
                computed
            }
        };
        ensure!(
            actual_size == size,
            "{} is {actual_size} bytes, the metadata says {size}",
            path.display()
        );
        expect_crc(crc, payload, path)
    }
}

/// Checks the CRC-64 of the content of `path` against the metadata's `payload`.
fn expect_crc(crc: u64, payload: Option<&str>, path: &Path) -> Result<()> {
    let Some(payload) = payload else {
        bail!(
            "no CRC-64 recorded for {}; use --no-verify to accept it unchecked",
            path.display()
        );
    };
    let expected = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .context("file payload is not base64")?;
    let expected: [u8; 8] = expected.try_into().map_err(|bytes: Vec<u8>| {
        anyhow::anyhow!(
            "file payload is {} bytes, not an 8-byte CRC-64",
            bytes.len()
        )
    })?;
    let expected = u64::from_be_bytes(expected);
    ensure!(
        crc == expected,
        "CRC-64 mismatch for {}: the metadata says {expected:016x}, the file has {crc:016x}",
        path.display()
    );
    Ok(())
}

/// A member name as a path relative to the root: `.` and empty components dropped; an
/// absolute name or a `..` component refused, as they name something outside the root.
fn member_path(name: &[u8]) -> Result<PathBuf> {
    let display = String::from_utf8_lossy(name);
    ensure!(
        !name.contains(&0),
        "member name {display:?} contains a NUL byte"
    );
    ensure!(
        !name.starts_with(b"/"),
        "member name {display:?} is absolute; names are relative to the root directory"
    );
    let mut relative = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(name)).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                bail!("member name {display:?} leaves the root directory")
            }
        }
    }
    ensure!(
        !relative.as_os_str().is_empty(),
        "member name {display:?} names no file"
    );
    Ok(relative)
}

/// The size and CRC-64 of the content of `file`, opened from `path`.
fn crc_of(mut file: File, path: &Path, progress: &Progress) -> Result<(u64, u64)> {
    let mut digest = CRC64.digest();
    let size = regular::read_to_end_with(&mut file, path, |piece| {
        digest.update(piece);
        progress.inc(piece.len());
    })?;
    Ok((size, digest.finalize()))
}

/// The `from-tar-split` command.
///
/// # Errors
///
/// As [`convert`].
pub fn run(metadata: &Path, options: &Options<'_>, quiet: bool) -> Result<()> {
    let progress = Progress::new(quiet, "verify", None);
    let report = convert(metadata, options, &progress)
        .with_context(|| format!("cannot convert {}", metadata.display()))?;
    progress.finish();
    if !quiet {
        eprintln!(
            "{} segments and {} file entries: a {}-byte tar from {} files under {}{}",
            report.segments,
            report.files,
            report.tar_bytes,
            report.sources,
            options.root.display(),
            if options.verify {
                format!(
                    " ({} bytes verified against their CRC-64)",
                    report.verified_bytes
                )
            } else {
                " (not verified)".to_owned()
            },
        );
        if options.format == Format::Splitdirfdstream {
            eprintln!(
                "{} members named beneath directory 0, {} sent inline",
                report.sources, report.inline_members
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_go_iso() {
        // tar-split's payload for the 6-byte content "hello\n".
        let payload = base64::engine::general_purpose::STANDARD
            .decode("YUw+7uLYEAA=")
            .unwrap();
        let expected = u64::from_be_bytes(payload.try_into().unwrap());
        assert_eq!(CRC64.checksum(b"hello\n"), expected);
    }

    #[test]
    fn member_names_stay_beneath_the_root() {
        assert_eq!(
            member_path(b"./etc/passwd").unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(
            member_path(b"abs//x/./y").unwrap(),
            PathBuf::from("abs/x/y")
        );
        assert!(member_path(b"/abs/x").is_err());
        assert_eq!(
            member_path(b"a\xffb").unwrap(),
            PathBuf::from(OsStr::from_bytes(b"a\xffb"))
        );
        assert!(member_path(b"../x").is_err());
        assert!(member_path(b"a/../../x").is_err());
        assert!(member_path(b"./").is_err());
    }
}
