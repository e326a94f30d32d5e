//! Sample extraction (Loki's `log/metrics_extraction.go`): the entries of
//! the selected streams run through the pipeline once, each surviving
//! line becomes a sample — 1 (`count_over_time`, `rate`,
//! `absent_over_time`), the output line's length (`bytes_*`) or a
//! converted label value (`unwrap`) — labelled by the line's final label
//! set, reduced by the range aggregation's grouping.
//!
//! Rules (spec §4.2): an absent or empty unwrapped label drops the line; a
//! value that does not convert sets `__error__=SampleExtractionErr` (value
//! 0) before the post-unwrap filters run; the unwrapped label leaves the
//! series labels unless grouped `by` it; a line with an error keeps its
//! full label set (grouping would hide the error). A trailing
//! `line_format` that no later parser or line filter reads is dropped
//! except for `bytes_*` (Loki's `removeLineformat`).
//!
//! Lines that a count (`count_over_time`, `rate`, `absent_over_time`) or a
//! byte sum (`bytes_*`) turns into integer weights are added up while
//! they fall in the same windows (`windows.rs`): a series holds one
//! sample per run of such lines, whose value is the run's total, so the
//! window sums are exactly those of one sample per line. Without pipeline
//! stages a count reads the data block by block (`Engine::scan_blocks`):
//! a block whose time span lies in one window class adds its entry count
//! without being decompressed; another decodes only the timestamps of its
//! entries up to its last window cut (snappy frames past that entry are
//! not decompressed), and the entries after it, all in the class of the
//! block's last entry, are counted from the block's entry count. Chunks
//! whose entries may carry structured metadata (part of the series
//! labels), overlapping chunks (de-duplicated by the read path) and
//! streams with delete requests go line by line.
//!
//! Per line: a leading substring filter is searched for in whole decoded
//! blocks (`Engine::scan_entries`), other leading filters run on the raw
//! line, both before any label work; lines that keep the stream's labels
//! (a pipeline of line filters only, no metadata, or a builder left
//! unchanged) go to the stream's series without building a key; other
//! series are found by a seeded hash of their key, built without sorting
//! the labels (see `Sink::series_index`).
//!
//! Streams (or runs of chunk groups of large streams) are extracted on
//! every core, each worker with its own compiled pipeline; the units'
//! series are merged in unit order, which is the order one thread would
//! have produced, so results do not depend on the number of threads.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memchr::memmem::Finder;
use xxhash_rust::xxh64::xxh64;

use super::MetricError;
use super::steps::{Ctx, Metric};
use super::windows::Windows;
use crate::chunk::Direction;
use crate::engine::{BlockVisitor, Engine, EntryView, SelectedStream, StreamBlock};
use crate::labels::{Label, Labels};
use crate::logql::ast::{Conversion, Grouping, LabelFilter, RangeAggregation, RangeOp, Stage};
use crate::logql::eval::Pipeline;
use crate::logql::eval::units::{Unit, plan_units, run_workers, thread_count};
use crate::logql::log::{
    ERROR_DETAILS_LABEL, ERROR_LABEL, ErrorKind, LabelsBuilder, LineFilter, parse_go_duration, parse_go_float,
    parse_humanize_bytes,
};

/// The samples of one output series, in time order.
#[derive(Debug)]
pub(crate) struct SeriesData {
    pub metric: Metric,
    pub ts: Vec<i64>,
    pub values: Vec<f64>,
}

/// What a line turns into.
enum Value<'a> {
    Count,
    Bytes,
    Unwrap { label: &'a str, conversion: Option<Conversion> },
}

/// How sample labels are reduced.
struct Reduce {
    /// Sorted, unique.
    groups: Vec<String>,
    without: bool,
    no_labels: bool,
}

impl Reduce {
    fn new(r: &RangeAggregation, grouping: Option<&Grouping>) -> Self {
        let (mut groups, mut without, mut no_labels) = match grouping {
            Some(g) => (g.labels.clone(), g.without, g.is_singleton()),
            None => (Vec::new(), false, false),
        };
        if let Some(u) = &r.range.unwrap
            && (groups.is_empty() || without)
        {
            without = true;
            groups.push(u.label.clone());
        }
        if r.op == RangeOp::AbsentOverTime {
            no_labels = true;
        }
        groups.sort();
        groups.dedup();
        Self { groups, without, no_labels }
    }

