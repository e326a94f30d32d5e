//! Runs the log queries (and the label, label-values and series requests)
//! of `../shared/conformance/` against an engine holding the conformance
//! dataset, flushed to a store as Loki's was, and compares with the
//! answers Grafana Loki gave. Prints `N passed, N failed` and the failing
//! cases; metric queries are counted apart (`logql_metric_conformance`).
//!
//! In server mode ([`conformance_through_http_matches_loki`]) the example
//! server is started as a process, the dataset is pushed through its HTTP
//! API and every request (log, metric, metadata and tenant cases) is sent
//! as Loki received it; answers are compared with the same code.

use std::collections::{BTreeMap, BTreeSet};

use lokistore::logql::eval::{LogQueryResult, query_logs};
use lokistore::{Direction, Matcher, TenantId};
use serde_json::Value;

use crate::conformance_data::{load_engine, parse_time, read_jsonl};

type StreamSet = BTreeSet<(BTreeMap<String, String>, Vec<(String, String)>)>;

pub fn golden_streams(body: &Value) -> StreamSet {
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = s["stream"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| (v[0].as_str().unwrap().to_owned(), v[1].as_str().unwrap().to_owned()))
                .collect();
            (labels, values)
        })
        .collect()
}

fn our_streams(r: &LogQueryResult) -> StreamSet {
    r.streams
        .iter()
        .map(|s| {
            let labels = s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
            let values = s
                .entries
                .iter()
                .map(|(ts, line)| (ts.to_string(), String::from_utf8_lossy(line).into_owned()))
                .collect();
            (labels, values)
        })
        .collect()
}

/// Stream selectors of `match[]` / `query` parameters.
fn selectors(params: &Value, key: &str) -> Vec<Vec<Matcher>> {
    let parse = |q: &str| lokistore::logql::parse_log_selector(q).map(|s| s.matchers);
    match &params[key] {
        Value::String(q) => vec![parse(q).unwrap()],
        Value::Array(qs) => qs.iter().map(|q| parse(q.as_str().unwrap()).unwrap()).collect(),
        _ => vec![vec![]],
    }
}

