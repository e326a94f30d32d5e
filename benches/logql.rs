//! LogQL log-query throughput over stored chunks, next to the cost of
//! just decompressing the same chunks and searching their lines.
//!
//! Data (per chunk encoding, snappy and lz4): 8 streams `{app="x",
//! pod="p<i>"}` holding 64 MiB of the shared workload's mixed logfmt /
//! JSON / access-log lines (1 line in 2000 carries `needle`), and 8
//! streams `{app="j", pod="p<i>"}` holding 64 MiB of JSON access lines
//! (`status`, `latency_ms`, ...; 5% with a status >= 500), spread over one
//! hour. It is pushed into an [`Engine`] in a temporary directory (WAL
//! with `SyncMode::Never`), then `flush()`ed: every chunk is in the local
//! object store, and the first (untimed) query puts them all in the
//! engine's decoded-chunk cache, so the figures are for **stored and
//! cached** chunks (no file reads, no chunk parsing; block decompression
//! included).
//!
//! | bench | measures |
//! |---|---|
//! | `logql/<enc>/baseline_memmem/<n>t` | `Chunk::iter` over every chunk of `app="x"` (decompression + entry decoding) and `memchr::memmem` for `needle` on each line: the floor for a literal filter |
//! | `logql/<enc>/literal/<n>t` | `{app="x"} \|= "needle"` |
//! | `logql/<enc>/regex_ci/<n>t` | `{app="x"} \|~ "(?i)needle"` |
//! | `logql/<enc>/regex_alt3/<n>t` | `{app="x"} \|~ "needle\|panic\|fatal"` |
//! | `logql/<enc>/logfmt_level/<n>t` | `{app="x"} \| logfmt \| level="error"` |
//! | `logql/<enc>/json_status/<n>t` | `{app="j"} \| json \| status >= 500` |
//! | `logql/snappy/literal_unflushed/<n>t` | the literal query over the `app="x"` data pushed but not flushed (chunks and head blocks in memory) |
//!
//! Queries run backward over the whole range with a limit that never
//! stops them early; the time to free each answer is not counted. `<n>t` is the number of worker threads: `1t` gives
//! per-core figures, `2t` the total on this two-core machine. Throughput
//! is in raw (uncompressed) line bytes scanned per second.
//!
//! ```text
//! cargo bench --bench logql
//! cargo bench --bench logql -- 'snappy/literal'    # one query
//! LOGQL_BENCH_ENCODINGS=lz4 cargo bench --bench logql   # one encoding's data only
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::logql::eval::{LogEvaluator, LogQueryResult};
use lokistore::{Chunk, ChunkConfig, ChunkFormat, ChunkObject, Direction, Encoding, Entry, Labels, SyncMode, TenantId};

#[path = "common/workload.rs"]
mod workload;

/// Metric query throughput (`logql_metric/...`).
#[path = "logql_metric/cases.rs"]
mod metric;

use workload::{Rng, log_line};

/// Raw line bytes of each dataset.
const DATASET_BYTES: usize = 64 << 20;
/// Streams per dataset.
const STREAMS: usize = 8;
/// Entries per push request and stream.
const BATCH: usize = 2000;
/// First timestamp (ns): 2026-01-11T00:00:00Z.
const BASE_TS: i64 = 1_768_089_600_000_000_000;
/// The data spans one hour.
const SPAN_NS: i64 = 3_600_000_000_000;
/// A limit no query reaches.
const LIMIT: usize = 1 << 30;

/// A JSON access line like Loki's perf load's `busyjson` stream.
fn json_line(rng: &mut Rng, ts_ns: i64) -> String {
    const LEVELS: &[&str] = &["debug", "info", "info", "info", "warn", "error"];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    const PATHS: &[&str] =
        &["/api/v1/orders", "/api/v1/orders/8812", "/api/v1/users/login", "/healthz", "/metrics", "/api/v2/cart/items"];
    const OK: &[u32] = &[200, 200, 200, 200, 201, 204, 301, 304, 404, 400];
    const BAD: &[u32] = &[500, 502, 503, 504];
    let status = if rng.below(20) == 0 { BAD[rng.below(4) as usize] } else { OK[rng.below(10) as usize] };
    let secs = (ts_ns / 1_000_000_000) % 3600;
    let ms = (ts_ns / 1_000_000) % 1000;
    format!(
        "{{\"ts\":\"2026-01-11T00:{:02}:{:02}.{ms:03}Z\",\"level\":\"{}\",\"method\":\"{}\",\"path\":\"{}\",\
         \"status\":{status},\"latency_ms\":{},\"bytes\":{},\"user_id\":\"u-{}\",\"trace_id\":\"{}\",\
         \"region\":\"eu-west-1\"}}",
        secs / 60,
        secs % 60,
        rng.pick(LEVELS),
        rng.pick(METHODS),
        rng.pick(PATHS),
        rng.below(1000),
        rng.below(1 << 20),
        rng.below(100_000),
        rng.hex(16),
    )
}

