//! The I/O loops every driver needs, written once for blocking and async I/O alike.
//!
//! `embedded-io`, `embedded-io-async`, `std::io` and tokio spell `read` and `write` the same
//! way and differ only in `.await`, so each loop is a macro that expands to the same code
//! with or without it. What to do with the bytes is decided elsewhere (the core `Decoder`,
//! [`crate::drive`]); these only retry and continue.

/// Why a [`write_all!`] loop stopped.
#[derive(Debug)]
pub(crate) enum WriteAllError<E> {
    /// The writer failed.
    Io(E),
    /// The writer accepted no bytes for a non-empty write.
    WriteZero,
}

/// Evaluates a read (`$read`, which may `.await`) until it is not interrupted, as judged
/// by `$interrupted(&error)`; a count above `$len` is taken as `$len`.
macro_rules! read_retrying {
    ($read:expr, $len:expr, $interrupted:expr) => {
        loop {
            match $read {
                Err(error) if $interrupted(&error) => {}
                // A reader claiming more than the buffer holds is treated as having filled it.
                other => break other.map(|n: usize| n.min($len)),
            }
        }
    };
}
pub(crate) use read_retrying;

/// Writes all of `$bytes` with `$write` (an expression of `$rest`, the bytes still to
/// write, which may `.await`), continuing short writes and retrying interrupted ones, as
/// judged by `$interrupted(&error)`. A write that accepts nothing is
/// [`WriteAllError::WriteZero`] rather than a panic or a hang. Evaluates to
/// `Result<(), WriteAllError<E>>`.
macro_rules! write_all {
    ($bytes:expr, |$rest:ident| $write:expr, $interrupted:expr) => {{
        let mut $rest: &[u8] = $bytes;
        loop {
            if $rest.is_empty() {
                break Ok(());
            }
            match $write {
                Ok(0) => break Err($crate::io_loops::WriteAllError::WriteZero),
                Ok(n) => $rest = $rest.get(n..).unwrap_or_default(),
                Err(error) if $interrupted(&error) => {}
                Err(error) => break Err($crate::io_loops::WriteAllError::Io(error)),
            }
        }
    }};
}
pub(crate) use write_all;

impl<E> From<WriteAllError<E>> for crate::error::WriteError<E> {
    fn from(error: WriteAllError<E>) -> Self {
        match error {
            WriteAllError::Io(error) => crate::error::WriteError::Io(error),
            WriteAllError::WriteZero => crate::error::WriteError::WriteZero,
        }
    }
}

/// The methods of every chunk writer (`Writer { inner, encoder }`), blocking or async:
/// `writer_methods!(E, is_interrupted)` for a writer whose I/O errors are `E`, with
/// `async await` after them for an async one. The caller has `WriteError`, `Writer` and
/// the writer trait in scope.
macro_rules! writer_methods {
    ($error:ty, $interrupted:path $(, $async:tt $await:tt)?) => {
        /// A writer at the start of a stream.
        pub fn new(inner: W) -> Writer<W> {
            Writer {
                inner,
                encoder: ::splitfdstream::Encoder::new(),
            }
        }

        /// Writes a whole inline chunk; an empty `bytes` writes nothing.
        ///
        /// # Errors
        ///
        /// [`WriteError::Encode`] while a streamed inline chunk owes bytes,
        /// [`WriteError::Io`] or [`WriteError::WriteZero`] when the underlying writer fails.
        pub $($async)? fn write_inline(&mut self, bytes: &[u8]) -> Result<(), WriteError<$error>> {
            self.begin_inline($crate::drive::len_u64(bytes.len()))$(.$await)? ?;
            self.write_inline_body(bytes)$(.$await)?
        }

        /// Writes a reference to external source `index`.
        ///
        /// # Errors
        ///
        /// [`WriteError::Encode`] for an index above `i64::MAX` or while an inline chunk owes
        /// bytes, [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
        pub $($async)? fn write_external(&mut self, index: u64) -> Result<(), WriteError<$error>> {
            let mut header = [0; ::splitfdstream::HEADER_LEN];
            let n = self.encoder.external(index, &mut header)?;
            self.put(header.get(..n).unwrap_or_default())$(.$await)?
        }

        /// Starts an inline chunk of `len` bytes whose body follows through
        /// [`write_inline_body`](Writer::write_inline_body); `len == 0` writes nothing.
        ///
        /// # Errors
        ///
        /// [`WriteError::Encode`] while an inline chunk owes bytes or above 2^63,
        /// [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
        pub $($async)? fn begin_inline(&mut self, len: u64) -> Result<(), WriteError<$error>> {
            let mut header = [0; ::splitfdstream::HEADER_LEN];
            let n = self.encoder.begin_inline(len, &mut header)?;
            self.put(header.get(..n).unwrap_or_default())$(.$await)?
        }

        /// Writes a piece of the current inline chunk's body.
        ///
        /// # Errors
        ///
        /// [`WriteError::Encode`] when `bytes` is longer than the chunk still owes (nothing is
        /// written), [`WriteError::Io`] or [`WriteError::WriteZero`] when the writer fails.
        pub $($async)? fn write_inline_body(&mut self, bytes: &[u8]) -> Result<(), WriteError<$error>> {
            self.encoder.advance_inline($crate::drive::len_u64(bytes.len()))?;
            self.put(bytes)$(.$await)?
        }

        /// Body bytes the current inline chunk still owes.
        pub fn owed(&self) -> u64 {
            self.encoder.owed()
        }

        /// Stream bytes written so far.
        pub fn position(&self) -> u64 {
            self.encoder.position()
        }

        /// Checks that the stream is complete, flushes, and returns the underlying writer.
        ///
        /// # Errors
        ///
        /// [`WriteError::Encode`] while an inline chunk owes bytes (check
        /// [`owed`](Writer::owed) first to keep the writer), [`WriteError::Io`] when flushing
        /// fails.
        pub $($async)? fn finish(mut self) -> Result<W, WriteError<$error>> {
            self.encoder.finish()?;
            self.inner.flush()$(.$await)?.map_err(WriteError::Io)?;
            Ok(self.inner)
        }

        /// The underlying writer.
        pub fn get_ref(&self) -> &W {
            &self.inner
        }

        /// The underlying writer; writing to it directly corrupts the stream.
        pub fn get_mut(&mut self) -> &mut W {
            &mut self.inner
        }

        /// The underlying writer, without checking that the stream is complete.
        pub fn into_inner(self) -> W {
            self.inner
        }

        $($async)? fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError<$error>> {
            $crate::io_loops::write_all!(bytes, |rest| self.inner.write(rest)$(.$await)?, $interrupted)
                .map_err(WriteError::from)
        }
    };
}
pub(crate) use writer_methods;

