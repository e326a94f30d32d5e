//! The query interface shared by index files, the head and merged views
//! (`../shared/spec/tsdb-index.md` §5): matchers -> postings -> series ->
//! chunk metas overlapping `[from, through)`, plus Loki's `/index/stats`
//! and `/index/volume` figures.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::{Fingerprint, Labels};

use super::chunk_meta::ChunkMeta;
use super::error::IndexError;
use super::format::TENANT_LABEL;
use super::matcher::{MatchOp, Matcher};
use super::shard::Shard;

/// What to select: a time range, matchers (all must match) and an
/// optional shard.
#[derive(Debug, Clone, Copy)]
pub struct SeriesQuery<'a> {
    /// Start, Unix ms, inclusive.
    pub from: i64,
    /// End, Unix ms, exclusive (a chunk is kept when `from <= max_time &&
    /// through > min_time`).
    pub through: i64,
    /// Matchers; an empty list selects every series.
    pub matchers: &'a [Matcher],
    /// Only series whose fingerprint is in this shard.
    pub shard: Option<Shard>,
}

impl<'a> SeriesQuery<'a> {
    /// Series matching `matchers` with chunks in `[from, through)`.
    pub fn new(from: i64, through: i64, matchers: &'a [Matcher]) -> Self {
        Self { from, through, matchers, shard: None }
    }

    /// The same query restricted to `shard`.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }
}

/// A series with the chunks of a query's range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Series {
    /// Its labels (without `__loki_tenant__` when read through a tenant view).
    pub labels: Labels,
    /// The stream fingerprint stored with the series.
    pub fingerprint: Fingerprint,
    /// Chunk metas, sorted by (MinTime, MaxTime, Checksum).
    pub chunks: Vec<ChunkMeta>,
}

/// A chunk reference: what a query needs to build the chunk's object key
/// (with the tenant it asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkRef {
    /// The stream fingerprint.
    pub fingerprint: Fingerprint,
    /// Chunk start, ms.
    pub min_time: i64,
    /// Chunk end, ms, inclusive.
    pub max_time: i64,
    /// CRC32 of the chunk object.
    pub checksum: u32,
}

impl ChunkRef {
    /// The reference to chunk `c` of the stream `fingerprint`.
    pub(crate) fn new(fingerprint: Fingerprint, c: &ChunkMeta) -> Self {
        Self { fingerprint, min_time: c.min_time, max_time: c.max_time, checksum: c.checksum }
    }
}

/// Sorts chunk references and drops duplicates (the answer of every
/// `chunk_refs` implementation).
pub(crate) fn sorted_refs(mut refs: Vec<ChunkRef>) -> Vec<ChunkRef> {
    refs.sort_unstable();
    refs.dedup();
    refs
}

/// Loki's `/index/stats` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Distinct streams with entries in range.
    pub streams: u64,
    /// Chunks overlapping the range.
    pub chunks: u64,
    /// Entries, prorated for chunks partly in range.
    pub entries: u64,
    /// KB x 1024, prorated for chunks partly in range.
    pub bytes: u64,
}

/// How `/index/volume` aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeAggregation {
    /// One entry per distinct (target) label set.
    #[default]
    Series,
    /// One entry per label name.
    Labels,
}

/// One `/index/volume` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// A label set printed as `{a="b"}` or a label name.
    pub name: String,
    /// Bytes (KB x 1024, prorated).
    pub bytes: u64,
}

/// Loki's `util.GetFactorOfTime`: the share of `[min, max]` inside
/// `[from, through]`.
fn factor_of_time(from: i64, through: i64, min: i64, max: i64) -> f64 {
    if from > max || through < min {
        return 0.0;
    }
    if min == max {
        return 1.0;
    }
    let total = max as f64 - min as f64;
    let leading = (from as f64 - min as f64).max(0.0);
    let trailing = (max as f64 - through as f64).max(0.0);
    (total - (leading + trailing)) / total
}

