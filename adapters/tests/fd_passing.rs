//! Passing a stream and its sources between processes with `SCM_RIGHTS`: more than one
//! message's worth of descriptors, the receiver's open-file limit, and every framing and
//! kind error. Every test checks that the process's descriptor count is back where it
//! started; they hold one lock so that no other test opens descriptors meanwhile.
#![cfg(all(feature = "fd", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use splitfdstream_adapters::fd::{
    receive, receive_at_most, receive_dirs, reconstruct, send, send_dirs, PassError, Reconstruct,
    MAX_FDS_PER_MESSAGE,
};
use splitfdstream_adapters::std::Writer;

const ROLE: &str = "SPLITFDSTREAM_FD_PASSING_ROLE";
const OUT: &str = "SPLITFDSTREAM_FD_PASSING_OUT";
const SOURCES: usize = 600;

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// `count` source files in `dir`, a stream using each, and the bytes it rebuilds to.
fn layer(dir: &Path, count: usize) -> (Vec<File>, Vec<u8>, Vec<u8>) {
    let mut files = Vec::new();
    let mut writer = Writer::new(Vec::new());
    let mut expected = Vec::new();
    for i in 0..count {
        let content = format!("content of source {i}\n");
        let path = dir.join(i.to_string());
        std::fs::write(&path, &content).unwrap();
        files.push(File::open(&path).unwrap());
        let header = format!("<{i}>");
        writer.write_inline(header.as_bytes()).unwrap();
        writer.write_external(u64::try_from(i).unwrap()).unwrap();
        expected.extend_from_slice(header.as_bytes());
        expected.extend_from_slice(content.as_bytes());
    }
    // The last source is also the first one's neighbour: references can repeat.
    writer.write_external(0).unwrap();
    expected.extend_from_slice(b"content of source 0\n");
    (files, writer.finish().unwrap(), expected)
}

/// Runs this test binary's test `name` in a child process in `role`, with `socket` as its
/// standard input; returns the child's output once `send` (run meanwhile) is done.
fn child(name: &str, role: &str, socket: UnixStream, out: &Path, send: impl FnOnce()) -> String {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(OUT, out)
        .stdin(Stdio::from(OwnedFd::from(socket)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    send();
    let output = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{log}");
    log
}

fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

#[test]
fn six_hundred_sources_between_two_processes() {
    if let Some(role) = role() {
        assert_eq!(role, "receive");
        return receive_and_rebuild();
    }
    let _guard = lock();
    let before = open_fds();
    let dir = tempfile::tempdir().unwrap();
    let (files, stream, expected) = layer(dir.path(), SOURCES);
    let (ours, theirs) = UnixStream::pair().unwrap();
    // The stream travels as a pipe, written after the descriptors are sent.
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let out = dir.path().join("rebuilt");
    let log = child(
        "six_hundred_sources_between_two_processes",
        "receive",
        theirs,
        &out,
        || {
            send(&ours, &reader, &files).unwrap();
            drop(reader);
            File::from(writer).write_all(&stream).unwrap();
        },
    );
    assert!(log.contains("child: rebuilt from 600 sources"), "{log}");
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "rebuilt bytes differ"
    );
    drop((ours, files));
    assert_eq!(open_fds(), before, "descriptors leaked");
}

fn receive_and_rebuild() {
    let before = open_fds();
    let received = receive(io::stdin()).unwrap();
    assert_eq!(received.sources.len(), SOURCES);
    assert_eq!(open_fds(), before + SOURCES + 1);
    let out = File::create(std::env::var_os(OUT).unwrap()).unwrap();
    reconstruct(File::from(received.stream), &received.sources, &out).unwrap();
    drop((received.sources, out));
    assert_eq!(open_fds(), before, "descriptors leaked in the receiver");
    println!("child: rebuilt from {SOURCES} sources");
}

#[test]
fn receiver_at_its_open_file_limit_fails_cleanly() {
    if let Some(role) = role() {
        assert_eq!(role, "limited");
        return receive_under_a_low_limit();
    }
    let _guard = lock();
    let before = open_fds();
    let dir = tempfile::tempdir().unwrap();
    let (files, _, _) = layer(dir.path(), SOURCES);
    let stream = tempfile::tempfile().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let log = child(
        "receiver_at_its_open_file_limit_fails_cleanly",
        "limited",
        theirs,
        &dir.path().join("unused"),
        // The receiver gives up early; whatever it did not read fails or is dropped.
        || drop(send(&ours, &stream, &files)),
    );
    assert!(log.contains("child: MSG_CTRUNC reported"), "{log}");
    drop((ours, files, stream));
    assert_eq!(open_fds(), before, "descriptors leaked");
}

fn receive_under_a_low_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    let before = open_fds();
    let limit = u64::try_from(before + 40).unwrap();
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: hard,
        },
    )
    .unwrap();
    let error = receive(io::stdin()).unwrap_err();
    let inner = error.get_ref().and_then(|e| e.downcast_ref::<PassError>());
    assert!(
        matches!(inner, Some(PassError::ControlTruncated { .. })),
        "expected MSG_CTRUNC, got {error}"
    );
    assert_eq!(open_fds(), before, "descriptors leaked after MSG_CTRUNC");
    println!("child: MSG_CTRUNC reported under a limit of {limit}: {error}");
}

