//! Engine benchmarks: the cost of ingesting and flushing through
//! [`Engine`], and of keeping a stream in memory.
//!
//! * `engine_push`: [`Engine::push`] of realistic ~150-byte lines (the
//!   shared workload generator), 1000 lines over 100 streams per push, by 1
//!   and 2 threads (each on its own 100 streams), with the WAL synced per
//!   push (group commit) or every 100 ms. Throughput in raw line bytes and
//!   in lines.
//! * `engine_flush`: [`Engine::flush`] of 32 MiB of raw lines (100 streams)
//!   to a [`lokistore::LocalFsStore`] in a temporary directory; the push
//!   before it is not timed. Throughput in raw line bytes and in chunk
//!   object bytes written.
//! * `engine_streams`: creating 10 000 streams of one short entry each;
//!   before it runs, the heap held per active stream beyond its unflushed
//!   data is measured with a counting global allocator and printed.
//!
//! ```text
//! cargo bench --bench engine
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::{Entry, Label, Labels, SyncMode, TenantId};

#[path = "common/workload.rs"]
mod workload;

use workload::{Rng, log_line};

/// The system allocator, counting the bytes currently allocated.
struct CountingAlloc;

/// Bytes currently allocated through [`CountingAlloc`].
static HEAP: AtomicUsize = AtomicUsize::new(0);
/// Allocations currently live (each costs the allocator's header and
/// rounding on top of its size).
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the caller's arguments
// unchanged; the counter is only bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            HEAP.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            HEAP.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HEAP.fetch_add(new_size, Ordering::Relaxed);
            HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Lines per push.
const LINES_PER_PUSH: usize = 1000;
/// Streams per push (and per pushing thread).
const STREAMS_PER_PUSH: usize = 100;
/// Timestamp of the first entry (ns).
const BASE_TS: i64 = 1_700_000_000_000_000_000;

/// A pool of generated lines that pushes cycle through (generating lines
/// inside the timed loop would measure the generator).
struct Lines {
    lines: Vec<Bytes>,
    /// Mean line length in bytes.
    mean: f64,
}

impl Lines {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = Rng(seed | 1);
        let lines: Vec<Bytes> =
            (0..n).map(|i| Bytes::from(log_line(&mut rng, BASE_TS + i as i64 * 1_000_000))).collect();
        let mean = lines.iter().map(Bytes::len).sum::<usize>() as f64 / n as f64;
        Self { lines, mean }
    }
}

/// The labels of stream `s` written by pusher `thread`.
fn stream_labels(thread: usize, s: usize) -> Labels {
    Labels::from_pairs([
        ("app", format!("app-{}", s % 10)),
        ("cluster", "eu-west-1".to_owned()),
        ("namespace", format!("ns-{}", s % 7)),
        ("pod", format!("pod-{thread}-{s}")),
    ])
    .expect("labels")
}

/// Push number `seq` of a pusher: 1000 lines, 10 per stream, taken from
/// the pool from `seq * 1000` on; timestamps grow with `seq`, so every
/// stream sees them in order. Every fourth entry has a trace id.
fn make_push(labels: &[Labels], pool: &Lines, seq: u64) -> Vec<PushStream> {
    let per = LINES_PER_PUSH / labels.len();
    let mut k = (seq as usize * LINES_PER_PUSH) % pool.lines.len();
    labels
        .iter()
        .map(|l| {
            let entries = (0..per)
                .map(|j| {
                    let ts = BASE_TS + seq as i64 * 1_000_000 + j as i64;
                    let line = pool.lines[k].clone();
                    k = (k + 1) % pool.lines.len();
                    let md = if j.is_multiple_of(4) {
                        vec![Label::new("trace_id", format!("{seq:x}{j:04x}"))]
                    } else {
                        Vec::new()
                    };
                    Entry::with_metadata(ts, line, md)
                })
                .collect();
            PushStream::new(l.clone(), entries)
        })
        .collect()
}

fn config(dir: &std::path::Path, sync: SyncMode) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = sync;
    // No checkpoint during a measurement.
    c.wal.checkpoint_interval = None;
    c.limits.creation_grace_period = None;
    c
}

