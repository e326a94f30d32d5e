//! Tests: write-ahead log. Loki's WAL vectors, write/replay round trips,
//! group commit, recovery modes, the memory ceiling, and crash tests with a
//! real child process (`examples/wal_crash_child.rs`) killed with SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lokistore::wal::{
    self, CorruptionKind, MemorySink, Record, RecoveryMode, ReplayOptions, SegmentReader, SyncMode, Wal, WalConfig,
    WalError,
};
use lokistore::{Entry, Label, Labels, StreamConfig};

use crate::support::{expected_entries, manifest, vectors_dir};
use crate::wal_batches::batch;

#[path = "../../benches/common/workload.rs"]
mod workload;

use workload::Rng;

fn stream_config() -> StreamConfig {
    StreamConfig { max_chunk_age: Duration::ZERO, sync_period: Duration::ZERO, ..StreamConfig::default() }
}

fn sorted_md(md: &[Label]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = md.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Loki vectors
// ---------------------------------------------------------------------------

#[test]
fn loki_wal_replays_to_the_entries_loki_had() {
    let dir = vectors_dir().join("wal");
    let mut sink = MemorySink::new(stream_config());
    let report = wal::replay(&dir, &ReplayOptions::default(), &mut sink).unwrap();
    assert_eq!(report.checkpoint, Some(0));
    assert_eq!(report.checkpoint_series, 2);
    assert_eq!(report.segments, vec![1, 2]);
    assert_eq!(report.series, 1);
    assert_eq!(report.entries, 83);
    assert_eq!(report.torn_tail, None);
    assert!(report.corruptions.is_empty());

    let files = manifest()["files"].as_array().unwrap().clone();
    let mut total = 0;
    for f in files.iter().filter(|f| f["kind"].as_str().is_some_and(|k| k.starts_with("wal_"))) {
        for rel in f["expected_entries"].as_array().into_iter().flatten() {
            let expected = expected_entries(rel.as_str().unwrap());
            let text = std::fs::read_to_string(vectors_dir().join(rel.as_str().unwrap())).unwrap();
            let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
            let labels = Labels::from_pairs(
                first["stream"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            )
            .unwrap();
            let s = sink.get(f["tenant"].as_str().unwrap(), &labels).unwrap_or_else(|| panic!("{labels} missing"));
            assert_eq!(s.entry_count, expected.len() as i64, "{labels}");
            let got = s.entries().unwrap();
            assert_eq!(got.len(), expected.len(), "{labels}");
            for (g, w) in got.iter().zip(&expected) {
                assert_eq!(g.timestamp, w.ts);
                assert_eq!(std::str::from_utf8(&g.line).unwrap(), w.line);
                let mut wm = w.metadata.clone();
                wm.sort();
                assert_eq!(sorted_md(&g.metadata), wm);
            }
            total += got.len();
        }
    }
    assert_eq!(total, 552);
}

fn read_records(checkpoint: Option<u32>, seg: u32, data: Vec<u8>) -> Vec<Bytes> {
    let mut r = SegmentReader::new(checkpoint, seg, Bytes::from(data));
    let mut out = Vec::new();
    while let Some(rec) = r.next() {
        out.push(rec.unwrap().data);
    }
    out
}

#[test]
fn loki_segments_reencode_byte_identically() {
    let dir = vectors_dir().join("wal");
    // The live segment: a series record then an EntriesV3 record, short last page.
    let file = std::fs::read(dir.join("00000002")).unwrap();
    let recs = read_records(None, 2, file.clone());
    assert_eq!(recs.len(), 2);
    let mut encoded = Vec::new();
    for r in &recs {
        let mut out = Vec::new();
        match wal::decode_record(r).unwrap() {
            Record::Series { tenant, series } => wal::encode_series(&tenant, &series, &mut out),
            Record::Entries { tenant, version, streams } => {
                assert_eq!(version, wal::RECORD_ENTRIES_V3);
                assert_eq!(streams[0].counter, 83);
                // Push order equals the expected file's order for this stream.
                let expected = expected_entries("expected/mailer-staging.jsonl");
                for (g, w) in streams[0].entries.iter().zip(&expected) {
                    assert_eq!((g.timestamp, std::str::from_utf8(&g.line).unwrap()), (w.ts, w.line.as_str()));
                }
                wal::encode_entries_version(version, &tenant, &streams, &mut out)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(&out[..], &r[..]);
        encoded.push(out);
    }
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    assert_eq!(wal::frame_segment(&refs, wal::DEFAULT_SEGMENT_SIZE, false), file);

    // The checkpoint: two Series records (one spans two pages), closed, padded.
    let file = std::fs::read(dir.join("checkpoint.000000/00000000")).unwrap();
    let recs = read_records(Some(0), 0, file.clone());
    assert_eq!(recs.len(), 2);
    let mut encoded = Vec::new();
    for r in &recs {
        let Record::Checkpoint(series) = wal::decode_record(r).unwrap() else { panic!("not a checkpoint record") };
        assert_eq!(series.tenant, "conformance");
        assert_eq!(series.fingerprint, series.labels.fingerprint().0);
        assert_eq!(series.chunks.len(), 1);
        assert!(series.chunks[0].flushed_at.is_zero());
        let mut out = Vec::new();
        series.encode_record(&mut out);
        assert_eq!(&out[..], &r[..]);
        encoded.push(out);
    }
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    assert_eq!(wal::frame_segment(&refs, wal::DEFAULT_SEGMENT_SIZE, true), file);
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

/// Pushes `n` batches through a MemorySink into the WAL; returns the model.
fn push_batches(
    wal: &Wal,
    sink: &mut MemorySink,
    range: std::ops::Range<u64>,
    model: &mut BTreeMap<(String, String), Vec<Entry>>,
) {
    for b in range {
        let (tenant, streams) = batch(b);
        let mut series = Vec::new();
        let mut groups = Vec::new();
        for (app, entries) in streams {
            let rec = sink.push(tenant, &labels(&app), &entries).unwrap();
            series.extend(rec.new_series);
            model.entry((tenant.to_owned(), app)).or_default().extend(rec.entries.entries.iter().cloned());
            groups.push(rec.entries);
        }
        wal.log(tenant, &series, &groups).unwrap();
    }
}

fn labels(app: &str) -> Labels {
    Labels::from_pairs([("app", app), ("job", "crash")]).unwrap()
}

fn check_model(sink: &MemorySink, model: &BTreeMap<(String, String), Vec<Entry>>) {
    for ((tenant, app), want) in model {
        let got = sink.get(tenant, &labels(app)).unwrap().entries().unwrap();
        assert_eq!(got.len(), want.len(), "{tenant} {app}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.timestamp, &g.line), (w.timestamp, &w.line));
            assert_eq!(sorted_md(&g.metadata), sorted_md(&w.metadata));
        }
    }
}

fn small_config(sync: SyncMode) -> WalConfig {
    WalConfig { sync, segment_size: 128 * 1024, checkpoint_interval: None, checkpoint_bytes: None }
}

#[test]
fn write_rotate_checkpoint_replay_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let mut sink = MemorySink::new(stream_config());
    let wal = Wal::open(dir.path(), small_config(SyncMode::Never)).unwrap();
    push_batches(&wal, &mut sink, 0..120, &mut model);
    assert!(wal.current_segment() > 2, "rotation by size");
    let stats = wal.checkpoint(sink.checkpoint_series()).unwrap();
    assert!(stats.segments_removed > 2);
    assert_eq!(wal::list_segments(dir.path()).unwrap().first(), Some(&(stats.index + 1)));
    push_batches(&wal, &mut sink, 120..200, &mut model);
    wal.close().unwrap();

    let mut replayed = MemorySink::new(stream_config());
    let report = wal::replay(dir.path(), &ReplayOptions::default(), &mut replayed).unwrap();
    assert_eq!(report.checkpoint, Some(stats.index));
    assert_eq!(report.torn_tail, None);
    check_model(&replayed, &model);
    for s in sink.streams() {
        let r = replayed.get(&s.tenant, s.stream.labels()).unwrap();
        assert_eq!(r.entry_count, s.entry_count);
    }

    // Reopen, push more, checkpoint again from the replayed state.
    let wal = Wal::open(dir.path(), small_config(SyncMode::PerPush)).unwrap();
    push_batches(&wal, &mut replayed, 200..230, &mut model);
    let stats2 = wal.checkpoint(replayed.checkpoint_series()).unwrap();
    assert_eq!(stats2.checkpoints_removed, 1);
    drop(wal);
    let mut again = MemorySink::new(stream_config());
    wal::replay(dir.path(), &ReplayOptions::default(), &mut again).unwrap();
    check_model(&again, &model);
}

#[test]
fn old_segments_surviving_a_checkpoint_are_deduplicated_by_counter() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let mut sink = MemorySink::new(stream_config());
    let wal = Wal::open(dir.path(), small_config(SyncMode::Never)).unwrap();
    push_batches(&wal, &mut sink, 0..40, &mut model);
    let saved: Vec<(u32, Vec<u8>)> = wal::list_segments(dir.path())
        .unwrap()
        .into_iter()
        .map(|s| (s, std::fs::read(dir.path().join(wal::segment_name(s))).unwrap()))
        .collect();
    wal.checkpoint(sink.checkpoint_series()).unwrap();
    push_batches(&wal, &mut sink, 40..60, &mut model);
    wal.close().unwrap();
    // Simulate a crash between the checkpoint's rename and the truncation.
    for (s, data) in saved {
        std::fs::write(dir.path().join(wal::segment_name(s)), data).unwrap();
    }
    let mut replayed = MemorySink::new(stream_config());
    let report = wal::replay(dir.path(), &ReplayOptions::default(), &mut replayed).unwrap();
    assert!(report.duplicate_entries > 0);
    check_model(&replayed, &model);
}

#[test]
fn group_commit_with_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), small_config(SyncMode::PerPush)).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let mut sink = MemorySink::new(stream_config());
                let tenant = format!("t{t}");
                for i in 0..25u64 {
                    let e = vec![Entry::new(i as i64, format!("thread {t} entry {i}"))];
                    let rec = sink.push(&tenant, &labels("g"), &e).unwrap();
                    wal.log(&tenant, rec.new_series.as_slice(), &[rec.entries]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(wal);
    let mut sink = MemorySink::new(stream_config());
    wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap();
    for t in 0..8 {
        let got = sink.get(&format!("t{t}"), &labels("g")).unwrap().entries().unwrap();
        let lines: Vec<String> = got.iter().map(|e| String::from_utf8(e.line.to_vec()).unwrap()).collect();
        let want: Vec<String> = (0..25).map(|i| format!("thread {t} entry {i}")).collect();
        assert_eq!(lines, want);
    }
}

#[test]
fn interval_sync_and_explicit_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let mut sink = MemorySink::new(stream_config());
    let wal = Wal::open(dir.path(), small_config(SyncMode::Interval(Duration::from_millis(5)))).unwrap();
    push_batches(&wal, &mut sink, 0..30, &mut model);
    std::thread::sleep(Duration::from_millis(20));
    wal.sync().unwrap();
    drop(wal);
    let mut replayed = MemorySink::new(stream_config());
    wal::replay(dir.path(), &ReplayOptions::default(), &mut replayed).unwrap();
    check_model(&replayed, &model);
}

#[test]
fn memory_ceiling_spills_to_flushed_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let mut sink = MemorySink::new(stream_config());
    let wal = Wal::open(dir.path(), small_config(SyncMode::Never)).unwrap();
    push_batches(&wal, &mut sink, 0..100, &mut model);
    drop(wal);
    let mut replayed = MemorySink::new(stream_config());
    let opts = ReplayOptions { memory_ceiling: Some(20_000), ..ReplayOptions::default() };
    let report = wal::replay(dir.path(), &opts, &mut replayed).unwrap();
    assert!(report.spills > 3, "{report:?}");
    assert_eq!(replayed.spills() as u64, report.spills);
    assert!(replayed.streams().any(|s| !s.flushed.is_empty()));
    check_model(&replayed, &model);
}

