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
