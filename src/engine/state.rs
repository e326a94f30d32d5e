//! The in-memory state: tenants -> streams -> chunks not yet flushed.
//!
//! Locking order (outer first): the tenant map, a tenant's stream map, one
//! stream. A stream's lock is never held while taking another stream's, and
//! never across object store I/O.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use crate::chunk::Chunk;
use crate::labels::{Fingerprint, Labels};
use crate::stream::Stream;
use crate::tenant::TenantId;

/// Locks a mutex; a poisoned lock (a panic elsewhere) still gives the data,
/// which every mutation keeps consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A token bucket in bytes (Loki's rate limiters).
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(rate);
        Self { rate, burst, tokens: burst, last: Instant::now() }
    }

    /// Takes `n` tokens if available.
    pub(crate) fn allow(&mut self, n: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// One stream's mutable state.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) stream: Stream,
    /// Entries stored so far (the WAL counter).
    pub(crate) counter: i64,
    /// Closed chunks not yet flushed, shared with queries and flushes.
    pub(crate) pending: Vec<Arc<Chunk>>,
    /// Last append (wall clock), for the idle period.
    pub(crate) last_append: Instant,
    /// Bytes this stream counts against the memory budget.
    pub(crate) mem: i64,
    /// Set when the stream left its tenant's map; a push that raced the
    /// removal looks the stream up again.
    pub(crate) removed: bool,
    pub(crate) limiter: Option<TokenBucket>,
}

impl StreamState {
    /// Moves the stream's closed chunks into `pending`.
    pub(crate) fn collect_closed(&mut self) {
        for c in self.stream.take_closed_chunks() {
            self.pending.push(Arc::new(c));
        }
    }

    /// Recomputes `mem` and returns the change.
    pub(crate) fn update_mem(&mut self) -> i64 {
        let now = chunk_mem(self.stream.current_chunk())
            + self.pending.iter().map(|c| chunk_mem(c)).sum::<i64>()
            + self.stream.closed_chunks().iter().map(chunk_mem).sum::<i64>();
        let delta = now - self.mem;
        self.mem = now;
        delta
    }

    /// True when the stream holds no data.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.stream.current_chunk().is_empty() && self.stream.closed_chunks().is_empty()
    }
}

/// Heap bytes a chunk's data occupies: compressed blocks plus the raw head.
fn chunk_mem(c: &Chunk) -> i64 {
    let head = if c.has_unflushed_head() { c.uncompressed_size().saturating_sub(block_raw(c)) } else { 0 };
    i64::try_from(c.compressed_size().saturating_add(head)).unwrap_or(i64::MAX)
}

/// Raw bytes in the cut blocks (so the head's share is the rest).
fn block_raw(c: &Chunk) -> usize {
    c.uncompressed_size_of_blocks()
}

/// A stream of a tenant: immutable identity plus its locked state.
#[derive(Debug)]
pub(crate) struct StreamHandle {
    pub(crate) labels: Labels,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) state: Mutex<StreamState>,
}

/// A tenant's streams by labels, with the fingerprints in use.
#[derive(Debug, Default)]
pub(crate) struct StreamMap {
    pub(crate) by_labels: HashMap<Labels, Arc<StreamHandle>>,
    pub(crate) by_fp: HashMap<u64, Labels>,
}

impl StreamMap {
    /// The fingerprint for new stream `labels`: its own, unless another
    /// stream of the tenant has it (a hash collision), then a derived one
    /// nobody uses (Loki's fingerprint mapper does the same job).
    pub(crate) fn assign_fingerprint(&self, labels: &Labels) -> Fingerprint {
        let own = labels.fingerprint();
        if !self.by_fp.contains_key(&own.0) {
            return own;
        }
        let text = labels.to_string();
        (1u64..)
            .map(|seed| xxhash_rust::xxh64::xxh64(text.as_bytes(), seed))
            .find(|fp| !self.by_fp.contains_key(fp))
            .map_or(own, Fingerprint)
    }

    pub(crate) fn insert(&mut self, handle: Arc<StreamHandle>) {
        self.by_fp.insert(handle.fingerprint.0, handle.labels.clone());
        self.by_labels.insert(handle.labels.clone(), handle);
    }

    pub(crate) fn remove(&mut self, labels: &Labels) {
        if let Some(h) = self.by_labels.remove(labels) {
            self.by_fp.remove(&h.fingerprint.0);
        }
    }
}

/// One tenant.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub(crate) id: TenantId,
    pub(crate) streams: RwLock<StreamMap>,
    pub(crate) limiter: Mutex<Option<TokenBucket>>,
    /// WAL counters of retired streams by fingerprint: a stream created
    /// again continues its counter, so replay never mistakes its new
    /// records for ones an older checkpoint already holds.
    pub(crate) retired: Mutex<HashMap<u64, i64>>,
}

impl TenantState {
    pub(crate) fn new(id: TenantId) -> Self {
        Self {
            id,
            streams: RwLock::new(StreamMap::default()),
            limiter: Mutex::new(None),
            retired: Mutex::new(HashMap::new()),
        }
    }

    /// Every stream, for flushes, checkpoints and scans.
    pub(crate) fn all_streams(&self) -> Vec<Arc<StreamHandle>> {
        read(&self.streams).by_labels.values().cloned().collect()
    }
}

/// Bytes of unflushed data across all streams.
#[derive(Debug, Default)]
pub(crate) struct MemoryGauge(AtomicI64);

impl MemoryGauge {
    pub(crate) fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        usize::try_from(self.0.load(Ordering::Relaxed)).unwrap_or(0)
    }
}
