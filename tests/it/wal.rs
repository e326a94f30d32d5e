//! Tests: write-ahead log. Loki's WAL vectors, write/replay round trips,
//! group commit, recovery modes, the memory ceiling, and crash tests with a
//! real child process (`examples/wal_crash_child.rs`) killed with SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
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

const TENANTS: [&str; 3] = ["tenant-a", "tenant-b", "tenant-c"];

/// Mirrors `batch` in examples/wal_crash_child.rs.
fn batch(b: u64) -> (&'static str, Vec<(String, Vec<Entry>)>) {
    let tenant = TENANTS[(b % 3) as usize];
    let k = 1 + (b / 3) % 3;
    let mut streams = Vec::new();
    for s in 0..k {
        let idx = (b + s) % 4;
        let n = 1 + (b * 7 + s) % 20;
        let mut entries = Vec::new();
        for i in 0..n {
            let ts = 1_700_000_000_000_000_000 + (b as i64) * 1_000_000 + i as i64;
            let pad = if b % 17 == 0 && i == 0 { 40_000 } else { ((b * 31 + i * 7) % 200) as usize };
            let line = format!("b{b} s{idx} i{i} {}", "x".repeat(pad));
            let metadata = if i % 3 == 0 { vec![Label::new("trace_id", format!("{b}-{i}"))] } else { Vec::new() };
            entries.push(Entry::with_metadata(ts, line, metadata));
        }
        streams.push((format!("svc{idx}"), entries));
    }
    (tenant, streams)
}

/// Every entry of batch `b`, keyed by (tenant, app).
fn batch_entries(b: u64) -> Vec<((String, String), Entry)> {
    let (tenant, streams) = batch(b);
    streams
        .into_iter()
        .flat_map(|(app, es)| es.into_iter().map(move |e| ((tenant.to_owned(), app.clone()), e)))
        .collect()
}

fn child_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let bin = profile_dir.join("examples").join(format!("wal_crash_child{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let target = profile_dir.parent().unwrap();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--example", "wal_crash_child", "--target-dir"]).arg(target);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().unwrap();
        assert!(status.success(), "building the crash child failed");
    }
    bin
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let s = std::env::var("WAL_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("WAL crash test seed: {s} (set WAL_CRASH_SEED to repeat)");
    s | 1
}

/// Runs the child from batch `first`, kills it with SIGKILL after `ms`
/// milliseconds of pushing (or lets it push `max` batches and exit), and
/// returns the batches it acknowledged.
fn run_child(dir: &Path, first: u64, kill_after_ms: Option<u64>, max: Option<u64>) -> Vec<u64> {
    let mut cmd = Command::new(child_binary());
    cmd.arg(dir).arg(first.to_string());
    if let Some(m) = max {
        cmd.arg(m.to_string());
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut ready = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "READY" {
                ready = true;
            } else if let Some(n) = line.strip_prefix("ACK ") {
                acks.push(n.parse::<u64>().unwrap());
            }
        }
        (ready, acks)
    });
    if let Some(ms) = kill_after_ms {
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL on Unix
    }
    let status = child.wait().unwrap();
    let (ready, acks) = reader.join().unwrap();
    if kill_after_ms.is_none() {
        assert!(status.success() && ready, "child failed: {status}");
    }
    acks
}

/// Replays `dir` and checks: every acknowledged entry present exactly once,
/// in order, with its metadata; nothing that was never pushed.
fn check_recovered(dir: &Path, acked: &BTreeSet<u64>, attempted_below: u64) -> MemorySink {
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
            let line = std::str::from_utf8(&e.line).unwrap();
            let b: u64 = line[1..line.find(' ').unwrap()].parse().unwrap();
            assert!(b < attempted_below, "{key:?}: batch {b} was never pushed");
            let want = batch_entries(b).into_iter().find(|(k, w)| k == key && w.timestamp == e.timestamp);
            let (_, want) = want.unwrap_or_else(|| panic!("{key:?}: entry {line:.40} not in batch {b}"));
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
    sink
}

/// Kill rounds; returns (acked, next batch number).
fn kill_rounds(dir: &Path, rng: &mut Rng, rounds: u64, acked: &mut BTreeSet<u64>, round0: u64) -> u64 {
    let mut next = round0 * 10_000;
    for r in 0..rounds {
        let first = (round0 + r) * 10_000;
        let ms = 20 + rng.below(200);
        acked.extend(run_child(dir, first, Some(ms), None));
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

fn last_nonempty_segment(dir: &Path) -> (u32, PathBuf) {
    let segs = wal::list_segments(dir).unwrap();
    let s = *segs
        .iter()
        .rev()
        .find(|&&s| std::fs::metadata(dir.join(wal::segment_name(s))).unwrap().len() > 0)
        .expect("a non-empty segment");
    (s, dir.join(wal::segment_name(s)))
}

#[test]
fn crash_torn_last_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed());
    let mut acked = BTreeSet::new();
    for round in 0..6u64 {
        let mut next = kill_rounds(dir.path(), &mut rng, 1, &mut acked, round * 2);
        let (seg, path) = last_nonempty_segment(dir.path());
        let data = std::fs::read(&path).unwrap();
        let cut = rng.below(data.len() as u64) as usize;
        // Which batches are in records wholly before the cut?
        let mut reader = SegmentReader::new(None, seg, Bytes::from(data.clone()));
        let mut before_cut = BTreeSet::new();
        while let Some(Ok(rec)) = reader.next() {
            if reader.position() as usize > cut {
                break;
            }
            if let Ok(Record::Entries { streams, .. }) = wal::decode_record(&rec.data) {
                for g in streams {
                    for e in g.entries {
                        let line = std::str::from_utf8(&e.line).unwrap();
                        before_cut.insert(line[1..line.find(' ').unwrap()].parse::<u64>().unwrap());
                    }
                }
            }
        }
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut as u64).unwrap();
        // Acknowledged batches in the damaged part are gone; the rest must stay.
        let survivors: BTreeSet<u64> =
            acked.iter().copied().filter(|b| before_cut.contains(b) || !in_segment(&data, seg, *b)).collect();
        let mut sink = MemorySink::new(stream_config());
        let report = wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap();
        assert!(report.corruptions.is_empty());
        check_recovered(dir.path(), &survivors, next);
        acked = survivors;
        // The child opens (truncating the torn tail) and continues; a later
        // replay must not mistake the old tail for corruption.
        acked.extend(run_child(dir.path(), next, None, Some(5)));
        next += 5;
        check_recovered(dir.path(), &acked, next);
    }
}

