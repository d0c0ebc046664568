//! A fixed-capacity table of sources named by directory index and file name, for the
//! successor format.

use core::fmt;

use heapless_09::Vec;
use splitfdstream::dir::{check_name, NameError};

use crate::SourceRef;

/// Sources for a splitdirfdstream ([`Format::Splitdirfdstream`](crate::Format)) in a
/// fixed-capacity table: up to `N` files, each named by a directory index and a name of
/// at most `L` bytes (64 by default), mapped to a `Read + Seek` source. No allocation.
///
/// A FileBackedData chunk's reference ([`SourceRef::Named`]) finds the entry with the same
/// directory index and name; the source must then hold exactly the chunk's `content_len`
/// bytes (the reference's own length), or the reconstruction fails. Names are checked by
/// the format's rules when added ([`check_name`]). A caller with its own way of resolving
/// names (a file system on flash, say) implements the `Sources` trait of
/// [`embedded_io`](super) or [`asynch`](crate) for [`SourceRef::Named`] instead.
///
/// ```
/// use splitfdstream::dir::Encoder;
/// use splitfdstream_adapters::embedded_io::{reconstruct_as, NamedTable, SliceSource};
/// use splitfdstream_adapters::Format;
///
/// let mut table: NamedTable<SliceSource<'_>, 4> = NamedTable::new();
/// table.push(0, b"boot/kernel", SliceSource::new(b"kernel")).unwrap();
/// table.push(1, b"initrd", SliceSource::new(b"initrd")).unwrap();
/// let refused = table.push(0, b"../escape", SliceSource::new(b"")).unwrap_err();
/// assert_eq!(refused.source.as_bytes(), b"");
///
/// let mut stream = [0u8; 128];
/// let mut encoder = Encoder::new();
/// let mut len = encoder.metadata(b"v2:", &mut stream)?;
/// len += encoder.file_backed(1, 6, b"initrd", &mut stream[len..])?;
/// len += encoder.file_backed(0, 6, b"boot/kernel", &mut stream[len..])?;
///
/// let mut image = [0u8; 32];
/// let mut buf = [0u8; 256];
/// let format = Format::Splitdirfdstream;
/// let written = reconstruct_as(format, &stream[..len], &mut table, &mut image[..], &mut buf)
///     .unwrap();
/// assert_eq!(&image[..usize::try_from(written)?], b"v2:initrdkernel");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NamedTable<S, const N: usize, const L: usize = 64> {
    entries: Vec<Named<S, L>, N>,
}

#[derive(Debug)]
struct Named<S, const L: usize> {
    dir: u32,
    name: Vec<u8, L>,
    source: S,
}

/// Why a [`NamedTable`] refused an entry.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The table holds `capacity` entries already.
    Full {
        /// The table's capacity.
        capacity: usize,
    },
    /// The name is longer than the table's names can be.
    NameTooLong {
        /// The name's length.
        len: usize,
        /// The longest name the table holds.
        max: usize,
    },
    /// The name breaks the format's rules.
    Name(NameError),
    /// The table has an entry of that directory and name already.
    Duplicate,
}

/// An entry a [`NamedTable`] did not take, with its source handed back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Refused<S> {
    /// The source that was not added.
    pub source: S,
    /// Why.
    pub refusal: Refusal,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Full { capacity } => write!(f, "named table is full: capacity {capacity}"),
            Refusal::NameTooLong { len, max } => {
                write!(f, "a name of {len} bytes is longer than the table's {max}")
            }
            Refusal::Name(error) => error.fmt(f),
            Refusal::Duplicate => f.write_str("that directory and name are in the table already"),
        }
    }
}

impl<S> fmt::Display for Refused<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.refusal.fmt(f)
    }
}

impl<S: fmt::Debug> core::error::Error for Refused<S> {}

impl<S, const N: usize, const L: usize> NamedTable<S, N, L> {
    /// An empty table.
    pub const fn new() -> NamedTable<S, N, L> {
        NamedTable {
            entries: Vec::new(),
        }
    }

    /// Adds `source` as the file `name` beneath directory `dir`.
    ///
    /// # Errors
    ///
    /// [`Refused`], with the source, when the table is full, the name is longer than `L`
    /// bytes or breaks the format's rules, or the table has that file already.
    pub fn push(&mut self, dir: u32, name: &[u8], source: S) -> Result<(), Refused<S>> {
        let refuse = |source, refusal| Err(Refused { source, refusal });
        if let Err(error) = check_name(name) {
            return refuse(source, Refusal::Name(error));
        }
        let Ok(name) = Vec::from_slice(name) else {
            let refusal = Refusal::NameTooLong {
                len: name.len(),
                max: L,
            };
            return refuse(source, refusal);
        };
        if self.find(dir, &name).is_some() {
            return refuse(source, Refusal::Duplicate);
        }
        self.entries
            .push(Named { dir, name, source })
            .map_err(|entry| Refused {
                source: entry.source,
                refusal: Refusal::Full { capacity: N },
            })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, dir: u32, name: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|entry| entry.dir == dir && entry.name.as_slice() == name)
    }

    /// The source a named reference resolves to (blocking and async lookups alike).
    pub(crate) fn resolve(&mut self, reference: SourceRef<'_>) -> Option<&mut S> {
        let SourceRef::Named { dir, name, .. } = reference else {
            return None;
        };
        let at = self.find(dir, name)?;
        self.entries.get_mut(at).map(|entry| &mut entry.source)
    }
}

impl<S, const N: usize, const L: usize> Default for NamedTable<S, N, L> {
    fn default() -> Self {
        NamedTable::new()
    }
}
