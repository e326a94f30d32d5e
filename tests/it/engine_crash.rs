//! Crash test of the whole engine: a child process
//! (`examples/engine_crash_child.rs`) ingests through [`Engine::push`] with
//! per-push fsync, flushing, running maintenance and checkpointing between
//! pushes, and is killed with SIGKILL at random moments. After every kill
//! the engine is reopened here and read back through `query_logs`: every
//! acknowledged batch must be there exactly once, with its lines and
//! structured metadata; the batch in flight at the kill may be there, but
//! only whole, and once seen it must stay; nothing else may appear.
//!
//! The kill moments come from a seeded PRNG; the seed is printed and
//! `ENGINE_CRASH_SEED` repeats a run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{Rng, crash_seed, example_binary};
use lokistore::engine::{Engine, LogQuery};
use lokistore::{Direction, Entry, Labels, TenantId};

// The child's batches and configuration; its `main` is not used here.
#[allow(dead_code)]
#[path = "../../examples/engine_crash_child.rs"]
mod child;

use child::shared::{TENANTS, batch, config};

/// Kill rounds.
const ROUNDS: u64 = 15;

/// Batch numbers of round `r` start at `(r + 1) * ROUND_STRIDE`.
const ROUND_STRIDE: u64 = 10_000;

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This many ms after spawning: possibly while it recovers, before it
    /// pushed anything.
    AfterSpawnMs(u64),
    /// This many ms after its first acknowledgement, so that the kill
    /// lands while it ingests however slow the machine is; or, when it
    /// acknowledged `max_acks` batches before that (a fast disk; the cap
    /// bounds the test's run time), `jitter_us` after that acknowledgement.
    AfterFirstAck { ms: u64, max_acks: usize, jitter_us: u64 },
    /// `us` microseconds after the child began its `begins`-th flush,
    /// maintenance or checkpoint: aims the kill at that work.
    DuringWork { begins: usize, us: u64 },
}

/// What the reader of the child's output has seen so far.
#[derive(Debug, Clone, Copy)]
struct Progress {
    acks: usize,
    begins: usize,
}

/// What a child run gave: the batches it acknowledged, in order, and what
/// it was doing when it was killed.
struct ChildRun {
    acks: Vec<u64>,
    killed_during: &'static str,
}

/// Runs the child from batch `first` and kills it as `kill` says.
fn run_child(dir: &Path, first: u64, kill: Kill) -> ChildRun {
    let mut child = Command::new(example_binary("engine_crash_child"))
        .arg(dir)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The reader reports its progress after each line.
    let (tx, rx) = std::sync::mpsc::channel::<Progress>();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut begins = 0;
        let mut during = "recovery";
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                acks.push(n.parse::<u64>().unwrap());
            }
            begins += usize::from(line.starts_with("BEGIN "));
            during = match line.as_str() {
                "BEGIN Flush" => "flush",
                "BEGIN Maintain" => "maintain",
                "BEGIN Checkpoint" => "checkpoint",
                _ => "push",
            };
            let _ = tx.send(Progress { acks: acks.len(), begins });
        }
        (acks, during)
    });
    // Every wait ends early when the child dies; that is checked below.
    let wait_for = |done: &dyn Fn(Progress) -> bool, timeout: Duration| {
        let deadline = Instant::now() + timeout;
        while let Ok(p) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if done(p) {
                return true;
            }
        }
        false
    };
    match kill {
        Kill::AfterSpawnMs(ms) => std::thread::sleep(Duration::from_millis(ms)),
        Kill::AfterFirstAck { ms, max_acks, jitter_us } => {
            if wait_for(&|p| p.acks > 0, Duration::from_secs(60))
                && wait_for(&|p| p.acks >= max_acks, Duration::from_millis(ms))
            {
                std::thread::sleep(Duration::from_micros(jitter_us));
            }
        }
        Kill::DuringWork { begins, us } => {
            if wait_for(&|p| p.begins >= begins, Duration::from_secs(60)) {
                std::thread::sleep(Duration::from_micros(us));
            }
        }
    }
    let _ = child.kill(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    let (acks, killed_during) = reader.join().unwrap();
    // The child pushes until killed: an exit of its own is a failure
    // (its stderr says which).
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the child was not killed but exited: {status}");
    }
    if !matches!(kill, Kill::AfterSpawnMs(_)) {
        assert!(!acks.is_empty(), "the child acknowledged nothing before it was killed ({status})");
    }
    assert!(acks.windows(2).all(|w| w[1] == w[0] + 1) && acks.first().is_none_or(|&a| a == first), "{acks:?}");
    ChildRun { acks, killed_during }
}

