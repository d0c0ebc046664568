//! Receiving a stream and its sources from a Unix socket on tokio, then rebuilding from
//! them: the bytes of the blocking reconstruct, on both runtimes, with more descriptors than
//! one message carries; bad peers fail cleanly.
#![cfg(all(feature = "tokio-1", feature = "fd", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;

use common::{encode, Item};
use splitfdstream_adapters::fd::{self, PassError};
use splitfdstream_adapters::tokio_1;
use tokio::runtime::{Builder, Runtime};

fn runtimes() -> [Runtime; 2] {
    [
        Builder::new_current_thread().enable_all().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    ]
}

/// Our end of a socket pair, for tokio; must be called inside a runtime.
fn tokio_end(ours: StdUnixStream) -> tokio::net::UnixStream {
    ours.set_nonblocking(true).unwrap();
    tokio::net::UnixStream::from_std(ours).unwrap()
}

#[test]
fn received_descriptors_rebuild_the_blocking_bytes() {
    const SOURCES: usize = 600; // three batches of at most 253
    let dir = tempfile::tempdir().unwrap();
    let mut items = Vec::new();
    let mut paths = Vec::new();
    for i in 0..SOURCES {
        let path = dir.path().join(format!("s{i}"));
        std::fs::write(&path, format!("source {i}\n").repeat(1 + i % 5)).unwrap();
        paths.push(path);
        items.push(Item::Inline(format!("<{i}>").into_bytes()));
        items.push(Item::External(u64::try_from(SOURCES - 1 - i).unwrap()));
    }
    items.push(Item::External(0));
    let stream_path = dir.path().join("stream");
    File::create(&stream_path)
        .unwrap()
        .write_all(&encode(&items))
        .unwrap();
    let mut expected = Vec::new();
    let sources = splitfdstream_adapters::std::PathSources::from_paths(&paths);
    splitfdstream_adapters::std::reconstruct(
        File::open(&stream_path).unwrap(),
        &sources,
        &mut expected,
    )
    .unwrap();

    for runtime in runtimes() {
        let (ours, theirs) = StdUnixStream::pair().unwrap();
        let (stream_path, paths) = (stream_path.clone(), paths.clone());
        let sender = std::thread::spawn(move || {
            let stream = File::open(stream_path)?;
            let sources: Vec<File> = paths.iter().map(File::open).collect::<io::Result<_>>()?;
            fd::send(&theirs, &stream, &sources)?;
            // The socket carries more after the framing.
            (&theirs).write_all(b"after")
        });
        let out = runtime.block_on(async {
            let mut socket = tokio_end(ours);
            let received = tokio_1::receive(&socket).await.unwrap();
            assert_eq!(received.sources.len(), SOURCES);
            let stream = tokio::fs::File::from_std(File::from(received.stream));
            let mut out = Vec::new();
            tokio_1::reconstruct(stream, Arc::new(received.sources), &mut out)
                .await
                .unwrap();
            let mut after = [0u8; 5];
            tokio::io::AsyncReadExt::read_exact(&mut socket, &mut after)
                .await
                .unwrap();
            assert_eq!(&after, b"after");
            out
        });
        sender.join().unwrap().unwrap();
        assert!(out == expected, "rebuilt bytes differ");
    }
}

fn pass_error(error: &io::Error) -> PassError {
    *error
        .get_ref()
        .unwrap()
        .downcast_ref::<PassError>()
        .unwrap()
}

#[test]
fn bad_peers_fail_without_hanging() {
    for runtime in runtimes() {
        runtime.block_on(async {
            // Not this protocol.
            let (ours, theirs) = StdUnixStream::pair().unwrap();
            (&theirs).write_all(b"GET / HTTP/1.1\r\n").unwrap();
            let error = tokio_1::receive(&tokio_end(ours)).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert_eq!(pass_error(&error), PassError::BadMagic);

            // The peer announces descriptors, then goes away.
            let (ours, theirs) = StdUnixStream::pair().unwrap();
            let mut header = *b"splitfd\x01\0\0\0\0\0\0\0\0";
            header[8] = 3;
            (&theirs).write_all(&header).unwrap();
            drop(theirs);
            let error = tokio_1::receive(&tokio_end(ours)).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

            // More sources than the receiver accepts.
            let (ours, theirs) = StdUnixStream::pair().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = File::create(dir.path().join("f")).unwrap();
            fd::send(&theirs, &file, &[&file, &file]).unwrap();
            let error = tokio_1::receive_at_most(&tokio_end(ours), 1)
                .await
                .unwrap_err();
            assert_eq!(
                pass_error(&error),
                PassError::TooManySources {
                    announced: 2,
                    max: 1
                }
            );
        });
    }
}
