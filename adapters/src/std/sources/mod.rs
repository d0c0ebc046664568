//! External sources for the std drivers: the [`Sources`] contract, sources held in memory
//! or open files, sizes the caller expects, and sources named by path.
//!
//! - [`read_at`]: one source, read positionally.
//! - this module: the list a stream's references are looked up in.
//! - [`policy`]: the one way a path becomes an open source.
//! - [`path`] and [`ahead`]: sources named by path, opened lazily or read ahead.
//! - [`dir`]: files named beneath directories, for the successor format (read ahead the
//!   same way).

#[cfg(unix)]
mod ahead;
mod dir;
mod held;
mod path;
pub(crate) mod policy;
mod read_at;

use ::std::io;
use ::std::path::Path;
use ::std::vec::Vec;

use splitfdstream::FdIndex;

use crate::SourceRef;

pub use dir::DirSources;
pub use path::{PathSource, PathSources, DEFAULT_OPEN_AHEAD, DEFAULT_OPEN_FILES};
#[cfg(unix)]
pub use policy::describe_mode;
pub use policy::open_path_source;
#[cfg(target_os = "linux")]
pub use policy::Beneath;
pub use read_at::ReadAt;

/// The caller's external sources: what each reference of a stream names.
///
/// Implemented for slices, arrays and vectors of any [`ReadAt`] (files, byte vectors,
/// `&[u8]`; index `i` is the `i`-th item), for [`PathSources`] (files named by path) and
/// for [`DirSources`] (files named beneath directories, the successor format's
/// references) and for [`ExpectedLens`] (any of these with sizes the caller expects).
///
/// # The contract every driver keeps
///
/// - A driver asks for a reference's source with [`source`](Sources::source) when the
///   stream reaches the reference, and holds it while it copies it. Each call is a new use:
///   a stream that names a source twice, or random access, asks again, and may get a file
///   opened again.
/// - Drivers that cannot hold the source between calls (the `Read` adapters, which own the
///   sources; tokio, between batches on the blocking pool) ask for it again with
///   [`source_again`](Sources::source_again) while they copy it. That must hand back the
///   source last returned for the reference, without opening anything again: an
///   implementation that opens files keeps at least the last one.
/// - Reads are positional: one source may serve any number of references, each read from
///   offset 0.
/// - A driver calls [`rewind`](Sources::rewind) before it starts on a stream, so that
///   nothing read ahead or held for an earlier stream is handed out for this one.
///
/// ```
/// use splitfdstream::FdIndex;
/// use splitfdstream_adapters::std::{ReadAt, Sources};
///
/// let sources: [&[u8]; 2] = [b"zero", b"one"];
/// let one = sources.source(FdIndex::new(1).unwrap().into())?.unwrap();
/// assert_eq!(one.size()?, Some(3));
/// assert!(sources.source(FdIndex::new(2).unwrap().into())?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Sources {
    /// How one source is read: a borrowed file, a shared handle to an open one, bytes.
    type Source<'a>: ReadAt
    where
        Self: 'a;

    /// The source `reference` names, or `None` when there is none (the stream is then
    /// invalid for these sources).
    ///
    /// # Errors
    ///
    /// Any I/O error while getting it (opening a file).
    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>>;

    /// The source last returned for `reference`, for a driver that is still copying it and
    /// could not hold it. Defaults to [`source`](Sources::source), which suits sources that
    /// open nothing.
    ///
    /// # Errors
    ///
    /// Those of [`source`](Sources::source).
    fn source_again(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>> {
        self.source(reference)
    }

    /// The size the source must have, if any: the size the caller expects, or the one the
    /// reference itself carries. A source of another size is an error. Defaults to the
    /// reference's own ([`SourceRef::required_len`]).
    fn expected_len(&self, reference: SourceRef<'_>) -> Option<u64> {
        reference.required_len()
    }

    /// The source's own size, found without reading it, for random access
    /// ([`SeekableReconstructor`](super::SeekableReconstructor)), or `None` when it cannot
    /// be known up front. The default opens it ([`source`](Sources::source)) and asks
    /// [`ReadAt::size`]; sources named by path look at the file instead.
    ///
    /// # Errors
    ///
    /// Any I/O error while finding the size; `Ok(None)` also when there is no such source.
    fn source_size(&self, reference: SourceRef<'_>) -> io::Result<Option<u64>> {
        match self.source(reference)? {
            Some(source) => source.size(),
            None => Ok(None),
        }
    }

    /// The path of the source, for error messages, when it is named by one. Defaults to
    /// `None`.
    fn path(&self, reference: SourceRef<'_>) -> Option<&Path> {
        let _ = reference;
        None
    }

    /// A driver is about to read a stream from its start: forget what was read ahead of use
    /// or held open for an earlier one (a file may have changed since). Defaults to doing
    /// nothing.
    fn rewind(&self) {}
}