#[test]
fn record_larger_than_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), small_config(SyncMode::Never)).unwrap();
    let big = vec![RefEntriesBuilder::one(1, vec![b'x'; 200_000])];
    let err = wal.log("t", &[], &big).unwrap_err();
    assert!(matches!(err, WalError::RecordTooLarge { .. }), "{err}");
    // The WAL is still usable.
    wal.log("t", &[], &[RefEntriesBuilder::one(1, b"ok".to_vec())]).unwrap();
}

struct RefEntriesBuilder;
impl RefEntriesBuilder {
    fn one(fp: u64, line: Vec<u8>) -> wal::RefEntries {
        wal::RefEntries { fingerprint: fp, counter: 1, entries: vec![Entry::new(1, line)] }
    }
}

// ---------------------------------------------------------------------------
// Crash tests with a child process
// ---------------------------------------------------------------------------

/// Every entry of batch `b`, keyed by (tenant, app).
fn batch_entries(b: u64) -> Vec<((String, String), Entry)> {
    let (tenant, streams) = batch(b);
    streams
        .into_iter()
        .flat_map(|(app, es)| es.into_iter().map(move |e| ((tenant.to_owned(), app.clone()), e)))
        .collect()
}

fn seed() -> u64 {
    super::support::crash_seed("WAL_CRASH_SEED", "WAL") | 1
}

