//! Interoperability with virtnbdbackup itself: streams written through its own
//! `libvirtnbdbackup.sparsestream` module and backup code (raw; LZ4 with one and with
//! several frames per extent; incremental) decode with ours to the source image, and
//! streams our encoder writes are restored by its own restore loop. Bad input built from
//! its streams is refused with the right typed error, including the cases its restore
//! lets through. Driven by `tests/sparse_peer.py`; skipped, with the reason printed,
//! where Debian's `virtnbdbackup` and `python3-lz4` are not installed.

#![cfg(feature = "sparse")]
// Tests state their expectations with unwrap and panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::len64;
use common::sparse::{compress, decompress, push_split, push_whole, restore, Event};
use splitfdstream::sparse::{Compression, DecodeError, Encoder, Limits, MetadataFields};

const PYTHON: &str = "/usr/bin/python3";
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sparse_peer.py");
const VIRTUAL_SIZE: usize = 3 << 20;
/// A small NBD request size, so that virtnbdbackup splits extents into several frames.
const SMALL_REQUEST: usize = 65536;

/// Runs the peer script; `None` (after printing why) when it cannot run here.
fn peer(args: &[&str]) -> Option<std::process::Output> {
    if !Path::new(PYTHON).exists() {
        println!(
            "skipping: {PYTHON} is missing (apt-get install python3 virtnbdbackup python3-lz4)"
        );
        return None;
    }
    let output = Command::new(PYTHON).arg(PEER).args(args).output().unwrap();
    if args == ["check"] && !output.status.success() {
        println!(
            "skipping: virtnbdbackup's sparsestream module or python3-lz4 is not importable \
             (apt-get install virtnbdbackup python3-lz4): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    Some(output)
}

fn available() -> bool {
    peer(&["check"]).is_some()
}

fn run_peer(args: &[&str]) -> std::process::Output {
    let output = peer(args).unwrap();
    assert!(
        output.status.success(),
        "sparse_peer.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sparse-interop")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The test disk's extents: `(start, len, is_data)`, covering it all.
fn extents() -> Vec<(usize, usize, bool)> {
    vec![
        (0, 70_000, true),
        (70_000, (1 << 20) - 70_000, false),
        (1 << 20, 100, true),
        ((1 << 20) + 100, (1 << 20) - 100, false),
        (2 << 20, 300_000, true),
        ((2 << 20) + 300_000, (1 << 20) - 300_000, false),
    ]
}

/// A disk image with half-compressible data in its data extents.
fn image() -> Vec<u8> {
    let mut image = vec![0u8; VIRTUAL_SIZE];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for (start, len, is_data) in extents() {
        if !is_data {
            continue;
        }
        for (index, byte) in image[start..start + len].iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = if index % 2 == 0 {
                state.to_le_bytes()[0]
            } else {
                b'a'
            };
        }
    }
    image
}

fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let image_path = dir.join("disk.img");
    std::fs::write(&image_path, image()).unwrap();
    let list: Vec<String> = extents()
        .iter()
        .map(|(start, len, data)| format!("[{start}, {len}, {}]", u8::from(*data)))
        .collect();
    let extents_path = dir.join("extents.json");
    std::fs::write(&extents_path, format!("[{}]", list.join(", "))).unwrap();
    (image_path, extents_path)
}

/// Writes a stream with virtnbdbackup's code and returns its bytes.
fn its_stream(dir: &Path, name: &str, options: &[&str]) -> Vec<u8> {
    let (image_path, extents_path) = write_inputs(dir);
    let stream_path = dir.join(name);
    let mut args = vec![
        "write",
        image_path.to_str().unwrap(),
        extents_path.to_str().unwrap(),
        stream_path.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    run_peer(&args);
    std::fs::read(stream_path).unwrap()
}

/// Decodes `stream` in pieces of several sizes; all agree; returns the events.
fn decode(stream: &[u8]) -> Vec<Event> {
    let whole = push_whole(stream, Limits::new());
    assert_eq!(whole.end, Ok(()));
    for piece in [1usize << 20, 4096, 7] {
        let cuts: Vec<usize> = (piece..stream.len()).step_by(piece).collect();
        assert_eq!(push_split(stream, &cuts, Limits::new()), whole);
    }
    whole.events
}

#[test]
fn its_streams_decode_with_ours() {
    if !available() {
        return;
    }
    let dir = scratch("its");
    let source = image();
    let request = SMALL_REQUEST.to_string();
    let cases: [(&str, &[&str]); 4] = [
        ("raw", &[]),
        ("lz4-one-frame", &["--compress", "2"]),
        (
            "lz4-frames",
            &["--compress", "2", "--max-request", &request],
        ),
        ("incremental", &["--incremental"]),
    ];
    for (name, options) in cases {
        let stream = its_stream(&dir, name, options);
        let events = decode(&stream);
        let compressed = options.contains(&"--compress");
        let incremental = options.contains(&"--incremental");
        let Event::Metadata { metadata, .. } = &events[0] else {
            panic!("{name}: no metadata first");
        };
        assert_eq!(metadata.virtual_size, len64(VIRTUAL_SIZE), "{name}");
        assert_eq!(metadata.data_size, 370_100, "{name}");
        assert_eq!(metadata.incremental, incremental, "{name}");
        assert_eq!(metadata.stream_version, Some(2), "{name}");
        let expected_compression = compressed.then_some(Compression::Lz4 { level: Some(2) });
        assert_eq!(metadata.compression, expected_compression, "{name}");
        // Holes where the zero extents were; incremental streams carry none.
        let zeros = events
            .iter()
            .filter(|e| matches!(e, Event::Zero { .. }))
            .count();
        assert_eq!(zeros, if incremental { 0 } else { 3 }, "{name}");
        assert_eq!(restore(&events, &[]), source, "{name}: restored disk");
        if compressed {
            // One frame per extent, or one per NBD request piece when it is smaller.
            let max = if options.contains(&"--max-request") {
                SMALL_REQUEST
            } else {
                32 << 20
            };
            for event in &events {
                if let Event::Lz4 { start, len, frames } = event {
                    let start = usize::try_from(*start).unwrap();
                    let len = usize::try_from(*len).unwrap();
                    let pieces = if len >= max { len.div_ceil(max) } else { 1 };
                    assert_eq!(
                        frames.len(),
                        pieces,
                        "{name}: frames of the extent at {start}"
                    );
                    let mut at = start;
                    for frame in frames {
                        let bytes = decompress(frame);
                        assert_eq!(bytes, source[at..at + bytes.len()], "{name}: frame at {at}");
                        at += bytes.len();
                    }
                    assert_eq!(at, start + len);
                }
            }
            assert!(
                matches!(events.last(), Some(Event::Trailer { entries: 3, .. })),
                "{name}: the trailer is read and checked"
            );
        } else {
            assert_eq!(events.last(), Some(&Event::Stop), "{name}");
        }
    }
}

/// Our encoder's stream of the test disk: raw, or LZ4 with a frame per `piece` bytes.
fn our_stream(piece: Option<usize>) -> Vec<u8> {
    let source = image();
    let compression = piece.map(|_| Compression::Lz4 { level: Some(2) });
    let fields = MetadataFields {
        compression,
        date: "2024-01-01T00:00:00",
        ..MetadataFields::new(len64(VIRTUAL_SIZE), 370_100, "vda", "virtnbdbackup.0")
    };
    let mut encoder = Encoder::new();
    let mut stream = vec![0u8; 4096];
    let len = encoder.metadata(&fields, &mut stream).unwrap();
    stream.truncate(len);
    let mut header = [0u8; 40];
    let mut entries = Vec::new();
    for (start, len, is_data) in extents() {
        let bytes = &source[start..start + len];
        if !is_data {
            encoder.zero(len64(start), len64(len), &mut header).unwrap();
            stream.extend_from_slice(&header);
            continue;
        }
        encoder
            .begin_data(len64(start), len64(len), &mut header)
            .unwrap();
        stream.extend_from_slice(&header);
        match piece {
            None => {
                stream.extend_from_slice(bytes);
                encoder.advance_data(len64(len)).unwrap();
            }
            Some(piece) => {
                let mut sizes = Vec::new();
                for part in bytes.chunks(piece) {
                    let frame = compress(part);
                    let mut out = vec![0u8; frame.len()];
                    encoder
                        .lz4_frame(&frame, len64(part.len()), &mut out)
                        .unwrap();
                    stream.extend_from_slice(&out);
                    sizes.push(len64(frame.len()));
                }
                entries.push((len64(len), sizes));
            }
        }
        let mut crlf = [0u8; 2];
        encoder.end_data(&mut crlf).unwrap();
        stream.extend_from_slice(&crlf);
    }
    encoder.stop(&mut header).unwrap();
    stream.extend_from_slice(&header);
    if piece.is_some() {
        for (len, sizes) in &entries {
            let mut out = vec![0u8; 256];
            let written = encoder.trailer_entry(*len, sizes, &mut out).unwrap();
            stream.extend_from_slice(&out[..written]);
        }
        let mut out = [0u8; 64];
        let written = encoder.end_trailer(&mut out).unwrap();
        stream.extend_from_slice(&out[..written]);
    }
    encoder.finish().unwrap();
    stream
}

#[test]
fn our_streams_restore_with_its_module() {
    if !available() {
        return;
    }
    let dir = scratch("ours");
    let source = image();
    let request = SMALL_REQUEST.to_string();
    // Raw; LZ4 with one frame per extent (its default request size); LZ4 with a frame per
    // 64 KiB, restored with that request size, where it reads frame by frame from the
    // trailer's lists.
    let cases: [(&str, Option<usize>, &[&str]); 3] = [
        ("raw", None, &[]),
        ("lz4-one-frame", Some(VIRTUAL_SIZE), &[]),
        (
            "lz4-frames",
            Some(SMALL_REQUEST),
            &["--max-request", &request],
        ),
    ];
    for (name, piece, options) in cases {
        let stream = our_stream(piece);
        let stream_path = dir.join(name);
        std::fs::write(&stream_path, &stream).unwrap();
        // Its frame reader and trailer reader see our frames.
        let frames = run_peer(&["frames", stream_path.to_str().unwrap()]);
        let seen = String::from_utf8(frames.stdout).unwrap();
        let mut expected_frames: Vec<String> = extents()
            .iter()
            .map(|(start, len, data)| {
                format!(
                    "[\"{}\", {start}, {len}]",
                    if *data { "data" } else { "zero" }
                )
            })
            .collect();
        expected_frames.push("[\"stop\", 0, 0]".to_owned());
        assert!(
            seen.contains(&format!("\"frames\": [{}]", expected_frames.join(", "))),
            "{name}: {seen}"
        );
        assert!(seen.contains("\"virtualSize\": 3145728"), "{name}: {seen}");
        assert_eq!(
            seen.contains("\"trailer\""),
            piece.is_some(),
            "{name}: {seen}"
        );
        // Its restore loop rebuilds the disk.
        let restored_path = dir.join(format!("{name}.img"));
        let mut args = vec![
            "restore",
            stream_path.to_str().unwrap(),
            restored_path.to_str().unwrap(),
        ];
        args.extend_from_slice(options);
        run_peer(&args);
        let restored = std::fs::read(&restored_path).unwrap();
        assert!(
            restored == source,
            "{name}: its restore of our stream differs"
        );
        // And so does ours.
        assert_eq!(restore(&decode(&stream), &[]), source, "{name}");
    }
}

fn replace_once(stream: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = stream
        .windows(from.len())
        .position(|window| window == from)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(from)));
    stream[at..at + from.len()].copy_from_slice(to);
}

