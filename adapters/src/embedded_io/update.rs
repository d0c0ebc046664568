//! `no_std` application of update files: the old slot and the new slot as `Read + Seek`
//! and `Write + Seek`, through a caller buffer, verified and resumable.

use core::ops::ControlFlow;

use embedded_io_07::{Error as _, ErrorKind, Read, Seek, SeekFrom, Write};
use splitfdstream::update::Checkpoint;

use super::{read_retrying, write_all};
pub use crate::apply::{Applied, ApplyError};

/// The driver loop of [`apply`] and [`resume`] and of their async twins: it performs the
/// I/O that [`Rebuild`](crate::drive::Rebuild) (through [`Apply`](crate::apply::Apply))
/// asks for, with `.await` after each call when given `await`. The caller has
/// `read_retrying`, `write_all` and the I/O traits in scope.
macro_rules! apply_loop {
    ($update:ident, $old:ident, $new:ident, $buf:ident, $state:ident, $start:expr,
     $on_checkpoint:ident $(, $await:tt)?) => {{
        use $crate::apply::{Applied, ApplyError, RangeCheck};
        use $crate::drive::{len_u64, Step};
        use ::embedded_io_07::SeekFrom;
        use ::splitfdstream::update::{SourceRange, RANGE_LEN};
        let update_io = |error: ::embedded_io_07::ErrorKind| ApplyError::Update(error);
        let (stream_buf, copy_buf) = $buf.split_at_mut($buf.len() / 2);
        // File offset of the next stream byte to read from the update.
        let mut read_at: u64 = $start;
        $update.seek(SeekFrom::Start(read_at))$(.$await)?.map_err(|e| update_io(e.kind()))?;
        loop {
            if let Some(checkpoint) = $state.due_checkpoint() {
                // What the checkpoint counts as written must be in the slot.
                $new.flush()$(.$await)?.map_err(|e| ApplyError::New(e.kind()))?;
                if $on_checkpoint(&checkpoint).is_break() {
                    return Ok(Applied::Stopped(checkpoint));
                }
            }
            let step = $state.rebuild.step(stream_buf, copy_buf.len());
            match step.map_err(|error| $state.stream_error(error))? {
                Step::ReadStream => {
                    let target = $state.rebuild.refill_target(stream_buf);
                    let n = read_retrying(&mut $update, target)$(.$await)?
                        .map_err(|e| update_io(e.kind()))?;
                    read_at += len_u64(n);
                    $state.rebuild.stream_read(n);
                }
                Step::WriteInline(range) => {
                    let bytes = stream_buf.get(range).unwrap_or_default();
                    $state.output(bytes)?;
                    write_all(&mut $new, bytes)$(.$await)?.map_err($crate::embedded_io::update_write_error)?;
                }
                Step::OpenSource($crate::drive::RefAt::Index(index)) => {
                    // The record, read where the table keeps it; then back to the stream.
                    let at = $state.record_offset(index)?;
                    let mut record = [0u8; RANGE_LEN];
                    $update.seek(SeekFrom::Start(at))$(.$await)?.map_err(|e| update_io(e.kind()))?;
                    let mut filled = 0;
                    while filled < RANGE_LEN {
                        let n = read_retrying(&mut $update, &mut record[filled..])$(.$await)?
                            .map_err(|e| update_io(e.kind()))?;
                        if n == 0 {
                            return Err(ApplyError::Decode(::splitfdstream::update::DecodeError::Truncated {
                                missing: len_u64(RANGE_LEN - filled),
                                offset: at,
                            }));
                        }
                        filled += n;
                    }
                    $update.seek(SeekFrom::Start(read_at))$(.$await)?.map_err(|e| update_io(e.kind()))?;
                    let range = SourceRange::from_bytes(&record, index.get(), at)?;
                    // Every byte of the range is hashed before any of it is used.
                    let short = ApplyError::OldTooShort { index: index.get(), offset: range.offset, len: range.len };
                    $old.seek(SeekFrom::Start(range.offset))$(.$await)?.map_err(|e| ApplyError::Old(e.kind()))?;
                    let mut check = RangeCheck::new(&range);
                    while check.remaining > 0 {
                        let target = copy_buf.get_mut(..check.want(copy_buf.len())).unwrap_or_default();
                        let n = read_retrying(&mut $old, target)$(.$await)?.map_err(|e| ApplyError::Old(e.kind()))?;
                        if n == 0 {
                            return Err(short);
                        }
                        check.update(target.get(..n).unwrap_or_default());
                    }
                    if !check.matches(&range) {
                        return Err(ApplyError::RangeMismatch { index: index.get(), offset: range.offset, len: range.len });
                    }
                    $state.range = Some(range);
                    $state.rebuild.source_opened(Some(range.len), None)
                        .map_err(|error| $state.source_error(error))?;
                }
                // An update's stream is of the first format: no named references.
                Step::OpenSource(_) => {
                    return Err(ApplyError::Old(::embedded_io_07::ErrorKind::Unsupported));
                }
                Step::ReadSource { offset, want, .. } => {
                    let Some(range) = $state.range else {
                        return Err(ApplyError::Old(::embedded_io_07::ErrorKind::Other));
                    };
                    // offset <= len and the range ends within u64 (checked when read).
                    let at = range.offset.saturating_add(offset);
                    $old.seek(SeekFrom::Start(at))$(.$await)?.map_err(|e| ApplyError::Old(e.kind()))?;
                    let owed = range.len.saturating_sub(offset);
                    let ask = usize::try_from(owed).map_or(want, |owed| owed.min(want));
                    let target = copy_buf.get_mut(..ask).unwrap_or_default();
                    let n = read_retrying(&mut $old, target)$(.$await)?.map_err(|e| ApplyError::Old(e.kind()))?;
                    // Reading no further than the range makes it a source of exactly its length.
                    $state.rebuild.source_read(n, want).map_err(|error| $state.source_error(error))?;
                }
                Step::WriteSource(len) => {
                    let bytes = copy_buf.get(..len).unwrap_or_default();
                    $state.output(bytes)?;
                    write_all(&mut $new, bytes)$(.$await)?.map_err($crate::embedded_io::update_write_error)?;
                }
                Step::End { .. } => {
                    $new.flush()$(.$await)?.map_err(|e| ApplyError::New(e.kind()))?;
                    return $state.finish();
                }
            }
        }
    }};
}
#[cfg(feature = "async")]
pub(crate) use apply_loop;

