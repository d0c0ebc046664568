//! The directory list `STREAM.dirs` of a splitdirfdstream bundle: one directory per line,
//! line `i` naming directory index `i`, in the fd list's syntax ([`fd_list`]:
//! raw bytes, `\\` and `\n` the only escapes, relative to the list's directory).
//!
//! Which format a bundle is in follows from its sidecar: `STREAM.dirs` beside the stream
//! means the successor format, `STREAM.fds` the first ([`format_beside`]).
//!
//! ```
//! use splitfdstream_adapters::bundle::dir_list;
//! use splitfdstream_adapters::Format;
//!
//! let dir = tempfile::tempdir()?;
//! let stream = dir.path().join("layer.sdfs");
//! std::fs::write(&stream, b"")?;
//! assert_eq!(dir_list::format_beside(&stream), None);
//! dir_list::write(&dir_list::default_path(&stream), [&b"objects"[..], b"/srv/diff"])?
//!     .commit(splitfdstream_adapters::bundle::Durability::Unsynced)?;
//! assert_eq!(dir_list::format_beside(&stream), Some(Format::Splitdirfdstream));
//! let dirs = dir_list::read(&dir_list::default_path(&stream))?;
//! assert_eq!(dirs, [dir.path().join("objects"), "/srv/diff".into()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::std::path::{Path, PathBuf};
use ::std::vec::Vec;

use super::error::{BundleError, Sidecar};
use super::output::Output;
use super::{fd_list, with_suffix};
use crate::Format;

/// `STREAM.dirs`, where the directory list of `stream` is by default.
pub fn default_path(stream: &Path) -> PathBuf {
    with_suffix(stream, ".dirs")
}

/// The format of the bundle of `stream`, from the sidecar beside it: `STREAM.dirs` for the
/// successor format, `STREAM.fds` for the first; `None` when there is neither, or both.
pub fn format_beside(stream: &Path) -> Option<Format> {
    let dirs = default_path(stream).exists();
    let fds = fd_list::default_path(stream).exists();
    match (dirs, fds) {
        (true, false) => Some(Format::Splitdirfdstream),
        (false, true) => Some(Format::Splitfdstream),
        _ => None,
    }
}

/// Reads the list at `list` and resolves every entry against the list's directory.
///
/// # Errors
///
/// [`BundleError::Read`] when the list cannot be read, [`BundleError::Line`] for a
/// malformed line (both naming [`Sidecar::DirList`]).
pub fn read(list: &Path) -> Result<Vec<PathBuf>, BundleError> {
    fd_list::read_as(list, Sidecar::DirList)
}

/// Writes `dirs`, one per line, to `list` as an [`Output`] to commit.
///
/// # Errors
///
/// As [`fd_list::write`].
pub fn write<I>(list: &Path, dirs: I) -> Result<Output, BundleError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    fd_list::write(list, dirs)
}