/// True if batch `b` has entries in the segment bytes `data`.
fn in_segment(data: &[u8], seg: u32, b: u64) -> bool {
    let mut reader = SegmentReader::new(None, seg, Bytes::from(data.to_vec()));
    let needle = format!("b{b} ");
    while let Some(Ok(rec)) = reader.next() {
        if let Ok(Record::Entries { streams, .. }) = wal::decode_record(&rec.data) {
            if streams.iter().flat_map(|g| &g.entries).any(|e| e.line.starts_with(needle.as_bytes())) {
                return true;
            }
        }
    }
    false
}

#[test]
fn crash_flipped_byte_obeys_recovery_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed());
    // A clean run with enough records, then a killed one.
    let mut acked: BTreeSet<u64> = run_child(dir.path(), 0, None, Some(40)).into_iter().collect();
    acked.extend(run_child(dir.path(), 10_000, Some(30 + rng.below(100)), None));
    check_recovered(dir.path(), &acked, 20_000);

    // Pick an entries record in the middle of a segment with several records.
    let segs = wal::list_segments(dir.path()).unwrap();
    let mut target = None;
    for &s in &segs {
        let data = std::fs::read(dir.path().join(wal::segment_name(s))).unwrap();
        let mut reader = SegmentReader::new(None, s, Bytes::from(data.clone()));
        let mut recs = Vec::new();
        while let Some(Ok(rec)) = reader.next() {
            recs.push(rec);
        }
        let candidates: Vec<_> = recs
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                *i + 2 < recs.len()
                    && r.data.len() < 30_000
                    && matches!(wal::decode_record(&r.data), Ok(Record::Entries { .. }))
                    && (r.location.offset as usize % wal::PAGE_SIZE) + r.data.len() + 7 < wal::PAGE_SIZE
            })
            .map(|(_, r)| r.clone())
            .collect();
        if !candidates.is_empty() {
            let r = candidates[rng.below(candidates.len() as u64) as usize].clone();
            target = Some((s, r));
            break;
        }
    }
    let (seg, rec) = target.expect("a segment with a middle entries record");
    let path = dir.path().join(wal::segment_name(seg));
    let mut data = std::fs::read(&path).unwrap();
    let at = rec.location.offset as usize + 7 + rng.below(rec.data.len() as u64) as usize;
    data[at] ^= 1 << rng.below(8);
    std::fs::write(&path, &data).unwrap();

    // Fail (default): an error naming the segment and offset.
    let mut sink = MemorySink::new(stream_config());
    let err = wal::replay(dir.path(), &ReplayOptions::default(), &mut sink).unwrap_err();
    let WalError::Corrupt { location, kind } = &err else { panic!("{err}") };
    assert_eq!((location.segment, location.offset), (seg, rec.location.offset), "{err}");
    assert!(matches!(kind, CorruptionKind::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&format!("segment {seg:08} offset {}", rec.location.offset)));

    // Stop: reported, nothing after it replayed.
    let mut stop = MemorySink::new(stream_config());
    let opts = ReplayOptions { recovery: RecoveryMode::Stop, ..ReplayOptions::default() };
    let report = wal::replay(dir.path(), &opts, &mut stop).unwrap();
    assert!(report.stopped_at_corruption);
    assert_eq!(report.corruptions.len(), 1);
    assert_eq!(report.corruptions[0].location.offset, rec.location.offset);

    // Skip: reported, everything else replayed.
    let mut skip = MemorySink::new(stream_config());
    let opts = ReplayOptions { recovery: RecoveryMode::Skip, ..ReplayOptions::default() };
    let report = wal::replay(dir.path(), &opts, &mut skip).unwrap();
    assert_eq!(report.corruptions.len(), 1, "{report:?}");
    assert!(!report.stopped_at_corruption);
    let Ok(Record::Entries { streams, .. }) = wal::decode_record(&rec.data) else { unreachable!() };
    let lost: BTreeSet<u64> = streams
        .iter()
        .flat_map(|g| &g.entries)
        .map(|e| {
            let line = std::str::from_utf8(&e.line).unwrap();
            line[1..line.find(' ').unwrap()].parse::<u64>().unwrap()
        })
        .collect();
    let count = |s: &MemorySink| s.streams().map(|m| m.entries().unwrap().len()).sum::<usize>();
    assert!(count(&skip) > count(&stop), "skip replays records after the damage");
    let mut survivors = acked.clone();
    survivors.retain(|b| !lost.contains(b));
    // Entries of the lost record's batch in other streams survive; check the rest.
    let _ = check_recovered_with(dir.path(), &survivors, 20_000, opts);
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
            assert!((e.timestamp - 1_700_000_000_000_000_000) / 1_000_000 < below as i64);
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
