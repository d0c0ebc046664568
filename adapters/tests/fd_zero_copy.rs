//! Reconstruction into descriptors: every kernel path and the fallback produce the bytes
//! of the std reconstruct, and sources that change size are errors.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::thread;

use splitfdstream_adapters::fd::{Copied, FileRange, Methods, Reconstruct};
use splitfdstream_adapters::std::{reconstruct, ExpectedLens, ReadAt, Writer};
use splitfdstream_adapters::SourceError;

/// Deterministic bytes that differ per source.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Sources of every size class, and a stream that uses each (some twice) between
/// tar-like headers.
struct Layer {
    files: Vec<File>,
    stream: Vec<u8>,
}

fn layer() -> Layer {
    let sizes = [
        0usize,
        1,
        100,
        5_000,
        130_000,
        300_001,
        1_048_576 + 17,
        4096,
        3 * 1_048_576,
    ];
    let files: Vec<File> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(&pattern(u64::try_from(i).unwrap(), len))
                .unwrap();
            file
        })
        .collect();
    let mut writer = Writer::new(Vec::new());
    for round in 0..2u64 {
        for index in 0..u64::try_from(files.len()).unwrap() {
            writer
                .write_inline(&pattern(100 + index + round, 512))
                .unwrap();
            writer.write_external(index).unwrap();
        }
    }
    // A large inline chunk, past the staging threshold.
    writer.write_inline(&pattern(7, 200_000)).unwrap();
    writer.write_external(6).unwrap();
    let stream = writer.finish().unwrap();
    Layer { files, stream }
}

fn expected(layer: &Layer) -> Vec<u8> {
    let mut out = Vec::new();
    reconstruct(layer.stream.as_slice(), &layer.files, &mut out).unwrap();
    out
}

