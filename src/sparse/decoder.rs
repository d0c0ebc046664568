//! The resumable push decoder.

use crate::chunk::len_u64;
use crate::sparse::error::DecodeError;
use crate::sparse::event::{DataEnd, DataFragment, Event, Extent, Lz4Fragment, MetadataFragment};
use crate::sparse::header::{FrameHeader, FrameKind, HeaderFault, FRAME_HEADER_LEN};
use crate::sparse::limits::Limits;
use crate::sparse::lz4::{Lz4Scanner, Scan};
use crate::sparse::metadata::{Metadata, METADATA_CAPACITY};
use crate::sparse::trailer::{Fed, TrailerDigest, TrailerParser};

/// Outcome of one [`Decoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step<'i> {
    /// Bytes of the input consumed by this call. The caller passes `&input[consumed..]`
    /// (or new input, when all was consumed) to the next call.
    pub consumed: usize,
    /// The event completed by this call, or `None` when all of the input was consumed
    /// without completing one.
    pub event: Option<Event<'i>>,
}

/// A compressed payload in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Lz4Payload {
    extent: Extent,
    /// LZ4 frames completed.
    frames: u64,
    /// Bytes of the completed frames.
    len: u64,
    /// Content sizes the completed frames declare, added up.
    declared: u64,
    /// Whether every completed frame declared one.
    all_declared: bool,
    /// Stream offset of the frame in progress.
    frame_start: u64,
}

/// What a CRLF closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Closes {
    Metadata { len: usize },
    Data(DataEnd),
    Trailer(TrailerRead),
}

/// A trailer read up to its CRLF: its length and what its entries say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct TrailerRead {
    len: u64,
    digest: TrailerDigest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Inside a frame header, `filled` bytes of it in `buf`; with `trailer` once the
    /// trailer has been read (only the `comp` frame may follow).
    Header {
        buf: [u8; FRAME_HEADER_LEN],
        filled: u8,
        trailer: Option<TrailerRead>,
    },
    /// Inside the metadata JSON.
    Metadata { len: usize, got: usize },
    /// Inside the CRLF after a payload, `got` bytes of it read.
    Crlf { got: u8, closes: Closes },
    /// Inside an uncompressed payload.
    Data { extent: Extent, delivered: u64 },
    /// Inside a compressed payload: in an LZ4 frame, or between frames (`None`).
    Lz4 {
        payload: Lz4Payload,
        scanner: Option<Lz4Scanner>,
    },
    /// After `stop`.
    Stopped,
    /// Inside the trailer JSON, `len` bytes of it read.
    Trailer { parser: TrailerParser, len: u64 },
    /// After the `comp` frame.
    Done,
    /// The stream is bad; the error repeats on every call.
    Failed(DecodeError),
}

const fn expect_header(trailer: Option<TrailerRead>) -> State {
    State::Header {
        buf: [0; FRAME_HEADER_LEN],
        filled: 0,
        trailer,
    }
}

