//! The resumable push decoder.

use crate::chunk::{len_u64, Chunk, InlineFragment};
use crate::error::DecodeError;
use crate::header::{Header, HeaderKind, HEADER_LEN};
use crate::limits::Limits;

/// Outcome of one [`Decoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step<'i> {
    /// Bytes of the input consumed by this call. The caller passes `&input[consumed..]`
    /// (or new input, when all was consumed) to the next call.
    pub consumed: usize,
    /// The event completed by this call, or `None` when all of the input was consumed
    /// without completing one (for example a partial prefix).
    pub chunk: Option<Chunk<'i>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Between chunks, or inside a prefix of which `filled` bytes are in `buf`.
    Prefix { buf: [u8; HEADER_LEN], filled: u8 },
    /// Inside an inline body of `len` bytes of which `delivered` were handed out.
    Inline { len: u64, delivered: u64 },
    /// A limit was exceeded; the error repeats on every call.
    Failed(DecodeError),
}

const BETWEEN_CHUNKS: State = State::Prefix {
    buf: [0; HEADER_LEN],
    filled: 0,
};

/// A sans-IO push decoder: feed it bytes in pieces of any size, get chunks back.
///
/// Each [`decode`](Decoder::decode) call consumes input up to and including one event and
/// says how much it consumed. Inline data is handed out as sub-slices of the input, so an
/// inline chunk of any size streams through a buffer of any size without being copied; a
/// chunk split across calls arrives as several [`InlineFragment`]s. Fed any split of the
/// same bytes, the decoder yields the same chunks. The decoder holds at most the 8 bytes
/// of a partial prefix; it never allocates.
///
/// Once all input has been fed, call [`finish`](Decoder::finish): it fails if the stream
/// ended inside a chunk.
///
/// ```
/// use splitfdstream::{Chunk, Decoder};
///
/// // "hello" inline, then External(7), fed in two pieces that split the prefix.
/// let stream = [
///     0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'h', b'e', b'l', b'l', b'o',
///     0x07, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// let mut decoder = Decoder::new();
/// let mut inline = Vec::new();
/// let mut externals = Vec::new();
/// for mut piece in [&stream[..4], &stream[4..]] {
///     while !piece.is_empty() {
///         let step = decoder.decode(piece)?;
///         match step.chunk {
///             Some(Chunk::Inline(fragment)) => inline.extend_from_slice(fragment.data),
///             Some(Chunk::External(index)) => externals.push(index.get()),
///             None => {}
///         }
///         piece = &piece[step.consumed..];
///     }
/// }
/// decoder.finish()?;
/// assert_eq!(inline, b"hello");
/// assert_eq!(externals, [7]);
/// # Ok::<(), splitfdstream::DecodeError>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoder {
    state: State,
    limits: Limits,
    position: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with no limits.
    pub const fn new() -> Decoder {
        Decoder::with_limits(Limits::new())
    }

    /// A decoder that rejects chunks exceeding `limits` when their prefix is read.
    pub const fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            state: BETWEEN_CHUNKS,
            limits,
            position: 0,
        }
    }

    /// The limits this decoder enforces.
    pub const fn limits(&self) -> Limits {
        self.limits
    }

    /// Stream bytes consumed so far.
    pub const fn position(&self) -> u64 {
        self.position
    }

    /// Whether the decoder sits on a chunk boundary, where the stream may cleanly end.
    pub const fn is_at_boundary(&self) -> bool {
        matches!(self.state, State::Prefix { filled: 0, .. })
    }

    /// Body bytes still owed by the inline chunk in progress (0 outside one).
    pub const fn inline_remaining(&self) -> u64 {
        match self.state {
            State::Inline { len, delivered } => len - delivered,
            _ => 0,
        }
    }

    /// Consumes input up to and including one event.
    ///
    /// An empty `input` consumes nothing and yields nothing. After an inline chunk's prefix
    /// completes, the same call also hands out as much of its body as `input` holds.
    ///
    /// # Errors
    ///
    /// [`DecodeError::InlineTooLarge`] or [`DecodeError::IndexTooLarge`] when a prefix
    /// exceeds the [`Limits`]. The decoder then stays failed and returns the same error on
    /// every later call, including [`finish`](Decoder::finish).
    #[inline]
    pub fn decode<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        match self.state {
            State::Inline { len, delivered } => Ok(self.inline_body(input, 0, len, delivered)),
            State::Prefix { mut buf, filled } => {
                let filled_now = usize::from(filled);
                let (prefix, taken) = if filled_now == 0 && input.len() >= HEADER_LEN {
                    // Fast path: the whole prefix is in this input.
                    let mut bytes = [0; HEADER_LEN];
                    bytes.copy_from_slice(&input[..HEADER_LEN]);
                    (bytes, HEADER_LEN)
                } else {
                    let take = (HEADER_LEN - filled_now).min(input.len());
                    buf[filled_now..filled_now + take].copy_from_slice(&input[..take]);
                    let filled_after = filled_now + take;
                    if filled_after < HEADER_LEN {
                        self.state = State::Prefix {
                            buf,
                            // filled_after < 8, so the conversion is exact.
                            filled: u8::try_from(filled_after).unwrap_or(0),
                        };
                        self.position += len_u64(take);
                        return Ok(Step {
                            consumed: take,
                            chunk: None,
                        });
                    }
                    (buf, take)
                };
                let header_offset = self.position - len_u64(filled_now);
                self.position += len_u64(taken);
                match self.check(Header::from_bytes(prefix).kind(), header_offset)? {
                    HeaderKind::External(index) => {
                        self.state = BETWEEN_CHUNKS;
                        Ok(Step {
                            consumed: taken,
                            chunk: Some(Chunk::External(index)),
                        })
                    }
                    HeaderKind::Inline { len } => {
                        self.state = State::Inline { len, delivered: 0 };
                        Ok(self.inline_body(&input[taken..], taken, len, 0))
                    }
                }
            }
            State::Failed(error) => Err(error),
        }
    }

    /// Checks a prefix against the limits, failing the decoder when it exceeds one.
    #[inline]
    fn check(&mut self, kind: HeaderKind, offset: u64) -> Result<HeaderKind, DecodeError> {
        let error = match kind {
            HeaderKind::Inline { len } if len > self.limits.max_inline => {
                DecodeError::InlineTooLarge {
                    len,
                    max: self.limits.max_inline,
                    offset,
                }
            }
            HeaderKind::External(index) if index.get() > self.limits.max_index => {
                DecodeError::IndexTooLarge {
                    index: index.get(),
                    max: self.limits.max_index,
                    offset,
                }
            }
            _ => return Ok(kind),
        };
        self.state = State::Failed(error);
        Err(error)
    }

    /// Hands out the next piece of the inline body from `body`, `already` bytes of the
    /// caller's input having been consumed by this call before it.
    #[inline]
    fn inline_body<'i>(
        &mut self,
        body: &'i [u8],
        already: usize,
        len: u64,
        delivered: u64,
    ) -> Step<'i> {
        let owed = len - delivered;
        // If the owed count does not fit a usize, it is larger than any slice.
        let take = usize::try_from(owed).map_or(body.len(), |owed| owed.min(body.len()));
        if take == 0 {
            return Step {
                consumed: already,
                chunk: None,
            };
        }
        let take_u64 = len_u64(take);
        let remaining = owed - take_u64;
        self.state = if remaining == 0 {
            BETWEEN_CHUNKS
        } else {
            State::Inline {
                len,
                delivered: delivered + take_u64,
            }
        };
        self.position += take_u64;
        Step {
            consumed: already + take,
            chunk: Some(Chunk::Inline(InlineFragment {
                data: &body[..take],
                offset: delivered,
                remaining,
            })),
        }
    }

    /// Checks that the stream may end here.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when the input ended inside a prefix or an inline body,
    /// or the limit error that failed the decoder.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.state {
            State::Prefix { filled: 0, .. } => Ok(()),
            State::Prefix { filled, .. } => Err(DecodeError::Truncated {
                missing: len_u64(HEADER_LEN) - u64::from(filled),
            }),
            State::Inline { len, delivered } => Err(DecodeError::Truncated {
                missing: len - delivered,
            }),
            State::Failed(error) => Err(error),
        }
    }

    /// Forgets all state, keeping the limits, to decode a new stream.
    pub fn reset(&mut self) {
        *self = Decoder::with_limits(self.limits);
    }
}