fn read_back(mut file: File) -> Vec<u8> {
    file.rewind().unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Runs `write` with the write end of a pipe while a thread drains the read end.
fn into_pipe(
    write: impl FnOnce(BorrowedFd<'_>) -> Result<Copied, splitfdstream_adapters::std::Error>,
) -> (Copied, Vec<u8>) {
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let drainer = thread::spawn(move || {
        let mut bytes = Vec::new();
        File::from(reader).read_to_end(&mut bytes).unwrap();
        bytes
    });
    let copied = write(writer.as_fd()).unwrap();
    drop(writer);
    (copied, drainer.join().unwrap())
}

/// Runs `write` with one end of a Unix socket pair while a thread drains the other.
fn into_socket(
    write: impl FnOnce(BorrowedFd<'_>) -> Result<Copied, splitfdstream_adapters::std::Error>,
) -> (Copied, Vec<u8>) {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let drainer = thread::spawn(move || {
        let mut bytes = Vec::new();
        theirs.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let copied = write(ours.as_fd()).unwrap();
    drop(ours);
    (copied, drainer.join().unwrap())
}

fn assert_same(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    assert!(got == want, "bytes differ");
}

fn check_totals(copied: &Copied, want: &[u8]) {
    let sum = copied.inline
        + copied.copy_file_range
        + copied.splice
        + copied.sendfile
        + copied.read_write;
    assert_eq!(copied.total, sum);
    assert_eq!(copied.total, u64::try_from(want.len()).unwrap());
}

#[test]
fn regular_file_output_uses_copy_file_range() {
    let layer = layer();
    let want = expected(&layer);
    let out = tempfile::tempfile().unwrap();
    let copied = Reconstruct::new()
        .copy_file_range_anywhere(true)
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    check_totals(&copied, &want);
    assert!(copied.copy_file_range > 0, "{copied:?}");
    assert_eq!(copied.splice + copied.sendfile, 0);
    assert_same(&read_back(out), &want);
}

/// ext4 and tmpfs copy page by page inside copy_file_range: `splice` through a pipe
/// wins there, and so it does wherever offsets are not block-aligned, as a tar's are.
#[test]
fn regular_file_output_splices_where_no_extent_can_be_shared() {
    let layer = layer();
    let want = expected(&layer);
    let out = tempfile::tempfile().unwrap();
    let kind = i128::from(rustix::fs::fstatfs(&out).unwrap().f_type);
    let copied = Reconstruct::new()
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    check_totals(&copied, &want);
    assert_same(&read_back(out), &want);
    if [0xef53, 0x0102_1994].contains(&kind) {
        assert_eq!(copied.copy_file_range, 0, "{copied:?}");
        assert!(copied.splice > copied.read_write, "{copied:?}");
    } else {
        println!("temporary files are on file system {kind:#x}: {copied:?}");
        assert!(copied.copy_file_range + copied.splice > 0, "{copied:?}");
    }
}

/// With `splice` the only method, large externals reach a regular file through the
/// private pipe, with the same bytes.
#[test]
fn regular_file_output_with_splice_alone_goes_through_the_pipe() {
    let layer = layer();
    let want = expected(&layer);
    let out = tempfile::tempfile().unwrap();
    let copied = Reconstruct::new()
        .methods(Methods::SPLICE)
        .copy_file_range_anywhere(true)
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    check_totals(&copied, &want);
    assert_eq!(copied.copy_file_range + copied.sendfile, 0, "{copied:?}");
    assert!(copied.splice > 0, "{copied:?}");
    assert_same(&read_back(out), &want);
}

/// An XFS file system with reflink, made on a loop device and mounted in a temporary
/// directory; unmounted on drop.
struct Xfs {
    dir: tempfile::TempDir,
}

impl Xfs {
    fn mount() -> Result<Xfs, String> {
        let run = |command: &mut std::process::Command| -> Result<(), String> {
            let output = command
                .output()
                .map_err(|error| format!("{command:?} not runnable: {error}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{command:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        };
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        let image = dir.path().join("xfs.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).map_err(|error| error.to_string())?;
        File::create(&image)
            .and_then(|file| file.set_len(512 << 20))
            .map_err(|error| error.to_string())?;
        run(std::process::Command::new("mkfs.xfs")
            .args(["-q", "-m", "reflink=1"])
            .arg(&image))?;
        run(std::process::Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount))?;
        Ok(Xfs { dir })
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("mnt")
    }

    /// Blocks in use, once everything written has reached the disk.
    fn used_blocks(&self) -> u64 {
        let root = File::open(self.path()).unwrap();
        rustix::fs::syncfs(&root).unwrap();
        let stat = rustix::fs::fstatvfs(&root).unwrap();
        stat.f_blocks - stat.f_bfree
    }
}

impl Drop for Xfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.path())
            .status();
    }
}

/// On a file system that shares extents, a large external at block-aligned offsets is
/// shared by `copy_file_range`, and one after a tar header's 512 bytes is spliced.
#[test]
fn xfs_shares_extents_at_aligned_offsets_and_splices_elsewhere() {
    let fs = match Xfs::mount() {
        Ok(fs) => fs,
        Err(reason) => {
            println!("skipped: cannot mount an XFS file system here ({reason})");
            return;
        }
    };
    let content = pattern(9, 16 << 20);
    let source_path = fs.path().join("source");
    std::fs::write(&source_path, &content).unwrap();
    let source = File::open(&source_path).unwrap();
    for header in [4096usize, 512] {
        let mut writer = Writer::new(Vec::new());
        writer.write_inline(&pattern(1, header)).unwrap();
        writer.write_external(0).unwrap();
        writer.write_inline(b"end").unwrap();
        let stream = writer.finish().unwrap();
        let mut want = pattern(1, header);
        want.extend_from_slice(&content);
        want.extend_from_slice(b"end");

        let before = fs.used_blocks();
        let out_path = fs.path().join(format!("out-{header}"));
        let out = File::create(&out_path).unwrap();
        let copied = Reconstruct::new()
            .run(stream.as_slice(), &[&source], &out)
            .unwrap();
        check_totals(&copied, &want);
        let block = rustix::fs::fstatvfs(&out).unwrap().f_frsize;
        // Closed first: XFS keeps blocks allocated past the end of a file open for writing.
        drop(out);
        let grew = fs.used_blocks() - before;
        assert_same(&std::fs::read(&out_path).unwrap(), &want);
        let copied_mib = (grew * block) >> 20;
        if header == 4096 {
            assert!(copied.copy_file_range > 15 << 20, "{copied:?}");
            assert_eq!(copied.splice, 0, "{copied:?}");
            assert!(
                copied_mib < 4,
                "{copied_mib} MiB written: extents not shared"
            );
        } else {
            assert_eq!(copied.copy_file_range, 0, "{copied:?}");
            assert!(copied.splice > 15 << 20, "{copied:?}");
            assert!(copied_mib >= 15, "only {copied_mib} MiB written for a copy");
        }
    }
}

#[test]
fn output_starts_at_the_file_offset() {
    let layer = layer();
    let want = expected(&layer);
    let mut out = tempfile::tempfile().unwrap();
    out.write_all(b"prefix").unwrap();
    Reconstruct::new()
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    let bytes = read_back(out);
    assert_eq!(&bytes[..6], b"prefix");
    assert_same(&bytes[6..], &want);
}

#[test]
fn pipe_output_uses_splice() {
    let layer = layer();
    let want = expected(&layer);
    let (copied, got) =
        into_pipe(|fd| Reconstruct::new().run(layer.stream.as_slice(), &layer.files, fd));
    check_totals(&copied, &want);
    assert!(copied.splice > 0, "{copied:?}");
    assert_eq!(copied.copy_file_range + copied.sendfile, 0);
    assert_same(&got, &want);
}

/// A pipe output smaller than 1 MiB is grown to it, so the writer and the reader take
/// turns less often.
#[test]
fn a_pipe_output_is_widened() {
    let layer = layer();
    let mut size = 0;
    let (_, got) = into_pipe(|fd| {
        rustix::pipe::fcntl_setpipe_size(fd, 64 * 1024).unwrap();
        let copied = Reconstruct::new().run(layer.stream.as_slice(), &layer.files, fd)?;
        size = rustix::pipe::fcntl_getpipe_size(fd).unwrap();
        Ok(copied)
    });
    assert_same(&got, &expected(&layer));
    let allowed: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .map_or(1 << 20, |max| max.trim().parse().unwrap());
    if allowed >= 1 << 20 {
        assert_eq!(size, 1 << 20, "pipe capacity after the run");
    } else {
        println!("pipes are held to {allowed} bytes here: {size} after the run");
    }
}

#[test]
fn non_blocking_pipe_output_waits_instead_of_failing() {
    let layer = layer();
    let want = expected(&layer);
    for methods in [Methods::ALL, Methods::NONE] {
        let (copied, got) = into_pipe(|fd| {
            rustix::io::ioctl_fionbio(fd, true).unwrap();
            // A one-page pipe fills at once, so EAGAIN is certain.
            let _ = rustix::pipe::fcntl_setpipe_size(fd, 4096);
            Reconstruct::new()
                .methods(methods)
                .run(layer.stream.as_slice(), &layer.files, fd)
        });
        check_totals(&copied, &want);
        assert_same(&got, &want);
    }
}

#[test]
fn socket_output_uses_splice_then_sendfile() {
    let layer = layer();
    let want = expected(&layer);
    let (copied, got) =
        into_socket(|fd| Reconstruct::new().run(layer.stream.as_slice(), &layer.files, fd));
    check_totals(&copied, &want);
    assert!(copied.splice > 0, "{copied:?}");
    assert_same(&got, &want);

    let (copied, got) = into_socket(|fd| {
        Reconstruct::new()
            .methods(Methods::SENDFILE)
            .run(layer.stream.as_slice(), &layer.files, fd)
    });
    check_totals(&copied, &want);
    assert!(copied.sendfile > 0, "{copied:?}");
    assert_eq!(copied.splice + copied.copy_file_range, 0);
    assert_same(&got, &want);
}

#[test]
fn forced_fallback_writes_the_same_bytes() {
    let layer = layer();
    let want = expected(&layer);
    let plain = Reconstruct::new().methods(Methods::NONE);

    let out = tempfile::tempfile().unwrap();
    let copied = plain
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    check_totals(&copied, &want);
    assert_eq!(copied.copy_file_range + copied.splice + copied.sendfile, 0);
    assert_same(&read_back(out), &want);

    let (copied, got) = into_pipe(|fd| plain.run(layer.stream.as_slice(), &layer.files, fd));
    assert_eq!(copied.splice, 0);
    assert_same(&got, &want);

    let (copied, got) = into_socket(|fd| plain.run(layer.stream.as_slice(), &layer.files, fd));
    assert_eq!(copied.splice + copied.sendfile, 0);
    assert_same(&got, &want);
}

#[test]
fn outputs_that_refuse_copy_file_range_fall_back() {
    let layer = layer();
    let want = expected(&layer);

    // copy_file_range fails with EBADF on a file opened for appending.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appended");
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let copied = Reconstruct::new()
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    check_totals(&copied, &want);
    assert_eq!(copied.copy_file_range, 0, "{copied:?}");
    assert_same(&std::fs::read(&path).unwrap(), &want);

    // A character device takes no kernel method at all.
    let null = OpenOptions::new().write(true).open("/dev/null").unwrap();
    let copied = Reconstruct::new()
        .run(layer.stream.as_slice(), &layer.files, &null)
        .unwrap();
    check_totals(&copied, &want);
    assert_eq!(copied.read_write + copied.inline, copied.total);
}

#[test]
fn small_externals_are_batched_with_inline_data() {
    let layer = layer();
    let want = expected(&layer);
    // Everything below the threshold goes through the buffer; with a threshold of 0
    // every non-empty external is copied by the kernel (into a file, apart from the few
    // bytes that bring the output to an aligned offset first).
    let out = tempfile::tempfile().unwrap();
    let copied = Reconstruct::new()
        .kernel_copy_min(u64::MAX)
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    assert_eq!(copied.copy_file_range, 0);
    assert_same(&read_back(out), &want);

    let (copied, got) = into_pipe(|fd| {
        Reconstruct::new()
            .kernel_copy_min(0)
            .run(layer.stream.as_slice(), &layer.files, fd)
    });
    assert_eq!(copied.read_write, 0, "{copied:?}");
    assert_same(&got, &want);

    let out = tempfile::tempfile().unwrap();
    let copied = Reconstruct::new()
        .kernel_copy_min(0)
        .copy_file_range_anywhere(true)
        .run(layer.stream.as_slice(), &layer.files, &out)
        .unwrap();
    assert!(copied.copy_file_range > copied.read_write, "{copied:?}");
    assert_same(&read_back(out), &want);
}

/// Writes into a regular file are cut at aligned output offsets, whatever the offset the
/// output starts at, and the bytes stay the same.
#[test]
fn aligned_writes_keep_the_bytes() {
    let layer = layer();
    let want = expected(&layer);
    for prefix in [0usize, 1, 511, 4096, 65_535] {
        for methods in [Methods::ALL, Methods::NONE] {
            let mut out = tempfile::tempfile().unwrap();
            out.write_all(&vec![b'p'; prefix]).unwrap();
            Reconstruct::new()
                .methods(methods)
                .run(layer.stream.as_slice(), &layer.files, &out)
                .unwrap();
            let bytes = read_back(out);
            assert!(bytes[..prefix].iter().all(|&b| b == b'p'));
            assert_same(&bytes[prefix..], &want);
        }
    }
}

#[test]
fn expected_sizes_are_checked() {
    let layer = layer();
    let mut lens = vec![None; layer.files.len()];
    lens[6] = Some(1);
    let sources = ExpectedLens::new(&layer.files, lens);
    let out = tempfile::tempfile().unwrap();
    let error = Reconstruct::new()
        .run(layer.stream.as_slice(), &sources, &out)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let inner = source_check(&error);
    assert!(
        matches!(
            inner,
            Some(SourceError::SizeMismatch {
                index: 6,
                expected: 1,
                ..
            })
        ),
        "{error}"
    );
}

/// A small source is read without a size lookup; the bytes it yields are still checked
/// against the expected size: one byte past it is growth, an end before it is shrinkage.
#[test]
fn expected_sizes_of_small_sources_are_checked() {
    let layer = layer();
    let cases = [
        (
            2u64,
            99u64,
            SourceError::Grew {
                index: 2,
                expected: 99,
            },
        ),
        (
            3,
            5_001,
            SourceError::Shrank {
                index: 3,
                expected: 5_001,
                read: 5_000,
            },
        ),
        (
            0,
            1,
            SourceError::Shrank {
                index: 0,
                expected: 1,
                read: 0,
            },
        ),
    ];
    for (index, expected, want) in cases {
        let mut lens = vec![None; layer.files.len()];
        lens[usize::try_from(index).unwrap()] = Some(expected);
        let sources = ExpectedLens::new(&layer.files, lens);
        let out = tempfile::tempfile().unwrap();
        let error = Reconstruct::new()
            .run(layer.stream.as_slice(), &sources, &out)
            .unwrap_err();
        let inner = source_check(&error);
        assert_eq!(inner, Some(&want), "{error}");
    }
    let lens = [
        0usize, 1, 100, 5_000, 130_000, 300_001, 1_048_593, 4096, 3_145_728,
    ]
    .map(|len| Some(u64::try_from(len).unwrap()))
    .to_vec();
    let sources = ExpectedLens::new(&layer.files, lens);
    let out = tempfile::tempfile().unwrap();
    Reconstruct::new()
        .run(layer.stream.as_slice(), &sources, &out)
        .unwrap();
    assert_same(&read_back(out), &expected(&layer));
}

fn single_external_stream() -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    writer.write_inline(b"head").unwrap();
    writer.write_external(0).unwrap();
    writer.finish().unwrap()
}

/// A region reaching past the end of its file: the kernel copy ends early.
#[test]
fn a_source_shorter_than_its_size_is_an_error_on_every_path() {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&pattern(1, 500_000)).unwrap();
    let stream = single_external_stream();
    for methods in [Methods::ALL, Methods::NONE] {
        let range = [FileRange::new(&file, 1000, 600_000).unwrap()];
        let out = tempfile::tempfile().unwrap();
        let error = Reconstruct::new()
            .methods(methods)
            .run(stream.as_slice(), &range, &out)
            .unwrap_err();
        let inner = source_check(&error);
        assert!(
            matches!(
                inner,
                Some(SourceError::Shrank {
                    index: 0,
                    expected: 600_000,
                    read: 499_000
                })
            ),
            "{methods:?}: {error}"
        );
        // Never more than the source held.
        assert!(out.metadata().unwrap().len() <= 4 + 499_000);
    }
}

/// A source that reports a size smaller than it is, as one that grew after its size was
/// taken would.
struct Understated(File, u64);

impl ReadAt for Understated {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.1))
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.as_fd())
    }
}

