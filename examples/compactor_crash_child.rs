//! Child process for the compactor crash test (`tests/it/compactor_crash.rs`).
//!
//! ```text
//! compactor_crash_child STORE_DIR CLOCK_NS [PAUSE_AT]
//! ```
//!
//! Opens a [`LocalFsStore`] on STORE_DIR and runs one compactor pass
//! (index compaction and chunk compaction, see [`shared::config`]) with
//! its clock fixed at CLOCK_NS, then prints `DONE <chunks written>
//! <chunks deleted>` and exits. It prints `READY` once the store is open.
//! With PAUSE_AT = n it prints `PAUSE n` just before its n-th change to
//! the store (put, conditional put or delete) and waits there to be
//! killed, so that the test can stop it between any two steps.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use lokistore::store::{LocalFsStore, ObjectMeta, ObjectStore, StoreError};
use lokistore::{ChunkKey, Compactor};

/// A store that counts its changes and stops before the chosen one.
#[derive(Debug)]
struct Stepping {
    inner: LocalFsStore,
    changes: AtomicU64,
    pause_at: Option<u64>,
}

impl Stepping {
    fn step(&self) {
        let n = self.changes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.pause_at == Some(n) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "PAUSE {n}");
            let _ = out.flush();
            loop {
                std::thread::park();
            }
        }
    }
}

impl ObjectStore for Stepping {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.step();
        self.inner.put(key, data)
    }
    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        self.step();
        self.inner.put_if_absent(key, data)
    }
    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.inner.get_range(key, range)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        self.inner.head(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.step();
        self.inner.delete(key)
    }
    fn chunk_path(&self, key: &ChunkKey) -> String {
        self.inner.chunk_path(key)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(clock)) = (args.first(), args.get(1).and_then(|a| a.parse::<i64>().ok())) else {
        eprintln!("usage: compactor_crash_child STORE_DIR CLOCK_NS [PAUSE_AT]");
        std::process::exit(2);
    };
    let pause_at = args.get(2).and_then(|a| a.parse::<u64>().ok());
    let inner = match LocalFsStore::open(dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("compactor_crash_child: open {dir}: {e}");
            std::process::exit(3);
        }
    };
    let store = Arc::new(Stepping { inner, changes: AtomicU64::new(0), pause_at });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    drop(out);
    let compactor = Compactor::new(store, shared::config()).with_clock(move || clock);
    match compactor.run_once() {
        Ok(r) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "DONE {} {}", r.chunks_written, r.chunks_deleted);
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("compactor_crash_child: run: {e}");
            std::process::exit(4);
        }
    }
}

/// The compactor's settings and the test data, shared with the test.
pub mod shared {
    use std::path::Path;

    use lokistore::compactor::{ChunkCompaction, CompactorConfig};
    use lokistore::engine::{EngineConfig, PushStream};
    use lokistore::{ChunkConfig, Entry, Label, Labels, SyncMode, TenantId};

    /// Tenants the test writes.
    pub const TENANTS: [&str; 2] = ["crash-a", "crash-b"];

    /// The first day the test writes (a Unix day).
    pub const BASE_DAY: i64 = 19_500;

    const DAY_NS: i64 = 86_400_000_000_000;

    /// Flushes per round (each makes one small chunk per stream).
    pub const FLUSHES_PER_ROUND: i64 = 3;

    /// The compactor of the child: chunk compaction with small chunks
    /// (chunks under 2 KiB uncompressed are small, new ones are cut near
    /// 2 KiB compressed), replaced objects deleted 2h after the pass.
    pub fn config() -> CompactorConfig {
        CompactorConfig {
            owner: "crash-child".to_owned(),
            chunks: Some(ChunkCompaction {
                chunk: ChunkConfig::default().with_target_size(2 * 1024).with_block_size(1024),
                min_chunk_size: 2 * 1024,
                ..ChunkCompaction::default()
            }),
            ..CompactorConfig::default()
        }
    }

    /// The engine the test writes with (no fsync: the engine is not what
    /// is being killed).
    pub fn engine_config(dir: &Path) -> EngineConfig {
        let mut c = EngineConfig::new(dir);
        c.wal.sync = SyncMode::Never;
        c.limits.creation_grace_period = None;
        c
    }

    /// What flush `f` of round `r` pushes: per tenant, three streams of
    /// eight entries with distinct timestamps (rounds alternate between two
    /// days, with a stream per day, later rounds later in the day); every
    /// third entry has structured metadata.
    pub fn push(r: i64, f: i64) -> Vec<(TenantId, Vec<PushStream>)> {
        let day = BASE_DAY + r % 2;
        let base = day * DAY_NS + 3_600_000_000_000 + (r * FLUSHES_PER_ROUND + f) * 10_000_000_000;
        TENANTS
            .iter()
            .map(|t| {
                let streams = (0..3i64)
                    .map(|s| {
                        let pairs = [("app", "crash".to_owned()), ("s", s.to_string()), ("day", day.to_string())];
                        let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str()))).expect("labels");
                        let entries = (0..8i64)
                            .map(|i| {
                                let ts = base + i * 1_000_000_000 + s;
                                let line =
                                    format!("{t} s{s} r{r} f{f} i{i} GET /api/v1/items took={}ms", (i * 13) % 71);
                                let md = if i % 3 == 0 {
                                    vec![Label::new("trace_id", format!("{r}-{f}-{i}"))]
                                } else {
                                    vec![]
                                };
                                Entry::with_metadata(ts, line, md)
                            })
                            .collect();
                        PushStream::new(labels, entries)
                    })
                    .collect();
                (TenantId::new(*t).expect("tenant"), streams)
            })
            .collect()
    }
}
