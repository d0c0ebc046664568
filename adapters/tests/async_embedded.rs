//! The `embedded-io-async` adapters against the blocking ones: the same fragments, the same
//! streams and the same rebuilt bytes, over I/O that returns `Pending` and short reads at
//! random; cancel-safety of the reader; every error without a panic.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use common::pending::{
    cancel_safety_items, flatten, piece, poll_once, read_with_drops, Piece, Rng,
};
use common::{encode, layer, rebuild, Item, Jittery};
use embassy_futures::block_on;
use embedded_io_async_07::{ErrorKind, ErrorType, Read, Seek, SeekFrom, Write};
use proptest::prelude::*;
use splitfdstream::DecodeError;
use splitfdstream_adapters::asynch;
use splitfdstream_adapters::embedded_io::{self, ReconstructError, SliceSource, SourceTable};
use splitfdstream_adapters::StreamError;
use splitfdstream_adapters::{ReadError, SourceError, WriteError};

/// Returns `Pending` once (after asking to be polled again), then completes.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Async I/O over memory that, at random, first returns `Pending`, and then reads or
/// writes between 1 and `max` bytes (or fails with `Interrupted` when `interrupt`).
#[derive(Clone, Debug)]
struct Flaky<T> {
    inner: T,
    position: usize,
    rng: Rng,
    max: usize,
    interrupt: bool,
}

impl<T> Flaky<T> {
    fn new(inner: T, seed: u64, max: usize) -> Flaky<T> {
        Flaky {
            inner,
            position: 0,
            rng: Rng(seed | 1),
            max: max.max(1),
            interrupt: false,
        }
    }

    /// Pending at random, then the size of this operation (`None`: interrupted).
    async fn step(&mut self, len: usize) -> Option<usize> {
        if self.rng.below(2) == 0 {
            YieldOnce(false).await;
        }
        if self.interrupt && self.rng.below(5) == 0 {
            return None;
        }
        Some(len.min(1 + self.rng.below(self.max)))
    }
}

impl<T> ErrorType for Flaky<T> {
    type Error = ErrorKind;
}

impl<T: AsRef<[u8]>> Read for Flaky<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = self.step(buf.len()).await.ok_or(ErrorKind::Interrupted)?;
        let rest = self.inner.as_ref().get(self.position..).unwrap_or_default();
        let n = n.min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }
}

impl<T: AsRef<[u8]>> Seek for Flaky<T> {
    async fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        self.step(1).await;
        let len = u64::try_from(self.inner.as_ref().len()).unwrap();
        let position = match pos {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => len
                .checked_add_signed(delta)
                .ok_or(ErrorKind::InvalidInput)?,
            SeekFrom::Current(delta) => u64::try_from(self.position)
                .unwrap()
                .checked_add_signed(delta)
                .ok_or(ErrorKind::InvalidInput)?,
        };
        self.position = usize::try_from(position).unwrap();
        Ok(position)
    }
}

impl Write for Flaky<Vec<u8>> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = self.step(buf.len()).await.ok_or(ErrorKind::Interrupted)?;
        self.inner.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.step(1).await;
        Ok(())
    }
}

/// An output in memory that takes everything at once and never waits.
fn memory() -> Flaky<Vec<u8>> {
    let mut out = Flaky::new(Vec::new(), 0, usize::MAX);
    out.rng = Rng(0x2545_f491_4f6c_dd1d);
    out
}

async fn async_pieces<R: Read>(
    reader: &mut asynch::Reader<'_, R>,
) -> Result<Vec<Piece>, ReadError<R::Error>> {
    let mut pieces = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        pieces.push(piece(chunk));
    }
    Ok(pieces)
}

fn blocking_pieces<R: embedded_io_07::Read>(
    reader: &mut embedded_io::Reader<'_, R>,
) -> Result<Vec<Piece>, ReadError<R::Error>> {
    let mut pieces = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        pieces.push(piece(chunk));
    }
    Ok(pieces)
}

fn table<'a>(sources: &'a [Vec<u8>]) -> SourceTable<SliceSource<'a>, 8> {
    let mut table = SourceTable::new();
    for source in sources {
        table.push(SliceSource::new(source)).unwrap();
    }
    table
}

