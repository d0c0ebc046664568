//! The size a bundle rebuilds into, for a progress bar's total.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;

use anyhow::Context;
use splitfdstream::{dir, FdIndex};
use splitfdstream_adapters::bundle::Bundle;
use splitfdstream_adapters::Format;

use crate::inspect::{self, Listed};
use crate::progress::Progress;

/// The inline bytes of the stream plus the size of every source it refers to (from the
/// sizes file, or the file's current size). Worked out only when a bar is drawn; `None` (a
/// bar without a total) when anything is off, which the rebuild itself will then report.
pub fn of(quiet: bool, bundle: &Bundle) -> Option<u64> {
    if !Progress::shown(quiet) {
        return None;
    }
    if bundle.format() == Format::Splitdirfdstream {
        // Each FileBackedData chunk declares its length.
        let stream = fs::read(bundle.stream()).ok()?;
        let mut total = 0u64;
        for chunk in splitfdstream::dir::Chunks::new(&stream) {
            let len = match chunk.ok()? {
                dir::Chunk::Metadata(body) | dir::Chunk::InlineData(body) => {
                    u64::try_from(body.data.len()).ok()?
                }
                dir::Chunk::FileBackedData(file) => file.content_len,
            };
            total = total.saturating_add(len);
        }
        return Some(total);
    }
    let file = File::open(bundle.stream()).ok()?;
    let mut sizes = HashMap::new();
    let mut externals = 0u64;
    let summary = inspect::scan(io::BufReader::new(file), |listed| {
        if let Listed::External { index, .. } = listed {
            let size = match sizes.get(&index) {
                Some(&size) => size,
                None => {
                    let at = FdIndex::new(index).context("no such source")?;
                    let size = match bundle.expected_len(at) {
                        Some(size) => size,
                        None => {
                            fs::metadata(bundle.source_path(at).context("no such source")?)?.len()
                        }
                    };
                    sizes.insert(index, size);
                    size
                }
            };
            externals = externals.saturating_add(size);
        }
        Ok(())
    })
    .ok()?;
    Some(summary.inline_bytes.saturating_add(externals))
}
