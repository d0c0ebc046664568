//! What `rustix` has no safe wrapper for: the `BLKGETSIZE64` ioctl, and opening files
//! in groups through an `io_uring`.
//!
//! This is the only module of the crate that allows `unsafe`.
#![allow(unsafe_code)]

use ::std::io;
use ::std::os::fd::BorrowedFd;
#[cfg(target_os = "linux")]
use ::std::{
    ffi::CString,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    vec::Vec,
};

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

/// An `io_uring` that opens files in groups: one `io_uring_enter` opens a whole group,
/// where `openat` costs a system call each. On the 60,000-file layer, opening this way
/// (reads and closes staying system calls) took about a sixth less time than `openat`.
#[cfg(target_os = "linux")]
pub(crate) struct OpenRing {
    /// `None` once the ring failed: it is never used again.
    ring: Option<io_uring::IoUring>,
}

#[cfg(target_os = "linux")]
impl OpenRing {
    /// A ring for groups of up to `entries` opens; `None` where `io_uring` cannot be used
    /// (a kernel before 5.18, which lacks `IORING_SETUP_SUBMIT_ALL`; a sandbox that forbids
    /// it; `kernel.io_uring_disabled`).
    pub(crate) fn new(entries: u32) -> Option<OpenRing> {
        let ring = io_uring::IoUring::builder()
            .setup_submit_all()
            .build(entries)
            .ok()?;
        Some(OpenRing { ring: Some(ring) })
    }

    /// The most names one [`open_all`](OpenRing::open_all) takes.
    pub(crate) fn capacity(&self) -> usize {
        self.ring.as_ref().map_or(0, |ring| {
            usize::try_from(ring.params().sq_entries()).unwrap_or(0)
        })
    }

    /// Opens each of `names` relative to `dir` with `flags`, as `openat` would, and
    /// returns one result per name, in order. `Err` means the ring failed as a whole: it
    /// is not used again, what it opened is closed, and the caller opens the files another
    /// way. The ring fails before opening anything, except if waiting for opens under way
    /// fails a thousand times over, which no kernel does; opens still under way then are
    /// left to the kernel.
    pub(crate) fn open_all(
        &mut self,
        dir: BorrowedFd<'_>,
        names: &[CString],
        flags: rustix::fs::OFlags,
    ) -> io::Result<Vec<io::Result<OwnedFd>>> {
        let unusable = || io::Error::other("io_uring unusable");
        let capacity = self.capacity();
        let Some(ring) = self.ring.as_mut() else {
            return Err(unusable());
        };
        let count = names.len();
        if count > capacity || !ring.submission().is_empty() {
            return Err(unusable());
        }
        let flags = flags.bits().cast_signed();
        {
            let mut queue = ring.submission();
            for (at, name) in names.iter().enumerate() {
                let entry = io_uring::opcode::OpenAt::new(
                    io_uring::types::Fd(dir.as_raw_fd()),
                    name.as_ptr(),
                )
                .flags(flags)
                .build()
                .user_data(u64::try_from(at).unwrap_or(u64::MAX));
                // SAFETY: the entry points at `name` and at `dir`, which the caller keeps
                // for the whole call; the call returns only when every open it queued has
                // completed, or when none was submitted (the ring is then dropped with
                // them unsent). There is room: the queue was empty and `count` fits it.
                if unsafe { queue.push(&entry) }.is_err() {
                    drop(queue);
                    self.ring = None;
                    return Err(unusable());
                }
            }
        }
        let mut results: Vec<Option<io::Result<OwnedFd>>> = (0..count).map(|_| None).collect();
        let mut done = 0;
        let mut failures = 0u32;
        while done < count {
            match ring.submit_and_wait(count - done) {
                Ok(_) => {}
                Err(error) => {
                    if !ring.submission().is_empty() {
                        // Nothing was submitted: drop the ring and the queued opens.
                        self.ring = None;
                        return Err(error);
                    }
                    // Submitted, and the wait was cut short (a signal): wait again, for
                    // the opens are under way. Any other failure to wait would repeat;
                    // give up after many, leaving the ring to close what completes.
                    failures += 1;
                    if failures > 1000 {
                        self.ring = None;
                        return Err(error);
                    }
                }
            }
            for completion in ring.completion() {
                let Some(slot) = usize::try_from(completion.user_data())
                    .ok()
                    .and_then(|at| results.get_mut(at))
                else {
                    continue;
                };
                let result = completion.result();
                *slot = Some(if result >= 0 {
                    // SAFETY: a non-negative result of IORING_OP_OPENAT is a descriptor
                    // the kernel just installed for this open; nothing else owns it.
                    Ok(unsafe { OwnedFd::from_raw_fd(result) })
                } else {
                    Err(io::Error::from_raw_os_error(result.saturating_neg()))
                });
                done += 1;
            }
        }
        Ok(results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(unusable())))
            .collect())
    }
}
