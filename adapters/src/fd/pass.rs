//! Passing a stream and its sources between processes with `SCM_RIGHTS`.

use ::std::fmt;
use ::std::io;
use ::std::mem::MaybeUninit;
use ::std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use ::std::vec::Vec;

use rustix::event::PollFlags;
use rustix::io::{IoSlice, IoSliceMut};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use super::retry::retrying;
use super::source::{FdKind, FdSource};
use crate::drive::len_u64;

/// The most descriptors one `sendmsg` carries on Linux (`SCM_MAX_FD`).
pub const MAX_FDS_PER_MESSAGE: usize = 253;

/// How many sources [`receive`] accepts unless told otherwise.
pub const DEFAULT_MAX_SOURCES: usize = 1 << 20;

/// The framing message's magic for `[stream, source 0, …]`: "splitfd" and a version byte.
const MAGIC: [u8; 8] = *b"splitfd\x01";
/// The framing message's magic for `[stream, directory 0, …]` (the successor format).
const DIRS_MAGIC: [u8; 8] = *b"splitdir";
/// Magic and the little-endian `u64` number of descriptors that follow.
const HEADER_LEN: usize = 16;
/// Each batch carries the little-endian `u32` number of its descriptors.
const BATCH_LEN: usize = 4;

/// What went wrong while receiving descriptors, beyond plain I/O errors.
///
/// [`receive`] returns it inside an [`io::Error`]: `Other` for
/// [`ControlTruncated`](PassError::ControlTruncated), `UnexpectedEof` for
/// [`Ended`](PassError::Ended), `InvalidData` for the rest.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassError {
    /// The peer does not speak this framing (wrong magic or version).
    BadMagic,
    /// The framing message announces no descriptor: there is not even a stream.
    NoStream,
    /// The framing message announces more sources than the receiver accepts.
    TooManySources {
        /// Sources announced.
        announced: u64,
        /// The receiver's maximum.
        max: u64,
    },
    /// A batch announces 0, more than [`MAX_FDS_PER_MESSAGE`], or more descriptors than
    /// remain to be received.
    BadBatch {
        /// Descriptors the batch announces.
        len: u32,
        /// Descriptors still expected.
        remaining: u64,
    },
    /// A batch arrived with another number of descriptors than it announced.
    BatchMismatch {
        /// Descriptors the batch announced.
        announced: u32,
        /// Descriptors that came with it.
        received: u64,
    },
    /// The kernel dropped descriptors (`MSG_CTRUNC`), usually because the receiver reached
    /// its open-file limit (`RLIMIT_NOFILE`).
    ControlTruncated {
        /// Descriptors received before the truncation, all closed again.
        received: u64,
    },
    /// The socket closed before all descriptors arrived.
    Ended {
        /// Descriptors received, all closed again.
        received: u64,
        /// Descriptors announced (0 when the socket closed inside the framing message).
        expected: u64,
    },
    /// The peer sent the other layout: directories where sources were expected
    /// (`directories: true`), or sources where directories were.
    OtherLayout {
        /// Whether the peer sent directories.
        directories: bool,
    },
    /// A descriptor sent as directory `index` is not a directory.
    NotADirectory {
        /// The directory's index (its position in the array less one).
        index: u64,
        /// What it is.
        kind: FdKind,
    },
    /// A descriptor is of a kind that cannot serve its role.
    WrongKind {
        /// Its position in the array: 0 for the stream, `i + 1` for source `i`.
        position: u64,
        /// What it is.
        kind: FdKind,
    },
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PassError::BadMagic => f.write_str("the peer did not send a splitfdstream descriptor header"),
            PassError::NoStream => f.write_str("the peer announced no descriptors, not even a stream"),
            PassError::TooManySources { announced, max } => {
                write!(f, "the peer announced {announced} sources, at most {max} accepted")
            }
            PassError::BadBatch { len, remaining } => write!(
                f,
                "a batch of {len} descriptors is invalid with {remaining} still expected"
            ),
            PassError::BatchMismatch { announced, received } => write!(
                f,
                "a batch announced {announced} descriptors but {received} arrived"
            ),
            PassError::ControlTruncated { received } => write!(
                f,
                "descriptors were dropped by the kernel after {received} (MSG_CTRUNC; open-file limit reached?)"
            ),
            PassError::Ended { received, expected } => write!(
                f,
                "the socket closed after {received} of {expected} descriptors"
            ),
            PassError::OtherLayout { directories: true } => f.write_str(
                "the peer sent directories (the successor format's layout), not sources",
            ),
            PassError::OtherLayout { directories: false } => f.write_str(
                "the peer sent sources (the first format's layout), not directories",
            ),
            PassError::NotADirectory { index, kind } => {
                write!(f, "directory {index} is a {kind}, not a directory")
            }
            PassError::WrongKind { position: 0, kind } => {
                write!(f, "the stream descriptor is a {kind}, not a pipe, socket or regular file")
            }
            PassError::WrongKind { position, kind } => write!(
                f,
                "source {} is a {kind}, not a regular file or block device",
                position - 1
            ),
        }
    }
}

