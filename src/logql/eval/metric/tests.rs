//! Unit tests of the metric evaluator over a small in-memory engine.

use std::time::Duration;

use super::range_agg::quantile;
use super::{MetricError, MetricLimits, MetricResult, query_metric};
use crate::engine::{Engine, EngineConfig, PushStream};
use crate::{Entry, Labels, SyncMode, TenantId};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_767_225_600 * S;

fn engine(dir: &std::path::Path) -> (Engine, TenantId) {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    let e = Engine::open(c).unwrap();
    let t = TenantId::new("t").unwrap();
    for (labels, line) in [(r#"{app="a", pod="1"}"#, "v=1"), (r#"{app="a", pod="2"}"#, "v=x")] {
        let entries = (0..6).map(|i| Entry::new(T0 + i * 10 * S, line)).collect();
        e.push(&t, vec![PushStream::new(Labels::parse(labels).unwrap(), entries)]).unwrap();
    }
    (e, t)
}

fn instant(e: &Engine, t: &TenantId, q: &str, at: i64) -> Result<MetricResult, MetricError> {
    query_metric(e, t, q, T0 + at, T0 + at, Duration::ZERO, &MetricLimits::default())
}

#[test]
fn pipeline_error_fails_unless_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t) = engine(dir.path());
    let err = instant(&e, &t, r#"sum_over_time({app="a"} | logfmt | unwrap v [1m])"#, 50 * S).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\""),
        "{msg}"
    );
    assert!(err.is_client_error());
    let ok = instant(&e, &t, r#"sum_over_time({app="a"} | logfmt | unwrap v | __error__="" [1m])"#, 50 * S).unwrap();
    let MetricResult::Vector(v) = ok else { panic!("{ok:?}") };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].value, 6.0);
}

#[test]
fn series_limit_and_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t) = engine(dir.path());
    let limits = MetricLimits { max_series: 1, ..MetricLimits::default() };
    let q = r#"count_over_time({app="a"}[1m])"#;
    let err = query_metric(&e, &t, q, T0 + 50 * S, T0 + 50 * S, Duration::ZERO, &limits).unwrap_err();
    assert!(matches!(err, MetricError::SeriesLimit { limit: 1 }));
    let err = query_metric(&e, &t, q, T0, T0 + 60 * S, Duration::from_secs(10), &limits).unwrap_err();
    assert!(matches!(err, MetricError::SeriesLimit { limit: 1 }));
    let err = query_metric(&e, &t, q, 0, T0, Duration::from_secs(1), &MetricLimits::default()).unwrap_err();
    assert!(err.to_string().contains("11,000 points"), "{err}");
    let err = query_metric(
        &e,
        &t,
        "approx_topk(1, count_over_time({app=\"a\"}[1m]))",
        T0,
        T0 + 60 * S,
        Duration::from_secs(10),
        &MetricLimits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("only supported on instant queries"));
}

#[test]
fn scalar_vector_and_matrix_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t) = engine(dir.path());
    assert_eq!(instant(&e, &t, "1 + 1", 0).unwrap(), MetricResult::Scalar { timestamp_ms: T0 / 1_000_000, value: 2.0 });
    let r = query_metric(
        &e,
        &t,
        r#"count_over_time({app="a", pod="1"}[10s])"#,
        T0 + 5 * S,
        T0 + 25 * S,
        Duration::from_secs(10),
        &MetricLimits::default(),
    )
    .unwrap();
    let MetricResult::Matrix(m) = r else { panic!("{r:?}") };
    // Aligned to the step: evaluations at 0s, 10s, 20s, 30s.
    assert_eq!(
        m[0].points,
        vec![
            (T0 / 1_000_000, 1.0),
            (T0 / 1_000_000 + 10_000, 1.0),
            (T0 / 1_000_000 + 20_000, 1.0),
            (T0 / 1_000_000 + 30_000, 1.0)
        ]
    );
}

#[test]
fn quantiles() {
    let mut scratch = Vec::new();
    assert_eq!(quantile(0.5, &[3.0, 1.0, 2.0], &mut scratch), 2.0);
    assert_eq!(quantile(0.75, &[1.0, 2.0], &mut scratch), 1.75);
    assert_eq!(quantile(-1.0, &[1.0], &mut scratch), f64::NEG_INFINITY);
    assert_eq!(quantile(2.0, &[1.0], &mut scratch), f64::INFINITY);
    assert!(quantile(0.5, &[], &mut scratch).is_nan());
}

