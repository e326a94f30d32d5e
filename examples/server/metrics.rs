//! `/metrics`: Prometheus text exposition of the server's counters and
//! histograms (ingest, queries, flushes, WAL, object store), plus gauges
//! read from the engine at scrape time. The object store is wrapped in
//! [`CountingStore`] to count its operations and bytes.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lokistore::store::ObjectMeta;
use lokistore::{ChunkKey, ObjectStore, StoreError};

/// A counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// A histogram of durations in seconds with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    inner: Mutex<(Vec<u64>, f64, u64)>,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.0.is_empty() {
            g.0 = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                g.0[i] += 1;
            }
        }
        g.1 += s;
        g.2 += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, help: &str, header: bool) {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if header {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        }
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", g.0.get(i).copied().unwrap_or(0));
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", g.2);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}\n{name}_count{braces} {}", g.1, g.2);
    }
}

/// Query endpoints with their own series.
pub const QUERY_ENDPOINTS: [&str; 8] =
    ["query", "query_range", "labels", "label_values", "series", "index_stats", "index_volume", "tail"];

/// Everything the server counts.
#[derive(Debug, Default)]
pub struct Metrics {
    pub push_requests: Counter,
    pub push_failures: Counter,
    pub push_bytes: Counter,
    pub entries_accepted: Counter,
    pub entries_rejected: Counter,
    pub push_duration: Histogram,
    pub query_requests: [Counter; QUERY_ENDPOINTS.len()],
    pub query_failures: [Counter; QUERY_ENDPOINTS.len()],
    pub query_duration: [Histogram; QUERY_ENDPOINTS.len()],
    pub query_lines_processed: Counter,
    pub query_bytes_processed: Counter,
    pub flushes: Counter,
    pub flush_failures: Counter,
    pub flushed_chunks: Counter,
    pub flushed_bytes: Counter,
    pub flush_duration: Histogram,
    pub wal_syncs: Counter,
    pub compactions: Counter,
    pub compaction_failures: Counter,
    pub store: StoreCounters,
}

/// Object store operations.
#[derive(Debug, Default)]
pub struct StoreCounters {
    pub puts: Counter,
    pub gets: Counter,
    pub lists: Counter,
    pub deletes: Counter,
    pub heads: Counter,
    pub errors: Counter,
    pub bytes_written: Counter,
    pub bytes_read: Counter,
}

impl Metrics {
    pub fn endpoint(name: &str) -> usize {
        QUERY_ENDPOINTS.iter().position(|e| *e == name).unwrap_or(0)
    }

