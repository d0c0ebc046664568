//! cpio archives and initramfs images made by GNU cpio and the compressors: `-H newc` and
//! `-H crc` archives of a tree with hard links, symbolic links, empty files, long and
//! non-UTF-8 names, each plain and compressed with every compressor, and images
//! concatenated the way the kernel documents (an early uncompressed microcode archive,
//! then compressed ones). Each splits, joins to the decompressed image byte for byte and
//! verifies against `sha256sum` of it; `inspect` lists the segments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::path::Path;

use common::{fails, have, names, ok, round_trip_to, sh};

/// Each compressor as a shell command from stdin to stdout, with the name `inspect` gives.
const COMPRESSORS: [(&str, &str); 6] = [
    ("gzip -c", "gzip"),
    ("zstd -q -c", "zstd"),
    ("xz --check=crc32 -c", "xz"),
    ("bzip2 -c", "bzip2"),
    ("lz4 -q -c", "lz4"),
    ("lz4 -q -l -c", "lz4 (legacy)"),
];

fn have_tools(test: &str) -> bool {
    have("cpio", "GNU cpio", test)
        && have("zstd", "Zstandard", test)
        && have("xz", "xz", test)
        && have("lz4", "LZ4", test)
        && have("gzip", "gzip", test)
        && sh(Path::new("."), "command -v bzip2").status.success()
}

/// A tree under `dir/src` and its archives `newc.cpio` and `crc.cpio`, members sorted.
fn archives(dir: &Path) {
    let long = "l".repeat(200);
    sh(
        dir,
        &format!(
            "mkdir -p src/dir/{long} && cd src \
             && printf 'hello\\n' > small && printf 'hello\\n' > dir/dup-of-small \
             && : > empty && head -c 300000 /dev/urandom > big \
             && printf 'long\\n' > dir/{long}/file-with-a-long-name-{long} \
             && printf 'latin-1\\n' > \"$(printf 'caf\\351')\" \
             && printf 'linked\\n' > hard1 && ln hard1 hard2 && ln hard1 dir/hard3 \
             && ln -s small symlink && ln -s dir/nowhere dangling \
             && find . | LC_ALL=C sort | cpio -o -H newc --quiet > ../newc.cpio \
             && find . | LC_ALL=C sort | cpio -o -H crc --quiet > ../crc.cpio"
        ),
    );
}

#[test]
fn gnu_cpio_archives_round_trip_plain_and_compressed() {
    if !have_tools("gnu_cpio_archives_round_trip_plain_and_compressed") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    archives(dir);
    for format in ["newc", "crc"] {
        let archive = dir.join(format!("{format}.cpio"));
        let objects = round_trip_to(dir, &archive, &archive, format);
        // small and its duplicate, big, the long-named file, the latin-1 one, and the
        // hard links' data once: five distinct contents.
        assert_eq!(fs::read_dir(&objects).unwrap().count(), 5, "{format}");
        fs::remove_dir_all(objects).unwrap();
        for (command, name) in COMPRESSORS {
            sh(dir, &format!("{command} < {format}.cpio > compressed"));
            let objects = round_trip_to(dir, &dir.join("compressed"), &archive, "c");
            assert_eq!(fs::read_dir(&objects).unwrap().count(), 5, "{name}");
            fs::remove_dir_all(objects).unwrap();
            let inspect: serde_json::Value =
                serde_json::from_slice(&ok(dir, ["inspect", "--json", "compressed"])).unwrap();
            assert_eq!(inspect["segments"][0]["compression"], name);
            assert_eq!(inspect["archives"], 1);
        }
    }
    // GNU cpio can list what the join rebuilt.
    ok(dir, ["--quiet", "split", "crc.cpio", "-o", "again"]);
    ok(dir, ["join", "again", "-o", "joined.cpio"]);
    let listed = sh(dir, "cpio -it --quiet < joined.cpio");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("hard2"));
}

