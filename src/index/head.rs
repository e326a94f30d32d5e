//! The head index: streams flushed since the last index rotation, kept in
//! memory with the same query interface as a file
//! (`../shared/spec/tsdb-index.md` §4.3). It turns into index files with
//! [`HeadIndex::build`] (one tenant) or [`build_multitenant`] (Loki's
//! ingester upload: one multi-tenant file per table touched).

use std::collections::{BTreeMap, HashMap};

use roaring::RoaringBitmap;

use crate::{Fingerprint, Labels, TenantId};

use super::builder::IndexBuilder;
use super::chunk_meta::ChunkMeta;
use super::error::IndexError;
use super::format::{IndexFormat, TENANT_LABEL};
use super::matcher::Matcher;
use super::query::{
    ChunkRef, IndexQuery, IndexStats, PostingsSource, Series, SeriesQuery, StatsAcc, select, sorted_refs,
};
use super::table::{table_days, table_name_for_day};
use super::writer::WrittenIndex;

#[derive(Debug, Clone)]
struct HeadSeries {
    labels: Labels,
    fingerprint: Fingerprint,
    /// Sorted by (MinTime, MaxTime, Checksum), unique.
    chunks: Vec<ChunkMeta>,
}

/// One tenant's in-memory index of flushed chunks.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::index::{ChunkMeta, HeadIndex, IndexQuery, Matcher, SeriesQuery};
///
/// let mut head = HeadIndex::new();
/// let labels: Labels = r#"{app="demo"}"#.parse().unwrap();
/// head.append(&labels, labels.fingerprint(), ChunkMeta::new(1000, 2000, 1, 10, 0xabc));
/// let m = [Matcher::equal("app", "demo")];
/// assert_eq!(head.series(&SeriesQuery::new(0, 5000, &m)).unwrap().len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeadIndex {
    series: Vec<HeadSeries>,
    by_labels: HashMap<Labels, u32>,
    postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>>,
    all: RoaringBitmap,
    bounds: Option<(i64, i64)>,
}

impl HeadIndex {
    /// An empty head.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series was added.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Records a flushed chunk of the stream `labels` (fingerprint `fp`,
    /// kept from the stream's first chunk). A chunk already recorded (same
    /// MinTime, MaxTime, Checksum) is ignored.
    pub fn append(&mut self, labels: &Labels, fp: Fingerprint, chunk: ChunkMeta) {
        let id = match self.by_labels.get(labels) {
            Some(&id) => id,
            None => {
                let id = self.series.len() as u32;
                self.series.push(HeadSeries { labels: labels.clone(), fingerprint: fp, chunks: Vec::new() });
                self.by_labels.insert(labels.clone(), id);
                for l in labels {
                    self.postings.entry(l.name.clone()).or_default().entry(l.value.clone()).or_default().insert(id);
                }
                self.all.insert(id);
                id
            }
        };
        let chunks = &mut self.series[id as usize].chunks;
        let key = chunk.sort_key();
        if chunks.last().is_none_or(|c| c.sort_key() < key) {
            chunks.push(chunk);
        } else if let Err(pos) = chunks.binary_search_by_key(&key, ChunkMeta::sort_key) {
            chunks.insert(pos, chunk);
        } else {
            return;
        }
        let (f, t) = self.bounds.unwrap_or((chunk.min_time, chunk.max_time));
        self.bounds = Some((f.min(chunk.min_time), t.max(chunk.max_time)));
    }

    /// Adds every series, with the tenant label when `tenant` is given, to
    /// `builder`; only chunks overlapping `[from, through]` (ms, inclusive)
    /// are added, and series without such chunks are skipped.
    pub fn add_to_builder(&self, builder: &mut IndexBuilder, tenant: Option<&TenantId>, from: i64, through: i64) {
        for s in &self.series {
            let chunks: Vec<ChunkMeta> =
                s.chunks.iter().copied().filter(|c| c.min_time <= through && c.max_time >= from).collect();
            if chunks.is_empty() {
                continue;
            }
            match tenant {
                Some(t) => {
                    let labels = Labels::from_pairs(
                        s.labels
                            .iter()
                            .map(|l| (l.name.as_str(), l.value.as_str()))
                            .chain([(TENANT_LABEL, t.as_str())]),
                    )
                    .unwrap_or_else(|_| s.labels.clone());
                    builder.add_series(&labels, s.fingerprint, chunks);
                }
                None => builder.add_series(&s.labels, s.fingerprint, chunks),
            }
        }
    }

    /// Writes this head as one per-tenant index file (no tenant label).
    pub fn build(&self, format: IndexFormat) -> Result<WrittenIndex, IndexError> {
        let mut b = IndexBuilder::new(format);
        self.add_to_builder(&mut b, None, i64::MIN, i64::MAX);
        b.build()
    }
}

