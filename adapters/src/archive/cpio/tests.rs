use super::*;
use crate::decompress::Compression;
use ::std::io::Write;

#[derive(Default)]
struct Record {
    pieces: Vec<(bool, Vec<u8>)>,
}

impl Sink for Record {
    type Error = io::Error;
    fn inline(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pieces.push((false, bytes.to_vec()));
        Ok(())
    }
    fn content(&mut self, content: &mut dyn Read, _len: u64) -> io::Result<()> {
        let mut bytes = Vec::new();
        content.read_to_end(&mut bytes)?;
        self.pieces.push((true, bytes));
        Ok(())
    }
}

impl Record {
    fn joined(&self) -> Vec<u8> {
        self.pieces.iter().flat_map(|(_, b)| b.clone()).collect()
    }
    fn contents(&self) -> Vec<Vec<u8>> {
        self.pieces
            .iter()
            .filter(|(c, _)| *c)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

const REGULAR: u32 = 0o100_644;
const SYMLINK: u32 = 0o120_777;
const DIRECTORY: u32 = 0o040_755;

fn member(out: &mut Vec<u8>, magic: &str, name: &[u8], mode: u32, nlink: u32, data: &[u8]) {
    let check = if magic == "070702" && mode & 0o170_000 == 0o100_000 {
        checksum(0, data)
    } else {
        0
    };
    let header = format!(
        "{magic}{:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{check:08x}",
        7,
        0,
        0,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
    );
    let start = out.len();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name);
    out.push(0);
    out.resize(start + (out.len() - start).next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(start + (out.len() - start).next_multiple_of(4), 0);
}

fn archive(magic: &str) -> Vec<u8> {
    let mut out = Vec::new();
    member(&mut out, magic, b"dir", DIRECTORY, 2, b"");
    member(&mut out, magic, b"dir/a", REGULAR, 1, b"hello\n");
    member(&mut out, magic, b"empty", REGULAR, 1, b"");
    member(&mut out, magic, b"link", SYMLINK, 1, b"dir/a");
    // Hard links: the data on the last one only.
    member(&mut out, magic, b"hard1", REGULAR, 2, b"");
    member(&mut out, magic, b"hard2", REGULAR, 2, b"linked data");
    member(&mut out, magic, b"caf\xe9", REGULAR, 1, b"latin-1 name");
    member(&mut out, magic, TRAILER, 0, 1, b"");
    // As GNU cpio does, to a 512-byte block.
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

/// Walks `input`, whose decompressed concatenation is `plain`.
fn walk_to(input: &[u8], plain: &[u8]) -> io::Result<(Walk, Record)> {
    let mut record = Record::default();
    let walk = walk_image(&mut Segments::new(input)?, &mut record)?;
    assert!(record.joined() == plain, "every byte, in order");
    Ok((walk, record))
}

fn run(input: &[u8]) -> io::Result<(Walk, Record)> {
    walk_to(input, input)
}

fn problem(input: &[u8]) -> Problem {
    let mut record = Record::default();
    let error = Segments::new(input)
        .and_then(|mut segments| walk_image(&mut segments, &mut record))
        .map(|_| ())
        .unwrap_err();
    let inner = error.get_ref().expect("a cpio error");
    inner
        .downcast_ref::<CpioError>()
        .unwrap_or_else(|| panic!("{error}"))
        .problem()
        .clone()
}

#[test]
fn newc_and_crc_split_regular_data_from_metadata() {
    for magic in ["070701", "070702"] {
        let input = archive(magic);
        let (walk, record) = run(&input).unwrap();
        assert_eq!((walk.archives, walk.members), (1, 8));
        assert_eq!(walk.content_members, 3);
        assert_eq!(
            record.contents(),
            [&b"hello\n"[..], b"linked data", b"latin-1 name"]
        );
        assert_eq!(walk.total_bytes, u64::try_from(input.len()).unwrap());
    }
}

#[test]
fn header_fields_are_parsed() {
    let mut out = Vec::new();
    member(&mut out, "070702", b"f", REGULAR, 1, b"abc");
    let header = Header::parse(out[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!(header.format, Format::Crc);
    assert_eq!((header.ino, header.mode, header.filesize), (7, REGULAR, 3));
    assert_eq!(header.check, 97 + 98 + 99);
    assert_eq!(header.namesize, 2);
    assert_eq!(header.name_span(), 2);
    assert_eq!(header.data_padding(), 1);
    assert!(header.is_regular());
}

#[test]
fn crc_mismatch_names_the_member() {
    let mut input = archive("070702");
    let at = input.windows(6).position(|w| w == b"hello\n").unwrap();
    input[at] = b'j';
    match problem(&input) {
        Problem::Checksum { name, .. } => assert_eq!(name, "dir/a"),
        other => panic!("{other}"),
    }
    // The same change in a newc archive is just data.
    let mut newc = archive("070701");
    let at = newc.windows(6).position(|w| w == b"hello\n").unwrap();
    newc[at] = b'j';
    run(&newc).unwrap();
}

#[test]
fn odc_and_old_binary_are_refused_by_name() {
    let mut odc = b"070707".to_vec();
    odc.resize(512, b'0');
    assert_eq!(problem(&odc), Problem::Odc);
    let mut binary = vec![0xc7, 0x71];
    binary.resize(512, 0);
    assert_eq!(problem(&binary), Problem::OldBinary);
    assert!(Problem::Odc.to_string().contains("070707"));
}

#[test]
fn bad_headers_names_and_sizes() {
    let input = archive("070701");
    // A truncated header.
    assert_eq!(problem(&input[..50]), Problem::TruncatedHeader { got: 50 });
    // A size field that is not hex.
    let mut bad = input.clone();
    bad[6 + 8 * 6] = b'g';
    assert_eq!(problem(&bad), Problem::NotHex { field: "filesize" });
    // A name without its NUL: namesize one short of the NUL.
    let mut bad = Vec::new();
    member(&mut bad, "070701", b"abc", REGULAR, 1, b"");
    bad[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000003");
    assert_eq!(problem(&bad), Problem::NameWithoutNul);
    // A member running past the end.
    let at = input.windows(6).position(|w| w == b"hello\n").unwrap();
    match problem(&input[..at + 3]) {
        Problem::PastEnd { name, needed, got } => {
            assert_eq!((name.as_str(), needed, got), ("dir/a", 6, 3));
        }
        other => panic!("{other}"),
    }
    // A name size of zero.
    let mut bad = input.clone();
    bad[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000000");
    assert_eq!(problem(&bad), Problem::NameSize(0));
}

fn zstd(plain: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(plain, 1).unwrap()
}

fn gzip(plain: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(plain).unwrap();
    e.finish().unwrap()
}

#[test]
fn images_mix_plain_and_compressed_archives() {
    let early = archive("070701");
    let main = archive("070702");
    let mut image = early.clone();
    image.extend_from_slice(&[0; 512]);
    let main_at = image.len();
    image.extend(zstd(&main));
    let second_at = image.len();
    image.extend(gzip(&archive("070701")));
    let mut plain = early.clone();
    plain.extend_from_slice(&[0; 512]);
    plain.extend_from_slice(&main);
    plain.extend(archive("070701"));
    let (walk, record) = walk_to(&image, &plain).unwrap();
    assert_eq!(walk.archives, 3);
    assert_eq!(record.contents().len(), 9);
    let segments: Vec<_> = walk
        .segments
        .iter()
        .map(|s| (s.offset, s.compression))
        .collect();
    assert_eq!(
        segments,
        [
            (0, None),
            (u64::try_from(main_at).unwrap(), Some(Compression::Zstd)),
            (u64::try_from(second_at).unwrap(), Some(Compression::Gzip)),
        ]
    );
    assert_eq!(walk.segments[1].len, u64::try_from(main.len()).unwrap());
    // A compressed member holding several archives and padding.
    let mut several = main.clone();
    several.extend_from_slice(&[0; 4]);
    several.extend_from_slice(&early);
    let (walk, _) = walk_to(&zstd(&several), &several).unwrap();
    assert_eq!(walk.archives, 2);
}

#[test]
fn junk_after_or_within_a_compressed_member_is_an_error() {
    let mut image = zstd(&archive("070701"));
    let junk_at = image.len();
    image.extend_from_slice(b"junk after the member");
    let mut record = Record::default();
    let error = walk_image(&mut Segments::new(&image[..]).unwrap(), &mut record).unwrap_err();
    let cpio = error
        .get_ref()
        .unwrap()
        .downcast_ref::<CpioError>()
        .unwrap();
    let input_offset = u64::try_from(junk_at).unwrap();
    assert_eq!(cpio.problem(), &Problem::NotAnImagePart { input_offset });
    // The offset is in the decompressed input: where the member's output ended.
    assert_eq!(
        cpio.offset(),
        u64::try_from(archive("070701").len()).unwrap()
    );

    let mut inside = archive("070701");
    inside.extend_from_slice(b"junk");
    assert_eq!(problem(&zstd(&inside)), Problem::JunkInMember);
    // An archive may not run on from one compressed member into the next.
    let whole = archive("070701");
    let mut split = zstd(&whole[..200]);
    split.extend(zstd(&whole[200..]));
    assert!(matches!(
        problem(&split),
        Problem::PastEnd { .. } | Problem::TruncatedHeader { .. }
    ));
}

#[test]
fn mutated_images_never_panic() {
    let mut image = archive("070702");
    image.extend(gzip(&archive("070701")));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % 1_000_000).unwrap()
    };
    for _ in 0..2000 {
        let mut mutated = image.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() % mutated.len();
            mutated[at] = u8::try_from(next() % 256).unwrap();
        }
        let cut = mutated.len() - next() % 300;
        let mut record = Record::default();
        if let Ok(mut segments) = Segments::new(&mutated[..cut]) {
            let _ = walk_image(&mut segments, &mut record);
        }
    }
}
