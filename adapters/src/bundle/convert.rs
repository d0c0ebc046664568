//! A bundle converted to the other format: [`Bundle::convert`].

use ::std::collections::HashMap;
use ::std::ffi::OsStr;
use ::std::fs;
use ::std::io::{self, BufWriter};
use ::std::os::unix::ffi::OsStrExt;
use ::std::path::{Path, PathBuf};
use ::std::vec::Vec;

use splitfdstream::{dir, Chunk, Chunks, FdIndex};

use super::output::Durability;
use super::{with_suffix, Bundle, BundleError, BundleWriter, DirBundleWriter};
use crate::std::{DirWriter, Writer};
use crate::Format;

const WRITE_BUFFER: usize = 256 * 1024;

fn invalid(error: impl Into<Box<dyn ::std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl Bundle {
    /// Writes this bundle's stream in format `to` at `dest`, with its sidecar (`DEST.dirs`,
    /// or `DEST.fds` and `DEST.sizes`), referring to the same files: nothing is copied.
    /// Returns the number of entries of the new list (directories, or sources). The
    /// stream is read into memory.
    ///
    /// - To the successor format, directory 0 is `objects`, by default `STREAM.objects`
    ///   when it is a directory and else the directory of source 0; a source beneath it is
    ///   named relative to it, and a source elsewhere by its file name beneath its own
    ///   directory, which gets an entry of its own. Each file's length is its sizes-file
    ///   line, or its size now.
    /// - To the first format, each distinct (directory, name) becomes a source, the
    ///   directory's path joined with the name, and its declared length goes to the sizes
    ///   file. Empty InlineData chunks, which the first format cannot express, are
    ///   dropped; the rebuilt bytes are the same.
    ///
    /// Every file appears complete or not at all, the stream last ([`Output`](super::Output)).
    ///
    /// ```
    /// use splitfdstream_adapters::bundle::{Bundle, BundleWriter, Durability};
    /// use splitfdstream_adapters::std::Writer;
    /// use splitfdstream_adapters::Format;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let objects = dir.path().canonicalize()?.join("s.sfd.objects");
    /// std::fs::create_dir(&objects)?;
    /// std::fs::write(objects.join("member"), b"content")?;
    /// let mut bundle = BundleWriter::create(dir.path().join("s.sfd"))?;
    /// let mut stream = Writer::new(&mut bundle);
    /// stream.write_inline(b"<header>")?;
    /// stream.write_external(0)?;
    /// stream.finish()?;
    /// bundle.commit(&[objects.join("member")], &[7], Durability::Synced)?;
    ///
    /// let v1 = Bundle::open(dir.path().join("s.sfd"))?;
    /// v1.convert(Format::Splitdirfdstream, dir.path().join("s.sdfs"), None, Durability::Synced)?;
    /// assert_eq!(std::fs::read_to_string(dir.path().join("s.sdfs.dirs"))?, "s.sfd.objects\n");
    /// let mut rebuilt = Vec::new();
    /// Bundle::open_as(dir.path().join("s.sdfs"), None)?.rebuild_to_writer(&mut rebuilt)?;
    /// assert_eq!(rebuilt, b"<header>content");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BundleError::Stream`] when the stream cannot be read; [`BundleError::Convert`]
    /// when it is malformed or already in format `to`, a reference has no source, a
    /// source cannot be examined or named in the successor format, or a file is declared
    /// with two lengths; an error writing the new bundle, which then leaves nothing.
    pub fn convert(
        &self,
        to: Format,
        dest: impl AsRef<Path>,
        objects: Option<&Path>,
        durability: Durability,
    ) -> Result<usize, BundleError> {
        let stream = fs::read(self.stream()).map_err(|error| BundleError::Stream {
            path: self.stream().to_path_buf(),
            error,
        })?;
        let dest = dest.as_ref();
        match (self.format(), to) {
            (Format::Splitfdstream, Format::Splitdirfdstream) => {
                self.to_dirs(&stream, dest, objects, durability)
            }
            (Format::Splitdirfdstream, Format::Splitfdstream) => {
                self.to_v1(&stream, dest, durability)
            }
            _ => Err(self.convert_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                ::std::format!("the stream is already in the {to} format"),
            ))),
        }
    }

    fn convert_error(&self, error: io::Error) -> BundleError {
        BundleError::Convert {
            stream: self.stream().to_path_buf(),
            error,
        }
    }

    fn to_dirs(
        &self,
        stream: &[u8],
        dest: &Path,
        objects: Option<&Path>,
        durability: Durability,
    ) -> Result<usize, BundleError> {
        let mut bundle = DirBundleWriter::create(dest)?;
        let objects = objects
            .map(Path::to_path_buf)
            .or_else(|| Some(with_suffix(self.stream(), ".objects")).filter(|dir| dir.is_dir()))
            .or_else(|| {
                let first = self.source_path(FdIndex::new(0)?)?;
                first.parent().map(Path::to_path_buf)
            });
        let mut names = Names {
            dir_of: objects.iter().cloned().zip(0..).collect(),
            dirs: objects.into_iter().collect(),
            named: ::std::vec![None; self.source_count()],
        };
        let mut out = DirWriter::new(BufWriter::with_capacity(WRITE_BUFFER, &mut bundle));
        let written = (|| -> io::Result<()> {
            for chunk in Chunks::new(stream) {
                match chunk.map_err(invalid)? {
                    Chunk::Inline(fragment) => out.write_metadata(fragment.data)?,
                    Chunk::External(index) => {
                        let (dir, name, len) = names.of(self, index)?;
                        out.write_file_backed(dir, len, name)?;
                    }
                }
            }
            out.finish()?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            Ok(())
        })();
        written.map_err(|error| self.convert_error(error))?;
        let dirs = names
            .dirs
            .iter()
            .map(fs::canonicalize)
            .collect::<io::Result<Vec<PathBuf>>>()
            .map_err(|error| self.convert_error(error))?;
        bundle.commit(&dirs, durability)?;
        Ok(dirs.len())
    }

    fn to_v1(
        &self,
        stream: &[u8],
        dest: &Path,
        durability: Durability,
    ) -> Result<usize, BundleError> {
        let mut bundle = BundleWriter::create(dest)?;
        let mut dirs: HashMap<u32, PathBuf> = HashMap::new();
        let mut index_of: HashMap<(u32, Vec<u8>), u64> = HashMap::new();
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut sizes: Vec<u64> = Vec::new();
        let mut out = Writer::new(BufWriter::with_capacity(WRITE_BUFFER, &mut bundle));
        let written = (|| -> io::Result<()> {
            for chunk in dir::Chunks::new(stream) {
                match chunk.map_err(invalid)? {
                    dir::Chunk::Metadata(body) | dir::Chunk::InlineData(body) => {
                        out.write_inline(body.data)?;
                    }
                    dir::Chunk::FileBackedData(file) => {
                        let key = (file.dir_index, file.name.to_vec());
                        let index = match index_of.get(&key) {
                            Some(&index) => {
                                let known =
                                    usize::try_from(index).ok().and_then(|at| sizes.get(at));
                                if known != Some(&file.content_len) {
                                    return Err(invalid(::std::format!(
                                        "{} beneath directory {} is declared with two lengths",
                                        String::from_utf8_lossy(file.name),
                                        file.dir_index
                                    )));
                                }
                                index
                            }
                            None => {
                                let dir = match dirs.get(&file.dir_index) {
                                    Some(dir) => dir,
                                    None => {
                                        let path = FdIndex::new(u64::from(file.dir_index))
                                            .and_then(|at| self.source_path(at))
                                            .ok_or_else(|| {
                                                invalid(::std::format!(
                                                    "no directory {} in the directory list",
                                                    file.dir_index
                                                ))
                                            })?;
                                        let path = fs::canonicalize(path)?;
                                        dirs.entry(file.dir_index).or_insert(path)
                                    }
                                };
                                paths.push(dir.join(OsStr::from_bytes(file.name)));
                                sizes.push(file.content_len);
                                let index = u64::try_from(paths.len() - 1).map_err(invalid)?;
                                index_of.insert(key, index);
                                index
                            }
                        };
                        out.write_external(index)?;
                    }
                }
            }
            out.finish()?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            Ok(())
        })();
        written.map_err(|error| self.convert_error(error))?;
        bundle.commit(&paths, &sizes, durability)?;
        Ok(paths.len())
    }
}

