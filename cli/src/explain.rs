//! What the bundle knows, added to a reconstruction error: the fd list's size for an index
//! it lacks, the path of a source that failed.
//!
//! The drivers report a failed source inside an `io::Error`; this is the one place that
//! looks inside it.

use std::io;

use splitfdstream::FdIndex;
use splitfdstream_adapters::bundle::{Bundle, BundleError};
use splitfdstream_adapters::std::SourceIoError;
use splitfdstream_adapters::SourceError;

/// `error` as the command reports it, with what `bundle` knows about the source at fault.
pub fn explain(error: BundleError, bundle: &Bundle) -> anyhow::Error {
    match error {
        BundleError::Rebuild { error, .. } => explain_io(error, bundle),
        other => anyhow::Error::new(other),
    }
}

fn explain_io(error: io::Error, bundle: &Bundle) -> anyhow::Error {
    let inner = error.get_ref();
    let missing = inner
        .and_then(|inner| inner.downcast_ref::<SourceError>())
        .is_some_and(|inner| matches!(inner, SourceError::Missing { .. }));
    let index = inner.and_then(|inner| {
        inner
            .downcast_ref::<SourceIoError>()
            .map(SourceIoError::index)
            .or_else(|| inner.downcast_ref::<SourceError>().map(SourceError::index))
    });
    let message = error.to_string();
    let error = anyhow::Error::new(error);
    if missing {
        let count = bundle.source_count();
        let entries = if count == 1 { "entry" } else { "entries" };
        return error.context(format!(
            "the fd list {} has {count} {entries}",
            bundle.fd_list().display()
        ));
    }
    match index
        .and_then(FdIndex::new)
        .and_then(|index| bundle.source_path(index))
    {
        Some(path) if !message.contains(&*path.to_string_lossy()) => {
            error.context(format!("reading {}", path.display()))
        }
        _ => error,
    }
}
