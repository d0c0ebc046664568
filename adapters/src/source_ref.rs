//! What an external chunk refers to, for every format and every driver.

use splitfdstream::FdIndex;

/// What a stream's external chunk names: the key under which a driver asks its sources
/// for the content to copy.
///
/// The first format names a source by its index in the caller's list
/// ([`Index`](SourceRef::Index)). The successor format, splitdirfdstream, names a file
/// beneath one of several directories, with the length it must have
/// ([`Named`](SourceRef::Named)). Every driver passes the reference through unchanged, so
/// a new kind of reference needs a new `Sources` implementation, not another copy of the
/// drivers. Sources that do not understand a reference answer that they have no source for
/// it.
///
/// ```
/// use splitfdstream::FdIndex;
/// use splitfdstream_adapters::SourceRef;
///
/// let index = FdIndex::new(3).unwrap();
/// let reference = SourceRef::from(index);
/// assert_eq!(reference.index(), Some(index));
/// assert_eq!(reference.required_len(), None);
///
/// let named = SourceRef::Named { dir: 0, name: b"etc/passwd", len: 42 };
/// assert_eq!(named.index(), None);
/// assert_eq!(named.required_len(), Some(42));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SourceRef<'a> {
    /// The `i`-th source of the caller's list.
    Index(FdIndex),
    /// The file `name` beneath directory `dir`, which must hold exactly `len` bytes.
    Named {
        /// The directory's index in the caller's list of directories.
        dir: u32,
        /// The file's name relative to that directory, as it is on the wire.
        name: &'a [u8],
        /// The length the content must have.
        len: u64,
    },
}

impl SourceRef<'_> {
    /// The index in the caller's list, for an [`Index`](SourceRef::Index) reference.
    pub const fn index(&self) -> Option<FdIndex> {
        match *self {
            SourceRef::Index(index) => Some(index),
            SourceRef::Named { .. } => None,
        }
    }

    /// The number that identifies the source in errors: the index in the caller's list, or
    /// the directory index of a named file.
    pub fn number(&self) -> u64 {
        match *self {
            SourceRef::Index(index) => index.get(),
            SourceRef::Named { dir, .. } => u64::from(dir),
        }
    }

    /// The length the reference itself requires, if it carries one.
    pub const fn required_len(&self) -> Option<u64> {
        match *self {
            SourceRef::Index(_) => None,
            SourceRef::Named { len, .. } => Some(len),
        }
    }
}

impl From<FdIndex> for SourceRef<'_> {
    fn from(index: FdIndex) -> Self {
        SourceRef::Index(index)
    }
}
