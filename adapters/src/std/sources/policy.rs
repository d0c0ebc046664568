//! The one way a path becomes an external source, for every path source of the crate
//! ([`PathSources`](super::PathSources), its read-ahead helpers) and for the command.
//!
//! - Opened read-only, close-on-exec and non-blocking, so that a FIFO put where a source
//!   should be is refused at once rather than waited on (a blocking open of a FIFO waits
//!   for a writer forever); on Linux also without updating the access time where the
//!   owner allows it, and never as a controlling terminal.
//! - The type is checked on the opened descriptor (`fstat`), never only on the path: a
//!   source must be a regular file or a block device. A character device such as
//!   `/dev/zero` never ends; a directory cannot be read.
//! - Where the caller looked at the path first, the opened file must be the same one
//!   (device and inode).
//! - Files handed on for reading are blocking again.
//! - Every error names the path, with one wording for file types ([`describe`]).

use ::std::fs::File;
use ::std::io;
use ::std::path::Path;

/// `error` with `path` in front.
pub(crate) fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), ::std::format!("{}: {error}", path.display()))
}

/// Opens the file at `path` as an external source, by the crate's one source policy
/// (see the module docs): read-only, close-on-exec, non-blocking, then checked on the
/// opened descriptor to be a regular file or a block device, and blocking again.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let fifo = dir.path().join("fifo");
/// assert!(std::process::Command::new("mkfifo").arg(&fifo).status()?.success());
/// // Refused at once: a blocking open would wait for a writer forever.
/// let error = splitfdstream_adapters::std::open_path_source(&fifo).unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(error.to_string().ends_with(
///     "fifo: is a FIFO; a path source must be a regular file or a block device"
/// ));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// `InvalidInput` naming the path and what it is, when it is neither a regular file nor a
/// block device; the errors of `open` and `fstat`, naming the path.
pub fn open_path_source(path: &Path) -> io::Result<File> {
    let (file, _) = Opener::new().open(path)?;
    Ok(file.into_blocking())
}

#[cfg(target_os = "linux")]
pub use beneath::Beneath;
#[cfg(unix)]
pub use unix::describe_mode;
#[cfg(unix)]
pub(crate) use unix::{Opener, Result};

/// A file opened by the policy, still non-blocking.
#[derive(Debug)]
pub(crate) struct Opened {
    file: File,
}

impl Opened {
    /// The open file, still non-blocking (reads of regular files and block devices never
    /// wait either way).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The file with blocking reads again, for kernel copies; if that fails, a read that
    /// would block reports `EAGAIN` rather than hanging.
    pub(crate) fn into_blocking(self) -> File {
        #[cfg(unix)]
        if let Ok(flags) = rustix::fs::fcntl_getfl(&self.file) {
            let flags = flags.difference(rustix::fs::OFlags::NONBLOCK);
            let _ = rustix::fs::fcntl_setfl(&self.file, flags);
        }
        self.file
    }
}

#[cfg(not(unix))]
pub(crate) use other::Opener;

/// The refusal of a file that is not a source, naming `path` and what it is.
fn not_a_source(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        ::std::format!(
            "{}: is {what}; a path source must be a regular file or a block device",
            path.display()
        ),
    )
}

#[cfg(unix)]
mod unix {
    use ::std::fs::File;
    use ::std::io;
    use ::std::os::fd::OwnedFd;
    use ::std::path::{Path, PathBuf};
    use ::std::vec::Vec;

    use rustix::fs::{FileType, Mode, OFlags, RawMode};
    use rustix::io::Errno;

    #[cfg(all(feature = "fd", target_os = "linux"))]
    use crate::fd::sys::OpenRing;

    use super::{named, not_a_source};

