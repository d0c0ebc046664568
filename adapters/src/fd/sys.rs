//! The one system call that `rustix` has no safe wrapper for: `BLKGETSIZE64`.
//!
//! This is the only module of the crate that allows `unsafe`.
#![allow(unsafe_code)]

use ::std::io;
use ::std::os::fd::BorrowedFd;

/// `BLKGETSIZE64`, `_IOR(0x12, 114, size_t)`: the kernel encodes `size_t` in the opcode but
/// always writes a `u64`.
#[cfg(target_os = "linux")]
const BLKGETSIZE64: rustix::ioctl::Opcode = rustix::ioctl::opcode::read::<usize>(0x12, 114);

/// The size in bytes of the block device open on `fd`.
#[cfg(target_os = "linux")]
pub(crate) fn block_device_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: BLKGETSIZE64 is a getter whose argument points to a `u64` the kernel fills
    // in; `Getter<_, u64>` provides exactly that storage and reads it only on success.
    // The ioctl has no other effect, and a descriptor that is not a block device makes it
    // fail with ENOTTY instead.
    let size = unsafe {
        let getter = rustix::ioctl::Getter::<BLKGETSIZE64, u64>::new();
        rustix::ioctl::ioctl(fd, getter)
    };
    size.map_err(io::Error::from)
}

/// Block device sizes need an ioctl this crate knows only for Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn block_device_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let _ = fd;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "block device sizes are only known on Linux",
    ))
}