    fn keeps(&self, name: &str) -> bool {
        self.groups.binary_search_by(|g| g.as_str().cmp(name)).is_ok() != self.without
    }
}

/// Loki's `removeLineformat`: a `line_format` not followed by a parser or
/// a line filter cannot change a non-bytes metric, so it is removed.
fn metric_stages(stages: &[Stage], op: RangeOp) -> Vec<Stage> {
    if matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) {
        return stages.to_vec();
    }
    let reads_line = |s: &Stage| {
        matches!(
            s,
            Stage::Logfmt(_)
                | Stage::Json(_)
                | Stage::Regexp(_)
                | Stage::Pattern(_)
                | Stage::Unpack
                | Stage::LineFilter(_)
        )
    };
    stages
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            !matches!(s, Stage::LineFormat(_)) || stages.get(i + 1..).unwrap_or_default().iter().any(reads_line)
        })
        .map(|(_, s)| s.clone())
        .collect()
}

/// Names label filters read, for Loki's "preserve error" hint.
fn filter_names(f: &LabelFilter, out: &mut Vec<String>) {
    match f {
        LabelFilter::Matcher(m) => out.push(m.name().to_owned()),
        LabelFilter::Number { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. }
        | LabelFilter::Ip { name, .. } => out.push(name.clone()),
        LabelFilter::And(fs) | LabelFilter::Or(fs) => fs.iter().for_each(|f| filter_names(f, out)),
    }
}

/// Loki asks parsers to mark their errors `__preserve_error__="true"` when
/// the query explicitly groups by `__error__` (its parser hints).
fn preserve_error(r: &RangeAggregation, reduce: &Reduce) -> bool {
    let mut names = Vec::new();
    for s in &r.range.selector.stages {
        if let Stage::LabelFilter(f) = s {
            filter_names(f, &mut names);
        }
    }
    if let Some(u) = &r.range.unwrap {
        u.post_filters.iter().for_each(|f| filter_names(f, &mut names));
        names.push(u.label.clone());
    }
    names.extend(reduce.groups.iter().cloned());
    let has_error = names.iter().any(|n| n == ERROR_LABEL);
    if reduce.no_labels {
        return has_error;
    }
    has_error && !reduce.without && !reduce.groups.is_empty()
}

fn convert(value: &str, conversion: Option<Conversion>) -> Result<f64, String> {
    match conversion {
        None => parse_go_float(value).map_err(|e| e.details().to_owned()),
        Some(Conversion::Bytes) => parse_humanize_bytes(value).map(|b| b as f64).map_err(|e| e.details().to_owned()),
        Some(Conversion::Duration | Conversion::DurationSeconds) => {
            parse_go_duration(value).map(|ns| ns as f64 / 1e9).map_err(|e| e.details().to_owned())
        }
    }
}

/// Whether `r`'s samples are integer weights that add up (see the module
/// comment): a count or a byte sum, without `unwrap`.
pub(crate) fn sums_weights(r: &RangeAggregation) -> bool {
    r.range.unwrap.is_none()
        && matches!(
            r.op,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::AbsentOverTime
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
        )
}

/// One range aggregation's extraction, shared by the workers.
struct Plan<'a> {
    stages: Vec<Stage>,
    /// The post-`unwrap` label filters, as stages.
    post_stages: Vec<Stage>,
    value: Value<'a>,
    reduce: Reduce,
    preserve: bool,
    /// Set when samples are weights: lines in one window class add up.
    windows: Option<Windows>,
    /// Count from block metas (a count without stages).
    blocks: bool,
    /// `[from, through)` read (ns).
    range: (i64, i64),
}

