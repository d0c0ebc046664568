//! Reconstruction from `futures-io` streams and sources.

use embedded_io_adapters_07::futures_03::FromFutures;
use futures_io_03::{AsyncRead, AsyncWrite};

use crate::asynch::{self, Sources};
use crate::embedded_io::ReconstructError;

/// Rebuilds the original bytes from `stream` and `sources` into `out`, through `buf` (at
/// least 16 bytes; half reads the stream, half copies sources); returns the bytes written.
///
/// [`asynch::reconstruct`] with `stream` and `out` wrapped in [`FromFutures`]: the same
/// checks and the same errors. Sources are `AsyncRead + AsyncSeek` wrapped in
/// [`FromFutures`], in a slice, an array or a
/// [`SourceTable`](crate::embedded_io::SourceTable) (which also carries the sizes you
/// expect); each is sought to its end for its size, then read from offset 0 to that size,
/// so one source may be referenced many times. `out` is flushed at the end.
///
/// Not resumable: when the future is dropped before it completes, `out` holds a prefix of
/// the rebuilt bytes that may end inside a chunk.
///
/// ```
/// use futures::io::Cursor;
/// use splitfdstream_adapters::futures_03::{reconstruct, FromFutures};
///
/// // Inline "v2:", then source 1, then source 0.
/// let mut stream = Vec::new();
/// stream.extend_from_slice(&(-3i64).to_le_bytes());
/// stream.extend_from_slice(b"v2:");
/// stream.extend_from_slice(&1u64.to_le_bytes());
/// stream.extend_from_slice(&0u64.to_le_bytes());
///
/// let mut sources = [
///     FromFutures::new(Cursor::new(&b"kernel"[..])),
///     FromFutures::new(Cursor::new(&b"boot+"[..])),
/// ];
/// let mut image = Vec::new();
/// let mut buf = vec![0u8; 64 * 1024];
/// let written = futures::executor::block_on(reconstruct(
///     &stream[..],
///     &mut sources,
///     &mut image,
///     &mut buf,
/// ))?;
/// assert_eq!(written, 14);
/// assert_eq!(image, b"v2:boot+kernel");
/// # Ok::<(), splitfdstream_adapters::embedded_io::ReconstructError>(())
/// ```
///
/// # Errors
///
/// [`ReconstructError`]: a malformed or truncated stream, a missing or wrongly sized
/// source, an I/O error on the stream, a source or the output (by its
/// [`ErrorKind`](embedded_io_07::ErrorKind)), or a buffer that is too small.
pub async fn reconstruct<R, S, W>(
    stream: R,
    sources: &mut S,
    out: W,
    buf: &mut [u8],
) -> Result<u64, ReconstructError>
where
    R: AsyncRead + Unpin,
    S: Sources + ?Sized,
    W: AsyncWrite + Unpin,
{
    asynch::reconstruct(
        FromFutures::new(stream),
        sources,
        FromFutures::new(out),
        buf,
    )
    .await
}

/// [`reconstruct`] for a stream of either [`Format`](crate::Format): a splitdirfdstream's
/// files named beneath directories resolve through the sources (a
/// [`NamedTable`](crate::embedded_io::NamedTable) of `FromFutures` sources, or your own
/// [`Sources`]), as in [`asynch::reconstruct_as`], with the same buffer rule.
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
    R: AsyncRead + Unpin,
    S: Sources + ?Sized,
    W: AsyncWrite + Unpin,
{
    asynch::reconstruct_as(
        format,
        FromFutures::new(stream),
        sources,
        FromFutures::new(out),
        buf,
    )
    .await
}