/// Reads the update's header from offset 0, with `.await` after each call when given
/// `await`.
macro_rules! read_header {
    ($update:ident $(, $await:tt)?) => {{
        use ::splitfdstream::update::{Header, HEADER_LEN};
        use $crate::apply::ApplyError;
        let mut bytes = [0u8; HEADER_LEN];
        $update.seek(::embedded_io_07::SeekFrom::Start(0))$(.$await)?
            .map_err(|e| ApplyError::Update(e.kind()))?;
        let mut filled = 0;
        while filled < HEADER_LEN {
            let n = read_retrying(&mut $update, &mut bytes[filled..])$(.$await)?
                .map_err(|e| ApplyError::Update(e.kind()))?;
            if n == 0 {
                return Err(ApplyError::Decode(::splitfdstream::update::DecodeError::Truncated {
                    missing: $crate::drive::len_u64(HEADER_LEN - filled),
                    offset: 0,
                }));
            }
            filled += n;
        }
        Header::from_bytes(&bytes)?
    }};
}
#[cfg(feature = "async")]
pub(crate) use read_header;

/// Hashes the first `checkpoint.target_offset` bytes of the new slot into a target hasher
/// and leaves the slot there, with `.await` after each call when given `await`.
macro_rules! rehash_written {
    ($new:ident, $buf:ident, $checkpoint:ident $(, $await:tt)?) => {{
        use $crate::apply::ApplyError;
        let mut hasher = $crate::apply::target_hasher();
        $new.seek(::embedded_io_07::SeekFrom::Start(0))$(.$await)?
            .map_err(|e| ApplyError::New(e.kind()))?;
        let mut remaining = $checkpoint.target_offset;
        while remaining > 0 {
            let want = usize::try_from(remaining).map_or($buf.len(), |r| r.min($buf.len()));
            let target = $buf.get_mut(..want).unwrap_or_default();
            let n = read_retrying(&mut $new, target)$(.$await)?.map_err(|e| ApplyError::New(e.kind()))?;
            if n == 0 {
                return Err(ApplyError::ForeignCheckpoint);
            }
            $crate::apply::hash_into(&mut hasher, target.get(..n).unwrap_or_default());
            remaining -= $crate::drive::len_u64(n);
        }
        $new.seek(::embedded_io_07::SeekFrom::Start($checkpoint.target_offset))$(.$await)?
            .map_err(|e| ApplyError::New(e.kind()))?;
        hasher
    }};
}
#[cfg(feature = "async")]
pub(crate) use rehash_written;

