//! Reconstruction into a descriptor, copying external sources inside the kernel where it
//! can.

use ::std::boxed::Box;
use ::std::io;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use ::std::vec;

use splitfdstream::Limits;

use super::retry::{write_all, write_all_vectored};
use super::source::{source_size, FdKind};
use crate::drive::{len_u64, Event, ExternalCopy, Feed, Progress, Staging};
use crate::std::steps::{expected_len, open_source, output, Blame};
use crate::std::{read_at_retrying, read_retrying, Error, ReadAt, Sources, DEFAULT_BUFFER_LEN};
use crate::{Format, SourceRef};

mod kernel;

pub use kernel::Methods;
use kernel::{block_size, copies_page_by_page, usable};

/// Size of the output staging buffer that batches inline data and small externals.
const STAGING_LEN: usize = 256 * 1024;

/// Writes into a regular file end on multiples of this output offset where they can: the
/// page cache then uses large folios, which makes writing a third cheaper than writes
/// shifted by a tar header's 512 bytes.
const WRITE_ALIGN: u64 = 64 * 1024;

/// Externals at least this long are copied by the kernel when a method applies.
pub const DEFAULT_KERNEL_COPY_MIN: u64 = 128 * 1024;

/// What a reconstruction wrote, by how each byte got there.
///
/// `total` is the sum of the others. A test can tell from it which path ran.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Copied {
    /// Bytes written in all.
    pub total: u64,
    /// Inline bytes, written from the stream buffer.
    pub inline: u64,
    /// External bytes copied with `copy_file_range`.
    pub copy_file_range: u64,
    /// External bytes copied with `splice`.
    pub splice: u64,
    /// External bytes copied with `sendfile`.
    pub sendfile: u64,
    /// External bytes read with `pread` and written with `write` (small externals batched
    /// with inline data, sources without a descriptor, and fallbacks).
    pub read_write: u64,
}

/// Reconstruction into a descriptor, with the choice of kernel copy methods.
///
/// See the [module documentation](super) for how a method is picked per external chunk and
/// when it falls back.
///
/// ```
/// use std::io::{Read, Seek, Write};
/// use splitfdstream_adapters::fd::{Methods, Reconstruct};
/// use splitfdstream_adapters::std::Writer;
///
/// let mut big = tempfile::tempfile()?;
/// big.write_all(&vec![7; 300_000])?;
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"header")?;
/// writer.write_external(0)?;
/// let stream = writer.finish()?;
///
/// let mut out = tempfile::tempfile()?;
/// let copied = Reconstruct::new().run(stream.as_slice(), &[&big], &out)?;
/// assert_eq!(copied.total, 300_006);
/// assert_eq!(copied.inline, 6);
///
/// // The same bytes without kernel copies.
/// let mut plain = tempfile::tempfile()?;
/// let copied = Reconstruct::new().methods(Methods::NONE).run(stream.as_slice(), &[&big], &plain)?;
/// assert_eq!(copied.read_write, 300_000);
///
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// out.rewind()?;
/// out.read_to_end(&mut a)?;
/// plain.rewind()?;
/// plain.read_to_end(&mut b)?;
/// assert!(a == b && a.starts_with(b"header"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Reconstruct {
    methods: Methods,
    kernel_copy_min: u64,
    copy_file_range_anywhere: bool,
    format: Format,
}

impl Default for Reconstruct {
    fn default() -> Self {
        Reconstruct::new()
    }
}

impl Reconstruct {
    /// Every method allowed; externals of at least [`DEFAULT_KERNEL_COPY_MIN`] bytes are
    /// copied by the kernel.
    pub fn new() -> Reconstruct {
        Reconstruct {
            methods: Methods::ALL,
            kernel_copy_min: DEFAULT_KERNEL_COPY_MIN,
            copy_file_range_anywhere: false,
            format: Format::Splitfdstream,
        }
    }

    /// Allows only `methods` (plus reads and writes, always).
    #[must_use]
    pub fn methods(mut self, methods: Methods) -> Reconstruct {
        self.methods = methods;
        self
    }

    /// Uses `copy_file_range` for every kernel copy into a regular file, even on a file
    /// system that copies page by page (ext2/3/4, tmpfs) and at offsets where no extent
    /// can be shared, where `splice` through a pipe measures faster. By default it is used
    /// only on other file systems (btrfs, XFS, NFS, …), and there only when the source and
    /// output offsets are both multiples of the output's block size, as sharing extents
    /// needs.
    #[must_use]
    pub fn copy_file_range_anywhere(mut self, anywhere: bool) -> Reconstruct {
        self.copy_file_range_anywhere = anywhere;
        self
    }

