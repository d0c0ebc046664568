//! Descriptor-backed sources: whole files and block devices ([`FdSource`]) and regions of
//! them ([`FileRange`]), with sizes that work for block devices too.

use ::std::fmt;
use ::std::io;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::FileType;

use super::sys;
use crate::std::ReadAt;

/// What kind of file a descriptor refers to, as far as this module cares.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdKind {
    /// A regular file, including a memfd.
    Regular,
    /// A block device.
    Block,
    /// A character device (`/dev/null`, a terminal).
    Character,
    /// A pipe or FIFO.
    Pipe,
    /// A socket.
    Socket,
    /// A directory.
    Directory,
    /// Anything else (a symbolic link opened with `O_PATH`, an unknown type).
    Other,
}

impl FdKind {
    /// The kind of file open on `fd`, from `fstat`.
    ///
    /// # Errors
    ///
    /// The error of `fstat`.
    pub fn of(fd: impl AsFd) -> io::Result<FdKind> {
        let stat = rustix::fs::fstat(fd)?;
        Ok(FdKind::from_mode(stat.st_mode))
    }

    pub(crate) fn from_mode(mode: rustix::fs::RawMode) -> FdKind {
        match FileType::from_raw_mode(mode) {
            FileType::RegularFile => FdKind::Regular,
            FileType::BlockDevice => FdKind::Block,
            FileType::CharacterDevice => FdKind::Character,
            FileType::Fifo => FdKind::Pipe,
            FileType::Socket => FdKind::Socket,
            FileType::Directory => FdKind::Directory,
            _ => FdKind::Other,
        }
    }
}

impl fmt::Display for FdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FdKind::Regular => "regular file",
            FdKind::Block => "block device",
            FdKind::Character => "character device",
            FdKind::Pipe => "pipe",
            FdKind::Socket => "socket",
            FdKind::Directory => "directory",
            FdKind::Other => "other file",
        })
    }
}

/// The size of the source open on `fd`: a regular file's length, a block device's size
/// from the `BLKGETSIZE64` ioctl (`fstat` reports 0 for those), and `None` for anything
/// else (a pipe or character device is read to its end instead).
///
/// ```
/// use splitfdstream_adapters::fd::source_size;
///
/// let file = tempfile::tempfile()?;
/// file.set_len(1234)?;
/// assert_eq!(source_size(&file)?, Some(1234));
/// assert_eq!(source_size(std::fs::File::open("/dev/null")?)?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The error of `fstat`, or of the ioctl on a block device.
pub fn source_size(fd: impl AsFd) -> io::Result<Option<u64>> {
    let fd = fd.as_fd();
    let stat = rustix::fs::fstat(fd)?;
    match FdKind::from_mode(stat.st_mode) {
        FdKind::Regular => Ok(Some(u64::try_from(stat.st_size).unwrap_or(0))),
        FdKind::Block => sys::block_device_size(fd).map(Some),
        _ => Ok(None),
    }
}

/// Reads `fd` at `offset`; a thin `pread`.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    Ok(rustix::io::pread(fd, buf, offset)?)
}

/// A whole descriptor as one external source: a regular file, a memfd or a block device.
///
/// Unlike `File`'s [`ReadAt`], its [`size`](ReadAt::size) knows block devices (from
/// [`source_size`]), so a device is copied to exactly its size and the zero-copy paths of
/// [`reconstruct`](super::reconstruct) apply to it. Reads are positional: the descriptor's
/// file offset is never used or moved.
///
/// ```
/// use std::io::Write;
/// use splitfdstream_adapters::fd::FdSource;
/// use splitfdstream_adapters::std::ReadAt;
///
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"content")?;
/// let source = FdSource::new(file);
/// assert_eq!(source.size()?, Some(7));
/// let mut buf = [0; 4];
/// assert_eq!(source.read_at(&mut buf, 3)?, 4);
/// assert_eq!(&buf, b"tent");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FdSource<F = OwnedFd> {
    fd: F,
}

impl<F: AsFd> FdSource<F> {
    /// The source open on `fd`.
    pub fn new(fd: F) -> FdSource<F> {
        FdSource { fd }
    }

    /// The descriptor.
    pub fn get_ref(&self) -> &F {
        &self.fd
    }

    /// The descriptor.
    pub fn into_inner(self) -> F {
        self.fd
    }
}

impl<F: AsFd> AsFd for FdSource<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl<F: AsFd> ReadAt for FdSource<F> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        pread(self.fd.as_fd(), buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        source_size(&self.fd)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}

/// A region of a file or block device as one external source: `len` bytes from `offset`
/// of the descriptor, such as a partition inside a disk image or an area of a device that
/// already holds the content.
///
/// Source offset 0 is descriptor offset `offset`. Reads never go past the region, even if
/// the file is longer, and the zero-copy paths of [`reconstruct`](super::reconstruct) copy
/// from the region's start. If the file ends inside the region, copying it fails (the
/// source "shrank") rather than producing a short result.
///
/// ```
/// use std::io::Write;
/// use splitfdstream_adapters::fd::FileRange;
/// use splitfdstream_adapters::std::ReadAt;
///
/// let mut disk = tempfile::tempfile()?;
/// disk.write_all(b"..partition..")?;
/// let part = FileRange::new(&disk, 2, 9)?;
/// assert_eq!(part.size()?, Some(9));
/// let mut buf = [0; 16];
/// assert_eq!(part.read_at(&mut buf, 0)?, 9);
/// assert_eq!(&buf[..9], b"partition");
/// assert_eq!(part.read_at(&mut buf, 9)?, 0); // the region's end, not the file's
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileRange<F> {
    fd: F,
    offset: u64,
    len: u64,
}

impl<F: AsFd> FileRange<F> {
    /// The `len` bytes of `fd` from `offset`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `offset + len` overflows a `u64` or an `i64` file offset.
    pub fn new(fd: F, offset: u64, len: u64) -> io::Result<FileRange<F>> {
        let end = offset
            .checked_add(len)
            .filter(|&end| i64::try_from(end).is_ok());
        if end.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file range ends beyond the largest file offset",
            ));
        }
        Ok(FileRange { fd, offset, len })
    }

    /// The descriptor offset at which the region starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The region's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The descriptor.
    pub fn get_ref(&self) -> &F {
        &self.fd
    }

    /// The descriptor.
    pub fn into_inner(self) -> F {
        self.fd
    }
}

impl<F: AsFd> ReadAt for FileRange<F> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let take = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        if take == 0 {
            return Ok(0);
        }
        // offset < len here, and offset + len was checked not to overflow.
        pread(self.fd.as_fd(), &mut buf[..take], self.offset + offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.len))
    }

    /// `None`: the region does not start at descriptor offset 0; see
    /// [`fd_region`](ReadAt::fd_region).
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn fd_region(&self) -> Option<(BorrowedFd<'_>, u64)> {
        Some((self.fd.as_fd(), self.offset))
    }
}
