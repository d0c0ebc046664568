//! The metadata JSON: what a restore needs from it, and writing it.
//!
//! Parsing is serde-json-core's: a `no_std`, allocation-free JSON parser maintained by the
//! rust-embedded community, used here through a hand-written `Deserialize` (no derive
//! macros, so the core pulls in no proc-macro crates). Two things are added around it:
//! a nesting-depth check first, because serde-json-core recurses once per level and a
//! deeply nested ignored value would otherwise exhaust a small stack; and a second pass
//! for `compressed`, whose value is `false` or a level: serde-json-core cannot read a value
//! of either type in one pass.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::sparse::error::EncodeError;

/// The most metadata JSON a [`Decoder`](crate::sparse::Decoder) holds: it copies the JSON
/// into a buffer of this size inside itself to parse it once whole. virtnbdbackup's
/// metadata is about 400 bytes.
pub const METADATA_CAPACITY: usize = 4096;

/// The deepest nesting of arrays and objects accepted in the metadata JSON. Its own keys
/// are all scalars.
pub const METADATA_MAX_DEPTH: usize = 16;

/// The highest stream version this crate reads.
pub const STREAM_VERSION: u64 = 2;

/// The fields of the metadata a restore needs.
///
/// Keys are accepted in every spelling the format has used: virtnbdbackup's current
/// camelCase (`virtualSize`, `dataSize`, `streamVersion`), its older `stream-version`,
/// and ovirt-imageio's hyphenated `virtual-size` and `data-size` (with no version at all).
/// Other keys (`date`, `diskName`, `checkpointName`, …) are ignored here; the JSON itself
/// is handed out as fragments for callers that want them.
///
/// ```
/// use splitfdstream::sparse::{Compression, Metadata, MetadataFault};
///
/// let current = br#"{"virtualSize": 1048576, "dataSize": 4096, "compressed": 2,
///     "compressionMethod": "lz4", "incremental": false, "streamVersion": 2}"#;
/// let metadata = Metadata::parse(current)?;
/// assert_eq!(metadata.virtual_size, 1 << 20);
/// assert_eq!(metadata.compression, Some(Compression::Lz4 { level: Some(2) }));
///
/// let ovirt = br#"{"virtual-size": 512, "data-size": 0, "date": "2020-01-01T00:00:00"}"#;
/// let metadata = Metadata::parse(ovirt)?;
/// assert_eq!((metadata.virtual_size, metadata.stream_version), (512, None));
/// assert!(!metadata.is_compressed());
///
/// assert_eq!(Metadata::parse(b"{}"), Err(MetadataFault::MissingKey("virtualSize")));
/// # Ok::<(), MetadataFault>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metadata {
    /// `virtualSize`: the disk's size in bytes. Every extent lies below it.
    pub virtual_size: u64,
    /// `dataSize`: the data extents' lengths, added up.
    pub data_size: u64,
    /// How data payloads are compressed; `None` when they are raw bytes.
    pub compression: Option<Compression>,
    /// `incremental`: whether the stream holds only the extents changed since a parent
    /// checkpoint (such streams carry no `zero` frames). `false` when absent.
    pub incremental: bool,
    /// `streamVersion` (or `stream-version`): 1 or 2; `None` for ovirt-imageio's streams,
    /// which have no version and read as version 1.
    pub stream_version: Option<u64>,
}

/// How data payloads are compressed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Compression {
    /// Each payload is a sequence of LZ4 frames.
    Lz4 {
        /// The compression level, when `compressed` gives one (`true` gives none).
        level: Option<u64>,
    },
}

/// Why metadata JSON does not describe a stream this crate can read.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MetadataFault {
    /// Not a JSON object, or a known key with a value of the wrong type.
    Json,
    /// Arrays or objects nested deeper than [`METADATA_MAX_DEPTH`].
    TooDeep,
    /// A key a reader needs is absent (named in its current spelling).
    MissingKey(&'static str),
    /// A key appears twice, in the same or in different spellings.
    DuplicateKey(&'static str),
    /// A stream version other than 1 or 2.
    UnsupportedVersion(u64),
    /// `compressionMethod` names something other than `lz4` in a compressed stream.
    UnsupportedCompression,
    /// `compressed` is set in a stream that does not declare version 2, the first with
    /// compression.
    CompressedBeforeVersion2,
}

impl fmt::Display for MetadataFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MetadataFault::Json => f.write_str("not a JSON object with values of the right types"),
            MetadataFault::TooDeep => write!(f, "nested deeper than {METADATA_MAX_DEPTH} levels"),
            MetadataFault::MissingKey(key) => write!(f, "no \"{key}\""),
            MetadataFault::DuplicateKey(key) => write!(f, "\"{key}\" given twice"),
            MetadataFault::UnsupportedVersion(version) => {
                write!(f, "unsupported stream version {version}")
            }
            MetadataFault::UnsupportedCompression => {
                f.write_str("compression method other than lz4")
            }
            MetadataFault::CompressedBeforeVersion2 => {
                f.write_str("compressed, but the stream version is not 2")
            }
        }
    }
}

