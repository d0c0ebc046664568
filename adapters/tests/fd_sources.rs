//! Sources that are not whole files: block devices sized with `BLKGETSIZE64` and regions
//! of a disk image (`FileRange`), through every copy path.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use splitfdstream_adapters::fd::{
    source_size, Copied, FdKind, FdSource, FileRange, Methods, Reconstruct,
};
use splitfdstream_adapters::std::{ReadAt, Writer};

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + usize::from(seed) * 7) % 251).unwrap())
        .collect()
}

const IMAGE_LEN: u64 = 8 << 20;
/// Partition 1 starts at sector 2048 (1 MiB), 3 MiB long; partition 2 follows.
const PART1: (u64, u64) = (1 << 20, 3 << 20);
const PART2: (u64, u64) = (4 << 20, 2 << 20);

/// A disk image with distinct content in each partition and a "partition table".
fn disk_image(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut image = File::create(path).unwrap();
    image.set_len(IMAGE_LEN).unwrap();
    image.write_all(b"TABLE").unwrap();
    let one = pattern(1, usize::try_from(PART1.1).unwrap());
    let two = pattern(2, usize::try_from(PART2.1).unwrap());
    image.seek(SeekFrom::Start(PART1.0)).unwrap();
    image.write_all(&one).unwrap();
    image.seek(SeekFrom::Start(PART2.0)).unwrap();
    image.write_all(&two).unwrap();
    image.sync_all().unwrap();
    (one, two)
}

/// Inline, partition 2, inline, partition 1, partition 2 again.
fn stream() -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    writer.write_inline(b"<p2>").unwrap();
    writer.write_external(1).unwrap();
    writer.write_inline(b"<p1>").unwrap();
    writer.write_external(0).unwrap();
    writer.write_external(1).unwrap();
    writer.finish().unwrap()
}

fn expected(one: &[u8], two: &[u8]) -> Vec<u8> {
    [b"<p2>".as_slice(), two, b"<p1>", one, two].concat()
}

/// Rebuilds into a regular file, a pipe and a socket, with and without kernel copies;
/// returns what each run moved.
fn rebuild_everywhere<S: splitfdstream_adapters::std::Sources>(
    sources: &S,
    want: &[u8],
) -> Vec<Copied> {
    let stream = stream();
    let mut all = Vec::new();
    for methods in [Methods::ALL, Methods::NONE] {
        let run = Reconstruct::new()
            .methods(methods)
            .copy_file_range_anywhere(true);
        let mut out = tempfile::tempfile().unwrap();
        all.push(run.run(stream.as_slice(), sources, &out).unwrap());
        out.rewind().unwrap();
        let mut got = Vec::new();
        out.read_to_end(&mut got).unwrap();
        assert!(got == want, "file output differs ({methods:?})");

        let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let drainer = thread::spawn(move || {
            let mut got = Vec::new();
            File::from(reader).read_to_end(&mut got).unwrap();
            got
        });
        all.push(run.run(stream.as_slice(), sources, &writer).unwrap());
        drop(writer);
        assert!(
            drainer.join().unwrap() == want,
            "pipe output differs ({methods:?})"
        );

        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let drainer = thread::spawn(move || {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).unwrap();
            got
        });
        all.push(run.run(stream.as_slice(), sources, &ours).unwrap());
        drop(ours);
        assert!(
            drainer.join().unwrap() == want,
            "socket output differs ({methods:?})"
        );
    }
    all
}

