//! Reading a stream block by block, for answers that block metas can give
//! without decoding lines (`../shared/spec/chunk-format.md` §5.3: every
//! block meta records the block's entry count and time bounds).
//!
//! [`Engine::scan_blocks`] walks the chunk groups of a selected stream in
//! time order (see [`Engine::scan_entries`]). A chunk that overlaps no other
//! one is handed out as its entry sources — cut blocks, then the head
//! block of a chunk still in memory — each a [`StreamBlock`] with its
//! figures; the caller decodes a block's timestamps only when it needs
//! them. Everything else goes entry by entry through the usual read path:
//! overlapping chunks (merged and de-duplicated there), chunks the caller
//! declines (their entries may carry structured metadata, say), and every
//! chunk of a stream some delete request hides lines of.

use std::ops::{ControlFlow, Range};

use super::Engine;
use super::read::{EntryView, SelectedStream, chunk_groups};
use crate::chunk::{Chunk, Direction};
use crate::error::Result;

/// One entry source of a chunk read on its own (a cut block or the head
/// block), seen through its block meta.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamBlock<'a> {
    chunk: &'a Chunk,
    /// Index in [`Chunk::source_metas`] order.
    index: usize,
    num_entries: usize,
    mint: i64,
    maxt: i64,
    /// The scan's `[from, through)`.
    range: (i64, i64),
}

impl StreamBlock<'_> {
    /// Entries in the block, in the scan's range or not.
    pub(crate) fn num_entries(&self) -> usize {
        self.num_entries
    }

    /// Earliest entry timestamp (ns).
    pub(crate) fn mint(&self) -> i64 {
        self.mint
    }

    /// Latest entry timestamp (ns).
    pub(crate) fn maxt(&self) -> i64 {
        self.maxt
    }

    /// Whether every entry lies in the scan's `[from, through)`, so that
    /// [`num_entries`](Self::num_entries) counts exactly the entries the
    /// read path would give.
    pub(crate) fn in_range(&self) -> bool {
        self.mint >= self.range.0 && self.maxt < self.range.1
    }

    /// Appends to `out` the timestamps of the block's entries in the
    /// scan's range, in stored order (ascending for cut blocks; the head
    /// block of a live chunk may hold them out of order). `buf` is the
    /// decompression buffer, reused from call to call.
    pub(crate) fn timestamps(&self, buf: &mut Vec<u8>, out: &mut Vec<i64>) -> Result<()> {
        self.chunk.source_timestamps(self.index, self.range, buf, out)?;
        Ok(())
    }

    /// [`timestamps`](Self::timestamps) up to the first entry later than
    /// `stop`, decompressing no further than that entry where the codec
    /// allows it (snappy's independent frames). Returns the number of
    /// entries read (in range or not); the others, `num_entries()` minus
    /// that, are later than `stop`: a cut block is in time order (a head
    /// block is read whole).
    pub(crate) fn timestamps_until(&self, stop: i64, buf: &mut Vec<u8>, out: &mut Vec<i64>) -> Result<usize> {
        Ok(self.chunk.source_timestamps_until(self.index, self.range, stop, buf, out)?)
    }
}

/// What [`Engine::scan_blocks`] hands a stream's contents to.
pub(crate) trait BlockVisitor {
    /// Whether to take a chunk read on its own block by block
    /// ([`block`](Self::block)) rather than entry by entry
    /// ([`entry`](Self::entry)); `may_have_metadata` tells whether its
    /// entries may carry structured metadata.
    fn by_blocks(&mut self, may_have_metadata: bool) -> bool;

