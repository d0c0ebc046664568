//! The `futures-io` adapters on real executors (`futures::executor`, smol): streams,
//! sources and outputs that return `Pending` and move one byte at a time rebuild the
//! model's bytes; the reader is cancel-safe; bad input gives typed errors, never a panic.
#![cfg(feature = "futures-03")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{self, SeekFrom};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use common::pending::{
    cancel_safety_items, flatten, piece, poll_once, read_with_drops, Piece, Rng,
};
use common::{encode, layer, rebuild, Item};
use embedded_io_07::ErrorKind;
use futures::executor::block_on;
use futures_io_03::{AsyncRead, AsyncSeek, AsyncWrite};
use proptest::prelude::*;
use splitfdstream::DecodeError;
use splitfdstream_adapters::embedded_io::{ReconstructError, SourceTable};
use splitfdstream_adapters::futures_03::{reconstruct, FromFutures, Reader, Writer};
use splitfdstream_adapters::StreamError;
use splitfdstream_adapters::{asynch, ReadError, SourceError, WriteError};

/// `futures-io` I/O over memory that, at random, first returns `Pending` (after asking to
/// be woken), and then moves between 1 and `max` bytes, or fails with `Interrupted` when
/// `interrupt` is set.
#[derive(Debug)]
struct Slow<T> {
    inner: T,
    position: usize,
    rng: Rng,
    max: usize,
    interrupt: bool,
    /// Set after a `Pending`: the next poll proceeds.
    woken: bool,
}

impl<T> Slow<T> {
    fn new(inner: T, seed: u64, max: usize) -> Slow<T> {
        Slow {
            inner,
            position: 0,
            rng: Rng(seed | 1),
            max: max.max(1),
            interrupt: false,
            woken: false,
        }
    }

    /// One byte per call, `Pending` before about every other one.
    fn one_byte(inner: T, seed: u64) -> Slow<T> {
        Slow::new(inner, seed, 1)
    }

    /// `Pending` at random, else the size of this operation (`Err`: interrupted).
    fn step(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<usize>> {
        if !std::mem::take(&mut self.woken) && self.rng.below(2) == 0 {
            self.woken = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.interrupt && self.rng.below(5) == 0 {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        Poll::Ready(Ok(len.min(1 + self.rng.below(self.max))))
    }
}

impl<T: AsRef<[u8]> + Unpin> AsyncRead for Slow<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = match this.step(cx, buf.len()) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        let rest = this.inner.as_ref().get(this.position..).unwrap_or_default();
        let n = n.min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        this.position += n;
        Poll::Ready(Ok(n))
    }
}

impl<T: AsRef<[u8]> + Unpin> AsyncSeek for Slow<T> {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if this.step(cx, 1).is_pending() {
            return Poll::Pending;
        }
        let len = u64::try_from(this.inner.as_ref().len()).unwrap();
        let position = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => len.checked_add_signed(delta),
            SeekFrom::Current(delta) => u64::try_from(this.position)
                .unwrap()
                .checked_add_signed(delta),
        };
        let Some(position) = position else {
            return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
        };
        this.position = usize::try_from(position).unwrap();
        Poll::Ready(Ok(position))
    }
}

impl AsyncWrite for Slow<Vec<u8>> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = match this.step(cx, buf.len()) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        this.inner.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().step(cx, 0).map(|_| Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// An output that accepts nothing.
struct Full;

impl AsyncWrite for Full {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A reader that fails with `kind` after `good` bytes of `bytes`.
struct Broken {
    bytes: Vec<u8>,
    good: usize,
    kind: io::ErrorKind,
}

impl AsyncRead for Broken {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.good == 0 {
            return Poll::Ready(Err(this.kind.into()));
        }
        let n = buf.len().min(this.good).min(this.bytes.len());
        buf[..n].copy_from_slice(&this.bytes[..n]);
        this.bytes.drain(..n);
        this.good -= n;
        Poll::Ready(Ok(n))
    }
}

async fn pieces<R: AsyncRead + Unpin>(
    reader: &mut Reader<'_, R>,
) -> Result<Vec<Piece>, ReadError<io::Error>> {
    let mut pieces = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        pieces.push(piece(chunk));
    }
    Ok(pieces)
}