/// The error of writing the new slot.
pub(crate) fn update_write_error<E: embedded_io_07::Error>(
    error: crate::io_loops::WriteAllError<E>,
) -> ApplyError {
    match error {
        crate::io_loops::WriteAllError::Io(error) => ApplyError::New(error.kind()),
        crate::io_loops::WriteAllError::WriteZero => ApplyError::New(ErrorKind::WriteZero),
    }
}

/// Applies the update file `update` to the old slot `old`, writing the target into the new
/// slot `new` from its offset 0, through `buf` (at least 16 bytes; half reads the update,
/// half reads the old slot); no allocation.
///
/// Every source range is read and checked against its SHA-256 before any of its bytes is
/// written (so a wrong old slot is [`ApplyError::RangeMismatch`] naming the first range
/// that differs), and the target's length and SHA-256 are checked at the end. The range
/// table is never held: the record a chunk needs is read from `update` when the chunk
/// comes.
///
/// At every chunk boundary, `new` is flushed and `on_checkpoint` is called with a
/// [`Checkpoint`] to persist; it returns [`ControlFlow::Break`] to stop there
/// ([`Applied::Stopped`]). After a reset, [`resume`] continues from the last checkpoint
/// persisted and gives the same target.
///
/// ```
/// use core::ops::ControlFlow;
/// use splitfdstream::update::{Encoder, Header, SourceRange};
/// use splitfdstream_adapters::embedded_io::{apply, Applied, SliceSource};
/// # use embedded_io_adapters_07 as embedded_io_adapters;
/// use embedded_io_adapters::std::FromStd;
///
/// // "hello world" from "hello" in the old slot and the new bytes " world"; the hashes are
/// // the SHA-256 of each.
/// # fn sha(hex: &str) -> [u8; 32] { let mut out = [0; 32]; for i in 0..32 { out[i] = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap(); } out }
/// let target_sha256 = sha("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
/// let hello = sha("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
/// let mut file = [0u8; 256];
/// let mut encoder = Encoder::new();
/// let header = Header { target_len: 11, target_sha256, range_count: 1 };
/// let mut len = encoder.header(&header, &mut file).unwrap();
/// len += encoder.range(&SourceRange { offset: 0, len: 5, sha256: hello }, &mut file[len..]).unwrap();
/// len += encoder.external(0, &mut file[len..]).unwrap();
/// len += encoder.inline(b" world", &mut file[len..]).unwrap();
///
/// let mut new = FromStd::new(std::io::Cursor::new(Vec::new()));
/// let mut buf = [0u8; 64];
/// let applied = apply(
///     SliceSource::new(&file[..len]),
///     SliceSource::new(b"hello there"),
///     &mut new,
///     &mut buf,
///     |_checkpoint| ControlFlow::Continue(()),
/// )?;
/// assert_eq!(applied, Applied::Complete { len: 11 });
/// assert_eq!(new.inner().get_ref(), b"hello world");
///
/// // Another old slot: the range's hash differs, and nothing of it is written.
/// let mut new = FromStd::new(std::io::Cursor::new(Vec::new()));
/// let error = apply(
///     SliceSource::new(&file[..len]),
///     SliceSource::new(b"jello there"),
///     &mut new,
///     &mut buf,
///     |_| ControlFlow::Continue(()),
/// );
/// assert!(matches!(error, Err(splitfdstream_adapters::embedded_io::ApplyError::RangeMismatch { index: 0, .. })));
/// assert!(new.inner().get_ref().is_empty());
/// # Ok::<(), splitfdstream_adapters::embedded_io::ApplyError>(())
/// ```
///
/// # Errors
///
/// [`ApplyError`]: a malformed or truncated update, a range whose bytes in `old` have
/// another SHA-256 or lie past its end, a target of another length or SHA-256, an I/O
/// error, or a buffer that is too small. `new` then holds an unchecked prefix of the
/// target: it must not be used.
pub fn apply<U, O, N, F>(
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
    let header = read_header!(update);
    let mut state = crate::apply::Apply::start(header)?;
    new.seek(SeekFrom::Start(0))
        .map_err(|e| ApplyError::New(e.kind()))?;
    let start = header.stream_offset().unwrap_or(0);
    apply_loop!(update, old, new, buf, state, start, on_checkpoint)
}

