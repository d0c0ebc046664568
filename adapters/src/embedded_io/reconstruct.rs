//! `no_std` reconstruction from `Read + Seek` sources.

use core::fmt;

use embedded_io_07::{Error as _, ErrorKind, ErrorType, Read, Seek, SeekFrom, Write};
use heapless_09::Vec;
use splitfdstream::{DecodeError, FdIndex};

use super::{read_retrying, write_all};
use crate::drive::len_u64;
use crate::error::SourceError;
use crate::io_loops::WriteAllError;
use crate::{StreamError, MIN_BUFFER_LEN};

/// A `Sources` trait over `Read + Seek` sources, with its docs given as attributes, and its
/// implementations for slices, arrays and [`SourceTable`]; the `Read` and `Seek` in scope
/// at the call (blocking or async) say which sources.
macro_rules! seekable_sources {
    ($(#[$attr:meta])*) => {
        $(#[$attr])*
        pub trait Sources {
            /// One source, for example a region of flash. Its size is found by seeking to
            /// its end; a read that returns less than asked and lands exactly on that size
            /// is taken as its end.
            type Source: Read + Seek;

            /// The source `reference` names ([`SourceRef::Index`](crate::SourceRef::Index):
            /// the `i`-th of the list; [`SourceRef::Named`](crate::SourceRef::Named): a
            /// file beneath a directory), or `None` when there is none. Called once when a
            /// reference is reached and again for each read of it, so it must be cheap.
            fn source(&mut self, reference: $crate::SourceRef<'_>) -> Option<&mut Self::Source>;

            /// The size the source must have, if any; a source of another size is then an
            /// error. Defaults to the size the reference itself carries.
            fn expected_len(&self, reference: $crate::SourceRef<'_>) -> Option<u64> {
                reference.required_len()
            }
        }

        impl<S: Read + Seek> Sources for [S] {
            type Source = S;

            fn source(&mut self, reference: $crate::SourceRef<'_>) -> Option<&mut S> {
                let index = reference.index()?;
                $crate::embedded_io::slot(self.len(), index).and_then(|at| self.get_mut(at))
            }
        }

        impl<S: Read + Seek, const N: usize> Sources for [S; N] {
            type Source = S;

            fn source(&mut self, reference: $crate::SourceRef<'_>) -> Option<&mut S> {
                self.as_mut_slice().source(reference)
            }
        }

        impl<S: Read + Seek, const N: usize, const L: usize> Sources
            for $crate::embedded_io::NamedTable<S, N, L>
        {
            type Source = S;

            fn source(&mut self, reference: $crate::SourceRef<'_>) -> Option<&mut S> {
                self.resolve(reference)
            }
        }

        impl<S: Read + Seek, const N: usize> Sources for $crate::embedded_io::SourceTable<S, N> {
            type Source = S;

            fn source(&mut self, reference: $crate::SourceRef<'_>) -> Option<&mut S> {
                self.source_mut(reference.index()?)
            }

            fn expected_len(&self, reference: $crate::SourceRef<'_>) -> Option<u64> {
                reference.index().and_then(|index| self.expected(index))
            }
        }
    };
}
#[cfg(feature = "async")]
pub(crate) use seekable_sources;

seekable_sources! {
/// The caller's ordered list of external sources for [`reconstruct`]: index `i` of the
/// stream is its `i`-th source.
///
/// A source is anything `Read + Seek`: reconstruction seeks it to its end to learn its
/// size, then to offset 0, and reads it through, so one source may be referenced many
/// times. Implemented by [`SourceTable`] and by slices of sources.
}

/// Where `index` is in a list of `len` sources.
pub(crate) fn slot(len: usize, index: FdIndex) -> Option<usize> {
    usize::try_from(index.get()).ok().filter(|&at| at < len)
}

/// A fixed-capacity table of sources, capacity `N` chosen at compile time; no allocation.
///
/// Adding a source past the capacity is an error ([`TableFull`], which hands the source
/// back), never a panic.
///
/// ```
/// use splitfdstream_adapters::embedded_io::{SliceSource, SourceTable};
///
/// let mut table: SourceTable<SliceSource<'_>, 2> = SourceTable::new();
/// assert_eq!(table.push(SliceSource::new(b"zero")).unwrap(), 0);
/// assert_eq!(table.push_with_len(SliceSource::new(b"one"), 3).unwrap(), 1);
/// let full = table.push(SliceSource::new(b"two")).unwrap_err();
/// assert_eq!(full.capacity, 2);
/// assert_eq!(full.source.as_bytes(), b"two");
/// ```
#[derive(Debug)]
pub struct SourceTable<S, const N: usize> {
    entries: Vec<Entry<S>, N>,
}

#[derive(Debug)]
struct Entry<S> {
    source: S,
    expected_len: Option<u64>,
}

/// A source that did not fit in a [`SourceTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TableFull<S> {
    /// The source that was not added.
    pub source: S,
    /// The table's capacity.
    pub capacity: usize,
}

impl<S> fmt::Display for TableFull<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "source table is full: capacity {}", self.capacity)
    }
}

