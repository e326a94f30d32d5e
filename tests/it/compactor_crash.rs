//! Crash test of the compactor: a child process
//! (`examples/compactor_crash_child.rs`) runs index and chunk compaction
//! over a [`LocalFsStore`] full of small chunks and is killed with SIGKILL,
//! either at a random moment or paused just before a random change to the
//! store. Between rounds the test adds data through an [`Engine`] and
//! reads everything back: every entry must be there exactly once, with its
//! metadata, and every indexed chunk object must exist. At the end a
//! normal run (after the sweep delay) must leave a compacted store: one
//! index file per table and tenant, far fewer chunks, no chunk object
//! without a reference, no marker.
//!
//! The kill moments come from a seeded PRNG; the seed is printed and
//! `COMPACTOR_CRASH_SEED` repeats a run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{Rng, crash_seed, example_binary};
use lokistore::engine::{Engine, LogQuery};
use lokistore::store::{LocalFsStore, ObjectStore};
use lokistore::{Direction, Entry, Labels, TenantId};

use super::compactor::{assert_chunks_exactly_referenced, assert_compacted};
use super::support::referenced_chunk_paths;

// The child's settings and data; its `main` is not used here.
#[allow(dead_code)]
#[path = "../../examples/compactor_crash_child.rs"]
mod child;

use child::shared::{BASE_DAY, FLUSHES_PER_ROUND, TENANTS, engine_config, push};

const DAY_NS: i64 = 86_400_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

/// Kill rounds.
const ROUNDS: i64 = 16;

/// When the child is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Just before its n-th change to the store.
    BeforeChange(u64),
    /// This many microseconds after it opened the store.
    AfterUs(u64),
    /// Not at all: the run finishes.
    Never,
}

/// Runs the child at clock `clock_ns`; returns what it printed last
/// (`DONE ...`, `PAUSE n`, or `READY` when killed while running).
fn run_child(store_dir: &Path, clock_ns: i64, kill: Kill) -> String {
    let mut cmd = Command::new(example_binary("compactor_crash_child"));
    cmd.arg(store_dir).arg(clock_ns.to_string());
    if let Kill::BeforeChange(n) = kill {
        cmd.arg(n.to_string());
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().and_then(|l| l.ok());
    assert_eq!(ready.as_deref(), Some("READY"), "the child did not start");
    let last = match kill {
        Kill::AfterUs(us) => {
            std::thread::sleep(Duration::from_micros(us));
            let _ = child.kill(); // SIGKILL on Unix
            lines.map_while(Result::ok).last().unwrap_or_else(|| "READY".to_owned())
        }
        Kill::BeforeChange(_) | Kill::Never => {
            // `PAUSE n` (then it waits to be killed) or `DONE ...`.
            let line = lines.next().and_then(|l| l.ok()).unwrap_or_default();
            if line.starts_with("PAUSE ") {
                let _ = child.kill();
            }
            line
        }
    };
    let status = child.wait().unwrap();
    if last.starts_with("DONE ") {
        assert!(status.success(), "the child failed after {last}: {status}");
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "the child was not killed but exited ({last}): {status}");
        }
    }
    last
}

/// (tenant, stream labels) -> entries in time order.
type Model = BTreeMap<(String, Labels), Vec<Entry>>;

/// Reads every tenant through `engine` (after reloading the stored index)
/// and compares with `model`, entry for entry.
fn check(engine: &Engine, model: &Model, what: &str) -> usize {
    engine.refresh_index().unwrap();
    let mut n = 0;
    for t in TENANTS {
        let q = LogQuery { matchers: vec![], from: 0, through: i64::MAX / 2, direction: Direction::Forward, limit: 0 };
        let got = engine.query_logs(&TenantId::new(t).unwrap(), &q).unwrap_or_else(|e| panic!("{what}: {t}: {e}"));
        let want: Vec<(&Labels, &Vec<Entry>)> =
            model.iter().filter(|((mt, _), _)| mt == t).map(|((_, l), e)| (l, e)).collect();
        assert_eq!(got.len(), want.len(), "{what}: streams of {t}");
        for (g, (labels, entries)) in got.iter().zip(want) {
            assert_eq!(&g.labels, labels, "{what}");
            assert_eq!(g.entries.len(), entries.len(), "{what}: {t} {labels}: entry count");
            assert!(g.entries == *entries, "{what}: {t} {labels}: entries differ");
            n += entries.len();
        }
    }
    n
}