#[test]
fn conformance_log_queries_match_loki() {
    let dir = tempfile::tempdir().unwrap();
    let engine = load_engine(dir.path());
    let tenant = TenantId::new("conformance").unwrap();
    let golden: BTreeMap<String, Value> =
        read_jsonl("golden.jsonl").into_iter().map(|g| (g["id"].as_str().unwrap().to_owned(), g)).collect();
    let (mut passed, mut failed, mut metric) = (0, Vec::new(), 0);
    for q in read_jsonl("queries.jsonl") {
        let id = q["id"].as_str().unwrap().to_owned();
        let Some(g) = golden.get(&id) else { continue };
        let status = g["status"].as_u64().unwrap();
        let kind = q["kind"].as_str().unwrap();
        if q.get("tenant").is_some() || g["request"].get("tenant").is_some() {
            continue; // tenant header handling is the HTTP server's
        }
        match kind {
            "range" | "instant" => {
                let query = q["query"].as_str().unwrap();
                let is_log = matches!(lokistore::logql::parse_expr(query), Ok(lokistore::logql::Expr::Log(_)));
                let result_type = g["body"]["data"]["resultType"].as_str();
                // Log queries run here, and so do queries Loki refused at parse time.
                let refused = status >= 400 && lokistore::logql::parse_expr(query).is_err();
                if !(is_log || refused) {
                    metric += 1;
                    continue;
                }
                if kind == "instant" {
                    metric += 1; // instant log queries: evaluated with the metric engine
                    continue;
                }
                let (from, through) = (parse_time(&q["start"]), parse_time(&q["end"]));
                let direction =
                    if q["direction"].as_str() == Some("forward") { Direction::Forward } else { Direction::Backward };
                let limit = q["limit"].as_u64().unwrap_or(100) as usize;
                let got = query_logs(&engine, &tenant, query, from, through, direction, limit);
                match (got, status) {
                    (Err(_), s) if s >= 400 => passed += 1,
                    (Err(e), _) => failed.push(format!("{id}: error {e}")),
                    (Ok(_), s) if s >= 400 => failed.push(format!("{id}: Loki answered {s}, we answered")),
                    (Ok(r), _) => {
                        assert_eq!(result_type, Some("streams"), "{id}");
                        let (want, ours) = (golden_streams(&g["body"]), our_streams(&r));
                        if want == ours {
                            passed += 1;
                        } else {
                            let n_want: usize = want.iter().map(|s| s.1.len()).sum();
                            let n_ours: usize = ours.iter().map(|s| s.1.len()).sum();
                            let first_diff = want.symmetric_difference(&ours).next().map(|s| format!("{:?}", s.0));
                            failed.push(format!(
                                "{id}: {} streams/{n_want} entries expected, {} streams/{n_ours} got; first differing stream {}",
                                want.len(),
                                ours.len(),
                                first_diff.unwrap_or_default()
                            ));
                        }
                    }
                }
            }
            "labels" | "label_values" | "series" => {
                let p = &g["request"]["params"];
                let (from, through) = (parse_time(&p["start"]), parse_time(&p["end"]));
                let want = &g["body"]["data"];
                let ok = match kind {
                    "labels" => {
                        let m = selectors(p, "query").remove(0);
                        let got = engine.label_names(&tenant, from, through, &m).unwrap();
                        *want == serde_json::to_value(&got).unwrap()
                    }
                    "label_values" => {
                        let path = g["request"]["path"].as_str().unwrap();
                        let name = path.trim_end_matches("/values").rsplit('/').next().unwrap();
                        let m = selectors(p, "query").remove(0);
                        let got = engine.label_values(&tenant, name, from, through, &m).unwrap();
                        *want == serde_json::to_value(&got).unwrap()
                    }
                    _ => {
                        let mut got: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
                        for m in selectors(p, "match[]") {
                            for l in engine.series(&tenant, from, through, &m).unwrap() {
                                got.insert(l.iter().map(|l| (l.name.clone(), l.value.clone())).collect());
                            }
                        }
                        let want: BTreeSet<BTreeMap<String, String>> = want
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|s| {
                                s.as_object()
                                    .unwrap()
                                    .iter()
                                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                                    .collect()
                            })
                            .collect();
                        want == got
                    }
                };
                if ok || status >= 400 {
                    passed += 1;
                } else {
                    failed.push(format!("{id}: {kind} differs from Loki's {want}"));
                }
            }
            _ => {}
        }
    }
    eprintln!(
        "LogQL conformance (log queries, labels, series): {passed} passed, {} failed; {metric} metric queries not run",
        failed.len()
    );
    for f in &failed {
        eprintln!("  FAILED {f}");
    }
    assert!(failed.is_empty(), "{} conformance cases failed", failed.len());
}

/// A golden request's parameters as a query string (`match[]` may repeat).
fn request_query(params: &Value) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in params.as_object().unwrap() {
        match v {
            Value::Array(vs) => pairs.extend(vs.iter().map(|x| (k.as_str(), x.as_str().unwrap().to_owned()))),
            Value::String(s) => pairs.push((k.as_str(), s.clone())),
            other => pairs.push((k.as_str(), other.to_string())),
        }
    }
    crate::server_support::query_string(&pairs)
}