impl ::std::error::Error for PassError {}

impl From<PassError> for io::Error {
    fn from(error: PassError) -> io::Error {
        let kind = match error {
            PassError::ControlTruncated { .. } => io::ErrorKind::Other,
            PassError::Ended { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

/// Sends `stream` and `sources` over the connected Unix stream `socket`, as the array
/// `[stream, source 0, source 1, …]` (see [the numbering](super#descriptor-numbering)).
///
/// A 16-byte framing message (magic and the number of descriptors) comes first, then
/// batches of at most [`MAX_FDS_PER_MESSAGE`] descriptors, each carried by a 4-byte
/// message holding its count. The descriptors stay open here: the peer gets duplicates.
///
/// # Errors
///
/// The errors of `sendmsg` (`EPIPE` when the peer has gone; `SIGPIPE` is not raised).
pub fn send<St, So>(socket: impl AsFd, stream: St, sources: &[So]) -> io::Result<()>
where
    St: AsFd,
    So: AsFd,
{
    send_framed(socket.as_fd(), MAGIC, stream.as_fd(), sources)
}

/// Sends `stream` and the directories `dirs` over the connected Unix stream `socket`, as
/// the array `[stream, directory 0, directory 1, …]`: the successor format's layout, in
/// which a FileBackedData chunk's directory index `i` is `fds[i + 1]`.
///
/// The framing is [`send`]'s with another magic, so that a receiver expecting the other
/// layout refuses it ([`PassError::OtherLayout`]). The descriptors stay open here.
///
/// # Errors
///
/// The errors of `sendmsg` (`EPIPE` when the peer has gone; `SIGPIPE` is not raised).
pub fn send_dirs<St, D>(socket: impl AsFd, stream: St, dirs: &[D]) -> io::Result<()>
where
    St: AsFd,
    D: AsFd,
{
    send_framed(socket.as_fd(), DIRS_MAGIC, stream.as_fd(), dirs)
}

/// Sends the framing `magic` and `[stream, others…]`.
fn send_framed<O: AsFd>(
    socket: BorrowedFd<'_>,
    magic: [u8; 8],
    stream: BorrowedFd<'_>,
    others: &[O],
) -> io::Result<()> {
    let mut fds: Vec<BorrowedFd<'_>> = Vec::with_capacity(others.len() + 1);
    fds.push(stream);
    fds.extend(others.iter().map(AsFd::as_fd));

    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&magic);
    header[8..].copy_from_slice(&len_u64(fds.len()).to_le_bytes());
    send_bytes(socket, &header, &[])?;
    for batch in fds.chunks(MAX_FDS_PER_MESSAGE) {
        let count = u32::try_from(batch.len()).unwrap_or(0);
        send_bytes(socket, &count.to_le_bytes(), batch)?;
    }
    Ok(())
}

/// Sends `bytes`, with `fds` attached to the first of them.
fn send_bytes(socket: BorrowedFd<'_>, mut bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for one message",
        ));
    }
    while !bytes.is_empty() {
        let n = retrying(socket, PollFlags::OUT, || {
            rustix::net::sendmsg(
                socket,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            )
        })?;
        bytes = bytes.get(n..).unwrap_or_default();
        // The descriptors went with the first byte.
        control.clear();
    }
    Ok(())
}

