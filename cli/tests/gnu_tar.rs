//! Round trips of archives written by GNU tar in every format it writes: split, join
//! (byte for byte), verify (against `sha256sum`), and the objects the split produced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{have, inspect_json, is_root, names, round_trip, sh, sha256_hex};

/// What a tree holds, for checking the split.
struct Tree {
    /// Distinct non-empty contents of regular files stored whole.
    contents: BTreeSet<Vec<u8>>,
    /// Members stored sparse (one object each, smaller than the file).
    sparse: usize,
}

#[derive(Clone, Copy)]
struct Features {
    long_names: bool,
    sparse: bool,
    fifo: bool,
    devices: bool,
}

fn filler(len: usize, mut seed: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed.to_be_bytes()[0]
        })
        .collect()
}

/// Builds a source tree under `src` with the members `features` allow.
fn build_tree(src: &Path, features: Features) -> Tree {
    fs::create_dir_all(src.join("dir/nested")).unwrap();
    let mut contents = BTreeSet::new();
    let mut file = |name: &[u8], bytes: Vec<u8>| {
        fs::write(src.join(OsStr::from_bytes(name)), &bytes).unwrap();
        if !bytes.is_empty() {
            contents.insert(bytes);
        }
    };
    file(b"small.txt", b"hello\n".to_vec());
    file(b"dup-of-small.txt", b"hello\n".to_vec());
    file(b"empty", Vec::new());
    file(b"block512", filler(512, 1));
    file(b"odd513", filler(513, 2));
    file(b"big.bin", filler(300_000, 3));
    file(b"dir/nested/file", b"nested\n".to_vec());
    file(b"caf\xe9-not-utf8", b"latin1 name\n".to_vec());
    if features.long_names {
        let long_dir = "d".repeat(120);
        fs::create_dir(src.join(&long_dir)).unwrap();
        file(
            format!("{long_dir}/{}", "f".repeat(150)).as_bytes(),
            b"long name\n".to_vec(),
        );
        std::os::unix::fs::symlink("t".repeat(150), src.join("long-target-link")).unwrap();
    }
    sh(src, "ln big.bin hardlink-to-big && ln -s small.txt symlink");
    let mut sparse = 0;
    if features.sparse {
        // Ten data regions: more than an old GNU header's four sparse entries, so
        // extension headers follow it.
        sh(
            src,
            "truncate -s 8M 0-sparse && for i in 0 1 2 3 4 5 6 7 8 9; do \
             printf DATA$i | dd of=0-sparse bs=1 seek=$((i * 700000 + 4096)) conv=notrunc 2>/dev/null; done \
             && printf TAIL | dd of=0-sparse bs=1 seek=8388600 conv=notrunc 2>/dev/null",
        );
        sparse = 1;
    }
    if features.fifo {
        sh(src, "mkfifo fifo");
    }
    if features.devices {
        sh(src, "mknod chr c 1 3 && mknod blk b 7 200");
    }
    Tree { contents, sparse }
}