/// Loki's head rotation: one multi-tenant index per 24h table touched by
/// any chunk (a chunk spanning midnight goes into every table it touches),
/// series labelled with `__loki_tenant__`. Returns `(table name, file)`
/// sorted by table.
pub fn build_multitenant(
    heads: &[(TenantId, &HeadIndex)],
    format: IndexFormat,
    table_prefix: &str,
) -> Result<Vec<(String, WrittenIndex)>, IndexError> {
    let mut days = std::collections::BTreeSet::new();
    for (_, h) in heads {
        for s in &h.series {
            for c in &s.chunks {
                days.extend(table_days(c.min_time, c.max_time));
            }
        }
    }
    let mut out = Vec::new();
    for day in days {
        let (from, through) = (day * super::table::DAY_MS, (day + 1) * super::table::DAY_MS - 1);
        let mut b = IndexBuilder::new(format);
        for (tenant, h) in heads {
            h.add_to_builder(&mut b, Some(tenant), from, through);
        }
        out.push((table_name_for_day(table_prefix, day), b.build()?));
    }
    Ok(out)
}

impl PostingsSource for HeadIndex {
    fn all_postings(&self) -> Result<RoaringBitmap, IndexError> {
        Ok(self.all.clone())
    }

    fn postings_into(&self, name: &str, value: &str, out: &mut RoaringBitmap) -> Result<(), IndexError> {
        if let Some(b) = self.postings.get(name).and_then(|v| v.get(value)) {
            *out |= b;
        }
        Ok(())
    }

    fn postings_where(
        &self,
        name: &str,
        pred: &mut dyn FnMut(&str) -> bool,
        out: &mut RoaringBitmap,
    ) -> Result<(), IndexError> {
        if let Some(values) = self.postings.get(name) {
            for (v, b) in values {
                if pred(v) {
                    *out |= b;
                }
            }
        }
        Ok(())
    }
}

impl IndexQuery for HeadIndex {
    fn bounds(&self) -> (i64, i64) {
        self.bounds.unwrap_or((0, 0))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        if matchers.is_empty() {
            return Ok(self.postings.keys().cloned().collect());
        }
        let mut names = std::collections::BTreeSet::new();
        for id in select(self, matchers)? {
            names.extend(self.series[id as usize].labels.iter().map(|l| l.name.as_str()));
        }
        Ok(names.into_iter().map(str::to_owned).collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        if matchers.is_empty() {
            return Ok(self.postings.get(name).map(|v| v.keys().cloned().collect()).unwrap_or_default());
        }
        let mut values = std::collections::BTreeSet::new();
        for id in select(self, matchers)? {
            values.extend(self.series[id as usize].labels.get(name));
        }
        Ok(values.into_iter().map(str::to_owned).collect())
    }

    fn for_each_series(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut out = Series::default();
        self.for_each_head(q, &mut |s, chunks| {
            out.labels.clone_from(&s.labels);
            out.fingerprint = s.fingerprint;
            out.chunks.clear();
            out.chunks.extend_from_slice(chunks);
            f(&out)
        })
    }

    fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
        let mut out = Vec::new();
        self.for_each_head(q, &mut |s, chunks| {
            out.extend(chunks.iter().map(|c| ChunkRef::new(s.fingerprint, c)));
            Ok(())
        })?;
        Ok(sorted_refs(out))
    }

    fn stats(&self, q: &SeriesQuery<'_>) -> Result<IndexStats, IndexError> {
        let mut acc = StatsAcc::default();
        self.for_each_head(q, &mut |s, chunks| {
            acc.add(s.fingerprint, chunks, q.from, q.through);
            Ok(())
        })?;
        Ok(acc.finish())
    }
}

/// What [`HeadIndex::for_each_head`] calls per series.
type HeadVisitor<'a> = dyn FnMut(&HeadSeries, &[ChunkMeta]) -> Result<(), IndexError> + 'a;

impl HeadIndex {
    /// The series matching `q` with their chunks in range.
    fn for_each_head(&self, q: &SeriesQuery<'_>, f: &mut HeadVisitor<'_>) -> Result<(), IndexError> {
        let mut buf = Vec::new();
        for id in select(self, q.matchers)? {
            let s = &self.series[id as usize];
            if q.shard.is_some_and(|sh| !sh.matches(s.fingerprint)) {
                continue;
            }
            buf.clear();
            for c in &s.chunks {
                if c.overlaps(q.from, q.through) {
                    buf.push(*c);
                } else if c.min_time >= q.through {
                    break;
                }
            }
            if !buf.is_empty() {
                f(s, &buf)?;
            }
        }
        Ok(())
    }
}
