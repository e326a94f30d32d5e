//! The compactor's part of delete requests (`../shared/spec/compactor.md`
//! §4.4, §5.3-§5.4).
//!
//! 1. [`Batch::load`]: the unprocessed shards of requests older than the
//!    cancellation period plus one minute, oldest range first, at most
//!    `batch_size`.
//! 2. Per table and tenant with shards in the batch, per series the shards
//!    apply to ([`Batch::apply`]): a chunk wholly covered by a shard
//!    without filter leaves the index and is marked expired; another
//!    touched chunk is rewritten without the deleted lines (Loki's
//!    `rewriteChunk`). The new object is uploaded here, before the table's
//!    marker journal and new index (written at commit) refer to it; it is
//!    indexed in this table only if it overlaps the table's day. The old
//!    reference leaves the table, and the old object is recorded as
//!    replaced (swept after the delay unless the table's index refers to it
//!    again) only from the first table that indexes it (`from >= table
//!    start`), since later tables still rewrite their part from it.
//! 3. After every table was committed, [`Batch::finish`] marks the shards
//!    processed. A pass that stops earlier leaves them unprocessed; the
//!    next pass redoes the work, which is idempotent: rewritten chunks no
//!    longer hold deleted lines, and a rewrite produces the same object
//!    (content-addressed key) again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use super::filter::{CompiledDelete, DeleteFilter};
use super::store::DeleteStore;
use super::{DeleteConfig, duration_ms};
use crate::chunk::{Chunk, ChunkError};
use crate::compactor::CompactionReport;
use crate::error::Result;
use crate::index::{ChunkMeta, DAY_MS};
use crate::labels::{Fingerprint, Labels};
use crate::object::{ChunkKey, ChunkObject, bounds_to_ms};
use crate::store::{ObjectStore, StoreError};

/// Extra wait after the cancellation period before a request is
/// processed (Loki's guard against a cancellation racing the pickup).
const PICKUP_GRACE_MS: i64 = 60_000;

/// The shards one compactor pass processes.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    by_tenant: BTreeMap<String, Vec<Arc<CompiledDelete>>>,
    /// Requests whose data could not all be processed in this pass (a
    /// chunk that could not be read): their shards stay unprocessed.
    failed: BTreeSet<(String, String)>,
}

/// What rewriting one chunk gave.
enum Rewritten {
    /// No line deleted.
    Unchanged,
    /// Every line deleted.
    Empty,
    /// The remaining lines: the new index entry, and the new object (path
    /// and bytes) when it overlaps the table, for the pass to upload after
    /// its journal.
    New(ChunkMeta, Option<(String, Bytes)>),
}

impl Batch {
    /// The eligible shards at `now_ms` (see the module comment); objects
    /// that cannot be read are reported and left alone.
    pub fn load(
        store: &dyn ObjectStore,
        config: &DeleteConfig,
        now_ms: i64,
        report: &mut CompactionReport,
    ) -> Result<Self> {
        let listing = DeleteStore::new(store).list(None)?;
        for e in listing.corrupt {
            if let super::DeleteError::Corrupt { key, reason } = e {
                report.skipped_objects.push((key, reason));
            }
        }
        let wait = duration_ms(config.cancel_period).saturating_add(PICKUP_GRACE_MS);
        let mut shards: Vec<(i64, CompiledDelete, String)> = Vec::new();
        for rec in listing.records {
            if rec.created_at_ms.saturating_add(wait) > now_ms {
                continue;
            }
            for s in rec.shards.iter().filter(|s| !s.processed) {
                match CompiledDelete::new(&rec.request_id, &rec.query, s.start_ms, s.end_ms) {
                    Ok(c) => shards.push((s.start_ms, c, rec.tenant.clone())),
                    Err(e) => {
                        let key = format!("{}{}/{}.json", super::DELETES_PREFIX, rec.tenant, rec.request_id);
                        report.skipped_objects.push((key, e.to_string()));
                    }
                }
            }
        }
        shards.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.request_id.cmp(&b.1.request_id)));
        let mut batch = Self::default();
        for (_, c, tenant) in shards.into_iter().take(config.batch_size) {
            batch.by_tenant.entry(tenant).or_default().push(Arc::new(c));
        }
        Ok(batch)
    }

    /// Whether the batch has shards of `tenant` (then its tables are
    /// processed even when compaction alone would leave them).
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.by_tenant.contains_key(tenant)
    }

    /// Applies the batch to one series of `tenant` in table `day`:
    /// updates `chunks`, pushes the paths of objects deleted whole to
    /// `expired` and of objects rewritten to `replaced` (the marker's two
    /// lists: a replaced object is swept only if the table's index does not
    /// refer to it again), and tells whether the series changed.
    #[expect(clippy::too_many_arguments, reason = "one call site, the table's merge state")]
    pub fn apply(
        &mut self,
        store: &dyn ObjectStore,
        tenant: &str,
        day: i64,
        (labels, fp): (&Labels, Fingerprint),
        chunks: &mut Vec<ChunkMeta>,
        (expired, replaced, objects): (&mut Vec<String>, &mut Vec<String>, &mut Vec<(String, Bytes)>),
        report: &mut CompactionReport,
    ) -> Result<bool> {
        let Some(all) = self.by_tenant.get(tenant) else { return Ok(false) };
        let reqs: Vec<Arc<CompiledDelete>> = all.iter().filter(|r| r.matches_labels(labels)).cloned().collect();
        if reqs.is_empty() {
            return Ok(false);
        }
        let table_start = day.saturating_mul(DAY_MS);
        let table_end = table_start.saturating_add(DAY_MS - 1);
        let mut changed = false;
        let mut out = Vec::with_capacity(chunks.len());
        for c in chunks.drain(..) {
            let applicable: Vec<Arc<CompiledDelete>> =
                reqs.iter().filter(|r| r.overlaps_ms(c.min_time, c.max_time)).cloned().collect();
            if applicable.is_empty() {
                out.push(c);
                continue;
            }
            let key = ChunkKey {
                tenant: tenant.to_owned(),
                fingerprint: fp,
                from_ms: c.min_time,
                through_ms: c.max_time,
                checksum: c.checksum,
            };
            let path = store.chunk_path(&key);
            if applicable.iter().any(|r| r.covers_chunk(c.min_time, c.max_time)) {
                expired.push(path);
                report.chunks_marked += 1;
                changed = true;
                continue;
            }
            let rewritten = match rewrite(store, &key, &path, labels, &applicable, &c, (table_start, table_end)) {
                Ok(r) => r,
                Err(RewriteError::Unusable(why)) => {
                    // Keep the reference; the requests stay unprocessed.
                    report.skipped_objects.push((path, why));
                    for r in &applicable {
                        self.failed.insert((tenant.to_owned(), r.request_id.clone()));
                    }
                    out.push(c);
                    continue;
                }
                Err(RewriteError::Fatal(e)) => return Err(e),
            };
            match rewritten {
                Rewritten::Unchanged => {
                    out.push(c);
                    continue;
                }
                Rewritten::Empty => {}
                Rewritten::New(meta, object) => {
                    report.chunks_rewritten += 1;
                    if meta.min_time <= table_end && meta.max_time >= table_start {
                        out.push(meta);
                    }
                    // Uploaded by the table pass after its journal, so a
                    // crash never leaves an object nothing refers to.
                    objects.extend(object);
                }
            }
            changed = true;
            if c.min_time >= table_start {
                replaced.push(path);
            }
        }
        *chunks = out;
        Ok(changed)
    }

    /// Marks the processed shards in the store (call once every table of
    /// the pass is committed).
    pub fn finish(&self, store: &dyn ObjectStore, report: &mut CompactionReport) -> Result<()> {
        let ds = DeleteStore::new(store);
        let mut per_request: BTreeMap<(&str, &str), Vec<(i64, i64)>> = BTreeMap::new();
        for (tenant, reqs) in &self.by_tenant {
            for r in reqs {
                if self.failed.contains(&(tenant.clone(), r.request_id.clone())) {
                    continue;
                }
                per_request.entry((tenant, &r.request_id)).or_default().push((r.start_ms, r.end_ms));
            }
        }
        for ((tenant, id), ranges) in per_request {
            if ds.mark_processed(tenant, id, &ranges)? {
                report.delete_shards_processed += ranges.len();
            }
        }
        Ok(())
    }
}