/// The item of `items` at `index`.
pub(crate) fn slot<T>(items: &[T], index: FdIndex) -> Option<&T> {
    usize::try_from(index.get())
        .ok()
        .and_then(|index| items.get(index))
}

/// The item of `items` a reference by index names.
fn listed<'a, T>(items: &'a [T], reference: SourceRef<'_>) -> Option<&'a T> {
    reference.index().and_then(|index| slot(items, index))
}

/// `Sources` for lists of sources held in memory: index `i` is the `i`-th item.
macro_rules! list_sources {
    ($([$($generics:tt)*] $list:ty),* $(,)?) => {$(
        impl<$($generics)*> Sources for $list {
            type Source<'a>
                = &'a T
            where
                T: 'a;

            fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<&T>> {
                Ok(listed(self, reference))
            }
        }
    )*};
}

list_sources!(
    [T: ReadAt] [T],
    [T: ReadAt] Vec<T>,
    [T: ReadAt, const N: usize] [T; N],
);

impl<S: Sources + ?Sized> Sources for &S {
    type Source<'a>
        = S::Source<'a>
    where
        Self: 'a;

    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>> {
        (**self).source(reference)
    }

    fn source_again(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>> {
        (**self).source_again(reference)
    }

    fn expected_len(&self, reference: SourceRef<'_>) -> Option<u64> {
        (**self).expected_len(reference)
    }

    fn source_size(&self, reference: SourceRef<'_>) -> io::Result<Option<u64>> {
        (**self).source_size(reference)
    }

    fn path(&self, reference: SourceRef<'_>) -> Option<&Path> {
        (**self).path(reference)
    }

    fn rewind(&self) {
        (**self).rewind();
    }
}

/// Sources paired with the sizes the caller expects them to have (`None`: no expectation).
///
/// ```
/// use splitfdstream_adapters::std::{reconstruct, ExpectedLens};
///
/// let stream = [0u8; 8]; // External(0)
/// let sources = ExpectedLens::new([&b"four"[..]], vec![Some(5)]);
/// let error = reconstruct(&stream[..], &sources, Vec::new()).unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Clone, Debug)]
pub struct ExpectedLens<S> {
    sources: S,
    lens: Vec<Option<u64>>,
}

impl<S: Sources> ExpectedLens<S> {
    /// `lens[i]` is the size source `i` must have.
    pub fn new(sources: S, lens: Vec<Option<u64>>) -> ExpectedLens<S> {
        ExpectedLens { sources, lens }
    }

    /// The sources.
    pub fn sources(&self) -> &S {
        &self.sources
    }

    /// The sources, giving up the sizes.
    pub fn into_inner(self) -> S {
        self.sources
    }
}

impl<S: Sources> Sources for ExpectedLens<S> {
    type Source<'a>
        = S::Source<'a>
    where
        Self: 'a;

    fn source(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>> {
        self.sources.source(reference)
    }

    fn source_again(&self, reference: SourceRef<'_>) -> io::Result<Option<Self::Source<'_>>> {
        self.sources.source_again(reference)
    }

    fn expected_len(&self, reference: SourceRef<'_>) -> Option<u64> {
        listed(&self.lens, reference)
            .copied()
            .flatten()
            .or_else(|| self.sources.expected_len(reference))
    }

    fn source_size(&self, reference: SourceRef<'_>) -> io::Result<Option<u64>> {
        self.sources.source_size(reference)
    }

    fn path(&self, reference: SourceRef<'_>) -> Option<&Path> {
        self.sources.path(reference)
    }

    fn rewind(&self) {
        self.sources.rewind();
    }
}
