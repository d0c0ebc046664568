//! I/O adapters for the [`splitfdstream`] codec.
//!
//! The core crate is the format alone: it turns bytes into chunks and chunks into bytes in
//! caller buffers. This crate connects it to I/O, one module per target, each a thin driver
//! around the core [`Decoder`](splitfdstream::Decoder) and
//! [`Encoder`](splitfdstream::Encoder):
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`embedded_io`] | (always) | `no_std`, no allocation: a [`Reader`](embedded_io::Reader) and [`Writer`](embedded_io::Writer) over `embedded-io` 0.7 with caller buffers, and [`reconstruct`](embedded_io::reconstruct) from `Read + Seek` sources in a fixed-capacity [`SourceTable`](embedded_io::SourceTable); [`apply`](embedded_io::apply) and [`resume`](embedded_io::resume) of update files, every range and the target checked by SHA-256, with checkpoints |
//! | `asynch` | `async` | `no_std`, no allocation: the same over `embedded-io-async` 0.7: an async `Reader` and `Writer`, and `reconstruct` from async `Read + Seek` sources in the same `SourceTable`; `apply` and `resume` of update files |
//! | `std::update` | `update` | the delta of two images, update files made and applied from paths, images that are files, block devices or partitions |
//! | `std` | `std` | `std::io` reader and writer, the `Sources` trait with file, lazily opened path and in-memory implementations, `reconstruct`, and `Read`/`Seek` views of the rebuilt stream |
//! | `futures_03` | `futures-03` | `futures-io` 0.3 (smol, async-std, `futures`): the `asynch` `Reader`, `Writer` and `reconstruct` over `AsyncRead`/`AsyncWrite`/`AsyncSeek`, through `embedded-io-adapters`' `FromFutures`; no code of its own in the I/O path |
//! | `tokio_1` | `tokio-1` | a cancel-safe `Reader` and a `Writer` over tokio's `AsyncRead`/`AsyncWrite`, and `reconstruct` into an `AsyncWrite` from the `std` module's sources (files, lazily opened paths) read on the blocking pool |
//! | `bundle` | `std` (unix) | the bundle on disk (stream, fd list, sizes file): read and write the sidecars, rebuild into a path, a writer or a descriptor, and outputs that appear only when complete |
//! | `archive` | `archive` | archive walkers as a library: which bytes are member content and which stay inline; cpio `newc`/`crc` archives and initramfs images (NUL padding, plain and compressed archives in any mix), with a header parser free of I/O |
//! | `decompress` | `decompress` | transparent decompression by magic bytes (gzip, zstd, xz, bzip2, LZ4 frame and legacy), member after member, with errors that name the format and the offset |
//! | `fd` | `fd` (unix) | descriptors: zero-copy `reconstruct` into a descriptor (`copy_file_range`, `splice`, `sendfile` on Linux), `send`/`receive` of a stream and its sources by `SCM_RIGHTS`, block-device and `FileRange` sources |
//!
//! # Features
//!
//! - default: none. The crate is `#![no_std]` and provides the blocking `embedded-io`
//!   adapters; it builds for bare-metal targets such as `thumbv7em-none-eabihf`.
//! - `std`: the `std::io` adapters and reconstruction from files.
//! - `fd` (unix; implies `std`): descriptor-level reconstruction, descriptor passing and
//!   block-device sources, through `rustix` (and, on Linux, `io-uring` to open files in
//!   groups). The crate's only `unsafe` code (the `BLKGETSIZE64` ioctl, and queueing opens
//!   on an `io_uring`) lives in one module of `fd`; without this feature the crate forbids
//!   `unsafe`.
//! - `async`: the `embedded-io-async` adapters (`no_std`, no allocation; builds for
//!   bare-metal targets too).
//! - `tokio-1` (implies `std`): the tokio adapters.
//! - `futures-03` (implies `std` and `async`): the `futures-io` adapters, through
//!   `embedded-io-adapters` 0.7.
//! - `update` (implies `std`): `std::update`, the host side of update files: the delta of
//!   two images, update files written and read (zstd- or gzip-compressed), a verified
//!   apply, and images that are files, block devices or partitions of GPT or MBR disk
//!   images (through `gpt`, `mbrman`, `zstd`, `flate2` and `tempfile`).
//! - `decompress` (implies `std`): the `decompress` module, over `flate2` (zlib-rs),
//!   `zstd`, `liblzma`, `bzip2` (pure Rust) and `lz4_flex`.
//! - `archive` (implies `decompress`): the `archive` module.
//! - `defmt`: derives `defmt::Format` on the public types; forwarded to the core,
//!   `embedded-io` and `heapless`.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.87 (heapless 0.9 needs it), with every feature; checked in CI.
//!
//! # External sources
//!
//! A stream's external chunk carries a raw index (`FdIndex`). Every API here maps index `i`
//! to the `i`-th source of the caller's list; when descriptors travel over a Unix socket as
//! `[stream, source 0, source 1, …]`, the caller drops the first before building that list.
//! External content is the whole source from offset 0 to its end, read positionally, so one
//! source may be referenced any number of times. When a source's size is known, or the
//! caller supplies the size it expects, the bytes read must match it exactly: a source that
//! is too short, too long, or that shrinks or grows while being read is an error
//! ([`SourceError`]), never cut or padded.

