//! Delete requests on the engine side (`../shared/spec/compactor.md`
//! §5.1, §5.5): adding, listing and cancelling requests (stored in the
//! object store, see `compactor/deletes/`), and hiding their lines from
//! every query at once.
//!
//! The engine caches every non-cancelled request per tenant (loaded at
//! open, refreshed on add, cancel, list and [`Engine::refresh_index`]).
//! [`Engine::select`] attaches to each selected stream the requests whose
//! matchers match its labels and whose range meets the query's; the entry
//! iteration then drops the lines they delete. A tenant without requests
//! costs one map lookup per query, a stream no request applies to nothing
//! per entry. Processed requests keep hiding their lines too: an engine
//! may still read an index loaded before the compactor removed them.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Engine;
use super::read::{EntryView, SelectedStream};
use super::state::{read, write};
use crate::compactor::deletes::{
    CompiledDelete, DeleteConfig, DeleteError, DeleteFilter, DeleteRequest, DeleteStatus, DeleteStore, NewRequest,
    go_duration,
};
use crate::error::Result;
use crate::labels::Labels;
use crate::store::ObjectStore;
use crate::tenant::TenantId;

const NS_PER_MS: i64 = 1_000_000;

/// One tenant's cached requests.
#[derive(Debug, Default)]
struct TenantDeletes {
    /// Every non-cancelled request, its shards merged into one range.
    compiled: Vec<Arc<CompiledDelete>>,
}

/// The engine's delete state.
#[derive(Debug, Default)]
pub(crate) struct EngineDeletes {
    config: RwLock<DeleteConfig>,
    tenants: RwLock<HashMap<String, Arc<TenantDeletes>>>,
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Compiles the stored requests of one listing per tenant. Unreadable
/// objects are skipped here; listing the tenant's requests reports them.
fn compile(records: Vec<crate::compactor::deletes::Record>) -> HashMap<String, TenantDeletes> {
    let mut out: HashMap<String, TenantDeletes> = HashMap::new();
    for rec in records {
        let start = rec.shards.iter().map(|s| s.start_ms).min().unwrap_or(0);
        let end = rec.shards.iter().map(|s| s.end_ms).max().unwrap_or(0);
        if let Ok(c) = CompiledDelete::new(&rec.request_id, &rec.query, start, end) {
            out.entry(rec.tenant).or_default().compiled.push(Arc::new(c));
        }
    }
    out
}

impl EngineDeletes {
    /// Loads every tenant's requests from `store`.
    pub(crate) fn load(store: &dyn ObjectStore) -> Result<Self> {
        let d = Self::default();
        d.reload(store)?;
        Ok(d)
    }

    /// Replaces the cache with the store's requests.
    pub(crate) fn reload(&self, store: &dyn ObjectStore) -> Result<()> {
        let listing = DeleteStore::new(store).list(None)?;
        let map = compile(listing.records).into_iter().map(|(t, d)| (t, Arc::new(d))).collect();
        *write(&self.tenants) = map;
        Ok(())
    }

    /// Replaces one tenant's cached requests with `records`.
    fn set_tenant(&self, tenant: &TenantId, records: Vec<crate::compactor::deletes::Record>) {
        let mut map = compile(records);
        let d = map.remove(tenant.as_str()).unwrap_or_default();
        let mut tenants = write(&self.tenants);
        if d.compiled.is_empty() {
            tenants.remove(tenant.as_str());
        } else {
            tenants.insert(tenant.as_str().to_owned(), Arc::new(d));
        }
    }

    /// The requests of `tenant` applying to the stream `labels` in
    /// `[from, through)` (ns); empty (no allocation) when none does.
    fn for_stream(
        tenant: Option<&TenantDeletes>,
        labels: &Labels,
        from: i64,
        through: i64,
    ) -> Vec<Arc<CompiledDelete>> {
        let Some(t) = tenant else { return Vec::new() };
        t.compiled.iter().filter(|r| r.overlaps_ns(from, through) && r.matches_labels(labels)).cloned().collect()
    }
}

impl Engine {
    /// Replaces the delete-request settings (cancellation period, default
    /// `max_interval`); the compactor has its own copy in
    /// [`crate::CompactorConfig::deletes`].
    pub fn set_delete_config(&self, config: DeleteConfig) {
        *write(&self.inner.deletes.config) = config;
    }

