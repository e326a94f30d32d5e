//! [`IndexError`]: every way reading, writing or querying a TSDB index fails.

use std::fmt;

use crate::encoding::DecodeError;

/// A section of a TSDB index file (`../shared/spec/tsdb-index.md` §2), named
/// in errors so a corrupt file says where it is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// Magic number and version byte.
    Header,
    /// The symbol table (§2.1).
    Symbols,
    /// A series record (§2.2).
    Series,
    /// A label index (§2.7).
    LabelIndex,
    /// A postings list (§2.7).
    Postings,
    /// The label-indices offset table (§2.7).
    LabelIndicesTable,
    /// The postings offset table (§2.7).
    PostingsTable,
    /// The fingerprint offsets table (§2.7).
    FingerprintOffsets,
    /// The table of contents (§2.8).
    Toc,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Symbols => "symbol table",
            Self::Series => "series",
            Self::LabelIndex => "label index",
            Self::Postings => "postings list",
            Self::LabelIndicesTable => "label indices table",
            Self::PostingsTable => "postings offset table",
            Self::FingerprintOffsets => "fingerprint offsets table",
            Self::Toc => "TOC",
        })
    }
}

/// Why a TSDB index could not be read, written or queried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The file does not start with the TSDB index magic `0xBAAAD700`.
    #[error("not a TSDB index: bad magic {found:#010x}")]
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// The version byte is not 2, 3 or 4.
    #[error("unsupported TSDB index format version {0}")]
    UnsupportedVersion(u8),
    /// The file is shorter than a header plus a TOC.
    #[error("TSDB index too short: {len} bytes")]
    TooShort {
        /// The file length.
        len: usize,
    },
    /// A section's stored CRC32-Castagnoli does not match its content.
    #[error("CRC mismatch in {section} at offset {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The section.
        section: Section,
        /// File offset of the section (its length field).
        offset: u64,
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
    /// A field could not be decoded (truncated, overflowing or invalid).
    #[error("corrupt {section}: {source}")]
    Decode {
        /// The section being read.
        section: Section,
        /// The field, its file offset and what is wrong with it.
        #[source]
        source: DecodeError,
    },
    /// A structural rule of the format is broken (offsets out of range,
    /// unsorted tables, dangling symbol references...).
    #[error("corrupt {section} at offset {offset}: {msg}")]
    Corrupt {
        /// The section.
        section: Section,
        /// File offset where the problem was found.
        offset: u64,
        /// What is wrong.
        msg: String,
    },
    /// The writer was called out of order (series not sorted by
    /// fingerprint then labels, symbols not strictly increasing, a stage
    /// revisited); nothing was written for the call.
    #[error("out-of-order index write: {0}")]
    OutOfOrder(String),
    /// The writer was given input it cannot encode (unknown symbol, empty
    /// label name, a section over 4 GiB...).
    #[error("invalid index input: {0}")]
    InvalidInput(String),
    /// A label matcher could not be built (bad regex).
    #[error("invalid matcher {name}{op}{value:?}: {msg}")]
    InvalidMatcher {
        /// The label name.
        name: String,
        /// The operator as written.
        op: &'static str,
        /// The value or pattern.
        value: String,
        /// Why.
        msg: String,
    },
    /// A shard spec is not `s_of_n` with `n` a power of two > 1 and `s < n`.
    #[error("invalid shard {0:?}: want s_of_n with n a power of two greater than 1 and s < n")]
    InvalidShard(String),
    /// A table or index file name does not follow Loki's shipper naming.
    #[error("invalid index name {0:?}")]
    InvalidName(String),
    /// A gzip'ed index object could not be decompressed.
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    /// An I/O error while reading or writing a local index file.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl IndexError {
    pub(crate) fn decode(section: Section, source: DecodeError) -> Self {
        Self::Decode { section, source }
    }

    pub(crate) fn corrupt(section: Section, offset: u64, msg: impl Into<String>) -> Self {
        Self::Corrupt { section, offset, msg: msg.into() }
    }
}