fn blocking_reconstruct(stream: &[u8], sources: &[Vec<u8>], buf_len: usize) -> Vec<u8> {
    let mut out = Jittery::new(Vec::new(), vec![usize::MAX]);
    let mut buf = vec![0u8; buf_len];
    embedded_io::reconstruct(stream, &mut table(sources), &mut out, &mut buf).unwrap();
    out.inner
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Fed the same read sizes, the async reader hands out exactly the fragments of the
    /// blocking one, whatever `Pending`s come in between.
    #[test]
    fn reader_yields_the_blocking_readers_fragments(
        (items, _sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..300,
        buf_len in 8usize..200,
    ) {
        let stream = encode(&items);
        let mut flaky = Flaky::new(stream.as_slice(), seed, max);
        // The same sizes the flaky reader will use, replayed by the blocking one.
        let sizes: Vec<usize> = {
            let mut rng = flaky.rng.clone();
            (0..stream.len() * 2 + 2)
                .map(|_| {
                    let _pending = rng.below(2);
                    1 + rng.below(max)
                })
                .collect()
        };
        flaky.interrupt = false;
        let mut abuf = vec![0u8; buf_len];
        let got = block_on(async_pieces(&mut asynch::Reader::new(flaky, &mut abuf))).unwrap();
        let mut bbuf = vec![0u8; buf_len];
        let mut blocking = embedded_io::Reader::new(Jittery::new(stream.as_slice(), sizes), &mut bbuf);
        prop_assert_eq!(got, blocking_pieces(&mut blocking).unwrap());
    }

    /// Reconstruction over pending, short and interrupted I/O everywhere rebuilds the
    /// blocking reconstruct's bytes and the model's.
    #[test]
    fn reconstruct_equals_the_blocking_one(
        (items, sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..300,
        buf_len in 16usize..300,
    ) {
        let stream = encode(&items);
        let expected = blocking_reconstruct(&stream, &sources, buf_len);
        prop_assert_eq!(&expected, &rebuild(&items, &sources));

        let mut input = Flaky::new(stream.as_slice(), seed, max);
        input.interrupt = true;
        let mut flaky_sources: Vec<Flaky<&[u8]>> = sources
            .iter()
            .enumerate()
            .map(|(at, s)| {
                let mut source = Flaky::new(s.as_slice(), seed ^ u64::try_from(at).unwrap(), max);
                source.interrupt = true;
                source
            })
            .collect();
        let mut out = Flaky::new(Vec::new(), seed.rotate_left(7), max);
        out.interrupt = true;
        let mut buf = vec![0u8; buf_len];
        let written = block_on(asynch::reconstruct(
            input,
            flaky_sources.as_mut_slice(),
            &mut out,
            &mut buf,
        ))
        .unwrap();
        prop_assert_eq!(written, u64::try_from(expected.len()).unwrap());
        prop_assert_eq!(out.inner, expected);
    }

    /// The async writer writes the blocking writer's bytes, over short pending writes.
    #[test]
    fn writer_writes_the_blocking_writers_stream(
        (items, _sources) in layer(),
        seed in any::<u64>(),
        max in 1usize..100,
        split in 1usize..50,
    ) {
        let mut blocking = embedded_io::Writer::new(Jittery::new(Vec::new(), vec![usize::MAX]));
        for item in &items {
            match item {
                Item::Inline(bytes) => blocking.write_inline(bytes).unwrap(),
                Item::External(index) => blocking.write_external(*index).unwrap(),
            }
        }
        let expected = blocking.finish().unwrap().inner;
        prop_assert_eq!(&expected, &encode(&items));

        let mut flaky = Flaky::new(Vec::new(), seed, max);
        flaky.interrupt = true;
        let written = block_on(async {
            let mut writer = asynch::Writer::new(flaky);
            for item in &items {
                match item {
                    Item::Inline(bytes) => {
                        // Streamed in pieces of `split` bytes.
                        writer.begin_inline(u64::try_from(bytes.len()).unwrap()).await.unwrap();
                        for piece in bytes.chunks(split) {
                            writer.write_inline_body(piece).await.unwrap();
                        }
                    }
                    Item::External(index) => writer.write_external(*index).await.unwrap(),
                }
            }
            assert_eq!(writer.position(), u64::try_from(expected.len()).unwrap());
            writer.finish().await.unwrap().inner
        });
        prop_assert_eq!(written, expected);
    }
}

#[test]
fn next_chunk_is_cancel_safe() {
    let stream = encode(&cancel_safety_items());
    let mut expected_buf = [0u8; 16];
    let expected = flatten(
        &block_on(async_pieces(&mut asynch::Reader::new(
            stream.as_slice(),
            &mut expected_buf,
        )))
        .unwrap(),
    );
    for seed in 0..50 {
        // One byte per read and `Pending` at random: a poll often completes some reads
        // (part of a prefix) before it is pending and dropped.
        let mut buf = [0u8; 16];
        let mut reader = asynch::Reader::new(Flaky::new(stream.as_slice(), seed, 1), &mut buf);
        let (got, dropped) = read_with_drops(
            &mut reader,
            |reader| poll_once(pin!(reader.next_chunk())).map(|r| r.unwrap().map(piece)),
            |reader| block_on(reader.next_chunk()).unwrap().map(piece),
        );
        assert!(dropped > 5, "seed {seed}: the reader was rarely pending");
        assert_eq!(flatten(&got), expected, "seed {seed}");
        assert_eq!(reader.position(), u64::try_from(stream.len()).unwrap());
    }
}

#[test]
fn reader_reports_truncation_and_small_buffers() {
    let stream = encode(&[Item::External(3), Item::Inline(b"abc".to_vec())]);
    let mut buf = [0u8; 16];
    let mut reader = asynch::Reader::new(Flaky::new(&stream[..18], 5, 3), &mut buf);
    let error = block_on(async_pieces(&mut reader)).unwrap_err();
    assert_eq!(
        error,
        ReadError::Decode(DecodeError::Truncated { missing: 1 })
    );

    let mut small = [0u8; 7];
    let mut reader = asynch::Reader::new(&[][..], &mut small);
    assert!(matches!(
        block_on(reader.next_chunk()),
        Err(ReadError::BufferTooSmall { len: 7 })
    ));
}

#[test]
fn reconstruct_reports_bad_sources_and_outputs() {
    let mut buf = [0u8; 64];
    // A missing source.
    let stream = encode(&[Item::External(2)]);
    let mut sources = [SliceSource::new(b"a")];
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut sources,
        memory(),
        &mut buf,
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::Missing { index: 2 }))
    );

    // A source of the wrong size.
    let stream = encode(&[Item::External(0)]);
    let mut table: SourceTable<SliceSource<'_>, 2> = SourceTable::new();
    table.push_with_len(SliceSource::new(b"four"), 5).unwrap();
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut table,
        memory(),
        &mut buf,
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::SizeMismatch {
            index: 0,
            expected: 5,
            actual: 4
        }))
    );

    // A source longer than its expected size, read one byte at a time: its own size is
    // checked first, as in the blocking reconstruct.
    let mut one_byte: SourceTable<Flaky<&[u8]>, 1> = SourceTable::new();
    one_byte
        .push_with_len(Flaky::new(&b"0123456789"[..], 7, 1), 4)
        .unwrap();
    let mut out = memory();
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut one_byte,
        &mut out,
        &mut buf,
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::SizeMismatch {
            index: 0,
            expected: 4,
            actual: 10
        }))
    );
    assert!(out.inner.is_empty());

    // A source that holds more than its end says (it grew).
    let mut grown = [Grown(SliceSource::new(b"abcdef"))];
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut grown,
        memory(),
        &mut buf,
    ));
    assert_eq!(
        error,
        Err(ReconstructError::Source(SourceError::Grew {
            index: 0,
            expected: 3
        }))
    );

    // An output that fills up, then one that accepts nothing.
    let stream = encode(&[Item::Inline(b"0123456789".to_vec())]);
    let mut small = [0u8; 4];
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut table,
        &mut small[..],
        &mut buf,
    ));
    assert!(matches!(error, Err(ReconstructError::Write(_))));

    // A truncated stream, and a buffer below 16 bytes.
    let error = block_on(asynch::reconstruct(
        &stream[..12],
        &mut table,
        memory(),
        &mut buf,
    ));
    assert!(matches!(
        error,
        Err(ReconstructError::Decode(StreamError::Splitfdstream(
            DecodeError::Truncated { .. }
        )))
    ));
    let error = block_on(asynch::reconstruct(
        &stream[..],
        &mut table,
        memory(),
        &mut buf[..15],
    ));
    assert_eq!(error, Err(ReconstructError::BufferTooSmall { len: 15 }));
}