/// The successor format's (directory, name, length) of each source of a first-format
/// bundle, worked out when first referenced.
struct Names {
    dirs: Vec<PathBuf>,
    dir_of: HashMap<PathBuf, u32>,
    named: Vec<Option<(u32, Vec<u8>, u64)>>,
}

impl Names {
    fn of(&mut self, bundle: &Bundle, index: FdIndex) -> io::Result<(u32, &[u8], u64)> {
        let missing = || {
            io::Error::new(
                io::ErrorKind::NotFound,
                ::std::format!("no source {} in the fd list", index.get()),
            )
        };
        let at = usize::try_from(index.get())
            .ok()
            .filter(|at| *at < self.named.len())
            .ok_or_else(missing)?;
        if self.named[at].is_none() {
            let path = bundle.source_path(index).ok_or_else(missing)?;
            let len = match bundle.expected_len(index) {
                Some(len) => len,
                None => fs::metadata(path)?.len(),
            };
            let beneath = self
                .dirs
                .first()
                .and_then(|objects| path.strip_prefix(objects).ok())
                .filter(|name| !name.as_os_str().is_empty());
            let (dir, name) = match beneath {
                Some(name) => (0, name.as_os_str().as_bytes().to_vec()),
                None => {
                    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                        return Err(invalid(::std::format!(
                            "source {} ({}) has no file name",
                            index.get(),
                            path.display()
                        )));
                    };
                    let dir = match self.dir_of.get(parent) {
                        Some(&dir) => dir,
                        None => {
                            let dir = u32::try_from(self.dirs.len()).map_err(invalid)?;
                            self.dirs.push(parent.to_path_buf());
                            self.dir_of.insert(parent.to_path_buf(), dir);
                            dir
                        }
                    };
                    (dir, name.as_bytes().to_vec())
                }
            };
            self.named[at] = Some((dir, name, len));
        }
        match &self.named[at] {
            Some((dir, name, len)) => Ok((*dir, name, *len)),
            None => Err(missing()),
        }
    }
}
