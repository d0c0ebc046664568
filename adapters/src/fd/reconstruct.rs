//! Reconstruction into a descriptor, copying external sources inside the kernel where it
//! can.

use ::std::boxed::Box;
use ::std::io;
use ::std::ops::BitOr;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use ::std::vec;

use rustix::event::PollFlags;
use rustix::io::Errno;
use splitfdstream::{FdIndex, Limits};

use super::retry::{wait, write_all, write_all_vectored};
use super::source::{source_size, FdKind};
use crate::drive::{len_u64, Event, ExternalCopy, Feed, Progress, Staging};
use crate::std::{invalid_data, open_source, source_io, ReadAt, Sources, DEFAULT_BUFFER_LEN};
use crate::SourceError;

/// Size of the output staging buffer that batches inline data and small externals.
const STAGING_LEN: usize = 256 * 1024;

/// Writes into a regular file end on multiples of this output offset where they can: the
/// page cache then uses large folios, which makes writing a third cheaper than writes
/// shifted by a tar header's 512 bytes.
const WRITE_ALIGN: u64 = 64 * 1024;

/// Externals at least this long are copied by the kernel when a method applies.
pub const DEFAULT_KERNEL_COPY_MIN: u64 = 128 * 1024;

/// The most one kernel copy call is asked to move.
#[cfg(target_os = "linux")]
const KERNEL_CHUNK: usize = 1 << 30;

/// The kernel copy methods [`Reconstruct`] may use. Reads and writes through a buffer are
/// always available as the last resort.
///
/// ```
/// use splitfdstream_adapters::fd::Methods;
///
/// let kernel = Methods::SPLICE | Methods::SENDFILE;
/// assert!(kernel.contains(Methods::SENDFILE));
/// assert!(!kernel.contains(Methods::COPY_FILE_RANGE));
/// assert_eq!(Methods::ALL.without(Methods::ALL), Methods::NONE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Methods(u8);

impl Methods {
    /// No kernel copies: every external goes through `pread` and `write`.
    pub const NONE: Methods = Methods(0);
    /// `copy_file_range`, into a regular file.
    pub const COPY_FILE_RANGE: Methods = Methods(1);
    /// `splice`, into a pipe directly or into a socket through a pipe.
    pub const SPLICE: Methods = Methods(2);
    /// `sendfile`, into a socket.
    pub const SENDFILE: Methods = Methods(4);
    /// Every method (the default).
    pub const ALL: Methods = Methods(7);

    /// Whether every method of `other` is in `self`.
    pub const fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    /// The methods of `self` that are not in `other`.
    #[must_use]
    pub const fn without(self, other: Methods) -> Methods {
        Methods(self.0 & !other.0)
    }

    /// Whether there are no methods.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Methods {
    type Output = Methods;

