//! The engine: Loki's ingester, chunk store and index in-process.
//!
//! [`Engine::open`] on a data directory (and an object store) replays the
//! WAL and loads the stored index; [`Engine::push`] validates and stores
//! entries, durable in the WAL before it returns; [`Engine::flush`] writes
//! chunks and index files to the store in Loki's layout (schema v13);
//! [`Engine::select`] / [`Engine::query_logs`] and the label APIs read
//! memory and store together.
//!
//! | file | concept |
//! |---|---|
//! | `config.rs` | [`EngineConfig`], [`Limits`] |
//! | `push.rs` | push requests and results, rejection reasons with Loki's messages |
//! | `state.rs` | tenants, streams, locks, memory gauge, rate limiters |
//! | `ingest.rs` | the push path |
//! | `flush.rs` | flushing, stream retirement, WAL checkpoints, maintenance |
//! | `read.rs` | stream selection, entry iteration and merging, label/series/stats/volume |
//! | `blocks.rs` | reading a stream block by block: entry counts and time bounds from block metas, timestamps decoded only when needed |
//! | `cache.rs` | the decoded-chunk cache |
//! | `deletes.rs` | delete requests: add / list / cancel, hiding their lines from queries |
//! | `recovery.rs` | WAL replay into the engine |
//!
//! Data directory: `<dir>/wal/` (segments and checkpoints), `<dir>/LOCK`
//! (held while open), and with [`Engine::open`] the store in `<dir>/store/`:
//! `<tenant>/<fp>/<base64(from:through:crc)>` chunk objects and
//! `index/index_<day>/<sec>-<instance>-<nanos>.tsdb.gz` index files, which
//! a Loki with `loki-compat.yaml` reads.

mod blocks;
mod cache;
mod config;
mod deletes;
mod flush;
mod ingest;
mod push;
mod read;
mod recovery;
mod state;

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock, Weak};
use std::thread::JoinHandle;

use bytes::Bytes;

pub(crate) use blocks::{BlockVisitor, StreamBlock};
pub use config::{EngineConfig, Limits};
pub use flush::{FlushStats, MaintenanceStats};
pub use push::{PushResult, PushStream, RejectReason, Rejection, StreamPushResult};
pub(crate) use read::dedup_same_time;
pub use read::{EntryView, LogQuery, SelectedStream, StreamEntries};

use crate::error::Result;
use crate::index::{DEFAULT_PATH_PREFIX, IndexSet};
use crate::store::{LocalFsStore, ObjectStore, StoreError};
use crate::tenant::TenantId;
use crate::wal::{ReplayOptions, ReplayReport, Wal, replay};
use state::{MemoryGauge, TenantState, lock, read};

/// Errors of the engine itself (its components' errors come wrapped in
/// [`crate::Error`] as they are).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Unflushed data reached the memory budget and a flush did not free enough.
    #[error("memory budget exhausted: {used} bytes in use of {budget}; retry later")]
    MemoryBudget {
        /// Bytes in use.
        used: usize,
        /// The budget.
        budget: usize,
    },
    /// The engine was closed.
    #[error("the engine is closed")]
    Closed,
    /// Another engine holds the data directory.
    #[error("data directory {0} is in use by another engine")]
    Locked(std::path::PathBuf),
}

/// What [`Engine::open`] found.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// The WAL replay.
    pub replay: ReplayReport,
    /// Index files loaded from the store.
    pub index_files: usize,
    /// Index objects that could not be read, with the reason (skipped).
    pub skipped_index_files: Vec<(String, String)>,
    /// Streams in memory after replay.
    pub streams: usize,
}

pub(crate) struct Inner {
    config: EngineConfig,
    store: Arc<dyn ObjectStore>,
    wal_cell: OnceLock<Wal>,
    tenants: RwLock<HashMap<TenantId, Arc<TenantState>>>,
    stored: RwLock<IndexSet>,
    index_epoch: AtomicI64,
    flush_lock: Mutex<()>,
    cache: cache::ChunkCache,
    deletes: deletes::EngineDeletes,
    memory: MemoryGauge,
    last_name_nanos: AtomicI64,
    closed: AtomicBool,
    stop: (Mutex<bool>, Condvar),
    maintenance: Mutex<Option<JoinHandle<()>>>,
    report: Mutex<OpenReport>,
    _lock_file: File,
}