    /// The delete-request settings.
    pub fn delete_config(&self) -> DeleteConfig {
        read(&self.inner.deletes.config).clone()
    }

    /// Adds a delete request (Loki's `POST /loki/api/v1/delete`): the
    /// lines of `tenant`'s streams matching `query` (a log selector,
    /// optionally with a pipeline) with timestamps in `[start_ns, end_ns]`,
    /// both inclusive and truncated to milliseconds. Queries hide them at
    /// once; the compactor removes them after the cancellation period. A
    /// query with a filter is split into shards of the configured
    /// `max_interval`.
    ///
    /// # Errors
    ///
    /// [`DeleteError`] (inside [`crate::Error::Delete`]) with Loki's
    /// messages: empty or invalid query, `start >= end`, `end` in the
    /// future; store errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use lokistore::engine::{Engine, EngineConfig};
    /// use lokistore::TenantId;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(EngineConfig::new(dir.path()))?;
    /// let tenant = TenantId::new("team-a")?;
    /// let s = 1_000_000_000;
    /// let req = engine.add_delete_request(&tenant, r#"{app="api"} |= "password""#, 1_700_000_000 * s, 1_700_003_600 * s)?;
    /// assert_eq!(req.status.to_string(), "received");
    /// assert_eq!(engine.delete_requests(&tenant)?.len(), 1);
    /// engine.cancel_delete_request(&tenant, &req.request_id, false)?;
    /// assert!(engine.delete_requests(&tenant)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_delete_request(
        &self,
        tenant: &TenantId,
        query: &str,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<DeleteRequest> {
        self.add_delete_request_with_interval(tenant, query, start_ns, end_ns, None)
    }

    /// [`add_delete_request`](Self::add_delete_request) with Loki's
    /// `max_interval` parameter (used only when the query has a filter;
    /// `None` takes the configured one).
    ///
    /// # Errors
    ///
    /// As [`add_delete_request`](Self::add_delete_request), and for a
    /// `max_interval` under 1s, over the configured maximum or over
    /// `end - start`.
    pub fn add_delete_request_with_interval(
        &self,
        tenant: &TenantId,
        query: &str,
        start_ns: i64,
        end_ns: i64,
        max_interval: Option<Duration>,
    ) -> Result<DeleteRequest> {
        self.inner.check_open()?;
        let sel = crate::compactor::deletes::validate_query(query)?;
        let now = now_ns();
        let (start_ms, end_ms) = (start_ns.div_euclid(NS_PER_MS), end_ns.div_euclid(NS_PER_MS));
        if end_ms > now.div_euclid(NS_PER_MS) {
            return Err(DeleteError::EndInFuture.into());
        }
        if start_ms >= end_ms {
            return Err(DeleteError::StartNotBeforeEnd.into());
        }
        let config = self.delete_config();
        let interval = if crate::compactor::deletes::has_filter(&sel.stages) {
            match max_interval {
                None => config.max_interval,
                Some(d) => {
                    let range = Duration::from_millis(u64::try_from(end_ms - start_ms).unwrap_or(u64::MAX));
                    if d < Duration::from_secs(1) {
                        return Err(DeleteError::InvalidMaxInterval.into());
                    }
                    if d > config.max_interval && !config.max_interval.is_zero() {
                        return Err(DeleteError::MaxIntervalOverLimit { max: go_duration(config.max_interval) }.into());
                    }
                    if d > range {
                        return Err(DeleteError::MaxIntervalOverRange { range: go_duration(range) }.into());
                    }
                    d
                }
            }
        } else {
            Duration::ZERO
        };
        let store = DeleteStore::new(&*self.inner.store);
        let req = store.add(&NewRequest {
            tenant,
            query,
            start_ms,
            end_ms,
            interval_ns: i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX),
            now_ns: now,
        })?;
        self.reload_tenant_deletes(tenant)?;
        Ok(req)
    }

