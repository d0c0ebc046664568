//! Applying update files on the `no_std` side, blocking and async: the target rebuilt byte
//! for byte; every range checked before use and the target at the end; and resumption
//! from a checkpoint at every chunk boundary of a small update and at random points of a
//! large one, with garbage after the checkpoint as a power loss leaves it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::ops::ControlFlow;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use splitfdstream::update::{Checkpoint, DecodeError, Encoder, Header, SourceRange};
use splitfdstream_adapters::embedded_io::{
    apply, resume, Applied, ApplyError, SliceSlot, SliceSource,
};

/// A piece of a target: a range of the old image, or new bytes.
#[derive(Clone, Debug)]
enum Piece {
    Old { offset: usize, len: usize },
    New(Vec<u8>),
}

/// An update file for `pieces` over `old`, and the target it rebuilds.
fn make_update(old: &[u8], pieces: &[Piece]) -> (Vec<u8>, Vec<u8>) {
    let mut target = Vec::new();
    let mut ranges: Vec<SourceRange> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Old { offset, len } => {
                let bytes = &old[*offset..offset + len];
                target.extend_from_slice(bytes);
                ranges.push(SourceRange {
                    offset: *offset as u64,
                    len: *len as u64,
                    sha256: Sha256::digest(bytes).into(),
                });
            }
            Piece::New(bytes) => target.extend_from_slice(bytes),
        }
    }
    let header = Header {
        target_len: target.len() as u64,
        target_sha256: Sha256::digest(&target).into(),
        range_count: ranges.len() as u64,
    };
    let mut file = vec![0u8; 56 + 48 * ranges.len() + 8 * pieces.len() + target.len()];
    let mut encoder = Encoder::new();
    let mut len = encoder.header(&header, &mut file).unwrap();
    for range in &ranges {
        len += encoder.range(range, &mut file[len..]).unwrap();
    }
    let mut next_range = 0;
    for piece in pieces {
        match piece {
            Piece::Old { .. } => {
                len += encoder.external(next_range, &mut file[len..]).unwrap();
                next_range += 1;
            }
            Piece::New(bytes) => len += encoder.inline(bytes, &mut file[len..]).unwrap(),
        }
    }
    encoder.finish().unwrap();
    file.truncate(len);
    (file, target)
}

fn old_image(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap())
        .collect()
}

fn sample() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let old = old_image(1000);
    let pieces = [
        Piece::New(b"v2 header".to_vec()),
        Piece::Old {
            offset: 100,
            len: 300,
        },
        Piece::New(vec![0x42; 40]),
        Piece::Old { offset: 0, len: 64 },
        Piece::Old {
            offset: 900,
            len: 100,
        },
        Piece::New(b"!".to_vec()),
    ];
    let (file, target) = make_update(&old, &pieces);
    (old, file, target)
}

/// Applies to completion; returns the checkpoints seen and the slot.
fn apply_all(
    file: &[u8],
    old: &[u8],
    slot_len: usize,
    buf_len: usize,
) -> (Result<Applied, ApplyError>, Vec<Checkpoint>, Vec<u8>) {
    let mut slot = vec![0u8; slot_len];
    let mut buf = vec![0u8; buf_len];
    let mut checkpoints = Vec::new();
    let result = apply(
        SliceSource::new(file),
        SliceSource::new(old),
        SliceSlot::new(&mut slot),
        &mut buf,
        |checkpoint| {
            checkpoints.push(*checkpoint);
            ControlFlow::Continue(())
        },
    );
    (result, checkpoints, slot)
}

#[test]
fn rebuilds_the_target() {
    let (old, file, target) = sample();
    for buf_len in [16, 17, 64, 1000, 4096] {
        let (result, checkpoints, slot) = apply_all(&file, &old, target.len(), buf_len);
        assert_eq!(
            result,
            Ok(Applied::Complete {
                len: target.len() as u64
            }),
            "buffer {buf_len}"
        );
        assert_eq!(slot, target);
        // One checkpoint after each of the 6 chunks, offsets increasing.
        assert_eq!(checkpoints.len(), 6, "buffer {buf_len}");
        assert!(checkpoints
            .windows(2)
            .all(|w| w[0].target_offset < w[1].target_offset));
        assert_eq!(
            checkpoints.last().unwrap().target_offset,
            target.len() as u64
        );
    }
    let mut buf = [0u8; 15];
    let mut slot = [0u8; 8];
    assert_eq!(
        apply(
            SliceSource::new(&file),
            SliceSource::new(&old),
            SliceSlot::new(&mut slot),
            &mut buf,
            |_| ControlFlow::Continue(())
        ),
        Err(ApplyError::BufferTooSmall { len: 15 })
    );
}