    /// What a file of `mode` (`st_mode`) is, in words, for error messages: the crate's one
    /// wording, shared with the command.
    pub fn describe_mode(mode: RawMode) -> &'static str {
        match FileType::from_raw_mode(mode) {
            FileType::RegularFile => "a regular file",
            FileType::BlockDevice => "a block device",
            FileType::CharacterDevice => "a character device",
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::Directory => "a directory",
            FileType::Symlink => "a symbolic link",
            _ => "not a regular file",
        }
    }

    use super::Opened;

    /// An opened file with a regular file's size (`None` for a block device), or the
    /// error of opening it.
    pub(crate) type Result = io::Result<(Opened, Option<u64>)>;

    /// Opens files by the policy, relative to the directory of the last one when they
    /// share it (looked up once for a run of names in one directory), and, where the
    /// kernel allows it, in groups with one `io_uring_enter`.
    pub(crate) struct Opener {
        dir: Option<(PathBuf, OwnedFd)>,
        flags: OFlags,
        #[cfg(all(feature = "fd", target_os = "linux"))]
        ring: Option<OpenRing>,
    }

    impl Opener {
        pub(crate) fn new() -> Opener {
            let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
            #[cfg(target_os = "linux")]
            let flags = flags | OFlags::NOATIME;
            Opener {
                dir: None,
                flags,
                #[cfg(all(feature = "fd", target_os = "linux"))]
                ring: None,
            }
        }

        /// Opens files in groups of up to `group` through an `io_uring`, where there is
        /// one (the `fd` feature, Linux 5.18 or later).
        pub(crate) fn use_io_uring(&mut self, group: usize) {
            #[cfg(all(feature = "fd", target_os = "linux"))]
            {
                self.ring = u32::try_from(group.max(1)).ok().and_then(OpenRing::new);
            }
            #[cfg(not(all(feature = "fd", target_os = "linux")))]
            let _ = group;
        }

        /// Opens `path` and checks what it is; returns it with a regular file's size.
        /// Every error names the path.
        pub(crate) fn open(&mut self, path: &Path) -> Result {
            let fd = self.open_fd(path).map_err(|error| named(path, error))?;
            checked(File::from(fd), path)
        }

        /// Opens each of `paths` as [`open`](Opener::open) does, those in one directory
        /// with one system call where the kernel allows it.
        pub(crate) fn open_many(&mut self, paths: &[PathBuf]) -> Vec<Result> {
            let mut opened = Vec::with_capacity(paths.len());
            let mut at = 0;
            while let Some(rest) = paths.get(at..).filter(|rest| !rest.is_empty()) {
                #[cfg(all(feature = "fd", target_os = "linux"))]
                if let Some(run) = self.open_run(rest) {
                    at += run.len();
                    opened.extend(run);
                    continue;
                }
                opened.push(self.open(&rest[0]));
                at += 1;
            }
            opened
        }

        /// Opens the first of `paths` and those right after it in the same directory, as
        /// many as the ring takes, with one `io_uring_enter`; `None` when the ring cannot
        /// (there is none, the first path has no directory part, or the ring failed).
        #[cfg(all(feature = "fd", target_os = "linux"))]
        fn open_run(&mut self, paths: &[PathBuf]) -> Option<Vec<Result>> {
            use ::std::ffi::CString;
            use ::std::os::fd::AsFd as _;
            use ::std::os::unix::ffi::OsStrExt as _;

            let capacity = self.ring.as_ref()?.capacity();
            let (parent, _) = split(paths.first()?)?;
            let mut names = Vec::new();
            for path in paths.iter().take(capacity) {
                match split(path) {
                    Some((dir, name)) if dir.as_os_str() == parent.as_os_str() => {
                        match CString::new(name.as_os_str().as_bytes()) {
                            Ok(name) => names.push(name),
                            Err(_) => break,
                        }
                    }
                    _ => break,
                }
            }
            if names.is_empty() || !self.enter_dir(parent) {
                return None;
            }
            let (Some(ring), Some((_, dir))) = (self.ring.as_mut(), self.dir.as_ref()) else {
                return None;
            };
            let Ok(results) = ring.open_all(dir.as_fd(), &names, self.flags) else {
                // Opens go through `openat` from now on.
                self.ring = None;
                return None;
            };
            let mut opened = Vec::with_capacity(results.len());
            for (path, result) in paths.iter().zip(results) {
                let result = match result {
                    // `O_NOATIME` refused: `open_fd` drops it for good and opens again.
                    Err(error)
                        if error.raw_os_error() == Some(Errno::PERM.raw_os_error())
                            && self.flags.contains(OFlags::NOATIME) =>
                    {
                        self.open_fd(path)
                    }
                    other => other,
                };
                opened.push(
                    result
                        .map_err(|error| named(path, error))
                        .and_then(|fd| checked(File::from(fd), path)),
                );
            }
            Some(opened)
        }

        /// The size of the regular file at `path` (`None` for anything else), found with a
        /// `stat` relative to the directory of the last path when they share it: one
        /// name to resolve rather than the whole path.
        pub(crate) fn regular_size(&mut self, path: &Path) -> io::Result<Option<u64>> {
            use rustix::fs::AtFlags;

            let stat = match split(path).filter(|&(parent, _)| self.enter_dir(parent)) {
                Some((_, name)) => match &self.dir {
                    Some((_, dir)) => rustix::io::retry_on_intr(|| {
                        rustix::fs::statat(dir, name, AtFlags::empty())
                    }),
                    None => rustix::io::retry_on_intr(|| rustix::fs::stat(path)),
                },
                None => rustix::io::retry_on_intr(|| rustix::fs::stat(path)),
            }
            .map_err(|error| named(path, error.into()))?;
            Ok(
                (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile)
                    .then(|| u64::try_from(stat.st_size).ok())
                    .flatten(),
            )
        }

        /// Makes `dir` the directory that names are opened in; `false` if it cannot be
        /// opened.
        fn enter_dir(&mut self, dir: &Path) -> bool {
            if matches!(&self.dir, Some((current, _)) if current.as_os_str() == dir.as_os_str()) {
                return true;
            }
            self.dir = None;
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            match rustix::io::retry_on_intr(|| rustix::fs::open(dir, flags, Mode::empty())) {
                Ok(fd) => {
                    self.dir = Some((dir.to_path_buf(), fd));
                    true
                }
                Err(_) => false,
            }
        }

        fn open_fd(&mut self, path: &Path) -> io::Result<OwnedFd> {
            // Without a directory to open the name in, the full path's open reports what
            // is wrong.
            let Some((parent, name)) = split(path).filter(|&(parent, _)| self.enter_dir(parent))
            else {
                return self.with_flags(|flags| rustix::fs::open(path, flags, Mode::empty()));
            };
            let Some((_, dir)) = self.dir.take() else {
                return self.with_flags(|flags| rustix::fs::open(path, flags, Mode::empty()));
            };
            let opened =
                self.with_flags(|flags| rustix::fs::openat(&dir, name, flags, Mode::empty()));
            self.dir = Some((parent.to_path_buf(), dir));
            opened
        }

        /// Opens with `open`, retrying interrupted calls and dropping `O_NOATIME` for good
        /// when the kernel refuses it (it takes owning the file).
        fn with_flags(
            &mut self,
            mut open: impl FnMut(OFlags) -> rustix::io::Result<OwnedFd>,
        ) -> io::Result<OwnedFd> {
            loop {
                match rustix::io::retry_on_intr(|| open(self.flags)) {
                    Err(Errno::PERM) if self.flags.contains(OFlags::NOATIME) => {
                        self.flags.remove(OFlags::NOATIME);
                    }
                    other => return other.map_err(io::Error::from),
                }
            }
        }
    }

    /// `file`, opened from `path`, if it is a regular file or a block device, with a
    /// regular file's size; an error naming `path` otherwise.
    pub(super) fn checked(file: File, path: &Path) -> Result {
        let stat = rustix::fs::fstat(&file).map_err(|error| named(path, error.into()))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok((Opened { file }, u64::try_from(stat.st_size).ok())),
            FileType::BlockDevice => Ok((Opened { file }, None)),
            _ => Err(not_a_source(path, describe_mode(stat.st_mode))),
        }
    }

    /// `path` as a directory and one name in it, when opening the name in the directory is
    /// the same as opening `path`: it ends in a plain name, not in `/`, `.` or `..`.
    fn split(path: &Path) -> Option<(&Path, &Path)> {
        use ::std::os::unix::ffi::OsStrExt as _;

        let name = path.file_name()?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
        let bytes = path.as_os_str().as_bytes();
        let before = bytes.len().checked_sub(name.len() + 1)?;
        (bytes.ends_with(name.as_bytes()) && bytes.get(before) == Some(&b'/'))
            .then_some((parent, Path::new(name)))
    }
}

