//! Log entries: owned ([`Entry`]) and borrowed from a chunk ([`EntryRef`]).

use bytes::Bytes;

use super::symbols::Symbols;
use crate::labels::Label;

/// Structured metadata of one entry: name/value pairs.
pub type Metadata = Vec<Label>;

/// An owned log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Unix time in nanoseconds.
    pub timestamp: i64,
    /// The log line (any bytes; Loki lines are usually UTF-8).
    pub line: Bytes,
    /// Structured metadata; stored sorted by name.
    pub metadata: Metadata,
}

impl Entry {
    /// An entry without metadata.
    pub fn new(timestamp: i64, line: impl Into<Bytes>) -> Self {
        Self { timestamp, line: line.into(), metadata: Vec::new() }
    }

    /// An entry with structured metadata.
    pub fn with_metadata(timestamp: i64, line: impl Into<Bytes>, metadata: Metadata) -> Self {
        Self { timestamp, line: line.into(), metadata }
    }
}

/// An entry borrowed from a chunk during iteration. Metadata names are
/// normalized as Loki normalizes them on read.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    /// Unix time in nanoseconds.
    pub timestamp: i64,
    /// The log line.
    pub line: &'a [u8],
    pub(crate) pairs: &'a [(u32, u32)],
    pub(crate) symbols: &'a Symbols,
}

impl<'a> EntryRef<'a> {
    /// Structured metadata as (name, value) pairs, names normalized.
    pub fn metadata(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + 'a {
        let symbols = self.symbols;
        self.pairs.iter().map(move |&(n, v)| (symbols.name(n), symbols.get(v)))
    }

    /// Number of metadata pairs.
    pub fn metadata_len(&self) -> usize {
        self.pairs.len()
    }

    /// Copies the entry out of the chunk.
    pub fn to_entry(&self) -> Entry {
        Entry {
            timestamp: self.timestamp,
            line: Bytes::copy_from_slice(self.line),
            metadata: self.metadata().map(|(n, v)| Label::new(n, v)).collect(),
        }
    }
}

impl std::fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryRef")
            .field("timestamp", &self.timestamp)
            .field("line", &String::from_utf8_lossy(self.line))
            .field("metadata", &self.metadata().collect::<Vec<_>>())
            .finish()
    }
}