/// Stops at checkpoint `stop`, scribbles over the slot after it, resumes; the target must
/// come out the same.
fn stop_and_resume(
    file: &[u8],
    old: &[u8],
    target: &[u8],
    stop: usize,
    buf_len: usize,
) -> Option<Checkpoint> {
    let mut slot = vec![0u8; target.len()];
    let mut buf = vec![0u8; buf_len];
    let mut seen = 0;
    let result = apply(
        SliceSource::new(file),
        SliceSource::new(old),
        SliceSlot::new(&mut slot),
        &mut buf,
        |_| {
            seen += 1;
            if seen == stop {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    let checkpoint = match result.unwrap() {
        Applied::Stopped(checkpoint) => checkpoint,
        Applied::Complete { .. } => return None,
    };
    // The checkpoint is persisted as bytes and read back.
    let checkpoint = Checkpoint::from_bytes(&checkpoint.to_bytes()).unwrap();
    let written = usize::try_from(checkpoint.target_offset).unwrap();
    assert_eq!(slot[..written], target[..written]);
    for byte in &mut slot[written..] {
        *byte = 0xee;
    }
    let result = resume(
        SliceSource::new(file),
        SliceSource::new(old),
        SliceSlot::new(&mut slot),
        &mut buf,
        &checkpoint,
        |next| {
            assert!(next.stream_offset > checkpoint.stream_offset);
            ControlFlow::Continue(())
        },
    );
    assert_eq!(
        result,
        Ok(Applied::Complete {
            len: target.len() as u64
        })
    );
    assert_eq!(slot, target, "after resuming at {checkpoint:?}");
    Some(checkpoint)
}

#[test]
fn resumes_from_every_chunk_boundary() {
    let (old, file, target) = sample();
    for buf_len in [16, 100, 4096] {
        let resumed: Vec<_> = (1..)
            .map_while(|stop| stop_and_resume(&file, &old, &target, stop, buf_len))
            .collect();
        assert_eq!(resumed.len(), 6, "buffer {buf_len}");
    }
}

#[test]
fn a_wrong_old_image_names_the_first_range_that_differs() {
    let (mut old, file, target) = sample();
    // Inside range 1 (old offset 0..64), and range 0 (100..400) intact.
    old[10] ^= 1;
    let (result, _, slot) = apply_all(&file, &old, target.len(), 256);
    assert_eq!(
        result,
        Err(ApplyError::RangeMismatch {
            index: 1,
            offset: 0,
            len: 64
        })
    );
    // Nothing of range 1 was written: the slot ends with what came before it.
    let before = 9 + 300 + 40;
    assert_eq!(slot[..before], target[..before]);
    assert!(slot[before..].iter().all(|&byte| byte == 0));
    let message = result.unwrap_err().to_string();
    assert!(message.contains("source range 1"), "{message}");

    // An old image that ends inside range 2 (900..1000).
    let (_, file, target) = sample();
    let short = old_image(950);
    let (result, _, _) = apply_all(&file, &short, target.len(), 256);
    assert_eq!(
        result,
        Err(ApplyError::OldTooShort {
            index: 2,
            offset: 900,
            len: 100
        })
    );
}

#[test]
fn truncated_or_tampered_updates_are_errors() {
    let (old, file, target) = sample();
    for cut in 0..file.len() {
        let (result, _, _) = apply_all(&file[..cut], &old, target.len(), 64);
        assert!(result.is_err(), "cut at {cut} applied");
    }
    // A new byte changed: the target's hash catches it.
    let mut tampered = file.clone();
    let at = tampered.len() - 1;
    tampered[at] ^= 0x20;
    assert_eq!(
        apply_all(&tampered, &old, target.len(), 64).0,
        Err(ApplyError::TargetMismatch)
    );
    // A range's hash changed: caught before the range is used.
    let mut tampered = file.clone();
    tampered[56 + 20] ^= 1;
    assert_eq!(
        apply_all(&tampered, &old, target.len(), 64).0,
        Err(ApplyError::RangeMismatch {
            index: 0,
            offset: 100,
            len: 300
        })
    );
    // A chunk that names a range past the table.
    let (file, _) = make_update(&old, &[Piece::New(b"x".to_vec())]);
    let mut bad = file.clone();
    bad.extend_from_slice(&0u64.to_le_bytes());
    assert!(matches!(
        apply_all(&bad, &old, 8, 64).0,
        Err(ApplyError::Decode(DecodeError::UnknownRange {
            index: 0,
            range_count: 0,
            offset: 65
        }))
    ));
    // A target longer than declared is refused before it overflows the slot.
    let mut header = Header::from_bytes(file[..56].try_into().unwrap()).unwrap();
    header.target_len = 0;
    let mut longer = header.to_bytes().to_vec();
    longer.extend_from_slice(&file[56..]);
    assert_eq!(
        apply_all(&longer, &old, 8, 64).0,
        Err(ApplyError::TargetLength {
            expected: 0,
            actual: 1
        })
    );
}

#[test]
fn a_foreign_checkpoint_is_refused() {
    let (old, file, target) = sample();
    let mut slot = vec![0u8; target.len()];
    let mut buf = [0u8; 64];
    let foreign = Checkpoint {
        stream_offset: 300,
        target_offset: 9,
        target_sha256: [1; 32],
    };
    let result = resume(
        SliceSource::new(&file),
        SliceSource::new(&old),
        SliceSlot::new(&mut slot),
        &mut buf,
        &foreign,
        |_| ControlFlow::Continue(()),
    );
    assert_eq!(result, Err(ApplyError::ForeignCheckpoint));
}

#[cfg(feature = "async")]
#[test]
fn async_apply_gives_the_same_bytes_and_resumes() {
    let (old, file, target) = sample();
    let mut slot = vec![0u8; target.len()];
    let mut buf = [0u8; 48];
    let stopped = embassy_futures::block_on(splitfdstream_adapters::asynch::apply(
        SliceSource::new(&file),
        SliceSource::new(&old),
        SliceSlot::new(&mut slot),
        &mut buf,
        |checkpoint| {
            if checkpoint.target_offset > 300 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    ));
    let Ok(Applied::Stopped(checkpoint)) = stopped else {
        panic!("{stopped:?}")
    };
    let done = embassy_futures::block_on(splitfdstream_adapters::asynch::resume(
        SliceSource::new(&file),
        SliceSource::new(&old),
        SliceSlot::new(&mut slot),
        &mut buf,
        &checkpoint,
        |_| ControlFlow::Continue(()),
    ));
    assert_eq!(
        done,
        Ok(Applied::Complete {
            len: target.len() as u64
        })
    );
    assert_eq!(slot, target);
}

fn pieces(old_len: usize) -> impl Strategy<Value = Vec<Piece>> {
    let piece = prop_oneof![
        (0..old_len, 1..4000usize).prop_map(move |(offset, len)| Piece::Old {
            offset,
            len: len.min(old_len - offset)
        }),
        proptest::collection::vec(any::<u8>(), 1..3000).prop_map(Piece::New),
    ];
    proptest::collection::vec(piece, 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn resumes_at_random_points_of_a_large_update(
        pieces in pieces(200_000),
        stops in proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
        buf_len in 16..5000usize,
    ) {
        let old = old_image(200_000);
        let (file, target) = make_update(&old, &pieces);
        let (result, checkpoints, slot) = apply_all(&file, &old, target.len(), buf_len);
        prop_assert_eq!(result, Ok(Applied::Complete { len: target.len() as u64 }));
        prop_assert_eq!(&slot, &target);
        for stop in stops {
            let stop = stop.index(checkpoints.len()) + 1;
            prop_assert!(stop_and_resume(&file, &old, &target, stop, buf_len).is_some());
        }
    }
}