//!
//! # The successor format, splitdirfdstream
//!
//! Every driver reads either [`Format`]: `reconstruct_as` in [`embedded_io`], `asynch`,
//! `futures_03`, `std` and `tokio_1`, `Reconstructor::with_format`, and
//! `fd::Reconstruct::format`. A FileBackedData chunk becomes a [`SourceRef::Named`]
//! reference (directory index, name, length) which the sources resolve: `std::DirSources`
//! (directories opened from paths or received as descriptors, names opened confined
//! beneath them by the one source policy, read ahead like `std::PathSources`), or
//! `embedded_io::NamedTable` (a fixed-capacity table for `no_std`), or your own `Sources`.
//! `fd::send_dirs` and `fd::receive_dirs` pass `[stream, dirfd 0, dirfd 1, …]`.
//!
//! Differences from the reference implementation (`composefs-splitdirfdstream` 0.9.4)
//! beyond the codec's (listed in [`splitfdstream::dir`]); each is tested against it in
//! `tests/dir_peer.rs`:
//!
//! - **A file of another size than declared is an error.** The reference reads
//!   `content_len` bytes and ignores the rest of a longer file; here a file shorter or
//!   longer than `content_len`, or one that shrinks or grows while it is read, fails the
//!   reconstruction (never cut, never padded).
//! - **Only regular files and block devices are sources.** The reference opens whatever
//!   the name leads to (blocking, so a FIFO waits for a writer forever; a directory
//!   declared empty rebuilds to nothing); here names are opened non-blocking and the
//!   descriptor's type is checked first.
//! - **No unconfined fallback.** The reference falls back to a plain `openat` on kernels
//!   without `openat2`; here that is an error. On other platforms than Linux, where
//!   there is no `openat2`, `DirSources` applies the same name rules but follows symbolic
//!   links wherever they lead: hold only trusted directories there.
//! - **Descriptor passing** uses this crate's own framing (`fd::send_dirs`), not
//!   composefs's varlink transport: no limit of 240 descriptors per frame, a framing
//!   message that says how many follow, and each received descriptor checked to be a
//!   directory. The order, `[stream, dirfd 0, …]`, is the same.
//! - **A name must fit the stream buffer.** The drivers decode a FileBackedData chunk
//!   whole from their stream buffer, which for the `no_std` drivers is half of the
//!   caller's: a name longer than it holds is a decode error at its chunk. The std, fd
//!   and tokio drivers' buffers hold the longest name the format allows.

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(feature = "fd"), forbid(unsafe_code))]
// One ioctl (`BLKGETSIZE64`) and `io_uring` submissions have no safe wrapper; their module
// alone allows `unsafe`.
#![cfg_attr(feature = "fd", deny(unsafe_code))]

mod apply;
mod drive;
mod error;
mod format;
mod io_loops;
mod source_ref;

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "async")]
pub mod asynch;
#[cfg(all(feature = "std", unix))]
pub mod bundle;
#[cfg(feature = "decompress")]
pub mod decompress;
pub mod embedded_io;
#[cfg(all(feature = "fd", unix))]
pub mod fd;
#[cfg(feature = "futures-03")]
pub mod futures_03;
#[cfg(feature = "std")]
pub mod std;
#[cfg(feature = "tokio-1")]
pub mod tokio_1;

pub use error::{ReadError, SourceError, WriteError};
pub use format::{Format, StreamError, UnknownFormat};
pub use source_ref::SourceRef;

/// The smallest read buffer a reader accepts: one chunk prefix.
pub const MIN_BUFFER_LEN: usize = splitfdstream::HEADER_LEN;