/// A stream and its sources as received by [`receive`].
///
/// Every descriptor is close-on-exec and closes when dropped.
#[non_exhaustive]
#[derive(Debug)]
pub struct Received {
    /// The stream: a pipe, a socket or a regular file (including a memfd).
    pub stream: OwnedFd,
    /// The sources, in order: external chunk `i` is `sources[i]`.
    pub sources: Vec<FdSource<OwnedFd>>,
}

/// Receives a stream and its sources sent by [`send`], accepting at most
/// [`DEFAULT_MAX_SOURCES`] sources.
///
/// # Errors
///
/// See [`receive_at_most`].
pub fn receive(socket: impl AsFd) -> io::Result<Received> {
    receive_at_most(socket, DEFAULT_MAX_SOURCES)
}

/// Receives a stream and its sources sent by [`send`], refusing more than `max_sources`.
///
/// Descriptors arrive close-on-exec (`MSG_CMSG_CLOEXEC`). Each one's kind is checked: the
/// stream must be a pipe, socket or regular file (a memfd is one), each source a regular
/// file or block device. Reads stop exactly at the end of the framing, so the socket can
/// carry more afterwards.
///
/// # Errors
///
/// A [`PassError`] inside an [`io::Error`] when the framing is wrong, the kernel dropped
/// descriptors (`MSG_CTRUNC`, typically at the open-file limit), the socket closed early or
/// a descriptor is of the wrong kind; the errors of `recvmsg`. On any error every
/// descriptor received so far is closed.
pub fn receive_at_most(socket: impl AsFd, max_sources: usize) -> io::Result<Received> {
    let (stream, fds) = receive_framed(socket.as_fd(), MAGIC, max_sources)?;
    let mut sources = Vec::with_capacity(fds.len());
    for (at, fd) in fds.into_iter().enumerate() {
        match FdKind::of(&fd)? {
            FdKind::Regular | FdKind::Block => sources.push(FdSource::new(fd)),
            kind => {
                return Err(PassError::WrongKind {
                    position: len_u64(at) + 1,
                    kind,
                }
                .into());
            }
        }
    }
    Ok(Received { stream, sources })
}

/// A stream and its directories as received by [`receive_dirs`].
///
/// Every descriptor is close-on-exec and closes when dropped.
#[non_exhaustive]
#[derive(Debug)]
pub struct ReceivedDirs {
    /// The stream: a pipe, a socket or a regular file (including a memfd).
    pub stream: OwnedFd,
    /// The directories, in order: directory index `i` is `dirs[i]`.
    pub dirs: Vec<OwnedFd>,
}

/// Receives a stream and its directories sent by [`send_dirs`], refusing more than
/// `max_dirs` directories (composefs's transport sends at most 240 descriptors per frame;
/// this framing has no such limit).
///
/// As [`receive_at_most`]: descriptors arrive close-on-exec, the stream must be a pipe,
/// socket or regular file, and each directory descriptor must be a directory (an
/// `O_PATH` one included). The directories open names confined beneath them with
/// [`DirSources::from_fds`](crate::std::DirSources::from_fds) (Linux).
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use splitfdstream_adapters::fd::{receive_dirs, send_dirs};
///
/// let dir = tempfile::tempdir()?;
/// let stream = tempfile::tempfile()?;
/// let (sender, receiver) = UnixStream::pair()?;
/// send_dirs(&sender, &stream, &[std::fs::File::open(dir.path())?])?;
/// let received = receive_dirs(&receiver, 16)?;
/// assert_eq!(received.dirs.len(), 1);
///
/// // Sources where directories are expected: refused, everything received closed.
/// send_dirs(&sender, &stream, &[&stream])?;
/// let error = receive_dirs(&receiver, 16).unwrap_err();
/// assert!(error.to_string().contains("directory 0 is a regular file"));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// As [`receive_at_most`], with [`PassError::NotADirectory`] for a descriptor that is not
/// a directory and [`PassError::OtherLayout`] for a peer that sent sources ([`send`]). On
/// any error every descriptor received so far is closed.
pub fn receive_dirs(socket: impl AsFd, max_dirs: usize) -> io::Result<ReceivedDirs> {
    let (stream, dirs) = receive_framed(socket.as_fd(), DIRS_MAGIC, max_dirs)?;
    for (index, fd) in dirs.iter().enumerate() {
        match FdKind::of(fd)? {
            FdKind::Directory => {}
            kind => {
                let index = len_u64(index);
                return Err(PassError::NotADirectory { index, kind }.into());
            }
        }
    }
    Ok(ReceivedDirs { stream, dirs })
}

