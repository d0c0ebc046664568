//! The compressed input: buffered, counted, and able to show the next bytes without
//! consuming them, so that a member's decoder stops exactly at the member's end.

use ::std::io::{self, BufRead, Read};
use ::std::vec::Vec;

use crate::std::read_retrying;

const BUFFER: usize = 256 * 1024;

/// A buffered reader that counts what it hands out and remembers whether the input ended.
#[derive(Debug)]
pub(crate) struct Raw<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes consumed so far: the input offset of the next byte.
    offset: u64,
    /// A read of the input returned nothing: its end is reached.
    eof: bool,
}

impl<R: Read> Raw<R> {
    pub(crate) fn new(inner: R) -> Raw<R> {
        Raw {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// The input offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether a read found the input's end.
    pub(crate) fn saw_eof(&self) -> bool {
        self.eof
    }

    /// The next `n` bytes (fewer only at the input's end), not consumed.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(self.buf.len());
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                let got = read_retrying(&mut self.inner, &mut self.buf[self.end..])?;
                if got == 0 {
                    self.eof = true;
                    break;
                }
                self.end += got;
            }
        }
        let have = (self.end - self.start).min(n);
        Ok(&self.buf[self.start..self.start + have])
    }
}

impl<R: Read> Read for Raw<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Raw<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = read_retrying(&mut self.inner, &mut self.buf)?;
            if self.end == 0 {
                self.eof = true;
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.start);
        self.start += amount;
        self.offset += u64::try_from(amount).unwrap_or(0);
    }
}