impl core::error::Error for MetadataFault {}

impl Metadata {
    /// Parses metadata JSON.
    ///
    /// # Errors
    ///
    /// A [`MetadataFault`] when the JSON is malformed, too deep, lacks `virtualSize` or
    /// `dataSize`, repeats a key, or names a version or compression this crate cannot
    /// read.
    pub fn parse(json: &[u8]) -> Result<Metadata, MetadataFault> {
        check_depth(json)?;
        let raw = match serde_json_core::from_slice::<Raw<bool>>(json) {
            Ok((raw, _)) => raw.map_compressed(|on| on.then_some(Compression::Lz4 { level: None })),
            Err(_) => serde_json_core::from_slice::<Raw<u64>>(json)
                .map_err(|_| MetadataFault::Json)?
                .0
                .map_compressed(|level| Some(Compression::Lz4 { level: Some(level) })),
        };
        if let Some(key) = raw.duplicate {
            return Err(MetadataFault::DuplicateKey(key));
        }
        let virtual_size = raw
            .virtual_size
            .ok_or(MetadataFault::MissingKey("virtualSize"))?;
        let data_size = raw.data_size.ok_or(MetadataFault::MissingKey("dataSize"))?;
        match raw.stream_version {
            None | Some(1 | 2) => {}
            Some(version) => return Err(MetadataFault::UnsupportedVersion(version)),
        }
        let compression = raw.compressed.flatten();
        if compression.is_some() {
            if raw.stream_version != Some(2) {
                return Err(MetadataFault::CompressedBeforeVersion2);
            }
            if raw.lz4_method == Some(false) {
                return Err(MetadataFault::UnsupportedCompression);
            }
        }
        Ok(Metadata {
            virtual_size,
            data_size,
            compression,
            incremental: raw.incremental.unwrap_or(false),
            stream_version: raw.stream_version,
        })
    }

    /// Whether data payloads are LZ4 frames.
    pub const fn is_compressed(&self) -> bool {
        self.compression.is_some()
    }
}

/// Refuses JSON nested deeper than [`METADATA_MAX_DEPTH`], before any recursive parse.
fn check_depth(json: &[u8]) -> Result<(), MetadataFault> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > METADATA_MAX_DEPTH {
                    return Err(MetadataFault::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The keys read, as found; `C` is how `compressed` is read in this pass.
struct Raw<C> {
    virtual_size: Option<u64>,
    data_size: Option<u64>,
    compressed: Option<C>,
    lz4_method: Option<bool>,
    incremental: Option<bool>,
    stream_version: Option<u64>,
    duplicate: Option<&'static str>,
}

/// The same keys with `compressed` read into its final form.
struct Read {
    virtual_size: Option<u64>,
    data_size: Option<u64>,
    compressed: Option<Option<Compression>>,
    lz4_method: Option<bool>,
    incremental: Option<bool>,
    stream_version: Option<u64>,
    duplicate: Option<&'static str>,
}

impl<C> Raw<C> {
    fn map_compressed(self, f: impl FnOnce(C) -> Option<Compression>) -> Read {
        Read {
            virtual_size: self.virtual_size,
            data_size: self.data_size,
            compressed: self.compressed.map(f),
            lz4_method: self.lz4_method,
            incremental: self.incremental,
            stream_version: self.stream_version,
            duplicate: self.duplicate,
        }
    }
}

impl<'de, C: Deserialize<'de>> Deserialize<'de> for Raw<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawVisitor(PhantomData))
    }
}

struct RawVisitor<C>(PhantomData<C>);

/// Stores a key's value, remembering (under the key's current spelling) when it was
/// already set.
fn set<T>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
    duplicate: &mut Option<&'static str>,
) {
    if slot.is_some() && duplicate.is_none() {
        *duplicate = Some(name);
    }
    *slot = Some(value);
}

