//! What every std-side driver does with the [`Rebuild`](crate::drive::Rebuild) steps that
//! concern sources, and how their failures become an [`Error`].

use ::std::boxed::Box;
use ::std::io;
use ::std::path::{Path, PathBuf};

use super::error::{Error, SourceFailure, SourceFault};
use super::{read_at_retrying, ReadAt, Sources};
use crate::drive::{Rebuild, RefAt};
use crate::error::SourceError;
use crate::SourceRef;

/// The error of writing the output after `written` rebuilt bytes.
pub(crate) fn output(written: u64) -> impl FnOnce(io::Error) -> Error {
    move |error| Error::Output { written, error }
}

/// The size a source must have: what the caller expects of it, else what the reference
/// itself says.
pub(crate) fn expected_len<S: Sources + ?Sized>(
    sources: &S,
    reference: SourceRef<'_>,
) -> Option<u64> {
    sources
        .expected_len(reference)
        .or_else(|| reference.required_len())
}

/// Which source is at fault when a copy fails: its reference, where the stream was, and
/// its path or name, for the [`Error`] that says so.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blame<'a> {
    number: u64,
    stream_offset: u64,
    path: Option<&'a Path>,
    name: Option<&'a [u8]>,
}

impl<'a> Blame<'a> {
    pub(crate) fn new<S: Sources + ?Sized>(
        sources: &'a S,
        reference: SourceRef<'a>,
        stream_offset: u64,
    ) -> Blame<'a> {
        let name = match reference {
            SourceRef::Named { name, .. } => Some(name),
            _ => None,
        };
        Blame {
            number: reference.number(),
            stream_offset,
            path: sources.path(reference),
            name,
        }
    }

    fn path_buf(&self) -> Option<PathBuf> {
        if let Some(path) = self.path {
            return Some(path.to_path_buf());
        }
        let name = self.name?;
        #[cfg(unix)]
        {
            use ::std::os::unix::ffi::OsStrExt as _;
            Some(PathBuf::from(::std::ffi::OsStr::from_bytes(name)))
        }
        #[cfg(not(unix))]
        {
            Some(PathBuf::from(
                ::std::string::String::from_utf8_lossy(name).into_owned(),
            ))
        }
    }

    pub(crate) fn fault(&self, fault: SourceFault) -> Error {
        let failure = SourceFailure::new(self.stream_offset, self.number, self.path_buf(), fault);
        Error::Source(Box::new(match self.name {
            Some(_) => failure.beneath_directory(),
            None => failure,
        }))
    }

    /// An I/O error of the source.
    pub(crate) fn io(&self, error: io::Error) -> Error {
        self.fault(SourceFault::Io(error))
    }

    /// A failed check of the source.
    pub(crate) fn check(&self, error: SourceError) -> Error {
        self.fault(SourceFault::Check(error))
    }

    /// The source is missing.
    pub(crate) fn missing(&self) -> Error {
        self.check(SourceError::Missing { index: self.number })
    }
}

/// The source `reference` names, or the error that says why there is none.
pub(crate) fn open_source<'s, S: Sources + ?Sized>(
    sources: &'s S,
    reference: SourceRef<'_>,
    stream_offset: u64,
) -> Result<S::Source<'s>, Error> {
    let blame = |sources| Blame::new(sources, reference, stream_offset);
    match sources.source(reference) {
        Ok(Some(source)) => Ok(source),
        Ok(None) => Err(blame(sources).missing()),
        Err(error) => Err(blame(sources).io(error)),
    }
}

/// [`Step::OpenSource`](crate::drive::Step::OpenSource): opens the source `reference`
/// names in `buf`, starts its copy with its size and the size it must have, and returns it.
pub(crate) fn start_source<'s, S: Sources + ?Sized>(
    rebuild: &mut Rebuild,
    sources: &'s S,
    (reference, buf): (&RefAt, &[u8]),
) -> Result<S::Source<'s>, Error> {
    let at = rebuild.position();
    let reference = reference.get(buf);
    let source = open_source(sources, reference, at)?;
    let blame = Blame::new(sources, reference, at);
    let size = source.size().map_err(|e| blame.io(e))?;
    rebuild
        .source_opened(size, expected_len(sources, reference))
        .map_err(|e| blame.check(e))?;
    Ok(source)
}

/// [`Step::ReadSource`](crate::drive::Step::ReadSource): reads `source` at `offset` into
/// `target` and reports it; returns the bytes read.
pub(crate) fn read_source<S: Sources + ?Sized, T: ReadAt + ?Sized>(
    rebuild: &mut Rebuild,
    sources: &S,
    (reference, source): (SourceRef<'_>, &T),
    target: &mut [u8],
    offset: u64,
) -> Result<usize, Error> {
    let at = rebuild.position();
    let blame = Blame::new(sources, reference, at);
    let n = read_at_retrying(source, target, offset).map_err(|e| blame.io(e))?;
    rebuild
        .source_read(n, target.len())
        .map_err(|e| blame.check(e))?;
    Ok(n)
}

/// The source of `reference` for [`Step::ReadSource`](crate::drive::Step::ReadSource): the
/// one `held` since it was opened, or, for a driver that could not hold it, the one the
/// sources hand back for it again ([`Sources::source_again`], cheap by the contract).
pub(crate) fn hold<'h, 's, S: Sources + ?Sized>(
    held: &'h mut Option<(RefAt, S::Source<'s>)>,
    sources: &'s S,
    (reference, buf): (&RefAt, &[u8]),
    stream_offset: u64,
) -> Result<&'h S::Source<'s>, Error> {
    if held.as_ref().is_none_or(|(open, _)| open != reference) {
        let named = reference.get(buf);
        let blame = Blame::new(sources, named, stream_offset);
        let again = sources.source_again(named).map_err(|e| blame.io(e))?;
        *held = Some((reference.clone(), again.ok_or_else(|| blame.missing())?));
    }
    match held {
        Some((_, source)) => Ok(source),
        None => Err(Blame::new(sources, reference.get(buf), stream_offset).missing()),
    }
}
