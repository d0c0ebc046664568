//! The host side of updates: deltas that find shifted content, update files written and
//! read back compressed or not, and an apply that checks everything and leaves nothing
//! behind on failure.

#![cfg(feature = "update")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::path::Path;

use splitfdstream_adapters::embedded_io::ApplyError;
use splitfdstream_adapters::std::update::{apply, delta, make, Options, Piece};

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn content_shifted_by_any_number_of_bytes_is_found() {
    let old = pseudo_random(300_000, 1);
    for inserted in [1usize, 7, 4095, 4097] {
        let mut new = old[..5000].to_vec();
        new.extend_from_slice(&pseudo_random(inserted, 2));
        new.extend_from_slice(&old[5000..]);
        let found = delta(&mut Cursor::new(&old), Cursor::new(&new), 4096).unwrap();
        // The match of block 0 extends forwards to the insertion, the next one backwards to it.
        assert_eq!(found.new_bytes.len(), inserted, "inserted {inserted}");
        assert_eq!(
            found.pieces,
            [
                Piece::Old {
                    offset: 0,
                    len: 5000
                },
                Piece::New { len: inserted },
                Piece::Old {
                    offset: 5000,
                    len: 295_000
                }
            ]
        );
    }
}

#[test]
fn small_images_and_edges() {
    // OLD smaller than a block: everything is new.
    let found = delta(&mut Cursor::new(b"abc"), Cursor::new(b"abcdef"), 4096).unwrap();
    assert_eq!(found.pieces, [Piece::New { len: 6 }]);
    // Empty NEW.
    let found = delta(&mut Cursor::new(b"abc"), Cursor::new(b""), 4096).unwrap();
    assert!(found.pieces.is_empty());
    assert_eq!(found.target_len, 0);
    assert!(delta(&mut Cursor::new(b"abc"), Cursor::new(b""), 0).is_err());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn make_then_apply_compressed_and_not() {
    let dir = tempfile::tempdir().unwrap();
    let old = pseudo_random(2_000_000, 3);
    let mut new = old.clone();
    new.splice(10..10, b"inserted near the start".iter().copied());
    new[1_500_000..1_500_100].copy_from_slice(&pseudo_random(100, 4));
    write(dir.path(), "old", &old);
    write(dir.path(), "new", &new);
    for compress in [None, Some(3)] {
        let options = Options {
            compress,
            ..Options::default()
        };
        let summary = make(
            &dir.path().join("old"),
            &dir.path().join("new"),
            &dir.path().join("update"),
            &options,
        )
        .unwrap();
        assert!(summary.new_bytes < 8192, "{summary:?}");
        assert_eq!(summary.target_len, new.len() as u64);
        let len = apply(
            &dir.path().join("update"),
            &dir.path().join("old"),
            &dir.path().join("copy"),
        )
        .unwrap();
        assert_eq!(len, new.len() as u64);
        assert_eq!(std::fs::read(dir.path().join("copy")).unwrap(), new);
        std::fs::remove_file(dir.path().join("copy")).unwrap();
    }
    // A gzip-compressed update is read too.
    let plain = make(
        &dir.path().join("old"),
        &dir.path().join("new"),
        &dir.path().join("update"),
        &Options::default(),
    )
    .unwrap();
    let bytes = std::fs::read(dir.path().join("update")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    write(dir.path(), "update.gz", &gz.finish().unwrap());
    apply(
        &dir.path().join("update.gz"),
        &dir.path().join("old"),
        &dir.path().join("copy"),
    )
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("copy")).unwrap(), new);
    assert!(plain.ranges >= 2);
}

#[test]
fn a_wrong_old_or_a_bad_update_leaves_nothing_at_new() {
    let dir = tempfile::tempdir().unwrap();
    let old = pseudo_random(500_000, 5);
    let mut new = b"head".to_vec();
    new.extend_from_slice(&old);
    write(dir.path(), "old", &old);
    write(dir.path(), "new", &new);
    make(
        &dir.path().join("old"),
        &dir.path().join("new"),
        &dir.path().join("update"),
        &Options::default(),
    )
    .unwrap();

    let mut wrong = old.clone();
    wrong[123_456] ^= 1;
    write(dir.path(), "wrong", &wrong);
    let error = apply(
        &dir.path().join("update"),
        &dir.path().join("wrong"),
        &dir.path().join("out"),
    )
    .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    let inner = error
        .get_ref()
        .unwrap()
        .downcast_ref::<ApplyError>()
        .unwrap();
    // 1 MiB ranges: the byte is in range 0.
    assert!(
        matches!(inner, ApplyError::RangeMismatch { index: 0, .. }),
        "{inner:?}"
    );
    assert!(error.to_string().contains("source range 0"));
    assert!(!dir.path().join("out").exists());

    let update = std::fs::read(dir.path().join("update")).unwrap();
    write(dir.path(), "truncated", &update[..update.len() - 1]);
    assert!(apply(
        &dir.path().join("truncated"),
        &dir.path().join("old"),
        &dir.path().join("out")
    )
    .is_err());
    let mut tampered = update.clone();
    tampered[56 + 48 + 8 + 1] ^= 0x40; // a new byte of "head"
    write(dir.path(), "tampered", &tampered);
    let error = apply(
        &dir.path().join("tampered"),
        &dir.path().join("old"),
        &dir.path().join("out"),
    )
    .unwrap_err();
    assert!(matches!(
        error.get_ref().unwrap().downcast_ref::<ApplyError>(),
        Some(ApplyError::TargetMismatch)
    ));
    assert!(!dir.path().join("out").exists());
    // No temporary file left either.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".splitfdstream-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
