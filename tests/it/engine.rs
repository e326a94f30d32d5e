//! The engine end to end: the conformance dataset pushed for three
//! tenants, flushed to a real directory, reopened, and read back entry for
//! entry; tenant isolation; recovery of unflushed data; failed and partial
//! uploads that lose nothing.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lokistore::engine::{Engine, EngineConfig, LogQuery, PushStream, RejectReason};
use lokistore::store::{Fault, FaultyStore, LocalFsStore, MemoryStore, ObjectStore, Op};
use lokistore::{Direction, Entry, Label, Labels, Matcher, SyncMode, TenantId};
use serde_json::Value;

use crate::support::shared_dir;

type Model = BTreeMap<(String, Labels), Vec<Entry>>;

/// The conformance dataset: (labels, entry) in file order.
fn dataset() -> Vec<(Labels, Entry)> {
    let text = std::fs::read_to_string(shared_dir().join("conformance/dataset.jsonl")).expect("dataset");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            let labels = Labels::from_pairs(
                v["stream"]
                    .as_object()
                    .expect("stream")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            )
            .expect("labels");
            let mut md: Vec<Label> = v["metadata"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| Label::new(k.clone(), v.as_str().unwrap())).collect())
                .unwrap_or_default();
            md.sort_by(|a, b| a.name.cmp(&b.name));
            let entry = Entry::with_metadata(v["ts_ns"].as_i64().unwrap(), v["line"].as_str().unwrap().to_owned(), md);
            (labels, entry)
        })
        .collect()
}

const TENANTS: [&str; 3] = ["alpha", "beta", "gamma"];

fn config(dir: &Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    c
}

/// Pushes the dataset: stream i goes to tenant i % 3, in batches of up to
/// 500 entries per stream per push. Returns the model of what is stored.
fn push_dataset(engine: &Engine) -> Model {
    let data = dataset();
    let mut by_stream: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for (l, e) in data {
        by_stream.entry(l).or_default().push(e);
    }
    let mut model = Model::new();
    for (i, (labels, entries)) in by_stream.into_iter().enumerate() {
        let tenant = TenantId::new(TENANTS[i % 3]).unwrap();
        for part in entries.chunks(500) {
            let res = engine.push(&tenant, vec![PushStream::new(labels.clone(), part.to_vec())]).unwrap();
            assert!(res.is_complete(), "{res}");
            assert_eq!(res.accepted() + res.streams[0].duplicates, part.len());
        }
        // Loki stores an entry repeating another's timestamp and line once.
        let mut sorted: Vec<Entry> = Vec::with_capacity(entries.len());
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            if seen.insert((e.timestamp, e.line.clone())) {
                sorted.push(e);
            }
        }
        sorted.sort_by_key(|e| e.timestamp);
        model.insert((tenant.as_str().to_owned(), labels), sorted);
    }
    model
}

fn everything(direction: Direction) -> LogQuery {
    LogQuery { matchers: vec![], from: i64::MIN / 2, through: i64::MAX / 2, direction, limit: 0 }
}

