//! Delete requests end to end: the API with Loki's errors, persistence
//! across reopen, lines hidden from log and metric queries at once, and
//! after the compactor's pass plus the sweep delay, the data physically
//! gone: every chunk object left holds exactly the original dataset minus
//! the deleted lines, the replaced objects are deleted, other tenants are
//! untouched, and a pass that fails anywhere converges on the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::support::{chunk_objects, clock_of, memory_engine, referenced_chunk_paths};
use bytes::Bytes;
use lokistore::compactor::{
    CompactionReport, Compactor, CompactorConfig, DeleteConfig, DeleteError, DeleteStatus, RetentionConfig,
};
use lokistore::engine::{Engine, EngineConfig, LogQuery, PushStream};
use lokistore::logql::eval::metric::{MetricLimits, MetricResult, query_metric};
use lokistore::store::{FaultyStore, MemoryStore, ObjectStore, Op};
use lokistore::{Chunk, ChunkObject, Direction, Entry, Error, Label, Labels, SyncMode, TenantId};

const BASE_DAY: i64 = 19_000;
const DAY_NS: i64 = 86_400_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;
const MIN_NS: i64 = 60_000_000_000;

/// (tenant, labels) -> entries (timestamp, line) in time order.
type Model = BTreeMap<(String, Labels), Vec<(i64, Bytes)>>;

fn config(dir: &Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    c
}

fn labels(s: &str) -> Labels {
    s.parse().unwrap()
}