/// Reads the samples of range aggregation `r` for every step of the grid
/// (`[start - range - offset, end - offset]`), grouped into series sorted
/// by labels. `grouping` is the aggregation's own grouping or the one a
/// parent `sum` pushes down.
pub(crate) fn extract(
    ctx: &Ctx<'_>,
    r: &RangeAggregation,
    grouping: Option<&Grouping>,
) -> Result<Vec<SeriesData>, MetricError> {
    let range = i64::try_from(r.range.range.as_nanos()).unwrap_or(i64::MAX);
    let offset = r.range.offset.as_nanos();
    let from = ctx.grid.start.saturating_sub(range).saturating_sub(offset);
    let through = ctx.grid.end.saturating_sub(offset).saturating_add(1);

    let stages = metric_stages(&r.range.selector.stages, r.op);
    let post_stages: Vec<Stage> = match &r.range.unwrap {
        Some(u) => u.post_filters.iter().cloned().map(Stage::LabelFilter).collect(),
        None => Vec::new(),
    };
    let value = match (&r.range.unwrap, r.op) {
        (Some(u), _) => Value::Unwrap { label: &u.label, conversion: u.conversion },
        (None, RangeOp::BytesOverTime | RangeOp::BytesRate) => Value::Bytes,
        (None, _) => Value::Count,
    };
    let reduce = Reduce::new(r, grouping);
    let preserve = preserve_error(r, &reduce);
    let windows = sums_weights(r).then(|| Windows::new(&ctx.grid, range, offset));
    let blocks = ctx.use_blocks && windows.is_some() && matches!(value, Value::Count) && stages.is_empty();
    let plan = Plan { stages, post_stages, value, reduce, preserve, windows, blocks, range: (from, through) };
    // Compiled here first, so a bad stage fails before any thread starts.
    let first = Worker::new(&plan)?;

    let streams = ctx.engine.select(ctx.tenant, &r.range.selector.matchers, from, through)?;
    let threads = thread_count(ctx.threads);
    let units = plan_units(&streams, threads);
    let workers = threads.min(units.len()).max(1);
    let job = Job {
        engine: ctx.engine,
        streams: &streams,
        units: &units,
        seed: RandomState::new().hash_one(0x6d65_7472_6963_u64),
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
    };
    let mut done = run_workers(
        workers,
        "logql-metric",
        || first.run(&job),
        || match Worker::new(&plan) {
            Ok(w) => w.run(&job),
            Err(e) => {
                job.failed.store(true, Ordering::Relaxed);
                vec![(0, Err(e))]
            }
        },
    );
    // Unit order: the first failure a sequential run would meet, and the
    // samples in the order it would have added them.
    done.sort_by_key(|d| d.0);
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<SeriesData> = Vec::new();
    for (_, out) in done {
        for l in out?.series {
            match index.get(&l.key).and_then(|&i| series.get_mut(i)) {
                Some(sd) => {
                    sd.ts.extend_from_slice(&l.ts);
                    sd.values.extend_from_slice(&l.values);
                }
                None => {
                    index.insert(l.key, series.len());
                    series.push(SeriesData { metric: l.metric, ts: l.ts, values: l.values });
                }
            }
        }
    }
    // Series fed by several streams: merge their samples in time order
    // (stable, so equal timestamps keep stream order).
    for sd in &mut series {
        if sd.ts.windows(2).any(|w| w[0] > w[1]) {
            let mut pairs: Vec<(i64, f64)> = sd.ts.iter().copied().zip(sd.values.iter().copied()).collect();
            pairs.sort_by_key(|p| p.0);
            sd.ts = pairs.iter().map(|p| p.0).collect();
            sd.values = pairs.iter().map(|p| p.1).collect();
        }
    }
    series.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(series)
}

/// What the workers share.
struct Job<'a> {
    engine: &'a Engine,
    streams: &'a [SelectedStream],
    units: &'a [Unit],
    /// Seed of the series key hashes.
    seed: u64,
    /// The next unit to start.
    next: AtomicUsize,
    /// A unit failed: the others stop.
    failed: AtomicBool,
}

/// One series of a unit.
struct LocalSeries {
    /// The series key (see [`Sink::series_index`]), the same in every unit.
    key: String,
    metric: Metric,
    ts: Vec<i64>,
    values: Vec<f64>,
    /// For weights: the first timestamp of the last sample's run and the
    /// end of its window class; a line in between joins the run.
    run: (i64, i64),
}

