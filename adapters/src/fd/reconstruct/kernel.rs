//! The kernel copy methods: which apply to an output, and the copy loop that tries them in
//! order and falls back.

use ::std::io;
use ::std::ops::BitOr;
use ::std::os::fd::{BorrowedFd, OwnedFd};

use rustix::event::PollFlags;
use rustix::io::Errno;

use super::Output;
use crate::drive::{len_u64, ExternalCopy, Progress};
use crate::fd::retry::{retrying, write_all};
use crate::fd::source::FdKind;
use crate::std::steps::{output, Blame};
use crate::std::{read_at_retrying, Error, ReadAt};

/// The most one kernel copy call is asked to move.
#[cfg(target_os = "linux")]
const KERNEL_CHUNK: usize = 1 << 30;

/// The kernel copy methods [`Reconstruct`](super::Reconstruct) may use. Reads and writes through a buffer are
/// always available as the last resort.
///
/// ```
/// use splitfdstream_adapters::fd::Methods;
///
/// let kernel = Methods::SPLICE | Methods::SENDFILE;
/// assert!(kernel.contains(Methods::SENDFILE));
/// assert!(!kernel.contains(Methods::COPY_FILE_RANGE));
/// assert_eq!(Methods::ALL.without(Methods::ALL), Methods::NONE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Methods(u8);

impl Methods {
    /// No kernel copies: every external goes through `pread` and `write`.
    pub const NONE: Methods = Methods(0);
    /// `copy_file_range`, into a regular file.
    pub const COPY_FILE_RANGE: Methods = Methods(1);
    /// `splice`, into a pipe directly or into a socket or a regular file through a pipe.
    pub const SPLICE: Methods = Methods(2);
    /// `sendfile`, into a socket.
    pub const SENDFILE: Methods = Methods(4);
    /// Every method (the default).
    pub const ALL: Methods = Methods(7);

    /// Whether every method of `other` is in `self`.
    pub const fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    /// The methods of `self` that are not in `other`.
    #[must_use]
    pub const fn without(self, other: Methods) -> Methods {
        Methods(self.0 & !other.0)
    }

    /// Whether there are no methods.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Methods {
    type Output = Methods;

    fn bitor(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }
}

/// Whether `copy_file_range` into `out` is a page-by-page copy inside the kernel: the file
/// system cannot share extents (ext2/3/4, tmpfs, ramfs).
#[cfg(target_os = "linux")]
pub(super) fn copies_page_by_page(out: BorrowedFd<'_>) -> bool {
    const EXT4_SUPER_MAGIC: i128 = 0xef53;
    const TMPFS_MAGIC: i128 = 0x0102_1994;
    const RAMFS_MAGIC: i128 = 0x8584_58f6;
    rustix::fs::fstatfs(out).is_ok_and(|stat| {
        let kind = i128::from(stat.f_type);
        kind == EXT4_SUPER_MAGIC || kind == TMPFS_MAGIC || kind == RAMFS_MAGIC
    })
}

#[cfg(not(target_os = "linux"))]
pub(super) fn copies_page_by_page(out: BorrowedFd<'_>) -> bool {
    let _ = out;
    true
}

/// The block size of `out`'s file system, which offsets must be multiples of for
/// `copy_file_range` to share extents rather than copy (4096 when unknown).
pub(super) fn block_size(out: BorrowedFd<'_>) -> u64 {
    rustix::fs::fstat(out)
        .ok()
        .and_then(|stat| u64::try_from(stat.st_blksize).ok())
        .filter(|&size| size > 0)
        .unwrap_or(4096)
}

