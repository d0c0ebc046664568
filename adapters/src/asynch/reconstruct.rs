//! `no_std` async reconstruction from async `Read + Seek` sources.

use embedded_io_async_07::{Error as _, ErrorKind, Read, Seek, SeekFrom, Write};

use super::{read_retrying, write_all};
use crate::embedded_io::{ReconstructError, SliceSource};

crate::embedded_io::seekable_sources! {
/// The caller's ordered list of external sources for the async [`reconstruct`]: index `i`
/// of the stream is its `i`-th source.
///
/// A source is anything async `Read + Seek`: reconstruction seeks it to its end to learn
/// its size, then to offset 0, and reads it through, so one source may be referenced many
/// times. Implemented by [`SourceTable`](crate::embedded_io::SourceTable) (the blocking
/// path's fixed-capacity table) and by slices and arrays of sources.
///
/// ```
/// use splitfdstream::FdIndex;
/// use splitfdstream_adapters::asynch::Sources;
/// use splitfdstream_adapters::embedded_io::{SliceSource, SourceTable};
///
/// let mut table: SourceTable<SliceSource<'_>, 4> = SourceTable::new();
/// table.push_with_len(SliceSource::new(b"boot"), 4).unwrap();
/// let first = FdIndex::new(0).unwrap();
/// assert_eq!(Sources::expected_len(&table, first.into()), Some(4));
/// assert!(Sources::source(&mut table, FdIndex::new(1).unwrap().into()).is_none());
/// ```
}

/// Never waits: the bytes are in memory.
impl Read for SliceSource<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embedded_io_07::Read::read(self, buf)
    }
}

/// Never waits: the bytes are in memory.
impl Seek for SliceSource<'_> {
    async fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        embedded_io_07::Seek::seek(self, pos)
    }
}

/// Rebuilds the original bytes from `stream` and `sources` into `out`, through `buf` (at
/// least 16 bytes; half reads the stream, half copies sources); returns the bytes written.
///
/// The async counterpart of [`embedded_io::reconstruct`](crate::embedded_io::reconstruct),
/// with the same checks and the same errors: no allocation; each external source is sought
/// to its end for its size, then read from offset 0 to that size; a source whose size
/// differs from [`Sources::expected_len`], or that ends early or holds more, is an error.
/// `out` is flushed at the end.
///
/// Not resumable: when the future is dropped before it completes, `out` holds a prefix of
/// the rebuilt bytes that may end inside a chunk, and the stream's position is unknown.
///
/// ```
/// use splitfdstream_adapters::asynch::{reconstruct, Writer};
/// use splitfdstream_adapters::embedded_io::{SliceSource, SourceTable};
///
/// embassy_futures::block_on(async {
///     // The stream: a new header, then two regions already on the device.
///     let mut stream = [0u8; 64];
///     let mut writer = Writer::new(&mut stream[..]);
///     writer.write_inline(b"v2:").await.unwrap();
///     writer.write_external(1).await.unwrap();
///     writer.write_external(0).await.unwrap();
///     let len = usize::try_from(writer.position()).unwrap();
///
///     let mut sources: SourceTable<SliceSource<'_>, 4> = SourceTable::new();
///     sources.push(SliceSource::new(b"kernel")).unwrap();
///     sources.push_with_len(SliceSource::new(b"boot+"), 5).unwrap();
///
///     let mut image = [0u8; 32];
///     let mut buf = [0u8; 64];
///     let written = reconstruct(&stream[..len], &mut sources, &mut image[..], &mut buf)
///         .await
///         .unwrap();
///     assert_eq!(&image[..usize::try_from(written).unwrap()], b"v2:boot+kernel");
/// });
/// ```
///
/// # Errors
///
/// [`ReconstructError`]: a malformed or truncated stream, a missing or wrongly sized
/// source, an I/O error on the stream, a source or the output, or a buffer that is too
/// small.
pub async fn reconstruct<R, S, W>(
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
    crate::embedded_io::reconstruct_loop!(
        crate::Format::Splitfdstream,
        stream,
        sources,
        out,
        buf,
        await
    )
}

/// [`reconstruct`] for a stream of either [`Format`](crate::Format): a splitdirfdstream's
/// files named beneath directories resolve through the sources (a
/// [`NamedTable`](crate::embedded_io::NamedTable), or your own [`Sources`]), as in
/// [`embedded_io::reconstruct_as`](crate::embedded_io::reconstruct_as), with the same
/// buffer rule: half of `buf` must hold a FileBackedData header and its whole name.
///
/// ```
/// use splitfdstream::dir::Encoder;
/// use splitfdstream_adapters::asynch::reconstruct_as;
/// use splitfdstream_adapters::embedded_io::{NamedTable, SliceSource};
/// use splitfdstream_adapters::Format;
///
/// let mut table: NamedTable<SliceSource<'_>, 2> = NamedTable::new();
/// table.push(0, b"kernel", SliceSource::new(b"kernel")).unwrap();
/// let mut stream = [0u8; 64];
/// let mut encoder = Encoder::new();
/// let mut len = encoder.inline_data(b"v2:", &mut stream).unwrap();
/// len += encoder.file_backed(0, 6, b"kernel", &mut stream[len..]).unwrap();
/// let mut image = [0u8; 16];
/// let mut buf = [0u8; 128];
/// let format = Format::Splitdirfdstream;
/// let written = embassy_futures::block_on(reconstruct_as(
///     format,
///     &stream[..len],
///     &mut table,
///     &mut image[..],
///     &mut buf,
/// ))
/// .unwrap();
/// assert_eq!(&image[..usize::try_from(written).unwrap()], b"v2:kernel");
/// ```
///
/// # Errors
///
/// As [`reconstruct`].
pub async fn reconstruct_as<R, S, W>(
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
    crate::embedded_io::reconstruct_loop!(format, stream, sources, out, buf, await)
}
