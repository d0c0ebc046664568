use super::*;
use ::std::io::Write;

fn sample(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Compressible, but not trivially.
            if i % 7 < 4 {
                b'a' + state.to_be_bytes()[0] % 4
            } else {
                state.to_be_bytes()[1]
            }
        })
        .collect()
}

fn compress(compression: Compression, plain: &[u8]) -> Vec<u8> {
    match compression {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new().content_checksum(true);
            let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Lz4Legacy => {
            let mut out = lz4_legacy::MAGIC.to_vec();
            for block in plain.chunks(8 << 20) {
                let compressed = lz4_flex::block::compress(block);
                out.extend_from_slice(&u32::try_from(compressed.len()).unwrap().to_le_bytes());
                out.extend_from_slice(&compressed);
            }
            out
        }
    }
}

const ALL: [Compression; 6] = [
    Compression::Gzip,
    Compression::Zstd,
    Compression::Xz,
    Compression::Bzip2,
    Compression::Lz4,
    Compression::Lz4Legacy,
];

fn decompress(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    Decompressed::new(input)?.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn every_format_is_recognised_and_decompressed() {
    let plain = sample(300_000, 1);
    for compression in ALL {
        let compressed = compress(compression, &plain);
        let mut input = Decompressed::new(&compressed[..]).unwrap();
        assert_eq!(input.compression(), Some(compression));
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        assert!(out == plain, "{compression}");
    }
}

#[test]
fn a_plain_input_passes_through() {
    let plain = b"plain bytes, no magic".to_vec();
    let input = Decompressed::new(&plain[..]).unwrap();
    assert_eq!(input.compression(), None);
    assert_eq!(decompress(&plain).unwrap(), plain);
    assert_eq!(decompress(b"").unwrap(), b"");
}

#[test]
fn members_follow_one_another_in_any_format() {
    let mut compressed = Vec::new();
    let mut plain = Vec::new();
    // Legacy LZ4 runs to the input's end, so it can only come last.
    for (i, compression) in ALL[..5].iter().enumerate() {
        let part = sample(10_000 + i, u32::try_from(i).unwrap());
        compressed.extend(compress(*compression, &part));
        plain.extend(part);
        if *compression == Compression::Zstd {
            // A skippable frame between members.
            compressed.extend_from_slice(&[0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        }
    }
    compressed.extend(compress(Compression::Gzip, b"second gzip member"));
    plain.extend_from_slice(b"second gzip member");
    // Reordered so that the legacy member is last.
    let legacy = compress(Compression::Lz4Legacy, b"legacy");
    compressed.extend(legacy);
    plain.extend_from_slice(b"legacy");
    let mut input = Decompressed::new(&compressed[..]).unwrap();
    let mut out = Vec::new();
    input.read_to_end(&mut out).unwrap();
    assert!(out.ends_with(b"second gzip memberlegacy"));
    let formats: Vec<_> = input.segments().iter().map(|s| s.compression).collect();
    assert_eq!(formats.len(), 7);
    assert_eq!(formats[6], Some(Compression::Lz4Legacy));
    assert_eq!(formats[0], Some(Compression::Gzip));
    let spans: u64 = input.segments().iter().map(|s| s.compressed_len).sum();
    assert_eq!(spans + 11, u64::try_from(compressed.len()).unwrap());
}

#[test]
fn legacy_lz4_skips_a_repeated_magic_number() {
    let mut compressed = compress(Compression::Lz4Legacy, b"first ");
    compressed.extend(compress(Compression::Lz4Legacy, b"second"));
    assert_eq!(decompress(&compressed).unwrap(), b"first second");
}

#[test]
fn truncated_members_are_errors_naming_the_format() {
    let plain = sample(200_000, 2);
    for compression in ALL {
        let compressed = compress(compression, &plain);
        let len = compressed.len();
        for cut in [7, 20, len / 3, len / 2, len - 5, len - 1] {
            let Err(error) = decompress(&compressed[..cut]) else {
                panic!("{compression} cut at {cut}: not detected");
            };
            let message = error.to_string();
            assert!(
                message.contains(compression.name()) && message.contains("offset"),
                "{compression} cut at {cut}: {message}"
            );
        }
    }
}

#[test]
fn lz4_frames_cut_at_a_block_boundary_are_truncated() {
    let plain = sample(1 << 20, 3);
    let compressed = compress(Compression::Lz4, &plain);
    // Without its 4-byte end mark (and checksum, if any), the frame ends on a block.
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(&plain).unwrap();
    let unfinished = e.into_inner();
    assert!(unfinished.len() < compressed.len());
    let error = decompress(&unfinished).unwrap_err();
    assert!(error.to_string().contains("truncated lz4"), "{error}");
}

#[test]
fn corrupt_members_are_errors() {
    let plain = sample(100_000, 4);
    // Legacy LZ4 has no checksum to catch a changed literal.
    for compression in &ALL[..5] {
        let compression = *compression;
        let mut compressed = compress(compression, &plain);
        let middle = compressed.len() / 2;
        for byte in &mut compressed[middle..middle + 16] {
            *byte ^= 0x5a;
        }
        let Err(error) = decompress(&compressed) else {
            panic!("{compression}: corruption not detected");
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{compression}");
        assert!(
            error.to_string().contains(compression.name()),
            "{compression}: {error}"
        );
    }
}

#[test]
fn junk_after_a_member_is_an_error_at_its_offset() {
    for compression in ALL {
        if compression == Compression::Lz4Legacy {
            continue; // it runs to the end: junk there is a corrupt block
        }
        let mut compressed = compress(compression, b"member");
        let junk_at = compressed.len();
        compressed.extend_from_slice(b"junk!junk!");
        let error = decompress(&compressed).unwrap_err();
        let inner = error.get_ref().unwrap();
        let error = inner.downcast_ref::<DecompressError>().unwrap();
        assert_eq!(error.problem(), Problem::Junk, "{compression}");
        assert_eq!(error.offset(), u64::try_from(junk_at).unwrap());
        assert_eq!(error.compression(), compression);
    }
}

#[test]
fn unsupported_formats_are_named() {
    let error = decompress(&[0x5d, 0, 0, 0x80, 0, 0xff]).unwrap_err();
    assert!(error.to_string().contains("lzma"), "{error}");
}

#[test]
fn segments_stop_at_each_member_and_let_plain_bytes_follow() {
    let mut image = b"plain".to_vec();
    image.extend(compress(Compression::Xz, b"one"));
    image.extend_from_slice(b"\0\0\0\0");
    image.extend(compress(Compression::Gzip, b"two"));
    let mut segments = Segments::new(&image[..]).unwrap();
    let mut plain = [0u8; 5];
    segments.read_exact(&mut plain).unwrap();
    let xz = segments.next_segment().unwrap().unwrap();
    assert_eq!((xz.offset, xz.compression), (5, Some(Compression::Xz)));
    let mut one = Vec::new();
    segments.read_to_end(&mut one).unwrap();
    assert_eq!(one, b"one");
    let padding = segments.next_segment().unwrap().unwrap();
    assert_eq!(padding.compression, None);
    let mut zeros = [1u8; 4];
    segments.read_exact(&mut zeros).unwrap();
    assert_eq!(zeros, [0; 4]);
    let gzip = segments.next_segment().unwrap().unwrap();
    assert_eq!(gzip.compression, Some(Compression::Gzip));
    let mut two = Vec::new();
    segments.read_to_end(&mut two).unwrap();
    assert_eq!(two, b"two");
    assert!(segments.next_segment().unwrap().is_none());
    let spans: Vec<_> = segments
        .segments()
        .iter()
        .map(|s| (s.offset, s.compressed_len, s.len))
        .collect();
    assert_eq!(spans[0], (0, 5, 5));
    assert_eq!(spans[2].2, 4);
    assert_eq!(spans[3].2, 3);
}
