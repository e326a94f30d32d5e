//! Log queries: the selected streams' entries through the pipeline,
//! grouped into output streams by their final labels, limited and ordered
//! as Loki does (`../shared/spec/logql.md` §3.1).
//!
//! The limit counts lines over all output streams: the first `limit`
//! entries in query direction win. Each input stream is read in direction
//! order and stops once it has produced `limit` lines, since no later line
//! of it can be among the first `limit` overall.
//!
//! Evaluation runs on several threads ([`LogEvaluator`]): the units of
//! work are the selected streams or, when there are too few of them to
//! share, runs of their chunks. Each worker has its own compiled
//! [`Pipeline`] and output; the outputs are merged in stream and time
//! order, so the answer does not depend on the number of threads.
//!
//! Per line, in a worker: the pipeline's leading line filter runs on the
//! raw line before any label work (a plain substring test is searched for
//! in whole decoded blocks, see [`Engine::scan_entries`]); a pipeline made
//! of that filter alone outputs passing lines without running at all;
//! otherwise the label builder is reset, given the structured metadata and
//! run through the pipeline. Lines whose labels are the stream's own go to
//! the stream's output without building a key; other keys are looked up
//! by a seeded hash. Only output lines are copied.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use memchr::memmem::Finder;
use xxhash_rust::xxh64::xxh64;

use super::units::{Unit, plan_units, run_workers, thread_count};
use super::{EvalError, Pipeline};
use crate::chunk::Direction;
use crate::engine::{Engine, SelectedStream};
use crate::labels::Label;
use crate::logql::ast::{Expr, LogSelector};
use crate::logql::log::{LabelsBuilder, LineFilter};
use crate::tenant::TenantId;

/// One output stream: its labels (stream, structured metadata and parsed
/// labels together) and entries in query direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    /// The final label set, sorted by name. Unlike a stream's [`Labels`](crate::Labels),
    /// it can hold empty values (`| logfmt --keep-empty`, `| json a="missing"`).
    pub labels: Vec<Label>,
    /// Its text, `{a="b", ...}`, as Loki prints it (streams are ordered by it).
    pub label_string: String,
    /// (timestamp ns, line) in query direction.
    pub entries: Vec<(i64, Bytes)>,
}

/// The answer of a log query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQueryResult {
    /// Streams ordered by label string.
    pub streams: Vec<LogStream>,
    /// Raw bytes of the lines read (before filtering).
    pub bytes_processed: u64,
    /// Lines read (before filtering).
    pub lines_processed: u64,
}

/// Parses and runs the log query `query` for `tenant` over `[from,
/// through)` (ns), on every available core.
pub fn query_logs(
    engine: &Engine,
    tenant: &TenantId,
    query: &str,
    from: i64,
    through: i64,
    direction: Direction,
    limit: usize,
) -> Result<LogQueryResult, EvalError> {
    LogEvaluator::new(engine).query_logs(tenant, query, from, through, direction, limit)
}

/// Runs a parsed log selector with its pipeline, on every available core.
/// `limit` 0 means no limit.
pub fn select_logs(
    engine: &Engine,
    tenant: &TenantId,
    sel: &LogSelector,
    from: i64,
    through: i64,
    direction: Direction,
    limit: usize,
) -> Result<LogQueryResult, EvalError> {
    LogEvaluator::new(engine).select_logs(tenant, sel, from, through, direction, limit)
}

/// Runs log queries over an engine with evaluation options (the number of
/// worker threads). The answer is the same for any number of threads.
///
/// ```no_run
/// # use lokistore::engine::{Engine, EngineConfig};
/// # use lokistore::logql::eval::LogEvaluator;
/// # use lokistore::{Direction, TenantId};
/// # let engine = Engine::open(EngineConfig::new("data"))?;
/// let tenant = TenantId::new("t")?;
/// let one_core = LogEvaluator::new(&engine).with_threads(1);
/// let res = one_core.query_logs(&tenant, r#"{app="x"} |= "error""#, 0, i64::MAX, Direction::Backward, 100)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LogEvaluator<'e> {
    engine: &'e Engine,
    threads: usize,
}

impl<'e> LogEvaluator<'e> {
    /// An evaluator using every available core.
    pub fn new(engine: &'e Engine) -> Self {
        Self { engine, threads: 0 }
    }

