//! Flushing: closed chunks become stored chunk objects, their references
//! become index files, both in Loki's layout; then the WAL is checkpointed.
//!
//! Order of a flush (each step only after the previous one succeeded):
//!
//! 1. collect the chunks to flush (cutting head chunks for a full flush);
//!    they stay in memory, visible to queries;
//! 2. encode and upload every chunk object (in parallel);
//! 3. build one multi-tenant index file per 24h table the chunks touch and
//!    upload them (`index/<table>/<sec>-<instance>-<nanos>.tsdb.gz`);
//! 4. add the files to the engine's view of the store, and only then drop
//!    the chunks from memory (a query may briefly see a chunk twice, and
//!    de-duplicates; it never sees it nowhere);
//! 5. retire streams left empty, and checkpoint the WAL.
//!
//! A failure in 2 or 3 leaves every chunk in memory and in the WAL; index
//! files this attempt already wrote are deleted (best effort; one left
//! behind only points at complete chunk objects). Chunk objects are
//! content-addressed, so a retry rewrites the same keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::state::{StreamHandle, lock, write};
use super::{Engine, Inner};
use crate::chunk::Chunk;
use crate::error::{Error, Result};
use crate::index::{ChunkMeta, HeadIndex, IndexFileName, IndexReader, build_multitenant, gzip};
use crate::object::ChunkObject;
use crate::tenant::TenantId;
use crate::wal::{CheckpointChunk, CheckpointSeries, Timestamp, WalError};

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushStats {
    /// Chunk objects written.
    pub chunks: usize,
    /// Entries in them.
    pub entries: usize,
    /// Bytes of chunk objects written.
    pub chunk_bytes: usize,
    /// Index files written.
    pub index_files: usize,
    /// Streams retired because they held no more data.
    pub streams_retired: usize,
    /// The WAL checkpoint written afterwards, if any.
    pub checkpoint: Option<u32>,
}

/// What [`Engine::maintain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaintenanceStats {
    /// Head chunks cut because idle or too old.
    pub chunks_cut: usize,
    /// The flush of closed chunks.
    pub flush: FlushStats,
    /// A WAL checkpoint written because one was due.
    pub checkpoint: Option<u32>,
}

struct Job {
    tenant: usize,
    handle: Arc<StreamHandle>,
    chunk: Arc<Chunk>,
}

impl Engine {
    /// Flushes everything: cuts every head chunk, writes all chunks and
    /// their index files to the object store, retires empty streams and
    /// checkpoints the WAL (Loki's `/flush`).
    pub fn flush(&self) -> Result<FlushStats> {
        self.flush_inner(None, true, true)
    }

    /// [`Engine::flush`] for one tenant (the WAL checkpoint covers all).
    pub fn flush_tenant(&self, tenant: &TenantId) -> Result<FlushStats> {
        self.flush_inner(Some(tenant), true, true)
    }

    /// Periodic work (called by the maintenance thread when configured):
    /// cuts head chunks idle for `chunk_idle_period` or spanning more than
    /// `max_chunk_age`, flushes closed chunks, and checkpoints the WAL when
    /// one is due.
    pub fn maintain(&self) -> Result<MaintenanceStats> {
        let inner = &*self.inner;
        inner.check_open()?;
        let mut stats = MaintenanceStats::default();
        let idle = inner.config.chunk_idle_period;
        let max_age = i64::try_from(inner.config.stream.max_chunk_age.as_nanos()).unwrap_or(i64::MAX);
        let mut any_pending = false;
        for t in inner.all_tenants() {
            for h in t.all_streams() {
                let mut st = lock(&h.state);
                let cur = st.stream.current_chunk();
                let aged = cur.bounds().is_some_and(|(lo, hi)| max_age > 0 && hi.saturating_sub(lo) > max_age);
                if !cur.is_empty() && (aged || (!idle.is_zero() && st.last_append.elapsed() >= idle)) {
                    st.stream.cut()?;
                    st.collect_closed();
                    inner.memory.add(st.update_mem());
                    stats.chunks_cut += 1;
                }
                any_pending |= !st.pending.is_empty();
            }
        }
        if any_pending {
            stats.flush = self.flush_inner(None, false, false)?;
            // Streams whose data is all in the store now leave memory, as
            // Loki's ingester drops flushed streams.
            stats.flush.streams_retired = inner.retire_empty_streams(None);
        }
        if inner.wal()?.needs_checkpoint() {
            stats.checkpoint = Some(self.checkpoint()?);
        }
        Ok(stats)
    }

