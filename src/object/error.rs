//! Errors of the stored-object layer: keys, the wrapper, the snappy framing
//! and the metadata JSON.

use std::fmt;

use crate::encoding::DecodeError;
use crate::labels::LabelsError;

/// Why a chunk object or key could not be encoded, decoded or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// A key string is not `tenant/fp/from:through:checksum` (or the legacy
    /// `tenant/fp:from:through:checksum`).
    #[error("invalid chunk key {key:?}: {part} {problem}")]
    InvalidKey {
        /// The key as given (for a filesystem path: the decoded key).
        key: String,
        /// Which part of the key is wrong.
        part: KeyPart,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A filesystem object-store path is not `tenant/fp/<base64 of
    /// "from:through:checksum">` nor a base64 legacy key.
    #[error("invalid filesystem chunk path {path:?}: {problem}")]
    InvalidFsPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The CRC32-C of the object differs from the checksum in its key
    /// (Loki's `ErrInvalidChecksum`).
    #[error("chunk object checksum mismatch: key says {expected:08x}, object has {actual:08x}")]
    ChecksumMismatch {
        /// The checksum in the key.
        expected: u32,
        /// The CRC32-C of the object bytes.
        actual: u32,
    },
    /// An object too large for the wrapper's 32-bit length fields.
    #[error("chunk object too large: {what} of {len} bytes exceeds the 4 GiB a 32-bit length field can describe")]
    TooLarge {
        /// Which part.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The object ended early or a length field could not be read.
    #[error("malformed chunk object: {0}")]
    Decode(#[from] DecodeError),
    /// `metaLen` is neither the number of bytes the metadata took (length
    /// word included) nor that minus 4 (Loki's `ErrMetadataLength`).
    #[error("chunk metadata wrong length: metaLen is {meta_len}, but the metadata ends at offset {consumed}")]
    MetaLenMismatch {
        /// The `metaLen` word.
        meta_len: u32,
        /// Offset just after the snappy chunk holding the end of the JSON.
        consumed: usize,
    },
    /// The metadata JSON does not end within the first `metaLen + 4` bytes
    /// although the object is longer (Loki's `ErrMetadataLength`).
    #[error("chunk metadata wrong length: the metadata does not end within metaLen ({meta_len}) + 4 bytes")]
    MetaLenTooShort {
        /// The `metaLen` word.
        meta_len: u32,
    },
    /// `dataLen` differs from the number of bytes after it (Loki's
    /// `ErrDataLength`).
    #[error("chunk data wrong length: dataLen is {data_len}, but {remaining} bytes follow it")]
    DataLenMismatch {
        /// The `dataLen` word.
        data_len: u32,
        /// Bytes after the `dataLen` word.
        remaining: usize,
    },
    /// The metadata's snappy framed stream is invalid.
    #[error("bad snappy framing at object offset {offset}: {problem}")]
    SnappyFraming {
        /// Object offset of the snappy chunk header.
        offset: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// The metadata is not the JSON object Loki writes.
    #[error("bad chunk metadata JSON at offset {offset} of the JSON text: {problem}")]
    MetadataJson {
        /// Offset in the decompressed JSON text.
        offset: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// The metadata's `metric` is not a valid label set.
    #[error("bad labels in chunk metadata: {0}")]
    MetadataLabels(#[source] LabelsError),
    /// The metadata's `encoding` is neither 129 (`LogChunk`) nor 128
    /// (`GzipLogChunk`).
    #[error("unknown chunk encoding {encoding} in chunk metadata (expected 129 or 128)")]
    UnknownEncoding {
        /// The value found.
        encoding: u8,
    },
    /// The metadata disagrees with the key the object was read under
    /// (Loki's `ErrWrongMetadata`).
    #[error("wrong chunk metadata: {field} is {metadata} in the object but {key} in the key")]
    WrongMetadata {
        /// The field that differs.
        field: MetaField,
        /// The value in the key.
        key: String,
        /// The value in the object's metadata.
        metadata: String,
    },
}

/// A part of a chunk key, for [`ObjectError::InvalidKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPart {
    /// The tenant before the first `/`.
    Tenant,
    /// The stream fingerprint.
    Fingerprint,
    /// The `from` time.
    From,
    /// The `through` time.
    Through,
    /// The object checksum.
    Checksum,
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tenant => "tenant",
            Self::Fingerprint => "fingerprint",
            Self::From => "from",
            Self::Through => "through",
            Self::Checksum => "checksum",
        })
    }
}

/// A metadata field compared with the key, for [`ObjectError::WrongMetadata`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetaField {
    /// `userID` (the tenant).
    UserId,
    /// `fingerprint`.
    Fingerprint,
    /// `from`.
    From,
    /// `through`.
    Through,
}

impl fmt::Display for MetaField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserId => "userID",
            Self::Fingerprint => "fingerprint",
            Self::From => "from",
            Self::Through => "through",
        })
    }
}