/// What a unit produced: its series in order of their first sample.
#[derive(Default)]
struct UnitOut {
    series: Vec<LocalSeries>,
}

/// Hashes series keys with xxHash64 under a per-query seed.
#[derive(Clone, Copy)]
struct KeyHash(u64);

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh64(bytes, self.0);
    }

    fn write_u8(&mut self, i: u8) {
        // `str` hashing ends with 0xff: fold it in without another pass.
        self.0 = self.0.rotate_left(8) ^ u64::from(i);
    }
}

/// The series of one unit, and the label work of its lines.
struct Sink<'p> {
    plan: &'p Plan<'p>,
    builder: LabelsBuilder,
    series: Vec<LocalSeries>,
    /// Canonical key to series.
    index: HashMap<String, usize, KeyHash>,
    /// Alias key (labels in the builder's order) to series.
    aliases: HashMap<String, usize, KeyHash>,
    key: String,
    /// The series of lines whose labels are the stream's own.
    base: Option<usize>,
    empty: Metric,
}

impl<'p> Sink<'p> {
    fn new(plan: &'p Plan<'p>, labels: &Labels, seed: u64) -> Self {
        let mut builder = LabelsBuilder::new(labels);
        builder.set_preserve_error(plan.preserve);
        Self {
            plan,
            builder,
            series: Vec::new(),
            index: HashMap::with_hasher(KeyHash(seed)),
            aliases: HashMap::with_hasher(KeyHash(seed)),
            key: String::new(),
            base: None,
            empty: Arc::from(Vec::new()),
        }
    }

    /// Adds sample `v` at `ts` to series `idx`; weights in the run of the
    /// series' last sample join it.
    fn add(&mut self, idx: usize, ts: i64, v: f64) {
        let Some(s) = self.series.get_mut(idx) else { return };
        if let Some(w) = &self.plan.windows {
            if let Some(last) = s.values.last_mut()
                && ts >= s.run.0
                && ts <= s.run.1
            {
                *last += v;
                return;
            }
            s.run = (ts, w.class_end(ts));
        }
        s.ts.push(ts);
        s.values.push(v);
    }

    /// The series of lines with the stream's labels alone.
    fn base(&mut self) -> usize {
        if let Some(b) = self.base {
            return b;
        }
        self.builder.reset();
        let b = self.series_index();
        self.base = Some(b);
        b
    }

    /// The index of the series the builder's (reduced) labels name,
    /// created when new. Allocates only for a new series.
    ///
    /// The key of a series is canonical (sorted names), the same in every
    /// unit. For full label sets and `without`, sorting per line would
    /// cost more than the rest of the label work: the labels in the
    /// builder's own order form an alias key, resolved to the canonical
    /// one the first time it is seen.
    fn series_index(&mut self) -> usize {
        let Self { plan, builder, series, index, aliases, key, empty, .. } = self;
        let reduce = &plan.reduce;
        let full = builder.has_error() || (reduce.groups.is_empty() && !reduce.no_labels);
        key.clear();
        let alias = if !full && reduce.no_labels {
            None
        } else if !full && !reduce.without {
            // `by`: the groups are sorted, so this key is canonical.
            push_reduced(builder, reduce, |n, v| push_pair(key, n, v));
            None
        } else {
            builder.for_each(|n, v| {
                if full || reduce.keeps(n) {
                    push_pair(key, n, v);
                }
            });
            if let Some(&i) = aliases.get(key.as_str()) {
                return i;
            }
            let alias = key.clone();
            key.clear();
            if full {
                key.push_str(builder.label_string());
            } else {
                push_reduced(builder, reduce, |n, v| push_pair(key, n, v));
            }
            Some(alias)
        };
        let i = match index.get(key.as_str()) {
            Some(&i) => i,
            None => {
                let metric: Metric = if full {
                    Arc::from(builder.to_vec())
                } else if reduce.no_labels {
                    empty.clone()
                } else {
                    let mut labels = Vec::new();
                    push_reduced(builder, reduce, |n, v| labels.push(Label::new(n, v)));
                    Arc::from(labels)
                };
                series.push(LocalSeries { key: key.clone(), metric, ts: Vec::new(), values: Vec::new(), run: (0, -1) });
                index.insert(key.clone(), series.len() - 1);
                series.len() - 1
            }
        };
        if let Some(a) = alias {
            aliases.insert(a, i);
        }
        i
    }
}

