//! Unix descriptors: zero-copy reconstruction into a descriptor, passing a stream and its
//! sources between processes, and sources that are block devices or regions of files.
//!
//! System calls go through `rustix`. The fast paths are Linux's; elsewhere on Unix every
//! external is copied with `pread` and `write`.
//!
//! # Descriptor numbering
//!
//! This is the one place where the numbering is defined. A stream's external chunk carries
//! a raw index `i` ([`FdIndex`](splitfdstream::FdIndex)):
//!
//! - when a stream travels with its descriptors over a Unix socket ([`send`],
//!   [`receive`]), the descriptor array is `[stream, source 0, source 1, …]`, so
//!   External(i) is `fds[i + 1]`;
//! - the successor format's stream travels with its directories instead ([`send_dirs`],
//!   [`receive_dirs`]): `[stream, directory 0, directory 1, …]`, so directory index `i` is
//!   `fds[i + 1]`, as in composefs's layer transport;
//! - every other API here, like the rest of the crate, takes the sources alone:
//!   External(i) is `sources[i]`. [`receive`] already splits the array into
//!   [`Received::stream`] and [`Received::sources`], so `Received::sources[i]` is
//!   External(i).
//!
//! # Reconstruction into a descriptor
//!
//! [`reconstruct`] and [`Reconstruct`] decode the stream with the crate's shared driver
//! (the same core [`Decoder`](splitfdstream::Decoder) bookkeeping as
//! [`std::reconstruct`](crate::std::reconstruct)) and write the original bytes to a
//! descriptor. Inline data and externals shorter than
//! [`kernel_copy_min`](Reconstruct::kernel_copy_min) (128 KiB by default) are gathered in
//! one 256 KiB staging buffer and written with one `write`/`writev`, so a layer of small
//! files costs one `pread` per file and a write per 256 KiB, not a system call per tar
//! header. Each larger external whose source has a descriptor
//! ([`ReadAt::fd_region`](crate::std::ReadAt::fd_region): files, [`FdSource`],
//! [`FileRange`]) is copied by the kernel, by the first method that applies to the
//! output, in this order:
//!
//! | output | methods tried, in order |
//! |---|---|
//! | regular file | `copy_file_range` where it can share extents (see below), then `splice` through a private pipe |
//! | pipe | `splice` from the source straight into the pipe |
//! | socket | `splice` through a private pipe, then `sendfile` |
//! | anything else (`/dev/null`, a terminal) | none |
//!
//! and then `pread` + `write` through the staging buffer. A method that copies short is
//! called again from where it stopped. One that fails with `EXDEV`, `EINVAL` or `EBADF`
//! (different file systems, a source type it does not take, an output opened with
//! `O_APPEND`) is skipped for that external; `ENOSYS` or `EOPNOTSUPP` drops it for the
//! rest of the run. Bytes already in the private pipe when the output refuses `splice`
//! are written out before falling back, so the output is byte-for-byte the same whichever
//! path ran; [`Copied`] says how many bytes each path moved, and [`Methods`] restricts the
//! choice (tests use it to force each path).
//!
//! Writes into a regular file are cut at 64 KiB-aligned output offsets where they can
//! be, and a kernel copy starts at one: the page cache then uses large folios, and
//! writes shifted by a tar header's 512 bytes measured a third slower. `copy_file_range`
//! is worth it only where it shares extents (btrfs, XFS) or copies on a server (NFS):
//! otherwise the kernel copies page by page through a small pipe of its own, which
//! measured slower than `splice` through a 1 MiB pipe. Sharing needs the source and output
//! offsets to be multiples of the block size, which a tar member never is (its data
//! follows a 512-byte header), so into a regular file `copy_file_range` is tried only at
//! block-aligned offsets on a file system other than ext2/3/4, tmpfs and ramfs, unless
//! asked for everywhere ([`Reconstruct::copy_file_range_anywhere`]); every other kernel
//! copy into a regular file is a `splice` through the private pipe. On ext4, for a layer
//! of large files, that took about two thirds of the CPU time of `pread` and `write`.
//!
//! A source smaller than the threshold is read with no `fstat`: one `pread` usually gets
//! all of it and a second one, returning 0, confirms its end. A short read alone is never
//! taken as the end (procfs and FUSE files read short before it, and a file may be
//! extended). The length read is checked against the size the caller expects, if any.
//!
//! A pipe output with less than 1 MiB of capacity is grown to 1 MiB where the kernel
//! allows it (`F_SETPIPE_SZ`): with the default 64 KiB the writer and the reader take
//! turns four times per staging buffer, and a layer of small files rebuilt into a pipe
//! went from 1.6–1.75× to 1.4–1.45× the time of `cat` with the larger pipe.
//!
//! Interrupted calls are retried and `EAGAIN` on a non-blocking output waits for it with
//! `poll`, so an output may be non-blocking.
//!
//! # Sizes and errors
//!
//! External content is the whole source from offset 0 to its end, and the copy is checked
//! against the source's size (a regular file's length, a block device's `BLKGETSIZE64`,
//! a [`FileRange`]'s length, or the size the caller [expects](crate::std::Sources::expected_len)).
//! The kernel is asked for exactly that many bytes, never more; a source that ends
//! early fails with [`SourceError::Shrank`](crate::SourceError::Shrank) and one that holds
//! a byte past its size after the copy with [`SourceError::Grew`](crate::SourceError::Grew)
//! (both `InvalidData`). Every other error is that of
//! [`std::reconstruct`](crate::std::reconstruct), or of the failing system call. On error,
//! part of the output has been written: write to a temporary file and rename it on
//! success when that matters.
//!
//! # Passing descriptors
//!
//! [`send`] and [`receive`] move a stream and its sources over a Unix stream socket with
//! `SCM_RIGHTS`: a framing message with the number of descriptors, then batches of at
//! most [`MAX_FDS_PER_MESSAGE`] (253, Linux's `SCM_MAX_FD`). The receiver takes them
//! close-on-exec, treats `MSG_CTRUNC` (descriptors dropped, usually at the open-file
//! limit) as an error, checks each one's kind and closes everything it received on any
//! error ([`PassError`]).
//!
//! ```
//! use std::io::{Seek, Write};
//! use std::os::unix::net::UnixStream;
//! use splitfdstream_adapters::fd::{receive, reconstruct, send};
//! use splitfdstream_adapters::std::Writer;
//!
//! // The sender: a stream in a file, and one source.
//! let mut source = tempfile::tempfile()?;
//! source.write_all(b"content")?;
//! let mut stream = tempfile::tempfile()?;
//! let mut writer = Writer::new(&mut stream);
//! writer.write_inline(b"<header>")?;
//! writer.write_external(0)?;
//! writer.finish()?;
//! stream.rewind()?;
//! let (sender, receiver) = UnixStream::pair()?;
//! send(&sender, &stream, &[&source])?;
//!
//! // The receiver: External(0) is `received.sources[0]` (fds[1] on the wire).
//! let received = receive(&receiver)?;
//! let mut out = tempfile::tempfile()?;
//! let stream = std::fs::File::from(received.stream);
//! assert_eq!(reconstruct(stream, &received.sources, &out)?, 15);
//! out.rewind()?;
//! assert_eq!(std::io::read_to_string(out)?, "<header>content");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Many small sources named by path
//!
//! When sources are files named by path rather than open descriptors (a layer of 60,000
//! files cannot all be open at once under a common open-file limit), opening, reading and
//! closing each file costs more than writing it out.
//! [`PathSources`](crate::std::PathSources) does that in index order on helper threads, a
//! bounded number ahead, so that this work overlaps the writes: small files arrive as
//! their content, read whole, and larger ones open, for the kernel to copy. With this
//! feature, on Linux 5.18 or later, the helpers open files in groups through `io_uring`.
//!
//! # Sources that are not whole files
//!
//! - [`FdSource`]: a whole descriptor, sized with [`source_size`] (block devices by
//!   `BLKGETSIZE64`, since `fstat` reports 0 for them).
//! - [`FileRange`]: `len` bytes from `offset` of a descriptor — a partition in a disk
//!   image, an area of a block device that already holds the content. Reads stay inside
//!   the range and the kernel copies start at `offset`.

mod pass;
mod reconstruct;
mod retry;
mod source;
pub(crate) mod sys;

pub use pass::{
    receive, receive_at_most, receive_dirs, send, send_dirs, PassError, Received, ReceivedDirs,
    DEFAULT_MAX_SOURCES, MAX_FDS_PER_MESSAGE,
};
pub use reconstruct::{reconstruct, Copied, Methods, Reconstruct, DEFAULT_KERNEL_COPY_MIN};
pub use source::{source_size, FdKind, FdSource, FileRange};
