//! [`WalError`]: everything that can go wrong writing or replaying the WAL.
//! Corruption always carries where it was found ([`Location`]).

use std::fmt;
use std::path::PathBuf;

use crate::chunk::ChunkError;
use crate::encoding::DecodeError;

/// Where in a WAL directory a record or a corruption is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// `Some(n)` when the segment belongs to the checkpoint `checkpoint.n`.
    pub checkpoint: Option<u32>,
    /// Segment index (the file name).
    pub segment: u32,
    /// Byte offset in the segment file.
    pub offset: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cp) = self.checkpoint {
            write!(f, "checkpoint.{cp:06}/")?;
        }
        write!(f, "segment {:08} offset {}", self.segment, self.offset)
    }
}

/// What is wrong with corrupt WAL bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// The segment ends inside a fragment, or inside a record whose last
    /// fragment is missing (the torn tail a crash leaves).
    #[error("unexpected end of segment (torn record)")]
    UnexpectedEnd,
    /// A fragment's CRC32C does not match its payload.
    #[error("fragment checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Stored in the header.
        stored: u32,
        /// Computed over the payload.
        computed: u32,
    },
    /// The fragment type byte is not one of 0..=4 (plus compression flags).
    #[error("invalid fragment type byte {0:#04x}")]
    InvalidFragmentType(u8),
    /// A fragment header or payload runs past the end of its page.
    #[error("fragment of {0} bytes crosses a page boundary")]
    CrossesPage(usize),
    /// The bytes after a page terminator are not all zero.
    #[error("non-zero bytes in page padding")]
    NonZeroPadding,
    /// FULL/FIRST inside a record, or MIDDLE/LAST outside one.
    #[error("unexpected {found} fragment {context}")]
    UnexpectedFragment {
        /// The fragment type found.
        found: &'static str,
        /// `"inside a record"` or `"outside a record"`.
        context: &'static str,
    },
    /// A record's fragments use different compression flags.
    #[error("fragments of one record disagree on compression")]
    MixedCompression,
    /// A compressed record does not decompress.
    #[error("record does not decompress: {0}")]
    Decompress(String),
    /// The record payload does not decode.
    #[error("invalid record: {0}")]
    Record(#[from] DecodeError),
}

impl CorruptionKind {
    /// True for the damage a crash in the middle of a write leaves at the
    /// end of the newest segment.
    pub fn is_truncation(&self) -> bool {
        matches!(self, CorruptionKind::UnexpectedEnd)
    }
}

/// A WAL error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// Corrupt bytes at a known place.
    #[error("corrupt WAL at {location}: {kind}")]
    Corrupt {
        /// Where.
        location: Location,
        /// What.
        kind: CorruptionKind,
    },
    /// An I/O error on a file or directory.
    #[error("WAL I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Segment files are not consecutively numbered.
    #[error("WAL segments are not sequential: segment {found:08} follows {previous:08} in {}", dir.display())]
    NotSequential {
        /// The directory.
        dir: PathBuf,
        /// The segment before the gap.
        previous: u32,
        /// The segment after the gap.
        found: u32,
    },
    /// A record is larger than a whole segment.
    #[error("WAL record of {len} bytes does not fit in a segment of {segment_size} bytes")]
    RecordTooLarge {
        /// Record length.
        len: usize,
        /// Configured segment size.
        segment_size: u64,
    },
    /// The configuration is unusable.
    #[error("invalid WAL configuration: {0}")]
    Config(String),
    /// An earlier write or fsync failed; the WAL refuses further writes
    /// because what is on disk is unknown.
    #[error("the WAL is unusable after an earlier failure: {0}")]
    Failed(String),
    /// A chunk could not be serialized for, or restored from, a checkpoint.
    #[error("checkpoint chunk: {0}")]
    Chunk(#[from] ChunkError),
    /// The replay sink refused a record.
    #[error("replay sink: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl WalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WalError::Io { path: path.into(), source }
    }

    /// The location of a corruption, if this is one.
    pub fn location(&self) -> Option<Location> {
        match self {
            WalError::Corrupt { location, .. } => Some(*location),
            _ => None,
        }
    }
}
