//! `convert`: a bundle rewritten in the other format, referring to the same files.

use std::path::Path;

use anyhow::Result;
use splitfdstream_adapters::bundle::{Bundle, Durability};
use splitfdstream_adapters::Format;

/// The `convert` command: writes `bundle`'s stream in format `to` at `output`, with its
/// sidecar; `objects` is directory 0 of a successor-format result.
///
/// # Errors
///
/// As [`Bundle::convert`].
pub fn run(
    bundle: &Bundle,
    to: Format,
    output: &Path,
    objects: Option<&Path>,
    quiet: bool,
) -> Result<()> {
    let entries = bundle.convert(to, output, objects, Durability::Synced)?;
    if !quiet {
        let list = if to == Format::Splitdirfdstream {
            "directories"
        } else {
            "sources"
        };
        eprintln!(
            "converted {} ({}) to {} ({to}), {entries} {list}",
            bundle.stream().display(),
            bundle.format(),
            output.display(),
        );
    }
    Ok(())
}
