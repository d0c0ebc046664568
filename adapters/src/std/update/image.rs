//! Opening the images an update is made from or applied to: a file, a block device, a
//! partition of a GPT or MBR disk image (`disk.img#2`), or a compressed file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// How a file's first bytes say it is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (or in a format not recognised).
    None,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// gzip (`1f 8b`).
    Gzip,
    /// xz (`fd 37 7a 58 5a 00`); recognised to be refused clearly.
    Xz,
}

impl Compression {
    /// The compression that `magic`, a file's first bytes, announces.
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Opens `file`, decompressing it into an anonymous temporary file when its first bytes
/// say it is zstd or gzip, so that what is returned is always seekable and plain.
///
/// # Errors
///
/// An I/O error, a corrupt compressed file, or `Unsupported` for xz.
pub fn open_plain(mut file: File) -> io::Result<File> {
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let compression = Compression::detect(&magic[..n]);
    let mut plain = match compression {
        Compression::None => return Ok(file),
        Compression::Xz => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "xz-compressed input is not supported: decompress it with `xz -d` first",
            ))
        }
        Compression::Zstd | Compression::Gzip => tempfile::tempfile()?,
    };
    let reader = io::BufReader::new(file);
    if compression == Compression::Zstd {
        io::copy(&mut zstd::Decoder::with_buffer(reader)?, &mut plain)?;
    } else {
        io::copy(
            &mut flate2::bufread::MultiGzDecoder::new(reader),
            &mut plain,
        )?;
    }
    plain.seek(SeekFrom::Start(0))?;
    Ok(plain)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// An image to read: a window of a plain file, `Read + Seek` within the window.
///
/// ```
/// use std::io::Read;
/// use splitfdstream_adapters::std::update::Image;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("old.img");
/// std::fs::write(&path, b"old image")?;
/// let mut image = Image::open(&path)?;
/// assert_eq!(image.len(), 9);
/// let mut bytes = Vec::new();
/// image.read_to_end(&mut bytes)?;
/// assert_eq!(bytes, b"old image");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Image {
    file: File,
    start: u64,
    len: u64,
    position: u64,
}

impl Image {
    /// Opens `spec`: a path to a file or a block device, possibly zstd- or
    /// gzip-compressed, or `PATH#N` for partition `N` (from 1, as `sgdisk` and `fdisk`
    /// number them) of a GPT or MBR disk image at `PATH`. A path that exists is always
    /// taken as a path, `#` and all.
    ///
    /// # Errors
    ///
    /// An I/O error, `NotFound` for a partition the table does not have, `InvalidData`
    /// when `PATH` has no partition table, `Unsupported` for xz.
    pub fn open(spec: &Path) -> io::Result<Image> {
        if let Some((path, number)) = partition_spec(spec) {
            return Image::partition(&path, number);
        }
        let mut file = open_plain(File::open(spec)?)?;
        // Block devices report their size through seeking, not metadata.
        let len = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Image {
            file,
            start: 0,
            len,
            position: 0,
        })
    }

    /// Partition `number` of the disk image at `path`: GPT first, then MBR.
    fn partition(path: &Path, number: u32) -> io::Result<Image> {
        let (start, len) = match gpt_partition(path, number)? {
            Some(window) => window,
            None => mbr_partition(path, number)?,
        };
        let mut file = File::open(path)?;
        let disk_len = file.seek(SeekFrom::End(0))?;
        if start.checked_add(len).is_none_or(|end| end > disk_len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: partition {number} ends past the end of the disk image",
                    path.display()
                ),
            ));
        }
        Ok(Image {
            file,
            start,
            len,
            position: 0,
        })
    }

    /// The image's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `PATH#N` split into its parts, when `spec` does not exist as given.
fn partition_spec(spec: &Path) -> Option<(PathBuf, u32)> {
    if spec.exists() {
        return None;
    }
    let text = spec.to_str()?;
    let (path, number) = text.rsplit_once('#')?;
    let number = number.parse().ok().filter(|&n| n > 0)?;
    Some((PathBuf::from(path), number))
}

fn gpt_partition(path: &Path, number: u32) -> io::Result<Option<(u64, u64)>> {
    let Ok(disk) = gpt::GptConfig::new().writable(false).open(path) else {
        return Ok(None);
    };
    let block = *disk.logical_block_size();
    let Some(partition) = disk.partitions().get(&number) else {
        return Err(not_found(path, number, "GPT"));
    };
    let start = partition.bytes_start(block).map_err(io::Error::other)?;
    let len = partition.bytes_len(block).map_err(io::Error::other)?;
    Ok(Some((start, len)))
}

fn mbr_partition(path: &Path, number: u32) -> io::Result<(u64, u64)> {
    const SECTOR: u32 = 512;
    let mut file = File::open(path)?;
    let mbr = mbrman::MBR::read_from(&mut file, SECTOR).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no GPT or MBR partition table: {error}", path.display()),
        )
    })?;
    let wanted = usize::try_from(number).map_err(io::Error::other)?;
    let entry = mbr
        .iter()
        .find(|(index, entry)| *index == wanted && entry.is_used())
        .map(|(_, entry)| entry)
        .ok_or_else(|| not_found(path, number, "MBR"))?;
    let sector = u64::from(SECTOR);
    Ok((
        u64::from(entry.starting_lba) * sector,
        u64::from(entry.sectors) * sector,
    ))
}

fn not_found(path: &Path, number: u32, table: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{}: the {table} partition table has no partition {number}",
            path.display()
        ),
    )
}

impl Read for Image {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.position);
        let want = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        self.file
            .seek(SeekFrom::Start(self.start + self.position))?;
        let n = self.file.read(&mut buf[..want])?;
        self.position += u64::try_from(n).map_err(io::Error::other)?;
        Ok(n)
    }
}

impl Seek for Image {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let position = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = position.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the image",
            )
        })?;
        Ok(self.position)
    }
}
