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

/// The decoded entries of one source of an [`EntryIter`], in forward
/// order; see [`EntryIter::next_batch`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch<'i> {
    decoded: &'i Decoded,
    symbols: &'i super::symbols::Symbols,
    ordered: bool,
}

impl<'i> Batch<'i> {
    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.decoded.entries.len()
    }

    /// Entry `i` (forward order); `None` past the end.
    pub(crate) fn entry(&self, i: usize) -> Option<EntryRef<'i>> {
        let e = self.decoded.entries.get(i)?;
        Some(EntryRef {
            timestamp: e.ts,
            line: self.decoded.line(e),
            pairs: self.decoded.entry_pairs(e),
            symbols: self.symbols,
        })
    }

    /// The decoded bytes the lines are slices of.
    pub(crate) fn data(&self) -> &'i [u8] {
        &self.decoded.buf
    }

    /// `(start, end)` of entry `i`'s line in [`data`](Self::data).
    pub(crate) fn line_span(&self, i: usize) -> Option<(usize, usize)> {
        let e = self.decoded.entries.get(i)?;
        let start = e.line_start as usize;
        Some((start, start + e.line_len as usize))
    }

    /// Whether the lines lie in [`data`](Self::data) in entry order, one
    /// after the other (true unless overlapping sources were merged).
    pub(crate) fn ordered(&self) -> bool {
        self.ordered
    }
}

impl Chunk {
    /// Iterates the entries with `from <= timestamp < through` (ns), blocks
    /// first then the head block, in `direction` order. Equal timestamps keep
    /// insertion order (reversed when iterating backward).
    pub fn iter(&self, from: i64, through: i64, direction: Direction) -> EntryIter<'_> {
        self.iter_reusing(from, through, direction, Decoded::default())
    }

    /// [`Chunk::iter`] decoding into `buffers` (from
    /// [`EntryIter::into_buffers`] of an earlier iterator), so scanning many
    /// chunks does not grow fresh buffers for each.
    pub(crate) fn iter_reusing(
        &self,
        from: i64,
        through: i64,
        direction: Direction,
        buffers: Decoded,
    ) -> EntryIter<'_> {
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
            decoded: buffers,
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

    /// The rest of the entries one source at a time (a block, the head
    /// block, or all sources merged), for callers that scan a decoded
    /// block at once; `None` at the end. Entries of the current source not
    /// yet returned by [`next`](Self::next) are skipped. After an error the
    /// iterator ends.
    pub(crate) fn next_batch(&mut self) -> Option<Result<Batch<'_>, ChunkError>> {
        self.pos = 0;
        while self.pos == 0 {
            if self.done {
                return None;
            }
            if let Err(e) = self.load() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.pos = 0;
        Some(Ok(Batch { decoded: &self.decoded, symbols: &self.chunk.symbols, ordered: !self.merged }))
    }

    /// The decoding buffers, for [`Chunk::iter_reusing`].
    pub(crate) fn into_buffers(self) -> Decoded {
        self.decoded
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkConfig, ChunkFormat, Encoding};

    fn lines_of(chunk: &Chunk, direction: Direction) -> Vec<(i64, Vec<u8>)> {
        let mut it = chunk.iter(i64::MIN, i64::MAX, direction);
        let mut out = Vec::new();
        while let Some(e) = it.next() {
            let e = e.unwrap();
            out.push((e.timestamp, e.line.to_vec()));
        }
        out
    }

    fn chunk() -> Chunk {
        let config = ChunkConfig::new(ChunkFormat::V4, Encoding::Snappy).with_block_size(64);
        let mut c = Chunk::new(config).unwrap();
        for i in 0..40i64 {
            let md: &[(&str, &str)] = if i % 3 == 0 { &[("trace", "t")] } else { &[] };
            c.append(i, format!("line {i} of the chunk").as_bytes(), md).unwrap();
        }
        c
    }

    #[test]
    fn batches_cover_the_entries_in_order() {
        let mut c = chunk();
        for closed in [false, true] {
            if closed {
                c.close().unwrap();
            }
            assert!(c.blocks.len() > 2, "several blocks");
            let mut it = c.iter(5, 35, Direction::Forward);
            let mut got = Vec::new();
            while let Some(b) = it.next_batch() {
                let b = b.unwrap();
                assert!(b.ordered());
                let mut last_end = 0;
                for i in 0..b.len() {
                    let e = b.entry(i).unwrap();
                    let (s, end) = b.line_span(i).unwrap();
                    assert_eq!(&b.data()[s..end], e.line);
                    assert!(s >= last_end);
                    last_end = end;
                    assert_eq!(e.metadata_len(), usize::from(e.timestamp % 3 == 0));
                    got.push((e.timestamp, e.line.to_vec()));
                }
                assert!(b.entry(b.len()).is_none() && b.line_span(b.len()).is_none());
            }
            let want: Vec<_> =
                lines_of(&c, Direction::Forward).into_iter().filter(|e| (5..35).contains(&e.0)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn reused_buffers_and_skipped_rest() {
        let c = chunk();
        let batch_ts = |it: &mut EntryIter<'_>| -> Vec<Vec<i64>> {
            let mut out = Vec::new();
            while let Some(b) = it.next_batch() {
                let b = b.unwrap();
                out.push((0..b.len()).map(|i| b.entry(i).unwrap().timestamp).collect());
            }
            out
        };
        let all = batch_ts(&mut c.iter(i64::MIN, i64::MAX, Direction::Backward));
        // Backward: sources newest first (here blocks of three entries
        // and a head holding 39 alone), each in forward order.
        assert!(all.len() > 2 && all[1].len() > 1);
        assert_eq!(all.concat().len(), 40);
        assert_eq!(all[0].last(), Some(&39));
        assert_eq!(all[1].last(), Some(&38));
        let mut it = c.iter(i64::MIN, i64::MAX, Direction::Backward);
        assert_eq!(it.next().unwrap().unwrap().timestamp, 39);
        assert_eq!(it.next().unwrap().unwrap().timestamp, 38);
        // The rest of the current source is skipped.
        assert_eq!(batch_ts(&mut it), all[2..]);
        let mut it = c.iter_reusing(i64::MIN, i64::MAX, Direction::Backward, it.into_buffers());
        let mut n = 0;
        while let Some(e) = it.next() {
            assert_eq!(e.unwrap().timestamp, 39 - n);
            n += 1;
        }
        assert_eq!(n, 40);
        assert_eq!(lines_of(&c, Direction::Backward).len(), 40);
    }
}