/// A sans-IO push decoder for sparse streams: feed it bytes in pieces of any size, get
/// [`Event`]s back.
///
/// Each [`decode`](Decoder::decode) call consumes input up to and including one event and
/// says how much it consumed. Payloads are handed out as sub-slices of the input, so a
/// 32 MiB extent streams through a buffer of any size without being copied. Fed any split
/// of the same bytes, the decoder yields the same events.
///
/// The decoder checks everything the format lets it check as the bytes pass (see the
/// [module docs](crate::sparse)), and needs no seek: a compressed stream's payloads end
/// where their LZ4 frames do, and the trailer is checked when it arrives. Memory is
/// fixed: the metadata JSON is copied into a [`METADATA_CAPACITY`]-byte buffer inside the
/// decoder so that it can be parsed once whole (it is also handed out as fragments); a
/// few bytes of header and LZ4 fields are buffered across calls. Nothing else is copied.
///
/// Once all input has been fed, call [`finish`](Decoder::finish): it fails unless the
/// stream ended after `stop` (or after the trailer).
///
/// ```
/// use splitfdstream::sparse::{Decoder, Event, Encoder, MetadataFields};
///
/// let mut stream = [0u8; 512];
/// let mut encoder = Encoder::new();
/// let mut len = encoder.metadata(&MetadataFields::new(8192, 5, "vda", "cp"), &mut stream)?;
/// len += encoder.data(4096, b"hello", &mut stream[len..])?;
/// len += encoder.zero(0, 4096, &mut stream[len..])?;
/// len += encoder.stop(&mut stream[len..])?;
/// encoder.finish()?;
///
/// let mut decoder = Decoder::new();
/// let mut restored = vec![0xffu8; 8192];
/// // Feed the stream in 7-byte pieces.
/// for mut piece in stream[..len].chunks(7) {
///     while !piece.is_empty() {
///         let step = decoder.decode(piece)?;
///         match step.event {
///             Some(Event::Data(fragment)) => {
///                 let at = usize::try_from(fragment.disk_offset()).unwrap();
///                 restored[at..at + fragment.data.len()].copy_from_slice(fragment.data);
///             }
///             Some(Event::Zero(extent)) => {
///                 let start = usize::try_from(extent.start).unwrap();
///                 let end = usize::try_from(extent.start + extent.len).unwrap();
///                 restored[start..end].fill(0);
///             }
///             _ => {}
///         }
///         piece = &piece[step.consumed..];
///     }
/// }
/// decoder.finish()?;
/// assert_eq!(&restored[4096..4101], b"hello");
/// assert!(restored[..4096].iter().all(|&b| b == 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoder {
    state: State,
    limits: Limits,
    position: u64,
    metadata: Option<Metadata>,
    /// The data extents' lengths so far, added up (`None` once that overflows).
    data_total: Option<u64>,
    /// What the LZ4 frames read so far say the trailer must hold.
    frames: TrailerDigest,
    json: [u8; METADATA_CAPACITY],
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub const fn new() -> Decoder {
        Decoder::with_limits(Limits::new())
    }

    /// A decoder that rejects frames exceeding `limits` when their header is read.
    pub const fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            state: expect_header(None),
            limits,
            position: 0,
            metadata: None,
            data_total: Some(0),
            frames: TrailerDigest::NEW,
            json: [0; METADATA_CAPACITY],
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

    /// The metadata, once it has been read.
    pub const fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Whether the stream may end here: after `stop`, or after the trailer.
    pub const fn is_complete(&self) -> bool {
        matches!(self.state, State::Stopped | State::Done)
    }

    /// Consumes input up to and including one event.
    ///
    /// An empty `input` consumes nothing and yields nothing. When a frame header completes,
    /// the same call goes on into its payload as far as `input` holds.
    ///
    /// # Errors
    ///
    /// Any [`DecodeError`] but [`DecodeError::Truncated`] (which only
    /// [`finish`](Decoder::finish) can know). The decoder then stays failed and returns
    /// the same error on every later call.
    pub fn decode<'i>(&mut self, input: &'i [u8]) -> Result<Step<'i>, DecodeError> {
        let mut at = 0;
        loop {
            match self.step(input, &mut at) {
                Ok(Some(event)) => {
                    self.position += len_u64(at);
                    return Ok(Step {
                        consumed: at,
                        event: Some(event),
                    });
                }
                Ok(None) if at == input.len() => {
                    self.position += len_u64(at);
                    return Ok(Step {
                        consumed: at,
                        event: None,
                    });
                }
                Ok(None) => {}
                Err(error) => {
                    self.state = State::Failed(error);
                    return Err(error);
                }
            }
        }
    }

    /// Advances by at most one state on `input[*at..]`.
    fn step<'i>(
        &mut self,
        input: &'i [u8],
        at: &mut usize,
    ) -> Result<Option<Event<'i>>, DecodeError> {
        let rest = &input[*at..];
        let here = self.position + len_u64(*at);
        match self.state {
            State::Failed(error) => Err(error),
            _ if rest.is_empty() => Ok(None),
            State::Header {
                mut buf,
                filled,
                trailer,
            } => {
                let filled = usize::from(filled);
                let take = (FRAME_HEADER_LEN - filled).min(rest.len());
                buf[filled..filled + take].copy_from_slice(&rest[..take]);
                *at += take;
                if filled + take < FRAME_HEADER_LEN {
                    self.state = State::Header {
                        buf,
                        filled: u8::try_from(filled + take).unwrap_or(u8::MAX),
                        trailer,
                    };
                    return Ok(None);
                }
                let offset = here - len_u64(filled);
                let header = FrameHeader::parse(&buf).map_err(|fault| match fault {
                    HeaderFault::Malformed => DecodeError::MalformedHeader { offset },
                    HeaderFault::UnknownKind(kind) => DecodeError::UnknownFrame { kind, offset },
                })?;
                match trailer {
                    None => self.frame(header, offset),
                    Some(trailer) => self.comp(header, trailer, offset),
                }
            }
            State::Metadata { len, got } => {
                let take = (len - got).min(rest.len());
                self.json[got..got + take].copy_from_slice(&rest[..take]);
                *at += take;
                let remaining = len - got - take;
                self.state = if remaining == 0 {
                    State::Crlf {
                        got: 0,
                        closes: Closes::Metadata { len },
                    }
                } else {
                    State::Metadata {
                        len,
                        got: got + take,
                    }
                };
                Ok(Some(Event::MetadataFragment(MetadataFragment {
                    data: &rest[..take],
                    offset: len_u64(got),
                    remaining: len_u64(remaining),
                })))
            }
            State::Crlf { got, closes } => {
                let expected = &b"\r\n"[usize::from(got)..];
                let take = expected.len().min(rest.len());
                if rest[..take] != expected[..take] {
                    return Err(DecodeError::MissingCrlf {
                        offset: here - u64::from(got),
                    });
                }
                *at += take;
                if take < expected.len() {
                    self.state = State::Crlf { got: 1, closes };
                    return Ok(None);
                }
                self.crlf_done(closes, here - u64::from(got))
            }
            State::Data { extent, delivered } => {
                let owed = extent.len - delivered;
                let take = usize::try_from(owed).map_or(rest.len(), |owed| owed.min(rest.len()));
                *at += take;
                let remaining = owed - len_u64(take);
                self.state = if remaining == 0 {
                    State::Crlf {
                        got: 0,
                        closes: Closes::Data(DataEnd {
                            extent,
                            payload_len: extent.len,
                            lz4_frames: 0,
                        }),
                    }
                } else {
                    State::Data {
                        extent,
                        delivered: delivered + len_u64(take),
                    }
                };
                Ok(Some(Event::Data(DataFragment {
                    data: &rest[..take],
                    extent,
                    offset: delivered,
                    remaining,
                })))
            }
            State::Lz4 {
                mut payload,
                scanner,
            } => {
                let Some(mut scanner) = scanner else {
                    if rest[0] == b'\r' && payload.frames > 0 {
                        return self.lz4_payload_end(payload, here);
                    }
                    payload.frame_start = here;
                    self.state = State::Lz4 {
                        payload,
                        scanner: Some(Lz4Scanner::new()),
                    };
                    return Ok(None);
                };
                let before = scanner.consumed();
                let scan = scanner.feed(rest).map_err(|error| DecodeError::Lz4 {
                    fault: error.fault,
                    offset: payload.frame_start + error.offset,
                })?;
                let (take, end) = match scan {
                    Scan::Partial => (rest.len(), None),
                    Scan::End { consumed, info } => (consumed, Some(info)),
                };
                *at += take;
                let fragment = Lz4Fragment {
                    data: &rest[..take],
                    extent: payload.extent,
                    frame: payload.frames,
                    offset: before,
                    end,
                };
                if let Some(info) = end {
                    self.frames.frame(info.len);
                    payload.frames += 1;
                    payload.len = payload.len.saturating_add(info.len);
                    match info.content_size {
                        Some(size) => {
                            payload.declared = payload.declared.saturating_add(size);
                            if payload.declared > payload.extent.len {
                                return Err(DecodeError::ContentSizeMismatch {
                                    len: payload.extent.len,
                                    declared: payload.declared,
                                    offset: payload.frame_start,
                                });
                            }
                        }
                        None => payload.all_declared = false,
                    }
                    self.state = State::Lz4 {
                        payload,
                        scanner: None,
                    };
                } else {
                    self.state = State::Lz4 {
                        payload,
                        scanner: Some(scanner),
                    };
                }
                Ok(Some(Event::Lz4(fragment)))
            }
            State::Stopped => {
                if !self.is_compressed() {
                    return Err(DecodeError::TrailingBytes { offset: here });
                }
                self.state = State::Trailer {
                    parser: TrailerParser::new(),
                    len: 0,
                };
                Ok(None)
            }
            State::Trailer { mut parser, len } => {
                let fed = parser
                    .feed(rest)
                    .map_err(|index| DecodeError::MalformedTrailer {
                        offset: here + len_u64(index),
                    })?;
                match fed {
                    Fed::Open => {
                        *at += rest.len();
                        self.state = State::Trailer {
                            parser,
                            len: len + len_u64(rest.len()),
                        };
                    }
                    Fed::Closed { consumed } => {
                        *at += consumed;
                        self.state = State::Crlf {
                            got: 0,
                            closes: Closes::Trailer(TrailerRead {
                                len: len + len_u64(consumed),
                                digest: parser.digest,
                            }),
                        };
                    }
                }
                Ok(None)
            }
            State::Done => Err(DecodeError::TrailingBytes { offset: here }),
        }
    }

    fn is_compressed(&self) -> bool {
        self.metadata
            .is_some_and(|metadata| metadata.is_compressed())
    }

    /// Acts on a frame header read before `stop`.
    fn frame<'i>(
        &mut self,
        header: FrameHeader,
        offset: u64,
    ) -> Result<Option<Event<'i>>, DecodeError> {
        let FrameHeader { kind, start, len } = header;
        let unexpected = DecodeError::UnexpectedFrame { kind, offset };
        let Some(metadata) = self.metadata else {
            if kind != FrameKind::Meta {
                return Err(unexpected);
            }
            if start != 0 {
                return Err(DecodeError::MalformedHeader { offset });
            }
            let max = self.limits.max_metadata;
            let Some(len) = usize::try_from(len)
                .ok()
                .filter(|&len| len_u64(len) <= max && len <= METADATA_CAPACITY)
            else {
                return Err(DecodeError::MetadataTooLarge { len, max, offset });
            };
            self.state = if len == 0 {
                State::Crlf {
                    got: 0,
                    closes: Closes::Metadata { len },
                }
            } else {
                State::Metadata { len, got: 0 }
            };
            return Ok(None);
        };
        let extent = Extent { start, len };
        match kind {
            FrameKind::Meta | FrameKind::Comp => Err(unexpected),
            FrameKind::Data | FrameKind::Zero => {
                if kind == FrameKind::Data && len > self.limits.max_data {
                    return Err(DecodeError::DataTooLarge {
                        len,
                        max: self.limits.max_data,
                        offset,
                    });
                }
                if extent.end().map_or(true, |end| end > metadata.virtual_size) {
                    return Err(DecodeError::ExtentPastEnd {
                        start,
                        len,
                        virtual_size: metadata.virtual_size,
                        offset,
                    });
                }
                if kind == FrameKind::Zero {
                    self.state = expect_header(None);
                    return Ok(Some(Event::Zero(extent)));
                }
                self.data_total = self.data_total.and_then(|total| total.checked_add(len));
                if self.data_total.is_none() {
                    return Err(DecodeError::DataSizeMismatch {
                        declared: metadata.data_size,
                        actual: u64::MAX,
                        offset,
                    });
                }
                self.state = if metadata.is_compressed() {
                    self.frames.entry();
                    State::Lz4 {
                        payload: Lz4Payload {
                            extent,
                            frames: 0,
                            len: 0,
                            declared: 0,
                            all_declared: true,
                            frame_start: offset,
                        },
                        scanner: None,
                    }
                } else if len == 0 {
                    State::Crlf {
                        got: 0,
                        closes: Closes::Data(DataEnd {
                            extent,
                            payload_len: 0,
                            lz4_frames: 0,
                        }),
                    }
                } else {
                    State::Data {
                        extent,
                        delivered: 0,
                    }
                };
                Ok(None)
            }
            FrameKind::Stop => {
                if start != 0 || len != 0 {
                    return Err(DecodeError::MalformedHeader { offset });
                }
                let actual = self.data_total.unwrap_or(u64::MAX);
                if actual != metadata.data_size {
                    return Err(DecodeError::DataSizeMismatch {
                        declared: metadata.data_size,
                        actual,
                        offset,
                    });
                }
                self.state = State::Stopped;
                Ok(Some(Event::Stop))
            }
        }
    }

    /// Acts on the header after the trailer, which must be `comp` and agree with it.
    fn comp<'i>(
        &mut self,
        header: FrameHeader,
        trailer: TrailerRead,
        offset: u64,
    ) -> Result<Option<Event<'i>>, DecodeError> {
        if header.kind != FrameKind::Comp {
            return Err(DecodeError::UnexpectedFrame {
                kind: header.kind,
                offset,
            });
        }
        if header.start != 0 {
            return Err(DecodeError::MalformedHeader { offset });
        }
        if header.len != trailer.len {
            return Err(DecodeError::TrailerLength {
                declared: header.len,
                actual: trailer.len,
                offset,
            });
        }
        if trailer.digest != self.frames {
            return Err(DecodeError::TrailerMismatch { offset });
        }
        self.state = State::Done;
        Ok(Some(Event::Trailer {
            len: trailer.len,
            entries: trailer.digest.entries,
        }))
    }

    /// A compressed payload's frames are over: check their content sizes, then its CRLF.
    fn lz4_payload_end<'i>(
        &mut self,
        payload: Lz4Payload,
        offset: u64,
    ) -> Result<Option<Event<'i>>, DecodeError> {
        if payload.all_declared && payload.declared != payload.extent.len {
            return Err(DecodeError::ContentSizeMismatch {
                len: payload.extent.len,
                declared: payload.declared,
                offset,
            });
        }
        self.state = State::Crlf {
            got: 0,
            closes: Closes::Data(DataEnd {
                extent: payload.extent,
                payload_len: payload.len,
                lz4_frames: payload.frames,
            }),
        };
        Ok(None)
    }

    /// A CRLF at `offset` is complete.
    fn crlf_done<'i>(
        &mut self,
        closes: Closes,
        offset: u64,
    ) -> Result<Option<Event<'i>>, DecodeError> {
        match closes {
            Closes::Metadata { len } => {
                let json_offset = offset - len_u64(len);
                let metadata =
                    Metadata::parse(&self.json[..len]).map_err(|fault| DecodeError::Metadata {
                        fault,
                        offset: json_offset,
                    })?;
                self.metadata = Some(metadata);
                self.state = expect_header(None);
                Ok(Some(Event::Metadata(metadata)))
            }
            Closes::Data(end) => {
                self.state = expect_header(None);
                Ok(Some(Event::DataEnd(end)))
            }
            Closes::Trailer(trailer) => {
                self.state = expect_header(Some(trailer));
                Ok(None)
            }
        }
    }

    /// Checks that the stream may end here.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when the input ended before `stop` or inside the
    /// trailer, or the error that failed the decoder.
    pub fn finish(&self) -> Result<(), DecodeError> {
        let header_len = len_u64(FRAME_HEADER_LEN);
        let missing = match self.state {
            State::Failed(error) => return Err(error),
            State::Stopped | State::Done => return Ok(()),
            State::Header { filled, .. } => header_len - u64::from(filled),
            State::Metadata { len, got } => len_u64(len - got) + 2,
            State::Crlf { got, closes } => {
                let rest = 2 - u64::from(got);
                match closes {
                    Closes::Trailer(_) => rest + header_len,
                    Closes::Metadata { .. } | Closes::Data(_) => rest,
                }
            }
            State::Data { extent, delivered } => extent.len - delivered + 2,
            State::Lz4 { payload, scanner } => match scanner {
                Some(scanner) => scanner.missing(),
                None if payload.frames == 0 => 4,
                None => 2,
            },
            State::Trailer { parser, .. } => parser.missing() + 2 + header_len,
        };
        Err(DecodeError::Truncated {
            missing,
            offset: self.position,
        })
    }

    /// Forgets all state, keeping the limits, to decode a new stream.
    pub fn reset(&mut self) {
        *self = Decoder::with_limits(self.limits);
    }
}