    /// Writes a WAL checkpoint of every stream in memory and removes the
    /// WAL segments it covers. Returns the checkpoint's number.
    pub fn checkpoint(&self) -> Result<u32> {
        let inner = &*self.inner;
        inner.check_open()?;
        let retired_before: Vec<(usize, Vec<u64>)> = inner
            .all_tenants()
            .iter()
            .enumerate()
            .map(|(i, t)| (i, lock(&t.retired).keys().copied().collect()))
            .collect();
        let tenants = inner.all_tenants();
        let series = tenants.iter().flat_map(|t| t.all_streams().into_iter().map(move |h| (t.id.clone(), h)));
        let stats = inner.wal()?.checkpoint(series.map(|(tenant, h)| checkpoint_series(&tenant, &h)))?;
        // Counters of streams retired before the checkpoint started are no
        // longer in any checkpoint, so their successors may count from 0.
        for ((_, keys), t) in retired_before.iter().zip(&tenants) {
            let mut r = lock(&t.retired);
            for k in keys {
                r.remove(k);
            }
        }
        Ok(stats.index)
    }

    pub(crate) fn flush_inner(&self, only: Option<&TenantId>, cut_heads: bool, checkpoint: bool) -> Result<FlushStats> {
        let inner = &*self.inner;
        inner.check_open()?;
        let _one_at_a_time = lock(&inner.flush_lock);
        let mut stats = inner.flush_chunks(only, cut_heads)?;
        if cut_heads {
            stats.streams_retired = inner.retire_empty_streams(only);
        }
        if checkpoint {
            stats.checkpoint = Some(self.checkpoint()?);
        }
        Ok(stats)
    }
}

fn checkpoint_series(tenant: &TenantId, h: &StreamHandle) -> Result<CheckpointSeries, WalError> {
    let st = lock(&h.state);
    let mut chunks = Vec::with_capacity(st.pending.len() + 1);
    for c in st.pending.iter().map(|c| &**c).chain(st.stream.closed_chunks()) {
        chunks.push(CheckpointChunk::from_chunk(c, true)?);
    }
    let cur = st.stream.current_chunk();
    if !cur.is_empty() {
        chunks.push(CheckpointChunk::from_chunk(cur, false)?);
    }
    let (to, last_line) = match st.stream.last_line() {
        Some((ts, line)) => (Timestamp::from_unix_nanos(ts), Bytes::copy_from_slice(line)),
        None => (Timestamp::GO_ZERO, Bytes::new()),
    };
    Ok(CheckpointSeries {
        tenant: tenant.as_str().to_owned(),
        fingerprint: h.fingerprint.0,
        labels: h.labels.clone(),
        chunks,
        to,
        last_line,
        entry_count: st.counter,
        highest_ts: st.stream.highest_timestamp().map_or(Timestamp::GO_ZERO, Timestamp::from_unix_nanos),
    })
}

impl Inner {
    fn flush_chunks(&self, only: Option<&TenantId>, cut_heads: bool) -> Result<FlushStats> {
        let tenants: Vec<_> = self.all_tenants().into_iter().filter(|t| only.is_none_or(|o| *o == t.id)).collect();
        let mut jobs = Vec::new();
        for (ti, t) in tenants.iter().enumerate() {
            for h in t.all_streams() {
                let mut st = lock(&h.state);
                if cut_heads && !st.stream.current_chunk().is_empty() {
                    st.stream.cut()?;
                    st.collect_closed();
                    self.memory.add(st.update_mem());
                }
                for c in &st.pending {
                    jobs.push(Job { tenant: ti, handle: Arc::clone(&h), chunk: Arc::clone(c) });
                }
            }
        }
        let mut stats = FlushStats::default();
        if jobs.is_empty() {
            return Ok(stats);
        }
        let metas = self.upload_chunks(&tenants.iter().map(|t| t.id.clone()).collect::<Vec<_>>(), &jobs)?;

        let mut heads: Vec<HeadIndex> = tenants.iter().map(|_| HeadIndex::new()).collect();
        for (job, (meta, size)) in jobs.iter().zip(&metas) {
            heads[job.tenant].append(&job.handle.labels, job.handle.fingerprint, *meta);
            stats.chunks += 1;
            stats.entries += job.chunk.num_entries();
            stats.chunk_bytes += size;
        }
        let pairs: Vec<(TenantId, &HeadIndex)> =
            tenants.iter().zip(&heads).filter(|(_, h)| !h.is_empty()).map(|(t, h)| (t.id.clone(), h)).collect();
        let files = build_multitenant(&pairs, self.config.index_format, &self.config.index_table_prefix)?;
        let mut written: Vec<(String, String, String, Vec<u8>)> = Vec::with_capacity(files.len());
        for (table, file) in files {
            let name = IndexFileName::MultiTenant {
                created_secs: self.unique_nanos() / 1_000_000_000,
                node: self.node_name(),
            };
            let file_name = format!("{name}.gz");
            let key = format!("{}{table}/{file_name}", crate::index::DEFAULT_PATH_PREFIX);
            if let Err(e) = self.store.put(&key, Bytes::from(gzip(&file.bytes))) {
                for (_, _, k, _) in &written {
                    let _ = self.store.delete(k);
                }
                let _ = self.store.delete(&key);
                return Err(e.into());
            }
            written.push((table, file_name, key, file.bytes));
        }
        stats.index_files = written.len();

        // Commit: the store view first, then memory.
        {
            let mut set = write(&self.stored);
            for (table, file_name, _, bytes) in written {
                set.add(&table, None, &file_name, IndexReader::new(Bytes::from(bytes))?)?;
            }
        }
        self.index_epoch.fetch_add(1, Ordering::Release);
        let mut by_stream: HashMap<*const StreamHandle, (Arc<StreamHandle>, Vec<Arc<Chunk>>)> = HashMap::new();
        for job in jobs {
            by_stream
                .entry(Arc::as_ptr(&job.handle))
                .or_insert_with(|| (Arc::clone(&job.handle), Vec::new()))
                .1
                .push(job.chunk);
        }
        for (_, (h, done)) in by_stream {
            let mut st = lock(&h.state);
            st.pending.retain(|c| !done.iter().any(|d| Arc::ptr_eq(c, d)));
            self.memory.add(st.update_mem());
        }
        Ok(stats)
    }