/// Reads every tenant's streams back and compares them with the model.
fn check_all(engine: &Engine, model: &Model) {
    for t in TENANTS {
        let tenant = TenantId::new(t).unwrap();
        let got = engine.query_logs(&tenant, &everything(Direction::Forward)).unwrap();
        let want: Vec<(&Labels, &Vec<Entry>)> =
            model.iter().filter(|((mt, _), _)| mt == t).map(|((_, l), e)| (l, e)).collect();
        assert_eq!(got.len(), want.len(), "streams of {t}");
        for (g, (wl, we)) in got.iter().zip(&want) {
            assert_eq!(&g.labels, *wl);
            assert_eq!(g.entries.len(), we.len(), "entries of {} in {t}", g.labels);
            for (a, b) in g.entries.iter().zip(we.iter()) {
                assert_eq!((a.timestamp, &a.line, &a.metadata), (b.timestamp, &b.line, &b.metadata));
            }
        }
        let back = engine.query_logs(&tenant, &everything(Direction::Backward)).unwrap();
        for (g, b) in got.iter().zip(&back) {
            let mut rev = b.entries.clone();
            rev.reverse();
            assert_eq!(
                rev.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
                g.entries.iter().map(|e| e.timestamp).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn dataset_round_trips_through_flush_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path())).unwrap();
    let model = push_dataset(&engine);
    assert_eq!(model.len(), 40);
    check_all(&engine, &model); // from memory
    let stats = engine.flush().unwrap();
    assert!(stats.chunks >= 40, "{stats:?}");
    assert_eq!(stats.entries, model.values().map(Vec::len).sum::<usize>());
    assert!(stats.index_files >= 1);
    assert_eq!(engine.num_streams(), 0, "flushed streams are retired");
    check_all(&engine, &model); // from the store
    engine.close().unwrap();
    drop(engine);

    // Loki's layout on disk: chunk objects under <tenant>/<fp>/ with base64
    // names, index files under index/index_<day>/.
    let store = LocalFsStore::open(dir.path().join("store")).unwrap();
    let keys: Vec<String> = store.list("").unwrap().into_iter().map(|m| m.key).collect();
    let index: Vec<&String> = keys.iter().filter(|k| k.starts_with("index/index_20463/")).collect();
    assert!(!index.is_empty() && index.iter().all(|k| k.ends_with(".tsdb.gz")), "{keys:?}");
    assert!(keys.iter().filter(|k| k.starts_with("alpha/")).all(|k| k.split('/').count() == 3 && k.ends_with('=')));

    let engine = Engine::open(config(dir.path())).unwrap();
    assert_eq!(engine.open_report().index_files, index.len());
    check_all(&engine, &model);
}

#[test]
fn unflushed_data_is_recovered_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let model = {
        let engine = Engine::open(config(dir.path())).unwrap();
        let m = push_dataset(&engine);
        engine.close().unwrap();
        m
    };
    let engine = Engine::open(config(dir.path())).unwrap();
    assert_eq!(engine.num_streams(), 40);
    check_all(&engine, &model);
    // Part flushed, part checkpointed, part in segments: still everything.
    engine.checkpoint().unwrap();
    engine.flush_tenant(&TenantId::new("beta").unwrap()).unwrap();
    engine.close().unwrap();
    drop(engine);
    let engine = Engine::open(config(dir.path())).unwrap();
    check_all(&engine, &model);
}

#[test]
fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path())).unwrap();
    let model = push_dataset(&engine);
    let half_flushed = |engine: &Engine| {
        for t in TENANTS {
            let tenant = TenantId::new(t).unwrap();
            let all = engine.series(&tenant, i64::MIN / 2, i64::MAX / 2, &[]).unwrap();
            let want: Vec<&Labels> = model.keys().filter(|(mt, _)| mt == t).map(|(_, l)| l).collect();
            assert_eq!(all.iter().collect::<Vec<_>>(), want, "series of {t}");
            // Selectors naming the tenant label see only the tenant itself,
            // in memory as in the store.
            let other = TENANTS.iter().find(|o| **o != t).unwrap();
            for (m, own) in [
                (Matcher::equal("__loki_tenant__", *other), false),
                (Matcher::regex("__loki_tenant__", ".+").unwrap(), true),
                (Matcher::not_equal("__loki_tenant__", t), false),
                (Matcher::equal("__loki_tenant__", t), true),
            ] {
                let q = LogQuery { matchers: vec![m.clone()], ..everything(Direction::Forward) };
                let got: Vec<Labels> = engine.query_logs(&tenant, &q).unwrap().into_iter().map(|s| s.labels).collect();
                let want: Vec<Labels> = if own { want.iter().map(|l| (*l).clone()).collect() } else { vec![] };
                assert_eq!(got, want, "{m} in {t}");
                let names = engine.label_names(&tenant, i64::MIN / 2, i64::MAX / 2, std::slice::from_ref(&m)).unwrap();
                assert_eq!(names.is_empty(), !own, "{m} in {t}: {names:?}");
            }
            let names = engine.label_names(&tenant, i64::MIN / 2, i64::MAX / 2, &[]).unwrap();
            assert!(!names.iter().any(|n| n == "__loki_tenant__"), "{names:?}");
            let pods = engine.label_values(&tenant, "pod", i64::MIN / 2, i64::MAX / 2, &[]).unwrap();
            let want_pods: std::collections::BTreeSet<&str> = want.iter().filter_map(|l| l.get("pod")).collect();
            assert_eq!(pods.iter().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), want_pods);
        }
        let nobody = TenantId::new("nobody").unwrap();
        assert!(engine.query_logs(&nobody, &everything(Direction::Forward)).unwrap().is_empty());
        assert!(engine.label_names(&nobody, 0, i64::MAX / 2, &[]).unwrap().is_empty());
    };
    half_flushed(&engine);
    engine.flush_tenant(&TenantId::new("alpha").unwrap()).unwrap();
    half_flushed(&engine);
    engine.flush().unwrap();
    half_flushed(&engine);
}