/// How long a child runs.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// Push this many batches, close the WAL and exit.
    Batches(u64),
    /// SIGKILL this many milliseconds after spawning (possibly while it
    /// replays or opens the WAL, before it wrote anything).
    KillAfterMs(u64),
    /// SIGKILL this many milliseconds after its first acknowledgement, so
    /// the kill lands while it writes however slow the machine is.
    KillAfterFirstAck(u64),
}

/// Runs the child from batch `first` as `run` says and returns the batches
/// it acknowledged.
fn run_child(dir: &Path, first: u64, run: Run) -> Vec<u64> {
    let mut cmd = Command::new(super::support::example_binary("wal_crash_child"));
    cmd.arg(dir).arg(first.to_string());
    if let Run::Batches(m) = run {
        cmd.arg(m.to_string());
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (first_ack_tx, first_ack) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut ready = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "READY" {
                ready = true;
            } else if let Some(n) = line.strip_prefix("ACK ") {
                acks.push(n.parse::<u64>().unwrap());
                let _ = first_ack_tx.send(());
            }
        }
        (ready, acks)
    });
    let killed = match run {
        Run::Batches(_) => false,
        Run::KillAfterMs(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            true
        }
        Run::KillAfterFirstAck(ms) => {
            // Returns early if the child dies; the checks below report it.
            let _ = first_ack.recv_timeout(Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(ms));
            true
        }
    };
    if killed {
        let _ = child.kill(); // SIGKILL on Unix
    }
    let status = child.wait().unwrap();
    let (ready, acks) = reader.join().unwrap();
    if killed {
        // The child pushes until killed: exiting by itself means it failed
        // (replay, open, log or checkpoint error; see its stderr).
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "child was not killed but exited: {status}");
        }
        if let Run::KillAfterFirstAck(_) = run {
            assert!(!acks.is_empty(), "the child acknowledged nothing before it was killed ({status})");
        }
    } else {
        assert!(status.success() && ready, "child failed: {status}");
    }
    acks
}

