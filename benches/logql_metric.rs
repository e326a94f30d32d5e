//! Metric query throughput over one hour of data held by an engine
//! (flushed to a local store, chunks cached after the first run).
//!
//! Reported per query as raw line bytes scanned per second (criterion's
//! `Throughput::Bytes`), plus the output points per second printed once.
//! Queries, each a range query over the hour:
//!
//! * `count_over_time({app="bench"}[1m])`, step 1m (no pipeline);
//! * `sum by (level) (count_over_time({app="bench"} | logfmt [1m]))`, step 1m;
//! * `rate({app="bench"} |= "error" [5m])`, step 1m;
//! * `quantile_over_time(0.99, {app="bench", kind="json"} | json | unwrap took [5m])`, step 1m.
//!
//! Run: `cargo bench --bench logql_metric`.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::logql::eval::metric::{MetricLimits, MetricResult, query_metric};
use lokistore::{Entry, Labels, SyncMode, TenantId};

#[path = "common/workload.rs"]
mod workload;

use workload::{Rng, log_line};

/// 2024-01-15T10:00:00Z.
const T0: i64 = 1_705_312_800_000_000_000;
const HOUR: i64 = 3_600_000_000_000;
const STREAMS: usize = 8;
/// Lines per second per stream: 8 x 40 x 3600 = 1.15 M lines (~150 MB).
const RATE: i64 = 40;

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    tenant: TenantId,
    logfmt_bytes: u64,
    json_bytes: u64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut c = EngineConfig::new(dir.path());
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    c.limits.max_line_size = 0;
    c.chunk_cache_bytes = 1 << 30;
    let engine = Engine::open(c).unwrap();
    let tenant = TenantId::new("bench").unwrap();
    let mut rng = Rng(7);
    let (mut logfmt_bytes, mut json_bytes) = (0u64, 0u64);
    let step = 1_000_000_000 / RATE;
    for s in 0..STREAMS {
        let kind = if s % 2 == 0 { "logfmt" } else { "json" };
        let labels: Labels = format!("{{app=\"bench\", kind=\"{kind}\", pod=\"pod-{s}\"}}").parse().unwrap();
        let mut batch = Vec::with_capacity(10_000);
        let mut ts = T0 + s as i64;
        while ts < T0 + HOUR {
            let line = if kind == "json" {
                format!(
                    "{{\"level\":\"{}\",\"msg\":\"request served\",\"took\":{}.{:03},\"status\":{}}}",
                    ["info", "info", "warn", "error"][rng.below(4) as usize],
                    rng.below(3),
                    rng.below(1000),
                    [200, 200, 404, 500][rng.below(4) as usize]
                )
            } else {
                let mut l = log_line(&mut rng, ts);
                while l.starts_with('{') {
                    l = log_line(&mut rng, ts);
                }
                l
            };
            if kind == "json" {
                json_bytes += line.len() as u64;
            } else {
                logfmt_bytes += line.len() as u64;
            }
            batch.push(Entry::new(ts, line));
            if batch.len() == 10_000 {
                engine.push(&tenant, vec![PushStream::new(labels.clone(), std::mem::take(&mut batch))]).unwrap();
            }
            ts += step;
        }
        engine.push(&tenant, vec![PushStream::new(labels, batch)]).unwrap();
    }
    engine.flush().unwrap();
    Fixture { _dir: dir, engine, tenant, logfmt_bytes, json_bytes }
}

fn points(r: &MetricResult) -> usize {
    match r {
        MetricResult::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
        MetricResult::Vector(v) => v.len(),
        MetricResult::Scalar { .. } => 1,
    }
}

fn bench_metric(c: &mut Criterion) {
    let f = fixture();
    let all = f.logfmt_bytes + f.json_bytes;
    let queries: [(&str, &str, u64); 4] = [
        ("count_over_time", r#"count_over_time({app="bench"}[1m])"#, all),
        (
            "sum_by_level_logfmt",
            r#"sum by (level) (count_over_time({app="bench", kind="logfmt"} | logfmt [1m]))"#,
            f.logfmt_bytes,
        ),
        ("rate_filter", r#"rate({app="bench"} |= "error" [5m])"#, all),
        (
            "quantile_json_unwrap",
            r#"quantile_over_time(0.99, {app="bench", kind="json"} | json | unwrap took [5m])"#,
            f.json_bytes,
        ),
    ];
    let limits = MetricLimits::default();
    let mut g = c.benchmark_group("logql_metric");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, q, bytes) in queries {
        let run = || query_metric(&f.engine, &f.tenant, q, T0, T0 + HOUR, Duration::from_secs(60), &limits).unwrap();
        // Warm the chunk cache, and report points per second once.
        let _ = run();
        let start = Instant::now();
        let r = run();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{name}: {} points, {:.0} points/s, {:.1} MB/s raw",
            points(&r),
            points(&r) as f64 / secs,
            bytes as f64 / secs / 1e6
        );
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(name, |b| b.iter(run));
    }
    g.finish();
}

criterion_group!(benches, bench_metric);
criterion_main!(benches);
