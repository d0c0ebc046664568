//! `no_std` async application of update files.

use core::ops::ControlFlow;

use embedded_io_async_07::{Error as _, Read, Seek, SeekFrom, Write};
use splitfdstream::update::Checkpoint;

use super::{read_retrying, write_all};
use crate::apply::{Applied, ApplyError};

/// Applies the update file `update` to the old slot `old`, writing the target into the new
/// slot `new`, through `buf`: the async counterpart of
/// [`embedded_io::apply`](crate::embedded_io::apply), with the same checks, checkpoints and
/// errors.
///
/// ```
/// use core::ops::ControlFlow;
/// use splitfdstream::update::{Encoder, Header, SourceRange};
/// use splitfdstream_adapters::asynch::apply;
/// use splitfdstream_adapters::embedded_io::{Applied, ApplyError, SliceSource};
///
/// // An update whose target's hash is wrong: the bytes are rebuilt, then refused.
/// let mut file = [0u8; 128];
/// let mut encoder = Encoder::new();
/// let header = Header { target_len: 3, target_sha256: [0; 32], range_count: 0 };
/// let mut len = encoder.header(&header, &mut file).unwrap();
/// len += encoder.inline(b"new", &mut file[len..]).unwrap();
/// let mut slot = [0u8; 3];
/// let mut buf = [0u8; 32];
/// let result = embassy_futures::block_on(apply(
///     SliceSource::new(&file[..len]),
///     SliceSource::new(b""),
///     splitfdstream_adapters::embedded_io::SliceSlot::new(&mut slot),
///     &mut buf,
///     |_| ControlFlow::Continue(()),
/// ));
/// assert_eq!(result, Err(ApplyError::TargetMismatch));
/// ```
///
/// # Errors
///
/// As [`embedded_io::apply`](crate::embedded_io::apply).
pub async fn apply<U, O, N, F>(
    mut update: U,
    mut old: O,
    mut new: N,
    buf: &mut [u8],
    mut on_checkpoint: F,
) -> Result<Applied, ApplyError>
where
    U: Read + Seek,
    O: Read + Seek,
    N: Write + Seek,
    F: FnMut(&Checkpoint) -> ControlFlow<()>,
{
    if buf.len() < crate::apply::MIN_APPLY_BUFFER_LEN {
        return Err(ApplyError::BufferTooSmall { len: buf.len() });
    }
    let header = crate::embedded_io::read_header!(update, await);
    let mut state = crate::apply::Apply::start(header)?;
    new.seek(SeekFrom::Start(0))
        .await
        .map_err(|e| ApplyError::New(e.kind()))?;
    let start = header.stream_offset().unwrap_or(0);
    crate::embedded_io::apply_loop!(update, old, new, buf, state, start, on_checkpoint, await)
}

/// Continues an [`apply`] from `checkpoint`: the async counterpart of
/// [`embedded_io::resume`](crate::embedded_io::resume).
///
/// # Errors
///
/// As [`embedded_io::resume`](crate::embedded_io::resume).
pub async fn resume<U, O, N, F>(
    mut update: U,
    mut old: O,
    mut new: N,
    buf: &mut [u8],
    checkpoint: &Checkpoint,
    mut on_checkpoint: F,
) -> Result<Applied, ApplyError>
where
    U: Read + Seek,
    O: Read + Seek,
    N: Read + Write + Seek,
    F: FnMut(&Checkpoint) -> ControlFlow<()>,
{
    if buf.len() < crate::apply::MIN_APPLY_BUFFER_LEN {
        return Err(ApplyError::BufferTooSmall { len: buf.len() });
    }
    let header = crate::embedded_io::read_header!(update, await);
    crate::apply::Apply::check_checkpoint(&header, checkpoint)?;
    let hasher = crate::embedded_io::rehash_written!(new, buf, checkpoint, await);
    let mut state = crate::apply::Apply::resume(header, checkpoint, hasher)?;
    crate::embedded_io::apply_loop!(
        update,
        old,
        new,
        buf,
        state,
        checkpoint.stream_offset,
        on_checkpoint,
        await
    )
}

/// Never waits: the bytes are in memory.
impl Read for crate::embedded_io::SliceSlot<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, embedded_io_async_07::ErrorKind> {
        embedded_io_07::Read::read(self, buf)
    }
}

/// Never waits: the bytes are in memory.
impl Write for crate::embedded_io::SliceSlot<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, embedded_io_async_07::ErrorKind> {
        embedded_io_07::Write::write(self, buf)
    }

    async fn flush(&mut self) -> Result<(), embedded_io_async_07::ErrorKind> {
        Ok(())
    }
}

/// Never waits: the bytes are in memory.
impl Seek for crate::embedded_io::SliceSlot<'_> {
    async fn seek(&mut self, pos: SeekFrom) -> Result<u64, embedded_io_async_07::ErrorKind> {
        embedded_io_07::Seek::seek(self, pos)
    }
}
