//! Output files that appear only when complete, and leave nothing behind otherwise.
//!
//! This is the one place where an output is created and committed. With the `fd` feature on
//! Linux, an output is an unnamed file (`O_TMPFILE`) in its destination's directory, linked
//! into place only by [`Output::commit`]: a process killed at any moment, even by
//! `SIGKILL`, leaves no file behind, because the kernel frees an unnamed file with its
//! last descriptor. `linkat` cannot replace an existing file, so when the destination
//! exists the file is linked under a fresh name and renamed over it at once. Where the
//! kernel or the file system has no `O_TMPFILE` (and without the `fd` feature), the output
//! is a hidden `.NAME.*.tmp` file renamed into place on commit and removed on every error
//! path and on drop; only a killed process can leave it behind.
//!
//! Either way the destination holds either what it held before or the complete new file.
//! [`Durability::Synced`] also writes the file to disk before it gets its name, and the
//! directory after, so that this holds across a power loss.

use ::std::ffi::OsString;
use ::std::fs::{self, File, OpenOptions};
use ::std::io::{self, Write};
use ::std::os::unix::ffi::OsStrExt;
use ::std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use ::std::path::{Path, PathBuf};
use ::std::sync::atomic::{AtomicU64, Ordering};

use super::error::{OutputError, OutputStep};
use super::fd_list::base_dir;

/// Whether a commit waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Write the file to disk before it gets its name, and the directory after: after a
    /// crash or power loss the name holds the complete file or what it held before.
    Synced,
    /// Give the file its name without waiting for the disk: the name appears only once the
    /// file is complete, but after a power loss it may hold a file that is not.
    Unsynced,
}

/// How the file being written will get its name.
#[derive(Debug)]
enum Pending {
    /// An `O_TMPFILE`: linked into place.
    #[cfg(all(feature = "fd", target_os = "linux"))]
    Unnamed,
    /// A hidden temporary file: renamed into place, removed on drop.
    Named(PathBuf),
    /// A FIFO, device or socket, written where it is.
    InPlace,
}

/// A file written in its destination's directory that takes its name only when
/// [committed](Output::commit); dropped without a commit, it leaves nothing behind.
///
/// ```
/// use std::io::Write;
/// use splitfdstream_adapters::bundle::{Durability, Output};
///
/// let dir = tempfile::tempdir()?;
/// let dest = dir.path().join("out");
/// let mut out = Output::create(&dest)?;
/// out.write_all(b"complete")?;
/// assert!(!dest.exists());
/// out.commit(Durability::Synced)?;
/// assert_eq!(std::fs::read(&dest)?, b"complete");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Output {
    file: File,
    dest: PathBuf,
    /// `None` once committed.
    pending: Option<Pending>,
}

impl Output {
    /// Starts writing what will become `dest`, with the permissions of a new regular file
    /// (0666 less the umask).
    ///
    /// # Errors
    ///
    /// [`OutputStep::Create`]: `dest` does not name a file, or its directory does not exist
    /// or is not writable.
    pub fn create(dest: impl AsRef<Path>) -> Result<Output, OutputError> {
        Output::create_with_mode(dest, 0o666)
    }

