//! Compaction (and retention) of one table (`../shared/spec/compactor.md`
//! §3, §4.4, `tsdb-index.md` §4.4).
//!
//! 1. Read every multi-tenant file (split by `__loki_tenant__`, the label
//!    removed). A file that cannot be read is reported and left alone:
//!    never used, never deleted.
//! 2. Per tenant: rebuild when it has data in a multi-tenant file, more
//!    than one readable per-tenant file, or when retention removes chunks.
//!    Series are merged by labels (first fingerprint wins), chunk metas
//!    de-duplicated by (MinTime, MaxTime, Checksum).
//! 3. Retention (when the table may hold expired data of the tenant):
//!    expired chunks leave the index and are marked; chunks continuing
//!    into a later table leave this table only.
//! 4. Chunk compaction (when configured, `chunks.rs`): runs of small
//!    chunks are merged into new chunks, which replace them in the index.
//! 5. Commit order: pending markers (the pass's journal) -> new chunk
//!    objects uploaded -> every new per-tenant file uploaded -> lease
//!    checked -> per-tenant sources deleted -> multi-tenant sources
//!    deleted -> markers settled. A crash anywhere leaves every chunk
//!    reference in at least one index object, and the next run settles
//!    the journal (`marker.rs`).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::chunks::{self, ChunkWork, StreamRef};
use super::lease::Lease;
use super::marker::{self, MarkerFile};
use super::retention::{Verdict, verdict};
use super::sources::TableSources;
use super::{CompactionReport, Compactor};
use crate::error::Result;
use crate::index::{ChunkMeta, IndexBuilder, IndexFileName, Series, TENANT_LABEL, finalize_chunks, gzip, read_object};
use crate::object::ChunkKey;
use crate::store::StoreError;
use crate::{Fingerprint, Labels, TenantId};

/// One tenant's merged series.
type Merged = HashMap<Labels, (Fingerprint, Vec<ChunkMeta>)>;

fn add_series(merged: &mut Merged, s: Series) {
    let (_, chunks) = merged.entry(s.labels).or_insert_with(|| (s.fingerprint, Vec::new()));
    chunks.extend(s.chunks);
}

/// Labels without `__loki_tenant__`, and its value.
fn split_tenant(labels: &Labels) -> (Option<String>, Labels) {
    let tenant = labels.get(TENANT_LABEL).map(str::to_owned);
    if tenant.is_none() {
        return (None, labels.clone());
    }
    let rest = Labels::from_pairs(
        labels.iter().filter(|l| l.name != TENANT_LABEL).map(|l| (l.name.as_str(), l.value.as_str())),
    )
    .unwrap_or_default();
    (tenant, rest)
}

/// What a planned tenant rebuild writes and deletes.
struct TenantPlan {
    /// The new file (key, gzip'ed bytes), or `None` when the tenant's
    /// index became empty.
    file: Option<(String, Bytes)>,
    /// Per-tenant source objects to delete afterwards.
    sources: Vec<String>,
}

impl Compactor {
    /// Reads an index object's series. `Ok(Err(reason))` for an object
    /// that is unreadable or vanished (reported, skipped).
    fn read_series(&self, key: &str) -> Result<std::result::Result<Vec<Series>, String>> {
        let data = match self.store.get(key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => return Ok(Err("vanished while compacting".to_owned())),
            Err(e) => return Err(e.into()),
        };
        let reader = match read_object(key, data) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let series: std::result::Result<Vec<Series>, _> = reader.all_series().collect();
        Ok(series.map_err(|e| e.to_string()))
    }