/// Sources that are slow and one byte per read, wrapped for the drivers.
fn slow_sources(sources: &[Vec<u8>], seed: u64, max: usize) -> Vec<FromFutures<Slow<&[u8]>>> {
    sources
        .iter()
        .enumerate()
        .map(|(at, bytes)| {
            let mut source = Slow::new(bytes.as_slice(), seed ^ u64::try_from(at).unwrap(), max);
            source.interrupt = true;
            FromFutures::new(source)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Over pending, short and interrupted I/O of the stream, every source and the output,
    /// reconstruction rebuilds the model's bytes.
    #[test]
    fn reconstruct_rebuilds_the_model(
        (items, sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..40,
        buf_len in 16usize..300,
    ) {
        let stream = encode(&items);
        let mut input = Slow::new(stream.as_slice(), seed, max);
        input.interrupt = true;
        let mut slow = slow_sources(&sources, seed, max);
        let mut out = Slow::new(Vec::new(), seed.rotate_left(7), max);
        out.interrupt = true;
        let mut buf = vec![0u8; buf_len];
        let written =
            block_on(reconstruct(input, slow.as_mut_slice(), &mut out, &mut buf)).unwrap();
        let expected = rebuild(&items, &sources);
        prop_assert_eq!(written, u64::try_from(expected.len()).unwrap());
        prop_assert_eq!(out.inner, expected);
    }

    /// The reader hands out the fragments of the direct `asynch` reader given the same
    /// reads, one byte at a time with `Pending`s between.
    #[test]
    fn reader_yields_the_direct_readers_fragments(
        (items, _sources) in layer(),
        seed in any::<u64>(),
        buf_len in 8usize..200,
    ) {
        let stream = encode(&items);
        let mut buf = vec![0u8; buf_len];
        let mut reader = Reader::new(FromFutures::new(Slow::one_byte(stream.as_slice(), seed)), &mut buf);
        let got = block_on(pieces(&mut reader)).unwrap();
        prop_assert_eq!(reader.position(), u64::try_from(stream.len()).unwrap());

        // One byte per read directly: the same fragments.
        let mut direct_buf = vec![0u8; buf_len];
        let mut direct = asynch::Reader::new(OneByte(stream.as_slice()), &mut direct_buf);
        let mut expected = Vec::new();
        while let Some(chunk) = block_on(direct.next_chunk()).unwrap() {
            expected.push(piece(chunk));
        }
        prop_assert_eq!(got, expected);
    }

    /// The writer writes the model's stream over one-byte pending writes.
    #[test]
    fn writer_writes_the_model((items, _sources) in layer(), seed in any::<u64>()) {
        let written = block_on(async {
            let mut writer = Writer::new(FromFutures::new(Slow::one_byte(Vec::new(), seed)));
            for item in &items {
                match item {
                    Item::Inline(bytes) => writer.write_inline(bytes).await.unwrap(),
                    Item::External(index) => writer.write_external(*index).await.unwrap(),
                }
            }
            writer.finish().await.unwrap().into_inner().inner
        });
        prop_assert_eq!(written, encode(&items));
    }
}

/// An `embedded-io-async` reader of one byte per read, for the direct driver.
struct OneByte<'a>(&'a [u8]);

impl embedded_io_async_07::ErrorType for OneByte<'_> {
    type Error = ErrorKind;
}

impl embedded_io_async_07::Read for OneByte<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.0.len()).min(1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn next_chunk_is_cancel_safe() {
    let stream = encode(&cancel_safety_items());
    let mut expected_buf = [0u8; 16];
    let expected = flatten(
        &block_on(pieces(&mut Reader::new(
            FromFutures::new(stream.as_slice()),
            &mut expected_buf,
        )))
        .unwrap(),
    );
    for seed in 0..50 {
        // One byte per read and `Pending` at random: futures are often dropped after
        // reading part of a prefix.
        let mut buf = [0u8; 16];
        let mut reader = Reader::new(
            FromFutures::new(Slow::one_byte(stream.as_slice(), seed)),
            &mut buf,
        );
        let (got, dropped) = read_with_drops(
            &mut reader,
            |reader| poll_once(pin!(reader.next_chunk())).map(|r| r.unwrap().map(piece)),
            |reader| block_on(reader.next_chunk()).unwrap().map(piece),
        );
        assert!(dropped > 5, "seed {seed}: the reader was rarely pending");
        assert_eq!(flatten(&got), expected, "seed {seed}");
    }
}

#[test]
fn truncated_streams_are_decode_errors() {
    let stream = encode(&[Item::External(3), Item::Inline(b"abc".to_vec())]);
    let mut buf = [0u8; 16];
    let mut reader = Reader::new(FromFutures::new(Slow::one_byte(&stream[..18], 3)), &mut buf);
    let error = block_on(pieces(&mut reader)).unwrap_err();
    assert!(matches!(
        error,
        ReadError::Decode(DecodeError::Truncated { missing: 1 })
    ));

    // Source 0, then half a prefix.
    let stream = encode(&[Item::External(0), Item::Inline(b"abc".to_vec())]);
    let mut out = Slow::one_byte(Vec::new(), 5);
    let error = block_on(reconstruct(
        Slow::one_byte(&stream[..12], 4),
        &mut [FromFutures::new(Slow::one_byte(&b"src"[..], 1))][..],
        &mut out,
        &mut [0u8; 64],
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Decode(StreamError::Splitfdstream(
            DecodeError::Truncated { missing: 4 }
        )))
    );
    // The whole external source came before the cut prefix.
    assert_eq!(out.inner, b"src");
}

#[test]
fn missing_and_wrongly_sized_sources_are_source_errors() {
    let stream = encode(&[Item::Inline(b"x".to_vec()), Item::External(1)]);
    let error = block_on(reconstruct(
        Slow::one_byte(stream.as_slice(), 1),
        &mut [FromFutures::new(Slow::one_byte(&b"zero"[..], 2))][..],
        Slow::one_byte(Vec::new(), 3),
        &mut [0u8; 64],
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::Missing { index: 1 }))
    );

    // Source 1 holds 3 bytes where 4 are expected; nothing of it is written.
    let mut table: SourceTable<FromFutures<Slow<&[u8]>>, 2> = SourceTable::new();
    for (bytes, len) in [(&b"zero"[..], 4), (&b"one"[..], 4)] {
        table
            .push_with_len(FromFutures::new(Slow::one_byte(bytes, len)), len)
            .map_err(|full| full.capacity)
            .unwrap();
    }
    let mut out = Slow::one_byte(Vec::new(), 4);
    let error = block_on(reconstruct(
        Slow::one_byte(stream.as_slice(), 1),
        &mut table,
        &mut out,
        &mut [0u8; 64],
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::SizeMismatch {
            index: 1,
            expected: 4,
            actual: 3
        }))
    );
    assert_eq!(out.inner, b"x");
}

