//! What every std-side driver does with the [`Rebuild`](crate::drive::Rebuild) steps that
//! concern sources, and how their failures become an [`Error`].

use ::std::boxed::Box;
use ::std::io;
use ::std::path::Path;

use splitfdstream::FdIndex;

use super::error::{Error, SourceFailure, SourceFault};
use super::{read_at_retrying, ReadAt, Sources};
use crate::drive::Rebuild;
use crate::error::SourceError;
use crate::SourceRef;

/// Which source is at fault when a copy fails: its reference, where the stream was, and
/// its path, for the [`Error`] that says so.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blame<'a> {
    index: FdIndex,
    stream_offset: u64,
    path: Option<&'a Path>,
}

impl<'a> Blame<'a> {
    pub(crate) fn new<S: Sources + ?Sized>(
        sources: &'a S,
        index: FdIndex,
        stream_offset: u64,
    ) -> Blame<'a> {
        Blame {
            index,
            stream_offset,
            path: sources.path(SourceRef::Index(index)),
        }
    }

    pub(crate) fn fault(&self, fault: SourceFault) -> Error {
        Error::Source(Box::new(SourceFailure::new(
            self.stream_offset,
            self.index.get(),
            self.path.map(Path::to_path_buf),
            fault,
        )))
    }

    /// An I/O error of the source.
    pub(crate) fn io(&self, error: io::Error) -> Error {
        self.fault(SourceFault::Io(error))
    }

    /// A failed check of the source.
    pub(crate) fn check(&self, error: SourceError) -> Error {
        self.fault(SourceFault::Check(error))
    }
}

/// The error of writing the output after `written` rebuilt bytes.
pub(crate) fn output(written: u64) -> impl FnOnce(io::Error) -> Error {
    move |error| Error::Output { written, error }
}

/// The failure of the source `index` names, after `stream_offset` stream bytes.
pub(crate) fn failure<S: Sources + ?Sized>(
    sources: &S,
    index: FdIndex,
    stream_offset: u64,
    fault: SourceFault,
) -> Error {
    Blame::new(sources, index, stream_offset).fault(fault)
}

/// An I/O error of the source `index` names.
pub(crate) fn io_failure<S: Sources + ?Sized>(
    sources: &S,
    index: FdIndex,
    stream_offset: u64,
) -> impl FnOnce(io::Error) -> Error + '_ {
    let blame = Blame::new(sources, index, stream_offset);
    move |error| blame.io(error)
}

/// A failed check of the source `index` names.
pub(crate) fn check_failure<S: Sources + ?Sized>(
    sources: &S,
    index: FdIndex,
    stream_offset: u64,
) -> impl FnOnce(SourceError) -> Error + '_ {
    let blame = Blame::new(sources, index, stream_offset);
    move |error| blame.check(error)
}

/// The source for `index`, or the error that says why there is none.
pub(crate) fn open_source<S: Sources + ?Sized>(
    sources: &S,
    index: FdIndex,
    stream_offset: u64,
) -> Result<S::Source<'_>, Error> {
    match sources.source(SourceRef::Index(index)).map_err(io_failure(
        sources,
        index,
        stream_offset,
    ))? {
        Some(source) => Ok(source),
        None => Err(failure(
            sources,
            index,
            stream_offset,
            SourceFault::Check(SourceError::Missing { index: index.get() }),
        )),
    }
}

/// [`Step::OpenSource`](crate::drive::Step::OpenSource): opens source `index`, starts its
/// copy with its size and the size expected of it, and returns it.
pub(crate) fn start_source<'s, S: Sources + ?Sized>(
    rebuild: &mut Rebuild,
    sources: &'s S,
    index: FdIndex,
) -> Result<S::Source<'s>, Error> {
    let at = rebuild.position();
    let source = open_source(sources, index, at)?;
    let size = source.size().map_err(io_failure(sources, index, at))?;
    let expected = sources.expected_len(SourceRef::Index(index));
    rebuild
        .source_opened(index, size, expected)
        .map_err(check_failure(sources, index, at))?;
    Ok(source)
}

/// [`Step::ReadSource`](crate::drive::Step::ReadSource): reads `source` at `offset` into
/// `target` and reports it; returns the bytes read.
pub(crate) fn read_source<S: Sources + ?Sized, T: ReadAt + ?Sized>(
    rebuild: &mut Rebuild,
    sources: &S,
    (index, source): (FdIndex, &T),
    target: &mut [u8],
    offset: u64,
) -> Result<usize, Error> {
    let at = rebuild.position();
    let n = read_at_retrying(source, target, offset).map_err(io_failure(sources, index, at))?;
    rebuild
        .source_read(n, target.len())
        .map_err(check_failure(sources, index, at))?;
    Ok(n)
}

/// The source of `index` for [`Step::ReadSource`](crate::drive::Step::ReadSource): the one
/// `held` since it was opened, or, for a driver that could not hold it, the one the sources
/// hand back for it again ([`Sources::source_again`], cheap by the contract).
pub(crate) fn hold<'h, 's, S: Sources + ?Sized>(
    held: &'h mut Option<(FdIndex, S::Source<'s>)>,
    sources: &'s S,
    index: FdIndex,
    stream_offset: u64,
) -> Result<&'h S::Source<'s>, Error> {
    if held.as_ref().is_none_or(|(open, _)| *open != index) {
        let again = sources
            .source_again(SourceRef::Index(index))
            .map_err(io_failure(sources, index, stream_offset))?;
        let missing = SourceError::Missing { index: index.get() };
        let again = again.ok_or_else(|| check_failure(sources, index, stream_offset)(missing))?;
        *held = Some((index, again));
    }
    match held {
        Some((_, source)) => Ok(source),
        None => Err(failure(
            sources,
            index,
            stream_offset,
            SourceFault::Check(SourceError::Missing { index: index.get() }),
        )),
    }
}