/// The batch number of a line `b{n} s{i} i{j} ...`.
fn batch_of(line: &[u8]) -> u64 {
    let line = std::str::from_utf8(line).unwrap();
    line[1..line.find(' ').unwrap()].parse().unwrap()
}

/// An entry as replay identifies it: (tenant, stream fingerprint, timestamp).
type EntryKey = (String, u64, i64);

/// Replays `dir` and checks: every acknowledged entry present exactly once,
/// in order, with its metadata; nothing that was never pushed.
fn check_recovered(dir: &Path, acked: &BTreeSet<u64>, attempted_below: u64) -> (MemorySink, wal::ReplayReport) {
    let mut sink = MemorySink::new(stream_config());
    let report = wal::replay(dir, &ReplayOptions::default(), &mut sink).unwrap_or_else(|e| panic!("replay: {e}"));
    assert!(report.corruptions.is_empty());
    let mut recovered: BTreeMap<(String, String), Vec<Entry>> = BTreeMap::new();
    for s in sink.streams() {
        let app = s.stream.labels().get("app").unwrap().to_owned();
        recovered.insert((s.tenant.clone(), app), s.entries().unwrap());
    }
    let mut present = BTreeSet::new();
    for (key, entries) in &recovered {
        for w in entries.windows(2) {
            assert!(w[0].timestamp < w[1].timestamp, "{key:?}: duplicate or out of order at {}", w[1].timestamp);
        }
        for e in entries {
            let b = batch_of(&e.line);
            assert!(b < attempted_below, "{key:?}: batch {b} was never pushed");
            let want = batch_entries(b).into_iter().find(|(k, w)| k == key && w.timestamp == e.timestamp);
            let (_, want) =
                want.unwrap_or_else(|| panic!("{key:?}: entry {:.40} not in batch {b}", e.line.escape_ascii()));
            assert_eq!(e.line, want.line);
            assert_eq!(sorted_md(&e.metadata), sorted_md(&want.metadata));
            present.insert((key.clone(), e.timestamp));
        }
    }
    for &b in acked {
        for (key, e) in batch_entries(b) {
            assert!(
                present.contains(&(key.clone(), e.timestamp)),
                "acknowledged batch {b} lost {key:?} {}",
                e.timestamp
            );
        }
    }
    (sink, report)
}

