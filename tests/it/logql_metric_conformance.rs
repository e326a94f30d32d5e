//! Runs the metric queries of `../shared/conformance/queries.jsonl` (range
//! and instant requests whose recorded answer is a matrix, vector or
//! scalar, or an error) against an engine holding the conformance dataset,
//! and compares series labels, timestamps and values (relative tolerance
//! 1e-9) with the answers Grafana Loki gave. Prints `N passed, N failed`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lokistore::logql::eval::metric::{MetricLimits, MetricResult, query_metric};
use lokistore::logql::log::parse_go_duration;
use lokistore::{Label, TenantId};
use serde_json::Value;

use crate::conformance_data::{load_engine, parse_time, read_jsonl};

pub fn parse_step(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1e9) as i64),
        Value::String(s) => {
            Some(parse_go_duration(s).ok().unwrap_or_else(|| s.parse::<f64>().map_or(0, |x| (x * 1e9) as i64)))
        }
        _ => None,
    }
}

/// Label set → points `(ms, value)`.
pub type Answer = Vec<(BTreeMap<String, String>, Vec<(i64, f64)>)>;

fn golden_point(p: &Value) -> (i64, f64) {
    let ts = p[0].as_f64().unwrap();
    let v = match p[1].as_str().unwrap() {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        s => s.parse().unwrap(),
    };
    ((ts * 1000.0).round() as i64, v)
}

pub fn golden_answer(data: &Value) -> Answer {
    let metric = |m: &Value| -> BTreeMap<String, String> {
        m.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()
    };
    match data["resultType"].as_str() {
        Some("scalar") => vec![(BTreeMap::new(), vec![golden_point(&data["result"])])],
        Some("vector") => data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (metric(&s["metric"]), vec![golden_point(&s["value"])]))
            .collect(),
        _ => data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (metric(&s["metric"]), s["values"].as_array().unwrap().iter().map(golden_point).collect()))
            .collect(),
    }
}

fn our_answer(r: &MetricResult) -> (&'static str, Answer) {
    let metric = |l: &[Label]| l.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    match r {
        MetricResult::Scalar { timestamp_ms, value } => {
            ("scalar", vec![(BTreeMap::new(), vec![(*timestamp_ms, *value)])])
        }
        MetricResult::Vector(v) => {
            ("vector", v.iter().map(|s| (metric(&s.labels), vec![(s.timestamp_ms, s.value)])).collect())
        }
        MetricResult::Matrix(m) => ("matrix", m.iter().map(|s| (metric(&s.labels), s.points.clone())).collect()),
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn same_series(
    a: &(BTreeMap<String, String>, Vec<(i64, f64)>),
    b: &(BTreeMap<String, String>, Vec<(i64, f64)>),
) -> bool {
    a.0 == b.0 && a.1.len() == b.1.len() && a.1.iter().zip(&b.1).all(|(x, y)| x.0 == y.0 && close(x.1, y.1))
}

/// `None` when our answer (`ours_type`, `ours`) matches Loki's
/// (`want_type`, `want`), else what differs. Series order counts only for
/// an instant query whose outermost function is `sort` / `sort_desc`.
pub fn diff_answers(
    kind: &str,
    query: &str,
    want_type: Option<&str>,
    ours_type: &str,
    mut want: Answer,
    mut ours: Answer,
) -> Option<String> {
    let outer = lokistore::logql::parse_expr(query).ok();
    let ordered = kind == "instant"
        && matches!(&outer, Some(lokistore::logql::Expr::Sample(lokistore::logql::SampleExpr::VectorAggregation(v)))
            if matches!(v.op, lokistore::logql::VectorOp::Sort | lokistore::logql::VectorOp::SortDesc));
    if !ordered {
        want.sort_by(|a, b| a.0.cmp(&b.0));
        ours.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let ok = Some(ours_type) == want_type
        && want.len() == ours.len()
        && want.iter().zip(&ours).all(|(a, b)| same_series(a, b));
    if ok {
        return None;
    }
    let first = want
        .iter()
        .zip(&ours)
        .find(|(a, b)| !same_series(a, b))
        .map(|(a, b)| format!("\n      want {a:?}\n      got  {b:?}"))
        .unwrap_or_default();
    let keys = |s: &Answer| s.iter().map(|x| x.0.clone()).collect::<BTreeSet<_>>();
    Some(format!(
        "{} {} series expected, {ours_type} {} got (labels equal: {}){first}",
        want_type.unwrap_or("?"),
        want.len(),
        ours.len(),
        keys(&want) == keys(&ours)
    ))
}

#[test]
fn conformance_metric_queries_match_loki() {
    let dir = tempfile::tempdir().unwrap();
    let engine = load_engine(dir.path());
    let tenant = TenantId::new("conformance").unwrap();
    let limits = MetricLimits { max_series: 100_000, ..MetricLimits::default() };
    let golden: BTreeMap<String, Value> =
        read_jsonl("golden.jsonl").into_iter().map(|g| (g["id"].as_str().unwrap().to_owned(), g)).collect();
    let (mut passed, mut failed) = (0usize, Vec::new());
    for q in read_jsonl("queries.jsonl") {
        let id = q["id"].as_str().unwrap().to_owned();
        let Some(g) = golden.get(&id) else { continue };
        let kind = q["kind"].as_str().unwrap();
        if !matches!(kind, "range" | "instant") || q.get("tenant").is_some() {
            continue;
        }
        let status = g["status"].as_u64().unwrap();
        let result_type = g["body"]["data"]["resultType"].as_str();
        if status < 400 && !matches!(result_type, Some("matrix" | "vector" | "scalar")) {
            continue;
        }
        let query = q["query"].as_str().unwrap();
        let (start, end, step) = if kind == "instant" {
            let t = parse_time(&q["time"]);
            (t, t, Some(0))
        } else {
            let (s, e) = (parse_time(&q["start"]), parse_time(&q["end"]));
            // Loki's default step: the range / 250, at least one second.
            let default = ((e - s) / 1_000_000_000 / 250).max(1) * 1_000_000_000;
            (s, e, parse_step(&q["step"]).or(Some(default)))
        };
        let step = step.unwrap_or(0);
        // The HTTP layer refuses a range query without a positive step;
        // the evaluator reads a zero step as an instant query.
        let got = if kind == "range" && step <= 0 {
            Err("zero or negative query resolution step widths are not accepted".to_owned())
        } else {
            let step = Duration::from_nanos(u64::try_from(step).unwrap_or(0));
            query_metric(&engine, &tenant, query, start, end, step, &limits).map_err(|e| e.to_string())
        };
        match (got, status) {
            (Err(_), s) if s >= 400 => passed += 1,
            (Err(e), _) => failed.push(format!("{id}: {query}: error {e}")),
            (Ok(r), s) if s >= 400 => failed.push(format!("{id}: {query}: Loki answered {s}, we answered {r:?}")),
            (Ok(r), _) => {
                let (ours_type, ours) = our_answer(&r);
                let want = golden_answer(&g["body"]["data"]);
                match diff_answers(kind, query, result_type, ours_type, want, ours) {
                    None => passed += 1,
                    Some(d) => failed.push(format!("{id}: {query}: {d}")),
                }
            }
        }
    }
    eprintln!("LogQL conformance (metric queries): {passed} passed, {} failed", failed.len());
    for f in &failed {
        eprintln!("  FAILED {f}");
    }
    assert!(failed.is_empty(), "{} metric conformance cases failed", failed.len());
}