    /// The tenant's delete requests (Loki's `GET /loki/api/v1/delete`):
    /// shards merged (min start, max end, status), sorted by creation time.
    ///
    /// # Errors
    ///
    /// [`DeleteError::Corrupt`] when a stored request of the tenant cannot
    /// be read; store errors.
    pub fn delete_requests(&self, tenant: &TenantId) -> Result<Vec<DeleteRequest>> {
        self.inner.check_open()?;
        let listing = DeleteStore::new(&*self.inner.store).list(Some(tenant))?;
        if let Some(e) = listing.corrupt.into_iter().next() {
            return Err(e.into());
        }
        let mut out = listing.records.iter().map(|r| r.to_request()).collect::<Result<Vec<_>, _>>()?;
        self.inner.deletes.set_tenant(tenant, listing.records);
        out.sort_by(|a, b| a.created_at_ns.cmp(&b.created_at_ns).then_with(|| a.request_id.cmp(&b.request_id)));
        Ok(out)
    }

    /// Cancels a request (Loki's `DELETE /loki/api/v1/delete`): allowed
    /// while nothing of it was processed and within the cancellation
    /// period, or with `force` until it is fully processed.
    ///
    /// # Errors
    ///
    /// [`DeleteError::NotFound`], [`DeleteError::AlreadyProcessed`],
    /// [`DeleteError::PastCancelPeriod`] with Loki's messages; store errors.
    pub fn cancel_delete_request(&self, tenant: &TenantId, request_id: &str, force: bool) -> Result<()> {
        self.inner.check_open()?;
        let store = DeleteStore::new(&*self.inner.store);
        let Some(rec) = store.get(tenant, request_id)? else { return Err(DeleteError::NotFound.into()) };
        let req = rec.to_request()?;
        if req.status == DeleteStatus::Processed {
            return Err(DeleteError::AlreadyProcessed.into());
        }
        let period = self.delete_config().cancel_period;
        let period_ns = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
        let late = req.created_at_ns.saturating_add(period_ns) < now_ns();
        if (req.status != DeleteStatus::Received || late) && !force {
            return Err(DeleteError::PastCancelPeriod { period: go_duration(period) }.into());
        }
        store.remove(tenant, request_id)?;
        self.reload_tenant_deletes(tenant)
    }

    /// Re-reads one tenant's requests into the cache.
    fn reload_tenant_deletes(&self, tenant: &TenantId) -> Result<()> {
        let listing = DeleteStore::new(&*self.inner.store).list(Some(tenant))?;
        self.inner.deletes.set_tenant(tenant, listing.records);
        Ok(())
    }

    /// Re-reads every tenant's requests into the cache.
    pub(super) fn reload_deletes(&self) -> Result<()> {
        self.inner.deletes.reload(&*self.inner.store)
    }

    /// Attaches to each stream of `tenant` the requests that hide lines of
    /// it in `[from, through)` (ns); see [`Engine::select`].
    pub(super) fn attach_deletes(&self, tenant: &TenantId, streams: &mut [SelectedStream], from: i64, through: i64) {
        let Some(t) = read(&self.inner.deletes.tenants).get(tenant.as_str()).cloned() else { return };
        for s in streams {
            s.deletes = EngineDeletes::for_stream(Some(&t), &s.labels, from, through);
        }
    }

    /// [`Engine::scan_entries`] for a stream with delete requests: the
    /// entries they delete are not passed to `f`.
    pub(super) fn scan_hiding<F>(
        &self,
        stream: &SelectedStream,
        groups: std::ops::Range<usize>,
        range: (i64, i64, crate::chunk::Direction),
        needle: Option<&memchr::memmem::Finder<'_>>,
        f: &mut F,
    ) -> Result<()>
    where
        F: FnMut(EntryView<'_>, bool) -> ControlFlow<()>,
    {
        let mut filter = DeleteFilter::new(&stream.deletes, &stream.labels)?;
        self.scan_chunks(stream, groups, range, needle, &mut |e: EntryView<'_>, contains: bool| {
            let gone =
                filter.deletes(e.timestamp(), e.line(), &mut |b| e.for_each_metadata(|n, v| b.set_metadata(n, v)));
            if gone { ControlFlow::Continue(()) } else { f(e, contains) }
        })
    }
}