/// Every entry of `sink`, asserting none is there twice.
fn entry_set(sink: &MemorySink) -> BTreeSet<EntryKey> {
    let mut out = BTreeSet::new();
    for s in sink.streams() {
        for e in s.entries().unwrap() {
            assert!(out.insert((s.tenant.clone(), s.fingerprint, e.timestamp)), "duplicate entry {e:?}");
        }
    }
    out
}

/// Asserts that the entries recovered are exactly those expected.
#[track_caller]
fn assert_same_entries(got: &BTreeSet<EntryKey>, want: &BTreeSet<EntryKey>, what: &str) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} entries missing (first {:?}), {} unexpected (first {:?})",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
}

/// The batches with entries in `sink`.
fn batches_in(sink: &MemorySink) -> BTreeSet<u64> {
    sink.streams().flat_map(|s| s.entries().unwrap()).map(|e| batch_of(&e.line)).collect()
}

/// Kill rounds at random moments after spawning; returns the next batch number.
fn kill_rounds(dir: &Path, rng: &mut Rng, rounds: u64, acked: &mut BTreeSet<u64>, round0: u64) -> u64 {
    let mut next = round0 * 10_000;
    for r in 0..rounds {
        let first = (round0 + r) * 10_000;
        let ms = 20 + rng.below(200);
        acked.extend(run_child(dir, first, Run::KillAfterMs(ms)));
        next = first + 10_000;
        check_recovered(dir, acked, next);
    }
    next
}

