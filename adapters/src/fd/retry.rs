//! Writes to a descriptor that retry interrupted calls and wait out `EAGAIN` on
//! non-blocking descriptors, so callers see only real errors.

use ::std::io;
use ::std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags};
use rustix::io::{Errno, IoSlice};

/// Waits until `fd` is ready for `events`.
pub(crate) fn wait(fd: BorrowedFd<'_>, events: PollFlags) -> io::Result<()> {
    let mut fds = [PollFd::from_borrowed_fd(fd, events)];
    rustix::io::retry_on_intr(|| rustix::event::poll(&mut fds, None))?;
    Ok(())
}

/// Calls `call` until it neither is interrupted nor would block: `EINTR` calls again,
/// `EAGAIN` waits for `fd` to be ready for `events` first. The one loop for every system
/// call on a descriptor that may be non-blocking.
pub(crate) fn retrying<T>(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    mut call: impl FnMut() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    loop {
        match call() {
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                wait(fd, events)
                    .map_err(|error| Errno::from_io_error(&error).unwrap_or(Errno::IO))?;
            }
            other => return other,
        }
    }
}

/// Writes all of `bytes` to `fd`.
pub(crate) fn write_all(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    write_all_vectored(fd, bytes, &[])
}

/// Writes all of `first` then all of `second` to `fd`, with as few `writev` calls as the
/// descriptor allows.
pub(crate) fn write_all_vectored(
    fd: BorrowedFd<'_>,
    mut first: &[u8],
    mut second: &[u8],
) -> io::Result<()> {
    while !first.is_empty() || !second.is_empty() {
        let result = retrying(fd, PollFlags::OUT, || {
            if first.is_empty() {
                rustix::io::write(fd, second)
            } else if second.is_empty() {
                rustix::io::write(fd, first)
            } else {
                rustix::io::writev(fd, &[IoSlice::new(first), IoSlice::new(second)])
            }
        });
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let from_first = n.min(first.len());
                first = &first[from_first..];
                second = second.get(n - from_first..).unwrap_or_default();
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