fn bench_push(c: &mut Criterion) {
    // 128k lines: the pool is reused only every 128 pushes per thread.
    let pool = Lines::new(128 * LINES_PER_PUSH, 0x5eed);
    let push_bytes = (pool.mean * LINES_PER_PUSH as f64) as u64;
    eprintln!("engine_push: mean line {:.1} bytes, ~{push_bytes} bytes per push", pool.mean);
    let tenant = TenantId::new("bench").unwrap();
    let mut g = c.benchmark_group("engine_push");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for (mode, sync) in
        [("per_push", SyncMode::PerPush), ("interval_100ms", SyncMode::Interval(Duration::from_millis(100)))]
    {
        for threads in [1usize, 2] {
            for unit in ["bytes", "lines"] {
                g.throughput(match unit {
                    "bytes" => Throughput::Bytes(push_bytes * threads as u64),
                    _ => Throughput::Elements((LINES_PER_PUSH * threads) as u64),
                });
                let dir = tempfile::tempdir().unwrap();
                let engine = Engine::open(config(dir.path(), sync)).unwrap();
                let labels: Vec<Vec<Labels>> =
                    (0..threads).map(|t| (0..STREAMS_PER_PUSH).map(|s| stream_labels(t, s)).collect()).collect();
                // Push numbers carry on across criterion's calls, so
                // timestamps only grow.
                let mut seq = 0u64;
                // One iteration: every thread pushes once; the requests are
                // built before the clock starts.
                g.bench_function(format!("{mode}/{threads}_thread/{unit}"), |b| {
                    b.iter_custom(|iters| {
                        let requests: Vec<Vec<Vec<PushStream>>> =
                            labels.iter().map(|l| (0..iters).map(|i| make_push(l, &pool, seq + i)).collect()).collect();
                        seq += iters;
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for reqs in requests {
                                let (engine, tenant) = (&engine, &tenant);
                                s.spawn(move || {
                                    for r in reqs {
                                        let res = engine.push(tenant, r).unwrap();
                                        assert_eq!(res.accepted(), LINES_PER_PUSH);
                                    }
                                });
                            }
                        });
                        start.elapsed()
                    })
                });
                eprintln!(
                    "engine_push {mode}/{threads}_thread: {} streams, {:.1} MiB unflushed in memory",
                    engine.num_streams(),
                    engine.memory_used() as f64 / (1 << 20) as f64
                );
                engine.close().unwrap();
            }
        }
    }
    g.finish();
}

fn bench_flush(c: &mut Criterion) {
    const RAW: usize = 32 << 20;
    let pool = Lines::new(128 * LINES_PER_PUSH, 0xf1a5);
    let pushes = (RAW as f64 / (pool.mean * LINES_PER_PUSH as f64)).ceil() as u64;
    let raw_bytes = (pool.mean * (pushes as usize * LINES_PER_PUSH) as f64) as u64;
    let tenant = TenantId::new("bench").unwrap();
    let labels: Vec<Labels> = (0..STREAMS_PER_PUSH).map(|s| stream_labels(0, s)).collect();
    let dir = tempfile::tempdir().unwrap();
    // The WAL is not what this measures.
    let engine = Engine::open(config(dir.path(), SyncMode::Never)).unwrap();
    let mut seq = 0u64;
    let fill = |seq: &mut u64| {
        for _ in 0..pushes {
            engine.push(&tenant, make_push(&labels, &pool, *seq)).unwrap();
            *seq += 1;
        }
    };
    // One flush first, for the size of the chunk objects.
    fill(&mut seq);
    let first = engine.flush().unwrap();
    let chunk_bytes = first.chunk_bytes as u64;
    eprintln!(
        "engine_flush: {:.1} MiB raw lines -> {} chunks, {:.1} MiB of chunk objects ({:.2}x), {} index file(s)",
        raw_bytes as f64 / (1 << 20) as f64,
        first.chunks,
        chunk_bytes as f64 / (1 << 20) as f64,
        raw_bytes as f64 / chunk_bytes as f64,
        first.index_files
    );
    let mut g = c.benchmark_group("engine_flush");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(1));
    for (unit, bytes) in [("raw_bytes", raw_bytes), ("chunk_bytes", chunk_bytes)] {
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(format!("local_fs/{unit}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fill(&mut seq);
                    let start = Instant::now();
                    let stats = engine.flush().unwrap();
                    total += start.elapsed();
                    assert_eq!(stats.entries, pushes as usize * LINES_PER_PUSH);
                }
                total
            })
        });
    }
    g.finish();
    engine.close().unwrap();
}