/// Receives the framing `magic` and `[stream, others…]` with at most `max_others` others;
/// checks the stream's kind.
fn receive_framed(
    socket: BorrowedFd<'_>,
    magic: [u8; 8],
    max_sources: usize,
) -> io::Result<(OwnedFd, Vec<OwnedFd>)> {
    let mut fds: Vec<OwnedFd> = Vec::new();

    let mut header = [0u8; HEADER_LEN];
    let received = receive_bytes(socket, &mut header, &mut fds, 0)?;
    if received != 0 {
        return Err(PassError::BatchMismatch {
            announced: 0,
            received,
        }
        .into());
    }
    if header[..8] != magic {
        if header[..8] == MAGIC || header[..8] == DIRS_MAGIC {
            let directories = header[..8] == DIRS_MAGIC;
            return Err(PassError::OtherLayout { directories }.into());
        }
        return Err(PassError::BadMagic.into());
    }
    let mut count_bytes = [0u8; 8];
    count_bytes.copy_from_slice(&header[8..]);
    let expected = u64::from_le_bytes(count_bytes);
    if expected == 0 {
        return Err(PassError::NoStream.into());
    }
    let max = len_u64(max_sources);
    if expected - 1 > max {
        return Err(PassError::TooManySources {
            announced: expected - 1,
            max,
        }
        .into());
    }
    // Bounded by the check above; grows further only as descriptors really arrive.
    fds.reserve(usize::try_from(expected.min(4096)).unwrap_or(0));

    while len_u64(fds.len()) < expected {
        let remaining = expected - len_u64(fds.len());
        let mut batch = [0u8; BATCH_LEN];
        let received = receive_bytes(socket, &mut batch, &mut fds, expected)?;
        let len = u32::from_le_bytes(batch);
        let len_wide = u64::from(len);
        if len == 0 || len_wide > len_u64(MAX_FDS_PER_MESSAGE) || len_wide > remaining {
            return Err(PassError::BadBatch { len, remaining }.into());
        }
        if received != len_wide {
            return Err(PassError::BatchMismatch {
                announced: len,
                received,
            }
            .into());
        }
    }

    if fds.is_empty() {
        return Err(PassError::NoStream.into());
    }
    let stream = fds.remove(0);
    match FdKind::of(&stream)? {
        FdKind::Pipe | FdKind::Socket | FdKind::Regular => {}
        kind => return Err(PassError::WrongKind { position: 0, kind }.into()),
    }
    Ok((stream, fds))
}

/// Fills `buf` from `socket`, appending any descriptors that arrive to `fds` (never more
/// than `limit` in all); returns how many arrived.
fn receive_bytes(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    limit: u64,
) -> io::Result<u64> {
    let before = fds.len();
    let mut filled = 0;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE))];
    while filled < buf.len() {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let target = buf.get_mut(filled..).unwrap_or_default();
        let message = retrying(socket, PollFlags::IN, || {
            rustix::net::recvmsg(
                socket,
                &mut [IoSliceMut::new(&mut *target)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
        })?;
        // Take ownership of whatever arrived first, so that every error below closes it.
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                fds.extend(received);
            }
        }
        if message.flags.contains(ReturnFlags::CTRUNC) {
            return Err(PassError::ControlTruncated {
                received: len_u64(fds.len()),
            }
            .into());
        }
        if len_u64(fds.len()) > limit {
            let remaining = limit.saturating_sub(len_u64(before));
            return Err(PassError::BadBatch {
                len: u32::try_from(fds.len() - before).unwrap_or(u32::MAX),
                remaining,
            }
            .into());
        }
        if message.bytes == 0 {
            return Err(PassError::Ended {
                received: len_u64(fds.len()),
                expected: limit,
            }
            .into());
        }
        filled += message.bytes.min(target.len());
    }
    Ok(len_u64(fds.len() - before))
}