impl Inner {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) { Err(EngineError::Closed.into()) } else { Ok(()) }
    }

    /// The WAL (open once recovery has finished).
    fn wal(&self) -> Result<&Wal> {
        self.wal_cell.get().ok_or_else(|| EngineError::Closed.into())
    }

    pub(crate) fn memory_used(&self) -> usize {
        self.memory.get().saturating_add(self.cache.bytes())
    }

    pub(crate) fn all_tenants(&self) -> Vec<Arc<TenantState>> {
        read(&self.tenants).values().cloned().collect()
    }
}

/// An embedded log store. Cheap to clone (a handle); safe to share
/// between threads.
///
/// # Examples
///
/// ```
/// use lokistore::engine::{Engine, EngineConfig, LogQuery, PushStream};
/// use lokistore::{Direction, Entry, Labels, Matcher, TenantId};
///
/// let dir = tempfile::tempdir()?;
/// let engine = Engine::open(EngineConfig::new(dir.path()))?;
/// let tenant = TenantId::new("team-a")?;
/// let labels: Labels = r#"{app="api", env="prod"}"#.parse()?;
/// let ts = 1_700_000_000_000_000_000;
/// let res = engine.push(&tenant, vec![PushStream::new(labels, vec![Entry::new(ts, "GET /health 200")])])?;
/// assert_eq!(res.accepted(), 1);
/// engine.flush()?; // chunks and index files now in <dir>/store, Loki's layout
///
/// let q = LogQuery {
///     matchers: vec![Matcher::equal("app", "api")],
///     from: ts,
///     through: ts + 1,
///     direction: Direction::Forward,
///     limit: 100,
/// };
/// let streams = engine.query_logs(&tenant, &q)?;
/// assert_eq!(&streams[0].entries[0].line[..], b"GET /health 200");
/// engine.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("data_dir", &self.inner.config.data_dir).finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the engine on `config.data_dir` with a [`LocalFsStore`] in
    /// `<data_dir>/store`.
    pub fn open(config: EngineConfig) -> Result<Self> {
        let store = LocalFsStore::open(config.store_dir())?;
        Self::open_with_store(config, Arc::new(store))
    }

    /// Opens the engine on `config.data_dir` (WAL) with `store` for chunks
    /// and index files: locks the directory, loads the stored index,
    /// replays the WAL, then opens it for appends.
    pub fn open_with_store(config: EngineConfig, store: Arc<dyn ObjectStore>) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let lock_path = config.data_dir.join("LOCK");
        let lock_file = File::options().create(true).truncate(false).write(true).open(&lock_path)?;
        if lock_file.try_lock().is_err() {
            return Err(EngineError::Locked(config.data_dir.clone()).into());
        }
        let mut report = OpenReport::default();
        let stored = load_index(&*store, &mut report)?;
        let cache = cache::ChunkCache::new(config.chunk_cache_bytes);
        let deletes = deletes::EngineDeletes::load(&*store)?;
        let inner = Inner {
            store,
            wal_cell: OnceLock::new(),
            tenants: RwLock::new(HashMap::new()),
            stored: RwLock::new(stored),
            index_epoch: AtomicI64::new(0),
            flush_lock: Mutex::new(()),
            cache,
            deletes,
            memory: MemoryGauge::default(),
            last_name_nanos: AtomicI64::new(0),
            closed: AtomicBool::new(false),
            stop: (Mutex::new(false), Condvar::new()),
            maintenance: Mutex::new(None),
            report: Mutex::new(OpenReport::default()),
            _lock_file: lock_file,
            config,
        };
        let engine = Engine { inner: Arc::new(inner) };
        let opts =
            ReplayOptions { recovery: engine.inner.config.recovery, memory_ceiling: engine.inner.config.memory_budget };
        let wal_dir = engine.inner.config.wal_dir();
        std::fs::create_dir_all(&wal_dir)?;
        report.replay = replay(&wal_dir, &opts, &mut recovery::Recovery::new(&engine))?;
        let wal = Wal::open(&wal_dir, engine.inner.config.wal)?;
        let _ = engine.inner.wal_cell.set(wal);
        if report.replay.spills > 0 {
            // Spilled chunks are in the store; a checkpoint stops a later
            // replay from loading them again.
            engine.checkpoint()?;
        }
        report.streams = engine.inner.all_tenants().iter().map(|t| read(&t.streams).by_labels.len()).sum();
        *lock(&engine.inner.report) = report;
        if let Some(every) = engine.inner.config.maintenance_interval {
            let weak = Arc::downgrade(&engine.inner);
            let handle = std::thread::Builder::new()
                .name("lokistore-maintenance".into())
                .spawn(move || maintenance_loop(weak, every))?;
            *lock(&engine.inner.maintenance) = Some(handle);
        }
        Ok(engine)
    }

    /// What [`Engine::open`] found: replay figures, index files loaded or skipped.
    pub fn open_report(&self) -> OpenReport {
        lock(&self.inner.report).clone()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// Bytes of unflushed data plus cached chunks (what the memory budget limits).
    pub fn memory_used(&self) -> usize {
        self.inner.memory_used()
    }

    /// Streams held in memory.
    pub fn num_streams(&self) -> usize {
        self.inner.all_tenants().iter().map(|t| read(&t.streams).by_labels.len()).sum()
    }

    /// Tenants with streams in memory or index files in the store.
    pub fn tenants(&self) -> Vec<TenantId> {
        let mut v: Vec<TenantId> = read(&self.inner.tenants).keys().cloned().collect();
        v.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        v
    }

    /// Makes every acknowledged push durable now, whatever the sync mode.
    pub fn sync(&self) -> Result<()> {
        Ok(self.inner.wal()?.sync()?)
    }

    /// Re-reads the index files and the delete requests in the store
    /// (after another process, such as a compactor, changed them).
    pub fn refresh_index(&self) -> Result<()> {
        let mut report = OpenReport::default();
        let set = load_index(&*self.inner.store, &mut report)?;
        *state::write(&self.inner.stored) = set;
        self.reload_deletes()
    }

    /// Stops the maintenance thread and syncs the WAL. Unflushed data stays
    /// in the WAL and is recovered by the next open (call [`Engine::flush`]
    /// first to write it to the store). Later calls on any handle fail with
    /// [`EngineError::Closed`].
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let (m, cv) = &self.inner.stop;
            *lock(m) = true;
            cv.notify_all();
        }
        if let Some(h) = lock(&self.inner.maintenance).take() {
            let _ = h.join();
        }
        self.inner.wal()?.sync()?;
        Ok(())
    }
}

fn maintenance_loop(weak: Weak<Inner>, every: std::time::Duration) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.wait_stop(every) {
            return;
        }
        // Errors are retried at the next tick; the data stays in memory and WAL.
        let _ = Engine { inner }.maintain();
    }
}

/// Reads every index file under `index/` into an [`IndexSet`]; unreadable
/// ones are reported and skipped.
fn load_index(store: &dyn ObjectStore, report: &mut OpenReport) -> Result<IndexSet> {
    let mut set = IndexSet::new();
    for meta in store.list(DEFAULT_PATH_PREFIX)? {
        let name = meta.key.rsplit('/').next().unwrap_or("");
        if !(name.ends_with(".tsdb.gz") || name.ends_with(".tsdb")) {
            continue;
        }
        let data: Bytes = match store.get(&meta.key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let rel = &meta.key[DEFAULT_PATH_PREFIX.len()..];
        match set.add_object(rel, data) {
            Ok(()) => report.index_files += 1,
            Err(e) => report.skipped_index_files.push((meta.key.clone(), e.to_string())),
        }
    }
    Ok(set)
}