/// A source whose end is at 3 bytes but which holds more: it grew after its end was taken.
struct Grown(SliceSource<'static>);

impl ErrorType for Grown {
    type Error = ErrorKind;
}

impl Read for Grown {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).await
    }
}

impl Seek for Grown {
    async fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        match pos {
            SeekFrom::End(0) => Ok(3),
            other => self.0.seek(other).await,
        }
    }
}

/// A writer that accepts nothing.
struct Stuck;

impl ErrorType for Stuck {
    type Error = ErrorKind;
}

impl Write for Stuck {
    async fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn writer_refuses_malformed_streams_and_stuck_writers() {
    block_on(async {
        let mut writer = asynch::Writer::new(memory());
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
        assert!(matches!(
            writer.write_external(u64::MAX).await,
            Err(WriteError::Encode(_))
        ));
        writer.write_inline(b"").await.unwrap();
        let stream = writer.finish().await.unwrap().inner;
        assert_eq!(stream, encode(&[Item::Inline(b"abc".to_vec())]));

        let mut owing = asynch::Writer::new(memory());
        owing.begin_inline(1).await.unwrap();
        assert!(matches!(owing.finish().await, Err(WriteError::Encode(_))));

        let mut stuck = asynch::Writer::new(Stuck);
        assert_eq!(stuck.write_external(0).await, Err(WriteError::WriteZero));
    });
}