    /// Reads the stream as `format` (the first format by default); the successor's
    /// references are [`SourceRef::Named`], which the sources resolve.
    #[must_use]
    pub fn format(mut self, format: Format) -> Reconstruct {
        self.format = format;
        self
    }

    /// Copies externals of at least `len` bytes in the kernel; smaller ones are read into
    /// the staging buffer and written together with the inline data around them.
    #[must_use]
    pub fn kernel_copy_min(mut self, len: u64) -> Reconstruct {
        self.kernel_copy_min = len;
        self
    }

    /// Rebuilds the original bytes from `stream` and `sources` into `out`, at its current
    /// file offset (if it has one).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::std::reconstruct`]; and the error of a kernel copy that is
    /// not one that falls back (for example `ENOSPC`, `EPIPE`, `EIO`). On error, part of
    /// the output may have been written.
    pub fn run<R, S, F>(&self, stream: R, sources: &S, out: F) -> Result<Copied, Error>
    where
        R: io::Read,
        S: Sources + ?Sized,
        F: AsFd,
    {
        let mut stream = stream;
        let out = out.as_fd();
        let kind = FdKind::of(out).map_err(output(0))?;
        if kind == FdKind::Pipe {
            widen_pipe(out);
        }
        let mut methods = usable(kind).without(Methods::ALL.without(self.methods));
        // Where `copy_file_range` is used only to share extents, both offsets must be
        // multiples of this; 1 allows any.
        let mut share_align = 1;
        if kind == FdKind::Regular && !self.copy_file_range_anywhere {
            if copies_page_by_page(out) {
                methods = methods.without(Methods::COPY_FILE_RANGE);
            }
            share_align = block_size(out);
        }
        let mut output = Output {
            fd: out,
            kind,
            methods,
            kernel_copy_min: self.kernel_copy_min,
            buf: vec![0; STAGING_LEN].into_boxed_slice(),
            staging: Staging::new(),
            pipe: None,
            share_align,
            copied: Copied::default(),
            // Only a regular file's page cache cares where writes fall.
            start: match kind {
                FdKind::Regular => rustix::fs::tell(out).unwrap_or(0),
                _ => 0,
            },
        };
        let mut buf = vec![0; DEFAULT_BUFFER_LEN].into_boxed_slice();
        let mut feed = Feed::of(self.format, Limits::new(), buf.len());
        sources.rewind();
        loop {
            match feed.poll(&buf)? {
                Event::Inline { range, .. } => {
                    let bytes = buf.get(range).unwrap_or_default();
                    output.put(bytes)?;
                    output.copied.inline += len_u64(bytes.len());
                }
                Event::External(reference) => {
                    output.external(sources, reference.get(&buf), feed.position())?;
                }
                Event::NeedInput => {
                    let target = feed.refill_target(&mut buf);
                    let n = read_retrying(&mut stream, target).map_err(|error| Error::Stream {
                        offset: feed.position(),
                        error,
                    })?;
                    feed.filled(n);
                }
                Event::End => {
                    output.flush()?;
                    let mut copied = output.copied;
                    copied.total = copied.inline
                        + copied.copy_file_range
                        + copied.splice
                        + copied.sendfile
                        + copied.read_write;
                    return Ok(copied);
                }
            }
        }
    }
}

/// Rebuilds the original bytes from `stream` and `sources` into the descriptor `out`
/// with every kernel copy method allowed; returns the number of bytes written.
///
/// External chunk `i` is `sources[i]` (see [the numbering](super#descriptor-numbering)).
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use splitfdstream_adapters::fd::reconstruct;
/// use splitfdstream_adapters::std::Writer;
///
/// let mut source = tempfile::tempfile()?;
/// source.write_all(b" world")?;
/// let mut writer = Writer::new(Vec::new());
/// writer.write_inline(b"hello")?;
/// writer.write_external(0)?;
/// let stream = writer.finish()?;
///
/// let (ours, mut theirs) = UnixStream::pair()?;
/// assert_eq!(reconstruct(stream.as_slice(), &[source], &ours)?, 11);
/// drop(ours);
/// let mut rebuilt = String::new();
/// theirs.read_to_string(&mut rebuilt)?;
/// assert_eq!(rebuilt, "hello world");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// As for [`Reconstruct::run`].
pub fn reconstruct<R, S, F>(stream: R, sources: &S, out: F) -> Result<u64, Error>
where
    R: io::Read,
    S: Sources + ?Sized,
    F: AsFd,
{
    Reconstruct::new()
        .run(stream, sources, out)
        .map(|c| c.total)
}