#[test]
fn io_errors_keep_their_kind() {
    let stream = encode(&[Item::Inline(b"abc".to_vec())]);
    let mut buf = [0u8; 64];

    let error = block_on(reconstruct(
        Broken {
            bytes: stream.clone(),
            good: 9,
            kind: io::ErrorKind::ConnectionReset,
        },
        &mut [] as &mut [FromFutures<Slow<&[u8]>>],
        Slow::one_byte(Vec::new(), 1),
        &mut buf,
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Stream(ErrorKind::ConnectionReset))
    );

    let error = block_on(reconstruct(
        stream.as_slice(),
        &mut [] as &mut [FromFutures<Slow<&[u8]>>],
        Full,
        &mut buf,
    ));
    assert_eq!(error, Err(ReconstructError::Write(ErrorKind::WriteZero)));

    let mut small = [0u8; 15];
    let error = block_on(reconstruct(
        stream.as_slice(),
        &mut [] as &mut [FromFutures<Slow<&[u8]>>],
        Full,
        &mut small,
    ));
    assert_eq!(error, Err(ReconstructError::BufferTooSmall { len: 15 }));

    // The reader and the writer hand the `io::Error` itself back.
    let mut reader_buf = [0u8; 16];
    let mut reader = Reader::new(
        FromFutures::new(Broken {
            bytes: stream.clone(),
            good: 0,
            kind: io::ErrorKind::TimedOut,
        }),
        &mut reader_buf,
    );
    match block_on(reader.next_chunk()) {
        Err(ReadError::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::TimedOut),
        other => panic!("expected a timed-out read, got {other:?}"),
    }
    let mut writer = Writer::new(FromFutures::new(Full));
    match block_on(writer.write_external(1)) {
        Err(WriteError::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::WriteZero),
        other => panic!("expected a write of nothing, got {other:?}"),
    }
}

/// On smol, with its files: a stream, sources and an output on disk, read and written
/// on smol's blocking pool.
#[test]
fn smol_files_rebuild_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let sources: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 3000 * usize::from(i)]).collect();
    let items = vec![
        Item::Inline(b"header".to_vec()),
        Item::External(3),
        Item::External(0),
        Item::Inline(vec![9; 70_000]),
        Item::External(4),
        Item::External(3),
        Item::External(1),
    ];
    let expected = rebuild(&items, &sources);
    smol::block_on(async {
        smol::fs::write(dir.path().join("stream"), encode(&items))
            .await
            .unwrap();
        let mut files = Vec::new();
        for (at, bytes) in sources.iter().enumerate() {
            let path = dir.path().join(format!("s{at}"));
            smol::fs::write(&path, bytes).await.unwrap();
            files.push(FromFutures::new(smol::fs::File::open(&path).await.unwrap()));
        }
        let stream = smol::fs::File::open(dir.path().join("stream"))
            .await
            .unwrap();
        let mut out = smol::fs::File::create(dir.path().join("out"))
            .await
            .unwrap();
        let mut buf = vec![0u8; 8192];
        let written = reconstruct(stream, files.as_mut_slice(), &mut out, &mut buf)
            .await
            .unwrap();
        assert_eq!(written, u64::try_from(expected.len()).unwrap());
    });
    assert!(std::fs::read(dir.path().join("out")).unwrap() == expected);
}
