//! The read path: streams selected by matchers from memory and from the
//! stored index, their chunks merged in time order with de-duplication,
//! plus the label, series, stats and volume APIs over both.
//!
//! A query sees every acknowledged entry: it snapshots the in-memory
//! chunks first and reads the stored index second, while a flush publishes
//! the index first and drops the memory copy second; so a chunk in flight
//! is seen once or twice (then de-duplicated), never missed.

use std::collections::BTreeMap;
use std::ops::{ControlFlow, Range};
use std::sync::Arc;

use bytes::Bytes;
use memchr::memmem::Finder;

use super::Engine;
use super::state::{lock, read};
use crate::chunk::{Chunk, Direction, Entry, EntryRef};
use crate::error::Result;
use crate::index::{
    ChunkMeta, HeadIndex, IndexQuery, IndexStats, Matcher, MultiIndex, SeriesQuery, TENANT_LABEL, Volume,
    VolumeAggregation,
};
use crate::labels::{Fingerprint, Labels};
use crate::object::{ChunkKey, ChunkObject};
use crate::tenant::TenantId;

/// Nanoseconds per millisecond.
const NS_PER_MS: i64 = 1_000_000;

/// A log query over one tenant: matchers, `[from, through)` in Unix
/// nanoseconds, direction and entry limit (0 = no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Stream matchers (all must match).
    pub matchers: Vec<Matcher>,
    /// Start, inclusive (ns).
    pub from: i64,
    /// End, exclusive (ns).
    pub through: i64,
    /// Oldest first or newest first.
    pub direction: Direction,
    /// Most entries returned over all streams; 0 for no limit.
    pub limit: usize,
}

/// A stream and its entries, as a log query returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntries {
    /// The stream labels.
    pub labels: Labels,
    /// Entries in the query's direction.
    pub entries: Vec<Entry>,
}

/// Where a selected chunk is.
#[derive(Debug, Clone)]
pub(super) enum ChunkSource {
    /// In memory (a head snapshot or a closed chunk not yet flushed).
    Memory(Arc<Chunk>),
    /// In the object store.
    Stored(ChunkKey),
}

#[derive(Debug, Clone)]
pub(super) struct SelectedChunk {
    /// Bounds in ns (ms bounds widened for stored chunks).
    min: i64,
    max: i64,
    pub(super) source: ChunkSource,
}

/// A stream selected by [`Engine::select`]: its labels and the chunks
/// (in memory or stored) that may hold entries of the range.
#[derive(Debug, Clone)]
pub struct SelectedStream {
    pub(super) labels: Labels,
    fingerprint: Fingerprint,
    pub(super) chunks: Vec<SelectedChunk>,
    /// Delete requests hiding lines of this stream in the query's range
    /// (`deletes.rs`); empty for almost every stream.
    pub(super) deletes: Vec<Arc<crate::compactor::deletes::CompiledDelete>>,
}

impl SelectedStream {
    /// The stream labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The stream fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Chunks to read (memory and stored).
    pub fn num_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Runs of chunks with overlapping time ranges: the units
    /// [`Engine::scan_entries`] reads.
    pub(crate) fn num_groups(&self) -> usize {
        chunk_groups(&self.chunks, Direction::Forward).len()
    }

    /// Whether delete requests hide some of its lines in the selected
    /// range: the entries must then be read one by one (no counting from
    /// chunk metadata).
    pub(crate) fn has_deletes(&self) -> bool {
        !self.deletes.is_empty()
    }

    /// Chunks in the object store among them.
    pub fn num_stored_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| matches!(c.source, ChunkSource::Stored(_))).count()
    }
}