    /// Sets the number of worker threads: 0 (the default) for every
    /// available core, 1 to evaluate on the calling thread only.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// [`query_logs`] with these options.
    pub fn query_logs(
        &self,
        tenant: &TenantId,
        query: &str,
        from: i64,
        through: i64,
        direction: Direction,
        limit: usize,
    ) -> Result<LogQueryResult, EvalError> {
        match crate::logql::parse_expr(query)? {
            Expr::Log(sel) => self.select_logs(tenant, &sel, from, through, direction, limit),
            Expr::Sample(_) => Err(EvalError::Unsupported("a metric query is not a log query".into())),
        }
    }

    /// [`select_logs`] with these options.
    pub fn select_logs(
        &self,
        tenant: &TenantId,
        sel: &LogSelector,
        from: i64,
        through: i64,
        direction: Direction,
        limit: usize,
    ) -> Result<LogQueryResult, EvalError> {
        let pipeline = Pipeline::new(&sel.stages)?;
        let streams = self.engine.select(tenant, &sel.matchers, from, through)?;
        let threads = thread_count(self.threads);
        let units = plan_units(&streams, threads);
        let workers = threads.min(units.len()).max(1);
        let job = Job {
            engine: self.engine,
            streams: &streams,
            units: &units,
            range: (from, through, direction),
            limit,
            seed: RandomState::new().hash_one(0x6c6f_6b69_u64),
            next: AtomicUsize::new(0),
            cutoffs: streams.iter().map(|_| AtomicUsize::new(usize::MAX)).collect(),
            finished: Mutex::new(streams.iter().map(|_| Vec::new()).collect()),
            failed: AtomicBool::new(false),
        };
        let mut done = run_workers(
            workers,
            "logql-worker",
            || Worker::new(pipeline).run(&job),
            || match Pipeline::new(&sel.stages) {
                Ok(p) => Worker::new(p).run(&job),
                Err(e) => {
                    job.failed.store(true, Ordering::Relaxed);
                    vec![(0, Err(e))]
                }
            },
        );
        // The first failure in unit order, as a sequential run would report.
        done.sort_by_key(|d| d.0);
        let mut outs = Vec::with_capacity(done.len());
        for (_, r) in done {
            outs.push(r?);
        }
        Ok(merge(outs, &units, direction, limit))
    }
}

/// What the workers share.
struct Job<'a> {
    engine: &'a Engine,
    streams: &'a [SelectedStream],
    units: &'a [Unit],
    /// `[from, through)` and direction.
    range: (i64, i64, Direction),
    limit: usize,
    /// Seed of the output-stream key hashes.
    seed: u64,
    /// The next unit to start.
    next: AtomicUsize,
    /// Per stream: its units from this index on are not needed (its
    /// earlier units already produced `limit` lines).
    cutoffs: Vec<AtomicUsize>,
    /// Per stream: (unit index, lines produced) of its finished units.
    finished: Mutex<Vec<Vec<(usize, usize)>>>,
    /// A unit failed: the others stop.
    failed: AtomicBool,
}

impl Job<'_> {
    /// Records that unit `u` produced `produced` lines, and moves its
    /// stream's cutoff once the stream's finished units, in order from its
    /// first, reach the limit.
    fn finished(&self, u: usize, produced: usize) {
        let Some(unit) = self.units.get(u) else { return };
        if self.limit == 0 {
            return;
        }
        let mut finished = self.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(done) = finished.get_mut(unit.stream) else { return };
        done.push((u, produced));
        done.sort_unstable();
        let Some(&(first, _)) = done.first() else { return };
        if !self.units.get(first).is_some_and(|f| f.first) {
            return;
        }
        // A stream's units are consecutive.
        let mut total = 0usize;
        for (k, &(idx, n)) in done.iter().enumerate() {
            if idx != first + k {
                break;
            }
            total += n;
            if total >= self.limit {
                if let Some(c) = self.cutoffs.get(unit.stream) {
                    c.fetch_min(idx + 1, Ordering::Relaxed);
                }
                break;
            }
        }
    }
}