#[test]
fn crash_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed());
    let mut acked = BTreeSet::new();
    let start = Instant::now();
    kill_rounds(dir.path(), &mut rng, 22, &mut acked, 0);
    assert!(acked.len() > 50, "the child acknowledged only {} batches", acked.len());
    assert!(wal::latest_checkpoint(dir.path()).unwrap().is_some(), "no checkpoint happened");
    eprintln!("{} acknowledged batches over 22 rounds in {:?}", acked.len(), start.elapsed());
}

/// One complete record of a segment file.
struct SegRecord {
    segment: u32,
    /// Offset of its first fragment.
    start: u64,
    /// Offset just past its last fragment.
    end: u64,
    /// Payload length.
    len: usize,
    /// For an entries record, its entries; `None` for other records.
    entries: Option<Vec<EntryKey>>,
    /// The lines of those entries.
    lines: Vec<Vec<u8>>,
}

impl SegRecord {
    fn batches(&self) -> BTreeSet<u64> {
        self.lines.iter().map(|l| batch_of(l)).collect()
    }
}

/// The complete records of segment `seg` up to its end or first damage.
fn segment_records(seg: u32, data: &[u8]) -> Vec<SegRecord> {
    let mut reader = SegmentReader::new(None, seg, Bytes::from(data.to_vec()));
    let mut out = Vec::new();
    while let Some(Ok(rec)) = reader.next() {
        let (entries, lines) = match wal::decode_record(&rec.data).unwrap() {
            Record::Entries { tenant, streams, .. } => {
                let keys = streams
                    .iter()
                    .flat_map(|g| g.entries.iter().map(|e| (tenant.clone(), g.fingerprint, e.timestamp)))
                    .collect();
                let lines = streams.iter().flat_map(|g| g.entries.iter().map(|e| e.line.to_vec())).collect();
                (Some(keys), lines)
            }
            _ => (None, Vec::new()),
        };
        out.push(SegRecord {
            segment: seg,
            start: rec.location.offset,
            end: reader.position(),
            len: rec.data.len(),
            entries,
            lines,
        });
    }
    out
}

/// The newest segment holding data, if any.
fn last_nonempty_segment(dir: &Path) -> Option<u32> {
    let segs = wal::list_segments(dir).unwrap();
    segs.into_iter().rev().find(|&s| std::fs::metadata(dir.join(wal::segment_name(s))).unwrap().len() > 0)
}

