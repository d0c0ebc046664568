//! `delta` and `apply`: update files between two images, over the adapters' `std::update`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use splitfdstream_adapters::std::update::{self, Options, DEFAULT_BLOCK_SIZE};

/// Make an update file that rebuilds NEW from OLD.
///
/// Finds the content of NEW anywhere in OLD (a block index of OLD and a rolling hash over
/// NEW, so shifted content is found too) and writes the ranges of OLD it uses, each with
/// its SHA-256, and the rest of NEW inline. OLD and NEW may be files, block devices,
/// `DISK#N` for partition N of a GPT or MBR disk image, or zstd/gzip-compressed files.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream delta rootfs-v1.ext4 rootfs-v2.ext4 -o v1-to-v2.sfdu --compress
  splitfdstream delta disk-v1.img#2 disk-v2.img#2 -o v1-to-v2.sfdu")]
pub struct DeltaArgs {
    /// The image the device has.
    old: PathBuf,
    /// The image to rebuild.
    new: PathBuf,
    /// Where to write the update.
    #[arg(short, long, value_name = "UPDATE")]
    output: PathBuf,
    /// Block size of OLD's index, in bytes.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BLOCK_SIZE)]
    block_size: usize,
    /// Compress the whole update with zstd, at LEVEL (1 to 22) [default: 19].
    #[arg(long, value_name = "LEVEL", num_args = 0..=1, default_missing_value = "19",
          value_parser = clap::value_parser!(i32).range(1..=22))]
    compress: Option<i32>,
}

/// Apply an update file to OLD and write NEW.
///
/// Every range of OLD is checked against its SHA-256 before it is used, and NEW against
/// its length and SHA-256 at the end; NEW appears only when complete and checked.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  splitfdstream apply v1-to-v2.sfdu --old rootfs-v1.ext4 -o rootfs-v2.ext4")]
pub struct ApplyArgs {
    /// The update (zstd- or gzip-compressed, or not).
    update: PathBuf,
    /// The image the update was made from.
    #[arg(long, value_name = "OLD")]
    old: PathBuf,
    /// Where to write the rebuilt image.
    #[arg(short, long, value_name = "NEW")]
    output: PathBuf,
}

/// Runs `delta`.
pub fn delta(args: &DeltaArgs, quiet: bool) -> anyhow::Result<()> {
    anyhow::ensure!(args.block_size > 0, "--block-size must be at least 1");
    let options = Options {
        block_size: args.block_size,
        compress: args.compress,
        ..Options::default()
    };
    let summary = update::make(&args.old, &args.new, &args.output, &options)
        .with_context(|| format!("making {}", args.output.display()))?;
    if !quiet {
        println!(
            "{}: {} bytes for a target of {} bytes: {} reused from OLD in {} ranges, {} new",
            args.output.display(),
            summary.update_len,
            summary.target_len,
            summary.reused,
            summary.ranges,
            summary.new_bytes
        );
    }
    Ok(())
}

/// Runs `apply`.
pub fn apply(args: &ApplyArgs, quiet: bool) -> anyhow::Result<()> {
    let len = update::apply(&args.update, &args.old, &args.output)
        .with_context(|| format!("applying {}", args.update.display()))?;
    if !quiet {
        println!("{}: {len} bytes, SHA-256 checked", args.output.display());
    }
    Ok(())
}