#[test]
fn initramfs_images_join_decompressed() {
    if !have_tools("initramfs_images_join_decompressed") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    archives(dir);
    // The early microcode archive, as the kernel documents it.
    sh(
        dir,
        "mkdir -p early/kernel/x86/microcode && head -c 5000 /dev/urandom \
         > early/kernel/x86/microcode/GenuineIntel.bin \
         && (cd early && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > early.cpio",
    );
    for (command, name) in COMPRESSORS {
        // Microcode, padding to 512, then the compressed main archive.
        sh(
            dir,
            &format!(
                "{{ cat early.cpio; head -c 512 /dev/zero; {command} < newc.cpio; }} > image \
                 && {{ cat early.cpio; head -c 512 /dev/zero; cat newc.cpio; }} > image.plain"
            ),
        );
        round_trip_to(dir, &dir.join("image"), &dir.join("image.plain"), "i");
        fs::remove_dir_all(dir.join("i.objects")).unwrap();
        let inspect: serde_json::Value =
            serde_json::from_slice(&ok(dir, ["inspect", "--json", "image"])).unwrap();
        let early_len = fs::metadata(dir.join("early.cpio")).unwrap().len();
        assert_eq!(
            inspect["segments"][0]["compression"],
            serde_json::Value::Null
        );
        assert_eq!(inspect["segments"][1]["compression"], name);
        assert_eq!(inspect["segments"][1]["offset"], early_len + 512);
        assert_eq!(inspect["archives"], 2);
    }
    // Several compressed members, in different formats, and a plain one between.
    sh(
        dir,
        "{ zstd -q -c < early.cpio; gzip -c < crc.cpio; cat newc.cpio; xz -c < crc.cpio; } > multi \
         && cat early.cpio crc.cpio newc.cpio crc.cpio > multi.plain",
    );
    round_trip_to(dir, &dir.join("multi"), &dir.join("multi.plain"), "m");
    let listing = String::from_utf8(ok(dir, ["inspect", "multi"])).unwrap();
    assert!(listing.contains("zstd") && listing.contains("gzip") && listing.contains("xz"));
    assert!(listing.contains("4 segments: 4 cpio archives"), "{listing}");
}

#[test]
fn bad_archives_fail_naming_the_member_and_leave_nothing() {
    if !have_tools("bad_archives_fail_naming_the_member_and_leave_nothing") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    archives(dir);
    sh(dir, "rm -r src");
    let before = names(dir);
    // A crc archive whose data changed: the member is named.
    sh(
        dir,
        "cp crc.cpio bad && offset=$(grep -abo 'latin-1' bad | head -1 | cut -d: -f1) \
         && printf 'LATIN' | dd of=bad bs=1 seek=$offset conv=notrunc 2>/dev/null",
    );
    fails(
        dir,
        ["split", "bad", "-o", "s.sfd"],
        &["caf\\xe9", "sums to", "the header says"],
    );
    // The portable format, refused as the kernel does.
    sh(dir, "echo newc.cpio | cpio -o -H odc --quiet > odc.cpio");
    fails(
        dir,
        ["split", "odc.cpio", "-o", "s.sfd"],
        &["odc", "070707"],
    );
    // A truncated image, and junk after a compressed member.
    sh(dir, "head -c 100000 newc.cpio | zstd -q -c > cut.zst");
    fails(
        dir,
        ["split", "cut.zst", "-o", "s.sfd"],
        &["runs past the end"],
    );
    sh(
        dir,
        "{ cat newc.cpio; zstd -q -c < newc.cpio; printf 'junk'; } > junk",
    );
    fails(
        dir,
        ["split", "junk", "-o", "s.sfd"],
        &["neither NUL padding, a cpio archive nor a compressed member"],
    );
    let mut after = names(dir);
    after.retain(|name| !["bad", "odc.cpio", "cut.zst", "junk"].contains(&name.as_str()));
    assert_eq!(after, before, "nothing left behind");
}