/// One output stream of a unit, or of the answer while merging.
struct Group {
    /// Hash of `key` (seeded per query).
    hash: u64,
    /// The label string.
    key: String,
    labels: Vec<Label>,
    entries: Vec<(i64, Bytes)>,
    /// For units the merge may cut short (see [`UnitOut::marks`]): the
    /// unit's output line number of each entry.
    seqs: Vec<usize>,
    /// The next group with the same hash, or `u32::MAX`.
    next: u32,
}

/// What a unit produced.
#[derive(Default)]
struct UnitOut {
    /// Output streams in order of their first line.
    groups: Vec<Group>,
    /// Output lines.
    produced: usize,
    /// Lines and line bytes read.
    lines: u64,
    bytes: u64,
    /// For a stream's later units under a limit, which the merge may cut
    /// short: (lines, bytes) read when each output line was produced.
    marks: Vec<(u64, u64)>,
}

/// Hashes a `u64` that is already a seeded xxHash64 to itself.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Key hash to the newest group with that hash (groups chain the rest).
type HashIndex = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

/// The group with label string `key` (hash `hash`), if any.
fn find_group(groups: &[Group], index: &HashIndex, hash: u64, key: &str) -> Option<usize> {
    let mut at = *index.get(&hash)?;
    while let Some(g) = groups.get(at as usize) {
        if g.key == key {
            return Some(at as usize);
        }
        at = g.next;
    }
    None
}

/// Adds a group (not yet present); returns its index.
fn add_group(groups: &mut Vec<Group>, index: &mut HashIndex, mut g: Group) -> usize {
    let idx = groups.len();
    g.next = index.insert(g.hash, idx as u32).unwrap_or(u32::MAX);
    groups.push(g);
    idx
}

/// A worker: its compiled pipeline, and the pipeline's leading line
/// filter, applied to raw lines before any label work (as a block-wide
/// substring search when it is a plain substring test).
struct Worker {
    pipeline: Pipeline,
    leading: Option<LineFilter>,
    /// The leading filter as a substring search, and whether it is negated.
    literal: Option<(Finder<'static>, bool)>,
    /// The pipeline is the leading filter alone, or empty: passing lines
    /// are output as they are, with the stream labels and metadata.
    filter_only: bool,
    index: HashIndex,
}

impl Worker {
    fn new(pipeline: Pipeline) -> Self {
        let leading = pipeline.leading_filter().cloned();
        let literal =
            leading.as_ref().and_then(LineFilter::literal).map(|l| (Finder::new(l.needle).into_owned(), l.negated));
        let filter_only = pipeline.only_line_filters();
        Self { pipeline, leading, literal, filter_only, index: HashIndex::default() }
    }

    /// Takes units until none is left; returns each one's output by index.
    fn run(mut self, job: &Job<'_>) -> Vec<(usize, Result<UnitOut, EvalError>)> {
        let mut done = Vec::new();
        loop {
            let u = job.next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = job.units.get(u) else { break };
            if job.failed.load(Ordering::Relaxed) {
                break;
            }
            if job.cutoffs.get(unit.stream).is_some_and(|c| c.load(Ordering::Relaxed) <= u) {
                done.push((u, Ok(UnitOut::default())));
                continue;
            }
            let res = self.unit(job, u, unit);
            match &res {
                Ok(out) => job.finished(u, out.produced),
                Err(_) => job.failed.store(true, Ordering::Relaxed),
            }
            done.push((u, res));
        }
        done
    }

