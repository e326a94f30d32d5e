//! Metric query throughput (a module of `benches/logql.rs`): range
//! queries over one hour of data held by an engine, flushed to its local
//! store and in its decoded-chunk cache after the first (untimed) run.
//!
//! Data: 8 streams `{app="bench", kind="logfmt"|"json", pod="pod-<i>"}`
//! at 40 lines per second each (1.15 M lines, ~120 MB of raw lines): the
//! shared workload's logfmt / access-log lines in the `logfmt` streams,
//! JSON lines with `level`, `took` (seconds) and `status` in the `json`
//! ones; snappy chunks with Loki's block and chunk sizes.
//!
//! | bench | query (range query over the hour, step 1m unless said) |
//! |---|---|
//! | `logql_metric/count_over_time/<n>t` | `count_over_time({app="bench"}[1m])` (counted from block metas) |
//! | `logql_metric/count_over_time_5m/<n>t` | `count_over_time({app="bench"}[5m])`, step 5m (windows wider than blocks) |
//! | `logql_metric/sum_by_level_logfmt/<n>t` | `sum by (level) (count_over_time({app="bench", kind="logfmt"} \| logfmt [1m]))` |
//! | `logql_metric/rate_filter/<n>t` | `rate({app="bench"} \|= "error" [5m])` |
//! | `logql_metric/quantile_json_unwrap/<n>t` | `quantile_over_time(0.99, {app="bench", kind="json"} \| json \| unwrap took [5m])` |
//!
//! Throughput is raw line bytes of the selected streams per second;
//! `<n>t` is the number of worker threads (`1t`: per core). Output points
//! per second are printed once per query and thread count.
//!
//! ```text
//! cargo bench --bench logql -- metric
//! cargo bench --bench logql -- metric/count_over_time
//! ```

use std::cell::OnceCell;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::logql::eval::metric::{MetricLimits, MetricResult, query_metric};
use lokistore::{Entry, Labels, SyncMode, TenantId};

use super::workload::{Rng, log_line};

/// 2024-01-15T10:00:00Z.
const T0: i64 = 1_705_312_800_000_000_000;
const HOUR: i64 = 3_600_000_000_000;
const STREAMS: usize = 8;
/// Lines per second per stream.
const RATE: i64 = 40;

/// Stream `s`'s labels and lines (deterministic).
fn stream_lines(s: usize, mut f: impl FnMut(i64, String)) -> Labels {
    let kind = if s.is_multiple_of(2) { "logfmt" } else { "json" };
    let labels: Labels = format!("{{app=\"bench\", kind=\"{kind}\", pod=\"pod-{s}\"}}").parse().expect("labels");
    let mut rng = Rng(7 + s as u64);
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
        f(ts, line);
        ts += 1_000_000_000 / RATE;
    }
    labels
}

/// Raw line bytes of the `logfmt` and the `json` streams.
fn dataset_bytes() -> (u64, u64) {
    let (mut logfmt, mut json) = (0u64, 0u64);
    for s in 0..STREAMS {
        let total = if s.is_multiple_of(2) { &mut logfmt } else { &mut json };
        stream_lines(s, |_, l| *total += l.len() as u64);
    }
    (logfmt, json)
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    tenant: TenantId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = EngineConfig::new(dir.path());
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    c.limits.max_line_size = 0;
    c.chunk_cache_bytes = 1 << 30;
    let engine = Engine::open(c).expect("open");
    let tenant = TenantId::new("bench").expect("tenant");
    for s in 0..STREAMS {
        let mut batch = Vec::with_capacity(10_000);
        let labels = stream_lines(s, |ts, line| batch.push(Entry::new(ts, line)));
        for part in batch.chunks(10_000) {
            engine.push(&tenant, vec![PushStream::new(labels.clone(), part.to_vec())]).expect("push");
        }
    }
    engine.flush().expect("flush");
    Fixture { _dir: dir, engine, tenant }
}

fn points(r: &MetricResult) -> usize {
    match r {
        MetricResult::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
        MetricResult::Vector(v) => v.len(),
        MetricResult::Scalar { .. } => 1,
    }
}

/// The metric query benches (see the module comment).
pub fn bench_metric(c: &mut Criterion) {
    let (logfmt, json) = dataset_bytes();
    const MINUTE: u64 = 60;
    let queries: [(&str, &str, u64, u64); 5] = [
        ("count_over_time", r#"count_over_time({app="bench"}[1m])"#, logfmt + json, MINUTE),
        // Windows wider than a block's time span: most blocks are counted
        // from their metadata alone.
        ("count_over_time_5m", r#"count_over_time({app="bench"}[5m])"#, logfmt + json, 5 * MINUTE),
        (
            "sum_by_level_logfmt",
            r#"sum by (level) (count_over_time({app="bench", kind="logfmt"} | logfmt [1m]))"#,
            logfmt,
            MINUTE,
        ),
        ("rate_filter", r#"rate({app="bench"} |= "error" [5m])"#, logfmt + json, MINUTE),
        (
            "quantile_json_unwrap",
            r#"quantile_over_time(0.99, {app="bench", kind="json"} | json | unwrap took [5m])"#,
            json,
            MINUTE,
        ),
    ];
    // Built by the first bench that runs, so filtering them all out costs
    // nothing but the byte count above.
    let data: OnceCell<Fixture> = OnceCell::new();
    let mut g = c.benchmark_group("logql_metric");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, q, bytes, step) in queries {
        for threads in [1, 2] {
            let limits = MetricLimits { threads, ..MetricLimits::default() };
            let run = |f: &Fixture| {
                query_metric(&f.engine, &f.tenant, q, T0, T0 + HOUR, Duration::from_secs(step), &limits).expect("query")
            };
            let mut reported = false;
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function(format!("{name}/{threads}t"), |b| {
                let f = data.get_or_init(fixture);
                if !reported {
                    // Warm the chunk cache, and report points per second once.
                    let _ = run(f);
                    let start = Instant::now();
                    let r = run(f);
                    let secs = start.elapsed().as_secs_f64();
                    eprintln!(
                        "logql_metric/{name}/{threads}t: {} points, {:.0} points/s, {:.1} MB/s raw ({:.1} MB/s per thread)",
                        points(&r),
                        points(&r) as f64 / secs,
                        bytes as f64 / secs / 1e6,
                        bytes as f64 / secs / 1e6 / threads as f64,
                    );
                    reported = true;
                }
                b.iter(|| run(f))
            });
        }
    }
    g.finish();
}