impl<S: fmt::Debug> core::error::Error for TableFull<S> {}

impl<S, const N: usize> SourceTable<S, N> {
    /// An empty table.
    pub const fn new() -> SourceTable<S, N> {
        SourceTable {
            entries: Vec::new(),
        }
    }

    /// Adds the next source; returns its index.
    ///
    /// # Errors
    ///
    /// [`TableFull`] with the source when the table holds `N` sources already.
    pub fn push(&mut self, source: S) -> Result<u64, TableFull<S>> {
        self.push_entry(source, None)
    }

    /// Adds the next source, which must be exactly `len` bytes long; returns its index.
    ///
    /// # Errors
    ///
    /// [`TableFull`] with the source when the table holds `N` sources already.
    pub fn push_with_len(&mut self, source: S, len: u64) -> Result<u64, TableFull<S>> {
        self.push_entry(source, Some(len))
    }

    fn push_entry(&mut self, source: S, expected_len: Option<u64>) -> Result<u64, TableFull<S>> {
        let index = len_u64(self.entries.len());
        self.entries
            .push(Entry {
                source,
                expected_len,
            })
            .map(|()| index)
            .map_err(|entry| TableFull {
                source: entry.source,
                capacity: N,
            })
    }

    /// The number of sources.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no sources.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<S, const N: usize> Default for SourceTable<S, N> {
    fn default() -> Self {
        SourceTable::new()
    }
}

/// Lookups shared by the blocking and the async [`Sources`] implementations.
impl<S, const N: usize> SourceTable<S, N> {
    pub(crate) fn source_mut(&mut self, index: FdIndex) -> Option<&mut S> {
        slot(self.entries.len(), index)
            .and_then(|at| self.entries.get_mut(at))
            .map(|entry| &mut entry.source)
    }

    pub(crate) fn expected(&self, index: FdIndex) -> Option<u64> {
        slot(self.entries.len(), index)
            .and_then(|at| self.entries.get(at))
            .and_then(|entry| entry.expected_len)
    }
}

/// An in-memory source: a byte slice with a cursor, `Read + Seek` (tests, or content
/// mapped into the address space such as memory-mapped flash).
///
/// Seeking before the start fails with [`ErrorKind::InvalidInput`]; seeking past the end is
/// allowed and reads nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SliceSource<'a> {
    bytes: &'a [u8],
    position: u64,
}

impl<'a> SliceSource<'a> {
    /// A source holding `bytes`, positioned at 0.
    pub const fn new(bytes: &'a [u8]) -> SliceSource<'a> {
        SliceSource { bytes, position: 0 }
    }

    /// The whole content.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl ErrorType for SliceSource<'_> {
    type Error = ErrorKind;
}

impl Read for SliceSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let start =
            usize::try_from(self.position).map_or(self.bytes.len(), |p| p.min(self.bytes.len()));
        let rest = self.bytes.get(start..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position = self.position.saturating_add(len_u64(n));
        Ok(n)
    }
}

impl Seek for SliceSource<'_> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        let position = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => len_u64(self.bytes.len()).checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = position.ok_or(ErrorKind::InvalidInput)?;
        Ok(self.position)
    }
}

/// Why [`reconstruct`] failed.
///
/// The stream, the sources and the output each have their own error type, so their errors
/// are reported by [`ErrorKind`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReconstructError {
    /// The stream is malformed or truncated.
    Decode(StreamError),
    /// A source is missing or has the wrong size.
    Source(SourceError),
    /// Reading the stream failed.
    Stream(ErrorKind),
    /// Seeking or reading a source failed.
    SourceIo {
        /// The index of the source.
        index: u64,
        /// What went wrong.
        kind: ErrorKind,
    },
    /// Writing the output failed (`WriteZero` when it accepted nothing).
    Write(ErrorKind),
    /// The buffer is shorter than 16 bytes.
    BufferTooSmall {
        /// Length of the buffer given.
        len: usize,
    },
}