/// Per-series chunk stats: (chunks, KB, entries), each chunk prorated as
/// Loki's `ChunkStats.AddChunk`.
fn chunk_stats(chunks: &[ChunkMeta], from: i64, through: i64) -> (u64, u64, u64) {
    let (mut n, mut kb, mut entries) = (0u64, 0u64, 0u64);
    for c in chunks {
        let f = factor_of_time(from, through, c.min_time, c.max_time);
        n += 1;
        kb += (f64::from(c.kb) * f) as u32 as u64;
        entries += (f64::from(c.entries) * f) as u32 as u64;
    }
    (n, kb, entries)
}

/// Accumulates `/index/stats` over series.
#[derive(Debug, Default)]
pub(crate) struct StatsAcc {
    st: IndexStats,
    fps: std::collections::HashSet<Fingerprint>,
}

impl StatsAcc {
    pub(crate) fn add(&mut self, fp: Fingerprint, chunks: &[ChunkMeta], from: i64, through: i64) {
        let (n, kb, entries) = chunk_stats(chunks, from, through);
        if entries > 0 {
            self.fps.insert(fp);
            self.st.chunks += n;
            self.st.entries += entries;
            self.st.bytes += kb << 10;
        }
    }

    pub(crate) fn finish(mut self) -> IndexStats {
        self.st.streams = self.fps.len() as u64;
        self.st
    }
}

/// An index that answers label and series queries: a file
/// ([`IndexReader`](super::IndexReader)), the head
/// ([`HeadIndex`](super::HeadIndex)), one tenant's view of a multi-tenant
/// file ([`TenantIndex`](super::TenantIndex)) or several merged
/// ([`MultiIndex`](super::MultiIndex)).
pub trait IndexQuery {
    /// `(from, through)` over all chunks, ms (`(0, 0)` when empty).
    fn bounds(&self) -> (i64, i64);

    /// Label names, sorted; with matchers, only those of matching series
    /// (not filtered by time, as Loki).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError>;

    /// Values of `name`, sorted; with matchers, only those of matching
    /// series (not filtered by time).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError>;

    /// Calls `f` for every series matching `q` that has chunks in range,
    /// with only those chunks.
    fn for_each_series(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
    ) -> Result<(), IndexError>;

    /// The matching series with their chunks in range, sorted by
    /// (fingerprint, labels).
    fn series(&self, q: &SeriesQuery<'_>) -> Result<Vec<Series>, IndexError> {
        let mut out = Vec::new();
        self.for_each_series(q, &mut |s| {
            out.push(s.clone());
            Ok(())
        })?;
        out.sort_by(|a, b| (a.fingerprint, &a.labels).cmp(&(b.fingerprint, &b.labels)));
        Ok(out)
    }