/// Creates `name` from a tree with `features` using `tar_args`, round-trips it and checks
/// that every regular content became exactly one object.
fn check_format(test: &str, tar_args: &str, mut features: Features) {
    if !have("tar", "GNU tar", test) {
        return;
    }
    if features.devices && !is_root() {
        eprintln!("{test}: not root, so no device nodes (mknod needs privileges)");
        features.devices = false;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let tree = build_tree(&src, features);
    sh(
        work.path(),
        &format!("tar {tar_args} --sort=name -cf layer.tar -C src ."),
    );
    let objects = round_trip(work.path(), &work.path().join("layer.tar"), "layer.sfd");
    let stored = names(&objects);
    assert_eq!(
        stored.len(),
        tree.contents.len() + tree.sparse,
        "{test}: one object per distinct content, got {stored:?}"
    );
    for content in &tree.contents {
        assert!(
            stored.contains(&sha256_hex(content)),
            "{test}: content not stored"
        );
    }
    let total: u64 = stored
        .iter()
        .map(|n| fs::metadata(objects.join(n)).unwrap().len())
        .sum();
    assert!(
        total < 1 << 20,
        "{test}: sparse members store their data, not 8 MiB of holes"
    );
    if tree.sparse > 0 {
        // The stored bytes of the sparse member, and nothing of the headers around them.
        let sparse: Vec<Vec<u8>> = stored
            .iter()
            .map(|n| fs::read(objects.join(n)).unwrap())
            .filter(|bytes| !tree.contents.contains(bytes))
            .collect();
        assert_eq!(sparse.len(), 1, "{test}");
        let data = String::from_utf8_lossy(&sparse[0]).into_owned();
        for marker in ["DATA0", "DATA9", "TAIL"] {
            assert!(
                data.contains(marker),
                "{test}: {marker} not in the sparse object"
            );
        }
        assert!(
            !data.contains("ustar"),
            "{test}: a header went into the sparse object"
        );
    }
    let summary = inspect_json(work.path(), "layer.sfd");
    let tar_len = fs::metadata(work.path().join("layer.tar")).unwrap().len();
    // Every tar byte is either inline or in an object reference.
    assert!(summary["inline_bytes"].as_u64().unwrap() < tar_len);
    assert_eq!(
        summary["distinct_indices"].as_u64().unwrap(),
        u64::try_from(stored.len()).unwrap()
    );
}

const ALL: Features = Features {
    long_names: true,
    sparse: true,
    fifo: true,
    devices: true,
};
const SHORT: Features = Features {
    long_names: false,
    sparse: false,
    fifo: true,
    devices: true,
};

#[test]
fn gnu_format() {
    check_format("gnu_format", "--format=gnu --sparse", ALL);
}

#[test]
fn oldgnu_format() {
    check_format("oldgnu_format", "--format=oldgnu --sparse", ALL);
}

#[test]
fn pax_format() {
    check_format("pax_format", "--format=pax --sparse", ALL);
}

#[test]
fn pax_format_sparse_1_0() {
    check_format(
        "pax_format_sparse_1_0",
        "--format=pax --sparse --sparse-version=1.0",
        ALL,
    );
}

#[test]
fn ustar_format() {
    check_format("ustar_format", "--format=ustar", SHORT);
}

#[test]
fn v7_format() {
    let v7 = Features {
        long_names: false,
        sparse: false,
        fifo: false,
        devices: false,
    };
    check_format("v7_format", "--format=v7", v7);
}

#[test]
fn gnu_volume_label_and_incremental_dumpdirs() {
    // 'V' and 'D' headers; a dumpdir's data is metadata and stays inline.
    check_format(
        "gnu_volume_label_and_incremental_dumpdirs",
        "--format=gnu --sparse --label=VOLUME-1 --listed-incremental=snapshot",
        ALL,
    );
}

#[test]
fn pax_global_and_per_file_records() {
    check_format(
        "pax_global_and_per_file_records",
        "--format=pax --sparse --pax-option=globalkey=globalvalue --pax-option='comment:=per file'",
        ALL,
    );
}

#[test]
fn blocking_factor_one() {
    check_format(
        "blocking_factor_one",
        "--format=gnu --blocking-factor=1",
        SHORT,
    );
}

#[test]
fn trailing_bytes_after_the_archive_stay_inline() {
    if !have(
        "tar",
        "GNU tar",
        "trailing_bytes_after_the_archive_stay_inline",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("src")).unwrap();
    fs::write(work.path().join("src/a"), filler(5000, 9)).unwrap();
    sh(work.path(), "tar --format=gnu -cf layer.tar -C src . && printf 'trailing garbage, not a header' >> layer.tar && head -c 3000 /dev/urandom >> layer.tar");
    let objects = round_trip(work.path(), &work.path().join("layer.tar"), "layer.sfd");
    assert_eq!(names(&objects), vec![sha256_hex(&filler(5000, 9))]);
}

#[test]
fn concatenated_archives_are_both_split() {
    if !have("tar", "GNU tar", "concatenated_archives_are_both_split") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("src")).unwrap();
    fs::write(work.path().join("src/a"), b"first archive\n").unwrap();
    fs::write(work.path().join("src/b"), b"second archive\n").unwrap();
    sh(
        work.path(),
        "tar -cf one.tar -C src a && tar -cf two.tar -C src b && cat one.tar two.tar > layer.tar",
    );
    let objects = round_trip(work.path(), &work.path().join("layer.tar"), "layer.sfd");
    assert_eq!(names(&objects).len(), 2);
}

#[test]
fn empty_archive() {
    if !have("tar", "GNU tar", "empty_archive") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    sh(work.path(), "tar -cf layer.tar -T /dev/null");
    assert_eq!(
        fs::metadata(work.path().join("layer.tar")).unwrap().len(),
        10240
    );
    let objects = round_trip(work.path(), &work.path().join("layer.tar"), "layer.sfd");
    assert!(names(&objects).is_empty());
    let summary = inspect_json(work.path(), "layer.sfd");
    assert_eq!(summary["external_chunks"], 0);
    assert_eq!(summary["inline_bytes"], 10240);
    assert_eq!(fs::read(work.path().join("layer.sfd.fds")).unwrap(), b"");
}

#[test]
fn split_reads_stdin() {
    if !have("tar", "GNU tar", "split_reads_stdin") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("src")).unwrap();
    fs::write(work.path().join("src/a"), b"from a pipe\n").unwrap();
    sh(work.path(), "tar -cf layer.tar -C src .");
    sh(
        work.path(),
        &format!("{} -q split - -o piped.sfd < layer.tar", common::bin()),
    );
    let joined = common::ok(work.path(), ["join", "piped.sfd"]);
    assert!(joined == fs::read(work.path().join("layer.tar")).unwrap());
}