    /// As [`create`](Output::create), with the permission bits `mode` (less the umask).
    ///
    /// # Errors
    ///
    /// As [`create`](Output::create).
    pub fn create_with_mode(dest: impl AsRef<Path>, mode: u32) -> Result<Output, OutputError> {
        let dest = dest.as_ref();
        let fail = |error| OutputError::new(dest, OutputStep::Create, error);
        let name = dest.file_name().ok_or_else(|| {
            fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path does not name a file",
            ))
        })?;
        let dir = base_dir(dest);
        #[cfg(all(feature = "fd", target_os = "linux"))]
        if let Some(file) = unnamed::create(dir, mode).map_err(fail)? {
            return Ok(Output {
                file,
                dest: dest.to_path_buf(),
                pending: Some(Pending::Unnamed),
            });
        }
        let (file, temp) = create_named(dir, name.as_bytes(), mode).map_err(fail)?;
        Ok(Output {
            file,
            dest: dest.to_path_buf(),
            pending: Some(Pending::Named(temp)),
        })
    }

    /// Starts writing `dest`: in place when it is a FIFO, a character or block device or a
    /// socket (which cannot be replaced, and whose readers expect the bytes there), as
    /// [`create`](Output::create) otherwise. Committing an output written in place syncs it
    /// when asked and it can be synced (a block device, not a FIFO).
    ///
    /// # Errors
    ///
    /// As [`create`](Output::create), or `dest` is a directory, or opening it in place
    /// fails.
    pub fn create_or_in_place(dest: impl AsRef<Path>) -> Result<Output, OutputError> {
        let dest = dest.as_ref();
        let fail = |error| OutputError::new(dest, OutputStep::Create, error);
        match fs::metadata(dest) {
            // A directory is refused here, before any work, by the open itself (EISDIR).
            Ok(meta) if meta.is_dir() || is_special(&meta.file_type()) => {
                let file = OpenOptions::new().write(true).open(dest).map_err(fail)?;
                Ok(Output {
                    file,
                    dest: dest.to_path_buf(),
                    pending: Some(Pending::InPlace),
                })
            }
            _ => Output::create(dest),
        }
    }

    /// The open file, to write with the descriptor APIs.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path the file takes on commit.
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// Changes the path the file takes on commit (a content-addressed name known only
    /// once the content is). It must be in the same directory as the first one.
    pub fn set_destination(&mut self, dest: impl Into<PathBuf>) {
        self.dest = dest.into();
    }

    /// Gives the file its name, replacing whatever had it, after writing it to disk when
    /// `durability` asks for it.
    ///
    /// # Errors
    ///
    /// [`OutputStep::Sync`] or [`OutputStep::Place`]; the temporary file is then removed
    /// and the destination holds what it held before.
    pub fn commit(mut self, durability: Durability) -> Result<(), OutputError> {
        let synced = durability == Durability::Synced;
        if synced {
            match self.file.sync_all() {
                // A FIFO or character device written in place has nothing to sync (EINVAL).
                Err(error)
                    if matches!(self.pending, Some(Pending::InPlace))
                        && error.kind() == io::ErrorKind::InvalidInput => {}
                done => {
                    done.map_err(|error| OutputError::new(&self.dest, OutputStep::Sync, error))?;
                }
            }
        }
        let place = |error| OutputError::new(&self.dest, OutputStep::Place, error);
        match self.pending.take() {
            #[cfg(all(feature = "fd", target_os = "linux"))]
            Some(Pending::Unnamed) => unnamed::link(&self.file, &self.dest).map_err(place)?,
            Some(Pending::Named(temp)) => {
                if let Err(error) = fs::rename(&temp, &self.dest) {
                    let _ = fs::remove_file(&temp);
                    return Err(place(error));
                }
            }
            Some(Pending::InPlace) | None => return Ok(()),
        }
        if synced {
            sync_directory(base_dir(&self.dest));
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(Pending::Named(temp)) = self.pending.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes a directory's entries to disk, so that a name given in it survives a crash. Best
/// effort: some file systems cannot sync a directory, and the data is already safe.
pub fn sync_directory(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn is_special(kind: &fs::FileType) -> bool {
    kind.is_fifo() || kind.is_char_device() || kind.is_block_device() || kind.is_socket()
}

/// A name no other output of any process uses at the same time: `.NAME.<pid><n>.tmp`.
fn unique_name(dir: &Path, name: &[u8]) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = ::std::time::SystemTime::now()
        .duration_since(::std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let mut temp = OsString::from(".");
    temp.push(::std::ffi::OsStr::from_bytes(name));
    temp.push(::std::format!(
        ".{:x}{n:x}{nanos:x}.tmp",
        ::std::process::id()
    ));
    dir.join(temp)
}

/// A new hidden file in `dir`, and its path.
fn create_named(dir: &Path, name: &[u8], mode: u32) -> io::Result<(File, PathBuf)> {
    loop {
        let temp = unique_name(dir, name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
}

#[cfg(all(feature = "fd", target_os = "linux"))]
mod unnamed {
    //! `O_TMPFILE` and `linkat`.

    use ::std::fs::File;
    use ::std::io;
    use ::std::path::Path;
    use ::std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{AtFlags, Mode, OFlags, CWD};
    use rustix::io::Errno;

    /// Opens an unnamed file in `dir`; `None` where the kernel or the file system has no
    /// `O_TMPFILE`.
    pub(super) fn create(dir: &Path, mode: u32) -> io::Result<Option<File>> {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => Ok(Some(File::from(fd))),
            // No O_TMPFILE in the file system (EOPNOTSUPP), or in the kernel (which then
            // sees O_DIRECTORY and refuses to open a directory for writing: EISDIR).
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Ok(None),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Whether `AT_EMPTY_PATH` failed once: it needs `CAP_DAC_READ_SEARCH` on most
    /// kernels, and `/proc/self/fd` then does the same without it.
    static NO_EMPTY_PATH: AtomicBool = AtomicBool::new(false);

    fn link_as(file: &File, to: &Path) -> rustix::io::Result<()> {
        if !NO_EMPTY_PATH.load(Ordering::Relaxed) {
            match rustix::fs::linkat(file, "", CWD, to, AtFlags::EMPTY_PATH) {
                Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => {
                    NO_EMPTY_PATH.store(true, Ordering::Relaxed);
                }
                done => return done,
            }
        }
        let proc = ::std::format!("/proc/self/fd/{}", ::std::os::fd::AsRawFd::as_raw_fd(file));
        match rustix::fs::linkat(CWD, proc.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW) {
            // No /proc, but `AT_EMPTY_PATH` may work after all (a real missing directory
            // fails the same way again).
            Err(Errno::NOENT) if NO_EMPTY_PATH.load(Ordering::Relaxed) => {
                rustix::fs::linkat(file, "", CWD, to, AtFlags::EMPTY_PATH)
            }
            done => done,
        }
    }

    /// Gives the unnamed `file` the name `dest`, replacing whatever had it.
    pub(super) fn link(file: &File, dest: &Path) -> io::Result<()> {
        match link_as(file, dest) {
            Err(Errno::EXIST) => {}
            done => return done.map_err(io::Error::from),
        }
        // `linkat` does not replace: link under a fresh name and rename that over `dest`.
        let name = dest.file_name().map_or(&b"output"[..], |name| {
            ::std::os::unix::ffi::OsStrExt::as_bytes(name)
        });
        let dir = super::base_dir(dest);
        loop {
            let temp = super::unique_name(dir, name);
            match link_as(file, &temp) {
                Ok(()) => {
                    return ::std::fs::rename(&temp, dest).inspect_err(|_| {
                        let _ = ::std::fs::remove_file(&temp);
                    });
                }
                Err(Errno::EXIST) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> ::std::vec::Vec<OsString> {
        fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect()
    }

    #[test]
    fn appears_only_on_commit_and_replaces_what_was_there() {
        for durability in [Durability::Synced, Durability::Unsynced] {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("out");
            let mut file = Output::create(&dest).unwrap();
            file.write_all(b"bytes").unwrap();
            assert!(!dest.exists());
            file.commit(durability).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"bytes");
            let mut file = Output::create(&dest).unwrap();
            file.write_all(b"new bytes").unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"bytes");
            file.commit(durability).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"new bytes");
            assert_eq!(names(dir.path()), [OsString::from("out")]);
        }
    }

    #[test]
    fn dropped_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let mut file = Output::create(&dest).unwrap();
        file.write_all(b"bytes").unwrap();
        drop(file);
        assert!(names(dir.path()).is_empty());
    }

    #[cfg(all(feature = "fd", target_os = "linux"))]
    #[test]
    fn is_unnamed_until_committed_where_the_kernel_allows() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let file = Output::create(&dest).unwrap();
        if matches!(file.pending, Some(Pending::Named(_))) {
            ::std::eprintln!("skipped: no O_TMPFILE on this file system");
            return;
        }
        // Not even a hidden name while it is written.
        assert!(names(dir.path()).is_empty());
        file.commit(Durability::Unsynced).unwrap();
        assert_eq!(names(dir.path()), [OsString::from("out")]);
    }

    #[test]
    fn named_temporary_is_removed_when_the_rename_fails() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let (file, temp) = create_named(dir.path(), b"sub", 0o666).unwrap();
        let output = Output {
            file,
            dest: dir.path().join("sub"),
            pending: Some(Pending::Named(temp)),
        };
        let error = output.commit(Durability::Unsynced).unwrap_err();
        assert_eq!(error.step(), OutputStep::Place);
        assert_eq!(names(dir.path()), [OsString::from("sub")]);
    }

    #[test]
    fn a_directory_in_the_way_fails_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let error = Output::create_or_in_place(dir.path()).unwrap_err();
        assert_eq!(error.step(), OutputStep::Create);
        assert_eq!(error.io_error().raw_os_error(), Some(21));
    }

    #[test]
    fn writes_a_fifo_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = ::std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let reader = {
            let fifo = fifo.clone();
            ::std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        let mut out = Output::create_or_in_place(&fifo).unwrap();
        out.write_all(b"through").unwrap();
        // Nothing to sync in a FIFO: not an error.
        out.commit(Durability::Synced).unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_path_without_a_name_is_refused() {
        let error = Output::create("/").unwrap_err();
        assert_eq!(error.to_string(), "cannot create /");
    }
}
