//! The index builder (Loki's `tsdb.Builder`, `../shared/spec/tsdb-index.md`
//! §4.3): series in any order, chunks appended, then sorted and written.

use crate::{Fingerprint, Labels};

use super::chunk_meta::{ChunkMeta, finalize_chunks};
use super::error::IndexError;
use super::format::IndexFormat;
use super::fxhash::{FxHashMap, FxHashSet};
use super::writer::{IndexWriter, WrittenIndex};

/// Collects series and chunks in any order and writes them as Loki's
/// builder does: series keyed by labels (the first fingerprint given for a
/// label set wins), chunks sorted by (MinTime, MaxTime, Checksum) and
/// de-duplicated, series sorted by (fingerprint, labels), symbols = every
/// name and value.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::index::{ChunkMeta, IndexBuilder, IndexFormat, IndexReader};
///
/// let labels: Labels = r#"{app="demo"}"#.parse().unwrap();
/// let mut b = IndexBuilder::new(IndexFormat::V3);
/// b.add_series(&labels, labels.fingerprint(), [ChunkMeta::new(1_700_000_000_000, 1_700_000_001_000, 0, 2, 0x9ca0368e)]);
/// let file = b.build().unwrap();
/// assert_eq!(file.bytes.len(), 289);
/// assert_eq!(file.toc.checksum, 0x7c8fd7a9);
/// let reader = IndexReader::new(file.bytes.into()).unwrap();
/// assert_eq!(reader.num_series(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    format: IndexFormat,
    streams: FxHashMap<Labels, (Fingerprint, Vec<ChunkMeta>)>,
}

impl IndexBuilder {
    /// An empty builder for `format`.
    pub fn new(format: IndexFormat) -> Self {
        Self { format, streams: FxHashMap::default() }
    }

    /// Adds chunks to the series `labels` (created with `fp` if new).
    pub fn add_series(&mut self, labels: &Labels, fp: Fingerprint, chunks: impl IntoIterator<Item = ChunkMeta>) {
        match self.streams.get_mut(labels) {
            Some((_, c)) => c.extend(chunks),
            None => {
                self.streams.insert(labels.clone(), (fp, chunks.into_iter().collect()));
            }
        }
    }

    /// Number of series added.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no series was added.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Writes the index.
    pub fn build(self) -> Result<WrittenIndex, IndexError> {
        let mut streams: Vec<(Labels, Fingerprint, Vec<ChunkMeta>)> =
            self.streams.into_iter().map(|(l, (fp, c))| (l, fp, c)).collect();
        streams.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let mut seen = FxHashSet::default();
        for (l, _, _) in &streams {
            for label in l {
                seen.insert(label.name.as_str());
                seen.insert(label.value.as_str());
            }
        }
        let mut symbols: Vec<&str> = seen.into_iter().collect();
        symbols.sort_unstable();
        let mut w = IndexWriter::new(self.format);
        for s in symbols {
            w.add_symbol(s)?;
        }
        for (labels, fp, chunks) in &mut streams {
            finalize_chunks(chunks);
            w.add_series(labels, *fp, chunks)?;
        }
        w.finish()
    }
}