/// Appends one label to a series key: the name (which never holds
/// `\u{ff}`), then the value's length and the value, so keys are
/// unambiguous whatever the values hold.
fn push_pair(key: &mut String, name: &str, value: &str) {
    use std::fmt::Write as _;
    key.push_str(name);
    key.push('\u{ff}');
    let _ = write!(key, "{}", value.len());
    key.push('\u{ff}');
    key.push_str(value);
}

/// A worker's compiled pipeline and per-line logic.
struct Exec<'p> {
    plan: &'p Plan<'p>,
    pipeline: Pipeline,
    post: Option<Pipeline>,
    /// The pipeline's leading line filter, applied to raw lines first.
    leading: Option<LineFilter>,
    /// `Some(negated)` when the leading filter is a substring test that
    /// the scan searches for in whole blocks (its answer comes with the
    /// entry).
    literal: Option<bool>,
    /// Lines without structured metadata keep the stream's labels and
    /// their value needs no label: the pipeline is line filters at most
    /// (the leading one) and the value a count or the line's size.
    plain: bool,
}

impl Exec<'_> {
    /// Turns one line into a sample, if it makes one.
    fn line(&mut self, sink: &mut Sink<'_>, e: EntryView<'_>, contains: bool) {
        let line = e.line();
        match (self.literal, &self.leading) {
            (Some(negated), _) if contains == negated => return,
            (None, Some(f)) if !f.matches(line) => return,
            _ => {}
        }
        let ts = e.timestamp();
        let plan = self.plan;
        if self.plain && !e.has_metadata() {
            let v = if matches!(plan.value, Value::Bytes) { line.len() as f64 } else { 1.0 };
            let idx = sink.base();
            sink.add(idx, ts, v);
            return;
        }
        let builder = &mut sink.builder;
        builder.reset();
        e.for_each_metadata(|n, v| builder.set_metadata(n, v));
        // The leading filter passed above: not run again.
        let Some(out) = self.pipeline.process_after_leading(builder, ts, line) else { return };
        let v = match &plan.value {
            Value::Count => 1.0,
            Value::Bytes => out.len() as f64,
            Value::Unwrap { label, conversion } => {
                let Some(raw) = builder.get(label).filter(|v| !v.is_empty()) else { return };
                match convert(raw, *conversion) {
                    Ok(v) => v,
                    Err(details) => {
                        builder.set_error(ErrorKind::SampleExtraction, Some(&details));
                        0.0
                    }
                }
            }
        };
        if let Some(p) = &mut self.post
            && p.process(builder, ts, line).is_none()
        {
            return;
        }
        let idx = if sink.builder.is_unchanged() { sink.base() } else { sink.series_index() };
        sink.add(idx, ts, v);
    }
}

/// A worker: takes units until none is left.
struct Worker<'p> {
    exec: Exec<'p>,
    /// The leading filter's needle, when it is a substring test.
    finder: Option<Finder<'static>>,
    /// Block decoding buffers.
    buf: Vec<u8>,
    ts: Vec<i64>,
}

impl<'p> Worker<'p> {
    fn new(plan: &'p Plan<'p>) -> Result<Self, MetricError> {
        let pipeline = Pipeline::new(&plan.stages)?;
        let post = if plan.post_stages.is_empty() { None } else { Some(Pipeline::new(&plan.post_stages)?) };
        let leading = pipeline.leading_filter().cloned();
        let lit = leading.as_ref().and_then(LineFilter::literal);
        let finder = lit.as_ref().map(|l| Finder::new(l.needle).into_owned());
        let literal = lit.map(|l| l.negated);
        let plain = pipeline.only_line_filters() && post.is_none() && !matches!(plan.value, Value::Unwrap { .. });
        let exec = Exec { plan, pipeline, post, leading, literal, plain };
        Ok(Self { exec, finder, buf: Vec::new(), ts: Vec::new() })
    }