#[test]
fn a_source_longer_than_its_size_is_an_error_and_not_copied() {
    let stream = single_external_stream();
    for (methods, out_is_pipe) in [
        (Methods::ALL, false),
        (Methods::ALL, true),
        (Methods::NONE, false),
    ] {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&pattern(2, 400_000)).unwrap();
        let sources = [Understated(file, 300_000)];
        let run = |fd: BorrowedFd<'_>| {
            Reconstruct::new()
                .methods(methods)
                .run(stream.as_slice(), &sources, fd)
        };
        let (result, written) = if out_is_pipe {
            let (reader, writer) =
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
            let drainer = thread::spawn(move || {
                let mut bytes = Vec::new();
                File::from(reader).read_to_end(&mut bytes).unwrap();
                bytes.len()
            });
            let result = run(writer.as_fd());
            drop(writer);
            (result, drainer.join().unwrap())
        } else {
            let out = tempfile::tempfile().unwrap();
            let result = run(out.as_fd());
            (
                result,
                usize::try_from(out.metadata().unwrap().len()).unwrap(),
            )
        };
        let error = result.unwrap_err();
        let inner = source_check(&error);
        assert!(
            matches!(
                inner,
                Some(SourceError::Grew {
                    index: 0,
                    expected: 300_000
                })
            ),
            "{methods:?}: {error}"
        );
        assert!(written <= 4 + 300_000, "copied past the size: {written}");
    }
}