    /// Compacts table `t` and applies retention to it.
    pub(super) fn compact_table(
        &self,
        t: &TableSources,
        lease: &mut Lease<'_>,
        deletes: &mut super::deletes::Batch,
        report: &mut CompactionReport,
    ) -> Result<()> {
        let now_ns = self.now_ns();
        let now_ms = now_ns.div_euclid(1_000_000);
        let retention = self.config.retention.as_ref();

        // 1. The common set.
        let mut from_common: BTreeMap<String, Vec<Series>> = BTreeMap::new();
        let mut common_read = Vec::new();
        for key in &t.common {
            let series = match self.read_series(key)? {
                Ok(s) => s,
                Err(why) => {
                    report.skipped_objects.push((key.clone(), why));
                    continue;
                }
            };
            let mut split: BTreeMap<String, Vec<Series>> = BTreeMap::new();
            let mut bad = None;
            for s in series {
                match split_tenant(&s.labels) {
                    (Some(tenant), labels) if TenantId::new(tenant.as_str()).is_ok() => {
                        split.entry(tenant).or_default().push(Series { labels, ..s });
                    }
                    (tenant, _) => {
                        bad = Some(format!("series {} has an invalid tenant {tenant:?}", s.labels));
                        break;
                    }
                }
            }
            if let Some(why) = bad {
                report.skipped_objects.push((key.clone(), why));
                continue;
            }
            for (tenant, s) in split {
                from_common.entry(tenant).or_default().extend(s);
            }
            common_read.push(key.clone());
        }

        // 2-3. Per tenant.
        let mut tenants: Vec<String> = from_common.keys().cloned().collect();
        tenants.extend(t.tenants.keys().filter(|k| !from_common.contains_key(*k)).cloned());
        let mut plans = Vec::new();
        let mut marks = Vec::new();
        let mut work = ChunkWork::default();
        for tenant in tenants {
            let files = t.tenants.get(&tenant).map(Vec::as_slice).unwrap_or_default();
            if TenantId::new(tenant.as_str()).is_err() {
                for key in files {
                    report.skipped_objects.push((key.clone(), format!("invalid tenant directory {tenant:?}")));
                }
                continue;
            }
            let common = from_common.remove(&tenant);
            let retain = retention.is_some_and(|r| r.table_may_expire(&tenant, t.day, now_ms));
            let delete = deletes.has_tenant(&tenant);
            let merge_chunks = self.config.chunks.is_some();
            if common.is_none() && files.len() <= 1 && !retain && !delete && !merge_chunks {
                continue;
            }
            let mut merged = Merged::new();
            let mut sources = Vec::new();
            for key in files {
                match self.read_series(key)? {
                    Ok(series) => {
                        for s in series {
                            let (_, labels) = split_tenant(&s.labels);
                            add_series(&mut merged, Series { labels, ..s });
                        }
                        sources.push(key.clone());
                    }
                    Err(why) => report.skipped_objects.push((key.clone(), why)),
                }
            }
            let mut rewrite = sources.len() > 1;
            if let Some(series) = common {
                rewrite = true;
                for s in series {
                    add_series(&mut merged, s);
                }
            }
            if let Some(r) = retention.filter(|_| retain) {
                let limits = r.tenant(&tenant);
                for (labels, (fp, chunks)) in &mut merged {
                    finalize_chunks(chunks);
                    let period = limits.period_ms_for(labels);
                    let before = chunks.len();
                    chunks.retain(|c| match verdict(c, period, t.day, now_ms) {
                        Verdict::Keep => true,
                        Verdict::Expire => {
                            let key = ChunkKey {
                                tenant: tenant.clone(),
                                fingerprint: *fp,
                                from_ms: c.min_time,
                                through_ms: c.max_time,
                                checksum: c.checksum,
                            };
                            marks.push(self.store.chunk_path(&key));
                            report.chunks_marked += 1;
                            false
                        }
                        Verdict::DropFromTable => {
                            report.refs_dropped += 1;
                            false
                        }
                    });
                    rewrite |= chunks.len() != before;
                }
            }
            if delete {
                for (labels, (fp, chunks)) in &mut merged {
                    finalize_chunks(chunks);
                    let series = (labels, *fp);
                    let lists = (&mut marks, &mut work.replaced, &mut work.objects);
                    rewrite |= deletes.apply(&*self.store, &tenant, t.day, series, chunks, lists, report)?;
                }
            }
            if let Some(settings) = &self.config.chunks {
                let id = TenantId::new(tenant.as_str())?;
                let mut streams: Vec<(StreamRef<'_>, &mut Vec<ChunkMeta>)> = merged
                    .iter_mut()
                    .map(|(labels, (fp, chunks))| {
                        finalize_chunks(chunks);
                        (StreamRef { tenant: &id, labels, fingerprint: *fp }, chunks)
                    })
                    .collect();
                // A stable order: the same runs are deferred by every pass.
                streams.sort_by(|a, b| a.0.labels.cmp(b.0.labels));
                let before = work.replaced.len();
                let skipped = &mut report.skipped_objects;
                chunks::compact_streams(&*self.store, settings, t.day, &mut streams, &mut work, skipped)?;
                rewrite |= work.replaced.len() != before;
            }
            if !rewrite {
                continue;
            }
            plans.push(self.plan_tenant(&t.name, &tenant, merged, sources, now_ns)?);
        }
        if plans.is_empty() && common_read.is_empty() {
            return Ok(());
        }

        // 4. Commit.
        let mut all_sources: Vec<String> = plans.iter().flat_map(|p| p.sources.iter().cloned()).collect();
        all_sources.extend(common_read.iter().cloned());
        // Never delete what this pass (re)writes.
        let new_chunks: Vec<String> = work.objects.iter().map(|(k, _)| k.clone()).collect();
        let written: std::collections::HashSet<&str> = new_chunks.iter().map(String::as_str).collect();
        marks.retain(|k| !written.contains(k.as_str()));
        work.replaced.retain(|k| !written.contains(k.as_str()));
        let journal = MarkerFile {
            table: t.name.clone(),
            sources: all_sources,
            chunks: marks,
            replaced: std::mem::take(&mut work.replaced),
            new_index: plans.iter().filter_map(|p| p.file.as_ref().map(|(k, _)| k.clone())).collect(),
            new_chunks,
        };
        let pending = if journal.is_empty() {
            Vec::new()
        } else {
            lease.ensure(self.now_ms())?;
            marker::write_pending(&*self.store, now_ns, &journal)?
        };
        if !work.objects.is_empty() {
            lease.ensure(self.now_ms())?;
        }
        for (key, data) in std::mem::take(&mut work.objects) {
            self.store.put(&key, data)?;
            report.chunks_written += 1;
        }
        report.chunks_replaced += journal.replaced.len();
        report.chunk_bytes_read += work.bytes_read;
        report.chunk_bytes_written += work.bytes_written;
        report.chunk_runs_deferred += work.deferred;
        for p in &plans {
            if let Some((key, data)) = &p.file {
                self.store.put(key, data.clone())?;
                report.files_written += 1;
            }
        }
        lease.ensure(self.now_ms())?;
        for p in &plans {
            for key in &p.sources {
                self.store.delete(key)?;
                report.files_deleted += 1;
            }
        }
        for key in &common_read {
            self.store.delete(key)?;
            report.files_deleted += 1;
        }
        report.markers_committed += marker::commit(&*self.store, &pending, self.now_ns())?;
        report.tables_compacted += 1;
        if plans.iter().all(|p| p.file.is_none()) && !journal.chunks.is_empty() {
            report.tables_emptied += 1;
        }
        report.tenants_compacted += plans.iter().filter(|p| p.file.is_some()).count();
        Ok(())
    }

    /// Builds a tenant's new file (none when nothing is left) and names it
    /// from its TOC.
    fn plan_tenant(
        &self,
        table: &str,
        tenant: &str,
        merged: Merged,
        mut sources: Vec<String>,
        now_ns: i64,
    ) -> Result<TenantPlan> {
        let mut b = IndexBuilder::new(self.config.index_format);
        for (labels, (fp, chunks)) in merged {
            if !chunks.is_empty() {
                b.add_series(&labels, fp, chunks);
            }
        }
        if b.is_empty() {
            return Ok(TenantPlan { file: None, sources });
        }
        let written = b.build()?;
        let name = IndexFileName::Compacted {
            created: now_ns,
            from: written.toc.from,
            through: written.toc.through,
            checksum: written.toc.checksum,
        };
        let id = TenantId::new(tenant)?;
        let key = name.object_key(&self.config.path_prefix, table, &id);
        // Identical content under the same name: never delete what we wrote.
        sources.retain(|s| *s != key);
        Ok(TenantPlan { file: Some((key, Bytes::from(gzip(&written.bytes)))), sources })
    }
}
