//! The resumable push decoder for splitdirfdstream.

use super::chunk::{Chunk, ChunkKind, FileBacked, BODY_HEADER_LEN, FILE_HEADER_LEN};
use super::error::DecodeError;
use super::header::{body_len, file_header, kind_of};
use super::limits::Limits;
use super::name::check_bytes;
use crate::chunk::{len_u64, InlineFragment};

/// Outcome of one [`Decoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step<'i> {
    /// Bytes of the input consumed by this call. The caller passes `&input[consumed..]`
    /// (or new input, when all was consumed) to the next call.
    pub consumed: usize,
    /// What the call produced.
    pub status: Status<'i>,
}

impl<'i> Step<'i> {
    /// The event this call completed, if any.
    pub const fn chunk(&self) -> Option<Chunk<'i>> {
        match self.status {
            Status::Chunk(chunk) => Some(chunk),
            Status::Partial | Status::NeedMore { .. } => None,
        }
    }
}

/// What one [`Decoder::decode`] call produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status<'i> {
    /// An event: a body fragment or a whole FileBackedData chunk.
    Chunk(Chunk<'i>),
    /// All of the input was consumed without completing an event (part of a header).
    Partial,
    /// A FileBackedData name is not wholly in the input. Nothing was consumed: call again
    /// with input that starts with the same bytes and holds at least `at_least` of them.
    /// `at_least` is never more than [`MAX_NEED`](super::MAX_NEED), nor more than
    /// [`FILE_HEADER_LEN`] plus the name cap of the [`Limits`].
    NeedMore {
        /// Bytes the next input must hold, counted from its start.
        at_least: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Between chunks, or inside a header whose first bytes are held in the decoder.
    Header,
    /// Inside a body of `len` bytes (at least 1) of which `delivered` were handed out.
    Body {
        metadata: bool,
        len: u64,
        delivered: u64,
    },
    /// A rule or limit was broken; the error repeats on every call.
    Failed(DecodeError),
}

/// A sans-IO push decoder for splitdirfdstream: feed it bytes in pieces of any size, get
/// chunks back.
///
/// Each [`decode`](Decoder::decode) call consumes input up to and including one event and
/// says how much it consumed. Metadata and InlineData bodies are handed out as sub-slices
/// of the input, so a body of any size streams through a buffer of any size without being
/// copied; a body split across calls arrives as several [`InlineFragment`]s, and an empty
/// body as one empty fragment. Up to a header's worth of bytes (17) is kept inside the
/// decoder when a piece ends within a header.
///
/// A FileBackedData name, however, is handed out whole and borrowed from the input, so it
/// must come in one piece: when the input ends before the name does, the call consumes
/// nothing and returns [`Status::NeedMore`] with the number of bytes to supply. A caller
/// buffer of [`MAX_NEED`](super::MAX_NEED) (4096 + 17) bytes always suffices; a caller with
/// a smaller buffer sets [`Limits::max_name`] so that a longer name is a
/// [`DecodeError::Name`] at its header instead of a request it can never satisfy.
///
/// Once all input has been fed, call [`finish`](Decoder::finish): it fails if the stream
/// ended inside a chunk (including a name that a `NeedMore` asked for and that never came).
///
/// ```
/// use splitfdstream::dir::{Chunk, Decoder, Status};
///
/// // Metadata "tar", then 5 bytes of the file "a/b" beneath directory 0.
/// let mut stream = vec![0, 3, 0, 0, 0];
/// stream.extend_from_slice(b"tar");
/// stream.push(2);
/// stream.extend_from_slice(&5u64.to_le_bytes());
/// stream.extend_from_slice(&0u32.to_le_bytes());
/// stream.extend_from_slice(&3u32.to_le_bytes());
/// stream.extend_from_slice(b"a/b");
///
/// // A reader with a small buffer: the name arrives cut, so the decoder asks for more.
/// let mut decoder = Decoder::new();
/// let mut buffer = Vec::new();
/// let mut events = Vec::new();
/// for piece in stream.chunks(10) {
///     buffer.extend_from_slice(piece);
///     let mut start = 0;
///     loop {
///         let step = decoder.decode(&buffer[start..])?;
///         start += step.consumed;
///         match step.status {
///             Status::Chunk(Chunk::Metadata(fragment)) => events.push(fragment.data.to_vec()),
///             Status::Chunk(Chunk::FileBackedData(file)) => {
///                 assert_eq!((file.content_len, file.dir_index), (5, 0));
///                 events.push(file.name.to_vec());
///             }
///             Status::Chunk(_) => unreachable!(),
///             Status::Partial => break,
///             // Keep the unconsumed bytes and read more behind them.
///             Status::NeedMore { at_least } => {
///                 assert!(at_least > buffer.len() - start);
///                 break;
///             }
///         }
///         if start == buffer.len() {
///             break;
///         }
///     }
///     buffer.drain(..start);
/// }
/// decoder.finish()?;
/// assert_eq!(events, [b"tar".to_vec(), b"a/b".to_vec()]);
/// # Ok::<(), splitfdstream::dir::DecodeError>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoder {
    state: State,
    /// The first bytes of a header cut by the end of an input.
    held: [u8; FILE_HEADER_LEN],
    /// How many bytes of `held` are filled (less than the header's length).
    filled: u8,
    limits: Limits,
    position: u64,
    /// Bytes the last call found missing when it returned `NeedMore`; 0 otherwise.
    starved: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with no limits beyond the format's own.
    pub const fn new() -> Decoder {
        Decoder::with_limits(Limits::new())
    }

    /// A decoder that rejects chunks exceeding `limits` when their header is read.
    pub const fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            state: State::Header,
            held: [0; FILE_HEADER_LEN],
            filled: 0,
            limits,
            position: 0,
            starved: 0,
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

    /// Whether the decoder sits on a chunk boundary, where the stream may cleanly end: no
    /// partial header held, no body owed, and the last call did not ask for more input.
    pub const fn is_at_boundary(&self) -> bool {
        matches!(self.state, State::Header) && self.filled == 0 && self.starved == 0
    }

    /// Body bytes still owed by the Metadata or InlineData chunk in progress (0 outside one).
    pub const fn inline_remaining(&self) -> u64 {
        match self.state {
            State::Body { len, delivered, .. } => len - delivered,
            _ => 0,
        }
    }

    /// Consumes input up to and including one event.
    ///
    /// An empty `input` consumes nothing and yields [`Status::Partial`]. After a Metadata
    /// or InlineData header completes, the same call also hands out as much of its body as
    /// `input` holds.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownType`] as soon as a type byte is read;
    /// [`DecodeError::InlineTooLarge`], [`DecodeError::IndexTooLarge`] or a
    /// [`DecodeError::Name`] length error when a header breaks the [`Limits`] or the name
    /// length rules; another [`DecodeError::Name`] when a name breaks the other rules. The
    /// decoder then stays failed and returns the same error on every later call, including
    /// [`finish`](Decoder::finish). Truncation is reported by `finish` only.
    #[inline]
    pub fn decode<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let outcome = match self.state {
            State::Body {
                metadata,
                len,
                delivered,
            } => return Ok(self.body(input, 0, metadata, len, delivered)),
            State::Header if self.filled == 0 => self.header(input),
            State::Header => self.held_header(input),
            State::Failed(error) => return Err(error),
        };
        if let Err(error) = outcome {
            self.state = State::Failed(error);
            self.starved = 0;
        }
        outcome
    }

    /// Decodes a chunk starting at the start of `input`, the fast path: no bytes held.
    #[inline(always)]
    fn header<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let Some(&type_byte) = input.first() else {
            return Ok(partial(0));
        };
        let offset = self.position;
        match kind_of(type_byte, offset)? {
            ChunkKind::FileBackedData => match input.split_first_chunk::<FILE_HEADER_LEN>() {
                Some((header, rest)) => self.file(header, rest, FILE_HEADER_LEN, offset),
                None => Ok(self.hold(input)),
            },
            kind => match input.split_first_chunk::<BODY_HEADER_LEN>() {
                Some((header, rest)) => {
                    self.body_header(kind, header, rest, BODY_HEADER_LEN, offset)
                }
                None => Ok(self.hold(input)),
            },
        }
    }

    /// Decodes a chunk whose first header bytes are held, completing the header from
    /// `input`.
    #[inline(never)]
    fn held_header<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let filled = usize::from(self.filled);
        let offset = self.position - len_u64(filled);
        let kind = kind_of(self.held[0], offset)?;
        let header_len = kind.header_len();
        if filled + input.len() < header_len {
            return Ok(self.hold(input));
        }
        // Completed on a copy: if the name is not all here, nothing is consumed.
        let mut header = self.held;
        let from_input = header_len - filled;
        header[filled..header_len].copy_from_slice(&input[..from_input]);
        let rest = &input[from_input..];
        match kind {
            ChunkKind::FileBackedData => self.file(&header, rest, from_input, offset),
            kind => {
                let Some(header) = header.first_chunk::<BODY_HEADER_LEN>() else {
                    // Unreachable: the array is longer than a body header.
                    return Ok(partial(0));
                };
                self.body_header(kind, header, rest, from_input, offset)
            }
        }
    }

    /// Keeps all of `input`, shorter than what completes the header, inside the decoder.
    fn hold<'i>(&mut self, input: &[u8]) -> Step<'i> {
        let filled = usize::from(self.filled);
        self.held[filled..filled + input.len()].copy_from_slice(input);
        // Less than a header's length, so it fits a u8.
        self.filled = u8::try_from(filled + input.len()).unwrap_or(0);
        self.position += len_u64(input.len());
        self.starved = 0;
        partial(input.len())
    }

    /// A FileBackedData chunk whose header is complete, `from_input` of its bytes being at
    /// the start of this call's input and its name at the start of `rest`.
    #[inline(always)]
    fn file<'i>(
        &mut self,
        header: &[u8; FILE_HEADER_LEN],
        rest: &'i [u8],
        from_input: usize,
        offset: u64,
    ) -> Result<Step<'i>, DecodeError> {
        let file = file_header(header, &self.limits, offset)?;
        let Some(name) = rest.get(..file.name_len) else {
            // The name is not all here: consume nothing, not even the header.
            self.starved = len_u64(file.name_len - rest.len());
            return Ok(Step {
                consumed: 0,
                status: Status::NeedMore {
                    at_least: from_input + file.name_len,
                },
            });
        };
        check_bytes(name).map_err(|error| DecodeError::Name { error, offset })?;
        let consumed = from_input + file.name_len;
        self.filled = 0;
        self.starved = 0;
        self.position += len_u64(consumed);
        Ok(Step {
            consumed,
            status: Status::Chunk(Chunk::FileBackedData(FileBacked {
                content_len: file.content_len,
                dir_index: file.dir_index,
                name,
            })),
        })
    }

    /// A Metadata or InlineData chunk whose header is complete, `from_input` of its bytes
    /// being at the start of this call's input and its body at the start of `rest`.
    #[inline(always)]
    fn body_header<'i>(
        &mut self,
        kind: ChunkKind,
        header: &[u8; BODY_HEADER_LEN],
        rest: &'i [u8],
        from_input: usize,
        offset: u64,
    ) -> Result<Step<'i>, DecodeError> {
        let len = body_len(header, &self.limits, offset)?;
        let metadata = kind == ChunkKind::Metadata;
        self.filled = 0;
        self.starved = 0;
        self.position += len_u64(from_input);
        if len == 0 {
            let fragment = InlineFragment {
                data: &rest[..0],
                offset: 0,
                remaining: 0,
            };
            return Ok(Step {
                consumed: from_input,
                status: Status::Chunk(body_chunk(metadata, fragment)),
            });
        }
        Ok(self.body(rest, from_input, metadata, len, 0))
    }

    /// Hands out the next piece of a body from `body`, `already` bytes of the caller's
    /// input having been consumed by this call before it.
    #[inline(always)]
    fn body<'i>(
        &mut self,
        body: &'i [u8],
        already: usize,
        metadata: bool,
        len: u64,
        delivered: u64,
    ) -> Step<'i> {
        let owed = len - delivered;
        // If the owed count does not fit a usize, it is larger than any slice.
        let take = usize::try_from(owed).map_or(body.len(), |owed| owed.min(body.len()));
        if take == 0 {
            self.state = State::Body {
                metadata,
                len,
                delivered,
            };
            return partial(already);
        }
        let take_u64 = len_u64(take);
        let remaining = owed - take_u64;
        self.state = if remaining == 0 {
            State::Header
        } else {
            State::Body {
                metadata,
                len,
                delivered: delivered + take_u64,
            }
        };
        self.position += take_u64;
        let fragment = InlineFragment {
            data: &body[..take],
            offset: delivered,
            remaining,
        };
        Step {
            consumed: already + take,
            status: Status::Chunk(body_chunk(metadata, fragment)),
        }
    }

    /// Checks that the stream may end here.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when the input ended inside a header, a body, or a name
    /// the last call asked for with [`Status::NeedMore`]; or the error that failed the
    /// decoder.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.state {
            State::Header => {
                let filled = u64::from(self.filled);
                let offset = self.position - filled;
                let missing = if self.starved > 0 {
                    self.starved
                } else if filled > 0 {
                    let header_len = ChunkKind::from_type_byte(self.held[0])
                        .map_or(0, |kind| len_u64(kind.header_len()));
                    header_len - filled
                } else {
                    return Ok(());
                };
                Err(DecodeError::Truncated { missing, offset })
            }
            State::Body { len, delivered, .. } => Err(DecodeError::Truncated {
                missing: len - delivered,
                offset: self.position - delivered - len_u64(BODY_HEADER_LEN),
            }),
            State::Failed(error) => Err(error),
        }
    }

    /// Forgets all state, keeping the limits, to decode a new stream.
    pub fn reset(&mut self) {
        *self = Decoder::with_limits(self.limits);
    }
}

#[inline(always)]
const fn partial<'i>(consumed: usize) -> Step<'i> {
    Step {
        consumed,
        status: Status::Partial,
    }
}

#[inline(always)]
const fn body_chunk(metadata: bool, fragment: InlineFragment<'_>) -> Chunk<'_> {
    if metadata {
        Chunk::Metadata(fragment)
    } else {
        Chunk::InlineData(fragment)
    }
}