/// The source is truncated by the reader of the output while the kernel copies it.
#[test]
fn a_source_truncated_mid_copy_is_an_error() {
    let stream = single_external_stream();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source");
    std::fs::write(&path, pattern(3, 4 << 20)).unwrap();
    let sources = [File::open(&path).unwrap()];
    let (reader, writer): (OwnedFd, OwnedFd) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let _ = rustix::pipe::fcntl_setpipe_size(&writer, 4096);
    let truncate_path = path.clone();
    let drainer = thread::spawn(move || {
        let mut reader = File::from(reader);
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&truncate_path)
            .unwrap()
            .set_len(100_000)
            .unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        1 + rest.len()
    });
    let result = Reconstruct::new().run(stream.as_slice(), &sources, &writer);
    drop(writer);
    let written = drainer.join().unwrap();
    let error = result.unwrap_err();
    let inner = source_check(&error);
    assert!(
        matches!(inner, Some(SourceError::Shrank { index: 0, expected, .. }) if *expected == 4 << 20),
        "{error}"
    );
    assert!(written < 4 + (4 << 20));
}

#[test]
fn stream_errors_are_reported() {
    let files: [File; 0] = [];
    let out = tempfile::tempfile().unwrap();
    let truncated = [0xfb_u8, 0xff, 0xff];
    let error = Reconstruct::new()
        .run(&truncated[..], &files, &out)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let missing = 5u64.to_le_bytes();
    let error = Reconstruct::new()
        .run(&missing[..], &files, &out)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
}

