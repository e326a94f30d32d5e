//! Views over indexes (`../shared/spec/tsdb-index.md` §5.1, §5.4): one
//! tenant's part of a multi-tenant file, and several indexes (files of a
//! table, several tables, the head) merged into one with series
//! de-duplicated by (fingerprint, labels) and chunks by (MinTime, MaxTime,
//! Checksum).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::{Fingerprint, Labels};

use super::chunk_meta::{ChunkMeta, finalize_chunks};
use super::error::IndexError;
use super::format::TENANT_LABEL;
use super::matcher::Matcher;
use super::query::{ChunkRef, IndexQuery, IndexStats, Series, SeriesQuery};

/// One tenant's view of a multi-tenant (ingester-built) index: every query
/// gets the matcher `__loki_tenant__="<tenant>"` and the label is removed
/// from what is returned.
#[derive(Debug, Clone)]
pub struct TenantIndex<I> {
    inner: I,
    tenant: String,
}

impl<I: IndexQuery> TenantIndex<I> {
    /// `tenant`'s view of `inner`.
    pub fn new(inner: I, tenant: impl Into<String>) -> Self {
        Self { inner, tenant: tenant.into() }
    }

    fn with_tenant(&self, matchers: &[Matcher]) -> Vec<Matcher> {
        let mut m = Vec::with_capacity(matchers.len() + 1);
        m.push(Matcher::equal(TENANT_LABEL, self.tenant.clone()));
        m.extend(matchers.iter().filter(|m| m.name() != TENANT_LABEL).cloned());
        m
    }
}

impl<I: IndexQuery> IndexQuery for TenantIndex<I> {
    fn bounds(&self) -> (i64, i64) {
        self.inner.bounds()
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        let mut names = self.inner.label_names(&self.with_tenant(matchers))?;
        names.retain(|n| n != TENANT_LABEL);
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        if name == TENANT_LABEL {
            return Ok(Vec::new());
        }
        self.inner.label_values(name, &self.with_tenant(matchers))
    }

    fn for_each_series(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let matchers = self.with_tenant(q.matchers);
        let q = SeriesQuery { matchers: &matchers, ..*q };
        let mut out = Series::default();
        self.inner.for_each_series(&q, &mut |s| {
            out.labels = Labels::from_pairs(
                s.labels.iter().filter(|l| l.name != TENANT_LABEL).map(|l| (l.name.as_str(), l.value.as_str())),
            )
            .unwrap_or_default();
            out.fingerprint = s.fingerprint;
            out.chunks.clone_from(&s.chunks);
            f(&out)
        })
    }

    fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
        let matchers = self.with_tenant(q.matchers);
        self.inner.chunk_refs(&SeriesQuery { matchers: &matchers, ..*q })
    }

    fn stats(&self, q: &SeriesQuery<'_>) -> Result<IndexStats, IndexError> {
        let matchers = self.with_tenant(q.matchers);
        self.inner.stats(&SeriesQuery { matchers: &matchers, ..*q })
    }
}

/// Several indexes queried as one; answers are merged and de-duplicated.
#[derive(Default)]
pub struct MultiIndex<'a> {
    parts: Vec<Box<dyn IndexQuery + Send + Sync + 'a>>,
}

impl std::fmt::Debug for MultiIndex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiIndex").field("parts", &self.parts.len()).finish()
    }
}

impl<'a> MultiIndex<'a> {
    /// An empty set.
    pub fn new() -> Self {
        Self { parts: Vec::new() }
    }

    /// Adds an index.
    pub fn push(&mut self, index: impl IndexQuery + Send + Sync + 'a) {
        self.parts.push(Box::new(index));
    }

    /// Number of indexes.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// True when there is no index.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl IndexQuery for MultiIndex<'_> {
    fn bounds(&self) -> (i64, i64) {
        let mut b: Option<(i64, i64)> = None;
        for p in &self.parts {
            let (f, t) = p.bounds();
            if (f, t) == (0, 0) {
                continue;
            }
            b = Some(b.map_or((f, t), |(bf, bt)| (bf.min(f), bt.max(t))));
        }
        b.unwrap_or((0, 0))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        let mut all = BTreeSet::new();
        for p in &self.parts {
            all.extend(p.label_names(matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        let mut all = BTreeSet::new();
        for p in &self.parts {
            all.extend(p.label_values(name, matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    fn for_each_series(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        if let [only] = self.parts.as_slice() {
            return only.for_each_series(q, f);
        }
        let mut merged: BTreeMap<(Fingerprint, Labels), Vec<ChunkMeta>> = BTreeMap::new();
        for p in &self.parts {
            p.for_each_series(q, &mut |s| {
                merged.entry((s.fingerprint, s.labels.clone())).or_default().extend_from_slice(&s.chunks);
                Ok(())
            })?;
        }
        for ((fingerprint, labels), mut chunks) in merged {
            finalize_chunks(&mut chunks);
            f(&Series { labels, fingerprint, chunks })?;
        }
        Ok(())
    }

    fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
        let mut out = Vec::new();
        for p in &self.parts {
            out.extend(p.chunk_refs(q)?);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

macro_rules! forward {
    ($($t:ty),*) => {$(
        impl<T: IndexQuery + ?Sized> IndexQuery for $t {
            fn bounds(&self) -> (i64, i64) {
                (**self).bounds()
            }
            fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
                (**self).label_names(matchers)
            }
            fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
                (**self).label_values(name, matchers)
            }
            fn for_each_series(
                &self,
                q: &SeriesQuery<'_>,
                f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
            ) -> Result<(), IndexError> {
                (**self).for_each_series(q, f)
            }
            fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
                (**self).chunk_refs(q)
            }
            fn stats(&self, q: &SeriesQuery<'_>) -> Result<IndexStats, IndexError> {
                (**self).stats(q)
            }
        }
    )*};
}

forward!(&T, Box<T>, Arc<T>);
