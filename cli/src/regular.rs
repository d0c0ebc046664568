//! Opening source files by the adapters' one source policy, and reading them to their end.
//!
//! A source is read to its end, so a FIFO would block the command forever and a character
//! device like `/dev/zero` would never end: every open goes through
//! [`open_path_source`] or [`Beneath`] (non-blocking, the type checked on the opened
//! descriptor, one wording for file types), and the command adds only that the files it
//! records must be regular files.

use std::fs::File;
use std::io;
use std::path::Path;

use anyhow::{bail, Context, Result};
use splitfdstream_adapters::std::{open_path_source, read_retrying};

/// Reads `file` (opened from `path`) to its end in large pieces, handing each to `each`;
/// returns the bytes read.
///
/// # Errors
///
/// A read fails for another reason than an interruption.
pub fn read_to_end_with(file: &mut File, path: &Path, mut each: impl FnMut(&[u8])) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let got = read_retrying(file, &mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if got == 0 {
            return Ok(size);
        }
        each(&buf[..got]);
        size += u64::try_from(got).unwrap_or(u64::MAX);
    }
}

/// Opens the source at `path` by the policy.
///
/// # Errors
///
/// The policy's: the path names neither a regular file nor a block device, or cannot be
/// opened; each error names the path.
pub fn open(path: &Path) -> io::Result<File> {
    open_path_source(path)
}

/// The root directory that tar-split members are opened beneath: confined by `openat2`,
/// through no symbolic link (a member must be named by its real path), regular files only.
#[derive(Debug)]
pub struct Beneath {
    dir: splitfdstream_adapters::std::Beneath,
}

impl Beneath {
    /// The root at `root`.
    ///
    /// # Errors
    ///
    /// The root cannot be opened.
    pub fn root(root: &Path) -> Result<Beneath> {
        let dir = splitfdstream_adapters::std::Beneath::open_dir(root)
            .with_context(|| format!("cannot open root directory {}", root.display()))?
            .following_symlinks(false);
        Ok(Beneath { dir })
    }

    /// The root at `root` for reading a member that a consumer of splitdirfdstream could
    /// not open by name: symbolic links and mounts are crossed, but only beneath the root.
    ///
    /// # Errors
    ///
    /// The root cannot be opened.
    pub fn root_crossing(root: &Path) -> Result<Beneath> {
        let dir = splitfdstream_adapters::std::Beneath::open_dir(root)
            .with_context(|| format!("cannot open root directory {}", root.display()))?
            .following_symlinks(true)
            .crossing_mounts(true);
        Ok(Beneath { dir })
    }

    /// Checks, without reading it, that `relative` is a regular file beneath the root.
    ///
    /// # Errors
    ///
    /// It is not, or leads outside the root; the error names `relative`.
    pub fn check(&self, relative: &Path) -> Result<()> {
        regular(self.dir.check(relative)?, relative)
    }

    /// Opens `relative` beneath the root, if it is a regular file.
    ///
    /// # Errors
    ///
    /// As [`check`](Beneath::check), or the open fails.
    pub fn open(&self, relative: &Path) -> Result<File> {
        let (file, size) = self.dir.open(relative)?;
        regular(size, relative)?;
        Ok(file)
    }
}

/// The policy's size is `None` for a block device, which a tar member never is.
fn regular(size: Option<u64>, relative: &Path) -> Result<()> {
    if size.is_none() {
        bail!(
            "{}: is a block device, not a regular file",
            relative.display()
        );
    }
    Ok(())
}
