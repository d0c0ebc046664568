//! The legacy LZ4 format (`lz4 -l`, the kernel's LZ4 for initramfs images): a magic
//! number, then blocks of a 4-byte little-endian compressed size and an independent LZ4
//! block of at most 8 MiB decompressed. The member runs to the input's end; a repeated
//! magic number (concatenated legacy files) is skipped, as the kernel does.

use ::std::io::{self, BufRead, Read};
use ::std::vec::Vec;

use super::raw::Raw;

/// The legacy magic number, little-endian.
pub(crate) const MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// Decompressed size of every block but the last.
const BLOCK: usize = 8 << 20;

/// A legacy LZ4 decoder over the raw input, positioned after the magic number.
#[derive(Debug)]
pub(crate) struct Lz4Legacy<R> {
    raw: Raw<R>,
    compressed: Vec<u8>,
    block: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: Read> Lz4Legacy<R> {
    pub(crate) fn new(mut raw: Raw<R>) -> Lz4Legacy<R> {
        raw.consume(MAGIC.len());
        Lz4Legacy {
            raw,
            compressed: Vec::new(),
            block: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn raw(&self) -> &Raw<R> {
        &self.raw
    }

    pub(crate) fn into_inner(self) -> Raw<R> {
        self.raw
    }

    /// Decompresses the next block; `false` at the input's end.
    fn next_block(&mut self) -> io::Result<bool> {
        loop {
            let size = self.raw.peek(4)?;
            if size.is_empty() {
                return Ok(false);
            }
            let Ok(size) = <[u8; 4]>::try_from(size) else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            self.raw.consume(4);
            if size == MAGIC {
                continue;
            }
            let len = usize::try_from(u32::from_le_bytes(size)).unwrap_or(usize::MAX);
            if len > lz4_flex::block::get_maximum_output_size(BLOCK) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a block of {len} bytes is longer than a legacy block can be"),
                ));
            }
            self.compressed.resize(len, 0);
            self.raw.read_exact(&mut self.compressed)?;
            self.block.resize(BLOCK, 0);
            let got = lz4_flex::block::decompress_into(&self.compressed, &mut self.block)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            self.start = 0;
            self.end = got;
            if got > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for Lz4Legacy<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && !self.next_block()? {
            return Ok(0);
        }
        let n = (self.end - self.start).min(out.len());
        out[..n].copy_from_slice(&self.block[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}
