//! [`Chunk`]: the in-memory chunk — appends, block cutting, the "space for"
//! rule, close/reorder and statistics (`../shared/spec/chunk-format.md` §7).

use bytes::Bytes;

use super::block::Block;
use super::head::{Head, HeadAppend};
use super::symbols::Symbols;
use super::{ChunkConfig, ChunkError, ChunkFormat, Direction, Entry, HeadFormat};
use crate::encoding::crc32c;
use crate::labels::Label;

/// What [`Chunk::append`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entry was stored.
    Appended,
    /// An identical entry (timestamp, line, metadata) was already in the head
    /// block; the entry was dropped, as Loki drops it.
    Duplicate,
}

/// A Loki chunk: the compressed log lines of one stream.
///
/// Built by appending entries (see [`Chunk::new`]) or decoded from bytes
/// Loki or lokistore wrote (see [`Chunk::from_bytes`]).
///
/// # Examples
///
/// ```
/// use lokistore::{Chunk, ChunkConfig, Direction};
///
/// let mut chunk = Chunk::new(ChunkConfig::default())?;
/// chunk.append(1_700_000_000_000_000_000, b"hello", &[("trace_id", "abc")])?;
/// chunk.append(1_700_000_001_000_000_000, b"world", &[])?;
/// chunk.close()?;
/// let bytes = chunk.to_bytes()?;
///
/// let read = Chunk::from_bytes(bytes.into())?;
/// let entries = read.entries(i64::MIN, i64::MAX, Direction::Forward)?;
/// assert_eq!(entries.len(), 2);
/// assert_eq!(&entries[0].line[..], b"hello");
/// assert_eq!(entries[0].metadata[0].name, "trace_id");
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Chunk {
    pub(crate) config: ChunkConfig,
    pub(crate) blocks: Vec<Block>,
    /// Sum of the cut blocks' compressed lengths.
    pub(crate) cut_block_size: usize,
    pub(crate) head: Head,
    pub(crate) symbols: Symbols,
    /// Blocks dropped on read because their checksum did not match.
    pub(crate) corrupt_blocks: usize,
    /// Reusable buffers for cutting.
    pairs_scratch: Vec<(u32, u32)>,
    order_scratch: Vec<usize>,
}

/// Structured metadata as an indexable list of (name, value) pairs, so both
/// borrowed pairs and owned labels append without building a new list.
pub(crate) trait PairSource {
    fn count(&self) -> usize;
    fn pair(&self, i: usize) -> (&str, &str);
}

impl PairSource for [(&str, &str)] {
    fn count(&self) -> usize {
        self.len()
    }
    fn pair(&self, i: usize) -> (&str, &str) {
        self[i]
    }
}

/// Symbol-index pairs of one chunk, resolved to their raw (unnormalized) strings.
struct RawPairs<'a> {
    pairs: &'a [(u32, u32)],
    symbols: &'a Symbols,
}

impl PairSource for RawPairs<'_> {
    fn count(&self) -> usize {
        self.pairs.len()
    }
    fn pair(&self, i: usize) -> (&str, &str) {
        let (n, v) = self.pairs[i];
        (self.symbols.raw(n).unwrap_or(""), self.symbols.get(v))
    }
}

impl PairSource for [Label] {
    fn count(&self) -> usize {
        self.len()
    }
    fn pair(&self, i: usize) -> (&str, &str) {
        (&self[i].name, &self[i].value)
    }
}

