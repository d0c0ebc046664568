//! One external source: positional reads and size discovery.

use ::std::boxed::Box;
use ::std::fs::File;
use ::std::io;
use ::std::sync::Arc;
use ::std::vec::Vec;

#[cfg(unix)]
use ::std::os::fd::{AsFd, BorrowedFd};

use crate::drive::len_u64;

/// One external source: read at any offset, with a size when it can be discovered.
///
/// Reads are positional (no shared cursor), so the same source can be referenced any
/// number of times and each reference reads it from offset 0.
pub trait ReadAt {
    /// Reads into `buf` from `offset`; returns the bytes read, 0 at the end.
    ///
    /// As with `pread` on a regular file, a read that returns less than asked and ends
    /// exactly at the source's [`size`](ReadAt::size) is taken as reaching its end; no
    /// further read is made to confirm it.
    ///
    /// # Errors
    ///
    /// Any I/O error; `Interrupted` is retried by the callers in this crate.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// The source's size, when it can be known without reading it (a regular file's
    /// length); `None` when it is read to its end instead (a pipe, a character device).
    ///
    /// # Errors
    ///
    /// Any I/O error while finding the size.
    fn size(&self) -> io::Result<Option<u64>>;

    /// The descriptor behind this source, if it is one, so that descriptor-level copies
    /// (`copy_file_range`, `sendfile`) can bypass user space. Defaults to `None`.
    #[cfg(unix)]
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// The descriptor behind this source and the descriptor offset at which the source's
    /// offset 0 lies, for descriptor-level copies. Defaults to [`fd`](ReadAt::fd) at offset
    /// 0; a source that is a region of a file (`fd::FileRange`) returns `None` from `fd` and
    /// its region here.
    #[cfg(unix)]
    fn fd_region(&self) -> Option<(BorrowedFd<'_>, u64)> {
        self.fd().map(|fd| (fd, 0))
    }
}

#[cfg(any(unix, windows))]
impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        {
            ::std::os::unix::fs::FileExt::read_at(self, buf, offset)
        }
        #[cfg(windows)]
        {
            ::std::os::windows::fs::FileExt::seek_read(self, buf, offset)
        }
    }

    /// The length of a regular file; `None` for anything else. Block devices report 0
    /// here, so they are read to their end.
    fn size(&self) -> io::Result<Option<u64>> {
        let metadata = self.metadata()?;
        Ok(metadata.is_file().then_some(metadata.len()))
    }

    #[cfg(unix)]
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).map_or(self.len(), |o| o.min(self.len()));
        let rest = self.get(start..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(len_u64(self.len())))
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        self.as_slice().size()
    }
}

macro_rules! forward_read_at {
    ($($ty:ty),*) => {$(
        impl<T: ReadAt + ?Sized> ReadAt for $ty {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                (**self).read_at(buf, offset)
            }

            fn size(&self) -> io::Result<Option<u64>> {
                (**self).size()
            }

            #[cfg(unix)]
            fn fd(&self) -> Option<BorrowedFd<'_>> {
                (**self).fd()
            }

            #[cfg(unix)]
            fn fd_region(&self) -> Option<(BorrowedFd<'_>, u64)> {
                (**self).fd_region()
            }
        }
    )*};
}

forward_read_at!(&T, Box<T>, Arc<T>);