impl<'de, C: Deserialize<'de>> Visitor<'de> for RawVisitor<C> {
    type Value = Raw<C>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sparse stream's metadata object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<C>, A::Error> {
        let mut raw = Raw {
            virtual_size: None,
            data_size: None,
            compressed: None,
            lz4_method: None,
            incremental: None,
            stream_version: None,
            duplicate: None,
        };
        let dup = &mut raw.duplicate;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "virtualSize" | "virtual-size" => {
                    set(&mut raw.virtual_size, map.next_value()?, "virtualSize", dup);
                }
                "dataSize" | "data-size" => {
                    set(&mut raw.data_size, map.next_value()?, "dataSize", dup);
                }
                "streamVersion" | "stream-version" => {
                    set(
                        &mut raw.stream_version,
                        map.next_value()?,
                        "streamVersion",
                        dup,
                    );
                }
                "compressed" => set(&mut raw.compressed, map.next_value()?, "compressed", dup),
                "compressionMethod" => {
                    let method = map.next_value::<&'de str>()?;
                    set(
                        &mut raw.lz4_method,
                        method == "lz4",
                        "compressionMethod",
                        dup,
                    );
                }
                "incremental" => set(&mut raw.incremental, map.next_value()?, "incremental", dup),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// The metadata an [`Encoder`](crate::sparse::Encoder) writes: every key virtnbdbackup
/// writes, in its current spelling and order, so that its own restore can read the
/// stream (it requires `virtualSize`, `dataSize`, `diskName`, `checkpointName`,
/// `streamVersion` and `compressed`).
///
/// ```
/// use splitfdstream::sparse::{Metadata, MetadataFields};
///
/// let fields = MetadataFields::new(1 << 20, 4096, "vda", "virtnbdbackup.0");
/// let mut json = [0u8; 512];
/// let len = fields.write_json(&mut json).unwrap();
/// let metadata = Metadata::parse(&json[..len]).unwrap();
/// assert_eq!((metadata.virtual_size, metadata.data_size), (1 << 20, 4096));
/// assert_eq!(metadata.stream_version, Some(2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MetadataFields<'a> {
    /// `virtualSize`.
    pub virtual_size: u64,
    /// `dataSize`: the encoder refuses to write `stop` unless the data extents add up to it.
    pub data_size: u64,
    /// `date`: an ISO 8601 time (the core has no clock).
    pub date: &'a str,
    /// `diskName`: the disk's target name, such as `vda`.
    pub disk_name: &'a str,
    /// `diskFormat`, such as `raw` or `qcow2`.
    pub disk_format: &'a str,
    /// `checkpointName`.
    pub checkpoint_name: &'a str,
    /// `parentCheckpoint`; written as `false` when `None`.
    pub parent_checkpoint: Option<&'a str>,
    /// `incremental`.
    pub incremental: bool,
    /// `compressed` (`false`, or the level) and `compressionMethod` (always `lz4`).
    pub compression: Option<Compression>,
}

impl<'a> MetadataFields<'a> {
    /// Metadata of a full, uncompressed backup of a `raw` disk, with an empty date.
    pub const fn new(
        virtual_size: u64,
        data_size: u64,
        disk_name: &'a str,
        checkpoint_name: &'a str,
    ) -> MetadataFields<'a> {
        MetadataFields {
            virtual_size,
            data_size,
            date: "",
            disk_name,
            disk_format: "raw",
            checkpoint_name,
            parent_checkpoint: None,
            incremental: false,
            compression: None,
        }
    }

    /// Writes the JSON into `out` and returns its length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InsufficientSize`] when `out` is too small (the size is then not
    /// known: retry with a larger buffer).
    pub fn write_json(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        serde_json_core::to_slice(self, out).map_err(|_| EncodeError::InsufficientSize {
            required: out.len().saturating_add(1),
        })
    }
}

/// `false`, or the compression level.
struct Compressed(Option<Compression>);

impl Serialize for Compressed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => serializer.serialize_bool(false),
            Some(Compression::Lz4 { level: None }) => serializer.serialize_bool(true),
            Some(Compression::Lz4 { level: Some(level) }) => serializer.serialize_u64(level),
        }
    }
}

/// A parent checkpoint's name, or `false`.
struct Parent<'a>(Option<&'a str>);

impl Serialize for Parent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => serializer.serialize_bool(false),
            Some(name) => serializer.serialize_str(name),
        }
    }
}

impl Serialize for MetadataFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Metadata", 11)?;
        map.serialize_field("virtualSize", &self.virtual_size)?;
        map.serialize_field("dataSize", &self.data_size)?;
        map.serialize_field("date", self.date)?;
        map.serialize_field("diskName", self.disk_name)?;
        map.serialize_field("diskFormat", self.disk_format)?;
        map.serialize_field("checkpointName", self.checkpoint_name)?;
        map.serialize_field("compressed", &Compressed(self.compression))?;
        map.serialize_field("compressionMethod", "lz4")?;
        map.serialize_field("parentCheckpoint", &Parent(self.parent_checkpoint))?;
        map.serialize_field("incremental", &self.incremental)?;
        map.serialize_field("streamVersion", &STREAM_VERSION)?;
        map.end()
    }
}
