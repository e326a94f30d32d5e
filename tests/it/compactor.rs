//! The compactor end to end: real engines flush many multi-tenant index
//! files, the compactor merges them into one per-tenant file per table
//! (Loki's names), everything stays readable, re-runs are no-ops, faults at
//! any point converge after a normal run, retention removes exactly the
//! expired data (objects only after the sweep delay), and the lease keeps
//! a second compactor out. Chunk compaction merges small chunks with every
//! entry reading back the same, alone and with retention, converges after
//! faults, and removes the replaced objects only after the delay; the
//! background schedule reports each run and stops.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::support::{chunk_objects, clock_of, memory_engine, referenced_chunk_paths};
use bytes::Bytes;
use lokistore::compactor::{ChunkCompaction, RetentionConfig, StreamRetention, TenantRetention};
use lokistore::compactor::{CompactionReport, Compactor, CompactorConfig, CompactorError};
use lokistore::engine::{Engine, EngineConfig, LogQuery, PushStream, StreamEntries};
use lokistore::index::{IndexFileName, read_object};
use lokistore::store::{Fault, FaultyStore, LocalFsStore, MemoryStore, ObjectStore, Op};
use lokistore::{ChunkConfig, ChunkKey, Direction, Entry, Fingerprint, Labels, SyncMode, TenantId};

const TENANTS: [&str; 3] = ["t1", "t2", "t3"];
const BASE_DAY: i64 = 19_000;
const DAY_NS: i64 = 86_400_000_000_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_NS: i64 = 3_600_000_000_000;
const BATCHES: i64 = 6;

/// (tenant, labels) -> entries in time order.
type Model = BTreeMap<(String, Labels), Vec<Entry>>;

fn config(dir: &Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    c
}

