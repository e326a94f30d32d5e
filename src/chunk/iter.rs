//! Iterating a chunk's entries over `[from, through)` in either direction
//! (`../shared/spec/chunk-format.md` §7.6).
//!
//! Blocks whose time range cannot intersect the query are never
//! decompressed. When the blocks and head are in ascending, non-overlapping
//! order (every closed chunk) they are decoded one at a time into reused
//! buffers; otherwise (a live chunk written out of order) all overlapping
//! sources are decoded and merged by a stable sort on the timestamp.

use super::block::{Decoded, MAX_DECODED_BYTES};
use super::{Chunk, ChunkError, Direction, EntryRef};

/// Largest decompressed block accepted while iterating: 256 MiB. Loki cuts
/// blocks at 256 KiB, so only a block with an enormous line comes near it.
pub const MAX_BLOCK_DECOMPRESSED_LEN: usize = 256 << 20;

#[derive(Debug, Clone, Copy)]
enum Source {
    Block(usize),
    Head,
}

/// A lending iterator over a chunk's entries; see [`Chunk::iter`].
///
/// ```
/// # use lokistore::{Chunk, ChunkConfig, Direction};
/// let mut chunk = Chunk::new(ChunkConfig::default())?;
/// chunk.append(2, b"b", &[])?;
/// chunk.append(1, b"a", &[])?;
/// let mut it = chunk.iter(0, 10, Direction::Backward);
/// let mut lines = Vec::new();
/// while let Some(entry) = it.next() {
///     lines.push(entry?.line.to_vec());
/// }
/// assert_eq!(lines, [b"b".to_vec(), b"a".to_vec()]);
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Debug)]
pub struct EntryIter<'a> {
    chunk: &'a Chunk,
    from: i64,
    through: i64,
    direction: Direction,
    sources: Vec<Source>,
    next_source: usize,
    merged: bool,
    decoded: Decoded,
    /// Entries of `decoded` not yet returned, counted from the iteration end.
    pos: usize,
    done: bool,
}

impl Chunk {
    /// Iterates the entries with `from <= timestamp < through` (ns), blocks
    /// first then the head block, in `direction` order. Equal timestamps keep
    /// insertion order (reversed when iterating backward).
    pub fn iter(&self, from: i64, through: i64, direction: Direction) -> EntryIter<'_> {
        let mut sources: Vec<Source> =
            (0..self.blocks.len()).filter(|&i| self.blocks[i].overlaps(from, through)).map(Source::Block).collect();
        if !self.head.is_empty() && through >= self.head.mint && self.head.maxt >= from {
            sources.push(Source::Head);
        }
        let bounds = |s: &Source| match *s {
            Source::Block(i) => (self.blocks[i].mint, self.blocks[i].maxt),
            Source::Head => (self.head.mint, self.head.maxt),
        };
        let merged = sources.windows(2).any(|w| bounds(&w[1]).0 < bounds(&w[0]).1);
        // A merge decodes every source in forward order; a chain visits them
        // in iteration order.
        if direction == Direction::Backward && !merged {
            sources.reverse();
        }
        EntryIter {
            chunk: self,
            from,
            through,
            direction,
            sources,
            next_source: 0,
            merged,
            decoded: Decoded::default(),
            pos: 0,
            done: false,
        }
    }
}

impl<'a> EntryIter<'a> {
    /// The next entry, `None` at the end. After an error the iterator ends.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<EntryRef<'_>, ChunkError>> {
        while self.pos == 0 {
            if self.done {
                return None;
            }
            if let Err(e) = self.load() {
                self.done = true;
                return Some(Err(e));
            }
        }
        let n = self.decoded.entries.len();
        let idx = match self.direction {
            Direction::Forward => n - self.pos,
            Direction::Backward => self.pos - 1,
        };
        self.pos -= 1;
        let e = &self.decoded.entries[idx];
        Some(Ok(EntryRef {
            timestamp: e.ts,
            line: self.decoded.line(e),
            pairs: self.decoded.entry_pairs(e),
            symbols: &self.chunk.symbols,
        }))
    }

    /// Decodes the next source (or, when merging, all of them).
    fn load(&mut self) -> Result<(), ChunkError> {
        self.decoded.clear();
        if self.next_source >= self.sources.len() {
            self.done = true;
            return Ok(());
        }
        if self.merged {
            for i in 0..self.sources.len() {
                self.decode_source(self.sources[i])?;
                // Every source is held at once: bound the total, so block
                // metas that point many times at one large block cannot
                // multiply memory use.
                if self.decoded.held_bytes() > MAX_DECODED_BYTES {
                    return Err(ChunkError::DecodedTooLarge { bytes: self.decoded.held_bytes() });
                }
            }
            self.next_source = self.sources.len();
            self.decoded.entries.sort_by_key(|e| e.ts);
        } else {
            let s = self.sources[self.next_source];
            self.next_source += 1;
            self.decode_source(s)?;
        }
        self.pos = self.decoded.entries.len();
        Ok(())
    }

    fn decode_source(&mut self, source: Source) -> Result<(), ChunkError> {
        let chunk = self.chunk;
        let format = chunk.config.format;
        match source {
            Source::Block(i) => {
                let b = &chunk.blocks[i];
                let start = self.decoded.buf.len();
                let limit = MAX_BLOCK_DECOMPRESSED_LEN;
                chunk.config.encoding.decompress(&b.data, &mut self.decoded.buf, limit)?;
                self.decoded.index_payload(start, format, self.from, self.through, 0)
            }
            Source::Head => {
                let head = &chunk.head;
                let d = &mut self.decoded;
                let (from, through) = (self.from, self.through);
                head.for_each_sorted(|e| {
                    if e.ts < from || e.ts >= through {
                        return;
                    }
                    let line_start = d.buf.len() as u32;
                    d.buf.extend_from_slice(head.line(e));
                    let pairs_start = d.pairs.len() as u32;
                    d.pairs.extend_from_slice(head.entry_pairs(e));
                    d.entries.push(super::block::DecodedEntry {
                        ts: e.ts,
                        line_start,
                        line_len: e.line_len as u32,
                        pairs_start,
                        pairs_len: e.pairs_len,
                    });
                });
                Ok(())
            }
        }
    }
}