/// Chunk objects in the store (keys outside `index/` and `compactor/`).
fn chunk_count(store: &dyn ObjectStore) -> usize {
    store.list("").unwrap().iter().filter(|m| !m.key.starts_with("index/") && !m.key.starts_with("compactor/")).count()
}

#[test]
fn compactor_converges_after_sigkill_at_any_point() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("store");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFsStore::open(&store_dir).unwrap());
    let engine = Engine::open_with_store(engine_config(&tmp.path().join("data")), Arc::clone(&store)).unwrap();
    let mut rng = Rng(crash_seed("COMPACTOR_CRASH_SEED", "compactor"));
    let start = Instant::now();
    let mut model = Model::new();
    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let clock = |r: i64| (BASE_DAY + 5) * DAY_NS + r * HOUR_NS;
    for r in 0..ROUNDS {
        for f in 0..FLUSHES_PER_ROUND {
            for (tenant, streams) in push(r, f) {
                for s in &streams {
                    let e = model.entry((tenant.as_str().to_owned(), s.labels.clone())).or_default();
                    e.extend(s.entries.iter().cloned());
                }
                engine.push(&tenant, streams).unwrap();
            }
            engine.flush().unwrap();
        }
        // A run makes some 10 to 40 changes and takes some 10 to 50 ms.
        let kill = match r % 3 {
            0 => Kill::BeforeChange(1 + rng.below(40)),
            1 => Kill::AfterUs(rng.below(50_000)),
            _ if r % 6 == 2 => Kill::Never,
            _ => Kill::BeforeChange(1 + rng.below(15)),
        };
        let last = run_child(&store_dir, clock(r), kill);
        let outcome = if last.starts_with("DONE") { "finished" } else { "killed" };
        *outcomes.entry(outcome).or_default() += 1;
        let what = format!("round {r} ({kill:?}, {last})");
        let n = check(&engine, &model, &what);
        let referenced = referenced_chunk_paths(&*store);
        let stored: BTreeSet<String> = store
            .list("")
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .filter(|k| !k.starts_with("index/") && !k.starts_with("compactor/"))
            .collect();
        let dangling: Vec<&String> = referenced.difference(&stored).collect();
        assert!(dangling.is_empty(), "{what}: indexed chunks missing: {dangling:?}");
        eprintln!("{what}: {n} entries, {} chunk objects; {:.1?}", stored.len(), start.elapsed());
    }
    let created = (ROUNDS * FLUSHES_PER_ROUND) as usize * TENANTS.len() * 3;

    // A normal run, one after the sweep delay, and one with nothing left
    // to do.
    let last = run_child(&store_dir, clock(ROUNDS + 1), Kill::Never);
    assert!(last.starts_with("DONE "), "{last}");
    let last = run_child(&store_dir, clock(ROUNDS + 4), Kill::Never);
    assert!(last.starts_with("DONE 0 "), "nothing left to merge: {last}");
    let last = run_child(&store_dir, clock(ROUNDS + 4), Kill::Never);
    assert_eq!(last, "DONE 0 0", "nothing left to merge or sweep");
    engine.close().unwrap();
    drop(engine);

    assert_compacted(&*store);
    assert_chunks_exactly_referenced(&*store);
    assert!(store.list("compactor/markers/").unwrap().is_empty());
    assert_eq!(std::fs::read_dir(store_dir.join(".tmp")).unwrap().count(), 0, "temp files left");
    let chunks = chunk_count(&*store);
    assert!(chunks * 4 <= created, "{created} chunks written, {chunks} left");
    // A fresh engine (no chunk cache, nothing in memory) reads it all.
    let fresh = Engine::open_with_store(engine_config(&tmp.path().join("fresh")), Arc::clone(&store)).unwrap();
    let n = check(&fresh, &model, "after the final run");
    fresh.close().unwrap();
    eprintln!(
        "{ROUNDS} rounds {outcomes:?}: {created} chunks written, {chunks} after compaction, {n} entries; {:.1?}",
        start.elapsed()
    );
}