/// An entry's identity: tenant, stream labels (as text), timestamp.
type Key = (String, String, i64);

/// Every entry of batch `b` by key.
fn batch_entries(b: u64) -> Vec<(Key, Entry)> {
    let (tenant, streams) = batch(b);
    streams
        .into_iter()
        .flat_map(|s| {
            let (tenant, labels) = (tenant.as_str().to_owned(), s.labels.to_string());
            s.entries.into_iter().map(move |e| ((tenant.clone(), labels.clone(), e.timestamp), e))
        })
        .collect()
}

/// The batch number of a line `b{n} s{i} i{j} ...`.
fn batch_of(line: &[u8]) -> u64 {
    let line = std::str::from_utf8(line).expect("utf-8 line");
    line.get(1..line.find(' ').unwrap_or(0)).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("line {line:.60}"))
}

fn sorted_md(e: &Entry) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = e.metadata.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    v.sort();
    v
}

fn everything(direction: Direction) -> LogQuery {
    LogQuery { matchers: vec![], from: i64::MIN / 2, through: i64::MAX / 2, direction, limit: 0 }
}

/// What the test knows about the batches.
#[derive(Debug, Default)]
struct Ledger {
    /// Batches that must be stored: acknowledged ones, and batches in
    /// flight at a kill that a reopen has since found.
    durable: BTreeSet<u64>,
    /// Batches in flight at a kill, not found (yet): each may appear
    /// (whole) at most at the next check; after that it must stay away.
    in_flight: BTreeSet<u64>,
}

/// Opens the engine on `dir`, reads every tenant back and checks it
/// against `ledger`; moves in-flight batches found whole into `durable`.
/// Returns the engine (still open) and the number of entries read.
fn check(dir: &Path, ledger: &mut Ledger, what: &str) -> (Engine, usize) {
    let engine = Engine::open(config(dir)).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let report = engine.open_report();
    assert!(report.skipped_index_files.is_empty(), "{what}: unreadable index files {:?}", report.skipped_index_files);
    assert!(report.replay.corruptions.is_empty(), "{what}: WAL corruptions {:?}", report.replay.corruptions);

    let mut want: HashMap<Key, (u64, Entry)> = HashMap::new();
    for &b in ledger.durable.iter().chain(&ledger.in_flight) {
        for (k, e) in batch_entries(b) {
            assert!(want.insert(k, (b, e)).is_none(), "two test entries share a key in batch {b}");
        }
    }
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut total = 0;
    for t in TENANTS {
        let tenant = TenantId::new(t).unwrap();
        let got = engine.query_logs(&tenant, &everything(Direction::Forward)).unwrap();
        for s in &got {
            let labels = s.labels.to_string();
            for w in s.entries.windows(2) {
                assert!(
                    w[0].timestamp < w[1].timestamp,
                    "{what}: {t} {labels}: duplicate or out of order entry at {} ({:.30} / {:.30})",
                    w[1].timestamp,
                    w[0].line.escape_ascii(),
                    w[1].line.escape_ascii()
                );
            }
            for e in &s.entries {
                let b = batch_of(&e.line);
                let key = (t.to_owned(), labels.clone(), e.timestamp);
                let Some((wb, we)) = want.get(&key) else {
                    panic!(
                        "{what}: {t} {labels}: entry of batch {b} at {} was never pushed (or not in flight)",
                        e.timestamp
                    )
                };
                assert_eq!(*wb, b, "{what}: {t} {labels} at {}: wrong batch", e.timestamp);
                assert!(
                    e.line == we.line,
                    "{what}: {t} {labels} at {}: line {:.60}",
                    e.timestamp,
                    e.line.escape_ascii()
                );
                assert_eq!(sorted_md(e), sorted_md(we), "{what}: {t} {labels} at {}: metadata", e.timestamp);
                *seen.entry(b).or_default() += 1;
                total += 1;
            }
        }
    }
    for &b in &ledger.durable {
        let n = batch_entries(b).len();
        let got = seen.get(&b).copied().unwrap_or(0);
        assert_eq!(got, n, "{what}: batch {b} (acknowledged or seen before) has {got} of its {n} entries");
    }
    for b in std::mem::take(&mut ledger.in_flight) {
        let n = batch_entries(b).len();
        match seen.get(&b).copied().unwrap_or(0) {
            0 => {}
            got if got == n => {
                ledger.durable.insert(b);
            }
            got => panic!("{what}: batch {b}, in flight at the kill, is there in part: {got} of {n} entries"),
        }
    }
    (engine, total)
}