fn find(stream: &[u8], needle: &[u8]) -> usize {
    stream
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap()
}

fn end_of(stream: &[u8]) -> Result<(), DecodeError> {
    push_whole(stream, Limits::new()).end
}

#[test]
fn bad_input_from_its_streams_is_refused() {
    if !available() {
        return;
    }
    let dir = scratch("bad");
    let raw = its_stream(&dir, "raw", &[]);
    let lz4 = its_stream(&dir, "lz4", &["--compress", "2"]);
    let first_data = find(&raw, b"data ");

    // An unknown frame kind, which its restore would skip.
    let mut stream = raw.clone();
    stream.splice(
        first_data..first_data,
        b"junk 0000000000000000 0000000000000000\r\n"
            .iter()
            .copied(),
    );
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::UnknownFrame {
            kind: *b"junk",
            offset: len64(first_data)
        })
    );

    // An extent past the virtual size: its restore writes it past the end of the disk.
    let mut stream = raw.clone();
    replace_once(
        &mut stream,
        b"\"virtualSize\": 3145728",
        b"\"virtualSize\": 2100000",
    );
    // The 300,000-byte extent at 2 MiB.
    let offset = len64(find(&stream, format!("data {:016x}", 2 << 20).as_bytes()));
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::ExtentPastEnd {
            start: 2 << 20,
            len: 300_000,
            virtual_size: 2_100_000,
            offset
        })
    );
    let path = dir.join("past-end");
    std::fs::write(&path, &stream).unwrap();
    let restored = dir.join("past-end.img");
    run_peer(&[
        "restore",
        path.to_str().unwrap(),
        restored.to_str().unwrap(),
    ]);
    assert!(
        std::fs::metadata(&restored).unwrap().len() > 2_100_000,
        "its restore writes past the virtual size"
    );

    // A payload not followed by CRLF.
    let mut stream = raw.clone();
    let crlf = first_data + 40 + 70_000;
    stream[crlf..crlf + 2].copy_from_slice(b"XX");
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::MissingCrlf {
            offset: len64(crlf)
        })
    );

    // dataSize that the data frames do not add up to.
    let mut stream = raw.clone();
    replace_once(
        &mut stream,
        b"\"dataSize\": 370100",
        b"\"dataSize\": 370101",
    );
    let stop = len64(find(&stream, b"stop "));
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::DataSizeMismatch {
            declared: 370_101,
            actual: 370_100,
            offset: stop
        })
    );

    // Anything after stop in an uncompressed stream.
    let mut stream = raw.clone();
    stream.extend_from_slice(b"\r\n");
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::TrailingBytes {
            offset: len64(raw.len())
        })
    );

    // A trailer that disagrees with the frames (same length, one size off).
    let trailer_at = find(&lz4, b"stop ") + 40;
    let comp_at = lz4.len() - 40;
    let mut stream = lz4.clone();
    let digit = stream[trailer_at..comp_at]
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap()
        + trailer_at;
    stream[digit] = if stream[digit] == b'9' {
        b'8'
    } else {
        stream[digit] + 1
    };
    assert_eq!(
        end_of(&stream),
        Err(DecodeError::TrailerMismatch {
            offset: len64(comp_at)
        })
    );

    // A corrupted LZ4 block: the framing still holds, so the core hands the frame out;
    // the block checksum is the decompressor's to check, and it fails.
    let mut stream = lz4.clone();
    let payload = find(&stream, b"data ") + 40;
    let inside_block = payload + 30;
    stream[inside_block] ^= 0x55;
    let outcome = push_whole(&stream, Limits::new());
    assert_eq!(outcome.end, Ok(()));
    let Some(Event::Lz4 { frames, .. }) = outcome.events.get(1) else {
        panic!("no compressed payload");
    };
    let mut out = Vec::new();
    let result = std::io::Read::read_to_end(
        &mut lz4_flex::frame::FrameDecoder::new(&frames[0][..]),
        &mut out,
    );
    assert!(result.is_err(), "a corrupted block must fail its checksum");

    // Cut inside an LZ4 frame, as from a pipe that closed early.
    let cut = payload + 1000;
    assert!(matches!(
        end_of(&lz4[..cut]),
        Err(DecodeError::Truncated { offset, .. }) if offset == len64(cut)
    ));
}