fn tenant(t: &str) -> TenantId {
    TenantId::new(t).unwrap()
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// Two tenants with the same streams: three streams over two days, one
/// chunk per stream and half day (a flush after each), and one stream
/// whose single chunk spans midnight (indexed in two tables). Every fifth
/// line says "secret".
fn push_all(engine: &Engine) -> Model {
    let mut model = Model::new();
    let streams = [r#"{app="api", env="prod"}"#, r#"{app="api", env="dev"}"#, r#"{app="web", env="prod"}"#];
    for half in 0..4i64 {
        for t in ["a", "b"] {
            let mut push = Vec::new();
            for s in streams {
                let start = BASE_DAY * DAY_NS + half * 12 * HOUR_NS;
                let entries: Vec<Entry> = (0..72i64)
                    .map(|i| {
                        let n = half * 72 + i;
                        let word = if n % 5 == 0 { "secret" } else { "ok" };
                        Entry::new(start + i * 10 * MIN_NS, format!("{t} {s} line {n} {word}"))
                    })
                    .collect();
                let m = model.entry((t.to_owned(), labels(s))).or_default();
                m.extend(entries.iter().map(|e| (e.timestamp, e.line.clone())));
                push.push(PushStream::new(labels(s), entries));
            }
            engine.push(&tenant(t), push).unwrap();
        }
        engine.flush().unwrap();
    }
    for t in ["a", "b"] {
        let start = BASE_DAY * DAY_NS + 23 * HOUR_NS;
        let entries: Vec<Entry> = (0..13i64)
            .map(|i| {
                Entry::new(
                    start + i * 10 * MIN_NS,
                    format!("{t} span {i} {}", if i % 2 == 0 { "secret" } else { "ok" }),
                )
            })
            .collect();
        let l = labels(r#"{app="span"}"#);
        model
            .entry((t.to_owned(), l.clone()))
            .or_default()
            .extend(entries.iter().map(|e| (e.timestamp, e.line.clone())));
        engine.push(&tenant(t), vec![PushStream::new(l, entries)]).unwrap();
    }
    engine.flush().unwrap();
    model
}

/// One delete: tenant, matchers (as a predicate), inclusive ns range,
/// needle (line filter).
struct Del {
    tenant: &'static str,
    query: &'static str,
    applies: fn(&Labels) -> bool,
    start: i64,
    end: i64,
    needle: Option<&'static str>,
}

/// The deletes of the processing tests, in tenant "a" only: a whole
/// half-day and a bit (one chunk covered whole, one partly; the end is on
/// an entry, which goes too), and a line filter over a day and a half
/// (sharded by the 24h `max_interval`), hitting the midnight chunk.
fn deletes() -> Vec<Del> {
    vec![
        Del {
            tenant: "a",
            query: r#"{app="api", env="prod"}"#,
            applies: |l| l.get("app") == Some("api") && l.get("env") == Some("prod"),
            start: BASE_DAY * DAY_NS,
            end: BASE_DAY * DAY_NS + 18 * HOUR_NS,
            needle: None,
        },
        Del {
            tenant: "a",
            query: r#"{app=~"api|span"} |= "secret""#,
            applies: |l| matches!(l.get("app"), Some("api" | "span")),
            start: BASE_DAY * DAY_NS + 6 * HOUR_NS,
            end: BASE_DAY * DAY_NS + 36 * HOUR_NS,
            needle: Some("secret"),
        },
    ]
}

fn expected(model: &Model, dels: &[Del]) -> Model {
    model
        .iter()
        .map(|((t, l), entries)| {
            let keep = |(ts, line): &&(i64, Bytes)| {
                !dels.iter().any(|d| {
                    d.tenant == t
                        && (d.applies)(l)
                        && d.start <= *ts
                        && *ts <= d.end
                        && d.needle.is_none_or(|n| String::from_utf8_lossy(line).contains(n))
                })
            };
            ((t.clone(), l.clone()), entries.iter().filter(keep).cloned().collect())
        })
        .collect()
}

fn everything() -> LogQuery {
    LogQuery { matchers: vec![], from: i64::MIN / 2, through: i64::MAX / 2, direction: Direction::Forward, limit: 0 }
}

/// Every read path against `want`: `query_logs`, `for_each_entry`, LogQL
/// log queries (forward and backward) and a metric query.
fn check_queries(engine: &Engine, want: &Model) {
    for t in ["a", "b"] {
        let ten = tenant(t);
        let want_t: Vec<(&Labels, &Vec<(i64, Bytes)>)> =
            want.iter().filter(|((mt, _), e)| mt == t && !e.is_empty()).map(|((_, l), e)| (l, e)).collect();
        let got = engine.query_logs(&ten, &everything()).unwrap();
        assert_eq!(got.len(), want_t.len(), "streams of {t}");
        for (g, (wl, we)) in got.iter().zip(&want_t) {
            assert_eq!(&g.labels, *wl);
            let a: Vec<(i64, Bytes)> = g.entries.iter().map(|e| (e.timestamp, e.line.clone())).collect();
            assert_eq!(&a, *we, "query_logs of {} in {t}", g.labels);
        }
        for s in engine.select(&ten, &[], i64::MIN / 2, i64::MAX / 2).unwrap() {
            let mut n = 0usize;
            engine
                .for_each_entry(&s, i64::MIN / 2, i64::MAX / 2, Direction::Backward, &mut |_| {
                    n += 1;
                    ControlFlow::Continue(())
                })
                .unwrap();
            let w = want.get(&(t.to_owned(), s.labels().clone())).map_or(0, Vec::len);
            assert_eq!(n, w, "for_each_entry of {} in {t}", s.labels());
        }
        let (from, through) = (BASE_DAY * DAY_NS - HOUR_NS, (BASE_DAY + 3) * DAY_NS);
        for dir in [Direction::Forward, Direction::Backward] {
            let r = lokistore::logql::eval::query_logs(engine, &ten, r#"{app=~".+"} |= "line""#, from, through, dir, 0)
                .unwrap();
            let mut got: Vec<(i64, Bytes)> = r.streams.iter().flat_map(|s| s.entries.iter().cloned()).collect();
            got.sort();
            let mut w: Vec<(i64, Bytes)> =
                want.iter().filter(|((mt, _), _)| mt == t).flat_map(|(_, e)| e.iter().cloned()).collect();
            w.retain(|(_, l)| String::from_utf8_lossy(l).contains("line"));
            w.sort();
            assert_eq!(got, w, "LogQL {dir:?} in {t}");
        }
        // An instant metric query over the whole dataset.
        let q = r#"sum by (app) (count_over_time({app=~".+"}[4d]))"#;
        let at = (BASE_DAY + 3) * DAY_NS;
        let r = query_metric(engine, &ten, q, at, at, Duration::ZERO, &MetricLimits::default()).unwrap();
        let MetricResult::Vector(v) = r else { panic!("not a vector: {r:?}") };
        let mut got: BTreeMap<String, f64> = BTreeMap::new();
        for s in v {
            let app = s.labels.iter().find(|l| l.name == "app").map(|l| l.value.clone()).unwrap_or_default();
            got.insert(app, s.value);
        }
        let mut w: BTreeMap<String, f64> = BTreeMap::new();
        for ((mt, l), e) in want {
            if mt == t && !e.is_empty() {
                *w.entry(l.get("app").unwrap_or("").to_owned()).or_default() += e.len() as f64;
            }
        }
        assert_eq!(got, w, "count_over_time in {t}");
    }
}

/// Every entry of every chunk object in the store, per (tenant, labels),
/// de-duplicated: what is physically left.
fn stored_entries(store: &dyn ObjectStore) -> Model {
    let mut out = Model::new();
    for key in chunk_objects(store) {
        let obj = ChunkObject::decode(store.get(&key).unwrap()).unwrap();
        let chunk = Chunk::from_bytes(obj.data.clone()).unwrap();
        let entries = chunk.entries(i64::MIN, i64::MAX, Direction::Forward).unwrap();
        out.entry((obj.tenant.clone(), obj.labels.clone()))
            .or_default()
            .extend(entries.into_iter().map(|e| (e.timestamp, e.line)));
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// Chunk objects the index files refer to; every index file must be
/// compacted (per tenant).
fn indexed_chunks(store: &dyn ObjectStore) -> BTreeSet<String> {
    for m in store.list("index/").unwrap() {
        let parts: Vec<&str> = m.key.split('/').collect();
        assert!(matches!(parts.as_slice(), ["index", _, _, _]), "not compacted: {}", m.key);
    }
    referenced_chunk_paths(store)
}

fn nonempty(m: &Model) -> Model {
    m.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn no_cancel_period() -> DeleteConfig {
    DeleteConfig { cancel_period: Duration::ZERO, ..DeleteConfig::default() }
}

fn compactor(store: Arc<dyn ObjectStore>, now: &Arc<AtomicI64>) -> Compactor {
    let config = CompactorConfig {
        owner: "deletes".into(),
        retention: Some(RetentionConfig::default()),
        deletes: no_cancel_period(),
        ..CompactorConfig::default()
    };
    Compactor::new(store, config).with_clock(clock_of(now))
}

/// An engine over a new in-memory store with the dataset pushed and the
/// processing deletes added: (store, engine, dataset, dataset minus the
/// deletes).
fn engine_with_deletes(dir: &Path) -> (Arc<dyn ObjectStore>, Engine, Model, Model) {
    let (store, engine) = memory_engine(config(dir));
    let model = push_all(&engine);
    let dels = deletes();
    add_all(&engine, &dels);
    let want = expected(&model, &dels);
    (store, engine, model, want)
}

fn delete_error(e: &Error) -> &DeleteError {
    DeleteError::from_error(e).unwrap_or_else(|| panic!("not a delete error: {e}"))
}

fn add_all(engine: &Engine, dels: &[Del]) {
    for d in dels {
        engine.add_delete_request(&tenant(d.tenant), d.query, d.start, d.end).unwrap();
    }
}

#[test]
fn add_list_cancel_and_loki_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_with_store(config(dir.path()), Arc::new(MemoryStore::new())).unwrap();
    let t = tenant("a");
    let (s, e) = (BASE_DAY * DAY_NS, BASE_DAY * DAY_NS + 3 * DAY_NS + 1_500_000);
    let r = engine.add_delete_request(&t, r#"{app="api"}"#, s, e).unwrap();
    assert_eq!(r.request_id.len(), 8);
    assert!(r.request_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!((r.start_ns, r.end_ns), (s, e - 500_000), "ms precision, as Loki stores it");
    assert_eq!((r.status, r.shards.len()), (DeleteStatus::Received, 1), "no filter: one shard");
    // A filter: shards of the 24h max_interval, aligned on days, each
    // ending where the next starts.
    let f = engine.add_delete_request(&t, r#"{app="api"} |= "x""#, s + HOUR_NS, e).unwrap();
    let shards: Vec<(i64, i64)> = f.shards.iter().map(|s| (s.start_ms, s.end_ms)).collect();
    let d_ms = DAY_NS / 1_000_000;
    let s_ms = s / 1_000_000;
    assert_eq!(
        shards,
        [
            (s_ms + d_ms / 24, s_ms + d_ms),
            (s_ms + d_ms, s_ms + 2 * d_ms),
            (s_ms + 2 * d_ms, s_ms + 3 * d_ms),
            (s_ms + 3 * d_ms, s_ms + 3 * d_ms + 1)
        ]
    );
    let listed = engine.delete_requests(&t).unwrap();
    assert_eq!(listed.iter().map(|r| r.request_id.as_str()).collect::<BTreeSet<_>>().len(), 2);
    assert!(listed.windows(2).all(|w| w[0].created_at_ns <= w[1].created_at_ns));
    assert!(engine.delete_requests(&tenant("b")).unwrap().is_empty());
    // Loki's JSON: times in seconds with the shortest fraction, user_id blanked.
    let secs = |ns: i64| {
        let ms = ns / 1_000_000;
        let frac = format!("{:03}", ms % 1000);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { format!("{}", ms / 1000) } else { format!("{}.{frac}", ms / 1000) }
    };
    let first = listed.iter().find(|x| x.request_id == r.request_id).unwrap();
    assert_eq!(
        lokistore::compactor::delete_requests_json(std::slice::from_ref(first)),
        format!(
            "[{{\"request_id\":\"{}\",\"start_time\":1641600000,\"end_time\":1641859200.001,\"query\":\"{{app=\\\"api\\\"}}\",\"status\":\"received\",\"created_at\":{},\"user_id\":\"\"}}]\n",
            r.request_id,
            secs(r.created_at_ns)
        )
    );

    // Loki's validation messages.
    let err = |q: &str, s: i64, e: i64| {
        let x = engine.add_delete_request(&t, q, s, e).unwrap_err();
        (delete_error(&x).to_string(), delete_error(&x).http_status())
    };
    let bad = |m: &str| (m.to_owned(), 400);
    assert_eq!(err("", s, e), bad("query not set"));
    assert_eq!(err("nope", s, e), bad("invalid query expression"));
    assert_eq!(err(r#"count_over_time({app="a"}[1m])"#, s, e), bad("invalid query expression"));
    assert_eq!(err(r#"{app="a"} |~ "(""#, s, e), bad("invalid query expression"));
    assert_eq!(err(r#"{app="a"}"#, e, s), bad("start time can't be greater than or equal to end time"));
    assert_eq!(err(r#"{app="a"}"#, s, s), bad("start time can't be greater than or equal to end time"));
    assert_eq!(err(r#"{app="a"}"#, s, now_ns() + HOUR_NS), bad("deletes in the future are not allowed"));
    let interval = |d: Duration| {
        let x = engine.add_delete_request_with_interval(&t, r#"{app="a"} |= "x""#, s, s + HOUR_NS, Some(d));
        x.map(|r| r.shards.len()).map_err(|x| delete_error(&x).to_string())
    };
    assert_eq!(
        interval(Duration::from_millis(999)),
        Err("invalid max_interval: valid time units are 's', 'm', 'h'".into())
    );
    assert_eq!(interval(Duration::from_secs(2 * 86_400)), Err("max_interval can't be greater than 24h0m0s".into()));
    assert_eq!(
        interval(Duration::from_secs(7200)),
        Err("max_interval can't be greater than the interval to be deleted (1h0m0s)".into())
    );
    assert_eq!(interval(Duration::from_secs(1200)), Ok(3));
    assert_eq!(engine.delete_requests(&t).unwrap().len(), 3);

    // Cancellation: within the period; unknown ids; past the period only
    // with force.
    engine.cancel_delete_request(&t, &r.request_id, false).unwrap();
    let x = engine.cancel_delete_request(&t, &r.request_id, false).unwrap_err();
    assert_eq!(
        (delete_error(&x).to_string().as_str(), delete_error(&x).http_status()),
        ("could not find delete request with given id", 404)
    );
    let x = engine.cancel_delete_request(&tenant("b"), &f.request_id, false).unwrap_err();
    assert_eq!(delete_error(&x), &DeleteError::NotFound, "another tenant's request");
    engine.set_delete_config(no_cancel_period());
    let x = engine.cancel_delete_request(&t, &f.request_id, false).unwrap_err();
    assert_eq!(
        delete_error(&x).to_string(),
        "Cancellation of partially completed delete request or delete request past the deadline of 0s since its creation is not allowed. To force, use the ?force query parameter"
    );
    engine.cancel_delete_request(&t, &f.request_id, true).unwrap();
    assert_eq!(engine.delete_requests(&t).unwrap().len(), 1);
}

#[test]
fn requests_survive_reopen_and_hide_lines_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = memory_engine(config(dir.path()));
    let model = push_all(&engine);
    check_queries(&engine, &model);
    let dels = deletes();
    add_all(&engine, &dels);
    let want = expected(&model, &dels);
    assert_ne!(want, model);
    check_queries(&engine, &want);
    // The end bound is inclusive: the entry at 18:00 is gone, 18:10 is not.
    let prod = &want[&("a".to_owned(), labels(r#"{app="api", env="prod"}"#))];
    assert_eq!(prod.first().map(|e| e.0), Some(dels[0].end + 10 * MIN_NS));
    let listed = engine.delete_requests(&tenant("a")).unwrap();
    engine.close().unwrap();
    drop(engine);

    let engine = Engine::open_with_store(config(dir.path()), Arc::clone(&store)).unwrap();
    assert_eq!(engine.delete_requests(&tenant("a")).unwrap(), listed);
    check_queries(&engine, &want);
    // Cancelled: the lines are back at once.
    for r in &listed {
        engine.cancel_delete_request(&tenant("a"), &r.request_id, false).unwrap();
    }
    check_queries(&engine, &model);
}

#[test]
fn processing_removes_the_data_and_the_replaced_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, model, want) = engine_with_deletes(dir.path());
    let before = chunk_objects(&*store);
    assert_eq!(stored_entries(&*store), model);

    // Within the cancellation period nothing happens.
    let now = Arc::new(AtomicI64::new(now_ns()));
    let c = Compactor::new(
        Arc::clone(&store),
        CompactorConfig { owner: "early".into(), retention: Some(RetentionConfig::default()), ..Default::default() },
    )
    .with_clock(clock_of(&now));
    let r = c.run_once().unwrap();
    assert_eq!((r.chunks_rewritten, r.delete_shards_processed), (0, 0), "{r:?}");
    assert_eq!(stored_entries(&*store), model);

    // Past it (+1 minute): the data leaves the index, objects stay until the delay.
    now.fetch_add(2 * MIN_NS, Ordering::SeqCst);
    let c = compactor(Arc::clone(&store), &now);
    let r: CompactionReport = c.run_once().unwrap();
    let shards: usize = engine.delete_requests(&tenant("a")).unwrap().iter().map(|r| r.shards.len()).sum();
    assert_eq!(r.delete_shards_processed, shards, "{r:?}");
    assert!(r.chunks_rewritten > 0 && r.chunks_marked > 0 && r.chunks_replaced > 0, "{r:?}");
    assert!(r.skipped_objects.is_empty(), "{r:?}");
    assert!(engine.delete_requests(&tenant("a")).unwrap().iter().all(|r| r.status == DeleteStatus::Processed));
    assert!(chunk_objects(&*store).is_superset(&before), "nothing deleted before the delay");
    check_queries(&engine, &want);
    engine.refresh_index().unwrap();
    check_queries(&engine, &want);
    let x =
        engine.cancel_delete_request(&tenant("a"), &engine.delete_requests(&tenant("a")).unwrap()[0].request_id, true);
    assert_eq!(
        delete_error(&x.unwrap_err()).to_string(),
        "deletion of request which is in process or already processed is not allowed"
    );

    // After the delay: the replaced objects are gone, what is left is
    // exactly the dataset minus the deleted lines, and the index refers
    // to exactly the objects left.
    now.fetch_add(3 * HOUR_NS, Ordering::SeqCst);
    let r = c.run_once().unwrap();
    assert!(r.chunks_deleted > 0, "{r:?}");
    let after = chunk_objects(&*store);
    assert_eq!(stored_entries(&*store), nonempty(&want));
    assert_eq!(indexed_chunks(&*store), after);
    let gone: BTreeSet<&String> = before.difference(&after).collect();
    assert_eq!(gone.len(), r.chunks_deleted, "{r:?}");
    // Tenant "b" has the same streams and keeps every object.
    assert!(before.iter().filter(|k| k.starts_with("b/")).all(|k| after.contains(k)));
    // "web" matches no request: untouched.
    let web_fp = format!("a/{}/", labels(r#"{app="web", env="prod"}"#).fingerprint());
    assert!(before.iter().filter(|k| k.starts_with(&web_fp)).all(|k| after.contains(k)));
    engine.refresh_index().unwrap();
    check_queries(&engine, &want);
    let fresh = tempfile::tempdir().unwrap();
    let reader = Engine::open_with_store(config(fresh.path()), Arc::clone(&store)).unwrap();
    check_queries(&reader, &want);

    // Nothing left to do.
    let r = c.run_once().unwrap();
    assert_eq!((r.files_written, r.chunks_rewritten, r.chunks_marked, r.chunks_deleted), (0, 0, 0, 0), "{r:?}");
}

#[test]
fn a_pass_failing_anywhere_converges_on_the_next() {
    let cases: [(Op, &str); 5] = [
        (Op::Put, "index/"),
        (Op::Delete, "index/"),
        (Op::Put, "compactor/deletes/"),
        (Op::Put, "a/"),
        (Op::Get, "a/"),
    ];
    for (op, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (base, engine, _, want) = engine_with_deletes(dir.path());
        let faulty = Arc::new(FaultyStore::new(Arc::clone(&base)));
        let now = Arc::new(AtomicI64::new(now_ns() + 2 * MIN_NS));
        faulty.fail_always(op, key);
        let failed = compactor(faulty.clone(), &now).run_once();
        faulty.clear();
        let what = format!("{op:?} {key}");
        assert!(failed.is_err(), "{what}: {failed:?}");
        // Whatever happened, queries are right and nothing is lost.
        engine.refresh_index().unwrap();
        check_queries(&engine, &want);
        assert!(stored_entries(&*base).iter().all(|(k, v)| want[k].iter().all(|e| v.contains(e))), "{what}");
        // The next passes finish the work.
        let c = compactor(faulty.clone(), &now);
        c.run_once().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(engine.delete_requests(&tenant("a")).unwrap().iter().all(|r| r.status == DeleteStatus::Processed));
        now.fetch_add(3 * HOUR_NS, Ordering::SeqCst);
        c.run_once().unwrap();
        assert_eq!(stored_entries(&*base), nonempty(&want), "{what}");
        assert_eq!(indexed_chunks(&*base), chunk_objects(&*base), "{what}");
        engine.refresh_index().unwrap();
        check_queries(&engine, &want);
    }
}

#[test]
fn a_label_filter_on_structured_metadata_deletes_only_those_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = memory_engine(config(dir.path()));
    let t = tenant("m");
    let l = labels(r#"{app="meta"}"#);
    let user = |i: i64| if i % 3 == 0 { "bob" } else { "alice" };
    let entries: Vec<Entry> = (0..120i64)
        .map(|i| {
            let md = vec![Label::new("user", user(i))];
            Entry::with_metadata(BASE_DAY * DAY_NS + i * MIN_NS, format!("request {i}"), md)
        })
        .collect();
    engine.push(&t, vec![PushStream::new(l.clone(), entries.clone())]).unwrap();
    engine.flush().unwrap();
    let kept: Vec<Entry> =
        entries.iter().enumerate().filter(|(i, _)| user(*i as i64) != "bob").map(|(_, e)| e.clone()).collect();
    let end = BASE_DAY * DAY_NS + 2 * HOUR_NS;
    engine.add_delete_request(&t, r#"{app="meta"} | user="bob""#, BASE_DAY * DAY_NS, end).unwrap();
    let visible = |engine: &Engine| {
        let got = engine.query_logs(&t, &everything()).unwrap();
        got.into_iter().flat_map(|s| s.entries).collect::<Vec<Entry>>()
    };
    assert_eq!(visible(&engine), kept);

    let now = Arc::new(AtomicI64::new(now_ns() + 2 * MIN_NS));
    let c = compactor(Arc::clone(&store), &now);
    let r = c.run_once().unwrap();
    assert_eq!((r.chunks_rewritten, r.delete_shards_processed), (1, 1), "{r:?}");
    now.fetch_add(3 * HOUR_NS, Ordering::SeqCst);
    assert_eq!(c.run_once().unwrap().chunks_deleted, 1);
    // The one object left holds exactly the other lines, metadata intact.
    let objects = chunk_objects(&*store);
    assert_eq!(objects.len(), 1);
    let key = objects.iter().next().unwrap();
    let obj = ChunkObject::decode(store.get(key).unwrap()).unwrap();
    assert_eq!((obj.tenant.as_str(), &obj.labels), ("m", &l));
    let chunk = Chunk::from_bytes(obj.data.clone()).unwrap();
    assert_eq!(chunk.entries(i64::MIN, i64::MAX, Direction::Forward).unwrap(), kept);
    engine.refresh_index().unwrap();
    assert_eq!(visible(&engine), kept);
}

#[test]
fn deletes_and_chunk_compaction_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, _, want) = engine_with_deletes(dir.path());
    let before = chunk_objects(&*store);
    let now = Arc::new(AtomicI64::new(now_ns() + 2 * MIN_NS));
    let config = CompactorConfig {
        owner: "both".into(),
        retention: Some(RetentionConfig::default()),
        deletes: no_cancel_period(),
        chunks: Some(lokistore::ChunkCompaction::default()),
        ..CompactorConfig::default()
    };
    let c = Compactor::new(Arc::clone(&store), config).with_clock(clock_of(&now));
    let r = c.run_once().unwrap();
    assert!(r.chunks_rewritten > 0 && r.delete_shards_processed > 0 && r.chunks_written > 0, "{r:?}");
    assert!(r.skipped_objects.is_empty(), "{r:?}");
    engine.refresh_index().unwrap();
    check_queries(&engine, &want);
    // Later passes may still merge; then everything settles.
    for _ in 0..3 {
        now.fetch_add(3 * HOUR_NS, Ordering::SeqCst);
        c.run_once().unwrap();
    }
    assert_eq!(stored_entries(&*store), nonempty(&want));
    assert_eq!(indexed_chunks(&*store), chunk_objects(&*store));
    assert_ne!(chunk_objects(&*store), before);
    engine.refresh_index().unwrap();
    check_queries(&engine, &want);
}