fn pass_error(error: &io::Error) -> PassError {
    *error
        .get_ref()
        .and_then(|e| e.downcast_ref::<PassError>())
        .unwrap_or_else(|| panic!("not a PassError: {error}"))
}

#[test]
fn in_process_round_trip_leaves_the_socket_after_the_framing() {
    if role().is_some() {
        return;
    }
    let _guard = lock();
    let before = open_fds();
    {
        let dir = tempfile::tempdir().unwrap();
        let count = 2 * MAX_FDS_PER_MESSAGE + 1;
        let (files, stream, expected) = layer(dir.path(), count);
        let memfd = rustix::fs::memfd_create("stream", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let mut memfd = File::from(memfd);
        memfd.write_all(&stream).unwrap();
        memfd.rewind().unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let sender = thread::spawn(move || {
            send(&ours, &memfd, &files).unwrap();
            (&ours).write_all(b"after").unwrap();
        });
        let received = receive(&theirs).unwrap();
        sender.join().unwrap();
        assert_eq!(received.sources.len(), count);
        let flags = rustix::io::fcntl_getfd(&received.stream).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        let mut tail = [0u8; 5];
        theirs.read_exact(&mut tail).unwrap();
        assert_eq!(&tail, b"after");
        let mut out = Vec::new();
        splitfdstream_adapters::std::reconstruct(
            File::from(received.stream),
            &received.sources,
            &mut out,
        )
        .unwrap();
        assert!(out == expected);
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// Sends with `send` from a thread and returns what `receive_at_most(max)` made of it.
fn exchange(max: usize, send: impl FnOnce(&UnixStream) + Send + 'static) -> io::Result<()> {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let sender = thread::spawn(move || send(&ours));
    let result = receive_at_most(&theirs, max).map(drop);
    drop(theirs);
    sender.join().unwrap();
    result
}

#[test]
fn wrong_kinds_and_bad_framing_are_errors_that_close_everything() {
    if role().is_some() {
        return;
    }
    let _guard = lock();
    let before = open_fds();

    // A directory is no source.
    let error = exchange(10, |socket| {
        let sources = [
            tempfile::tempfile().unwrap().into(),
            File::open(".").unwrap().into(),
        ];
        let sources: [OwnedFd; 2] = sources;
        send(socket, tempfile::tempfile().unwrap(), &sources).unwrap();
    })
    .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(matches!(
        pass_error(&error),
        PassError::WrongKind {
            position: 2,
            kind: splitfdstream_adapters::fd::FdKind::Directory
        }
    ));
    assert_eq!(open_fds(), before);

    // A character device is no stream.
    let error = exchange(10, |socket| {
        let none: [File; 0] = [];
        send(socket, File::open("/dev/null").unwrap(), &none).unwrap();
    })
    .unwrap_err();
    assert!(matches!(
        pass_error(&error),
        PassError::WrongKind { position: 0, .. }
    ));
    assert_eq!(open_fds(), before);

    // More sources than the receiver accepts.
    let error = exchange(3, |socket| {
        let files: Vec<File> = (0..4).map(|_| tempfile::tempfile().unwrap()).collect();
        let _ = send(socket, tempfile::tempfile().unwrap(), &files);
    })
    .unwrap_err();
    assert_eq!(
        pass_error(&error),
        PassError::TooManySources {
            announced: 4,
            max: 3
        }
    );
    assert_eq!(open_fds(), before);

    // Not our framing.
    let error = exchange(3, |mut socket| {
        socket.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap()
    })
    .unwrap_err();
    assert_eq!(pass_error(&error), PassError::BadMagic);

    // A header announcing nothing.
    let error = exchange(3, |mut socket| {
        socket.write_all(b"splitfd\x01").unwrap();
        socket.write_all(&0u64.to_le_bytes()).unwrap();
    })
    .unwrap_err();
    assert_eq!(pass_error(&error), PassError::NoStream);

    // The peer goes away after the header, and after part of the descriptors.
    let error = exchange(3, |mut socket| {
        socket.write_all(b"splitfd\x01").unwrap();
        socket.write_all(&3u64.to_le_bytes()).unwrap();
    })
    .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    assert!(matches!(
        pass_error(&error),
        PassError::Ended { received: 0, .. }
    ));
    assert_eq!(open_fds(), before);

    // A batch announcing more descriptors than arrive with it.
    let error = exchange(3, |mut socket| {
        socket.write_all(b"splitfd\x01").unwrap();
        socket.write_all(&2u64.to_le_bytes()).unwrap();
        socket.write_all(&2u32.to_le_bytes()).unwrap();
    })
    .unwrap_err();
    assert!(matches!(
        pass_error(&error),
        PassError::BatchMismatch {
            announced: 2,
            received: 0
        }
    ));

    // A batch larger than the kernel allows.
    let error = exchange(1000, |mut socket| {
        socket.write_all(b"splitfd\x01").unwrap();
        socket.write_all(&600u64.to_le_bytes()).unwrap();
        socket.write_all(&254u32.to_le_bytes()).unwrap();
    })
    .unwrap_err();
    assert!(matches!(
        pass_error(&error),
        PassError::BadBatch { len: 254, .. }
    ));
    assert_eq!(open_fds(), before, "descriptors leaked");
}

const DIRS: usize = 300;

/// `count` directories in `root`, each holding one file, and a splitdirfdstream naming
/// each file beneath its directory, with the bytes it rebuilds to.
fn dir_layer(root: &Path, count: usize) -> (Vec<OwnedFd>, Vec<u8>, Vec<u8>) {
    let mut dirs = Vec::new();
    let mut encoder = splitfdstream::dir::Encoder::new();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut out = [0u8; 256];
    for i in 0..count {
        let dir = root.join(format!("d{i}"));
        std::fs::create_dir(&dir).unwrap();
        let content = format!("member of directory {i}\n");
        std::fs::write(dir.join("member ü"), &content).unwrap();
        // Half the directories travel as O_PATH descriptors, as a confined opener holds them.
        let fd = if i % 2 == 0 {
            File::open(&dir).unwrap().into()
        } else {
            rustix::fs::open(
                &dir,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .unwrap()
        };
        dirs.push(fd);
        let header = format!("<{i}>");
        let index = u32::try_from(i).unwrap();
        let len = u64::try_from(content.len()).unwrap();
        let n = encoder.metadata(header.as_bytes(), &mut out).unwrap();
        stream.extend_from_slice(&out[..n]);
        let n = encoder
            .file_backed(index, len, "member ü".as_bytes(), &mut out)
            .unwrap();
        stream.extend_from_slice(&out[..n]);
        expected.extend_from_slice(header.as_bytes());
        expected.extend_from_slice(content.as_bytes());
    }
    (dirs, stream, expected)
}

#[test]
fn three_hundred_directories_between_two_processes() {
    if let Some(role) = role() {
        assert_eq!(role, "receive-dirs");
        return receive_dirs_and_rebuild();
    }
    let _guard = lock();
    let before = open_fds();
    let root = tempfile::tempdir().unwrap();
    let (dirs, stream, expected) = dir_layer(root.path(), DIRS);
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let out = root.path().join("rebuilt");
    let log = child(
        "three_hundred_directories_between_two_processes",
        "receive-dirs",
        theirs,
        &out,
        || {
            send_dirs(&ours, &reader, &dirs).unwrap();
            drop(reader);
            File::from(writer).write_all(&stream).unwrap();
        },
    );
    assert!(log.contains("child: rebuilt from 300 directories"), "{log}");
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "rebuilt bytes differ"
    );
    drop((ours, dirs));
    assert_eq!(open_fds(), before, "descriptors leaked");
}

fn receive_dirs_and_rebuild() {
    let before = open_fds();
    let received = receive_dirs(io::stdin(), 1024).unwrap();
    assert_eq!(received.dirs.len(), DIRS);
    assert_eq!(open_fds(), before + DIRS + 1);
    let sources = splitfdstream_adapters::std::DirSources::from_fds(received.dirs).unwrap();
    let out = File::create(std::env::var_os(OUT).unwrap()).unwrap();
    Reconstruct::new()
        .format(splitfdstream_adapters::Format::Splitdirfdstream)
        .run(File::from(received.stream), &sources, &out)
        .unwrap();
    drop((sources, out));
    assert_eq!(open_fds(), before, "descriptors leaked in the receiver");
    println!("child: rebuilt from {DIRS} directories");
}

#[test]
fn directory_refusals_close_everything_received() {
    if role().is_some() {
        return;
    }
    let _guard = lock();
    let before = open_fds();
    {
        let root = tempfile::tempdir().unwrap();
        let (mut dirs, _, _) = dir_layer(root.path(), 260);
        let stream = tempfile::tempfile().unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();

        // A regular file where directory 257 should be: refused after two batches.
        dirs[257] = OwnedFd::from(tempfile::tempfile().unwrap());
        send_dirs(&ours, &stream, &dirs).unwrap();
        let error = receive_dirs(&theirs, 1024).unwrap_err();
        assert_eq!(
            pass_error(&error),
            PassError::NotADirectory {
                index: 257,
                kind: splitfdstream_adapters::fd::FdKind::Regular
            }
        );
        assert!(
            error
                .to_string()
                .contains("directory 257 is a regular file"),
            "{error}"
        );

        // One layout received as the other.
        let files = [tempfile::tempfile().unwrap()];
        send(&ours, &stream, &files).unwrap();
        let error = receive_dirs(&theirs, 16).unwrap_err();
        assert_eq!(
            pass_error(&error),
            PassError::OtherLayout { directories: false }
        );
        // The refused framing's batch is still queued: a new connection for the next.
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_dirs(&ours, &stream, &dirs[..3]).unwrap();
        let error = receive(&theirs).unwrap_err();
        assert_eq!(
            pass_error(&error),
            PassError::OtherLayout { directories: true }
        );
        drop((ours, theirs));

        // More directories than the receiver accepts.
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_dirs(&ours, &stream, &dirs[..3]).unwrap();
        let error = receive_dirs(&theirs, 2).unwrap_err();
        assert_eq!(
            pass_error(&error),
            PassError::TooManySources {
                announced: 3,
                max: 2
            }
        );
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}
