//! Shared helpers for the adapter tests: a reference model of the format and readers and
//! writers that misbehave in every allowed way (short, one byte, interrupted).

// Each test crate uses a different subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

#[cfg(all(feature = "std", unix))]
pub mod fd_limit;
#[cfg(any(feature = "async", feature = "tokio-1"))]
pub mod pending;

/// One chunk of a stream, as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Inline(Vec<u8>),
    External(u64),
}

/// Encodes `items` by hand, independently of the crate's writers.
pub fn encode(items: &[Item]) -> Vec<u8> {
    let mut stream = Vec::new();
    for item in items {
        match item {
            Item::Inline(bytes) => {
                let len = i64::try_from(bytes.len()).unwrap();
                stream.extend_from_slice(&(-len).to_le_bytes());
                stream.extend_from_slice(bytes);
            }
            Item::External(index) => stream.extend_from_slice(&index.to_le_bytes()),
        }
    }
    stream
}

/// The bytes `items` rebuild to with `sources`.
pub fn rebuild(items: &[Item], sources: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Inline(bytes) => out.extend_from_slice(bytes),
            Item::External(index) => {
                out.extend_from_slice(&sources[usize::try_from(*index).unwrap()]);
            }
        }
    }
    out
}

/// Sources of 0..400 bytes (some empty), and chunk lists referring only to them.
pub fn layer() -> impl Strategy<Value = (Vec<Item>, Vec<Vec<u8>>)> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..8).prop_flat_map(
        |sources| {
            let count = u64::try_from(sources.len()).unwrap();
            let item = prop_oneof![
                prop::collection::vec(any::<u8>(), 1..600).prop_map(Item::Inline),
                (0..count).prop_map(Item::External),
            ];
            (prop::collection::vec(item, 0..40), Just(sources))
        },
    )
}

/// Read sizes: 0 stands for an `Interrupted` error.
pub fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![1 => Just(0usize), 6 => 1usize..70, 1 => 70usize..5000],
        1..20,
    )
    .prop_map(|mut sizes| {
        // At least one read must make progress.
        sizes.push(1);
        sizes
    })
}

/// A `std::io::Read` that returns reads of the next size in `sizes` (cycling), where 0
/// means an `Interrupted` error.
pub struct Jittery<R> {
    pub inner: R,
    pub sizes: Vec<usize>,
    pub at: usize,
}

impl<R> Jittery<R> {
    pub fn new(inner: R, sizes: Vec<usize>) -> Jittery<R> {
        assert!(sizes.iter().any(|&s| s > 0));
        Jittery {
            inner,
            sizes,
            at: 0,
        }
    }

    fn next_size(&mut self) -> usize {
        let size = self.sizes[self.at % self.sizes.len()];
        self.at += 1;
        size
    }
}

/// One byte per read.
pub fn one_byte<R>(inner: R) -> Jittery<R> {
    Jittery::new(inner, vec![1])
}

impl<R: std::io::Read> std::io::Read for Jittery<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.next_size() {
            0 => Err(std::io::ErrorKind::Interrupted.into()),
            size => {
                let n = size.min(buf.len());
                self.inner.read(&mut buf[..n])
            }
        }
    }
}

impl<W: std::io::Write> std::io::Write for Jittery<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.next_size() {
            0 => Err(std::io::ErrorKind::Interrupted.into()),
            size => {
                let n = size.min(buf.len());
                self.inner.write(&buf[..n])
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R> embedded_io_07::ErrorType for Jittery<R> {
    type Error = embedded_io_07::ErrorKind;
}

impl embedded_io_07::Read for Jittery<&[u8]> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, embedded_io_07::ErrorKind> {
        match self.next_size() {
            0 => Err(embedded_io_07::ErrorKind::Interrupted),
            size => {
                let n = size.min(buf.len()).min(self.inner.len());
                buf[..n].copy_from_slice(&self.inner[..n]);
                self.inner = &self.inner[n..];
                Ok(n)
            }
        }
    }
}

impl embedded_io_07::Write for Jittery<Vec<u8>> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, embedded_io_07::ErrorKind> {
        match self.next_size() {
            0 => Err(embedded_io_07::ErrorKind::Interrupted),
            size => {
                let n = size.min(buf.len());
                self.inner.extend_from_slice(&buf[..n]);
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> Result<(), embedded_io_07::ErrorKind> {
        Ok(())
    }
}

/// A source whose size cannot be known up front (like a pipe) and that hands out one byte
/// per read: no read ever ends exactly where a size would.
#[cfg(feature = "std")]
pub struct Trickle(pub Vec<u8>);

#[cfg(feature = "std")]
impl splitfdstream_adapters::std::ReadAt for Trickle {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.as_slice().read_at(&mut buf[..n], offset)
    }

    fn size(&self) -> std::io::Result<Option<u64>> {
        Ok(None)
    }
}

/// A reconstruction error, typed or inside the `io::Error` of a `Read` adapter.
#[cfg(feature = "std")]
pub trait AsRebuildError: std::fmt::Debug {
    /// The typed error.
    fn typed(&self) -> &splitfdstream_adapters::std::Error;
}

#[cfg(feature = "std")]
impl AsRebuildError for splitfdstream_adapters::std::Error {
    fn typed(&self) -> &splitfdstream_adapters::std::Error {
        self
    }
}

#[cfg(feature = "std")]
impl AsRebuildError for std::io::Error {
    fn typed(&self) -> &splitfdstream_adapters::std::Error {
        splitfdstream_adapters::std::Error::from_io(self)
            .unwrap_or_else(|| panic!("not a reconstruction error: {self:?}"))
    }
}

/// The [`SourceError`](splitfdstream_adapters::SourceError) of a failed source check.
#[cfg(feature = "std")]
pub fn source_error(error: &impl AsRebuildError) -> splitfdstream_adapters::SourceError {
    use splitfdstream_adapters::std::SourceFault;
    match error.typed().source_failure().map(|f| f.fault()) {
        Some(SourceFault::Check(error)) => *error,
        _ => panic!("not a source check error: {error:?}"),
    }
}

/// The [`SourceFailure`](splitfdstream_adapters::std::SourceFailure) of a source that could
/// not be opened or read.
#[cfg(feature = "std")]
pub fn source_io_error(error: &impl AsRebuildError) -> &splitfdstream_adapters::std::SourceFailure {
    use splitfdstream_adapters::std::SourceFault;
    match error.typed().source_failure() {
        Some(failure) if matches!(failure.fault(), SourceFault::Io(_)) => failure,
        _ => panic!("not a source i/o error: {error:?}"),
    }
}
