//! Loki chunks: the compressed, block-structured container holding the log
//! lines of one stream (`../shared/spec/chunk-format.md`).
//!
//! A [`Chunk`] is both the writer (entries are appended to an in-memory head
//! block that is cut into compressed blocks) and the reader (a serialized
//! chunk decodes back into a `Chunk` whose blocks borrow the input bytes).
//!
//! Serialized layout, format v4 (big-endian fixed-width integers):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4 | magic `0x012EE56A` |
//! | 4 | 1 | format byte (4) |
//! | 5 | 1 | encoding byte ([`Encoding`]) |
//! | 6 | smLen | structured-metadata symbols: `uvarint count` + compressed (`uvarint len`, bytes)* |
//! | 6+smLen | 4 | CRC32C of the symbols section |
//! | … | per block | compressed block, then CRC32C of it |
//! | metasOffset | metasLen | block metas: `uvarint n`, then per block `uvarint entries`, `varint mint`, `varint maxt`, `uvarint offset`, `uvarint uncompressedSize`, `uvarint len` |
//! | … | 4 | CRC32C of the block metas |
//! | end-32 | 32 | `BE64 smLen`, `BE64 smOffset`, `BE64 metasLen`, `BE64 metasOffset` |
//!
//! Formats v1–v3 have no symbols section and end with `crc(metas)` + `BE64
//! metasOffset`; v1 has no encoding byte (always gzip) and v1/v2 block metas
//! have no `uncompressedSize`. Inside a block each entry is `varint ts`,
//! `uvarint len`, line bytes and, in v4, `uvarint symLen`, `uvarint nPairs`,
//! `nPairs × (uvarint name, uvarint value)` symbol indices.

mod block;
mod checkpoint;
mod codec;
mod decode;
mod encode;
mod entry;
mod head;
mod iter;
mod memchunk;
mod rewrite;
mod symbols;

pub use block::BlockInfo;
pub use block::MAX_DECODED_BYTES;
pub use codec::{CodecError, Encoding, MAX_DECOMPRESSED_LEN};
pub use entry::{Entry, EntryRef, Metadata};
pub use iter::{EntryIter, MAX_BLOCK_DECOMPRESSED_LEN};
pub use memchunk::{AppendOutcome, Chunk};

use crate::encoding::DecodeError;

/// Magic number at the start of every serialized chunk.
pub const CHUNK_MAGIC: u32 = 0x012E_E56A;
/// Loki's default block size (`-ingester.chunks-block-size`): 256 KiB.
pub const DEFAULT_BLOCK_SIZE: usize = 256 * 1024;
/// Loki's default chunk target size (`-ingester.chunk-target-size`): 1.5 MB.
pub const DEFAULT_TARGET_SIZE: usize = 1_572_864;
/// Lines at least this long are rejected by the reader (Loki's `maxLineLength`).
pub const MAX_LINE_LENGTH: u64 = 1 << 30;

/// The chunk format byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ChunkFormat {
    /// Legacy gzip-only format without an encoding byte (read only).
    V1,
    /// Encoding byte, no uncompressed sizes.
    V2,
    /// Block metas carry the uncompressed size (schema <= v12).
    V3,
    /// Adds structured metadata (schema v13/v14); the default.
    #[default]
    V4,
}

impl ChunkFormat {
    /// The format byte.
    pub fn to_byte(self) -> u8 {
        match self {
            ChunkFormat::V1 => 1,
            ChunkFormat::V2 => 2,
            ChunkFormat::V3 => 3,
            ChunkFormat::V4 => 4,
        }
    }

    /// The format for a format byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => ChunkFormat::V1,
            2 => ChunkFormat::V2,
            3 => ChunkFormat::V3,
            4 => ChunkFormat::V4,
            _ => return None,
        })
    }

    /// The head block format Loki pairs with this chunk format.
    pub fn default_head_format(self) -> HeadFormat {
        match self {
            ChunkFormat::V1 | ChunkFormat::V2 => HeadFormat::Ordered,
            ChunkFormat::V3 => HeadFormat::Unordered,
            ChunkFormat::V4 => HeadFormat::UnorderedWithMetadata,
        }
    }

    pub(crate) fn has_metadata(self) -> bool {
        self == ChunkFormat::V4
    }

    pub(crate) fn has_uncompressed_size(self) -> bool {
        self >= ChunkFormat::V3
    }
}

/// The in-memory head block kind; its byte appears only in WAL checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadFormat {
    /// Entries must arrive in timestamp order (byte 3).
    Ordered,
    /// Any order; identical entries are dropped (byte 4).
    Unordered,
    /// Any order, with structured metadata (byte 5).
    UnorderedWithMetadata,
}

impl HeadFormat {
    /// The checkpoint byte.
    pub fn to_byte(self) -> u8 {
        match self {
            HeadFormat::Ordered => 3,
            HeadFormat::Unordered => 4,
            HeadFormat::UnorderedWithMetadata => 5,
        }
    }