fn streams() -> Vec<Labels> {
    let mut v = Vec::new();
    for app in ["a", "b"] {
        for env in ["prod", "dev"] {
            v.push(format!(r#"{{app="{app}", env="{env}"}}"#).parse().unwrap());
        }
    }
    v
}

/// The day of batch `b`: two batches per day over three days.
fn batch_day(b: i64) -> i64 {
    BASE_DAY + b / 2
}

/// Pushes `BATCHES` batches, flushing after each (one multi-tenant file
/// per table and flush), plus one `t1` chunk spanning midnight.
fn push_all(engine: &Engine) -> Model {
    let mut model = Model::new();
    for b in 0..BATCHES {
        for (ti, t) in TENANTS.iter().enumerate() {
            let tenant = TenantId::new(*t).unwrap();
            let mut push = Vec::new();
            for (si, labels) in streams().into_iter().enumerate() {
                let start = batch_day(b) * DAY_NS + (1 + b % 2) * HOUR_NS;
                let entries: Vec<Entry> = (0..20i64)
                    .map(|i| {
                        let ts = start + (i * 1000 + si as i64 * 7 + ti as i64) * 1_000_000;
                        Entry::new(ts, format!("{t} {labels} batch {b} line {i}"))
                    })
                    .collect();
                model.entry((t.to_string(), labels.clone())).or_default().extend(entries.iter().cloned());
                push.push(PushStream::new(labels, entries));
            }
            engine.push(&tenant, push).unwrap();
        }
        engine.flush().unwrap();
    }
    let span: Labels = r#"{app="span"}"#.parse().unwrap();
    let midnight = (BASE_DAY + 3) * DAY_NS;
    let entries =
        vec![Entry::new(midnight - 1_000_000_000, "before midnight"), Entry::new(midnight + 1_000_000_000, "after")];
    model.entry(("t1".to_owned(), span.clone())).or_default().extend(entries.iter().cloned());
    engine.push(&TenantId::new("t1").unwrap(), vec![PushStream::new(span, entries)]).unwrap();
    engine.flush().unwrap();
    model
}

fn everything() -> LogQuery {
    LogQuery { matchers: vec![], from: i64::MIN / 2, through: i64::MAX / 2, direction: Direction::Forward, limit: 0 }
}

/// Reads every tenant back (after reloading the stored index) and compares
/// with `model`, entry for entry.
fn check(engine: &Engine, model: &Model) {
    engine.refresh_index().unwrap();
    for t in TENANTS {
        let tenant = TenantId::new(t).unwrap();
        let got = engine.query_logs(&tenant, &everything()).unwrap();
        let want: Vec<(&Labels, &Vec<Entry>)> =
            model.iter().filter(|((mt, _), e)| mt == t && !e.is_empty()).map(|((_, l), e)| (l, e)).collect();
        assert_eq!(got.len(), want.len(), "streams of {t}");
        for (g, (wl, we)) in got.iter().zip(&want) {
            assert_eq!(&g.labels, *wl);
            let a: Vec<(i64, &Bytes)> = g.entries.iter().map(|e| (e.timestamp, &e.line)).collect();
            let b: Vec<(i64, &Bytes)> = we.iter().map(|e| (e.timestamp, &e.line)).collect();
            assert_eq!(a, b, "entries of {} in {t}", g.labels);
        }
        let series = engine.series(&tenant, i64::MIN / 2, i64::MAX / 2, &[]).unwrap();
        assert_eq!(series.len(), want.len(), "series of {t}");
    }
}

/// Index objects: (table, tenant or None, parsed name).
fn index_files(store: &dyn ObjectStore) -> Vec<(String, Option<String>, IndexFileName)> {
    store
        .list("index/")
        .unwrap()
        .into_iter()
        .map(|m| {
            let parts: Vec<&str> = m.key.split('/').collect();
            let name = IndexFileName::parse(parts.last().unwrap()).unwrap();
            match parts.as_slice() {
                ["index", table, _] => (table.to_string(), None, name),
                ["index", table, tenant, _] => (table.to_string(), Some(tenant.to_string()), name),
                _ => panic!("unexpected index key {}", m.key),
            }
        })
        .collect()
}

/// Asserts the compacted shape: no multi-tenant file, exactly one
/// per-tenant file per (table, tenant) with Loki's name matching its TOC.
pub(crate) fn assert_compacted(store: &dyn ObjectStore) {
    let mut seen = BTreeSet::new();
    for m in store.list("index/").unwrap() {
        let parts: Vec<&str> = m.key.split('/').collect();
        let ["index", table, tenant, file] = parts.as_slice() else { panic!("not compacted: {}", m.key) };
        let IndexFileName::Compacted { from, through, checksum, created } = IndexFileName::parse(file).unwrap() else {
            panic!("not a compactor name: {}", m.key)
        };
        assert!(created > 10_000_000_000, "nanoseconds in {file}");
        let reader = read_object(&m.key, store.get(&m.key).unwrap()).unwrap();
        assert_eq!((reader.toc().from, reader.toc().through, reader.checksum()), (from, through, checksum));
        assert_eq!(reader.format().to_byte(), 3);
        assert!(seen.insert((table.to_string(), tenant.to_string())), "two files for {table}/{tenant}");
    }
    assert!(!seen.is_empty());
}

fn compactor(store: Arc<dyn ObjectStore>, owner: &str) -> Compactor {
    Compactor::new(store, CompactorConfig { owner: owner.to_owned(), ..CompactorConfig::default() })
}

#[test]
fn compaction_leaves_one_file_per_table_and_tenant_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFsStore::open(dir.path().join("store")).unwrap());
    let engine = Engine::open_with_store(config(&dir.path().join("data")), Arc::clone(&store)).unwrap();
    let mut model = push_all(&engine);
    let before = index_files(&*store);
    assert!(before.iter().all(|(_, t, _)| t.is_none()));
    assert!(before.len() >= 7, "{}", before.len());
    check(&engine, &model);

    let c = compactor(Arc::clone(&store), "c1");
    let r = c.run_once().unwrap();
    assert!(r.skipped_objects.is_empty(), "{:?}", r.skipped_objects);
    assert_eq!(r.files_deleted, before.len());
    assert_compacted(&*store);
    let tables: BTreeSet<String> = before.iter().map(|(t, _, _)| t.clone()).collect();
    let after = index_files(&*store);
    // Three days for every tenant plus the spanning chunk's extra day for t1.
    assert_eq!(tables.len(), 4);
    assert_eq!(after.len(), 3 * 3 + 1);
    assert_eq!(r.files_written, after.len());
    check(&engine, &model);

    // A second run is a no-op.
    // (Each run takes a new lease generation; everything else is untouched.)
    let data_keys = |s: &dyn ObjectStore| -> Vec<String> {
        s.list("").unwrap().into_iter().map(|m| m.key).filter(|k| !k.starts_with("compactor/lease/")).collect()
    };
    let listing = data_keys(&*store);
    let r2 = c.run_once().unwrap();
    assert_eq!((r2.files_written, r2.files_deleted, r2.tables_compacted), (0, 0, 0), "{r2:?}");
    assert_eq!(listing, data_keys(&*store));

    // New data into a compacted table is merged with the compacted file.
    let tenant = TenantId::new("t2").unwrap();
    let labels: Labels = r#"{app="late"}"#.parse().unwrap();
    let entries = vec![Entry::new(BASE_DAY * DAY_NS + 5 * HOUR_NS, "late line")];
    engine.push(&tenant, vec![PushStream::new(labels.clone(), entries.clone())]).unwrap();
    engine.flush().unwrap();
    model.insert(("t2".to_owned(), labels), entries);
    let r3 = c.run_once().unwrap();
    assert_eq!((r3.files_written, r3.files_deleted), (1, 2), "{r3:?}");
    assert_compacted(&*store);
    check(&engine, &model);
}