/// The loop of every chunk reader's `next_chunk` (`Reader { inner, buf, feed }`),
/// blocking or async: decodes until a chunk or the end, refilling the buffer with
/// `$read_retrying` (followed by `await` for an async reader) when it is used up. The
/// caller has `ReadError` in scope.
macro_rules! next_chunk_loop {
    ($reader:ident, $read_retrying:path $(, $await:tt)?) => {
        loop {
            match $reader.feed.poll(&$reader.buf)? {
                $crate::drive::Event::NeedInput => {
                    // Everything buffered was decoded, so a read dropped here loses nothing.
                    let target = $reader.feed.refill_target(&mut $reader.buf);
                    let n = $read_retrying(&mut $reader.inner, target)$(.$await)?
                        .map_err(ReadError::Io)?;
                    $reader.feed.filled(n);
                }
                $crate::drive::Event::End => return Ok(None),
                event => return Ok(event.chunk(&$reader.buf)),
            }
        }
    };
}
pub(crate) use next_chunk_loop;

/// The constructors and accessors every chunk reader (`Reader { inner, buf, feed }`)
/// shares: `reader_methods!(borrowed)` for one over a caller's buffer (`buf: &'b mut
/// [u8]`), `reader_methods!(owned)` for one that owns it (`buf: Box<[u8]>`).
macro_rules! reader_methods {
    (borrowed) => {
        /// A reader over `inner` using `buf`.
        pub fn new(inner: R, buf: &'b mut [u8]) -> Reader<'b, R> {
            Reader::with_limits(inner, buf, ::splitfdstream::Limits::new())
        }

        /// A reader that rejects chunks exceeding `limits`.
        pub fn with_limits(
            inner: R,
            buf: &'b mut [u8],
            limits: ::splitfdstream::Limits,
        ) -> Reader<'b, R> {
            Reader {
                inner,
                buf,
                feed: $crate::drive::Feed::new(limits),
            }
        }

        $crate::io_loops::reader_methods!(accessors);

        /// The underlying reader and the buffer; buffered bytes not yet decoded are lost.
        pub fn into_inner(self) -> (R, &'b mut [u8]) {
            (self.inner, self.buf)
        }
    };
    (owned) => {
        /// A reader with a [`DEFAULT_BUFFER_LEN`](crate::std::DEFAULT_BUFFER_LEN) buffer.
        pub fn new(inner: R) -> Reader<R> {
            Reader::with_capacity($crate::std::DEFAULT_BUFFER_LEN, inner)
        }

        /// A reader with a buffer of `capacity` bytes (at least
        /// [`MIN_BUFFER_LEN`](crate::MIN_BUFFER_LEN)).
        pub fn with_capacity(capacity: usize, inner: R) -> Reader<R> {
            Reader {
                inner,
                buf: ::std::vec![0; capacity.max($crate::MIN_BUFFER_LEN)].into_boxed_slice(),
                feed: $crate::drive::Feed::new(::splitfdstream::Limits::new()),
            }
        }

        /// Applies `limits` to the chunks read from now on; call it before the first read.
        #[must_use]
        pub fn with_limits(mut self, limits: ::splitfdstream::Limits) -> Reader<R> {
            self.feed = $crate::drive::Feed::new(limits);
            self
        }

        $crate::io_loops::reader_methods!(accessors);

        /// The underlying reader; buffered bytes not yet decoded are lost.
        pub fn into_inner(self) -> R {
            self.inner
        }
    };
    (accessors) => {
        /// Stream bytes decoded so far.
        pub fn position(&self) -> u64 {
            self.feed.position()
        }

        /// The underlying reader.
        pub fn get_ref(&self) -> &R {
            &self.inner
        }

        /// The underlying reader; reading from it directly desynchronises the stream.
        pub fn get_mut(&mut self) -> &mut R {
            &mut self.inner
        }
    };
}
pub(crate) use reader_methods;