/// Entries of the block-path tests: per stream, timestamps placed so that
/// blocks (five entries each) start, end or straddle window edges at,
/// just before and just after multiples of 10s.
fn block_layouts() -> Vec<(&'static str, Vec<i64>)> {
    let every = |gap: i64, shift: i64, n: i64| (0..n).map(move |k| T0 + k * gap + shift).collect::<Vec<_>>();
    vec![
        (r#"{app="b", pod="at"}"#, every(2 * S, 0, 120)),
        (r#"{app="b", pod="before"}"#, every(2 * S, -1, 120)),
        (r#"{app="b", pod="after"}"#, every(2 * S, 1, 120)),
        (r#"{app="b", pod="odd"}"#, every(1_700_000_000, 300_000_000, 140)),
        (r#"{app="b", pod="dense"}"#, every(S / 4, 0, 600)),
        (r#"{app="b", pod="sparse"}"#, (0..40).map(|k| T0 + k * k * 150_000_000).collect()),
    ]
}

/// An engine with the block layouts: the first part of every stream
/// flushed to the store, the rest in memory (cut blocks and a head);
/// plus a stream whose memory chunk overlaps its stored one, a stream
/// with structured metadata, and a stream with a delete request.
fn block_engine(dir: &std::path::Path) -> (Engine, TenantId, Vec<(String, Vec<i64>)>) {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    // Five 40-byte lines per block.
    c.stream.chunk.block_size = 200;
    let e = Engine::open(c).unwrap();
    let t = TenantId::new("t").unwrap();
    let line = |ts: i64| format!("line at {:>20} padding..", ts - T0);
    let push = |labels: &str, ts: &[i64], md: bool| {
        let entries = ts
            .iter()
            .map(|&ts| {
                if md {
                    let v = if ts % 3 == 0 { "x" } else { "y" };
                    Entry::with_metadata(ts, line(ts), vec![crate::labels::Label::new("trace", v)])
                } else {
                    Entry::new(ts, line(ts))
                }
            })
            .collect();
        let r = e.push(&t, vec![PushStream::new(Labels::parse(labels).unwrap(), entries)]).unwrap();
        assert_eq!(r.accepted(), ts.len(), "{labels}");
    };
    let mut all = Vec::new();
    let mut layouts = block_layouts();
    layouts.push((r#"{app="b", pod="meta"}"#, (0..100).map(|k| T0 + k * 2 * S + (k % 3)).collect()));
    layouts.push((r#"{app="b", pod="deleted"}"#, (0..100).map(|k| T0 + k * 2 * S).collect()));
    for (labels, ts) in &layouts {
        push(labels, &ts[..ts.len() / 2], labels.contains("meta"));
    }
    e.flush().unwrap();
    for (labels, ts) in &layouts {
        push(labels, &ts[ts.len() / 2..], labels.contains("meta"));
        all.push(((*labels).to_owned(), ts.clone()));
    }
    // Overlapping the stored chunk of "at": read merged and de-duplicated.
    let extra: Vec<i64> = (0..20).map(|k| T0 + 30 * S + k * 3 * S + 7).collect();
    push(r#"{app="b", pod="at"}"#, &extra, false);
    if let Some(at) = all.iter_mut().find(|(l, _)| l.contains("\"at\"")) {
        at.1.extend(&extra);
        at.1.sort_unstable();
    }
    let req = e.add_delete_request(&t, r#"{pod="deleted"}"#, T0 + 50 * S, T0 + 150 * S);
    assert!(req.is_ok(), "{req:?}");
    (e, t, all)
}

fn run(e: &Engine, t: &TenantId, q: &str, grid: (i64, i64, Duration), blocks: bool, threads: usize) -> MetricResult {
    let crate::logql::Expr::Sample(expr) = crate::logql::parse_expr(q).unwrap() else { panic!("{q}") };
    let limits = MetricLimits { align_to_step: false, threads, max_series: 0 };
    super::eval_with(e, t, &expr, grid, &limits, blocks).unwrap()
}

/// Counting from block metas answers exactly what reading every line
/// answers, on any number of threads, for window edges falling at, just
/// before and just after block bounds, range and instant queries, offsets,
/// stored chunks, memory blocks and heads.
#[test]
fn block_counts_equal_line_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t, all) = block_engine(dir.path());
    let before = super::extract::BLOCKS_COUNTED.load(std::sync::atomic::Ordering::Relaxed);
    let queries = [
        r#"count_over_time({app="b"}[10s])"#,
        r#"count_over_time({app="b"}[10s] offset 3s)"#,
        r#"count_over_time({app="b"}[25s] offset -4s)"#,
        r#"rate({app="b"}[30s])"#,
        r#"sum by (pod) (rate({app="b"}[7s] offset 1s))"#,
        r#"sum(count_over_time({app="b"}[10s]))"#,
        r#"count(count_over_time({app="b"}[5s]))"#,
        r#"count_over_time({app="b", pod=~"at|before|after"}[1m])"#,
        r#"absent_over_time({app="b", pod="sparse"}[3s])"#,
        r#"bytes_over_time({app="b"}[10s])"#,
    ];
    let grids = [
        (T0, T0 + 300 * S, Duration::from_secs(10)),
        (T0 + 5 * S, T0 + 250 * S, Duration::from_secs(7)),
        (T0 - 20 * S, T0 + 400 * S, Duration::from_secs(60)),
        (T0 + 1, T0 + 200 * S, Duration::from_millis(2500)),
        (T0 + 40 * S, T0 + 40 * S, Duration::ZERO),
        (T0 + 40 * S + 1, T0 + 40 * S + 1, Duration::ZERO),
        (T0 + 40 * S - 1, T0 + 40 * S - 1, Duration::ZERO),
        (T0 + 205 * S, T0 + 205 * S, Duration::ZERO),
    ];
    for q in queries {
        for grid in grids {
            let want = run(&e, &t, q, grid, false, 1);
            assert_eq!(run(&e, &t, q, grid, true, 1), want, "{q} {grid:?}");
            assert_eq!(run(&e, &t, q, grid, true, 3), want, "{q} {grid:?}");
            assert_eq!(run(&e, &t, q, grid, false, 2), want, "{q} {grid:?}");
        }
    }
    assert!(super::extract::BLOCKS_COUNTED.load(std::sync::atomic::Ordering::Relaxed) > before);

    // Against counting the pushed timestamps, window by window.
    for (labels, ts) in &all {
        if labels.contains("deleted") {
            continue;
        }
        let sel = labels.replace("{app=\"b\", ", "{");
        for (range, offset) in [(10, 0), (10, 3), (25, -4), (60, 0)] {
            let q = format!("count_over_time({sel}[{range}s] offset {offset}s)");
            for (start, end, step) in grids {
                let got = run(&e, &t, &q, (start, end, step), true, 0);
                let grid = super::steps::Grid::new(start, end, step);
                let want: Vec<(i64, f64)> = grid
                    .times()
                    .filter_map(|at| {
                        let hi = at - offset * S;
                        let n = ts.iter().filter(|&&x| x > hi - range * S && x <= hi).count();
                        (n > 0).then_some((at / 1_000_000, n as f64))
                    })
                    .collect();
                let got: Vec<(i64, f64)> = match got {
                    MetricResult::Matrix(m) => m.into_iter().flat_map(|s| s.points).collect(),
                    MetricResult::Vector(v) => v.into_iter().map(|s| (s.timestamp_ms, s.value)).collect(),
                    other => panic!("{other:?}"),
                };
                assert_eq!(got, want, "{q} {start} {end} {step:?}");
            }
        }
    }
}

/// Queries with parsers (label keys in the builder's order resolved to
/// sorted ones, `by`, `without`, full label sets, unwrapped values whose
/// order matters) give the same answer on one thread and on several.
#[test]
fn parsed_series_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t, _) = block_engine(dir.path());
    let queries = [
        r#"count_over_time({app="b"} | regexp "(?P<d>[0-9]) padding" [10s])"#,
        r#"sum without (pod) (count_over_time({app="b"} | regexp "(?P<d>[0-9]) padding" [10s]))"#,
        r#"sum by (d, trace) (bytes_rate({app="b"} | regexp "(?P<d>[0-9]) padding" [30s]))"#,
        r#"first_over_time({app="b"} | regexp "(?P<d>[0-9]) padding" | unwrap d [20s]) by (d)"#,
        r#"last_over_time({app="b"} | regexp "(?P<d>[0-9]) padding" | unwrap d [20s]) without (pod)"#,
        r#"avg_over_time({app="b"} | regexp "at +(?P<v>[0-9]+)" | unwrap v [20s]) by (trace)"#,
        r#"quantile_over_time(0.9, {app="b"} | regexp "at +(?P<v>[0-9]+)" | unwrap v [1m]) by (pod)"#,
    ];
    for q in queries {
        for grid in [(T0, T0 + 300 * S, Duration::from_secs(10)), (T0 + 100 * S, T0 + 100 * S, Duration::ZERO)] {
            let want = run(&e, &t, q, grid, true, 1);
            match &want {
                MetricResult::Matrix(m) => assert!(!m.is_empty(), "{q}"),
                MetricResult::Vector(v) => assert!(!v.is_empty(), "{q}"),
                MetricResult::Scalar { .. } => panic!("{q}"),
            }
            assert_eq!(run(&e, &t, q, grid, true, 3), want, "{q} {grid:?}");
            assert_eq!(run(&e, &t, q, grid, false, 2), want, "{q} {grid:?}");
        }
    }
}
