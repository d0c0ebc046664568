//! The host side of update files (feature `update`): make the update that rebuilds one
//! image from another, and apply one, on files, block devices and partitions of disk
//! images.
//!
//! - [`delta`] finds the content of NEW anywhere in OLD: a block index of OLD at the block
//!   size (4 KiB by default) and a rolling hash over NEW, so content shifted by any number
//!   of bytes is still found; matches are extended byte by byte and merged into as few
//!   ranges as possible, and the rest is new bytes.
//! - [`write_update`] writes the update file (see [`splitfdstream::update`]) of a delta,
//!   with each range's SHA-256, optionally zstd-compressed as a whole; [`make`] does both
//!   from paths.
//! - [`apply`] applies an update from paths with the `no_std` applier, every range and
//!   the target checked by SHA-256, the result renamed into place only when complete.
//! - [`Image`] opens what an update is made from or applied to: a file, a block device, a
//!   partition of a GPT or MBR disk image (`disk.img#2`, found with the `gpt` and `mbrman`
//!   crates), a zstd- or gzip-compressed file. [`open_update`] reads update files the same
//!   way.

mod delta;
mod file;
mod image;

pub use delta::{delta, Delta, Piece, DEFAULT_BLOCK_SIZE};
pub use file::{apply, make, open_update, write_update, Options, Summary};
pub use image::{open_plain, Compression, Image};