#[cfg(not(unix))]
mod other {
    use ::std::fs::File;
    use ::std::io;
    use ::std::path::Path;

    use super::{named, not_a_source, Opened};

    /// Opens files by the policy, where the platform has no FIFOs to fear.
    pub(crate) struct Opener;

    impl Opener {
        pub(crate) fn new() -> Opener {
            Opener
        }

        pub(crate) fn open(&mut self, path: &Path) -> io::Result<(Opened, Option<u64>)> {
            let file = File::open(path).map_err(|error| named(path, error))?;
            let metadata = file.metadata().map_err(|error| named(path, error))?;
            if metadata.is_file() {
                Ok((Opened { file }, Some(metadata.len())))
            } else if metadata.is_dir() {
                Err(not_a_source(path, "a directory"))
            } else {
                Err(not_a_source(path, "not a regular file"))
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod beneath {
    use ::std::fs::File;
    use ::std::io;
    use ::std::os::fd::OwnedFd;
    use ::std::path::Path;

    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;

    use super::unix::describe_mode;
    use super::{named, not_a_source};

    /// A directory beneath which names are opened as sources, by the same policy as
    /// [`open_path_source`](super::open_path_source), and confined: `openat2` with
    /// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`, so that no name (an
    /// absolute one, one with `..`, one through a symbolic link that leaves the directory,
    /// one that crosses a mount) reaches a file outside it. There is no unconfined
    /// fallback: a kernel without `openat2` (before Linux 5.6) is an error.
    ///
    /// ```
    /// use std::path::Path;
    /// use splitfdstream_adapters::std::Beneath;
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("member"), b"content")?;
    /// std::os::unix::fs::symlink("/etc/hostname", dir.path().join("escape"))?;
    /// let beneath = Beneath::open_dir(dir.path())?;
    /// let (_, size) = beneath.open(Path::new("member"))?;
    /// assert_eq!(size, Some(7));
    /// let error = beneath.open(Path::new("escape")).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    /// assert!(beneath.open(Path::new("../member")).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug)]
    pub struct Beneath {
        dir: OwnedFd,
        symlinks: bool,
        mounts: bool,
    }

    /// Resolution that stays beneath the directory, on its file system, without magic links.
    const CONFINED: ResolveFlags = ResolveFlags::BENEATH
        .union(ResolveFlags::NO_MAGICLINKS)
        .union(ResolveFlags::NO_XDEV);

    impl Beneath {
        /// The directory at `path`.
        ///
        /// # Errors
        ///
        /// The error of opening it, naming the path.
        pub fn open_dir(path: &Path) -> io::Result<Beneath> {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let dir = rustix::io::retry_on_intr(|| rustix::fs::open(path, flags, Mode::empty()))
                .map_err(|error| named(path, error.into()))?;
            Ok(Beneath::new(dir))
        }

        /// The directory open on `dir` (received from another process, say).
        pub fn new(dir: OwnedFd) -> Beneath {
            Beneath {
                dir,
                symlinks: true,
                mounts: false,
            }
        }

        /// Whether symbolic links that stay beneath the directory are followed (the
        /// default); without, any symbolic link on the way is an error.
        #[must_use]
        pub fn following_symlinks(mut self, follow: bool) -> Beneath {
            self.symlinks = follow;
            self
        }

        /// Whether a name may cross into another file system mounted beneath the directory
        /// (not by default). Resolution still never leaves the directory: this is for a
        /// producer that reads such a file itself, where a consumer with the default
        /// resolution would refuse it.
        #[must_use]
        pub fn crossing_mounts(mut self, cross: bool) -> Beneath {
            self.mounts = cross;
            self
        }

        fn resolve(&self) -> ResolveFlags {
            let mut resolve = CONFINED;
            if !self.symlinks {
                resolve |= ResolveFlags::NO_SYMLINKS;
            }
            if self.mounts {
                resolve.remove(ResolveFlags::NO_XDEV);
            }
            resolve
        }

        fn walk(
            &self,
            name: &Path,
            flags: OFlags,
            resolve: ResolveFlags,
        ) -> Result<OwnedFd, Errno> {
            // The kernel asks to retry when a rename raced the walk.
            let mut tries = 0;
            loop {
                match rustix::fs::openat2(&self.dir, name, flags, Mode::empty(), resolve) {
                    Err(Errno::AGAIN | Errno::INTR) if tries < 8 => tries += 1,
                    other => return other,
                }
            }
        }

        /// The error of a confined walk that failed with `errno`, naming `name`.
        fn refusal(&self, name: &Path, errno: Errno) -> io::Error {
            let denied = |why: &str| {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    ::std::format!("{}: {why}", name.display()),
                )
            };
            match errno {
                Errno::NOSYS => io::Error::new(
                    io::ErrorKind::Unsupported,
                    ::std::format!(
                        "{}: this kernel has no openat2 (Linux 5.6 or later), which is needed to open files confined beneath a directory",
                        name.display()
                    ),
                ),
                Errno::XDEV => denied("lies outside the directory or on another file system"),
                Errno::LOOP if !self.symlinks => {
                    // Say whether the link would even have stayed beneath.
                    match self.walk(name, OFlags::PATH | OFlags::CLOEXEC, CONFINED) {
                        Err(Errno::XDEV) => {
                            denied("leads outside the directory through a symbolic link")
                        }
                        _ => denied("is reached through a symbolic link, which is not allowed here"),
                    }
                }
                errno => named(name, errno.into()),
            }
        }

        /// Opens `name` beneath the directory as a source: returns it (blocking again) with
        /// a regular file's size (`None` for a block device).
        ///
        /// # Errors
        ///
        /// `PermissionDenied` for a name that leads outside the directory (or through a
        /// symbolic link, when they are not followed), `Unsupported` without `openat2`,
        /// `InvalidInput` for a file that is neither a regular file nor a block device, and
        /// the errors of `openat2` and `fstat`; each names `name`.
        pub fn open(&self, name: &Path) -> io::Result<(File, Option<u64>)> {
            let (opened, size) = self.open_source(name)?;
            Ok((opened.into_blocking(), size))
        }

        /// [`open`](Beneath::open), leaving the file non-blocking, for a reader ahead of
        /// use.
        pub(crate) fn open_source(&self, name: &Path) -> super::unix::Result {
            let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
            let fd = self
                .walk(name, flags, self.resolve())
                .map_err(|errno| self.refusal(name, errno))?;
            super::unix::checked(File::from(fd), name)
        }

        /// Checks, without opening it for reading, that `name` resolves beneath the
        /// directory to a regular file or a block device; returns a regular file's size.
        ///
        /// # Errors
        ///
        /// As [`open`](Beneath::open).
        pub fn check(&self, name: &Path) -> io::Result<Option<u64>> {
            let fd = self
                .walk(name, OFlags::PATH | OFlags::CLOEXEC, self.resolve())
                .map_err(|errno| self.refusal(name, errno))?;
            let stat = rustix::fs::fstat(&fd).map_err(|error| named(name, error.into()))?;
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => Ok(u64::try_from(stat.st_size).ok()),
                FileType::BlockDevice => Ok(None),
                _ => Err(not_a_source(name, describe_mode(stat.st_mode))),
            }
        }
    }
}