#[test]
fn corrupt_index_files_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = memory_engine(config(dir.path()));
    let model = push_all(&engine);
    let bad_common = format!("index/index_{BASE_DAY}/1700000000-bad-1.tsdb.gz");
    let bad_tenant = format!("index/index_{BASE_DAY}/t1/1700000000000000000-compactor-1-2-abc.tsdb.gz");
    store.put(&bad_common, Bytes::from_static(b"\x1f\x8b garbage")).unwrap();
    store.put(&bad_tenant, Bytes::from_static(b"not an index")).unwrap();
    let r = compactor(Arc::clone(&store), "c").run_once().unwrap();
    let skipped: BTreeSet<&str> = r.skipped_objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(skipped, BTreeSet::from([bad_common.as_str(), bad_tenant.as_str()]));
    assert!(store.get(&bad_common).is_ok() && store.get(&bad_tenant).is_ok());
    store.delete(&bad_common).unwrap();
    store.delete(&bad_tenant).unwrap();
    assert_compacted(&*store);
    check(&engine, &model);
}

#[test]
fn faults_at_any_point_then_a_normal_run_converge() {
    let cases: Vec<(Op, String, Fault)> = vec![
        (Op::Put, "index/".into(), Fault::Fail),
        (Op::Put, "index/".into(), Fault::Truncate),
        (Op::Put, "index/".into(), Fault::FailAfter),
        (Op::Put, format!("index_{}/t3/", BASE_DAY + 1), Fault::Fail),
        (Op::Delete, "index/".into(), Fault::Fail),
        (Op::Delete, "index/".into(), Fault::FailAfter),
        (Op::Put, "/t2/".into(), Fault::Fail),
        (Op::Delete, format!("index_{}/", BASE_DAY + 1), Fault::Fail),
        (Op::List, "index/".into(), Fault::Fail),
        (Op::Get, "index/".into(), Fault::Fail),
        (Op::PutIfAbsent, "compactor/".into(), Fault::Fail),
    ];
    for (op, key, fault) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (base, engine) = memory_engine(config(dir.path()));
        let faulty = Arc::new(FaultyStore::new(Arc::clone(&base)));
        let model = push_all(&engine);
        let c = compactor(faulty.clone(), "c");
        faulty.fail_always(op, &key);
        let failed = c.run_once();
        faulty.clear();
        let what = format!("{op:?} {key} {fault:?}");
        if !matches!(fault, Fault::FailAfter) {
            assert!(failed.is_err(), "{what}: {failed:?}");
        }
        // Whatever happened, every entry is still reachable.
        check(&engine, &model);
        // A normal run (the failed one's lease expired or was released).
        let c2 = compactor(faulty.clone(), "c2").with_clock(|| i64::MAX / 2);
        c2.run_once().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_compacted(&*base);
        check(&engine, &model);
        let r = c2.run_once().unwrap();
        assert_eq!((r.files_written, r.files_deleted), (0, 0), "{what}");
        drop(engine);
    }
}

#[test]
fn the_lease_keeps_a_second_compactor_out() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let now = Arc::new(AtomicI64::new(1_700_000_000_000_000_000));
    let clock = clock_of(&now);
    let a = compactor(Arc::clone(&store), "a").with_clock(clock.clone());
    let b = compactor(Arc::clone(&store), "b").with_clock(clock);
    let held = a.acquire_lease().unwrap();
    let err = b.run_once().unwrap_err();
    match CompactorError::from_error(&err) {
        Some(CompactorError::LeaseHeld { owner, .. }) => assert_eq!(owner, "a"),
        other => panic!("{other:?} {err}"),
    }
    held.release().unwrap();
    b.run_once().unwrap();

    // A holder that crashed keeps others out until its lease expires.
    let crashed = a.acquire_lease().unwrap();
    std::mem::forget(crashed);
    assert!(b.run_once().is_err());
    now.fetch_add(599_000_000_000, Ordering::SeqCst);
    assert!(b.run_once().is_err());
    now.fetch_add(1_000_000_000, Ordering::SeqCst);
    b.run_once().unwrap();
}