/// Kills the child while it writes, cuts the newest segment inside one of
/// its records, and checks that replay treats that as a torn tail: the
/// records before the cut are replayed, the cut one and all after it are
/// gone, and the next writer carries on after the truncated tail.
#[test]
fn crash_torn_last_page() {
    const TEARS: u32 = 6;
    const MAX_KILL_ROUNDS: u64 = 30;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut rng = Rng(seed());
    let mut acked = BTreeSet::new();
    let (mut tears, mut round) = (0u32, 0u64);
    while tears < TEARS {
        // A kill round can leave nothing to tear: a checkpoint may just have
        // rotated to a fresh empty segment (or the checkpoint covers the
        // newest segment with data, whose truncation would lose nothing).
        // Kill again until there is something, within a bound.
        assert!(round < MAX_KILL_ROUNDS, "only {tears} of {TEARS} tears in {round} kill rounds");
        let first = round * 10_000;
        round += 1;
        let got = run_child(dir, first, Run::KillAfterFirstAck(rng.below(120)));
        assert!(got.iter().all(|&b| b < first + 5_000), "the child pushed too many batches");
        acked.extend(got);
        check_recovered(dir, &acked, first + 5_000);

        let checkpoint = wal::latest_checkpoint(dir).unwrap().map(|c| c.index);
        let Some(seg) = last_nonempty_segment(dir).filter(|&s| checkpoint.is_none_or(|c| s > c)) else { continue };
        let path = dir.join(wal::segment_name(seg));
        let data = std::fs::read(&path).unwrap();
        let recs = segment_records(seg, &data);
        if recs.is_empty() {
            continue; // only a partial record, which the next open removes
        }
        // Cut strictly inside a record, uniformly over the records' bytes.
        let mut k = rng.below(recs.iter().map(|r| r.end - r.start - 1).sum());
        let mut torn = 0;
        while k >= recs[torn].end - recs[torn].start - 1 {
            k -= recs[torn].end - recs[torn].start - 1;
            torn += 1;
        }
        let cut = recs[torn].start + 1 + k;
        let lost: BTreeSet<u64> = recs[torn..].iter().flat_map(SegRecord::batches).collect();
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();

        // The cut record is a torn tail, not corruption; acknowledged
        // batches in the cut-off part are gone, every other one stays.
        let survivors: BTreeSet<u64> = acked.difference(&lost).copied().collect();
        let (sink, report) = check_recovered(dir, &survivors, first + 5_000);
        let at = report.torn_tail.unwrap_or_else(|| panic!("cut at {cut} of segment {seg}: no torn tail"));
        assert_eq!(at.segment, seg);
        assert!((recs[torn].start..=cut).contains(&at.offset), "torn tail at {at}, record at {}", recs[torn].start);
        let resurrected: Vec<u64> = batches_in(&sink).intersection(&lost).copied().collect();
        assert!(resurrected.is_empty(), "batches {resurrected:?} replayed from beyond the cut");
        acked = survivors;

        // The child opens (truncating the torn tail) and continues; a later
        // replay must not mistake the old tail for corruption.
        let next = first + 5_000;
        acked.extend(run_child(dir, next, Run::Batches(5)));
        let (_, report) = check_recovered(dir, &acked, next + 5);
        assert_eq!(report.torn_tail, None, "the torn tail survived the reopen");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), recs[torn].start, "open truncates at the torn record");
        tears += 1;
    }
    eprintln!("{tears} tears in {round} kill rounds");
}

