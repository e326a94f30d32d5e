//! Delete requests in the object store: one JSON object per request at
//! `compactor/deletes/<tenant>/<request_id>.json` (see `mod.rs`).
//!
//! * Add: `put_if_absent`, so two requests never share an object; an id
//!   taken (same tenant, time and query hash) is retried with the next
//!   nanosecond, as a later call of Loki's would be.
//! * Mark processed: the object is read, its shards updated and written
//!   back whole (an object store replaces atomically); a request cancelled
//!   meanwhile is not brought back.
//! * Cancel: the object is deleted.

use bytes::Bytes;

use super::DeleteError;
use super::request::{DeleteRequest, Record, request_id, shards};
use crate::error::Result;
use crate::store::{ObjectStore, StoreError};
use crate::tenant::TenantId;

/// Where delete request objects live.
pub const DELETES_PREFIX: &str = "compactor/deletes/";

/// Most ids tried for one request.
const MAX_ID_TRIES: i64 = 1024;

/// What [`DeleteStore::add`] stores.
pub(crate) struct NewRequest<'a> {
    pub tenant: &'a TenantId,
    pub query: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Shard length in ns (0 = one shard).
    pub interval_ns: i64,
    pub now_ns: i64,
}

/// What [`DeleteStore::list`] found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Readable requests.
    pub records: Vec<Record>,
    /// Objects that could not be read ([`DeleteError::Corrupt`]).
    pub corrupt: Vec<DeleteError>,
}

/// The delete requests of one object store.
pub(crate) struct DeleteStore<'a> {
    store: &'a dyn ObjectStore,
}

fn key(tenant: &str, id: &str) -> String {
    format!("{DELETES_PREFIX}{tenant}/{id}.json")
}

impl<'a> DeleteStore<'a> {
    pub fn new(store: &'a dyn ObjectStore) -> Self {
        Self { store }
    }

    /// Stores a new request (already validated) and returns it.
    pub fn add(&self, r: &NewRequest<'_>) -> Result<DeleteRequest> {
        let created_at_ms = r.now_ns.div_euclid(super::request::NS_PER_MS);
        for n in 0..MAX_ID_TRIES {
            let id = request_id(r.tenant.as_str(), r.now_ns.saturating_add(n), r.query);
            let rec = Record {
                request_id: id.clone(),
                tenant: r.tenant.as_str().to_owned(),
                query: r.query.to_owned(),
                created_at_ms,
                shards: shards(r.start_ms, r.end_ms, r.interval_ns),
            };
            let data = serde_json::to_vec(&rec)
                .map_err(|e| DeleteError::Corrupt { key: id.clone(), reason: e.to_string() })?;
            if self.store.put_if_absent(&key(r.tenant.as_str(), &id), Bytes::from(data))? {
                return Ok(rec.to_request()?);
            }
        }
        Err(DeleteError::NoFreeId { tenant: r.tenant.as_str().to_owned() }.into())
    }

    /// Reads one stored request: `Ok(None)` when it does not exist.
    fn read(&self, key: &str) -> Result<Option<Record>> {
        let data = match self.store.get(key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let rec: Record = serde_json::from_slice(&data)
            .map_err(|e| DeleteError::Corrupt { key: key.to_owned(), reason: e.to_string() })?;
        let expected = key.rsplit('/').next().and_then(|n| n.strip_suffix(".json"));
        if expected != Some(rec.request_id.as_str()) || rec.shards.is_empty() {
            let reason = "the object's name and content disagree or it has no shard".to_owned();
            return Err(DeleteError::Corrupt { key: key.to_owned(), reason }.into());
        }
        Ok(Some(rec))
    }

    /// The stored form of one request of `tenant`.
    pub fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<Record>> {
        if id.is_empty() || id.contains('/') {
            return Ok(None);
        }
        self.read(&key(tenant.as_str(), id))
    }

    /// Every stored request of `tenant` (`None`: of every tenant), in no
    /// particular order, and the objects that could not be read (key,
    /// reason), which are left alone.
    pub fn list(&self, tenant: Option<&TenantId>) -> Result<Listing> {
        let prefix = match tenant {
            Some(t) => format!("{DELETES_PREFIX}{}/", t.as_str()),
            None => DELETES_PREFIX.to_owned(),
        };
        let mut out = Listing::default();
        for meta in self.store.list(&prefix)? {
            let rel = meta.key.get(DELETES_PREFIX.len()..).unwrap_or_default();
            let Some((t, name)) = rel.split_once('/') else { continue };
            if name.contains('/') || !name.ends_with(".json") {
                continue;
            }
            match self.read(&meta.key) {
                Ok(Some(rec)) if rec.tenant == t => out.records.push(rec),
                Ok(Some(rec)) => out.corrupt.push(DeleteError::Corrupt {
                    key: meta.key.clone(),
                    reason: format!("stored under tenant {t:?} but belongs to {:?}", rec.tenant),
                }),
                Ok(None) => {}
                Err(crate::Error::Delete(e)) => out.corrupt.push(e),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Deletes a request's object.
    pub fn remove(&self, tenant: &TenantId, id: &str) -> Result<()> {
        Ok(self.store.delete(&key(tenant.as_str(), id))?)
    }

    /// Marks the shards `[start_ms, end_ms]` of request `id` processed.
    /// A request that no longer exists stays gone.
    pub fn mark_processed(&self, tenant: &str, id: &str, ranges: &[(i64, i64)]) -> Result<bool> {
        let k = key(tenant, id);
        let Some(mut rec) = self.read(&k)? else { return Ok(false) };
        let mut changed = false;
        for s in &mut rec.shards {
            if !s.processed && ranges.contains(&(s.start_ms, s.end_ms)) {
                s.processed = true;
                changed = true;
            }
        }
        if changed {
            let data =
                serde_json::to_vec(&rec).map_err(|e| DeleteError::Corrupt { key: k.clone(), reason: e.to_string() })?;
            // Narrow the race with a cancellation: only rewrite what exists.
            match self.store.head(&k) {
                Ok(_) => self.store.put(&k, Bytes::from(data))?,
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(changed)
    }
}