    /// Evaluates one unit.
    fn unit(&mut self, job: &Job<'_>, u: usize, unit: &Unit) -> Result<UnitOut, EvalError> {
        let Some(stream) = job.streams.get(unit.stream) else { return Ok(UnitOut::default()) };
        let (limit, seed) = (job.limit, job.seed);
        // A stream's later units may be cut short by the merge, or stopped
        // once the stream has enough lines.
        let later = limit > 0 && !unit.first;
        let cutoff = job.cutoffs.get(unit.stream).filter(|_| later);
        let mut out = UnitOut::default();
        let mut builder = LabelsBuilder::new(stream.labels());
        let Worker { pipeline, leading, literal, filter_only, index } = self;
        let filter_only = *filter_only;
        index.clear();
        // The group of lines whose labels are the stream's own.
        let mut base: Option<usize> = None;
        let needle = literal.as_ref().map(|l| &l.0);
        let negated = literal.as_ref().map(|l| l.1);
        job.engine.scan_entries(stream, unit.groups.clone(), job.range, needle, &mut |e, contains| {
            let line = e.line();
            out.lines += 1;
            out.bytes += line.len() as u64;
            match (negated, leading.as_ref()) {
                (Some(negated), _) if contains == negated => return ControlFlow::Continue(()),
                (None, Some(f)) if !f.matches(line) => return ControlFlow::Continue(()),
                _ => {}
            }
            let (out_line, idx) = if filter_only {
                if base.is_some() && !e.has_metadata() {
                    (line, base)
                } else {
                    builder.reset();
                    e.for_each_metadata(|n, v| builder.set_metadata(n, v));
                    (line, None)
                }
            } else {
                builder.reset();
                e.for_each_metadata(|n, v| builder.set_metadata(n, v));
                // The leading filter already ran on the raw line.
                match pipeline.process_after_leading(&mut builder, e.timestamp(), line) {
                    Some(l) => (l, None),
                    None => return ControlFlow::Continue(()),
                }
            };
            let idx = match idx {
                Some(i) => i,
                None if builder.is_unchanged() && base.is_some() => base.unwrap_or_default(),
                None => {
                    let key = builder.label_string();
                    let hash = xxh64(key.as_bytes(), seed);
                    match find_group(&out.groups, index, hash, key) {
                        Some(i) => i,
                        None => {
                            let key = key.to_owned();
                            let unchanged = builder.is_unchanged();
                            let g = Group {
                                hash,
                                key,
                                labels: builder.to_vec(),
                                entries: Vec::new(),
                                seqs: Vec::new(),
                                next: u32::MAX,
                            };
                            let i = add_group(&mut out.groups, index, g);
                            if unchanged {
                                base = Some(i);
                            }
                            i
                        }
                    }
                }
            };
            let Some(g) = out.groups.get_mut(idx) else { return ControlFlow::Continue(()) };
            g.entries.push((e.timestamp(), Bytes::copy_from_slice(out_line)));
            if later {
                g.seqs.push(out.produced);
                out.marks.push((out.lines, out.bytes));
            }
            out.produced += 1;
            let stop = (limit > 0 && out.produced >= limit) || cutoff.is_some_and(|c| c.load(Ordering::Relaxed) <= u);
            if stop { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })?;
        Ok(out)
    }
}

/// Merges the units' outputs (in unit order: streams in label order, each
/// in query direction), keeping of each stream its first `limit` lines,
/// then orders and limits the output streams as Loki does.
fn merge(units_out: Vec<UnitOut>, units: &[Unit], direction: Direction, limit: usize) -> LogQueryResult {
    let mut result = LogQueryResult::default();
    let mut outs: Vec<Group> = Vec::new();
    let mut index = HashIndex::default();
    // Lines taken so far from the current stream.
    let mut taken = 0usize;
    let mut stream = usize::MAX;
    for (unit, mut uo) in units.iter().zip(units_out) {
        if unit.stream != stream {
            stream = unit.stream;
            taken = 0;
        }
        let remaining = if limit > 0 { limit.saturating_sub(taken) } else { usize::MAX };
        if remaining == 0 {
            // Not needed: a sequential run would have stopped before it.
            continue;
        }
        if uo.produced >= remaining && !uo.marks.is_empty() {
            // The stream reaches the limit in this unit: what a sequential
            // run would have read and kept up to that line.
            let (lines, bytes) = uo.marks.get(remaining - 1).copied().unwrap_or((uo.lines, uo.bytes));
            result.lines_processed += lines;
            result.bytes_processed += bytes;
            for g in &mut uo.groups {
                let keep = g.seqs.partition_point(|&s| s < remaining);
                g.entries.truncate(keep);
            }
            taken = limit;
        } else {
            result.lines_processed += uo.lines;
            result.bytes_processed += uo.bytes;
            taken = taken.saturating_add(uo.produced);
        }
        for g in uo.groups {
            if g.entries.is_empty() {
                continue;
            }
            match find_group(&outs, &index, g.hash, &g.key).and_then(|i| outs.get_mut(i)) {
                Some(o) => o.entries.extend(g.entries),
                None => {
                    add_group(&mut outs, &mut index, Group { seqs: Vec::new(), ..g });
                }
            }
        }
    }
    result.streams = finish(outs, direction, limit);
    result
}

/// The answer's streams from the merged output streams (each holding its
/// entries in stream order): entries in direction order, streams in label
/// order, Loki's limit over all of them, empty ones left out.
fn finish(mut outs: Vec<Group>, direction: Direction, limit: usize) -> Vec<LogStream> {
    // Entries of one output stream may come from several input streams
    // (a parser can map different streams to equal labels): order them,
    // stably (at equal times, in stream order).
    for o in &mut outs {
        match direction {
            Direction::Forward => o.entries.sort_by_key(|e| e.0),
            Direction::Backward => o.entries.sort_by_key(|e| std::cmp::Reverse(e.0)),
        }
    }
    outs.sort_by(|a, b| a.key.cmp(&b.key));
    if limit > 0 {
        apply_limit(&mut outs, limit, direction);
    }
    outs.into_iter()
        .filter(|o| !o.entries.is_empty())
        .map(|o| LogStream { labels: o.labels, label_string: o.key, entries: o.entries })
        .collect()
}

/// Keeps the first `limit` entries over all streams in direction order;
/// at equal timestamps, streams earlier in label order go first.
fn apply_limit(outs: &mut [Group], limit: usize, direction: Direction) {
    let total: usize = outs.iter().map(|o| o.entries.len()).sum();
    if total <= limit {
        return;
    }
    // k-way merge over the (already ordered) streams, counting how many
    // entries each stream contributes to the first `limit`.
    let mut pos = vec![0usize; outs.len()];
    for _ in 0..limit {
        let mut best: Option<usize> = None;
        for (i, o) in outs.iter().enumerate() {
            let Some(&(ts, _)) = o.entries.get(pos[i]) else { continue };
            let better = match best {
                None => true,
                Some(b) => {
                    let bts = outs[b].entries[pos[b]].0;
                    match direction {
                        Direction::Forward => ts < bts,
                        Direction::Backward => ts > bts,
                    }
                }
            };
            if better {
                best = Some(i);
            }
        }
        match best {
            Some(b) => pos[b] += 1,
            None => break,
        }
    }
    for (o, keep) in outs.iter_mut().zip(pos) {
        o.entries.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkConfig, ChunkFormat, Encoding, Entry};
    use crate::engine::{EngineConfig, PushStream};
    use crate::labels::Labels;
    use crate::wal::SyncMode;

    /// The evaluation as it was before workers and block search: one
    /// thread, every line through `for_each_entry`.
    fn reference(
        engine: &Engine,
        tenant: &TenantId,
        query: &str,
        (from, through, direction): (i64, i64, Direction),
        limit: usize,
    ) -> LogQueryResult {
        let Ok(Expr::Log(sel)) = crate::logql::parse_expr(query) else { panic!("log query") };
        let mut pipeline = Pipeline::new(&sel.stages).unwrap();
        let streams = engine.select(tenant, &sel.matchers, from, through).unwrap();
        let mut outs: Vec<Group> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut result = LogQueryResult::default();
        for s in &streams {
            let mut builder = LabelsBuilder::new(s.labels());
            let mut produced = 0usize;
            engine
                .for_each_entry(s, from, through, direction, &mut |e| {
                    let line = e.line();
                    result.lines_processed += 1;
                    result.bytes_processed += line.len() as u64;
                    if let Some(f) = pipeline.leading_filter()
                        && !f.matches(line)
                    {
                        return ControlFlow::Continue(());
                    }
                    builder.reset();
                    e.for_each_metadata(|n, v| builder.set_metadata(n, v));
                    let Some(out_line) = pipeline.process(&mut builder, e.timestamp(), line) else {
                        return ControlFlow::Continue(());
                    };
                    let key = builder.label_string().to_owned();
                    let idx = *by_key.entry(key.clone()).or_insert_with(|| {
                        outs.push(Group {
                            hash: 0,
                            key,
                            labels: builder.to_vec(),
                            entries: Vec::new(),
                            seqs: Vec::new(),
                            next: u32::MAX,
                        });
                        outs.len() - 1
                    });
                    outs[idx].entries.push((e.timestamp(), Bytes::copy_from_slice(out_line)));
                    produced += 1;
                    if limit > 0 && produced >= limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
                })
                .unwrap();
        }
        result.streams = finish(outs, direction, limit);
        result
    }

    /// The first entry's time (ns).
    const BASE: i64 = 1_700_000_000_000_000_000;

    /// A line with a needle now and then, some at the very start or end,
    /// logfmt or JSON shaped.
    fn line(stream: usize, i: usize) -> String {
        let level = ["info", "error", "debug"][(i * 7 + stream) % 3];
        let mut l = if i.is_multiple_of(2) {
            format!("level={level} stream={stream} i={i} status={}", 200 + (i % 4) * 100)
        } else {
            format!(r#"{{"level":"{level}","i":{i},"status":{}}}"#, 200 + (i % 4) * 100)
        };
        match i % 29 {
            0 => l.insert_str(0, "needle "),
            5 => l.push_str(" needle"),
            11 => l.push_str(" nee"),
            17 => l = "needle".to_owned(),
            23 => l.clear(),
            _ => {}
        }
        l
    }

    /// Five streams (one with metadata), small chunks, some flushed, some
    /// in memory, some overlapping (out-of-order pushes).
    fn engine(dir: &std::path::Path) -> (Engine, TenantId) {
        let mut c = EngineConfig::new(dir);
        c.wal.sync = SyncMode::Never;
        c.limits.creation_grace_period = None;
        c.stream.chunk =
            ChunkConfig::new(ChunkFormat::V4, Encoding::Snappy).with_block_size(300).with_target_size(1200);
        let engine = Engine::open(c).unwrap();
        let tenant = TenantId::new("t").unwrap();
        let push = |range: std::ops::Range<usize>, shift: i64| {
            let streams = (0..5)
                .map(|s| {
                    let labels = Labels::from_pairs([("app", "x".to_owned()), ("pod", format!("p{s}"))]).unwrap();
                    let entries = range
                        .clone()
                        .map(|i| {
                            // Seconds apart; pairs of equal times.
                            let k = if i % 10 == 1 { i - 1 } else { i } as i64;
                            let ts = BASE + k * 1_000_000_000 + shift;
                            let md = if s == 1 && i % 3 == 0 {
                                vec![crate::labels::Label::new("trace", format!("t{}", i % 2))]
                            } else {
                                Vec::new()
                            };
                            Entry::with_metadata(ts, line(s, i), md)
                        })
                        .collect();
                    PushStream::new(labels, entries)
                })
                .collect();
            engine.push(&tenant, streams).unwrap();
        };
        push(0..400, 0);
        engine.flush().unwrap();
        push(400..700, 0);
        // Older lines than the newest: chunks overlapping earlier ones.
        push(600..650, 7);
        (engine, tenant)
    }

    #[test]
    fn same_answer_for_any_number_of_threads() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, tenant) = engine(dir.path());
        let queries = [
            r#"{app="x"}"#,
            r#"{app="x"} |= "needle""#,
            r#"{app="x"} != "needle""#,
            r#"{app="x"} |~ "needle|error""#,
            r#"{app="x", pod="p1"} |= "needle""#,
            r#"{app="x"} |= "needle" | logfmt"#,
            r#"{app="x"} | logfmt | level="error""#,
            r#"{app="x"} | json | status >= 400"#,
            r#"{app="x"} |= "level" | json | line_format "{{.level}}""#,
            r#"{app="x"} | logfmt | drop stream, i, status"#,
        ];
        const S: i64 = 1_000_000_000;
        // Everything; then a range cutting blocks and chunks in the middle.
        let ranges = [(i64::MIN / 2, i64::MAX / 2), (BASE + 100 * S + S / 2, BASE + 555 * S + S / 2)];
        for q in queries {
            for (from, through) in ranges {
                for direction in [Direction::Forward, Direction::Backward] {
                    for limit in [0, 1, 7, 100, 1000] {
                        let want = reference(&engine, &tenant, q, (from, through, direction), limit);
                        assert!(want.lines_processed > 0);
                        for threads in [1, 2, 3, 8] {
                            let got = LogEvaluator::new(&engine)
                                .with_threads(threads)
                                .query_logs(&tenant, q, from, through, direction, limit)
                                .unwrap();
                            assert_eq!(
                                got, want,
                                "{q} {from}..{through} {direction:?} limit {limit}, {threads} threads"
                            );
                        }
                    }
                }
            }
        }
    }
}
