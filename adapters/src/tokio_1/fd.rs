//! Receiving a stream and its sources from a Unix socket on tokio.

use ::std::io;
use ::std::os::fd::AsFd;

use tokio::net::UnixStream;

use crate::fd::{Received, DEFAULT_MAX_SOURCES};

/// Receives a stream and its sources sent by [`fd::send`](crate::fd::send) over `socket`,
/// accepting at most [`DEFAULT_MAX_SOURCES`] sources.
///
/// ```
/// use splitfdstream_adapters::{fd, tokio_1};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
/// let stream = tempfile::tempfile()?; // an empty stream, and no sources
/// fd::send(&theirs, &stream, &[] as &[std::fs::File])?;
///
/// ours.set_nonblocking(true)?;
/// let received = tokio_1::receive(&tokio::net::UnixStream::from_std(ours)?).await?;
/// assert!(received.sources.is_empty());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// See [`receive_at_most`].
pub async fn receive(socket: &UnixStream) -> io::Result<Received> {
    receive_at_most(socket, DEFAULT_MAX_SOURCES).await
}

/// Receives a stream and its sources sent by [`fd::send`](crate::fd::send) over `socket`,
/// refusing more than `max_sources`; the async counterpart of
/// [`fd::receive_at_most`](crate::fd::receive_at_most), with the same protocol, checks and
/// errors.
///
/// The future waits on the runtime until the first message arrives, then receives the
/// whole descriptor array on the blocking pool through a duplicate of the socket, since it
/// spans several `recvmsg` calls (batches of at most 253 descriptors). Reads stop exactly
/// at the end of the framing, so the socket can carry more afterwards.
///
/// Not resumable: when the future is dropped after the first message arrived, the
/// receive still in progress on the blocking pool completes and closes what it received,
/// and the socket is left at an unknown point of the framing; close it.
///
/// External chunk `i` is `sources[i]` of the result, which, wrapped in an `Arc`, is the
/// sources of [`reconstruct`](super::reconstruct):
///
/// ```
/// use std::sync::Arc;
/// use splitfdstream_adapters::{fd, tokio_1};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("stream"), [0u8; 8])?; // External(0)
/// std::fs::write(dir.path().join("source"), b"content")?;
/// let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
/// let sender = std::thread::spawn(move || {
///     let stream = std::fs::File::open(dir.path().join("stream"))?;
///     let source = std::fs::File::open(dir.path().join("source"))?;
///     fd::send(&theirs, &stream, &[source])
/// });
///
/// ours.set_nonblocking(true)?;
/// let socket = tokio::net::UnixStream::from_std(ours)?;
/// let received = tokio_1::receive(&socket).await?;
/// sender.join().unwrap()?;
/// let stream = tokio::fs::File::from_std(std::fs::File::from(received.stream));
/// let mut out = Vec::new();
/// tokio_1::reconstruct(stream, Arc::new(received.sources), &mut out).await?;
/// assert_eq!(out, b"content");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// Those of [`fd::receive_at_most`](crate::fd::receive_at_most): a
/// [`PassError`](crate::fd::PassError) inside an [`io::Error`] for a wrong framing,
/// descriptors dropped by the kernel (`MSG_CTRUNC`, typically at the open-file limit), a
/// socket that closed early or a descriptor of the wrong kind; the errors of `recvmsg` and
/// of duplicating the socket; `Other` if the blocking-pool task could not complete.
pub async fn receive_at_most(socket: &UnixStream, max_sources: usize) -> io::Result<Received> {
    // No blocking-pool thread sits idle while the peer has not started sending.
    socket.readable().await?;
    let duplicate = socket.as_fd().try_clone_to_owned()?;
    tokio::task::spawn_blocking(move || crate::fd::receive_at_most(&duplicate, max_sources))
        .await
        .map_err(io::Error::other)?
}