/// The output side: the descriptor, a staging buffer in front of it, and what works.
struct Output<'a> {
    fd: BorrowedFd<'a>,
    kind: FdKind,
    /// Methods still worth trying; one that the kernel lacks is removed.
    methods: Methods,
    kernel_copy_min: u64,
    buf: Box<[u8]>,
    staging: Staging,
    /// The pipe that `splice` into a socket or a regular file goes through, made on
    /// first use.
    pipe: Option<(OwnedFd, OwnedFd)>,
    /// `copy_file_range` is used only when the source and output offsets are both
    /// multiples of this (at least 1).
    share_align: u64,
    copied: Copied,
    /// The output's file offset when the run started (0 when it has none).
    start: u64,
}

impl Output<'_> {
    /// The output offset at which the staged bytes end.
    /// Rebuilt bytes handed to the output so far, staged or written.
    fn written(&self) -> u64 {
        self.staged_end() - self.start
    }

    fn staged_end(&self) -> u64 {
        let c = &self.copied;
        self.start + c.inline + c.copy_file_range + c.splice + c.sendfile + c.read_write
    }

    /// Frees at least `STAGING_LEN - WRITE_ALIGN` bytes of the staging buffer, writing the
    /// staged bytes up to the last aligned output offset and keeping the rest.
    fn make_room(&mut self) -> Result<(), Error> {
        let staged = self.staging.len();
        let past = usize::try_from(self.staged_end() % WRITE_ALIGN).unwrap_or(0);
        if self.kind != FdKind::Regular || past >= staged {
            return self.flush();
        }
        let head = staged - past;
        let written = self.written();
        write_all(self.fd, self.buf.get(..head).unwrap_or_default()).map_err(output(written))?;
        self.buf.copy_within(head..staged, 0);
        self.staging.clear();
        self.staging.commit(past);
        Ok(())
    }

    /// Stages the next bytes of `source` up to an aligned output offset, so that a kernel
    /// copy into a regular file that follows writes aligned.
    fn align_for_kernel_copy<T: ReadAt>(
        &mut self,
        source: &T,
        copy: &mut ExternalCopy,
        blame: &Blame<'_>,
    ) -> Result<(), Error> {
        let Some(len) = copy.len() else {
            return Ok(());
        };
        let short = (WRITE_ALIGN - self.staged_end() % WRITE_ALIGN) % WRITE_ALIGN;
        let mut need = usize::try_from(short.min(len - copy.offset())).unwrap_or(0);
        if self.kind != FdKind::Regular || need == 0 {
            return Ok(());
        }
        if self.buf.len() - self.staging.len() < need {
            self.make_room()?;
        }
        while need > 0 {
            let spare = self.staging.spare(&mut self.buf);
            let target = spare.get_mut(..need).unwrap_or_default();
            let n = read_at_retrying(source, target, copy.offset()).map_err(|e| blame.io(e))?;
            // A read of 0 here is a source that shrank: advance() says so.
            copy.advance(n).map_err(|e| blame.check(e))?;
            self.staging.commit(n);
            self.copied.read_write += len_u64(n);
            need -= n.min(need);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        if self.staging.len() > 0 {
            let written = self.written();
            write_all(
                self.fd,
                self.buf.get(..self.staging.len()).unwrap_or_default(),
            )
            .map_err(output(written))?;
            self.staging.clear();
        }
        Ok(())
    }

    /// Passes inline `bytes` on: staged when small, else written together with what is
    /// staged in one `writev`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let cap = self.buf.len();
        if Staging::should_stage(bytes.len(), cap) {
            if !self.staging.fits(bytes.len(), cap) {
                self.make_room()?;
            }
            self.staging.push(&mut self.buf, bytes);
            return Ok(());
        }
        let staged = self.buf.get(..self.staging.len()).unwrap_or_default();
        write_all_vectored(self.fd, staged, bytes).map_err(output(self.written()))?;
        self.staging.clear();
        Ok(())
    }

    /// Copies external source `index` from its offset 0 to its end.
    fn external<S: Sources + ?Sized>(
        &mut self,
        sources: &S,
        reference: SourceRef<'_>,
        at: u64,
    ) -> Result<(), Error> {
        let blame = Blame::new(sources, reference, at);
        let index = reference.number();
        let source = open_source(sources, reference, at)?;
        let region = source.fd_region();
        let expected = expected_len(sources, reference);
        // A source smaller than the kernel-copy threshold is read without a size lookup:
        // one read usually gets all of it, and one more read of 0 confirms the end. A short
        // read alone proves nothing (procfs, FUSE, a file being extended), so it never ends
        // the copy; the bytes read are checked against the size the caller expects, if
        // any (a longer source is `Grew`). Only whole descriptors take this path: a region (`FileRange`) knows its length, which must be checked.
        let mut first = 0;
        let cap = self.buf.len();
        let want = usize::try_from(self.kernel_copy_min).map_or(cap / 2, |min| min.min(cap / 2));
        if source.fd().is_some() && want > 0 {
            if cap - self.staging.len() < want {
                self.make_room()?;
            }
            let spare = self.staging.spare(&mut self.buf);
            let target = spare.get_mut(..want).unwrap_or_default();
            let n = read_at_retrying(&source, target, 0).map_err(|e| blame.io(e))?;
            if n < want {
                let mut copy =
                    ExternalCopy::new(index, None, expected).map_err(|e| blame.check(e))?;
                let progress = copy.advance_read(n, want).map_err(|e| blame.check(e))?;
                self.staging.commit(n);
                self.copied.read_write += len_u64(n);
                if progress == Progress::Done {
                    return Ok(());
                }
                return self.staged_copy(&source, &mut copy, &blame);
            }
            first = n;
        }
        let mut size = source.size().map_err(|e| blame.io(e))?;
        if size.is_none() {
            // A `File` on a block device has no size of its own; the descriptor does.
            if let Some((fd, 0)) = region {
                size = source_size(fd).map_err(|e| blame.io(e))?;
            }
        }
        let mut copy = ExternalCopy::new(index, size, expected).map_err(|e| blame.check(e))?;
        if first > 0 {
            // Checked before it is passed on: the source may be smaller than one read.
            copy.advance(first).map_err(|e| blame.check(e))?;
            self.staging.commit(first);
            self.copied.read_write += len_u64(first);
        }
        if let (Some(len), Some((fd, base))) = (copy.len(), region) {
            if len >= self.kernel_copy_min && !self.methods.is_empty() {
                self.align_for_kernel_copy(&source, &mut copy, &blame)?;
                self.flush()?;
                if self.kernel_copy(&source, (fd, base), &mut copy, &blame)? {
                    return Ok(());
                }
            }
        }
        self.staged_copy(&source, &mut copy, &blame)
    }

    /// Copies the rest of `source` through the staging buffer.
    fn staged_copy<T: ReadAt>(
        &mut self,
        source: &T,
        copy: &mut ExternalCopy,
        blame: &Blame<'_>,
    ) -> Result<(), Error> {
        let cap = self.buf.len();
        loop {
            let room = cap - self.staging.len();
            if room < copy.want(cap).min(cap / 2) {
                self.make_room()?;
            }
            let spare = self.staging.spare(&mut self.buf);
            let want = copy.want(spare.len());
            let target = spare.get_mut(..want).unwrap_or_default();
            let n = read_at_retrying(source, target, copy.offset()).map_err(|e| blame.io(e))?;
            // A short read landing on the known size ends the copy without another read.
            let progress = copy.advance_read(n, want).map_err(|e| blame.check(e))?;
            self.staging.commit(n);
            self.copied.read_write += len_u64(n);
            if progress == Progress::Done {
                return Ok(());
            }
        }
    }
}

/// The capacity a pipe output is given when it has less, where the kernel allows it.
#[cfg(target_os = "linux")]
const PIPE_CAPACITY: usize = 1 << 20;

/// Grows the pipe `out` to [`PIPE_CAPACITY`] if it is smaller. With the default 64 KiB a
/// writer and its reader take turns every 64 KiB, and each turn waits for a thread to be
/// woken; the larger size is best effort (an unprivileged process may be held to less).
fn widen_pipe(out: BorrowedFd<'_>) {
    #[cfg(target_os = "linux")]
    if rustix::pipe::fcntl_getpipe_size(out).is_ok_and(|size| size < PIPE_CAPACITY) {
        let _ = rustix::pipe::fcntl_setpipe_size(out, PIPE_CAPACITY);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}