    /// A block with entries possibly in the scan's range.
    ///
    /// # Errors
    ///
    /// Decoding errors of [`StreamBlock::timestamps`].
    fn block(&mut self, block: &StreamBlock<'_>) -> Result<()>;

    /// An entry in the scan's range, as [`Engine::for_each_entry`] gives it.
    fn entry(&mut self, entry: EntryView<'_>);
}

impl Engine {
    /// Whether the entries of `stream` may be counted from block metas:
    /// no delete request hides lines of it in the selected range (the read
    /// path drops those lines entry by entry).
    pub(crate) fn counts_from_blocks(stream: &SelectedStream) -> bool {
        !stream.has_deletes()
    }

    /// Reads the chunk groups `groups` (indices in time order, see
    /// [`SelectedStream::num_groups`]) of `stream` over `[from, through)`
    /// (ns) oldest first, into `visitor`: a chunk alone in its group block
    /// by block when the visitor wants it so, everything else entry by
    /// entry as [`Engine::scan_entries`] reads it. A stream that is not
    /// [countable from blocks](Self::counts_from_blocks) is read entry by
    /// entry. Stored chunks are fetched (and cached) only when reached.
    pub(crate) fn scan_blocks(
        &self,
        stream: &SelectedStream,
        groups: Range<usize>,
        (from, through): (i64, i64),
        visitor: &mut dyn BlockVisitor,
    ) -> Result<()> {
        let by_entry = |engine: &Self, groups: Range<usize>, visitor: &mut dyn BlockVisitor| {
            engine.scan_entries(stream, groups, (from, through, Direction::Forward), None, &mut |e, _| {
                visitor.entry(e);
                ControlFlow::Continue(())
            })
        };
        if !Self::counts_from_blocks(stream) {
            return by_entry(self, groups, visitor);
        }
        let all = chunk_groups(&stream.chunks, Direction::Forward);
        let (lo, hi) = (groups.start.min(all.len()), groups.end.min(all.len()));
        // A run of groups not yet read, to go through the read path.
        let mut pending = lo..lo;
        for (gi, g) in all.iter().enumerate().take(hi).skip(lo) {
            let [one] = stream.chunks.get(g.clone()).unwrap_or_default() else {
                pending.end = gi + 1;
                continue;
            };
            if !pending.is_empty() {
                by_entry(self, pending.clone(), visitor)?;
            }
            pending = gi + 1..gi + 1;
            let chunk = self.load(&one.source)?;
            if visitor.by_blocks(chunk.may_have_metadata()) {
                for (index, m) in chunk.source_metas().enumerate() {
                    if m.maxt < from || m.mint >= through {
                        continue;
                    }
                    let block = StreamBlock {
                        chunk: &chunk,
                        index,
                        num_entries: m.num_entries,
                        mint: m.mint,
                        maxt: m.maxt,
                        range: (from, through),
                    };
                    visitor.block(&block)?;
                }
            } else {
                let mut it = chunk.iter(from, through, Direction::Forward);
                while let Some(e) = it.next() {
                    visitor.entry(EntryView::Chunk(e?));
                }
            }
        }
        if !pending.is_empty() {
            by_entry(self, pending, visitor)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineConfig, PushStream};
    use crate::tenant::TenantId;
    use crate::{Entry, Labels, SyncMode};

    #[derive(Default)]
    struct Collect {
        metadata_ok: bool,
        /// Entries counted from metas, timestamps decoded, entries.
        counted: usize,
        decoded: Vec<i64>,
        entries: Vec<i64>,
        buf: Vec<u8>,
    }

    impl BlockVisitor for Collect {
        fn by_blocks(&mut self, may_have_metadata: bool) -> bool {
            self.metadata_ok || !may_have_metadata
        }

        fn block(&mut self, b: &StreamBlock<'_>) -> Result<()> {
            assert!(b.mint() <= b.maxt() && b.num_entries() > 0);
            if b.in_range() && b.num_entries().is_multiple_of(2) {
                self.counted += b.num_entries();
                return Ok(());
            }
            let before = self.decoded.len();
            b.timestamps(&mut self.buf, &mut self.decoded)?;
            assert!(self.decoded.len() - before <= b.num_entries());
            Ok(())
        }

        fn entry(&mut self, e: EntryView<'_>) {
            self.entries.push(e.timestamp());
        }
    }

    /// Reading a block up to a timestamp: the entries read are the first
    /// ones, the rest are later, for blocks of many snappy frames (entries
    /// cut by frame ends); other codecs read whole blocks.
    #[test]
    fn timestamps_until_reads_a_prefix() {
        use crate::chunk::{ChunkConfig, ChunkFormat, Encoding};
        for encoding in [Encoding::Snappy, Encoding::Lz4_256k, Encoding::Gzip] {
            for format in [ChunkFormat::V4, ChunkFormat::V3] {
                let mut c = Chunk::new(ChunkConfig::new(format, encoding)).unwrap();
                for i in 0..3000i64 {
                    let line = "x".repeat(usize::try_from(i % 97).unwrap() * 3);
                    let md: &[(&str, &str)] = if i % 5 == 0 { &[("k", "v")] } else { &[] };
                    c.append(i * 10, line.as_bytes(), md).unwrap();
                }
                c.close().unwrap();
                let c = Chunk::from_bytes(c.to_bytes().unwrap().into()).unwrap();
                let metas: Vec<_> = c.source_metas().collect();
                assert!(metas.len() > 1 && metas[0].num_entries > 1000);
                let (mut buf, mut all, mut some) = (Vec::new(), Vec::new(), Vec::new());
                for (index, m) in metas.iter().enumerate() {
                    all.clear();
                    c.source_timestamps(index, (i64::MIN, i64::MAX), &mut buf, &mut all).unwrap();
                    assert_eq!(all.len(), m.num_entries);
                    for stop in [m.mint - 1, m.mint, m.mint + 1234, m.maxt - 1, m.maxt] {
                        for range in [(i64::MIN, i64::MAX), (m.mint + 100, m.maxt - 100)] {
                            some.clear();
                            let read = c.source_timestamps_until(index, range, stop, &mut buf, &mut some).unwrap();
                            // Other codecs read the block whole.
                            let prefix = encoding == Encoding::Snappy;
                            let want: Vec<i64> = all.iter().copied().filter(|&t| t <= stop || !prefix).collect();
                            assert_eq!(read, want.len(), "{encoding:?} {stop}");
                            let want: Vec<i64> = want.into_iter().filter(|&t| t >= range.0 && t < range.1).collect();
                            assert_eq!(some, want);
                        }
                    }
                }
            }
        }
    }

    /// Blocks and entries together hold exactly the entries of
    /// `for_each_entry`, for memory and stored chunks, with and without
    /// metadata, whole and in parts.
    #[test]
    fn blocks_and_entries_cover_the_read_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = EngineConfig::new(dir.path());
        c.wal.sync = SyncMode::Never;
        c.limits.creation_grace_period = None;
        c.stream.chunk.block_size = 512;
        let e = Engine::open(c).unwrap();
        let t = TenantId::new("t").unwrap();
        let push = |labels: &str, range: Range<i64>, md: bool| {
            let entries = range
                .map(|i| {
                    let line = format!("line {i:04} with some padding to fill blocks");
                    if md {
                        Entry::with_metadata(i * 1000, line, vec![crate::labels::Label::new("k", "v")])
                    } else {
                        Entry::new(i * 1000, line)
                    }
                })
                .collect();
            e.push(&t, vec![PushStream::new(Labels::parse(labels).unwrap(), entries)]).unwrap();
        };
        push(r#"{app="a"}"#, 0..300, false);
        push(r#"{app="m"}"#, 0..100, true);
        e.flush().unwrap();
        push(r#"{app="a"}"#, 300..400, false);
        push(r#"{app="m"}"#, 100..150, true);
        for (from, through) in [(0, i64::MAX), (12_345, 333_333), (299_000, 300_001)] {
            for app in ["a", "m"] {
                let sel = [crate::index::Matcher::equal("app", app)];
                let streams = e.select(&t, &sel, from, through).unwrap();
                let s = &streams[0];
                let mut want = Vec::new();
                e.for_each_entry(s, from, through, Direction::Forward, &mut |x| {
                    want.push(x.timestamp());
                    ControlFlow::Continue(())
                })
                .unwrap();
                for metadata_ok in [false, true] {
                    let n = s.num_groups();
                    let whole: Vec<Range<usize>> = std::iter::once(0..usize::MAX).collect();
                    for parts in [whole, vec![0..1, 1..n], vec![0..n / 2, n / 2..usize::MAX]] {
                        let mut v = Collect { metadata_ok, ..Collect::default() };
                        for p in parts {
                            e.scan_blocks(s, p, (from, through), &mut v).unwrap();
                        }
                        let mut got: Vec<i64> = v.decoded.iter().chain(&v.entries).copied().collect();
                        got.sort_unstable();
                        assert_eq!(got.len() + v.counted, want.len(), "{app} {from} {through}");
                        assert!(got.iter().all(|ts| want.binary_search(ts).is_ok()));
                        if app == "m" && !metadata_ok {
                            assert_eq!(v.counted, 0);
                            assert!(v.decoded.is_empty());
                        }
                    }
                }
            }
        }
    }
}
