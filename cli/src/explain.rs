//! What the bundle knows, added to a reconstruction error: the fd list's size for an index
//! it lacks. The drivers' typed error already says which source failed, where in the
//! stream, and its path; the command reads it, never the message.

use splitfdstream_adapters::bundle::{Bundle, BundleError};
use splitfdstream_adapters::std::SourceFault;
use splitfdstream_adapters::SourceError;

/// `error` as the command reports it, with what `bundle` knows about the source at fault.
pub fn explain(error: BundleError, bundle: &Bundle) -> anyhow::Error {
    let BundleError::Rebuild { error, .. } = error else {
        return anyhow::Error::new(error);
    };
    let missing = error.source_failure().is_some_and(|failure| {
        matches!(
            failure.fault(),
            SourceFault::Check(SourceError::Missing { .. })
        )
    });
    let error = anyhow::Error::new(error);
    if missing {
        let count = bundle.source_count();
        let entries = if count == 1 { "entry" } else { "entries" };
        return error.context(format!(
            "the fd list {} has {count} {entries}",
            bundle.fd_list().display()
        ));
    }
    error
}