/// Flips a bit in an entries record followed by more entries (none of them
/// covered by the checkpoint) and checks each recovery mode exactly against
/// the records on disk.
#[test]
fn crash_flipped_byte_obeys_recovery_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut rng = Rng(seed());
    // A clean run, a killed one (which may leave any state a checkpoint can
    // be in), then a clean one again, so records that no checkpoint covers
    // follow whatever the kill left.
    let mut acked: BTreeSet<u64> = run_child(dir, 0, Run::Batches(40)).into_iter().collect();
    acked.extend(run_child(dir, 10_000, Run::KillAfterFirstAck(rng.below(100))));
    acked.extend(run_child(dir, 20_000, Run::Batches(10)));
    let (full, _) = check_recovered(dir, &acked, 20_010);
    let full = entry_set(&full);

    // Records of segments after the checkpoint are applied on replay, those
    // in older segments (a kill between a checkpoint's rename and the
    // truncation leaves them) are duplicates of checkpointed data.
    let checkpoint = wal::latest_checkpoint(dir).unwrap().map(|c| c.index);
    let mut recs = Vec::new();
    for s in wal::list_segments(dir).unwrap().into_iter().filter(|&s| checkpoint.is_none_or(|c| s > c)) {
        recs.extend(segment_records(s, &std::fs::read(dir.join(wal::segment_name(s))).unwrap()));
    }
    // Single-fragment entries records followed by another entries record in
    // the same segment (the last run wrote ten into a fresh one).
    let candidates: Vec<usize> = (0..recs.len())
        .filter(|&i| {
            recs[i].entries.is_some()
                && recs[i].end - recs[i].start == (wal::HEADER_SIZE + recs[i].len) as u64
                && recs[i + 1..].iter().any(|r| r.segment == recs[i].segment && r.entries.is_some())
        })
        .collect();
    assert!(
        !candidates.is_empty(),
        "no entries record followed by another in its segment after checkpoint {checkpoint:?}"
    );
    let rec = &recs[candidates[rng.below(candidates.len() as u64) as usize]];
    let (seg, offset) = (rec.segment, rec.start);
    let idx = recs.iter().position(|r| (r.segment, r.start) == (seg, offset)).unwrap();
    let damaged: BTreeSet<EntryKey> = rec.entries.iter().flatten().cloned().collect();
    let from_damage: BTreeSet<EntryKey> =
        recs[idx..].iter().flat_map(|r| r.entries.iter().flatten().cloned()).collect();
    assert!(from_damage.is_subset(&full), "records after the checkpoint were not all replayed");
    assert!(from_damage.len() > damaged.len());

    let path = dir.join(wal::segment_name(seg));
    let mut data = std::fs::read(&path).unwrap();
    let at = (offset as usize) + wal::HEADER_SIZE + rng.below(rec.len as u64) as usize;
    data[at] ^= 1 << rng.below(8);
    std::fs::write(&path, &data).unwrap();

    // Fail (default): an error naming the segment and offset.
    let mut sink = MemorySink::new(stream_config());
    let err = wal::replay(dir, &ReplayOptions::default(), &mut sink).unwrap_err();
    let WalError::Corrupt { location, kind } = &err else { panic!("{err}") };
    assert_eq!((location.segment, location.offset), (seg, offset), "{err}");
    assert!(matches!(kind, CorruptionKind::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&format!("segment {seg:08} offset {offset}")));

    // Stop: reported, nothing from the damaged record on replayed.
    let mut stop = MemorySink::new(stream_config());
    let opts = ReplayOptions { recovery: RecoveryMode::Stop, ..ReplayOptions::default() };
    let report = wal::replay(dir, &opts, &mut stop).unwrap();
    assert!(report.stopped_at_corruption);
    assert_eq!(report.corruptions.len(), 1);
    assert_eq!((report.corruptions[0].location.segment, report.corruptions[0].location.offset), (seg, offset));
    assert_same_entries(&entry_set(&stop), &full.difference(&from_damage).cloned().collect(), "stop");
    let stop_lost: BTreeSet<u64> = recs[idx..].iter().flat_map(SegRecord::batches).collect();
    check_recovered_with(dir, &acked.difference(&stop_lost).copied().collect(), 20_010, opts);

    // Skip: reported, everything but the damaged record replayed.
    let mut skip = MemorySink::new(stream_config());
    let opts = ReplayOptions { recovery: RecoveryMode::Skip, ..ReplayOptions::default() };
    let report = wal::replay(dir, &opts, &mut skip).unwrap();
    assert_eq!(report.corruptions.len(), 1, "{report:?}");
    assert!(!report.stopped_at_corruption);
    assert_same_entries(&entry_set(&skip), &full.difference(&damaged).cloned().collect(), "skip");
    let count = |s: &MemorySink| s.streams().map(|m| m.entries().unwrap().len()).sum::<usize>();
    assert!(count(&skip) > count(&stop), "skip replays records after the damage");
    // Entries of the lost record's batch are all in that record: one record per push.
    check_recovered_with(dir, &acked.difference(&rec.batches()).copied().collect(), 20_010, opts);
}

fn check_recovered_with(dir: &Path, acked: &BTreeSet<u64>, below: u64, opts: ReplayOptions) -> usize {
    let mut sink = MemorySink::new(stream_config());
    wal::replay(dir, &opts, &mut sink).unwrap();
    let mut present = BTreeSet::new();
    for s in sink.streams() {
        let app = s.stream.labels().get("app").unwrap().to_owned();
        let entries = s.entries().unwrap();
        for w in entries.windows(2) {
            assert!(w[0].timestamp < w[1].timestamp);
        }
        for e in entries {
            assert!(batch_of(&e.line) < below);
            present.insert(((s.tenant.clone(), app.clone()), e.timestamp));
        }
    }
    for &b in acked {
        for (key, e) in batch_entries(b) {
            assert!(present.contains(&(key, e.timestamp)), "batch {b} lost");
        }
    }
    present.len()
}