    /// Returns each unit's output by unit index.
    fn run(mut self, job: &Job<'_>) -> Vec<(usize, Result<UnitOut, MetricError>)> {
        let mut done = Vec::new();
        loop {
            let u = job.next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = job.units.get(u) else { break };
            if job.failed.load(Ordering::Relaxed) {
                break;
            }
            let res = self.unit(job, unit);
            if res.is_err() {
                job.failed.store(true, Ordering::Relaxed);
            }
            done.push((u, res));
        }
        done
    }

    fn unit(&mut self, job: &Job<'_>, unit: &Unit) -> Result<UnitOut, MetricError> {
        let Some(stream) = job.streams.get(unit.stream) else { return Ok(UnitOut::default()) };
        let plan = self.exec.plan;
        let mut sink = Sink::new(plan, stream.labels(), job.seed);
        let (from, through) = plan.range;
        match (plan.blocks, plan.windows) {
            (true, Some(windows)) => {
                let Self { exec, buf, ts, .. } = self;
                let mut v = CountBlocks { exec, sink: &mut sink, windows, buf, ts };
                job.engine.scan_blocks(stream, unit.groups.clone(), plan.range, &mut v)?;
            }
            _ => {
                let Self { exec, finder, .. } = self;
                let range = (from, through, Direction::Forward);
                job.engine.scan_entries(stream, unit.groups.clone(), range, finder.as_ref(), &mut |e, contains| {
                    exec.line(&mut sink, e, contains);
                    ControlFlow::Continue(())
                })?;
            }
        }
        Ok(UnitOut { series: sink.series })
    }
}

/// Blocks counted from their metas, for tests.
#[cfg(test)]
pub(crate) static BLOCKS_COUNTED: AtomicUsize = AtomicUsize::new(0);

/// Counting lines block by block, for a count without stages.
struct CountBlocks<'a, 'p> {
    exec: &'a mut Exec<'p>,
    sink: &'a mut Sink<'p>,
    windows: Windows,
    buf: &'a mut Vec<u8>,
    ts: &'a mut Vec<i64>,
}

impl BlockVisitor for CountBlocks<'_, '_> {
    fn by_blocks(&mut self, may_have_metadata: bool) -> bool {
        // Metadata is part of the series labels (and `__error__` in it an
        // error): such chunks go line by line.
        !may_have_metadata
    }

    fn block(&mut self, b: &StreamBlock<'_>) -> crate::error::Result<()> {
        let idx = self.sink.base();
        if b.in_range() && self.windows.uniform(b.mint(), b.maxt()) {
            #[cfg(test)]
            BLOCKS_COUNTED.fetch_add(1, Ordering::Relaxed);
            self.sink.add(idx, b.mint(), b.num_entries() as f64);
            return Ok(());
        }
        self.ts.clear();
        // Entries after the block's last cut all fall in the windows of its
        // last entry: only those before it need their timestamps.
        let last_cut = if b.in_range() { self.windows.last_cut_below(b.maxt()) } else { None };
        let tail = match last_cut {
            Some(stop) => {
                let read = b.timestamps_until(stop, self.buf, self.ts)?;
                b.num_entries().saturating_sub(read)
            }
            None => {
                b.timestamps(self.buf, self.ts)?;
                0
            }
        };
        for &t in self.ts.iter() {
            self.sink.add(idx, t, 1.0);
        }
        if tail > 0 {
            self.sink.add(idx, b.maxt(), tail as f64);
        }
        Ok(())
    }

    fn entry(&mut self, e: EntryView<'_>) {
        self.exec.line(self.sink, e, true);
    }
}

/// Calls `f` for the labels `by`/`without` keeps, in name order.
fn push_reduced(builder: &mut LabelsBuilder, reduce: &Reduce, mut f: impl FnMut(&str, &str)) {
    if reduce.without {
        builder.for_each_sorted(|n, v| {
            if reduce.keeps(n) {
                f(n, v);
            }
        });
    } else {
        for g in &reduce.groups {
            if g == ERROR_LABEL || g == ERROR_DETAILS_LABEL {
                continue; // no error here: the line would keep all labels
            }
            if let Some(v) = builder.get(g) {
                f(g, v);
            }
        }
    }
}