    /// Encodes and uploads each job's chunk; returns (index meta, object
    /// size) per job, in job order.
    fn upload_chunks(&self, tenants: &[TenantId], jobs: &[Job]) -> Result<Vec<(ChunkMeta, usize)>> {
        let threads = match self.config.flush_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(jobs.len())
        .max(1);
        let upload = |job: &Job| -> Result<(ChunkMeta, usize)> {
            let c = &*job.chunk;
            let mut obj = ChunkObject::from_chunk(&tenants[job.tenant], job.handle.labels.clone(), c)?;
            obj.fingerprint = job.handle.fingerprint;
            let (bytes, key) = obj.encode()?;
            let size = bytes.len();
            self.store.put(&self.store.chunk_path(&key), Bytes::from(bytes))?;
            let entries = u32::try_from(c.num_entries()).unwrap_or(u32::MAX);
            Ok((ChunkMeta::new(key.from_ms, key.through_ms, c.index_kb(), entries, key.checksum), size))
        };
        if threads == 1 {
            return jobs.iter().map(upload).collect();
        }
        let per = jobs.len().div_ceil(threads);
        let results: Vec<Result<Vec<(ChunkMeta, usize)>>> = std::thread::scope(|s| {
            let handles: Vec<_> =
                jobs.chunks(per).map(|part| s.spawn(move || part.iter().map(upload).collect())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error::Io(std::io::Error::other("flush thread panicked")))))
                .collect()
        });
        let mut out = Vec::with_capacity(jobs.len());
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Retires streams that hold no data any more (after a full flush), as
    /// Loki's ingester drops flushed streams.
    fn retire_empty_streams(&self, only: Option<&TenantId>) -> usize {
        let mut n = 0;
        for t in self.all_tenants().into_iter().filter(|t| only.is_none_or(|o| *o == t.id)) {
            let mut map = write(&t.streams);
            let handles: Vec<_> = map.by_labels.values().cloned().collect();
            for h in handles {
                let mut st = lock(&h.state);
                if st.is_empty() {
                    st.removed = true;
                    lock(&t.retired).insert(h.fingerprint.0, st.counter);
                    map.remove(&h.labels);
                    n += 1;
                }
            }
        }
        n
    }

    /// Writes out every chunk during replay (the memory ceiling was
    /// reached); the WAL is not open yet, so no checkpoint.
    pub(crate) fn flush_for_replay(&self) -> Result<FlushStats> {
        let _one_at_a_time = lock(&self.flush_lock);
        self.flush_chunks(None, true)
    }

    /// Strictly increasing wall-clock nanoseconds, for unique file names.
    pub(crate) fn unique_nanos(&self) -> i64 {
        let now = super::ingest::now_ns();
        let mut last = self.last_name_nanos.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_name_nanos.compare_exchange(last, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    fn node_name(&self) -> String {
        format!("{}-{}", self.config.instance_name, self.unique_nanos())
    }

    /// Whether the maintenance thread should stop, waiting up to `d`.
    pub(crate) fn wait_stop(&self, d: Duration) -> bool {
        let (m, cv) = &self.stop;
        let deadline = Instant::now() + d;
        let mut stopped = lock(m);
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            stopped = cv.wait_timeout(stopped, left).map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        true
    }
}