thread_local! {
    /// Serialized head entries on their way into a compressed block.
    static CUT_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Chunk {
    /// An empty chunk that will be written with `config`.
    pub fn new(config: ChunkConfig) -> Result<Self, ChunkError> {
        config.validate()?;
        Ok(Self::new_unchecked(config))
    }

    pub(crate) fn new_unchecked(config: ChunkConfig) -> Self {
        Self {
            config,
            blocks: Vec::new(),
            cut_block_size: 0,
            head: Head::new(config.head_format),
            symbols: Symbols::default(),
            corrupt_blocks: 0,
            pairs_scratch: Vec::new(),
            order_scratch: Vec::new(),
        }
    }

    /// The chunk's settings.
    pub fn config(&self) -> &ChunkConfig {
        &self.config
    }

    /// The chunk format.
    pub fn format(&self) -> ChunkFormat {
        self.config.format
    }

    /// The compression codec.
    pub fn encoding(&self) -> super::Encoding {
        self.config.encoding
    }

    /// Number of cut blocks (the head is not counted).
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Number of entries in blocks and head.
    pub fn num_entries(&self) -> usize {
        // Counts of a decoded chunk come from its (untrusted) block metas.
        self.blocks.iter().fold(self.head.len(), |n, b| n.saturating_add(b.num_entries))
    }

    /// Blocks skipped when this chunk was decoded because their checksum did
    /// not match (Loki's bad-block behaviour: they are dropped, not fatal).
    pub fn corrupt_blocks(&self) -> usize {
        self.corrupt_blocks
    }

    /// True when the chunk holds no entry.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.head.is_empty()
    }

    /// True when the head block holds entries that [`Chunk::to_bytes`] would not include.
    pub fn has_unflushed_head(&self) -> bool {
        !self.head.is_empty()
    }

    /// Smallest and largest timestamp (ns), or `None` when empty.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        let mut it = self
            .blocks
            .iter()
            .map(|b| (b.mint, b.maxt))
            .chain((!self.head.is_empty()).then_some((self.head.mint, self.head.maxt)));
        let first = it.next()?;
        Some(it.fold(first, |(lo, hi), (a, b)| (lo.min(a), hi.max(b))))
    }

    /// Sum of the cut blocks' compressed sizes.
    pub fn compressed_size(&self) -> usize {
        self.cut_block_size
    }

    /// Loki's uncompressed size figure: block size counters plus the head's.
    pub fn uncompressed_size(&self) -> usize {
        self.blocks.iter().fold(self.head.size, |n, b| n.saturating_add(b.uncompressed_size))
    }

    /// Sum of the cut blocks' size counters (the uncompressed size without the head).
    pub(crate) fn uncompressed_size_of_blocks(&self) -> usize {
        self.blocks.iter().fold(0usize, |n, b| n.saturating_add(b.uncompressed_size))
    }

    /// The `KB` figure Loki's TSDB index stores for this chunk:
    /// `round((uncompressed size + symbol bytes for V4) / 1024)`, rounding
    /// half away from zero (`../shared/spec/tsdb-index.md` §2.5).
    pub fn index_kb(&self) -> u32 {
        let sym = if self.config.format.has_metadata() { self.symbols.byte_size() } else { 0 };
        let total = self.uncompressed_size().saturating_add(sym);
        u32::try_from(total.saturating_add(512) / 1024).unwrap_or(u32::MAX)
    }

    /// Loki's `Size()` figure used for sync cuts: compressed blocks + head
    /// counter + symbol bytes.
    fn estimated_size(&self) -> usize {
        let sym = if self.config.format.has_metadata() { self.symbols.byte_size() } else { 0 };
        self.cut_block_size + self.head.size + sym
    }

    /// Estimated fill ratio against the target size (Loki's `Utilization`).
    pub fn utilization(&self) -> f64 {
        if self.config.target_size == 0 {
            return 0.0;
        }
        self.estimated_size() as f64 / self.config.target_size as f64
    }

    /// Whether an entry with this line and metadata still fits (Loki's `SpaceFor`).
    pub fn space_for(&self, line: &[u8], metadata: &[(&str, &str)]) -> bool {
        self.space_for_pairs(line, metadata)
    }

    pub(crate) fn space_for_pairs<M: PairSource + ?Sized>(&self, line: &[u8], metadata: &M) -> bool {
        if self.config.target_size == 0 {
            return self.blocks.len() < 10;
        }
        let mut size = self.cut_block_size + self.head.size + line.len();
        if self.config.format.has_metadata() {
            size += self.symbols.byte_size();
            size += (0..metadata.count()).map(|i| metadata.pair(i)).map(|(n, v)| n.len() + v.len()).sum::<usize>();
        }
        size < self.config.target_size
    }

    /// Appends an entry. Metadata is sorted by name before it is stored, as
    /// Loki does; it is dropped by chunk formats before v4.
    ///
    /// After the append the head is cut into a block once it reaches the
    /// block size. The caller checks [`Chunk::space_for`] first if it wants
    /// Loki's chunk sizes.
    pub fn append(
        &mut self,
        timestamp: i64,
        line: &[u8],
        metadata: &[(&str, &str)],
    ) -> Result<AppendOutcome, ChunkError> {
        self.append_pairs(timestamp, line, metadata)
    }

    /// Appends an owned entry (see [`Chunk::append`]).
    pub fn append_entry(&mut self, entry: &Entry) -> Result<AppendOutcome, ChunkError> {
        self.append_pairs(entry.timestamp, &entry.line, entry.metadata.as_slice())
    }

    pub(crate) fn append_pairs<M: PairSource + ?Sized>(
        &mut self,
        timestamp: i64,
        line: &[u8],
        metadata: &M,
    ) -> Result<AppendOutcome, ChunkError> {
        if line.len() as u64 >= super::MAX_LINE_LENGTH {
            return Err(ChunkError::LineTooLong(line.len() as u64));
        }
        if self.config.head_format == HeadFormat::Ordered
            && self.head.is_empty()
            && self.blocks.last().is_some_and(|b| timestamp < b.maxt)
        {
            let newest = self.blocks.last().map_or(0, |b| b.maxt);
            return Err(ChunkError::OutOfOrder { timestamp, newest });
        }
        self.pairs_scratch.clear();
        let n = metadata.count();
        if self.config.head_format == HeadFormat::UnorderedWithMetadata && n > 0 {
            // Symbols are added in name order (first-seen order is part of
            // the format), so sort the pair positions first.
            self.order_scratch.clear();
            self.order_scratch.extend(0..n);
            let sorted = (1..n).all(|i| metadata.pair(i - 1).0 <= metadata.pair(i).0);
            if !sorted {
                self.order_scratch.sort_by(|&a, &b| metadata.pair(a).0.cmp(metadata.pair(b).0));
            }
            for &i in &self.order_scratch {
                let (name, value) = metadata.pair(i);
                let name = self.symbols.add(name);
                let value = self.symbols.add(value);
                self.pairs_scratch.push((name, value));
            }
        }
        match self.head.append(timestamp, line, &self.pairs_scratch)? {
            HeadAppend::Duplicate => Ok(AppendOutcome::Duplicate),
            HeadAppend::Appended => {
                if self.head.size >= self.config.block_size {
                    self.cut()?;
                }
                Ok(AppendOutcome::Appended)
            }
        }
    }

    /// Cuts the head into a compressed block (no-op when the head is empty).
    pub fn cut(&mut self) -> Result<(), ChunkError> {
        if self.head.is_empty() {
            return Ok(());
        }
        // The serialization buffer is per thread, not per chunk: a chunk per
        // active stream must not each keep a block-sized buffer alive.
        let mut data = CUT_SCRATCH.with_borrow_mut(|scratch| -> Result<Vec<u8>, ChunkError> {
            scratch.clear();
            self.head.serialize_block(self.config.format.has_metadata(), scratch);
            let mut data = Vec::with_capacity(scratch.len() / 2 + 64);
            self.config.encoding.compress(scratch, &mut data)?;
            Ok(data)
        })?;
        if data.capacity() - data.len() > data.len() / 8 + 64 {
            // The block lives until flushed; do not keep the slack.
            data.shrink_to_fit();
        }
        let crc = crc32c(&data);
        self.cut_block_size += data.len();
        self.blocks.push(Block {
            num_entries: self.head.len(),
            mint: self.head.mint,
            maxt: self.head.maxt,
            uncompressed_size: self.head.size,
            data: Bytes::from(data),
            crc,
        });
        self.head.reset();
        Ok(())
    }

    /// Cuts the head and, if blocks overlap in time (possible with unordered
    /// appends), rebuilds the chunk with its entries in timestamp order, as
    /// Loki's `Close` does. Call before serializing a chunk for storage.
    pub fn close(&mut self) -> Result<(), ChunkError> {
        self.cut()?;
        // A closed chunk takes no more appends: give back the head's buffers.
        self.head = Head::new(self.head.format);
        self.pairs_scratch = Vec::new();
        self.order_scratch = Vec::new();
        let overlapping = self.blocks.windows(2).any(|w| w[1].mint < w[0].maxt);
        if overlapping {
            let mut fresh = Chunk::new_unchecked(self.config);
            let mut it = self.iter(i64::MIN, i64::MAX, Direction::Forward);
            while let Some(e) = it.next() {
                let e = e?;
                let raw = RawPairs { pairs: e.pairs, symbols: e.symbols };
                fresh.append_pairs(e.timestamp, e.line, &raw)?;
            }
            fresh.cut()?;
            *self = fresh;
        }
        Ok(())
    }

    /// Collects the entries with `from <= ts < through`, in `direction` order.
    pub fn entries(&self, from: i64, through: i64, direction: Direction) -> Result<Vec<Entry>, ChunkError> {
        let mut out = Vec::new();
        let mut it = self.iter(from, through, direction);
        while let Some(e) = it.next() {
            out.push(e?.to_entry());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::Encoding;

    #[test]
    fn cut_at_block_size_and_bounds() {
        let cfg = ChunkConfig::new(ChunkFormat::V4, Encoding::None).with_block_size(10);
        let mut c = Chunk::new(cfg).unwrap();
        c.append(5, b"12345", &[]).unwrap();
        assert_eq!(c.num_blocks(), 0);
        c.append(3, b"12345", &[]).unwrap();
        assert_eq!(c.num_blocks(), 1);
        c.append(7, b"x", &[("k", "v")]).unwrap();
        assert_eq!(c.num_blocks(), 1);
        assert_eq!(c.bounds(), Some((3, 7)));
        assert_eq!(c.num_entries(), 3);
    }

    #[test]
    fn space_for_counts_symbols_and_metadata() {
        let cfg = ChunkConfig::new(ChunkFormat::V4, Encoding::None).with_target_size(20);
        let mut c = Chunk::new(cfg).unwrap();
        c.append(1, b"0123456789", &[("ab", "cd")]).unwrap();
        // head size 10 + 8, symbols 4 bytes.
        assert!(!c.space_for(b"", &[]));
        let cfg = ChunkConfig::new(ChunkFormat::V3, Encoding::None).with_target_size(20);
        let mut c = Chunk::new(cfg).unwrap();
        c.append(1, b"0123456789", &[("ab", "cd")]).unwrap();
        assert!(c.space_for(b"123456789", &[("ignored", "in v3")]));
        assert!(!c.space_for(b"0123456789", &[]));
    }

    #[test]
    fn invalid_config_is_rejected() {
        let cfg = ChunkConfig::new(ChunkFormat::V2, Encoding::Gzip).with_head_format(HeadFormat::UnorderedWithMetadata);
        assert!(Chunk::new(cfg).is_err());
        assert!(Chunk::new(ChunkConfig::new(ChunkFormat::V1, Encoding::Gzip)).is_err());
    }
}