#[test]
fn retention_removes_exactly_the_expired_data_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = memory_engine(config(dir.path()));
    let model = push_all(&engine);

    const D: Duration = Duration::from_secs(86_400);
    let mut tenants = HashMap::new();
    tenants.insert("t2".to_owned(), TenantRetention::with_period(D * 3));
    tenants.insert(
        "t3".to_owned(),
        TenantRetention {
            period: Duration::ZERO,
            streams: vec![
                StreamRetention::new(r#"{app="a"}"#, 1, D * 2).unwrap(),
                StreamRetention::new(r#"{app="a", env="prod"}"#, 2, D * 30).unwrap(),
            ],
        },
    );
    let retention = RetentionConfig { defaults: TenantRetention::with_period(D * 30), tenants, ..Default::default() };
    let start_ns = (BASE_DAY + 4) * DAY_NS + 12 * HOUR_NS;
    let now = Arc::new(AtomicI64::new(start_ns));
    let c = Compactor::new(
        Arc::clone(&store),
        CompactorConfig { owner: "ret".into(), retention: Some(retention.clone()), ..Default::default() },
    )
    .with_clock(clock_of(&now));

    // Which chunk objects must go: decided from the keys alone.
    let now_ms = start_ns / 1_000_000;
    let labels_of: HashMap<(String, Fingerprint), Labels> =
        model.keys().map(|(t, l)| ((t.clone(), l.fingerprint()), l.clone())).collect();
    let all = chunk_objects(&*store);
    let expired: BTreeSet<String> = all
        .iter()
        .filter(|k| {
            let key: ChunkKey = k.parse().unwrap();
            let labels = &labels_of[&(key.tenant.clone(), key.fingerprint)];
            let period = retention.tenant(&key.tenant).period_ms_for(labels);
            period > 0 && now_ms - key.through_ms > period
        })
        .cloned()
        .collect();
    assert!(!expired.is_empty() && expired.len() < all.len());
    let kept_model: Model = model
        .iter()
        .map(|((t, l), entries)| {
            let period = retention.tenant(t).period_ms_for(l);
            // Every chunk holds one batch of one day: whole days expire.
            let keep =
                |e: &Entry| period <= 0 || now_ms - (e.timestamp.div_euclid(DAY_NS) * DAY_MS + 3 * 3_600_000) <= period;
            ((t.clone(), l.clone()), entries.iter().filter(|e| keep(e)).cloned().collect())
        })
        .collect();
    assert_ne!(kept_model, model);
    let key = |t: &str, l: &str| (t.to_owned(), l.parse::<Labels>().unwrap());
    assert!(kept_model[&key("t3", r#"{app="a", env="dev"}"#)].is_empty(), "rule {{app=\"a\"}}: 2 days");
    assert_eq!(kept_model[&key("t3", r#"{app="a", env="prod"}"#)], model[&key("t3", r#"{app="a", env="prod"}"#)]);
    assert_eq!(kept_model[&key("t3", r#"{app="b", env="dev"}"#)], model[&key("t3", r#"{app="b", env="dev"}"#)]);
    assert!(kept_model[&key("t2", r#"{app="b", env="dev"}"#)].iter().all(|e| e.timestamp >= (BASE_DAY + 2) * DAY_NS));
    assert!(!kept_model[&key("t2", r#"{app="b", env="dev"}"#)].is_empty());
    assert!(model.iter().filter(|((t, _), _)| t == "t1").all(|(k, v)| kept_model[k] == *v));

    let r = c.run_once().unwrap();
    assert_eq!(r.chunks_marked, expired.len(), "{r:?}");
    assert_eq!(r.chunks_deleted, 0);
    assert_compacted(&*store);
    // t2 keeps nothing of the first two days: its tables there are gone.
    let files = index_files(&*store);
    for d in [BASE_DAY, BASE_DAY + 1] {
        assert!(!files.iter().any(|(t, ten, _)| *t == format!("index_{d}") && ten.as_deref() == Some("t2")));
    }
    check(&engine, &kept_model);
    assert_eq!(chunk_objects(&*store), all, "nothing deleted before the delay");

    now.fetch_add(HOUR_NS, Ordering::SeqCst);
    let r = c.run_once().unwrap();
    assert_eq!((r.chunks_marked, r.chunks_deleted, r.files_written), (0, 0, 0), "{r:?}");
    assert_eq!(chunk_objects(&*store), all);

    now.fetch_add(HOUR_NS + 1, Ordering::SeqCst);
    let r: CompactionReport = c.run_once().unwrap();
    assert_eq!(r.chunks_deleted, expired.len());
    let left: BTreeSet<String> = all.difference(&expired).cloned().collect();
    assert_eq!(chunk_objects(&*store), left);
    assert!(store.list(lokistore::compactor::READY_PREFIX).unwrap().is_empty());
    check(&engine, &kept_model);
    let r = c.run_once().unwrap();
    assert_eq!((r.chunks_marked, r.chunks_deleted, r.files_written, r.files_deleted), (0, 0, 0, 0));
}

#[test]
fn retention_survives_a_crash_between_upload_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (base, engine) = memory_engine(config(dir.path()));
    let faulty = Arc::new(FaultyStore::new(Arc::clone(&base)));
    let model = push_all(&engine);
    let all = chunk_objects(&*base);
    let now = (BASE_DAY + 4) * DAY_NS + 12 * HOUR_NS;
    let retention = RetentionConfig::with_period(Duration::from_secs(86_400 * 3));
    let make = |store: Arc<dyn ObjectStore>, t: i64| {
        Compactor::new(
            store,
            CompactorConfig { owner: "r".into(), retention: Some(retention.clone()), ..Default::default() },
        )
        .with_clock(move || t)
    };
    // Deleting the multi-tenant sources fails after the new files and the
    // pending markers were written.
    faulty.fail_always(Op::Delete, &format!("index_{BASE_DAY}/"));
    assert!(make(faulty.clone(), now).run_once().is_err());
    faulty.clear();
    assert!(!base.list(lokistore::compactor::PENDING_PREFIX).unwrap().is_empty());
    let first_two_days = |e: &Entry| e.timestamp >= (BASE_DAY + 2) * DAY_NS;
    let kept: Model =
        model.iter().map(|(k, v)| (k.clone(), v.iter().filter(|e| first_two_days(e)).cloned().collect())).collect();
    make(Arc::clone(&base), now + 1).run_once().unwrap();
    check(&engine, &kept);
    assert!(base.list(lokistore::compactor::PENDING_PREFIX).unwrap().is_empty());
    let r = make(Arc::clone(&base), now + 3 * HOUR_NS).run_once().unwrap();
    assert!(r.chunks_deleted > 0);
    let left = chunk_objects(&*base);
    assert!(left.len() < all.len());
    for k in all.difference(&left) {
        let key: ChunkKey = k.parse().unwrap();
        assert!(key.through_ms < (BASE_DAY + 2) * DAY_MS, "{k} deleted");
    }
    for k in &left {
        let key: ChunkKey = k.parse().unwrap();
        assert!(key.through_ms > (BASE_DAY + 2) * DAY_MS, "{k} kept");
    }
    check(&engine, &kept);
}

// ---------------------------------------------------------------------
// Chunk compaction.

/// Number of chunk references in the index (a chunk indexed in two
/// tables counts twice).
fn chunk_refs(store: &dyn ObjectStore) -> usize {
    let mut n = 0;
    for m in store.list("index/").unwrap() {
        let reader = read_object(&m.key, store.get(&m.key).unwrap()).unwrap();
        n += reader.all_series().map(|s| s.unwrap().chunks.len()).sum::<usize>();
    }
    n
}

/// Asserts every indexed chunk object exists and no other one does.
pub(crate) fn assert_chunks_exactly_referenced(store: &dyn ObjectStore) {
    let referenced = referenced_chunk_paths(store);
    let stored = chunk_objects(store);
    let dangling: Vec<&String> = referenced.difference(&stored).collect();
    let leftover: Vec<&String> = stored.difference(&referenced).collect();
    assert!(dangling.is_empty(), "indexed but missing: {dangling:?}");
    assert!(leftover.is_empty(), "stored but not indexed: {leftover:?}");
}

/// Chunk compaction settings for small test data: chunks under 2 KiB
/// uncompressed are small, new chunks are cut near 2 KiB compressed.
fn small_chunks() -> ChunkCompaction {
    ChunkCompaction {
        chunk: ChunkConfig::default().with_target_size(2 * 1024).with_block_size(1024),
        min_chunk_size: 2 * 1024,
        ..ChunkCompaction::default()
    }
}

/// Pushes `rounds` rounds of entries to three streams of every tenant,
/// flushing after each round, so every stream gets one small chunk per
/// round: the first half of the rounds on day `BASE_DAY`, the rest on the
/// next day. Odd rounds also write an entry between the previous round's
/// entries (overlapping chunks) and every fourth round repeats the
/// previous round's first entry (a duplicate reads give once). One `t1`
/// chunk spans midnight. Every third entry has structured metadata.
fn push_small_chunks(engine: &Engine, rounds: i64) {
    for r in 0..rounds {
        let day = if r < rounds / 2 { BASE_DAY } else { BASE_DAY + 1 };
        let base = |r: i64| day * DAY_NS + 2 * HOUR_NS + r * 60_000_000_000;
        for t in TENANTS {
            let tenant = TenantId::new(t).unwrap();
            let mut push = Vec::new();
            for s in 0..3i64 {
                let labels: Labels = format!(r#"{{app="small", s="{s}"}}"#).parse().unwrap();
                let mut entries: Vec<Entry> = (0..8i64)
                    .map(|i| {
                        let ts = base(r) + i * 1_000_000_000 + s * 1_000;
                        let line = format!("{t} s{s} round {r} line {i} status=200 took={}ms", (r * 7 + i) % 97);
                        let md = if i % 3 == 0 {
                            vec![lokistore::Label::new("trace_id", format!("{r:x}{i:x}"))]
                        } else {
                            vec![]
                        };
                        Entry::with_metadata(ts, line, md)
                    })
                    .collect();
                if r % 2 == 1 && r != rounds / 2 {
                    let ts = base(r - 1) + 500_000_000 + s * 1_000;
                    entries.insert(0, Entry::new(ts, format!("{t} s{s} round {r} late line")));
                }
                if r % 4 == 3 && r != rounds / 2 {
                    let ts = base(r - 1) + s * 1_000;
                    let line = format!("{t} s{s} round {} line 0 status=200 took={}ms", r - 1, ((r - 1) * 7) % 97);
                    let md = vec![lokistore::Label::new("trace_id", format!("{:x}0", r - 1))];
                    entries.insert(0, Entry::with_metadata(ts, line, md));
                }
                push.push(PushStream::new(labels, entries));
            }
            engine.push(&tenant, push).unwrap();
        }
        engine.flush().unwrap();
    }
    let span: Labels = r#"{app="span"}"#.parse().unwrap();
    let midnight = (BASE_DAY + 1) * DAY_NS;
    let entries = vec![Entry::new(midnight - 1_000_000_000, "before"), Entry::new(midnight + 1_000_000_000, "after")];
    engine.push(&TenantId::new("t1").unwrap(), vec![PushStream::new(span, entries)]).unwrap();
    engine.flush().unwrap();
}

/// Every tenant's streams, as reads return them.
type Everything = Vec<(String, Vec<StreamEntries>)>;

/// Every entry of every tenant, as reads return them (after reloading the
/// stored index).
fn read_everything(engine: &Engine) -> Everything {
    engine.refresh_index().unwrap();
    TENANTS
        .iter()
        .map(|t| (t.to_string(), engine.query_logs(&TenantId::new(*t).unwrap(), &everything()).unwrap()))
        .collect()
}

/// An engine over a new in-memory store with `rounds` rounds of small
/// chunks pushed, and what reads return then.
fn small_chunks_engine(dir: &Path, rounds: i64) -> (Arc<dyn ObjectStore>, Engine, Everything) {
    let (store, engine) = memory_engine(config(dir));
    push_small_chunks(&engine, rounds);
    let before = read_everything(&engine);
    (store, engine, before)
}

#[test]
fn chunk_compaction_merges_small_chunks_and_every_entry_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, before) = small_chunks_engine(dir.path(), 24);
    let total: usize = before.iter().flat_map(|(_, s)| s).map(|s| s.entries.len()).sum();
    assert!(total > 1500, "{total}");
    let old_chunks = chunk_objects(&*store);
    assert!(old_chunks.len() > 200, "{}", old_chunks.len());
    let refs_before = chunk_refs(&*store);

    let now = Arc::new(AtomicI64::new((BASE_DAY + 3) * DAY_NS));
    let c = Compactor::new(
        Arc::clone(&store),
        CompactorConfig { owner: "chunks".into(), chunks: Some(small_chunks()), ..CompactorConfig::default() },
    )
    .with_clock(clock_of(&now));
    let r = c.run_once().unwrap();
    assert!(r.skipped_objects.is_empty(), "{:?}", r.skipped_objects);
    assert!(r.chunks_replaced > 10 * r.chunks_written / 2, "{r:?}");
    assert!(r.chunks_written > 3 * 3 * 2, "several new chunks per stream and day: {r:?}");
    assert_eq!(r.chunks_deleted, 0, "nothing deleted before the delay");
    assert_compacted(&*store);
    // Every entry reads the same, in the same order, with its metadata.
    assert_eq!(read_everything(&engine), before);
    let refs_after = chunk_refs(&*store);
    assert!(refs_after * 5 < refs_before, "{refs_before} -> {refs_after}");
    // The spanning chunk is left alone, in both tables.
    assert_eq!(refs_after - r.chunks_written, 2, "only the spanning chunk's two references are old");
    // The old objects stay for readers holding the old index.
    let mut all = old_chunks.clone();
    all.extend(referenced_chunk_paths(&*store));
    assert_eq!(chunk_objects(&*store), all);

    // A rerun before the delay changes nothing.
    let data_keys = |s: &dyn ObjectStore| -> Vec<String> {
        s.list("").unwrap().into_iter().map(|m| m.key).filter(|k| !k.starts_with("compactor/lease/")).collect()
    };
    let listing = data_keys(&*store);
    let r = c.run_once().unwrap();
    assert_eq!((r.files_written, r.files_deleted, r.chunks_written, r.chunks_deleted), (0, 0, 0, 0), "{r:?}");
    assert_eq!(data_keys(&*store), listing);

    // After the delay the sweeper removes the replaced objects, and only those.
    now.fetch_add(2 * HOUR_NS + 1, Ordering::SeqCst);
    let r = c.run_once().unwrap();
    assert_eq!(r.chunks_deleted, old_chunks.len() - 1, "every old chunk but the spanning one: {r:?}");
    assert_chunks_exactly_referenced(&*store);
    assert!(store.list("compactor/markers/").unwrap().is_empty());
    assert!(chunk_objects(&*store).len() * 5 < old_chunks.len());
    assert_eq!(read_everything(&engine), before);

    // Idempotent: nothing left to do.
    let listing = data_keys(&*store);
    let r = c.run_once().unwrap();
    assert_eq!((r.files_written, r.chunks_written, r.chunks_deleted), (0, 0, 0), "{r:?}");
    assert_eq!(data_keys(&*store), listing);

    // New small chunks merge with the compacted ones' neighbours later.
    push_small_chunks(&engine, 4);
    let before = read_everything(&engine);
    let r = c.run_once().unwrap();
    assert!(r.chunks_written > 0, "{r:?}");
    assert_compacted(&*store);
    assert_eq!(read_everything(&engine), before);
}

#[test]
fn chunk_compaction_works_with_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, before) = small_chunks_engine(dir.path(), 12);
    // Day BASE_DAY expires for t2; the rest is kept and merged.
    let mut tenants = HashMap::new();
    // 30h: day BASE_DAY is older than that, the next day stays younger
    // than that through the test.
    tenants.insert("t2".to_owned(), TenantRetention::with_period(Duration::from_secs(30 * 3600)));
    let retention = RetentionConfig { tenants, delete_delay: Duration::from_secs(3600), ..Default::default() };
    let now = Arc::new(AtomicI64::new((BASE_DAY + 2) * DAY_NS + HOUR_NS));
    let c = Compactor::new(
        Arc::clone(&store),
        CompactorConfig {
            owner: "both".into(),
            retention: Some(retention),
            chunks: Some(small_chunks()),
            ..CompactorConfig::default()
        },
    )
    .with_clock(clock_of(&now));
    let r = c.run_once().unwrap();
    assert!(r.chunks_marked > 0 && r.chunks_written > 0, "{r:?}");
    assert_compacted(&*store);
    let want: Everything = before
        .iter()
        .map(|(t, streams)| {
            let kept = streams
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    if t == "t2" {
                        s.entries.retain(|e| e.timestamp >= (BASE_DAY + 1) * DAY_NS);
                    }
                    s
                })
                .filter(|s| !s.entries.is_empty())
                .collect();
            (t.clone(), kept)
        })
        .collect();
    assert_ne!(want, before);
    assert_eq!(read_everything(&engine), want);
    // Retention's delay is one hour here, chunk compaction's 2h: the longer
    // one applies to every marker.
    assert_eq!(c.delete_delay(), Duration::from_secs(2 * 3600));
    now.fetch_add(2 * HOUR_NS + 1, Ordering::SeqCst);
    let r = c.run_once().unwrap();
    assert!(r.chunks_deleted > 0, "{r:?}");
    assert_chunks_exactly_referenced(&*store);
    assert_eq!(read_everything(&engine), want);
    let r = c.run_once().unwrap();
    assert_eq!((r.files_written, r.chunks_written, r.chunks_marked, r.chunks_deleted), (0, 0, 0, 0), "{r:?}");
}

#[test]
fn chunk_compaction_faults_then_a_normal_run_converge() {
    // Each case fails one kind of step of the first run; a second run
    // settles its journal and finishes; after the delay the store holds
    // exactly the indexed chunks.
    let cases: Vec<(Op, &str, Fault)> = vec![
        (Op::Put, "t1/", Fault::Fail),
        (Op::Put, "t2/", Fault::FailAfter),
        (Op::Put, "index/", Fault::Fail),
        (Op::Put, "index/", Fault::Truncate),
        (Op::Delete, "index/", Fault::Fail),
        (Op::PutIfAbsent, "compactor/markers/ready/", Fault::Fail),
        (Op::Get, "t3/", Fault::Fail),
    ];
    let (mut rolled_back, mut kept) = (0, 0);
    for (op, key, fault) in cases {
        let what = format!("{op:?} {key} {fault:?}");
        let dir = tempfile::tempdir().unwrap();
        let (base, engine) = memory_engine(config(dir.path()));
        let faulty = Arc::new(FaultyStore::new(Arc::clone(&base)));
        push_small_chunks(&engine, 8);
        let before = read_everything(&engine);
        let make = |store: Arc<dyn ObjectStore>, t: i64| {
            Compactor::new(
                store,
                CompactorConfig { owner: "f".into(), chunks: Some(small_chunks()), ..CompactorConfig::default() },
            )
            .with_clock(move || t)
        };
        let t0 = (BASE_DAY + 3) * DAY_NS;
        match fault {
            Fault::Fail => faulty.fail_always(op, key),
            other => faulty.inject(op, key, other, 1),
        }
        let failed = make(faulty.clone(), t0).run_once();
        faulty.clear();
        if matches!(fault, Fault::Fail) {
            assert!(failed.is_err(), "{what}: {failed:?}");
        }
        assert_eq!(read_everything(&engine), before, "{what}: after the failed run");
        // The failed run's lease expired 10 minutes later.
        let r = make(Arc::clone(&base), t0 + HOUR_NS).run_once().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.skipped_objects.is_empty(), "{what}: {:?}", r.skipped_objects);
        rolled_back += r.passes_rolled_back;
        assert_compacted(&*base);
        assert_eq!(read_everything(&engine), before, "{what}: after the second run");
        let r = make(Arc::clone(&base), t0 + 4 * HOUR_NS).run_once().unwrap();
        assert_eq!((r.files_written, r.chunks_written), (0, 0), "{what}: {r:?}");
        // Chunks of a rolled back pass that the redone pass wrote again
        // (same bytes, same key) are kept.
        kept += r.chunks_kept_referenced;
        assert_chunks_exactly_referenced(&*base);
        assert!(base.list("compactor/markers/").unwrap().is_empty(), "{what}");
        assert_eq!(read_everything(&engine), before, "{what}: after the sweep");
        drop(engine);
    }
    assert!(rolled_back > 0 && kept > 0, "{rolled_back} {kept}");
}

#[test]
fn background_compactor_reports_each_run_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, before) = small_chunks_engine(dir.path(), 4);
    let cfg = CompactorConfig { owner: "bg".into(), chunks: Some(small_chunks()), ..CompactorConfig::default() };
    // Another compactor holds the lease: the first run reports the error.
    let other = Compactor::new(Arc::clone(&store), CompactorConfig { owner: "other".into(), ..Default::default() });
    let held = other.acquire_lease().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = Compactor::new(Arc::clone(&store), cfg).spawn_with(Duration::from_millis(5), move |res| {
        let _ = tx.send(res.as_ref().map(|r| r.chunks_written).map_err(|e| e.to_string()));
    });
    let first = rx.recv().unwrap();
    assert!(first.as_ref().is_err_and(|e| e.contains("held by \"other\"")), "{first:?}");
    held.release().unwrap();
    let written = loop {
        match rx.recv().unwrap() {
            Ok(n) => break n,
            Err(e) => assert!(e.contains("held by"), "{e}"),
        }
    };
    assert!(written > 0);
    // Later runs find nothing to do.
    assert_eq!(rx.recv().unwrap(), Ok(0));
    assert!(handle.is_running());
    handle.stop();
    // The thread is gone (the channel is closed); runs reported meanwhile
    // found nothing to do.
    assert!(rx.iter().all(|r| r == Ok(0)));
    assert_compacted(&*store);
    assert_eq!(read_everything(&engine), before);
    // Dropping a handle stops it too.
    let h = Compactor::new(Arc::clone(&store), CompactorConfig::default()).spawn(Duration::from_secs(3600));
    drop(h);
}