    fn bitor(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }
}

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
        }
    }

    /// Allows only `methods` (plus reads and writes, always).
    #[must_use]
    pub fn methods(mut self, methods: Methods) -> Reconstruct {
        self.methods = methods;
        self
    }

    /// Uses `copy_file_range` into a regular file even on a file system that copies page by
    /// page (ext2/3/4, tmpfs), where aligned writes from a buffer measure faster; by default
    /// it is used only on others (btrfs, XFS, NFS, …), which can share extents or copy on
    /// the server.
    #[must_use]
    pub fn copy_file_range_anywhere(mut self, anywhere: bool) -> Reconstruct {
        self.copy_file_range_anywhere = anywhere;
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
    pub fn run<R, S, F>(&self, stream: R, sources: &S, out: F) -> io::Result<Copied>
    where
        R: io::Read,
        S: Sources + ?Sized,
        F: AsFd,
    {
        let mut stream = stream;
        let out = out.as_fd();
        let kind = FdKind::of(out)?;
        let mut methods = usable(kind).without(Methods::ALL.without(self.methods));
        if kind == FdKind::Regular && !self.copy_file_range_anywhere && copies_page_by_page(out) {
            methods = methods.without(Methods::COPY_FILE_RANGE);
        }
        let mut output = Output {
            fd: out,
            kind,
            methods,
            kernel_copy_min: self.kernel_copy_min,
            buf: vec![0; STAGING_LEN].into_boxed_slice(),
            staging: Staging::new(),
            pipe: None,
            copied: Copied::default(),
            // Only a regular file's page cache cares where writes fall.
            start: match kind {
                FdKind::Regular => rustix::fs::tell(out).unwrap_or(0),
                _ => 0,
            },
        };
        let mut buf = vec![0; DEFAULT_BUFFER_LEN].into_boxed_slice();
        let mut feed = Feed::new(Limits::new());
        loop {
            match feed.poll(&buf).map_err(invalid_data)? {
                Event::Inline { range, .. } => {
                    let bytes = buf.get(range).unwrap_or_default();
                    output.put(bytes)?;
                    output.copied.inline += len_u64(bytes.len());
                }
                Event::External(index) => output.external(sources, index)?,
                Event::NeedInput => {
                    let target = feed.refill_target(&mut buf);
                    let n = loop {
                        match stream.read(target) {
                            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                            other => break other?.min(target.len()),
                        }
                    };
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
pub fn reconstruct<R, S, F>(stream: R, sources: &S, out: F) -> io::Result<u64>
where
    R: io::Read,
    S: Sources + ?Sized,
    F: AsFd,
{
    Reconstruct::new()
        .run(stream, sources, out)
        .map(|c| c.total)
}

/// Whether `copy_file_range` into `out` is a page-by-page copy inside the kernel: the file
/// system cannot share extents (ext2/3/4, tmpfs, ramfs).
#[cfg(target_os = "linux")]
fn copies_page_by_page(out: BorrowedFd<'_>) -> bool {
    const EXT4_SUPER_MAGIC: i128 = 0xef53;
    const TMPFS_MAGIC: i128 = 0x0102_1994;
    const RAMFS_MAGIC: i128 = 0x8584_58f6;
    rustix::fs::fstatfs(out).is_ok_and(|stat| {
        let kind = i128::from(stat.f_type);
        kind == EXT4_SUPER_MAGIC || kind == TMPFS_MAGIC || kind == RAMFS_MAGIC
    })
}

#[cfg(not(target_os = "linux"))]
fn copies_page_by_page(out: BorrowedFd<'_>) -> bool {
    let _ = out;
    true
}

/// The methods that can apply to an output of `kind`.
#[cfg(target_os = "linux")]
fn usable(kind: FdKind) -> Methods {
    match kind {
        FdKind::Regular => Methods::COPY_FILE_RANGE,
        FdKind::Pipe => Methods::SPLICE,
        FdKind::Socket => Methods::SPLICE | Methods::SENDFILE,
        _ => Methods::NONE,
    }
}

#[cfg(not(target_os = "linux"))]
fn usable(kind: FdKind) -> Methods {
    let _ = kind;
    Methods::NONE
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
    /// The pipe that `splice` into a socket goes through, made on first use.
    pipe: Option<(OwnedFd, OwnedFd)>,
    copied: Copied,
    /// The output's file offset when the run started (0 when it has none).
    start: u64,
}

impl Output<'_> {
    /// The output offset at which the staged bytes end.
    fn staged_end(&self) -> u64 {
        let c = &self.copied;
        self.start + c.inline + c.copy_file_range + c.splice + c.sendfile + c.read_write
    }

    /// Frees at least `STAGING_LEN - WRITE_ALIGN` bytes of the staging buffer, writing the
    /// staged bytes up to the last aligned output offset and keeping the rest.
    fn make_room(&mut self) -> io::Result<()> {
        let staged = self.staging.len();
        let past = usize::try_from(self.staged_end() % WRITE_ALIGN).unwrap_or(0);
        if self.kind != FdKind::Regular || past >= staged {
            return self.flush();
        }
        let head = staged - past;
        write_all(self.fd, self.buf.get(..head).unwrap_or_default())?;
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
        index: FdIndex,
    ) -> io::Result<()> {
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
            let n = read_at(source, target, copy.offset()).map_err(source_io(index.get()))?;
            // A read of 0 here is a source that shrank: advance() says so.
            copy.advance(n)?;
            self.staging.commit(n);
            self.copied.read_write += len_u64(n);
            need -= n.min(need);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.staging.len() > 0 {
            write_all(
                self.fd,
                self.buf.get(..self.staging.len()).unwrap_or_default(),
            )?;
            self.staging.clear();
        }
        Ok(())
    }

    /// Passes inline `bytes` on: staged when small, else written together with what is
    /// staged in one `writev`.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        let cap = self.buf.len();
        if Staging::should_stage(bytes.len(), cap) {
            if !self.staging.fits(bytes.len(), cap) {
                self.make_room()?;
            }
            self.staging.push(&mut self.buf, bytes);
            return Ok(());
        }
        let staged = self.buf.get(..self.staging.len()).unwrap_or_default();
        write_all_vectored(self.fd, staged, bytes)?;
        self.staging.clear();
        Ok(())
    }

    /// Copies external source `index` from its offset 0 to its end.
    fn external<S: Sources + ?Sized>(&mut self, sources: &S, index: FdIndex) -> io::Result<()> {
        let source = open_source(sources, index)?;
        let region = source.fd_region();
        let expected = sources.expected_len(index);
        // A positional read of a file stops short only at its end, so a source smaller
        // than the kernel-copy threshold is read whole in one call, without a size lookup.
        let mut first = 0;
        let cap = self.buf.len();
        let want = usize::try_from(self.kernel_copy_min).map_or(cap / 2, |min| min.min(cap / 2));
        if region.is_some() && want > 0 {
            if cap - self.staging.len() < want {
                self.make_room()?;
            }
            let spare = self.staging.spare(&mut self.buf);
            let target = spare.get_mut(..want).unwrap_or_default();
            let n = read_at(&source, target, 0).map_err(source_io(index.get()))?;
            if n < want {
                let actual = len_u64(n);
                if let Some(expected) = expected.filter(|&expected| expected != actual) {
                    let index = index.get();
                    return Err(SourceError::SizeMismatch {
                        index,
                        expected,
                        actual,
                    }
                    .into());
                }
                self.staging.commit(n);
                self.copied.read_write += actual;
                return Ok(());
            }
            first = n;
        }
        let mut size = source.size().map_err(source_io(index.get()))?;
        if size.is_none() {
            // A `File` on a block device has no size of its own; the descriptor does.
            if let Some((fd, 0)) = region {
                size = source_size(fd).map_err(source_io(index.get()))?;
            }
        }
        let mut copy = ExternalCopy::new(index, size, expected)?;
        if first > 0 {
            // Checked before it is passed on: the source may be smaller than one read.
            copy.advance(first)?;
            self.staging.commit(first);
            self.copied.read_write += len_u64(first);
        }
        if let (Some(len), Some((fd, base))) = (copy.len(), region) {
            if len >= self.kernel_copy_min && !self.methods.is_empty() {
                self.align_for_kernel_copy(&source, &mut copy, index)?;
                self.flush()?;
                if self.kernel_copy(&source, fd, base, &mut copy, index)? {
                    return Ok(());
                }
            }
        }
        self.staged_copy(&source, &mut copy, index)
    }

    /// Copies the rest of `source` through the staging buffer.
    fn staged_copy<T: ReadAt>(
        &mut self,
        source: &T,
        copy: &mut ExternalCopy,
        index: FdIndex,
    ) -> io::Result<()> {
        let cap = self.buf.len();
        loop {
            let room = cap - self.staging.len();
            if room < copy.want(cap).min(cap / 2) {
                self.make_room()?;
            }
            let spare = self.staging.spare(&mut self.buf);
            let want = copy.want(spare.len());
            let target = spare.get_mut(..want).unwrap_or_default();
            let n = read_at(source, target, copy.offset()).map_err(source_io(index.get()))?;
            // A short read landing on the known size ends the copy without another read.
            let progress = copy.advance_read(n, want)?;
            self.staging.commit(n);
            self.copied.read_write += len_u64(n);
            if progress == Progress::Done {
                return Ok(());
            }
        }
    }

    /// Copies `source` (at descriptor `fd`, region starting at `base`) with the kernel
    /// until its known length is reached; returns `false` when no method works and the
    /// rest must be copied through the buffer.
    #[cfg(target_os = "linux")]
    fn kernel_copy<T: ReadAt>(
        &mut self,
        source: &T,
        fd: BorrowedFd<'_>,
        base: u64,
        copy: &mut ExternalCopy,
        index: FdIndex,
    ) -> io::Result<bool> {
        let Some(len) = copy.len() else {
            return Ok(false);
        };
        let mut tried = Methods::NONE;
        loop {
            let owed = len - copy.offset();
            if owed == 0 {
                return self.check_end(source, copy, index).map(|()| true);
            }
            let Some(method) = [Methods::COPY_FILE_RANGE, Methods::SPLICE, Methods::SENDFILE]
                .into_iter()
                .find(|&m| self.methods.contains(m) && !tried.contains(m))
            else {
                return Ok(false);
            };
            let want = usize::try_from(owed).map_or(KERNEL_CHUNK, |owed| owed.min(KERNEL_CHUNK));
            let mut offset = base.checked_add(copy.offset()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "source offset overflows")
            })?;
            let result = match method {
                Methods::COPY_FILE_RANGE => {
                    rustix::fs::copy_file_range(fd, Some(&mut offset), self.fd, None, want)
                }
                Methods::SPLICE if self.kind == FdKind::Pipe => rustix::pipe::splice(
                    fd,
                    Some(&mut offset),
                    self.fd,
                    None,
                    want,
                    rustix::pipe::SpliceFlags::empty(),
                ),
                Methods::SPLICE => self.splice_through_pipe(fd, offset, want),
                _ => rustix::fs::sendfile(self.fd, fd, Some(&mut offset), want),
            };
            match result {
                Ok(n) => {
                    // `n` is at most `owed`, so this fails only for a source that shrank.
                    copy.advance(n)?;
                    let moved = len_u64(n);
                    match method {
                        Methods::COPY_FILE_RANGE => self.copied.copy_file_range += moved,
                        Methods::SPLICE => self.copied.splice += moved,
                        _ => self.copied.sendfile += moved,
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait(self.fd, PollFlags::OUT)?,
                // The kernel or this output lacks the method: stop trying it.
                Err(Errno::NOSYS | Errno::OPNOTSUPP) => self.methods = self.methods.without(method),
                // Not for this pair of files (another file system, a source type the
                // method does not take, an output opened for appending): next method.
                Err(Errno::XDEV | Errno::INVAL | Errno::BADF) => tried = tried | method,
                Err(error) => return Err(error.into()),
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn kernel_copy<T: ReadAt>(
        &mut self,
        _source: &T,
        _fd: BorrowedFd<'_>,
        _base: u64,
        _copy: &mut ExternalCopy,
        _index: FdIndex,
    ) -> io::Result<bool> {
        Ok(false)
    }

    /// After a copy reached the source's known length: one more byte means it grew.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn check_end<T: ReadAt>(
        &mut self,
        source: &T,
        copy: &mut ExternalCopy,
        index: FdIndex,
    ) -> io::Result<()> {
        let mut probe = [0u8; 1];
        let n = read_at(source, &mut probe, copy.offset()).map_err(source_io(index.get()))?;
        match copy.advance(n)? {
            Progress::Done => Ok(()),
            // advance() refuses bytes past the known length, so this is not reached.
            Progress::More => Err(io::Error::other("source grew")),
        }
    }

    /// `splice` from a file into a socket through this output's pipe: source → pipe,
    /// then pipe → socket until the pipe is empty. Returns the bytes taken from the
    /// source, all of which reached the output.
    #[cfg(target_os = "linux")]
    fn splice_through_pipe(
        &mut self,
        fd: BorrowedFd<'_>,
        mut offset: u64,
        want: usize,
    ) -> rustix::io::Result<usize> {
        use rustix::pipe::{splice, SpliceFlags};

        if self.pipe.is_none() {
            let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            // A larger pipe means fewer calls; the default size is fine too.
            let _ = rustix::pipe::fcntl_setpipe_size(&writer, 1 << 20);
            self.pipe = Some((reader, writer));
        }
        let Some((reader, writer)) = &self.pipe else {
            return Err(Errno::NOSYS);
        };
        let capacity = rustix::pipe::fcntl_getpipe_size(writer).unwrap_or(64 * 1024);
        let taken = splice(
            fd,
            Some(&mut offset),
            writer,
            None,
            want.min(capacity),
            SpliceFlags::empty(),
        )?;
        let mut left = taken;
        while left > 0 {
            match splice(reader, None, self.fd, None, left, SpliceFlags::MORE) {
                Ok(0) => return Err(Errno::PIPE),
                Ok(n) => left -= n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait(self.fd, PollFlags::OUT).map_err(|_| Errno::IO)?,
                Err(error) => {
                    // The bytes already in the pipe must still reach the output in order.
                    let (reader, _) = self.pipe.take().ok_or(Errno::NOSYS)?;
                    drain(&reader, self.fd, left, &mut self.buf).map_err(|_| error)?;
                    return match error {
                        Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP => {
                            self.methods = self.methods.without(Methods::SPLICE);
                            Ok(taken)
                        }
                        other => Err(other),
                    };
                }
            }
        }
        Ok(taken)
    }
}

/// Moves `len` bytes from `pipe` to `out` through `buf`.
#[cfg(target_os = "linux")]
fn drain(pipe: &OwnedFd, out: BorrowedFd<'_>, mut len: usize, buf: &mut [u8]) -> io::Result<()> {
    while len > 0 {
        let room = buf.len().min(len);
        let n = match rustix::io::read(pipe, &mut buf[..room]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        };
        write_all(out, &buf[..n])?;
        len -= n;
    }
    Ok(())
}

/// Reads `source` at `offset`, retrying reads interrupted by a signal.
fn read_at<T: ReadAt + ?Sized>(source: &T, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match source.read_at(buf, offset) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map(|n| n.min(buf.len())),
        }
    }
}