/// One entry handed to [`Engine::for_each_entry`]'s callback: borrowed
/// from a chunk, or from a merge of overlapping chunks.
#[derive(Debug, Clone, Copy)]
pub enum EntryView<'a> {
    /// Straight from a chunk.
    Chunk(EntryRef<'a>),
    /// From a merge.
    Owned(&'a Entry),
}

impl<'a> EntryView<'a> {
    /// Unix nanoseconds.
    pub fn timestamp(&self) -> i64 {
        match self {
            Self::Chunk(e) => e.timestamp,
            Self::Owned(e) => e.timestamp,
        }
    }

    /// The line.
    pub fn line(&self) -> &'a [u8] {
        match self {
            Self::Chunk(e) => e.line,
            Self::Owned(e) => &e.line,
        }
    }

    /// Structured metadata (names normalized as Loki reads them).
    pub fn metadata(&self) -> Vec<(&'a str, &'a str)> {
        match self {
            Self::Chunk(e) => e.metadata().collect(),
            Self::Owned(e) => e.metadata.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect(),
        }
    }

    /// Calls `f` with each metadata pair without allocating.
    pub fn for_each_metadata(&self, mut f: impl FnMut(&'a str, &'a str)) {
        match self {
            Self::Chunk(e) => e.metadata().for_each(|(n, v)| f(n, v)),
            Self::Owned(e) => e.metadata.iter().for_each(|l| f(&l.name, &l.value)),
        }
    }

    /// Whether the entry has structured metadata.
    pub fn has_metadata(&self) -> bool {
        match self {
            Self::Chunk(e) => e.metadata_len() > 0,
            Self::Owned(e) => !e.metadata.is_empty(),
        }
    }

    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        match self {
            Self::Chunk(e) => e.to_entry(),
            Self::Owned(e) => (*e).clone(),
        }
    }
}

/// Runs of chunks (indices into `cs`, sorted by time) whose time ranges
/// overlap, in `direction` order: each is read on its own, or merged when
/// it holds several chunks.
pub(super) fn chunk_groups(cs: &[SelectedChunk], direction: Direction) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut end_max = i64::MIN;
    for (i, c) in cs.iter().enumerate() {
        if i > start && c.min > end_max {
            groups.push(start..i);
            start = i;
            end_max = i64::MIN;
        }
        end_max = end_max.max(c.max);
    }
    if start < cs.len() {
        groups.push(start..cs.len());
    }
    if direction == Direction::Backward {
        groups.reverse();
    }
    groups
}

