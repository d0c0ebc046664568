//! What can go wrong with a bundle, naming the file (and, for the sidecars, the line).

use ::std::fmt;
use ::std::io;
use ::std::path::{Path, PathBuf};

/// One of the files beside a stream.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sidecar {
    /// `STREAM.fds`: the path of each source.
    FdList,
    /// `STREAM.sizes`: the size of each source.
    Sizes,
    /// `STREAM.dirs`: the directory of each index, for the successor format.
    DirList,
}

impl fmt::Display for Sidecar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sidecar::FdList => "fd list",
            Sidecar::Sizes => "sizes file",
            Sidecar::DirList => "directory list",
        })
    }
}

/// What is wrong with one line of a sidecar.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineProblem {
    /// An fd list line with no path.
    EmptyPath,
    /// A backslash followed by this byte, which is neither `\` nor `n`.
    UnknownEscape(u8),
    /// A backslash at the end of a line.
    LoneBackslash,
    /// A sizes line with no digits.
    EmptySize,
    /// A sizes line holding something other than decimal digits.
    NotASize,
    /// A size above `u64::MAX`.
    SizeTooLarge,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LineProblem::EmptyPath => f.write_str("empty path"),
            LineProblem::UnknownEscape(byte) => write!(
                f,
                "unknown escape `\\{}` (only `\\\\` and `\\n` are allowed)",
                char::from(byte).escape_default()
            ),
            LineProblem::LoneBackslash => f.write_str("path ends with a lone backslash"),
            LineProblem::EmptySize => f.write_str("empty line, not a size in bytes"),
            LineProblem::NotASize => {
                f.write_str("not a size in bytes (decimal digits only are allowed)")
            }
            LineProblem::SizeTooLarge => f.write_str("size out of range (above 2^64 - 1)"),
        }
    }
}

/// A malformed line: its number (from 1) and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineError {
    line: u64,
    problem: LineProblem,
}

impl LineError {
    pub(crate) fn new(index: usize, problem: LineProblem) -> LineError {
        let line = u64::try_from(index).map_or(u64::MAX, |index| index.saturating_add(1));
        LineError { line, problem }
    }

    /// The line's number, counting from 1.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What is wrong with it.
    pub fn problem(&self) -> LineProblem {
        self.problem
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl ::std::error::Error for LineError {}

/// The step at which an [`Output`](super::Output) failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputStep {
    /// Creating the temporary file (or opening a FIFO or device to write in place).
    Create,
    /// Writing it to disk.
    Sync,
    /// Giving it its final name.
    Place,
}

/// An output that could not be created or put in place. Nothing is left behind: the
/// temporary file is gone and the destination holds what it held before.
#[derive(Debug)]
pub struct OutputError {
    path: PathBuf,
    step: OutputStep,
    error: io::Error,
}

impl OutputError {
    pub(crate) fn new(path: &Path, step: OutputStep, error: io::Error) -> OutputError {
        OutputError {
            path: path.to_path_buf(),
            step,
            error,
        }
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The step that failed.
    pub fn step(&self) -> OutputStep {
        self.step
    }

    /// The underlying error.
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.step {
            OutputStep::Create => write!(f, "cannot create {path}"),
            OutputStep::Sync => write!(f, "cannot write {path} to disk"),
            OutputStep::Place => write!(f, "cannot rename into {path}"),
        }
    }
}

impl ::std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<OutputError> for io::Error {
    fn from(error: OutputError) -> io::Error {
        io::Error::new(error.error.kind(), error)
    }
}

/// A bundle that cannot be read, written or rebuilt.
///
/// Every variant names the file at fault; [`Display`](fmt::Display) says what went wrong
/// in one lowercase phrase and [`source`](::std::error::Error::source) gives the cause.
#[non_exhaustive]
#[derive(Debug)]
pub enum BundleError {
    /// The stream cannot be opened.
    Stream {
        /// The stream's path.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A sidecar cannot be read.
    Read {
        /// Which one.
        file: Sidecar,
        /// Its path.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A sidecar holds a malformed line.
    Line {
        /// Which one.
        file: Sidecar,
        /// Its path.
        path: PathBuf,
        /// The line and what is wrong with it.
        error: LineError,
    },
    /// The sizes file and the fd list disagree on the number of sources.
    Count {
        /// The sizes file.
        sizes: PathBuf,
        /// Its number of lines.
        sizes_lines: usize,
        /// The fd list.
        fd_list: PathBuf,
        /// Its number of entries.
        entries: usize,
    },
    /// An output (the rebuilt bytes, or a file of a bundle being written) failed.
    Output(OutputError),
    /// Writing a file of a bundle failed.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// Reconstruction failed: the stream is malformed, a source is missing, unreadable or
    /// of the wrong size, or writing the output failed: the driver's typed error says
    /// which, and where.
    Rebuild {
        /// The stream's path.
        stream: PathBuf,
        /// The driver's error.
        error: crate::std::Error,
    },
    /// Conversion to the other format failed: the stream is malformed, or a source is
    /// missing, cannot be named in the other format, or cannot be examined.
    Convert {
        /// The stream's path.
        stream: PathBuf,
        /// Why.
        error: io::Error,
    },
}

fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Stream { path, .. } => write!(f, "cannot open {}", path.display()),
            BundleError::Read { file, path, .. } => {
                write!(f, "cannot read {file} {}", path.display())
            }
            BundleError::Line { file, path, .. } => {
                write!(f, "invalid {file} {}", path.display())
            }
            BundleError::Count {
                sizes,
                sizes_lines,
                fd_list,
                entries,
            } => write!(
                f,
                "the sizes file {} has {sizes_lines} {}, the fd list {} has {entries} {}",
                sizes.display(),
                plural(*sizes_lines, "line", "lines"),
                fd_list.display(),
                plural(*entries, "entry", "entries"),
            ),
            BundleError::Output(error) => error.fmt(f),
            BundleError::Write { path, .. } => write!(f, "cannot write {}", path.display()),
            BundleError::Rebuild { stream, .. } => write!(f, "cannot rebuild {}", stream.display()),
            BundleError::Convert { stream, .. } => write!(f, "cannot convert {}", stream.display()),
        }
    }
}

impl ::std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
        match self {
            BundleError::Stream { error, .. }
            | BundleError::Read { error, .. }
            | BundleError::Write { error, .. }
            | BundleError::Convert { error, .. } => Some(error),
            BundleError::Rebuild { error, .. } => Some(error),
            BundleError::Line { error, .. } => Some(error),
            BundleError::Output(error) => error.source(),
            BundleError::Count { .. } => None,
        }
    }
}

impl From<OutputError> for BundleError {
    fn from(error: OutputError) -> BundleError {
        BundleError::Output(error)
    }
}

impl From<BundleError> for io::Error {
    fn from(error: BundleError) -> io::Error {
        let kind = match &error {
            BundleError::Stream { error, .. }
            | BundleError::Read { error, .. }
            | BundleError::Write { error, .. }
            | BundleError::Convert { error, .. } => error.kind(),
            BundleError::Rebuild { error, .. } => error.kind(),
            BundleError::Output(error) => error.io_error().kind(),
            BundleError::Line { .. } | BundleError::Count { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}