/// Streams of the memory measurement.
const STREAMS: usize = 10_000;

/// Pushes one short entry to each of `STREAMS` new streams, 1000 streams per push.
fn create_streams(engine: &Engine, tenant: &TenantId, labels: &[Labels]) {
    for (p, part) in labels.chunks(1000).enumerate() {
        let req: Vec<PushStream> = part
            .iter()
            .enumerate()
            .map(|(i, l)| {
                PushStream::new(l.clone(), vec![Entry::new(BASE_TS + (p * 1000 + i) as i64, "GET /healthz 200")])
            })
            .collect();
        let res = engine.push(tenant, req).unwrap();
        assert_eq!(res.accepted(), part.len());
    }
}

/// `n` label sets of three labels (like a Kubernetes pod's), distinct for
/// each `set` name.
fn stream_set(set: &str, n: usize) -> Vec<Labels> {
    (0..n)
        .map(|s| {
            Labels::from_pairs([
                ("app", format!("app-{}", s % 50)),
                ("namespace", format!("ns-{}", s % 7)),
                ("pod", format!("{set}-{s:05}")),
            ])
            .expect("labels")
        })
        .collect()
}

/// Heap per active stream: allocated bytes after creating the streams
/// minus before, less what the engine counts as unflushed data. Also the
/// live allocations per stream, and what one copy of a label set costs
/// (the engine keeps several per stream).
fn measure_stream_memory() {
    let tenant = TenantId::new("bench").unwrap();
    let labels = stream_set("pod", STREAMS);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), SyncMode::Never)).unwrap();
    // A first push of other streams, so the WAL's and the tenant's one-off
    // buffers are allocated before the baseline.
    create_streams(&engine, &tenant, &stream_set("warmup", 1000));
    let mem_before = engine.memory_used();
    let (heap_before, live_before) = (HEAP.load(Ordering::Relaxed), LIVE.load(Ordering::Relaxed));
    create_streams(&engine, &tenant, &labels);
    let heap = HEAP.load(Ordering::Relaxed).saturating_sub(heap_before);
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(live_before);
    let mem = engine.memory_used().saturating_sub(mem_before);
    let per_stream = heap as f64 / STREAMS as f64;
    let counted = mem as f64 / STREAMS as f64;
    let copy_before = HEAP.load(Ordering::Relaxed);
    let copies = labels.clone();
    let label_copy = HEAP.load(Ordering::Relaxed).saturating_sub(copy_before) as f64 / STREAMS as f64;
    drop(copies);
    eprintln!(
        "engine_streams: {STREAMS} streams: heap +{:.1} MiB = {per_stream:.0} B/stream in {:.1} live allocations/stream; \
         engine.memory_used() +{counted:.0} B/stream (unflushed data); overhead beyond it {:.0} B/stream ({:.2} KiB); \
         one copy of a stream's label set: {label_copy:.0} B",
        heap as f64 / (1 << 20) as f64,
        live as f64 / STREAMS as f64,
        per_stream - counted,
        (per_stream - counted) / 1024.0
    );
    println!("bytes per active stream (heap beyond unflushed data): {:.0}", per_stream - counted);
    engine.close().unwrap();
}

fn bench_streams(c: &mut Criterion) {
    measure_stream_memory();
    let tenant = TenantId::new("bench").unwrap();
    let labels = stream_set("pod", STREAMS);
    let mut g = c.benchmark_group("engine_streams");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(1));
    g.throughput(Throughput::Elements(STREAMS as u64));
    g.bench_function("create_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let engine = Engine::open(config(dir.path(), SyncMode::Never)).unwrap();
                let start = Instant::now();
                create_streams(&engine, &tenant, &labels);
                total += start.elapsed();
                engine.close().unwrap();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench_push, bench_flush, bench_streams);
criterion_main!(benches);