/// `None` when the server's answer `ours` to request `q` matches Loki's `g`.
fn diff_http(q: &Value, g: &Value, status: u16, ours: &[u8]) -> Option<String> {
    let want_status = g["status"].as_u64().unwrap();
    if want_status >= 400 || status >= 400 {
        return (u64::from(status) != want_status).then(|| {
            format!("Loki answered {want_status}, we answered {status}: {}", String::from_utf8_lossy(ours).trim_end())
        });
    }
    let ours: Value = match serde_json::from_slice(ours) {
        Ok(v) => v,
        Err(e) => return Some(format!("our answer is not JSON: {e}")),
    };
    let (want, got) = (&g["body"]["data"], &ours["data"]);
    let kind = q["kind"].as_str().unwrap();
    match kind {
        "range" | "instant" => match want["resultType"].as_str() {
            Some("streams") => {
                if got["resultType"] != "streams" {
                    return Some(format!("streams expected, {} got", got["resultType"]));
                }
                let (w, o) = (golden_streams(&g["body"]), golden_streams(&ours));
                (w != o).then(|| {
                    let first = w.symmetric_difference(&o).next().map(|s| format!("{:?}", s.0)).unwrap_or_default();
                    format!("{} streams expected, {} got; first differing stream {first}", w.len(), o.len())
                })
            }
            want_type => {
                use crate::logql_metric_conformance::{diff_answers, golden_answer};
                let ours_type = match got["resultType"].as_str() {
                    Some("matrix") => "matrix",
                    Some("vector") => "vector",
                    Some("scalar") => "scalar",
                    other => return Some(format!("{want_type:?} expected, {other:?} got")),
                };
                let query = q["query"].as_str().unwrap();
                diff_answers(kind, query, want_type, ours_type, golden_answer(want), golden_answer(got))
            }
        },
        "series" => {
            let set = |v: &Value| v.as_array().map(|a| a.iter().map(Value::to_string).collect::<BTreeSet<_>>());
            (set(want) != set(got)).then(|| format!("series differ from Loki's {want}: {got}"))
        }
        _ => (want != got).then(|| format!("{kind} differs from Loki's {want}: {got}")),
    }
}

#[test]
fn conformance_through_http_matches_loki() {
    use crate::server_support::Server;
    let config = "[limits]\ndiscover_service_name = []\nmax_entries_limit_per_query = 100000\n\
                  max_query_series = 100000\ncreation_grace_period = \"\"\n[wal]\nsync = \"never\"\n[flush]\ninterval = \"\"\n";
    let server = Server::start(config, &["--auth-enabled"]);
    let tenant = [("Content-Type", "application/json"), ("X-Scope-OrgID", "conformance")];
    for body in crate::conformance_data::push_bodies() {
        let r = server.request("POST", "/loki/api/v1/push", &tenant, body.to_string().as_bytes());
        assert_eq!(r.status, 204, "push: {}", r.text());
    }
    let r = server.request("POST", "/flush", &[], b"");
    assert_eq!(r.status, 204, "flush: {}", r.text());

    let golden: BTreeMap<String, Value> =
        read_jsonl("golden.jsonl").into_iter().map(|g| (g["id"].as_str().unwrap().to_owned(), g)).collect();
    let (mut passed, mut failed) = (0, Vec::new());
    for q in read_jsonl("queries.jsonl") {
        let id = q["id"].as_str().unwrap().to_owned();
        let Some(g) = golden.get(&id) else { continue };
        let req = &g["request"];
        // `tenant` overrides the header; null or "__none__" sends none.
        let org = match req.get("tenant").or_else(|| q.get("tenant")) {
            None => Some("conformance"),
            Some(Value::String(t)) if t != "__none__" => Some(t.as_str()),
            Some(_) => None,
        };
        let path = format!("{}?{}", req["path"].as_str().unwrap(), request_query(&req["params"]));
        let r = server.get(&path, org);
        match diff_http(&q, g, r.status, &r.body) {
            None => passed += 1,
            Some(d) => failed.push(format!("{id}: {}", d)),
        }
    }
    eprintln!("LogQL conformance through HTTP (example server): {passed} passed, {} failed", failed.len());
    for f in &failed {
        eprintln!("  FAILED {f}");
    }
    assert!(failed.is_empty(), "{} conformance cases failed through HTTP", failed.len());
}