#[test]
fn limits_and_directions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path())).unwrap();
    let model = push_dataset(&engine);
    let tenant = TenantId::new("alpha").unwrap();
    let mut all: Vec<i64> =
        model.iter().filter(|((t, _), _)| t == "alpha").flat_map(|(_, e)| e.iter().map(|e| e.timestamp)).collect();
    all.sort_unstable();
    for flushed in [false, true] {
        if flushed {
            engine.flush().unwrap();
        }
        for (dir, limit) in [(Direction::Forward, 7), (Direction::Backward, 250), (Direction::Forward, 1)] {
            let q = LogQuery { limit, ..everything(dir) };
            let got = engine.query_logs(&tenant, &q).unwrap();
            let mut ts: Vec<i64> = got.iter().flat_map(|s| s.entries.iter().map(|e| e.timestamp)).collect();
            ts.sort_unstable();
            let want: Vec<i64> =
                if dir == Direction::Forward { all[..limit].to_vec() } else { all[all.len() - limit..].to_vec() };
            assert_eq!(ts, want, "{dir:?} limit {limit} flushed {flushed}");
        }
        // A time window in the middle, through exclusive.
        let (from, through) = (all[100], all[200]);
        let q = LogQuery { from, through, ..everything(Direction::Forward) };
        let n: usize = engine.query_logs(&tenant, &q).unwrap().iter().map(|s| s.entries.len()).sum();
        assert_eq!(n, all.iter().filter(|&&t| t >= from && t < through).count());
    }
}

#[test]
fn push_rejections_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.limits.max_line_size = 10;
    c.limits.max_streams_per_tenant = 1;
    let engine = Engine::open(c).unwrap();
    let t = TenantId::new("t").unwrap();
    let l1: Labels = r#"{app="a"}"#.parse().unwrap();
    let l2: Labels = r#"{app="b"}"#.parse().unwrap();
    let now = 1_700_000_000_000_000_000i64;
    let hour = 3_600_000_000_000i64;
    let res = engine
        .push(
            &t,
            vec![
                PushStream::new(
                    l1.clone(),
                    vec![
                        Entry::new(now, "short"),
                        Entry::new(now, "short"),
                        Entry::new(now, "much too long a line"),
                        Entry::new(now - 2 * hour, "old"),
                    ],
                ),
                PushStream::new(l2, vec![Entry::new(now, "x")]),
                PushStream::new(Labels::empty(), vec![Entry::new(now, "x")]),
            ],
        )
        .unwrap();
    assert_eq!(res.accepted(), 1);
    assert_eq!(res.streams[0].duplicates, 1);
    let reasons: Vec<&RejectReason> = res.streams.iter().flat_map(|s| s.rejected.iter().map(|r| &r.reason)).collect();
    assert!(matches!(reasons[0], RejectReason::LineTooLong { size: 20, limit: 10 }), "{reasons:?}");
    assert!(matches!(reasons[1], RejectReason::TooFarBehind { .. }), "{reasons:?}");
    assert!(matches!(reasons[2], RejectReason::StreamLimit { limit: 1 }), "{reasons:?}");
    assert!(matches!(reasons[3], RejectReason::InvalidLabels(_)), "{reasons:?}");
    let msgs = res.messages();
    assert!(msgs[0].starts_with("Max entry size '10' bytes exceeded for stream '{app=\"a\"}'"), "{msgs:?}");
    assert!(msgs[1].contains("entry too far behind"), "{msgs:?}");
    assert!(res.is_limited());
}

