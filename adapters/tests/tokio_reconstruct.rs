//! The tokio adapters against the blocking std ones: the same fragments, streams and
//! rebuilt bytes, on a current-thread and a multi-thread runtime, over readers and writers
//! that return `Pending`, one byte or short reads at random; cancel-safety of the reader;
//! sources as files, tokio files and lazily opened paths; every error without a panic.
#![cfg(feature = "tokio-1")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use common::pending::{
    cancel_safety_items, flatten, piece, poll_once, read_with_drops, Piece, Rng,
};
use common::{encode, layer, rebuild, source_error, source_io_error, Item, Jittery, Trickle};
use proptest::prelude::*;
use splitfdstream_adapters::std::{self as blocking, ExpectedLens, PathSources};
use splitfdstream_adapters::tokio_1::{reconstruct, std_files, Reader, Writer};
use splitfdstream_adapters::{SourceError, WriteError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::{Builder, Runtime};

fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// tokio I/O over memory that, at random, returns `Pending` (after waking itself),
/// `Interrupted`, or reads and writes between 1 and `max` bytes.
struct Flaky<T> {
    inner: T,
    position: usize,
    rng: Rng,
    max: usize,
}

impl<T> Flaky<T> {
    fn new(inner: T, seed: u64, max: usize) -> Flaky<T> {
        Flaky {
            inner,
            position: 0,
            rng: Rng(seed | 1),
            max: max.max(1),
        }
    }

    fn step(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<usize>> {
        match self.rng.below(8) {
            0..=2 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            3 => Poll::Ready(Err(io::ErrorKind::Interrupted.into())),
            _ => Poll::Ready(Ok(len.min(1 + self.rng.below(self.max)))),
        }
    }
}

impl<T: AsRef<[u8]> + Unpin> AsyncRead for Flaky<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = match this.step(cx, buf.remaining()) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        };
        let rest = this.inner.as_ref().get(this.position..).unwrap_or_default();
        let n = n.min(rest.len());
        buf.put_slice(&rest[..n]);
        this.position += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Flaky<Vec<u8>> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.step(cx, buf.len()).map_ok(|n| {
            this.inner.extend_from_slice(&buf[..n]);
            n
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn blocking_rebuild<S: blocking::Sources + ?Sized>(stream: &[u8], sources: &S) -> Vec<u8> {
    let mut out = Vec::new();
    blocking::reconstruct(stream, sources, &mut out).unwrap();
    out
}

async fn tokio_pieces<R: AsyncRead + Unpin>(reader: &mut Reader<R>) -> io::Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        pieces.push(piece(chunk));
    }
    Ok(pieces)
}

fn std_pieces<R: io::Read>(reader: &mut blocking::Reader<R>) -> io::Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        pieces.push(piece(chunk));
    }
    Ok(pieces)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Pending, interrupted and short I/O on the stream and the output, on both runtimes:
    /// the bytes of the blocking reconstruct, and of the model.
    #[test]
    fn reconstruct_equals_the_blocking_one_on_both_runtimes(
        (items, sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..300,
    ) {
        let stream = encode(&items);
        let expected = blocking_rebuild(&stream, &sources);
        prop_assert_eq!(&expected, &rebuild(&items, &sources));
        let sources = Arc::new(sources);
        for runtime in [current_thread(), multi_thread()] {
            // Spawned, so the future must be Send.
            let stream = stream.clone();
            let sources = Arc::clone(&sources);
            let (written, out) = runtime.block_on(async move {
                tokio::spawn(async move {
                    let mut out = Flaky::new(Vec::new(), seed.rotate_left(9), max);
                    let written = reconstruct(Flaky::new(stream, seed, max), sources, &mut out).await;
                    (written, out.inner)
                })
                .await
                .unwrap()
            });
            prop_assert_eq!(written.unwrap(), u64::try_from(expected.len()).unwrap());
            prop_assert_eq!(&out, &expected);
        }
    }

    /// Fed the same read sizes, the tokio reader hands out exactly the blocking reader's
    /// fragments.
    #[test]
    fn reader_yields_the_blocking_readers_fragments(
        (items, _sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..300,
        capacity in 8usize..200,
    ) {
        let stream = encode(&items);
        let flaky = Flaky::new(stream.clone(), seed, max);
        // Replay the flaky reader's choices as blocking read sizes (0: interrupted).
        let mut rng = flaky.rng.clone();
        let mut sizes = Vec::new();
        // Every read but interrupted ones and the final one takes at least a byte.
        while sizes.len() < 3 * stream.len() + 30 {
            match rng.below(8) {
                0..=2 => {}
                3 => sizes.push(0),
                _ => sizes.push(1 + rng.below(max)),
            }
        }
        let got = current_thread()
            .block_on(tokio_pieces(&mut Reader::with_capacity(capacity, flaky)))
            .unwrap();
        let mut blocking = blocking::Reader::with_capacity(capacity, Jittery::new(stream.as_slice(), sizes));
        prop_assert_eq!(got, std_pieces(&mut blocking).unwrap());
    }

    /// The tokio writer writes the blocking writer's bytes, over pending short writes.
    #[test]
    fn writer_writes_the_blocking_writers_stream(
        (items, _sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..100,
    ) {
        let mut expected = blocking::Writer::new(Vec::new());
        for item in &items {
            match item {
                Item::Inline(bytes) => expected.write_inline(bytes).unwrap(),
                Item::External(index) => expected.write_external(*index).unwrap(),
            }
        }
        let expected = expected.finish().unwrap();
        let got = current_thread().block_on(async {
            let mut writer = Writer::new(Flaky::new(Vec::new(), seed, max));
            for item in &items {
                match item {
                    Item::Inline(bytes) => writer.write_inline(bytes).await.unwrap(),
                    Item::External(index) => writer.write_external(*index).await.unwrap(),
                }
            }
            writer.finish().await.unwrap().inner
        });
        prop_assert_eq!(got, expected);
    }
}

/// A layer whose sources straddle the 1 MiB batch and whose inline chunks outgrow the
/// stream buffer, with one source referenced many times.
fn big_layer() -> (Vec<Item>, Vec<Vec<u8>>) {
    let mut rng = Rng(7);
    let sources: Vec<Vec<u8>> = [0usize, 1, 4095, (1 << 20) - 3, 3 << 20, 100_000]
        .iter()
        .map(|&len| {
            (0..len)
                .map(|_| u8::try_from(rng.below(256)).unwrap())
                .collect()
        })
        .collect();
    let mut items = Vec::new();
    for round in 0..3u64 {
        for index in 0..6u64 {
            items.push(Item::Inline(vec![u8::try_from(index).unwrap(); 512]));
            items.push(Item::External((index + round) % 6));
        }
        items.push(Item::Inline(vec![0xab; 700_000]));
    }
    (items, sources)
}

#[test]
fn files_tokio_files_and_paths_rebuild_the_blocking_bytes_with_one_byte_reads() {
    let (items, sources) = big_layer();
    let stream = encode(&items);
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(at, source)| {
            let path = dir.path().join(format!("s{at}"));
            std::fs::write(&path, source).unwrap();
            path
        })
        .collect();
    let expected = blocking_rebuild(&stream, &PathSources::from_paths(&paths));
    assert_eq!(expected, rebuild(&items, &sources));

    for runtime in [current_thread(), multi_thread()] {
        runtime.block_on(async {
            // Lazily opened paths, through a cache smaller than the source count.
            let lazy = Arc::new(PathSources::from_paths(&paths).with_cache_capacity(2));
            let mut out = Vec::new();
            let written = reconstruct(stream.as_slice(), Arc::clone(&lazy), &mut out)
                .await
                .unwrap();
            assert_eq!(written, u64::try_from(expected.len()).unwrap());
            assert!(out == expected, "paths: rebuilt bytes differ");
            assert!(lazy.open_files() <= 2);

            // tokio files, a one-byte stream that is often pending, and a flaky output.
            let mut files = Vec::new();
            for path in &paths {
                files.push(tokio::fs::File::open(path).await.unwrap());
            }
            let files = Arc::new(std_files(files).await);
            let mut out = Flaky::new(Vec::new(), 3, 1 << 16);
            reconstruct(Flaky::new(stream.clone(), 5, 1), files, &mut out)
                .await
                .unwrap();
            assert!(out.inner == expected, "tokio files: rebuilt bytes differ");

            // The stream itself as a tokio file.
            let stream_path = dir.path().join("stream");
            tokio::fs::write(&stream_path, &stream).await.unwrap();
            let mut out = Vec::new();
            let stream_file = tokio::fs::File::open(&stream_path).await.unwrap();
            reconstruct(stream_file, Arc::clone(&lazy), &mut out)
                .await
                .unwrap();
            assert!(out == expected, "stream file: rebuilt bytes differ");
        });
    }
}

#[test]
fn next_chunk_is_cancel_safe() {
    let stream = encode(&cancel_safety_items());
    let expected = flatten(&std_pieces(&mut blocking::Reader::new(stream.as_slice())).unwrap());
    let runtime = current_thread();
    for seed in 0..50 {
        // One byte per read, pending at random: a poll often reads part of a prefix before
        // it is pending, and is then dropped.
        let mut reader = Reader::with_capacity(16, Flaky::new(stream.clone(), seed, 1));
        let (got, dropped) = read_with_drops(
            &mut reader,
            |reader| poll_once(pin!(reader.next_chunk())).map(|r| r.unwrap().map(piece)),
            |reader| runtime.block_on(reader.next_chunk()).unwrap().map(piece),
        );
        assert!(dropped > 5, "seed {seed}: the reader was rarely pending");
        assert_eq!(flatten(&got), expected, "seed {seed}");
        assert_eq!(reader.position(), u64::try_from(stream.len()).unwrap());
    }
}

#[test]
fn next_chunk_survives_losing_a_select() {
    // A stream that trickles in through a pipe while a timer keeps winning the race.
    let items = [
        Item::Inline(vec![1; 3000]),
        Item::External(2),
        Item::Inline(b"x".to_vec()),
    ];
    let stream = encode(&items);
    multi_thread().block_on(async {
        let (mut tx, rx) = tokio::io::duplex(7);
        let sender = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            for piece in stream.chunks(5) {
                tx.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut reader = Reader::with_capacity(8, rx);
        let mut got = Vec::new();
        let mut lost = 0;
        loop {
            tokio::select! {
                biased;
                chunk = reader.next_chunk() => match chunk.unwrap() {
                    Some(chunk) => got.push(piece(chunk)),
                    None => break,
                },
                () = tokio::task::yield_now() => lost += 1,
            }
        }
        sender.await.unwrap();
        let inline: usize = got
            .iter()
            .map(|p| match p {
                Piece::Inline(data, _, _) => data.len(),
                Piece::External(_) => 0,
            })
            .sum();
        assert_eq!(inline, 3001);
        assert!(got.contains(&Piece::External(2)));
        assert!(lost > 0, "the select never cancelled a read");
    });
}

fn error_of(
    stream: &[u8],
    sources: Arc<impl blocking::Sources + Send + Sync + 'static>,
) -> blocking::Error {
    current_thread()
        .block_on(reconstruct(stream, sources, Vec::new()))
        .unwrap_err()
}

#[test]
fn reconstruct_reports_every_error_like_the_blocking_one() {
    // A missing source.
    let stream = encode(&[Item::External(2)]);
    let error = error_of(&stream, Arc::new(vec![b"a".to_vec()]));
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert_eq!(source_error(&error), SourceError::Missing { index: 2 });

    // A source of the wrong size.
    let stream = encode(&[Item::External(0)]);
    let sources = ExpectedLens::new(vec![b"four".to_vec()], vec![Some(5)]);
    let error = error_of(&stream, Arc::new(sources));
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);

    // A source longer than its expected size, read in short reads that land on it.
    let sources = ExpectedLens::new(vec![Trickle(b"0123456789".to_vec())], vec![Some(4)]);
    let error = error_of(&stream, Arc::new(sources));
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        source_error(&error),
        SourceError::Grew {
            index: 0,
            expected: 4
        }
    );

    // A path that cannot be opened names its index and path.
    let error = error_of(
        &stream,
        Arc::new(PathSources::from_paths(["/nonexistent/x"])),
    );
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert_eq!(source_io_error(&error).index(), 0);
    assert!(error.to_string().contains("/nonexistent/x"), "{error}");

    // A truncated stream: a partial prefix, and a short inline body.
    let stream = encode(&[Item::Inline(b"abcdef".to_vec())]);
    for cut in [3, 10] {
        let error = error_of(&stream[..cut], Arc::new(Vec::<Vec<u8>>::new()));
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(error, blocking::Error::Decode(_)), "{error:?}");
    }

    // An output that accepts nothing.
    let error = current_thread()
        .block_on(reconstruct(
            &stream[..],
            Arc::new(Vec::<Vec<u8>>::new()),
            Stuck,
        ))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WriteZero);
}

/// A writer that accepts nothing.
struct Stuck;

impl AsyncWrite for Stuck {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn writer_refuses_malformed_streams_and_stuck_writers() {
    current_thread().block_on(async {
        let mut writer = Writer::new(Vec::new());
        writer.begin_inline(3).await.unwrap();
        assert!(matches!(
            writer.write_external(1).await,
            Err(WriteError::Encode(_))
        ));
        assert!(matches!(
            writer.write_inline_body(b"four").await,
            Err(WriteError::Encode(_))
        ));
        writer.write_inline_body(b"abc").await.unwrap();
        writer.write_inline(b"").await.unwrap();
        assert_eq!(writer.owed(), 0);
        let stream = writer.finish().await.unwrap();
        assert_eq!(stream, encode(&[Item::Inline(b"abc".to_vec())]));

        let mut owing = Writer::new(Vec::new());
        owing.begin_inline(1).await.unwrap();
        assert!(matches!(owing.finish().await, Err(WriteError::Encode(_))));

        let mut stuck = Writer::new(Stuck);
        assert!(matches!(
            stuck.write_external(0).await,
            Err(WriteError::WriteZero)
        ));
    });
}