/// The methods that can apply to an output of `kind`.
#[cfg(target_os = "linux")]
pub(super) fn usable(kind: FdKind) -> Methods {
    match kind {
        FdKind::Regular => Methods::COPY_FILE_RANGE | Methods::SPLICE,
        FdKind::Pipe => Methods::SPLICE,
        FdKind::Socket => Methods::SPLICE | Methods::SENDFILE,
        _ => Methods::NONE,
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn usable(kind: FdKind) -> Methods {
    let _ = kind;
    Methods::NONE
}

impl Output<'_> {
    /// Copies `source` (at descriptor `fd`, region starting at `base`) with the kernel
    /// until its known length is reached; returns `false` when no method works and the
    /// rest must be copied through the buffer.
    #[cfg(target_os = "linux")]
    pub(super) fn kernel_copy<T: ReadAt>(
        &mut self,
        source: &T,
        (fd, base): (BorrowedFd<'_>, u64),
        copy: &mut ExternalCopy,
        blame: &Blame<'_>,
    ) -> Result<bool, Error> {
        let Some(len) = copy.len() else {
            return Ok(false);
        };
        let mut tried = Methods::NONE;
        loop {
            let owed = len - copy.offset();
            if owed == 0 {
                return self.check_end(source, copy, blame).map(|()| true);
            }
            let mut offset = base.checked_add(copy.offset()).ok_or_else(|| {
                blame.io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "source offset overflows",
                ))
            })?;
            // `copy_file_range` shares extents only between block-aligned offsets, and
            // elsewhere copies through a small pipe of its own: slower than `splice`.
            let shares = offset.is_multiple_of(self.share_align)
                && self.staged_end().is_multiple_of(self.share_align);
            let Some(method) = [Methods::COPY_FILE_RANGE, Methods::SPLICE, Methods::SENDFILE]
                .into_iter()
                .find(|&m| {
                    self.methods.contains(m)
                        && !tried.contains(m)
                        && (m != Methods::COPY_FILE_RANGE || shares)
                })
            else {
                return Ok(false);
            };
            let want = usize::try_from(owed).map_or(KERNEL_CHUNK, |owed| owed.min(KERNEL_CHUNK));
            let out = self.fd;
            let result = match method {
                Methods::COPY_FILE_RANGE => retrying(out, PollFlags::OUT, || {
                    rustix::fs::copy_file_range(fd, Some(&mut offset), out, None, want)
                }),
                Methods::SPLICE if self.kind == FdKind::Pipe => {
                    retrying(out, PollFlags::OUT, || {
                        let flags = rustix::pipe::SpliceFlags::empty();
                        rustix::pipe::splice(fd, Some(&mut offset), out, None, want, flags)
                    })
                }
                Methods::SPLICE => self.splice_through_pipe(fd, offset, want),
                _ => retrying(out, PollFlags::OUT, || {
                    rustix::fs::sendfile(out, fd, Some(&mut offset), want)
                }),
            };
            match result {
                Ok(n) => {
                    // `n` is at most `owed`, so this fails only for a source that shrank.
                    copy.advance(n).map_err(|e| blame.check(e))?;
                    let moved = len_u64(n);
                    match method {
                        Methods::COPY_FILE_RANGE => self.copied.copy_file_range += moved,
                        Methods::SPLICE => self.copied.splice += moved,
                        _ => self.copied.sendfile += moved,
                    }
                }
                // The kernel or this output lacks the method: stop trying it.
                Err(Errno::NOSYS | Errno::OPNOTSUPP) => self.methods = self.methods.without(method),
                // Not for this pair of files (another file system, a source type the
                // method does not take, an output opened for appending): next method.
                Err(Errno::XDEV | Errno::INVAL | Errno::BADF) => tried = tried | method,
                // The kernel does not say which side failed: the copy into the output did.
                Err(error) => return Err(output(self.written())(error.into())),
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn kernel_copy<T: ReadAt>(
        &mut self,
        _source: &T,
        _region: (BorrowedFd<'_>, u64),
        _copy: &mut ExternalCopy,
        _blame: &Blame<'_>,
    ) -> Result<bool, Error> {
        Ok(false)
    }

    /// After a copy reached the source's known length: one more byte means it grew.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn check_end<T: ReadAt>(
        &mut self,
        source: &T,
        copy: &mut ExternalCopy,
        blame: &Blame<'_>,
    ) -> Result<(), Error> {
        let mut probe = [0u8; 1];
        let n = read_at_retrying(source, &mut probe, copy.offset()).map_err(|e| blame.io(e))?;
        match copy.advance(n).map_err(|e| blame.check(e))? {
            Progress::Done => Ok(()),
            // advance() refuses bytes past the known length, so this is not reached.
            Progress::More => Err(blame.io(io::Error::other("source grew"))),
        }
    }

    /// `splice` from a file into a socket or a regular file through this output's pipe:
    /// source → pipe, then pipe → output until the pipe is empty. Returns the bytes taken
    /// from the source, all of which reached the output.
    #[cfg(target_os = "linux")]
    fn splice_through_pipe(
        &mut self,
        fd: BorrowedFd<'_>,
        mut offset: u64,
        want: usize,
    ) -> rustix::io::Result<usize> {
        use rustix::pipe::{splice, SpliceFlags};

        if self.pipe.is_none() {
            let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            // A larger pipe means fewer calls; the default size is fine too.
            let _ = rustix::pipe::fcntl_setpipe_size(&writer, 1 << 20);
            self.pipe = Some((reader, writer));
        }
        let Some((reader, writer)) = &self.pipe else {
            return Err(Errno::NOSYS);
        };
        let capacity = rustix::pipe::fcntl_getpipe_size(writer).unwrap_or(64 * 1024);
        let taken = rustix::io::retry_on_intr(|| {
            let want = want.min(capacity);
            splice(
                fd,
                Some(&mut offset),
                writer,
                None,
                want,
                SpliceFlags::empty(),
            )
        })?;
        let mut left = taken;
        while left > 0 {
            let out = self.fd;
            match retrying(out, PollFlags::OUT, || {
                splice(reader, None, out, None, left, SpliceFlags::MORE)
            }) {
                Ok(0) => return Err(Errno::PIPE),
                Ok(n) => left -= n,
                Err(_) => {
                    // `taken` bytes have left the source, so no error from here on may ask
                    // the caller to try another method for this range: that would copy
                    // them twice. The bytes in the pipe still reach the output in order
                    // through plain writes; splice is not used again for this output.
                    let (reader, _) = self.pipe.take().ok_or(Errno::IO)?;
                    self.methods = self.methods.without(Methods::SPLICE);
                    drain(&reader, self.fd, left, &mut self.buf).map_err(|error| {
                        match error.raw_os_error().map(Errno::from_raw_os_error) {
                            Some(errno) if !is_fallback(errno) => errno,
                            _ => Errno::IO,
                        }
                    })?;
                    return Ok(taken);
                }
            }
        }
        Ok(taken)
    }
}

/// Whether `kernel_copy` answers `errno` by trying another method for the same range.
#[cfg(target_os = "linux")]
fn is_fallback(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::INTR
            | Errno::AGAIN
            | Errno::NOSYS
            | Errno::OPNOTSUPP
            | Errno::XDEV
            | Errno::INVAL
            | Errno::BADF
    )
}

/// Moves `len` bytes from `pipe` to `out` through `buf`.
#[cfg(target_os = "linux")]
fn drain(pipe: &OwnedFd, out: BorrowedFd<'_>, mut len: usize, buf: &mut [u8]) -> io::Result<()> {
    while len > 0 {
        let room = buf.len().min(len);
        let n = match rustix::io::retry_on_intr(|| rustix::io::read(pipe, &mut buf[..room])) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(error) => return Err(error.into()),
        };
        write_all(out, &buf[..n])?;
        len -= n;
    }
    Ok(())
}