#[test]
fn engine_recovers_every_acknowledged_push_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut rng = Rng(crash_seed("ENGINE_CRASH_SEED", "engine"));
    let start = Instant::now();
    let mut ledger = Ledger::default();
    let mut acked_total = 0usize;
    // What the kills interrupted, for the log.
    let mut kills: BTreeMap<&str, u32> = BTreeMap::new();
    for r in 0..ROUNDS {
        let first = (r + 1) * ROUND_STRIDE;
        // Every fifth round the kill may come before or during recovery.
        // A third of the kills aim at a flush, maintenance or checkpoint,
        // one in five may come before or during recovery, the others fall
        // anywhere in the ingest.
        let kill = if r % 5 == 4 {
            Kill::AfterSpawnMs(rng.below(300))
        } else if r.is_multiple_of(3) {
            Kill::DuringWork { begins: 1 + rng.below(8) as usize, us: rng.below(30_000) }
        } else {
            let (ms, max_acks) = (50 + rng.below(1200), 50 + rng.below(350) as usize);
            Kill::AfterFirstAck { ms, max_acks, jitter_us: rng.below(20_000) }
        };
        let ChildRun { acks, killed_during } = run_child(dir, first, kill);
        assert!(acks.len() < ROUND_STRIDE as usize, "round {r} pushed into the next round's batch numbers");
        acked_total += acks.len();
        *kills.entry(killed_during).or_default() += 1;
        // The batch after the last acknowledged one may have been written
        // (pushed, killed before the ACK) or torn.
        ledger.in_flight.insert(acks.last().map_or(first, |&a| a + 1));
        ledger.durable.extend(acks.iter().copied());
        let what = format!("round {r} ({kill:?}, killed during {killed_during} after {} acks)", acks.len());
        let (engine, entries) = check(dir, &mut ledger, &what);
        let report = engine.open_report();
        eprintln!(
            "{what}: {entries} entries back; replayed {} records, {} entries; {} index files; {:.1?}",
            report.replay.records,
            report.replay.entries,
            report.index_files,
            start.elapsed()
        );
        engine.close().unwrap();
    }
    assert!(acked_total > 100, "the child acknowledged only {acked_total} batches in {ROUNDS} rounds");
    assert!(lokistore::wal::latest_checkpoint(&config(dir).wal_dir()).unwrap().is_some(), "no checkpoint happened");

    // A last flush of everything, then everything again from the store alone.
    let (engine, before) = check(dir, &mut ledger, "before the final flush");
    assert!(engine.open_report().index_files > 0, "the child never completed a flush");
    let stats = engine.flush().unwrap();
    assert_eq!(engine.num_streams(), 0, "{stats:?}");
    engine.close().unwrap();
    drop(engine);
    let (engine, after) = check(dir, &mut ledger, "after the final flush");
    assert_eq!(before, after);
    assert_eq!(engine.num_streams(), 0, "nothing left to replay after a full flush");
    // Entries the index counts: more than `after` when a kill interrupted
    // a flush after its chunks were written (the WAL still held them, the
    // next flush wrote them again); reads de-duplicate them, as Loki's do.
    let mut indexed = 0;
    for t in TENANTS {
        // The store alone, read backwards, gives the same entries in reverse.
        let tenant = TenantId::new(t).unwrap();
        indexed += engine.stats(&tenant, i64::MIN / 2, i64::MAX / 2, &[]).unwrap().entries;
        let fwd = engine.query_logs(&tenant, &everything(Direction::Forward)).unwrap();
        let back = engine.query_logs(&tenant, &everything(Direction::Backward)).unwrap();
        let labels =
            |v: &[lokistore::engine::StreamEntries]| v.iter().map(|s| s.labels.clone()).collect::<Vec<Labels>>();
        assert_eq!(labels(&fwd), labels(&back));
        for (f, b) in fwd.iter().zip(&back) {
            assert!(f.entries.iter().eq(b.entries.iter().rev()), "{t} {}: backward differs", f.labels);
        }
    }
    engine.close().unwrap();
    eprintln!(
        "{} batches stored ({acked_total} acknowledged) over {ROUNDS} rounds, {after} entries ({indexed} in the \
         index), in {:.1?}; kills during {kills:?}",
        ledger.durable.len(),
        start.elapsed()
    );
}