/// Pushes to `hits` (ascending) the entries `0..n` whose line contains the
/// needle, searching `data` (the decoded block the lines are slices of,
/// `span(i)` giving line `i`'s range; lines ascending and disjoint) at
/// once. A match that starts in a gap (entry headers, entries out of the
/// range) or runs past a line's end does not count, and the search goes on
/// from the next line's start, so nothing is missed.
fn find_lines(
    data: &[u8],
    n: usize,
    span: impl Fn(usize) -> Option<(usize, usize)>,
    finder: &Finder<'_>,
    hits: &mut Vec<u32>,
) {
    hits.clear();
    let len = finder.needle().len();
    let end_of = |i: usize| span(i).map_or(usize::MAX, |s| s.1);
    let Some((mut pos, _)) = span(0) else { return };
    let mut i = 0usize;
    while i < n {
        let Some(off) = data.get(pos..).and_then(|h| finder.find(h)) else { break };
        let p = pos + off;
        // The first line ending after `p` (line ends ascend).
        let (mut lo, mut hi) = (i, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if end_of(mid) <= p {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        i = lo;
        let Some((start, end)) = span(i) else { break };
        if p < start {
            // In a gap: an occurrence in line `i` starts at `start` or later.
            pos = start;
            continue;
        }
        // The leftmost occurrence from `p` on: the line holds one iff it
        // ends inside the line.
        if p + len <= end {
            hits.push(i as u32);
        }
        i += 1;
        pos = end;
    }
}

/// `[from, through)` in ns to the index's `[from, through)` in ms.
fn ms_range(from: i64, through: i64) -> (i64, i64) {
    (from.div_euclid(NS_PER_MS), through.div_euclid(NS_PER_MS) + i64::from(through.rem_euclid(NS_PER_MS) != 0))
}

impl Engine {
    /// The streams of `tenant` matching `matchers` with entries possibly in
    /// `[from, through)` (ns), from memory and the store, sorted by labels.
    pub fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        from: i64,
        through: i64,
    ) -> Result<Vec<SelectedStream>> {
        let inner = &*self.inner;
        inner.check_open()?;
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(Vec::new()) };
        let matchers = matchers.as_slice();
        let mut out: BTreeMap<Labels, SelectedStream> = BTreeMap::new();
        // Memory first (see the module comment).
        if let Some(t) = read(&inner.tenants).get(tenant).cloned() {
            for h in t.all_streams() {
                if !matchers.iter().all(|m| m.matches_labels(&h.labels)) {
                    continue;
                }
                let st = lock(&h.state);
                let mut chunks = Vec::new();
                let cur = st.stream.current_chunk();
                let head = (!cur.is_empty()).then(|| Arc::new(cur.clone()));
                for c in st.pending.iter().cloned().chain(head) {
                    if let Some((lo, hi)) = c.bounds().filter(|&(lo, hi)| lo < through && hi >= from) {
                        chunks.push(SelectedChunk { min: lo, max: hi, source: ChunkSource::Memory(c) });
                    }
                }
                drop(st);
                if !chunks.is_empty() {
                    out.insert(
                        h.labels.clone(),
                        SelectedStream {
                            labels: h.labels.clone(),
                            fingerprint: h.fingerprint,
                            chunks,
                            deletes: Vec::new(),
                        },
                    );
                }
            }
        }
        let (from_ms, through_ms) = ms_range(from, through);
        let index = read(&inner.stored).for_tenant(tenant.as_str(), from_ms, through_ms);
        let q = SeriesQuery::new(from_ms, through_ms, matchers);
        index.for_each_series(&q, &mut |s| {
            let e = out.entry(s.labels.clone()).or_insert_with(|| SelectedStream {
                labels: s.labels.clone(),
                fingerprint: s.fingerprint,
                chunks: Vec::new(),
                deletes: Vec::new(),
            });
            for c in &s.chunks {
                let key = ChunkKey {
                    tenant: tenant.as_str().to_owned(),
                    fingerprint: s.fingerprint,
                    from_ms: c.min_time,
                    through_ms: c.max_time,
                    checksum: c.checksum,
                };
                e.chunks.push(SelectedChunk {
                    min: c.min_time.saturating_mul(NS_PER_MS),
                    max: c.max_time.saturating_mul(NS_PER_MS),
                    source: ChunkSource::Stored(key),
                });
            }
            Ok(())
        })?;
        let mut v: Vec<SelectedStream> = out.into_values().collect();
        for s in &mut v {
            s.chunks.sort_by_key(|c| (c.min, c.max));
        }
        self.attach_deletes(tenant, &mut v, from, through);
        Ok(v)
    }

    /// Calls `f` for each entry of `stream` in `[from, through)` (ns) in
    /// `direction` order, until it returns `ControlFlow::Break`. Entries
    /// that overlapping chunks hold twice (same timestamp and line) are
    /// given once. Stored chunks are fetched (and cached) only when reached.
    pub fn for_each_entry(
        &self,
        stream: &SelectedStream,
        from: i64,
        through: i64,
        direction: Direction,
        f: &mut dyn FnMut(EntryView<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        self.scan_entries(stream, 0..usize::MAX, (from, through, direction), None, &mut |e, _| f(e))
    }

    /// [`for_each_entry`](Self::for_each_entry) over `(from, through,
    /// direction)` and the chunk groups `groups` of `stream` (indices in
    /// query direction, see [`SelectedStream::num_groups`]), calling
    /// `f(entry, contains)`: `contains` tells whether the line contains
    /// `needle` (always `true` without one). The needle is searched for in
    /// whole decoded blocks at once rather than line by line, so lines
    /// without it cost next to nothing; decoding buffers are reused from
    /// chunk to chunk. Lines hidden by delete requests are skipped.
    pub(crate) fn scan_entries<F>(
        &self,
        stream: &SelectedStream,
        groups: Range<usize>,
        range: (i64, i64, Direction),
        needle: Option<&Finder<'_>>,
        f: &mut F,
    ) -> Result<()>
    where
        F: FnMut(EntryView<'_>, bool) -> ControlFlow<()>,
    {
        if stream.has_deletes() {
            return self.scan_hiding(stream, groups, range, needle, f);
        }
        self.scan_chunks(stream, groups, range, needle, f)
    }

    /// [`scan_entries`](Self::scan_entries) without delete requests.
    pub(super) fn scan_chunks<F>(
        &self,
        stream: &SelectedStream,
        groups: Range<usize>,
        (from, through, direction): (i64, i64, Direction),
        needle: Option<&Finder<'_>>,
        f: &mut F,
    ) -> Result<()>
    where
        F: FnMut(EntryView<'_>, bool) -> ControlFlow<()>,
    {
        let all = chunk_groups(&stream.chunks, direction);
        let groups = all.get(groups.start.min(all.len())..groups.end.min(all.len())).unwrap_or_default();
        let mut spare = None;
        let mut hits: Vec<u32> = Vec::new();
        for g in groups {
            let g = stream.chunks.get(g.clone()).unwrap_or_default();
            if let [one] = g {
                let chunk = self.load(&one.source)?;
                let mut it = match spare.take() {
                    Some(buffers) => chunk.iter_reusing(from, through, direction, buffers),
                    None => chunk.iter(from, through, direction),
                };
                while let Some(batch) = it.next_batch() {
                    let batch = batch?;
                    let n = batch.len();
                    let searched = match needle {
                        Some(finder) if batch.ordered() => {
                            find_lines(batch.data(), n, |i| batch.line_span(i), finder, &mut hits);
                            true
                        }
                        _ => false,
                    };
                    // Hits ascend: walk them from the front going forward,
                    // from the back going backward.
                    let mut front = 0usize;
                    let mut back = hits.len();
                    for k in 0..n {
                        let i = if direction == Direction::Forward { k } else { n - 1 - k };
                        let Some(e) = batch.entry(i) else { continue };
                        let contains = if !searched {
                            needle.is_none_or(|finder| finder.find(e.line).is_some())
                        } else if direction == Direction::Forward {
                            let hit = hits.get(front) == Some(&(i as u32));
                            front += usize::from(hit);
                            hit
                        } else {
                            let hit = back > 0 && hits.get(back - 1) == Some(&(i as u32));
                            back -= usize::from(hit);
                            hit
                        };
                        if f(EntryView::Chunk(e), contains).is_break() {
                            return Ok(());
                        }
                    }
                }
                spare = Some(it.into_buffers());
                continue;
            }
            let mut merged: Vec<Entry> = Vec::new();
            for c in g {
                let chunk = self.load(&c.source)?;
                merged.extend(chunk.entries(from, through, Direction::Forward)?);
            }
            merged.sort_by_key(|e| e.timestamp);
            dedup_same_time(&mut merged);
            if direction == Direction::Backward {
                merged.reverse();
            }
            for e in &merged {
                let contains = needle.is_none_or(|finder| finder.find(&e.line).is_some());
                if f(EntryView::Owned(e), contains).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Runs a log query: the entries of every matching stream, at most
    /// `limit` over all streams (the first ones in `direction` order, as
    /// Loki picks them), grouped by stream in label order.
    pub fn query_logs(&self, tenant: &TenantId, q: &LogQuery) -> Result<Vec<StreamEntries>> {
        let streams = self.select(tenant, &q.matchers, q.from, q.through)?;
        let mut per: Vec<StreamEntries> = Vec::with_capacity(streams.len());
        for s in &streams {
            let mut entries = Vec::new();
            self.for_each_entry(s, q.from, q.through, q.direction, &mut |e| {
                entries.push(e.to_entry());
                if q.limit > 0 && entries.len() >= q.limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })?;
            if !entries.is_empty() {
                per.push(StreamEntries { labels: s.labels.clone(), entries });
            }
        }
        let total: usize = per.iter().map(|s| s.entries.len()).sum();
        if q.limit > 0 && total > q.limit {
            // Keep the `limit` first entries over all streams in direction order.
            let mut ts: Vec<i64> = per.iter().flat_map(|s| s.entries.iter().map(|e| e.timestamp)).collect();
            ts.sort_unstable();
            let (cut, forward) = match q.direction {
                Direction::Forward => (ts[q.limit - 1], true),
                Direction::Backward => (ts[ts.len() - q.limit], false),
            };
            // Entries strictly inside the cut are kept; ties at the cut are
            // taken in stream order until the limit is reached.
            let inside = ts.iter().filter(|&&t| if forward { t < cut } else { t > cut }).count();
            let mut ties_left = q.limit - inside;
            for s in &mut per {
                s.entries.retain(|e| {
                    let keep_inside = if forward { e.timestamp < cut } else { e.timestamp > cut };
                    if keep_inside {
                        true
                    } else if e.timestamp == cut && ties_left > 0 {
                        ties_left -= 1;
                        true
                    } else {
                        false
                    }
                });
            }
            per.retain(|s| !s.entries.is_empty());
        }
        Ok(per)
    }

    /// Label names of `tenant`'s streams with data in `[from, through)` (ns)
    /// matching `matchers`, sorted.
    pub fn label_names(&self, tenant: &TenantId, from: i64, through: i64, matchers: &[Matcher]) -> Result<Vec<String>> {
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(Vec::new()) };
        let (index, _) = self.tenant_index(tenant, from, through)?;
        Ok(index.label_names(&matchers)?)
    }

    /// Values of label `name`, sorted.
    pub fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        from: i64,
        through: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>> {
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(Vec::new()) };
        if name == TENANT_LABEL {
            return Ok(Vec::new());
        }
        let (index, _) = self.tenant_index(tenant, from, through)?;
        Ok(index.label_values(name, &matchers)?)
    }

    /// Label sets of the matching streams with chunks in range, sorted.
    pub fn series(&self, tenant: &TenantId, from: i64, through: i64, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(Vec::new()) };
        let (index, (f, t)) = self.tenant_index(tenant, from, through)?;
        let mut out: Vec<Labels> =
            index.series(&SeriesQuery::new(f, t, &matchers))?.into_iter().map(|s| s.labels).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Loki's `/index/stats` over memory and store.
    pub fn stats(&self, tenant: &TenantId, from: i64, through: i64, matchers: &[Matcher]) -> Result<IndexStats> {
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(IndexStats::default()) };
        let (index, (f, t)) = self.tenant_index(tenant, from, through)?;
        Ok(index.stats(&SeriesQuery::new(f, t, &matchers))?)
    }

    /// Loki's `/index/volume` over memory and store.
    pub fn volume(
        &self,
        tenant: &TenantId,
        from: i64,
        through: i64,
        matchers: &[Matcher],
        targets: &[String],
        aggregate: VolumeAggregation,
    ) -> Result<Vec<Volume>> {
        let Some(matchers) = stream_matchers(matchers, tenant) else { return Ok(Vec::new()) };
        let (index, (f, t)) = self.tenant_index(tenant, from, through)?;
        Ok(index.volume(&SeriesQuery::new(f, t, &matchers), targets, aggregate)?)
    }

    /// The tenant's stored index over the range plus an index of its
    /// in-memory chunks, and the range in ms.
    fn tenant_index(&self, tenant: &TenantId, from: i64, through: i64) -> Result<(MultiIndex<'static>, (i64, i64))> {
        let inner = &*self.inner;
        inner.check_open()?;
        let mut head = HeadIndex::new();
        if let Some(t) = read(&inner.tenants).get(tenant).cloned() {
            let mut n = 0u32;
            for h in t.all_streams() {
                let st = lock(&h.state);
                for c in st.pending.iter().map(|c| &**c).chain([st.stream.current_chunk()]) {
                    let Some((lo, hi)) = c.bounds() else { continue };
                    let (min_ms, max_ms) = crate::object::bounds_to_ms(lo, hi);
                    let entries = u32::try_from(c.num_entries()).unwrap_or(u32::MAX);
                    // In-memory chunks have no checksum yet; a counter keeps them distinct.
                    n = n.wrapping_add(1);
                    head.append(&h.labels, h.fingerprint, ChunkMeta::new(min_ms, max_ms, c.index_kb(), entries, n));
                }
            }
        }
        let (f, t) = ms_range(from, through);
        let mut index = read(&inner.stored).for_tenant(tenant.as_str(), f, t);
        if !head.is_empty() {
            index.push(head);
        }
        Ok((index, (f, t)))
    }

    pub(super) fn load(&self, source: &ChunkSource) -> Result<Arc<Chunk>> {
        let key = match source {
            ChunkSource::Memory(c) => return Ok(Arc::clone(c)),
            ChunkSource::Stored(key) => key,
        };
        let inner = &*self.inner;
        let path = inner.store.chunk_path(key);
        if let Some(c) = inner.cache.get(&path) {
            return Ok(c);
        }
        let bytes: Bytes = inner.store.get(&path)?;
        let obj = ChunkObject::decode_verified(bytes, key)?;
        let size = obj.data.len();
        let chunk = Arc::new(Chunk::from_bytes(obj.data)?);
        inner.cache.insert(&path, Arc::clone(&chunk), size);
        Ok(chunk)
    }
}

/// Resolves matchers on `__loki_tenant__` against the tenant itself, the
/// same way for memory and store: `None` when one fails (nothing can
/// match), else the other matchers.
fn stream_matchers(matchers: &[Matcher], tenant: &TenantId) -> Option<Vec<Matcher>> {
    let mut rest = Vec::with_capacity(matchers.len());
    for m in matchers {
        if m.name() != TENANT_LABEL {
            rest.push(m.clone());
        } else if !m.matches(tenant.as_str()) {
            return None;
        }
    }
    Some(rest)
}

/// Drops entries repeated with the same timestamp and line (and metadata)
/// in a timestamp-sorted list, keeping first occurrences in order: the rule
/// for overlapping chunks (the compactor merges chunks by it too).
pub(crate) fn dedup_same_time(v: &mut Vec<Entry>) {
    let mut out: Vec<Entry> = Vec::with_capacity(v.len());
    let mut group_start = 0;
    for e in v.drain(..) {
        if out.last().is_none_or(|l| l.timestamp != e.timestamp) {
            group_start = out.len();
        }
        if !out[group_start..].iter().any(|o| o.line == e.line && o.metadata == e.metadata) {
            out.push(e);
        }
    }
    *v = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_range_rounds_outwards() {
        assert_eq!(ms_range(1_500_000, 2_500_000), (1, 3));
        assert_eq!(ms_range(1_000_000, 2_000_000), (1, 2));
        assert_eq!(ms_range(-1, 1), (-1, 1));
    }

    /// `find_lines` against a line-by-line search: random layouts of
    /// lines and gaps (entry headers, entries out of range) over a
    /// two-letter alphabet, so matches span gaps and line ends, overlap,
    /// and repeat.
    #[test]
    fn block_search_finds_exactly_the_lines_with_the_needle() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        let mut hits = Vec::new();
        for round in 0..5000 {
            let mut data = Vec::new();
            let mut spans = Vec::new();
            for _ in 0..next(8) {
                for _ in 0..next(4) {
                    data.push(b"ab"[next(2)]);
                }
                let start = data.len();
                for _ in 0..next(7) {
                    data.push(b"ab"[next(2)]);
                }
                spans.push((start, data.len()));
            }
            let needle: Vec<u8> = (0..1 + next(3)).map(|_| b"ab"[next(2)]).collect();
            let finder = Finder::new(&needle);
            find_lines(&data, spans.len(), |i| spans.get(i).copied(), &finder, &mut hits);
            let want: Vec<u32> = (0..spans.len() as u32)
                .filter(|&i| finder.find(&data[spans[i as usize].0..spans[i as usize].1]).is_some())
                .collect();
            assert_eq!(hits, want, "round {round}: {:?} {spans:?} {:?}", String::from_utf8_lossy(&data), needle);
        }
        // Hand-picked: a match starting in a gap hides one starting inside
        // the next line; a match running past a line end.
        let finder = Finder::new(b"aa");
        find_lines(b"aaab", 1, |i| [(1, 4)].get(i).copied(), &finder, &mut hits);
        assert_eq!(hits, [0]);
        let finder = Finder::new(b"needle");
        let data = b"xxneeHdleHneedle";
        find_lines(data, 2, |i| [(0, 5), (10, 16)].get(i).copied(), &finder, &mut hits);
        assert_eq!(hits, [1]);
        find_lines(b"", 0, |_| None, &finder, &mut hits);
        assert!(hits.is_empty());
    }

    #[test]
    fn dedup_keeps_distinct_lines_at_one_time() {
        let mut v =
            vec![Entry::new(1, "a"), Entry::new(1, "b"), Entry::new(1, "a"), Entry::new(2, "a"), Entry::new(2, "a")];
        dedup_same_time(&mut v);
        let got: Vec<(i64, &[u8])> = v.iter().map(|e| (e.timestamp, &e.line[..])).collect();
        assert_eq!(got, [(1, &b"a"[..]), (1, b"b"), (2, b"a")]);
    }
}