/// Continues an [`apply`] from `checkpoint` (read back from where `on_checkpoint` persisted
/// it): hashes again the target bytes already in `new`, then applies the rest of the
/// update. The result is the same target as an uninterrupted apply, with the same checks;
/// it may stop again at a later checkpoint.
///
/// # Errors
///
/// As [`apply`], and [`ApplyError::ForeignCheckpoint`] when `checkpoint` is not one of
/// this update (or `new` is shorter than it says).
pub fn resume<U, O, N, F>(
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
    let header = read_header!(update);
    crate::apply::Apply::check_checkpoint(&header, checkpoint)?;
    let hasher = rehash_written!(new, buf, checkpoint);
    let mut state = crate::apply::Apply::resume(header, checkpoint, hasher)?;
    apply_loop!(
        update,
        old,
        new,
        buf,
        state,
        checkpoint.stream_offset,
        on_checkpoint
    )
}

/// A new slot in memory: a byte slice with a cursor, `Read + Write + Seek` (tests, or a
/// RAM-backed or memory-mapped slot).
///
/// Writing past the end fails with [`ErrorKind::WriteZero`]; seeking before the start with
/// [`ErrorKind::InvalidInput`].
///
/// ```
/// use embedded_io_07::{Read, Seek, SeekFrom, Write};
/// use splitfdstream_adapters::embedded_io::SliceSlot;
///
/// let mut bytes = [0u8; 4];
/// let mut slot = SliceSlot::new(&mut bytes);
/// assert_eq!(slot.write(b"abcdef"), Ok(4));
/// assert!(slot.write(b"g").is_err());
/// slot.seek(SeekFrom::Start(1)).unwrap();
/// let mut back = [0u8; 2];
/// assert_eq!(slot.read(&mut back), Ok(2));
/// assert_eq!(&back, b"bc");
/// ```
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SliceSlot<'a> {
    bytes: &'a mut [u8],
    position: usize,
}

impl<'a> SliceSlot<'a> {
    /// A slot over `bytes`, positioned at 0.
    pub fn new(bytes: &'a mut [u8]) -> SliceSlot<'a> {
        SliceSlot { bytes, position: 0 }
    }

    /// The whole slot.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl embedded_io_07::ErrorType for SliceSlot<'_> {
    type Error = ErrorKind;
}

impl Read for SliceSlot<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let rest = self.bytes.get(self.position..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }
}

impl Write for SliceSlot<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if buf.is_empty() {
            return Ok(0);
        }
        let rest = self.bytes.get_mut(self.position..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if n == 0 {
            return Err(ErrorKind::WriteZero);
        }
        rest[..n].copy_from_slice(&buf[..n]);
        self.position += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Seek for SliceSlot<'_> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        let len = crate::drive::len_u64(self.bytes.len());
        let position = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => len.checked_add_signed(delta),
            SeekFrom::Current(delta) => {
                crate::drive::len_u64(self.position).checked_add_signed(delta)
            }
        };
        let position = position.ok_or(ErrorKind::InvalidInput)?;
        // Past the end is allowed and reads nothing, as for a file.
        self.position = usize::try_from(position).unwrap_or(usize::MAX);
        Ok(position)
    }
}
