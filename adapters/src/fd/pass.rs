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

/// The framing message's magic: "splitfd" and a version byte.
const MAGIC: [u8; 8] = *b"splitfd\x01";
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
    let socket = socket.as_fd();
    let mut fds: Vec<BorrowedFd<'_>> = Vec::with_capacity(sources.len() + 1);
    fds.push(stream.as_fd());
    fds.extend(sources.iter().map(AsFd::as_fd));

    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
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
    let socket = socket.as_fd();
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
    if header[..8] != MAGIC {
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

    let mut fds = fds.into_iter();
    let stream = fds.next().ok_or(PassError::NoStream)?;
    match FdKind::of(&stream)? {
        FdKind::Pipe | FdKind::Socket | FdKind::Regular => {}
        kind => return Err(PassError::WrongKind { position: 0, kind }.into()),
    }
    let mut sources = Vec::with_capacity(fds.len());
    for (at, fd) in fds.enumerate() {
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
