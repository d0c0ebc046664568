//! Opening source files, which must be regular files.
//!
//! A source is read to its end, so a FIFO would block the command forever and a character
//! device like `/dev/zero` would never end. Every open here is non-blocking (a FIFO's open
//! returns at once), checks the file's type before opening where it can, and checks the
//! opened file's type and identity after.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

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
        let got = match file.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(got) => got,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()))
            }
        };
        each(&buf[..got]);
        size += u64::try_from(got).unwrap_or(u64::MAX);
    }
}

/// Opens `path` for reading, refusing anything but a regular file.
///
/// # Errors
///
/// The file cannot be opened, is not a regular file, or was replaced between the check and
/// the open.
pub fn open(path: &Path) -> Result<File> {
    let before = fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    if !before.is_file() {
        bail!(
            "{} is {}, not a regular file",
            path.display(),
            describe(FileType::from_raw_mode(before.mode()))
        );
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let after = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    if !after.is_file() || after.dev() != before.dev() || after.ino() != before.ino() {
        bail!("{} was replaced while being opened", path.display());
    }
    Ok(file)
}

/// The root directory that member names are resolved beneath.
#[derive(Debug)]
pub struct Beneath {
    dir: OwnedFd,
}

/// `RESOLVE_BENEATH` keeps the walk under the root (`..` and absolute symlinks included);
/// symlinks are not followed at all, so the path recorded for a member is the file opened.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV)
    .union(ResolveFlags::NO_SYMLINKS);

/// The same, following symlinks that stay beneath the root: only to explain a refusal.
const RESOLVE_FOLLOWING: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

/// What the kernel's path walk said.
enum Walk {
    Opened(OwnedFd),
    Failed(Errno),
}

impl Beneath {
    /// Opens the directory `root`.
    ///
    /// # Errors
    ///
    /// `root` cannot be opened or is not a directory.
    pub fn root(root: &Path) -> Result<Beneath> {
        let dir = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)
        .with_context(|| format!("cannot open root directory {}", root.display()))?;
        Ok(Beneath { dir })
    }

    fn walk(&self, relative: &Path, flags: OFlags, resolve: ResolveFlags) -> Result<Walk> {
        // The kernel asks to retry when a rename raced the walk.
        for _ in 0..8 {
            match rustix::fs::openat2(&self.dir, relative, flags, Mode::empty(), resolve) {
                Ok(fd) => return Ok(Walk::Opened(fd)),
                Err(Errno::AGAIN | Errno::INTR) => {}
                Err(Errno::NOSYS) => bail!(
                    "this kernel has no openat2 (Linux 5.6 or later), which is needed to open files safely beneath the root"
                ),
                Err(errno) => return Ok(Walk::Failed(errno)),
            }
        }
        Ok(Walk::Failed(Errno::AGAIN))
    }

    /// Confirms that `relative` names a regular file beneath the root, reached without
    /// leaving it, crossing a mount or following a symlink, without opening the file itself.
    ///
    /// # Errors
    ///
    /// It does not, or the walk fails; the error names `shown`.
    pub fn check(&self, relative: &Path, shown: &Path) -> Result<()> {
        let fd = self.resolve(relative, shown, OFlags::PATH | OFlags::CLOEXEC)?;
        regular(&fd, shown)?;
        Ok(())
    }

    /// Opens `relative` for reading, as [`check`](Beneath::check) requires, without blocking
    /// on a FIFO; the file is checked before it is opened and after.
    ///
    /// # Errors
    ///
    /// As [`check`](Beneath::check), or it cannot be opened or was replaced meanwhile.
    pub fn open(&self, relative: &Path, shown: &Path) -> Result<File> {
        let path_only = self.resolve(relative, shown, OFlags::PATH | OFlags::CLOEXEC)?;
        let before = regular(&path_only, shown)?;
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = self.resolve(relative, shown, flags)?;
        let after = regular(&fd, shown)?;
        if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino) {
            bail!("{} was replaced while being opened", shown.display());
        }
        Ok(File::from(fd))
    }

    fn resolve(&self, relative: &Path, shown: &Path, flags: OFlags) -> Result<OwnedFd> {
        let errno = match self.walk(relative, flags, RESOLVE)? {
            Walk::Opened(fd) => return Ok(fd),
            Walk::Failed(errno) => errno,
        };
        match errno {
            Errno::XDEV => bail!(
                "{} lies outside the root directory or on another file system",
                shown.display()
            ),
            Errno::LOOP => {
                // A symlink on the way: say whether it would even have stayed beneath.
                let path_only = OFlags::PATH | OFlags::CLOEXEC;
                match self.walk(relative, path_only, RESOLVE_FOLLOWING)? {
                    Walk::Failed(Errno::XDEV) => bail!(
                        "{} leads outside the root directory through a symbolic link",
                        shown.display()
                    ),
                    _ => bail!(
                        "{} is reached through a symbolic link; member files must be named by their real path",
                        shown.display()
                    ),
                }
            }
            errno => Err(io::Error::from(errno))
                .with_context(|| format!("cannot open {}", shown.display())),
        }
    }
}

/// The opened file's status, if it is a regular file.
fn regular(fd: &impl AsFd, shown: &Path) -> Result<rustix::fs::Stat> {
    let stat = rustix::fs::fstat(fd)
        .map_err(io::Error::from)
        .with_context(|| format!("cannot stat {}", shown.display()))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        bail!(
            "{} is {}, not a regular file",
            shown.display(),
            describe(kind)
        );
    }
    Ok(stat)
}

fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "of an unknown type",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_fifos() {
        let error = open(Path::new("/dev/zero")).unwrap_err();
        assert!(
            format!("{error:#}").contains("a character device, not a regular file"),
            "{error:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let error = open(&fifo).unwrap_err();
        assert!(format!("{error:#}").contains("a FIFO"), "{error:#}");
        let beneath = Beneath::root(dir.path()).unwrap();
        let error = beneath
            .open(Path::new("fifo"), Path::new("fifo"))
            .unwrap_err();
        assert!(format!("{error:#}").contains("a FIFO"), "{error:#}");
    }

    #[test]
    fn opens_regular_files_beneath_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("esc")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("inside")).unwrap();
        let beneath = Beneath::root(dir.path()).unwrap();
        assert!(beneath.open(Path::new("sub/f"), Path::new("sub/f")).is_ok());
        beneath
            .check(Path::new("sub/f"), Path::new("sub/f"))
            .unwrap();
        let error = beneath
            .check(Path::new("esc/hostname"), Path::new("esc/hostname"))
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("outside the root directory"),
            "{error:#}"
        );
        let error = beneath
            .open(Path::new("inside/f"), Path::new("inside/f"))
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("through a symbolic link"),
            "{error:#}"
        );
        let error = beneath
            .check(Path::new("sub"), Path::new("sub"))
            .unwrap_err();
        assert!(format!("{error:#}").contains("a directory"), "{error:#}");
    }
}