    /// The exposition text; `engine` gauges and the WAL directory's size are read now.
    pub fn render(&self, engine: &lokistore::Engine) -> String {
        let mut out = String::with_capacity(8192);
        write_simple(
            &mut out,
            "counter",
            &[
                ("lokistore_push_requests_total", "Push requests received.", self.push_requests.get()),
                ("lokistore_push_failures_total", "Push requests answered with an error.", self.push_failures.get()),
                ("lokistore_push_received_bytes_total", "Push body bytes received.", self.push_bytes.get()),
                ("lokistore_ingested_entries_total", "Entries stored.", self.entries_accepted.get()),
                (
                    "lokistore_rejected_entries_total",
                    "Entries refused by validation or limits.",
                    self.entries_rejected.get(),
                ),
            ],
        );
        self.push_duration.write(&mut out, "lokistore_push_duration_seconds", "", "Push request latency.", true);
        let by_endpoint = |counters: &'_ [Counter]| {
            QUERY_ENDPOINTS.iter().zip(counters).map(|(e, c)| (*e, c.get())).collect::<Vec<_>>()
        };
        write_labeled(
            &mut out,
            "lokistore_query_requests_total",
            "Query API requests.",
            "endpoint",
            &by_endpoint(&self.query_requests),
        );
        write_labeled(
            &mut out,
            "lokistore_query_failures_total",
            "Query API requests answered with an error.",
            "endpoint",
            &by_endpoint(&self.query_failures),
        );
        for (i, e) in QUERY_ENDPOINTS.iter().enumerate() {
            self.query_duration[i].write(
                &mut out,
                "lokistore_query_duration_seconds",
                &format!("endpoint=\"{e}\""),
                "Query API latency.",
                i == 0,
            );
        }
        write_simple(
            &mut out,
            "counter",
            &[
                (
                    "lokistore_query_lines_processed_total",
                    "Lines read by log and metric queries.",
                    self.query_lines_processed.get(),
                ),
                (
                    "lokistore_query_bytes_processed_total",
                    "Line bytes read by log queries.",
                    self.query_bytes_processed.get(),
                ),
                ("lokistore_flushes_total", "Flushes run (API, schedule, shutdown).", self.flushes.get()),
                ("lokistore_flush_failures_total", "Flushes that failed.", self.flush_failures.get()),
                ("lokistore_flushed_chunks_total", "Chunk objects written by flushes.", self.flushed_chunks.get()),
                (
                    "lokistore_flushed_chunk_bytes_total",
                    "Chunk object bytes written by flushes.",
                    self.flushed_bytes.get(),
                ),
            ],
        );
        self.flush_duration.write(&mut out, "lokistore_flush_duration_seconds", "", "Flush latency.", true);
        write_simple(
            &mut out,
            "counter",
            &[("lokistore_wal_syncs_total", "Explicit WAL syncs (shutdown).", self.wal_syncs.get())],
        );
        let (wal_bytes, wal_segments) = dir_usage(&engine.config().wal_dir());
        write_simple(
            &mut out,
            "gauge",
            &[
                ("lokistore_wal_disk_bytes", "Bytes of WAL segments and checkpoints on disk.", wal_bytes),
                ("lokistore_wal_files", "WAL segment and checkpoint files on disk.", wal_segments),
            ],
        );
        write_simple(
            &mut out,
            "counter",
            &[
                ("lokistore_compactions_total", "Compactor passes.", self.compactions.get()),
                (
                    "lokistore_compaction_failures_total",
                    "Compactor passes that failed.",
                    self.compaction_failures.get(),
                ),
            ],
        );
        let s = &self.store;
        write_labeled(
            &mut out,
            "lokistore_store_operations_total",
            "Object store operations.",
            "operation",
            &[
                ("put", s.puts.get()),
                ("get", s.gets.get()),
                ("list", s.lists.get()),
                ("delete", s.deletes.get()),
                ("head", s.heads.get()),
            ],
        );
        write_simple(
            &mut out,
            "counter",
            &[
                ("lokistore_store_errors_total", "Object store operations that failed.", s.errors.get()),
                ("lokistore_store_written_bytes_total", "Bytes written to the object store.", s.bytes_written.get()),
                ("lokistore_store_read_bytes_total", "Bytes read from the object store.", s.bytes_read.get()),
            ],
        );
        write_simple(
            &mut out,
            "gauge",
            &[
                (
                    "lokistore_memory_bytes",
                    "Unflushed chunk data and chunk cache in memory.",
                    engine.memory_used() as u64,
                ),
                ("lokistore_streams", "Streams in memory.", engine.num_streams() as u64),
                ("lokistore_tenants", "Tenants with streams in memory.", engine.tenants().len() as u64),
            ],
        );
        out
    }
}

/// Unlabeled metrics of one `kind` (`counter` or `gauge`): `(name, help, value)`.
fn write_simple(out: &mut String, kind: &str, rows: &[(&str, &str, u64)]) {
    for (name, help, v) in rows {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    }
}

/// A counter with one label: `(label value, count)` per series.
fn write_labeled(out: &mut String, name: &str, help: &str, label: &str, rows: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, count) in rows {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
    }
}

fn dir_usage(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0, 0);
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => {
                    bytes += m.len();
                    files += 1;
                }
                Err(_) => {}
            }
        }
    }
    (bytes, files)
}

/// An object store that counts what passes through it.
#[derive(Debug)]
pub struct CountingStore {
    pub inner: Arc<dyn ObjectStore>,
    pub metrics: Arc<Metrics>,
}

impl CountingStore {
    fn count<T>(&self, c: &Counter, r: Result<T, StoreError>) -> Result<T, StoreError> {
        c.inc();
        if r.is_err() {
            self.metrics.store.errors.inc();
        }
        r
    }
}

impl ObjectStore for CountingStore {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let n = data.len() as u64;
        let r = self.inner.put(key, data);
        if r.is_ok() {
            self.metrics.store.bytes_written.add(n);
        }
        self.count(&self.metrics.store.puts, r)
    }
    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        let n = data.len() as u64;
        let r = self.inner.put_if_absent(key, data);
        if matches!(r, Ok(true)) {
            self.metrics.store.bytes_written.add(n);
        }
        self.count(&self.metrics.store.puts, r)
    }
    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let r = self.inner.get(key);
        if let Ok(b) = &r {
            self.metrics.store.bytes_read.add(b.len() as u64);
        }
        self.count(&self.metrics.store.gets, r)
    }
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let r = self.inner.get_range(key, range);
        if let Ok(b) = &r {
            self.metrics.store.bytes_read.add(b.len() as u64);
        }
        self.count(&self.metrics.store.gets, r)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let r = self.inner.head(key);
        self.count(&self.metrics.store.heads, r)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let r = self.inner.list(prefix);
        self.count(&self.metrics.store.lists, r)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let r = self.inner.delete(key);
        self.count(&self.metrics.store.deletes, r)
    }
    fn chunk_path(&self, key: &ChunkKey) -> String {
        self.inner.chunk_path(key)
    }
}