    /// The chunk references in range, sorted and de-duplicated.
    fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
        let mut out = Vec::new();
        self.for_each_series(q, &mut |s| {
            out.extend(s.chunks.iter().map(|c| ChunkRef::new(s.fingerprint, c)));
            Ok(())
        })?;
        Ok(sorted_refs(out))
    }

    /// Loki's `/index/stats`: streams (by fingerprint), chunks, entries and
    /// bytes in range; chunks partly in range are prorated.
    fn stats(&self, q: &SeriesQuery<'_>) -> Result<IndexStats, IndexError> {
        let mut acc = StatsAcc::default();
        self.for_each_series(q, &mut |s| {
            acc.add(s.fingerprint, &s.chunks, q.from, q.through);
            Ok(())
        })?;
        Ok(acc.finish())
    }

    /// Loki's `/index/volume`: bytes per label set restricted to the
    /// `targets` (or to the matchers' names), or per label name. Sorted by
    /// name.
    fn volume(
        &self,
        q: &SeriesQuery<'_>,
        targets: &[String],
        aggregate: VolumeAggregation,
    ) -> Result<Vec<Volume>, IndexError> {
        let (to_match, matchers, include_all) = prepare_volume(targets, q.matchers)?;
        let mut acc: BTreeMap<String, u64> = BTreeMap::new();
        let q2 = SeriesQuery { matchers: &matchers, ..*q };
        self.for_each_series(&q2, &mut |s| {
            let (_, kb, entries) = chunk_stats(&s.chunks, q.from, q.through);
            if entries == 0 {
                return Ok(());
            }
            let keep = |name: &str| (name != TENANT_LABEL && include_all) || to_match.iter().any(|t| t == name);
            match aggregate {
                VolumeAggregation::Series => {
                    let picked = Labels::from_pairs(
                        s.labels.iter().filter(|l| keep(&l.name)).map(|l| (l.name.as_str(), l.value.as_str())),
                    )
                    .unwrap_or_default();
                    *acc.entry(picked.to_string()).or_default() += kb << 10;
                }
                VolumeAggregation::Labels => {
                    for l in s.labels.iter() {
                        let ok = if targets.is_empty() { l.name != TENANT_LABEL } else { keep(&l.name) };
                        if ok {
                            *acc.entry(l.name.clone()).or_default() += kb << 10;
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(acc.into_iter().map(|(name, bytes)| Volume { name, bytes }).collect())
    }
}

/// Loki's `util.PrepareLabelsAndMatchers`.
fn prepare_volume(targets: &[String], matchers: &[Matcher]) -> Result<(Vec<String>, Vec<Matcher>, bool), IndexError> {
    let mut out: Vec<Matcher> = matchers.to_vec();
    if targets.is_empty() {
        let mut include_all = false;
        let mut names = Vec::new();
        for m in matchers {
            if m.name().is_empty() {
                include_all = true;
            } else if m.name() != TENANT_LABEL {
                names.push(m.name().to_owned());
            }
        }
        return Ok((names, out, include_all));
    }
    let mut match_all = None;
    for (i, m) in matchers.iter().enumerate() {
        if m.name().is_empty() {
            match_all = Some(i);
        }
    }
    for t in targets {
        if !matchers.iter().any(|m| m.name() == t) {
            out.push(Matcher::new(MatchOp::Regex, t.clone(), ".+")?);
        }
    }
    if let Some(i) = match_all
        && out.len() > 1
    {
        out.remove(i);
    }
    Ok((targets.to_vec(), out, false))
}

/// The postings primitives every index provides; the matcher algorithm is
/// written once over them.
pub(crate) trait PostingsSource {
    /// Every series.
    fn all_postings(&self) -> Result<RoaringBitmap, IndexError>;
    /// ORs the series with `name=value` into `out`.
    fn postings_into(&self, name: &str, value: &str, out: &mut RoaringBitmap) -> Result<(), IndexError>;
    /// ORs the series whose value of `name` satisfies `pred` into `out`.
    fn postings_where(
        &self,
        name: &str,
        pred: &mut dyn FnMut(&str) -> bool,
        out: &mut RoaringBitmap,
    ) -> Result<(), IndexError>;
}

/// Prometheus' `PostingsForMatchers` (§5.2): intersect the postings of the
/// matchers that require a value, start from all series when none does,
/// subtract the series whose value fails a matcher that matches `""`.
pub(crate) fn select<S: PostingsSource + ?Sized>(s: &S, matchers: &[Matcher]) -> Result<RoaringBitmap, IndexError> {
    let mut pos: Option<RoaringBitmap> = None;
    let mut neg = RoaringBitmap::new();
    for m in matchers {
        if m.matches_everything() {
            continue;
        }
        if !m.matches_empty() {
            let mut bm = RoaringBitmap::new();
            if let Some(set) = m.set_matches() {
                for v in set {
                    s.postings_into(m.name(), v, &mut bm)?;
                }
            } else {
                s.postings_where(m.name(), &mut |v| m.matches(v), &mut bm)?;
            }
            let next = match pos.take() {
                None => bm,
                Some(p) => p & bm,
            };
            if next.is_empty() {
                return Ok(next);
            }
            pos = Some(next);
        } else if m.op() == MatchOp::NotEqual {
            s.postings_into(m.name(), m.value(), &mut neg)?;
        } else {
            s.postings_where(m.name(), &mut |v| !m.matches(v), &mut neg)?;
        }
    }
    let mut res = match pos {
        Some(p) => p,
        None => s.all_postings()?,
    };
    res -= neg;
    Ok(res)
}