#[test]
fn failed_and_partial_uploads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let faulty = Arc::new(FaultyStore::new(Arc::clone(&base)));
    let engine = Engine::open_with_store(config(dir.path()), faulty.clone()).unwrap();
    let model = push_dataset(&engine);

    // A chunk upload fails half-way: nothing is indexed, all stays readable.
    faulty.inject(Op::Put, "", Fault::Truncate, 1);
    assert!(engine.flush().is_err());
    assert!(base.list("index/").unwrap().is_empty(), "no index file after a failed chunk upload");
    check_all(&engine, &model);
    // The index upload fails: no index file is left, data still in memory.
    faulty.inject(Op::Put, "index/", Fault::Truncate, 1);
    assert!(engine.flush().is_err());
    assert!(base.list("index/").unwrap().is_empty(), "{:?}", base.list("index/").unwrap());
    check_all(&engine, &model);
    // The index upload happens but its acknowledgement is lost: the engine
    // takes it back and keeps the data.
    faulty.inject(Op::Put, "index/", Fault::FailAfter, 1);
    assert!(engine.flush().is_err());
    assert!(base.list("index/").unwrap().is_empty(), "{:?}", base.list("index/").unwrap());
    check_all(&engine, &model);
    // The retry succeeds and rewrites the truncated objects.
    engine.flush().unwrap();
    check_all(&engine, &model);
    engine.close().unwrap();
    drop(engine);
    let engine = Engine::open_with_store(config(dir.path()), base).unwrap();
    assert!(engine.open_report().skipped_index_files.is_empty());
    check_all(&engine, &model);
}

#[test]
fn memory_budget_flushes_early_and_maintenance_cuts_idle_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.memory_budget = Some(256 << 10);
    c.chunk_cache_bytes = 64 << 10;
    c.chunk_idle_period = Duration::from_millis(1);
    let engine = Engine::open(c).unwrap();
    let model = push_dataset(&engine);
    assert!(engine.memory_used() < 2 << 20, "{}", engine.memory_used());
    assert!(engine.store().list("index/").unwrap().len() > 1, "budget forced flushes");
    std::thread::sleep(Duration::from_millis(5));
    let m = engine.maintain().unwrap();
    assert!(m.chunks_cut > 0 && m.flush.chunks > 0, "{m:?}");
    check_all(&engine, &model);
}

#[test]
fn for_each_entry_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path())).unwrap();
    push_dataset(&engine);
    engine.flush().unwrap();
    let tenant = TenantId::new("gamma").unwrap();
    let streams = engine.select(&tenant, &[], i64::MIN / 2, i64::MAX / 2).unwrap();
    assert!(streams.iter().all(|s| s.num_stored_chunks() == s.num_chunks()));
    let mut n = 0;
    engine
        .for_each_entry(&streams[0], i64::MIN / 2, i64::MAX / 2, Direction::Backward, &mut |_| {
            n += 1;
            if n == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!(n, 3);
    let st = engine.stats(&tenant, i64::MIN / 2, i64::MAX / 2, &[]).unwrap();
    assert_eq!(st.streams as usize, streams.len());
}

#[test]
fn a_data_directory_has_one_engine_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path())).unwrap();
    let second = Engine::open(config(dir.path()));
    assert!(matches!(second, Err(lokistore::Error::Engine(lokistore::EngineError::Locked(_)))), "{second:?}");
    engine.close().unwrap();
    let t = TenantId::new("t").unwrap();
    assert!(matches!(engine.push(&t, vec![]), Err(lokistore::Error::Engine(lokistore::EngineError::Closed))));
    drop(engine);
    Engine::open(config(dir.path())).unwrap();
}
