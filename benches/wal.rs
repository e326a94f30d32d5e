//! WAL benchmarks: append throughput per sync mode (and 1 / 4 / 16
//! concurrent writers with per-push sync, i.e. group commit), and replay
//! throughput. Throughput is record payload bytes and entries.
//!
//! ```text
//! cargo bench --bench wal
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lokistore::wal::{self, RefEntries, ReplayOptions, ReplaySink, SinkError, SyncMode, Wal, WalConfig};
use lokistore::{Entry, Label, Labels};

const ENTRIES_PER_PUSH: usize = 100;

fn push(i: u64, t: u64) -> Vec<RefEntries> {
    let entries = (0..ENTRIES_PER_PUSH as u64)
        .map(|j| {
            let line = format!(
                "level=info ts={i}.{j} thread={t} msg=\"request served\" path=/api/v1/items/{j} status=200 bytes={} duration=12ms user=u{}",
                i * 7 + j,
                j % 13
            );
            let md = if j % 4 == 0 { vec![Label::new("trace_id", format!("{i:x}{j:x}"))] } else { Vec::new() };
            Entry::with_metadata((i * 1000 + j) as i64, line, md)
        })
        .collect();
    vec![RefEntries { fingerprint: 0xfeed + t, counter: i as i64 + 1, entries }]
}

fn payload_bytes(p: &[RefEntries]) -> u64 {
    let mut out = Vec::new();
    wal::encode_entries("bench", p, &mut out);
    out.len() as u64
}

fn config(sync: SyncMode) -> WalConfig {
    WalConfig { sync, checkpoint_interval: None, ..WalConfig::default() }
}

fn bench_append(c: &mut Criterion) {
    let sample = push(0, 0);
    let bytes = payload_bytes(&sample);
    let mut g = c.benchmark_group("wal_append");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    for (name, mode) in [("never", SyncMode::Never), ("interval_100ms", SyncMode::Interval(Duration::from_millis(100)))]
    {
        for unit in ["bytes", "entries"] {
            g.throughput(if unit == "bytes" {
                Throughput::Bytes(bytes)
            } else {
                Throughput::Elements(ENTRIES_PER_PUSH as u64)
            });
            let dir = tempfile::tempdir().unwrap();
            let wal = Wal::open(dir.path(), config(mode)).unwrap();
            let p = push(1, 0);
            g.bench_function(format!("{name}/1_writer/{unit}"), |b| b.iter(|| wal.log("bench", &[], &p).unwrap()));
        }
    }
    for writers in [1u64, 4, 16] {
        for unit in ["bytes", "entries"] {
            g.throughput(if unit == "bytes" {
                Throughput::Bytes(bytes * writers)
            } else {
                Throughput::Elements(ENTRIES_PER_PUSH as u64 * writers)
            });
            let dir = tempfile::tempdir().unwrap();
            let wal = Arc::new(Wal::open(dir.path(), config(SyncMode::PerPush)).unwrap());
            let pushes: Vec<Arc<Vec<RefEntries>>> = (0..writers).map(|t| Arc::new(push(1, t))).collect();
            // One iteration = every writer pushes once, concurrently.
            g.bench_function(format!("per_push/{writers}_writers/{unit}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for p in &pushes {
                            let wal = Arc::clone(&wal);
                            s.spawn(move || {
                                for _ in 0..iters {
                                    wal.log("bench", &[], p).unwrap();
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            });
        }
    }
    g.finish();
}

/// A sink that only counts what it is given (decode cost only).
#[derive(Default)]
struct CountingSink {
    entries: u64,
}

impl ReplaySink for CountingSink {
    fn restore(&mut self, _: wal::CheckpointSeries) -> Result<(), SinkError> {
        Ok(())
    }
    fn series(&mut self, _: &str, _: u64, _: &Labels) -> Result<(), SinkError> {
        Ok(())
    }
    fn entries(&mut self, _: &str, _: u64, _: i64, e: Vec<Entry>) -> Result<(), SinkError> {
        self.entries += e.len() as u64;
        Ok(())
    }
}

fn bench_replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalConfig { segment_size: 64 << 20, ..config(SyncMode::Never) }).unwrap();
    let labels = Labels::from_pairs([("app", "bench")]).unwrap();
    let series = [wal::RefSeries { fingerprint: 0xfeed, labels }];
    wal.log("bench", &series, &[]).unwrap();
    let mut bytes = 0;
    let n = 2_000u64;
    for i in 0..n {
        let p = push(i, 0);
        bytes += payload_bytes(&p);
        wal.log("bench", &[], &p).unwrap();
    }
    wal.close().unwrap();
    let mut g = c.benchmark_group("wal_replay");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("decode_only/bytes", |b| {
        b.iter(|| {
            let mut sink = CountingSink::default();
            wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap();
            assert_eq!(sink.entries, n * ENTRIES_PER_PUSH as u64);
        })
    });
    g.throughput(Throughput::Elements(n * ENTRIES_PER_PUSH as u64));
    g.bench_function("decode_only/entries", |b| {
        b.iter(|| {
            let mut sink = CountingSink::default();
            wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap();
        })
    });
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("into_memory_sink/bytes", |b| {
        b.iter(|| {
            let cfg = lokistore::StreamConfig {
                max_chunk_age: Duration::ZERO,
                sync_period: Duration::ZERO,
                ..Default::default()
            };
            let mut sink = wal::MemorySink::new(cfg);
            wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench_append, bench_replay);
criterion_main!(benches);