impl From<StreamError> for ReconstructError {
    fn from(error: StreamError) -> Self {
        ReconstructError::Decode(error)
    }
}

impl From<DecodeError> for ReconstructError {
    fn from(error: DecodeError) -> Self {
        ReconstructError::Decode(StreamError::Splitfdstream(error))
    }
}

impl From<SourceError> for ReconstructError {
    fn from(error: SourceError) -> Self {
        ReconstructError::Source(error)
    }
}

impl fmt::Display for ReconstructError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconstructError::Decode(error) => write!(f, "invalid stream: {error}"),
            ReconstructError::Source(error) => error.fmt(f),
            ReconstructError::Stream(kind) => write!(f, "reading the stream failed: {kind:?}"),
            ReconstructError::SourceIo { index, kind } => {
                write!(f, "external source {index}: i/o error: {kind:?}")
            }
            ReconstructError::Write(kind) => write!(f, "writing the output failed: {kind:?}"),
            ReconstructError::BufferTooSmall { len } => write!(
                f,
                "buffer of {len} bytes is too small: at least {MIN_RECONSTRUCT_BUFFER_LEN} required"
            ),
        }
    }
}

impl core::error::Error for ReconstructError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReconstructError::Decode(error) => Some(error),
            ReconstructError::Source(error) => Some(error),
            _ => None,
        }
    }
}

/// The smallest buffer [`reconstruct`] accepts: room for a prefix in each half.
pub(crate) const MIN_RECONSTRUCT_BUFFER_LEN: usize = 2 * MIN_BUFFER_LEN;

/// The error of writing the output.
pub(crate) fn write_error<E: embedded_io_07::Error>(error: WriteAllError<E>) -> ReconstructError {
    match error {
        WriteAllError::Io(error) => ReconstructError::Write(error.kind()),
        WriteAllError::WriteZero => ReconstructError::Write(ErrorKind::WriteZero),
    }
}

/// The error of seeking or reading source `index`.
pub(crate) fn source_io<E: embedded_io_07::Error>(index: u64) -> impl Fn(E) -> ReconstructError {
    move |error| ReconstructError::SourceIo {
        index,
        kind: error.kind(),
    }
}

/// The driver loop of [`reconstruct`] and of its async twin: it performs the I/O that
/// [`Rebuild`](crate::drive::Rebuild) asks for, with `.await` after each call when given
/// `await`. The caller has `read_retrying`, `write_all` and the I/O traits in scope.
macro_rules! reconstruct_loop {
    ($format:expr, $stream:ident, $sources:ident, $out:ident, $buf:ident $(, $await:tt)?) => {{
        use $crate::drive::{Rebuild, Step};
        use $crate::embedded_io::{source_io, write_error, ReconstructError};
        if $buf.len() < $crate::embedded_io::MIN_RECONSTRUCT_BUFFER_LEN {
            return Err(ReconstructError::BufferTooSmall { len: $buf.len() });
        }
        let (stream_buf, copy_buf) = $buf.split_at_mut($buf.len() / 2);
        let mut stream = $stream;
        let mut out = $out;
        let mut rebuild = Rebuild::new(
            $format,
            ::splitfdstream::Limits::new(),
            stream_buf.len(),
        );
        loop {
            match rebuild.step(stream_buf, copy_buf.len())? {
                Step::ReadStream => {
                    let target = rebuild.refill_target(stream_buf);
                    let n = read_retrying(&mut stream, target)$(.$await)?
                        .map_err(|error| ReconstructError::Stream(error.kind()))?;
                    rebuild.stream_read(n);
                }
                Step::WriteInline(range) => {
                    write_all(&mut out, stream_buf.get(range).unwrap_or_default())$(.$await)?
                        .map_err(write_error)?;
                }
                Step::OpenSource(reference) => {
                    let named = reference.get(stream_buf);
                    let number = reference.number();
                    let expected = $sources
                        .expected_len(named)
                        .or_else(|| named.required_len());
                    let source = $sources
                        .source(named)
                        .ok_or($crate::SourceError::Missing { index: number })?;
                    let size = source
                        .seek(::embedded_io_07::SeekFrom::End(0))$(.$await)?
                        .map_err(source_io(number))?;
                    source
                        .seek(::embedded_io_07::SeekFrom::Start(0))$(.$await)?
                        .map_err(source_io(number))?;
                    rebuild.source_opened(Some(size), expected)?;
                }
                Step::ReadSource { reference, want, .. } => {
                    let number = reference.number();
                    let source = $sources
                        .source(reference.get(stream_buf))
                        .ok_or($crate::SourceError::Missing { index: number })?;
                    let target = copy_buf.get_mut(..want).unwrap_or_default();
                    let n = read_retrying(source, target)$(.$await)?.map_err(source_io(number))?;
                    rebuild.source_read(n, want)?;
                }
                Step::WriteSource(len) => {
                    write_all(&mut out, copy_buf.get(..len).unwrap_or_default())$(.$await)?
                        .map_err(write_error)?;
                }
                Step::End { total } => {
                    out.flush()$(.$await)?
                        .map_err(|error| ReconstructError::Write(error.kind()))?;
                    return Ok(total);
                }
            }
        }
    }};
}
#[cfg(feature = "async")]
pub(crate) use reconstruct_loop;

