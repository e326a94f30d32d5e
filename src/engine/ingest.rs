//! The push path: validation and limits, stream lookup or creation, the
//! append to each stream, then one WAL record for the whole push before it
//! is acknowledged.

use std::sync::Arc;
use std::time::Instant;

use super::push::{PushResult, PushStream, RejectReason, Rejection, StreamPushResult};
use super::state::{StreamHandle, StreamState, TenantState, TokenBucket, lock, read, write};
use super::{Engine, EngineError, Inner};
use crate::chunk::Entry;
use crate::error::Result;
use crate::labels::Labels;
use crate::stream::{PushOutcome, Stream};
use crate::tenant::TenantId;
use crate::wal::{RefEntries, RefSeries};

/// Bytes an entry counts for rate limits (line plus metadata names and values).
pub(crate) fn entry_bytes(e: &Entry) -> usize {
    e.line.len() + e.metadata.iter().map(|m| m.name.len() + m.value.len()).sum::<usize>()
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Engine {
    /// Stores the entries of `streams` for `tenant`.
    ///
    /// Each entry is validated (line size, structured metadata, age and
    /// future limits), rate-limited, and appended to its stream with Loki's
    /// duplicate rule and out-of-order window. The accepted entries of the
    /// whole push are written to the WAL as one record and made durable per
    /// [`crate::SyncMode`] before this returns; the result says per stream
    /// what was accepted, dropped as a duplicate, or rejected and why.
    ///
    /// # Errors
    ///
    /// [`EngineError::MemoryBudget`] when unflushed data is at the memory
    /// budget even after a flush, [`EngineError::Closed`] after
    /// [`Engine::close`], or a WAL error (then nothing of this push is
    /// acknowledged, though entries may already be visible to queries).
    pub fn push(&self, tenant: &TenantId, streams: Vec<PushStream>) -> Result<PushResult> {
        let inner = &*self.inner;
        inner.check_open()?;
        self.ensure_memory()?;
        let t = inner.tenant(tenant);
        let limits = inner.config.limits;
        let mut result = PushResult { streams: Vec::with_capacity(streams.len()) };

        if let Some(rate) = limits.ingestion_rate_bytes {
            let bytes: usize = streams.iter().flat_map(|s| &s.entries).map(entry_bytes).sum();
            let lines: usize = streams.iter().map(|s| s.entries.len()).sum();
            let allowed = lock(&t.limiter)
                .get_or_insert_with(|| TokenBucket::new(rate, limits.ingestion_burst_bytes))
                .allow(bytes as f64);
            if !allowed {
                for s in streams {
                    let reason = RejectReason::RateLimited { limit: rate, lines, bytes };
                    result.streams.push(StreamPushResult {
                        labels: s.labels,
                        rejected: vec![Rejection { entry: None, reason }],
                        ..Default::default()
                    });
                }
                return Ok(result);
            }
        }

        let now = now_ns();
        let too_old = limits.reject_old_samples_max_age.map(|d| now.saturating_sub(dur_ns(d)));
        let too_new = limits.creation_grace_period.map(|d| now.saturating_add(dur_ns(d)));
        let mut groups: Vec<RefEntries> = Vec::with_capacity(streams.len());
        for ps in streams {
            let mut r = StreamPushResult { labels: ps.labels, ..Default::default() };
            let mut entries = ps.entries;
            // Stateless checks first, so rejected entries never reach a stream.
            let mut keep = vec![true; entries.len()];
            for (i, e) in entries.iter_mut().enumerate() {
                if let Some(reason) = check_entry(e, &limits, too_old, too_new) {
                    keep[i] = false;
                    r.rejected.push(Rejection { entry: Some(i), reason });
                }
            }
            let mut stored = Vec::with_capacity(entries.len());
            let (fingerprint, counter) = loop {
                let handle = match inner.stream_for(&t, &r.labels)? {
                    Ok(h) => h,
                    Err(reason) => {
                        r.rejected.push(Rejection { entry: None, reason });
                        break (None, 0);
                    }
                };
                let mut st = lock(&handle.state);
                if st.removed {
                    // A flush retired the stream between lookup and lock.
                    continue;
                }
                for (i, e) in entries.drain(..).enumerate() {
                    if !keep[i] {
                        continue;
                    }
                    if let Some(rate) = limits.per_stream_rate_bytes {
                        let bucket =
                            st.limiter.get_or_insert_with(|| TokenBucket::new(rate, limits.per_stream_burst_bytes));
                        if !bucket.allow(entry_bytes(&e) as f64) {
                            let reason = RejectReason::StreamRateLimited { limit: rate };
                            r.rejected.push(Rejection { entry: Some(i), reason });
                            continue;
                        }
                    }
                    match st.stream.push(&e) {
                        Ok(PushOutcome::Stored) => {
                            st.counter += 1;
                            r.accepted += 1;
                            stored.push(e);
                        }
                        Ok(PushOutcome::Duplicate) => r.duplicates += 1,
                        Err(err) => {
                            r.rejected.push(Rejection { entry: Some(i), reason: RejectReason::from_chunk_error(err) })
                        }
                    }
                }
                if !stored.is_empty() {
                    st.last_append = Instant::now();
                }
                st.collect_closed();
                inner.memory.add(st.update_mem());
                break (Some(handle.fingerprint.0), st.counter);
            };
            r.rejected.sort_by_key(|x| x.entry);
            if let Some(fingerprint) = fingerprint.filter(|_| !stored.is_empty()) {
                groups.push(RefEntries { fingerprint, counter, entries: stored });
            }
            result.streams.push(r);
        }
        if !groups.is_empty() {
            inner.wal()?.log(tenant.as_str(), &[], &groups)?;
        }
        Ok(result)
    }

    /// Makes room under the memory budget: flushes everything when the
    /// budget is reached, and fails if that did not help.
    fn ensure_memory(&self) -> Result<()> {
        let inner = &*self.inner;
        let Some(budget) = inner.config.memory_budget else { return Ok(()) };
        if inner.memory_used() < budget {
            return Ok(());
        }
        // Concurrent pushes queue on the flush lock; whoever gets it second
        // finds the memory already released.
        self.flush_inner(None, true, true)?;
        if inner.memory_used() >= budget {
            inner.cache.shrink_to(budget.saturating_sub(inner.memory.get()) / 2);
        }
        let used = inner.memory_used();
        if used >= budget {
            return Err(EngineError::MemoryBudget { used, budget }.into());
        }
        Ok(())
    }
}

fn dur_ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The per-entry checks that need no stream state; may truncate the line.
fn check_entry(
    e: &mut Entry,
    limits: &super::Limits,
    too_old: Option<i64>,
    too_new: Option<i64>,
) -> Option<RejectReason> {
    let max = limits.max_line_size;
    if max > 0 && e.line.len() > max {
        if limits.max_line_size_truncate {
            e.line.truncate(max);
        } else {
            return Some(RejectReason::LineTooLong { size: e.line.len(), limit: max });
        }
    }
    if !e.metadata.is_empty() {
        if !limits.allow_structured_metadata {
            return Some(RejectReason::MetadataNotAllowed);
        }
        let size: usize = e.metadata.iter().map(|m| m.name.len() + m.value.len()).sum();
        let limit = limits.max_structured_metadata_size;
        if limit > 0 && size > limit {
            return Some(RejectReason::MetadataTooLarge { size, limit });
        }
        let limit = limits.max_structured_metadata_entries;
        if limit > 0 && e.metadata.len() > limit {
            return Some(RejectReason::TooManyMetadata { count: e.metadata.len(), limit });
        }
    }
    if let Some(cutoff) = too_old.filter(|&c| e.timestamp < c) {
        return Some(RejectReason::TooOld { timestamp: e.timestamp, cutoff });
    }
    if too_new.is_some_and(|c| e.timestamp > c) {
        return Some(RejectReason::TooNew { timestamp: e.timestamp });
    }
    None
}

impl Inner {
    /// The tenant's state, created on first use.
    pub(crate) fn tenant(&self, id: &TenantId) -> Arc<TenantState> {
        if let Some(t) = read(&self.tenants).get(id) {
            return Arc::clone(t);
        }
        Arc::clone(write(&self.tenants).entry(id.clone()).or_insert_with(|| Arc::new(TenantState::new(id.clone()))))
    }

    /// The stream `labels` of tenant `t`, created (and announced in the WAL)
    /// if new; `Ok(Err(reason))` when the stream limit forbids creating it.
    pub(crate) fn stream_for(
        &self,
        t: &TenantState,
        labels: &Labels,
    ) -> Result<std::result::Result<Arc<StreamHandle>, RejectReason>> {
        if let Some(h) = read(&t.streams).by_labels.get(labels) {
            return Ok(Ok(Arc::clone(h)));
        }
        // Validation depends only on the labels and the limits, so a stream
        // that exists passed it when it was created.
        if let Err(e) = labels.validate(&self.config.limits.labels) {
            return Ok(Err(RejectReason::InvalidLabels(e)));
        }
        let mut map = write(&t.streams);
        if let Some(h) = map.by_labels.get(labels) {
            return Ok(Ok(Arc::clone(h)));
        }
        let limit = self.config.limits.max_streams_per_tenant;
        if limit > 0 && map.by_labels.len() >= limit {
            return Ok(Err(RejectReason::StreamLimit { limit }));
        }
        let fingerprint = map.assign_fingerprint(labels);
        // The series record goes out while the map is locked, so no entries
        // record naming this stream can precede it in the WAL; it becomes
        // durable with the first synced entries record after it.
        self.wal()?.log_unsynced(
            t.id.as_str(),
            &[RefSeries { fingerprint: fingerprint.0, labels: labels.clone() }],
            &[],
        )?;
        let handle = self.new_stream(labels.clone(), fingerprint, Stream::new(labels.clone(), self.config.stream)?);
        lock(&handle.state).counter = lock(&t.retired).remove(&fingerprint.0).unwrap_or(0);
        let handle = Arc::new(handle);
        map.insert(Arc::clone(&handle));
        Ok(Ok(handle))
    }

    pub(crate) fn new_stream(
        &self,
        labels: Labels,
        fingerprint: crate::labels::Fingerprint,
        mut stream: Stream,
    ) -> StreamHandle {
        stream.set_fingerprint(fingerprint);
        StreamHandle {
            labels,
            fingerprint,
            state: std::sync::Mutex::new(StreamState {
                stream,
                counter: 0,
                pending: Vec::new(),
                last_append: Instant::now(),
                mem: 0,
                removed: false,
                limiter: None,
            }),
        }
    }
}