/// A line of the mixed dataset: the shared workload, 1 in 2000 with
/// `needle` (as a logfmt pair or an access-log field, never inside JSON).
fn mixed_line(rng: &mut Rng, ts_ns: i64) -> String {
    let mut line = log_line(rng, ts_ns);
    if rng.below(2000) == 0 {
        if line.starts_with('{') {
            line.insert_str(1, "\"msg2\":\"needle found\",");
        } else {
            line.push_str(" note=needle");
        }
    }
    line
}

/// `STREAMS` streams of `app` with `DATASET_BYTES` of lines in total,
/// timestamps ascending over `SPAN_NS`.
fn dataset(app: &str, seed: u64, gen_line: fn(&mut Rng, i64) -> String) -> (Vec<(Labels, Vec<Entry>)>, u64) {
    let mut rng = Rng(seed | 1);
    let per_stream = DATASET_BYTES / STREAMS;
    let mut total = 0u64;
    let mut out = Vec::with_capacity(STREAMS);
    for s in 0..STREAMS {
        let labels = Labels::from_pairs([("app", app.to_owned()), ("pod", format!("p{s}"))]).expect("labels");
        // ~per_stream / 170 lines over the hour.
        let step = SPAN_NS / (per_stream as i64 / 170);
        let mut ts = BASE_TS + s as i64;
        let mut bytes = 0usize;
        let mut entries = Vec::new();
        while bytes < per_stream {
            let line = gen_line(&mut rng, ts);
            bytes += line.len();
            entries.push(Entry::new(ts, Bytes::from(line)));
            ts += 1 + rng.below(2 * step as u64) as i64;
        }
        total += bytes as u64;
        out.push((labels, entries));
    }
    (out, total)
}

/// An engine holding `sets`, chunks in `encoding`, flushed if `flush`.
fn load(dir: &Path, encoding: Encoding, sets: &[&[(Labels, Vec<Entry>)]], flush: bool) -> Engine {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.wal.checkpoint_interval = None;
    c.limits.creation_grace_period = None;
    c.limits.ingestion_rate_bytes = None;
    c.limits.per_stream_rate_bytes = None;
    c.stream.chunk = ChunkConfig::new(ChunkFormat::V4, encoding);
    c.chunk_cache_bytes = 1 << 30;
    let engine = Engine::open(c).expect("open");
    let tenant = tenant();
    for set in sets {
        for (labels, entries) in set.iter() {
            for batch in entries.chunks(BATCH) {
                let res = engine.push(&tenant, vec![PushStream::new(labels.clone(), batch.to_vec())]).expect("push");
                assert_eq!(res.accepted(), batch.len());
            }
        }
    }
    if !flush {
        return engine;
    }
    let stats = engine.flush().expect("flush");
    eprintln!(
        "logql {}: {} chunks, {:.1} MiB of chunk objects",
        encoding.name(),
        stats.chunks,
        stats.chunk_bytes as f64 / (1 << 20) as f64
    );
    engine
}

fn tenant() -> TenantId {
    TenantId::new("bench").expect("tenant")
}