enum RewriteError {
    /// The object is missing or unreadable: reported, reference kept.
    Unusable(String),
    /// A store failure: the pass stops.
    Fatal(crate::Error),
}

impl From<StoreError> for RewriteError {
    fn from(e: StoreError) -> Self {
        Self::Fatal(e.into())
    }
}

/// Loki's `rewriteChunk`: the chunk without the lines the requests delete.
/// The new object keeps the tenant, fingerprint, labels and ingestion
/// time and gets bounds from its entries (rounded to ms) and a new
/// checksum; its object is returned only when it overlaps the table `[start,
/// end]` (ms).
fn rewrite(
    store: &dyn ObjectStore,
    key: &ChunkKey,
    path: &str,
    labels: &Labels,
    requests: &[Arc<CompiledDelete>],
    meta: &ChunkMeta,
    (table_start, table_end): (i64, i64),
) -> std::result::Result<Rewritten, RewriteError> {
    let bytes: Bytes = match store.get(path) {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => return Err(RewriteError::Unusable("indexed chunk not found".to_owned())),
        Err(e) => return Err(e.into()),
    };
    let obj = ChunkObject::decode_verified(bytes, key).map_err(|e| RewriteError::Unusable(e.to_string()))?;
    let chunk = Chunk::from_bytes(obj.data.clone()).map_err(|e| RewriteError::Unusable(e.to_string()))?;
    let mut filter =
        DeleteFilter::new(requests, labels).map_err(|e| RewriteError::Fatal(crate::Error::Query(Box::new(e))))?;
    let mut deleted = 0usize;
    let new = chunk.rewrite(|e| {
        let gone = filter.deletes(e.timestamp, e.line, &mut |b| e.metadata().for_each(|(n, v)| b.set_metadata(n, v)));
        deleted += usize::from(gone);
        !gone
    });
    let new = match new {
        Ok(_) if deleted == 0 => return Ok(Rewritten::Unchanged),
        Ok(c) => c,
        Err(ChunkError::NoDataLeft) => return Ok(Rewritten::Empty),
        Err(e) => return Err(RewriteError::Unusable(e.to_string())),
    };
    let Some((lo, hi)) = new.bounds() else { return Ok(Rewritten::Empty) };
    let (from_ms, through_ms) = bounds_to_ms(lo, hi);
    let data = new.to_bytes().map_err(|e| RewriteError::Fatal(e.into()))?;
    let new_obj = ChunkObject { from_ms, through_ms, data: Bytes::from(data), ..obj };
    let (encoded, new_key) = new_obj.encode().map_err(|e| RewriteError::Fatal(e.into()))?;
    let entries = u32::try_from(new.num_entries()).unwrap_or(u32::MAX);
    let mut m = ChunkMeta::new(new_key.from_ms, new_key.through_ms, new.index_kb(), entries, new_key.checksum);
    m.ingested_at = meta.ingested_at;
    let object =
        (from_ms <= table_end && through_ms >= table_start).then(|| (store.chunk_path(&new_key), Bytes::from(encoded)));
    Ok(Rewritten::New(m, object))
}