/// Rebuilds the original bytes from `stream` and `sources` into `out`, through `buf` (at
/// least 16 bytes; half reads the stream, half copies sources); returns the bytes written.
///
/// No allocation. Each external source is sought to its end for its size, then read from
/// offset 0 to that size; a source whose size differs from [`Sources::expected_len`], or
/// that ends early or holds more, is an error. `out` is flushed at the end.
///
/// ```
/// use splitfdstream_adapters::embedded_io::{reconstruct, SliceSource, SourceTable, Writer};
///
/// // The stream: a new header, then two regions already on the device.
/// let mut stream = [0u8; 64];
/// let mut writer = Writer::new(&mut stream[..]);
/// writer.write_inline(b"v2:").unwrap();
/// writer.write_external(1).unwrap();
/// writer.write_external(0).unwrap();
/// let len = usize::try_from(writer.position()).unwrap();
///
/// let mut sources: SourceTable<SliceSource<'_>, 4> = SourceTable::new();
/// sources.push(SliceSource::new(b"kernel")).unwrap();
/// sources.push_with_len(SliceSource::new(b"boot+"), 5).unwrap();
///
/// let mut image = [0u8; 32];
/// let mut buf = [0u8; 64];
/// let written = reconstruct(&stream[..len], &mut sources, &mut image[..], &mut buf).unwrap();
/// assert_eq!(&image[..usize::try_from(written).unwrap()], b"v2:boot+kernel");
/// ```
///
/// # Errors
///
/// [`ReconstructError`]: a malformed or truncated stream, a missing or wrongly sized
/// source, an I/O error on the stream, a source or the output, or a buffer that is too
/// small.
pub fn reconstruct<R, S, W>(
    stream: R,
    sources: &mut S,
    out: W,
    buf: &mut [u8],
) -> Result<u64, ReconstructError>
where
    R: Read,
    S: Sources + ?Sized,
    W: Write,
{
    reconstruct_loop!(crate::Format::Splitfdstream, stream, sources, out, buf)
}

/// [`reconstruct`] for a stream of either [`Format`](crate::Format): a splitdirfdstream's
/// FileBackedData chunks are [`SourceRef::Named`](crate::SourceRef::Named) references,
/// which the sources resolve (a [`NamedTable`](super::NamedTable), or your own
/// [`Sources`]), and each file must hold exactly the chunk's `content_len` bytes.
///
/// Half of `buf` holds the stream: a FileBackedData chunk's header and name must fit in
/// it whole, so a stream with names up to the format's 4096 bytes needs a `buf` of at
/// least 2 × (4096 + 17) bytes; a name longer than the half holds is a decode error at its
/// chunk ([`dir::DecodeError::Name`](splitfdstream::dir::DecodeError::Name), too long),
/// never a loop.
///
/// # Errors
///
/// As [`reconstruct`].
pub fn reconstruct_as<R, S, W>(
    format: crate::Format,
    stream: R,
    sources: &mut S,
    out: W,
    buf: &mut [u8],
) -> Result<u64, ReconstructError>
where
    R: Read,
    S: Sources + ?Sized,
    W: Write,
{
    reconstruct_loop!(format, stream, sources, out, buf)
}