/// The stored chunks of the streams with `app="x"`, decoded.
fn stored_chunks(dir: &Path) -> Vec<Chunk> {
    fn walk(p: &Path, out: &mut Vec<Chunk>) {
        for e in std::fs::read_dir(p).expect("read_dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
                continue;
            }
            let Ok(obj) = ChunkObject::decode(Bytes::from(std::fs::read(&path).expect("read"))) else { continue };
            if obj.labels.get("app") == Some("x") {
                out.push(Chunk::from_bytes(obj.data).expect("chunk"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("store").join("bench"), &mut out);
    out
}

/// The baseline: decompress and memmem every line of `chunks`, split
/// over `threads` threads. Returns (lines with the needle, line bytes).
fn baseline(chunks: &[Chunk], threads: usize) -> (usize, u64) {
    let finder = memchr::memmem::Finder::new(b"needle");
    let per = chunks.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .chunks(per.max(1))
            .map(|part| {
                let finder = &finder;
                s.spawn(move || {
                    let (mut hits, mut bytes) = (0usize, 0u64);
                    for c in part {
                        let mut it = c.iter(i64::MIN, i64::MAX, Direction::Backward);
                        while let Some(e) = it.next() {
                            let line = e.expect("entry").line;
                            bytes += line.len() as u64;
                            hits += usize::from(finder.find(line).is_some());
                        }
                    }
                    (hits, bytes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("join")).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    })
}

/// Runs `query` with `threads` workers.
fn query(engine: &Engine, query: &str, threads: usize) -> LogQueryResult {
    LogEvaluator::new(engine)
        .with_threads(threads)
        .query_logs(&tenant(), query, BASE_TS - 1, BASE_TS + 2 * SPAN_NS, Direction::Backward, LIMIT)
        .expect("query")
}

/// Output lines and bytes processed of `query`.
fn run(engine: &Engine, q: &str, threads: usize) -> (usize, u64) {
    let res = query(engine, q, threads);
    (res.streams.iter().map(|s| s.entries.len()).sum(), res.bytes_processed)
}

/// Times `iters` runs of `query`; freeing each answer (which for the
/// parser queries holds thousands of output streams) is left out.
fn time_query(engine: &Engine, q: &str, threads: usize, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let res = black_box(query(engine, q, threads));
        total += start.elapsed();
        drop(res);
    }
    total
}

const QUERIES: &[(&str, &str)] = &[
    ("literal", r#"{app="x"} |= "needle""#),
    ("regex_ci", r#"{app="x"} |~ "(?i)needle""#),
    ("regex_alt3", r#"{app="x"} |~ "needle|panic|fatal""#),
    ("logfmt_level", r#"{app="x"} | logfmt | level="error""#),
    ("json_status", r#"{app="j"} | json | status >= 500"#),
];

fn bench_logql(c: &mut Criterion) {
    let (mixed, mixed_bytes) = dataset("x", 0x5eed_0001, mixed_line);
    let (json, json_bytes) = dataset("j", 0x5eed_0002, json_line);
    eprintln!(
        "logql: app=x {:.1} MiB in {} lines, app=j {:.1} MiB in {} lines",
        mixed_bytes as f64 / (1 << 20) as f64,
        mixed.iter().map(|s| s.1.len()).sum::<usize>(),
        json_bytes as f64 / (1 << 20) as f64,
        json.iter().map(|s| s.1.len()).sum::<usize>(),
    );
    let thread_counts = [1usize, 2];
    let mut g = c.benchmark_group("logql");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    // `LOGQL_BENCH_ENCODINGS=snappy` (names, comma-separated) sets up only
    // those engines, e.g. to profile one query.
    let only = std::env::var("LOGQL_BENCH_ENCODINGS").ok();
    for encoding in [Encoding::Snappy, Encoding::Lz4_4M] {
        if only.as_deref().is_some_and(|o| !o.split(',').any(|n| n.trim() == encoding.name())) {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = load(dir.path(), encoding, &[&mixed, &json], true);
        let chunks = stored_chunks(dir.path());
        let (needles, bytes) = baseline(&chunks, 1);
        assert_eq!(bytes, mixed_bytes);
        let enc = encoding.name();
        for threads in thread_counts {
            g.throughput(Throughput::Bytes(mixed_bytes));
            g.bench_function(format!("{enc}/baseline_memmem/{threads}t"), |b| {
                b.iter(|| black_box(baseline(&chunks, threads)))
            });
        }
        for &(name, query) in QUERIES {
            let expect_bytes = if query.contains("app=\"j\"") { json_bytes } else { mixed_bytes };
            // Untimed: fills the chunk cache, checks the data scanned.
            let (lines, scanned) = run(&engine, query, 1);
            assert_eq!(scanned, expect_bytes, "{name}");
            if name == "literal" {
                assert_eq!(lines, needles);
            }
            eprintln!("logql {enc}/{name}: {lines} lines out");
            for threads in thread_counts {
                assert_eq!(run(&engine, query, threads).0, lines, "{name} with {threads} threads");
                g.throughput(Throughput::Bytes(expect_bytes));
                g.bench_function(format!("{enc}/{name}/{threads}t"), |b| {
                    b.iter_custom(|iters| time_query(&engine, query, threads, iters))
                });
            }
        }
        engine.close().expect("close");
        if encoding == Encoding::Snappy {
            // The literal query over the same lines not flushed: chunks
            // and head blocks in memory.
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = load(dir.path(), encoding, &[&mixed], false);
            let q = QUERIES[0].1;
            assert_eq!(run(&engine, q, 1), (needles, mixed_bytes));
            for threads in thread_counts {
                g.throughput(Throughput::Bytes(mixed_bytes));
                g.bench_function(format!("{enc}/literal_unflushed/{threads}t"), |b| {
                    b.iter_custom(|iters| time_query(&engine, q, threads, iters))
                });
            }
            engine.close().expect("close");
        }
    }
    g.finish();
}

criterion_group!(benches, bench_logql, metric::bench_metric);
criterion_main!(benches);