#[test]
fn sizes_by_kind() {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"12345").unwrap();
    assert_eq!(source_size(&file).unwrap(), Some(5));
    assert_eq!(FdKind::of(&file).unwrap(), FdKind::Regular);

    let null = File::open("/dev/null").unwrap();
    assert_eq!(source_size(&null).unwrap(), None);
    assert_eq!(FdKind::of(&null).unwrap(), FdKind::Character);

    let (reader, _writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    assert_eq!(source_size(&reader).unwrap(), None);
    assert_eq!(FdKind::of(&reader).unwrap(), FdKind::Pipe);

    let (socket, _) = UnixStream::pair().unwrap();
    assert_eq!(FdKind::of(&socket).unwrap(), FdKind::Socket);
    let dir = File::open(".").unwrap();
    assert_eq!(FdKind::of(&dir).unwrap(), FdKind::Directory);

    let memfd = rustix::fs::memfd_create("source", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::io::write(&memfd, b"in memory").unwrap();
    assert_eq!(source_size(&memfd).unwrap(), Some(9));
    assert_eq!(FdSource::new(memfd).size().unwrap(), Some(9));
}

#[test]
fn file_range_reads_stay_inside_the_region() {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    let range = FileRange::new(&file, 3, 4).unwrap();
    assert_eq!(
        (range.offset(), range.len(), range.is_empty()),
        (3, 4, false)
    );
    let mut buf = [0u8; 10];
    assert_eq!(range.read_at(&mut buf, 0).unwrap(), 4);
    assert_eq!(&buf[..4], b"3456");
    assert_eq!(range.read_at(&mut buf, 2).unwrap(), 2);
    assert_eq!(&buf[..2], b"56");
    assert_eq!(range.read_at(&mut buf, 4).unwrap(), 0);
    assert_eq!(range.read_at(&mut buf, u64::MAX).unwrap(), 0);
    assert!(range.fd().is_none(), "fd() would mean offset 0");
    assert_eq!(range.fd_region().map(|(_, at)| at), Some(3));
    assert!(FileRange::new(&file, u64::MAX, 1).is_err());
    assert!(FileRange::new(&file, 1 << 62, 1 << 62).is_err());
}

#[test]
fn partitions_of_a_disk_image_reconstruct_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let (one, two) = disk_image(&path);
    let image = File::open(&path).unwrap();
    let sources = [
        FileRange::new(&image, PART1.0, PART1.1).unwrap(),
        FileRange::new(&image, PART2.0, PART2.1).unwrap(),
    ];
    let copied = rebuild_everywhere(&sources, &expected(&one, &two));
    assert!(copied[0].copy_file_range > 0, "{:?}", copied[0]);
    assert!(copied[1].splice > 0, "{:?}", copied[1]);
    assert!(copied[2].splice + copied[2].sendfile > 0, "{:?}", copied[2]);
}

/// A loop device over a disk image, detached on drop.
struct Loop(PathBuf);

impl Loop {
    fn attach(image: &Path) -> Result<Loop, String> {
        let output = Command::new("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(image)
            .output()
            .map_err(|error| format!("losetup not runnable: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "losetup failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let device = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(Loop(PathBuf::from(device)))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

#[test]
fn block_devices_are_sized_with_blkgetsize64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let (one, two) = disk_image(&path);
    let device = match Loop::attach(&path) {
        Ok(device) => device,
        Err(reason) => {
            println!("skipped: no loop device ({reason})");
            return;
        }
    };
    let disk = match OpenOptions::new().read(true).open(&device.0) {
        Ok(disk) => disk,
        Err(error) => {
            println!("skipped: cannot open {}: {error}", device.0.display());
            return;
        }
    };
    assert_eq!(FdKind::of(&disk).unwrap(), FdKind::Block);
    assert_eq!(
        disk.metadata().unwrap().len(),
        0,
        "fstat reports 0 for a device"
    );
    assert_eq!(source_size(&disk).unwrap(), Some(IMAGE_LEN));
    assert_eq!(FdSource::new(disk.as_fd()).size().unwrap(), Some(IMAGE_LEN));

    // Partitions of the device itself.
    let sources = [
        FileRange::new(&disk, PART1.0, PART1.1).unwrap(),
        FileRange::new(&disk, PART2.0, PART2.1).unwrap(),
    ];
    let copied = rebuild_everywhere(&sources, &expected(&one, &two));
    assert!(copied[1].splice > 0, "{:?}", copied[1]);

    // The whole device as a source, as a File (whose own size is unknown) and as an
    // FdSource: exactly its size is copied.
    let mut writer = Writer::new(Vec::new());
    writer.write_external(0).unwrap();
    let stream = writer.finish().unwrap();
    let image = std::fs::read(&path).unwrap();
    for methods in [Methods::ALL, Methods::NONE] {
        let out = tempfile::tempfile().unwrap();
        let copied = Reconstruct::new()
            .methods(methods)
            .run(stream.as_slice(), &[&disk], &out)
            .unwrap();
        assert_eq!(copied.total, IMAGE_LEN);
        let out = tempfile::tempfile().unwrap();
        let whole = [FdSource::new(disk.as_fd())];
        let copied = Reconstruct::new()
            .methods(methods)
            .run(stream.as_slice(), &whole, &out)
            .unwrap();
        assert_eq!(copied.total, IMAGE_LEN);
        let mut got = Vec::new();
        let mut out = out;
        out.rewind().unwrap();
        out.read_to_end(&mut got).unwrap();
        assert!(got == image, "device content differs ({methods:?})");
    }
    println!("block device {} checked", device.0.display());
}