#[test]
fn in_memory_sources_go_through_the_buffer() {
    let sources: [Vec<u8>; 2] = [pattern(1, 300_000), b"small".to_vec()];
    let mut writer = Writer::new(Vec::new());
    writer.write_external(0).unwrap();
    writer.write_external(1).unwrap();
    let stream = writer.finish().unwrap();
    let (copied, got) = into_pipe(|fd| Reconstruct::new().run(stream.as_slice(), &sources, fd));
    assert_eq!(copied.read_write, 300_005);
    let mut want = sources[0].clone();
    want.extend_from_slice(b"small");
    assert_same(&got, &want);
}

/// A descriptor source whose reads come back short before its end, as procfs and FUSE
/// files do.
struct ShortReads(File);

impl ReadAt for ShortReads {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let len = buf.len().min(1000);
        self.0.read_at(&mut buf[..len], offset)
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.as_fd())
    }
}

#[test]
fn a_short_read_of_a_small_source_is_not_its_end() {
    let content = pattern(9, 10_000);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&content).unwrap();
    let sources = [ShortReads(file)];
    let stream = single_external_stream();
    for methods in [Methods::ALL, Methods::NONE] {
        let out = tempfile::tempfile().unwrap();
        let copied = Reconstruct::new()
            .methods(methods)
            .run(stream.as_slice(), &sources, &out)
            .unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&content);
        assert_eq!(copied.total, 4 + 10_000, "{methods:?}");
        assert_same(&read_back(out), &want);
    }
}

/// A small region reaching past the end of its file: its declared length is checked on
/// the small-source path too, never cut silently.
#[test]
fn a_small_region_past_the_end_of_its_file_is_an_error() {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789abc").unwrap();
    let stream = single_external_stream();
    for methods in [Methods::ALL, Methods::NONE] {
        let range = [FileRange::new(&file, 2, 100).unwrap()];
        let out = tempfile::tempfile().unwrap();
        let error = Reconstruct::new()
            .methods(methods)
            .run(stream.as_slice(), &range, &out)
            .unwrap_err();
        let inner = source_check(&error);
        assert_eq!(
            inner,
            Some(&SourceError::Shrank {
                index: 0,
                expected: 100,
                read: 11
            }),
            "{methods:?}: {error}"
        );
    }
}

/// The failed check of a source inside a reconstruction error.
fn source_check(error: &splitfdstream_adapters::std::Error) -> Option<&SourceError> {
    match error.source_failure()?.fault() {
        splitfdstream_adapters::std::SourceFault::Check(error) => Some(error),
        _ => None,
    }
}