    /// The head format for a checkpoint byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            3 => HeadFormat::Ordered,
            4 => HeadFormat::Unordered,
            5 => HeadFormat::UnorderedWithMetadata,
            _ => return None,
        })
    }
}

/// Settings of a chunk being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Serialized format (v2, v3 or v4; v1 is read only).
    pub format: ChunkFormat,
    /// Head block kind; must suit the format (see [`ChunkFormat::default_head_format`]).
    pub head_format: HeadFormat,
    /// Compression codec of blocks and the symbol payload.
    pub encoding: Encoding,
    /// A block is cut once the head's size counter reaches this many bytes.
    pub block_size: usize,
    /// A chunk is full once its estimated size would reach this; 0 means "at most 10 blocks".
    pub target_size: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self::new(ChunkFormat::V4, Encoding::default())
    }
}

impl ChunkConfig {
    /// Loki's settings for `format` and `encoding`: default block and target
    /// sizes and the head format Loki uses with that chunk format.
    pub fn new(format: ChunkFormat, encoding: Encoding) -> Self {
        Self {
            format,
            head_format: format.default_head_format(),
            encoding,
            block_size: DEFAULT_BLOCK_SIZE,
            target_size: DEFAULT_TARGET_SIZE,
        }
    }

    /// Sets the block size.
    pub fn with_block_size(mut self, block_size: usize) -> Self {
        self.block_size = block_size;
        self
    }

    /// Sets the target size.
    pub fn with_target_size(mut self, target_size: usize) -> Self {
        self.target_size = target_size;
        self
    }

    /// Sets the head format.
    pub fn with_head_format(mut self, head_format: HeadFormat) -> Self {
        self.head_format = head_format;
        self
    }

    fn validate(&self) -> Result<(), ChunkError> {
        let ok = match self.format {
            ChunkFormat::V1 => false,
            ChunkFormat::V2 => self.head_format == HeadFormat::Ordered,
            ChunkFormat::V3 => self.head_format != HeadFormat::UnorderedWithMetadata,
            ChunkFormat::V4 => true,
        };
        if ok { Ok(()) } else { Err(ChunkError::InvalidConfig { format: self.format, head_format: self.head_format }) }
    }
}

/// Iteration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Ascending timestamps.
    #[default]
    Forward,
    /// Descending timestamps.
    Backward,
}

/// A chunk could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The bytes are truncated or a field is out of range.
    #[error("corrupt chunk: {0}")]
    Decode(#[from] DecodeError),
    /// A block or the symbol payload failed to decompress.
    #[error("corrupt chunk: {0}")]
    Codec(#[from] CodecError),
    /// The first four bytes are not the chunk magic.
    #[error("invalid chunk magic number {found:#010x}")]
    BadMagic {
        /// What was found.
        found: u32,
    },
    /// The format byte is unknown.
    #[error("invalid chunk format version {0}")]
    UnsupportedFormat(u8),
    /// A section's stored CRC32C does not match its bytes.
    #[error("invalid chunk checksum in {section} at offset {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Which section.
        section: &'static str,
        /// Offset of the section in the chunk.
        offset: usize,
        /// The stored checksum.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// An ordered head was given an entry older than its newest one.
    #[error("entry out of order: timestamp {timestamp} is before {newest}")]
    OutOfOrder {
        /// The rejected timestamp (ns).
        timestamp: i64,
        /// The newest timestamp already in the chunk (ns).
        newest: i64,
    },
    /// An unordered head cannot hold this timestamp (Loki serializes only `[0, i64::MAX)`).
    #[error("timestamp {0} is outside the range an unordered head can store ([0, i64::MAX))")]
    TimestampOutOfRange(i64),
    /// A line is longer than a chunk can hold.
    #[error("line of {0} bytes exceeds the maximum line length")]
    LineTooLong(u64),
    /// The format and head format do not go together, or the format cannot be written.
    #[error("chunk format {format:?} cannot be written with head format {head_format:?}")]
    InvalidConfig {
        /// Chunk format.
        format: ChunkFormat,
        /// Head format.
        head_format: HeadFormat,
    },
    /// An entry is older than the stream's out-of-order window allows.
    #[error("entry too far behind, entry timestamp is: {timestamp}, oldest acceptable timestamp is: {cutoff}")]
    TooFarBehind {
        /// The rejected timestamp (ns).
        timestamp: i64,
        /// The oldest accepted timestamp (ns).
        cutoff: i64,
    },
    /// The chunk holds no entry, so there is nothing to store.
    #[error("chunk is empty")]
    EmptyChunk,
    /// The head block still holds entries that serialization would leave out.
    #[error("chunk has {0} entries in its head block: close() it before storing it")]
    UnclosedHead(usize),
    /// Decoding would hold more bytes (decompressed data and entry index)
    /// than an iterator allows.
    #[error("decoded entries need more than {bytes} bytes, more than an iterator holds")]
    DecodedTooLarge {
        /// Bytes decompressed when the limit was passed.
        bytes: usize,
    },
    /// A rewrite removed every entry.
    #[error("chunk has no data left after rewriting")]
    NoDataLeft,
}
