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

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::MetricError;
use super::steps::{Ctx, Metric};
use crate::chunk::Direction;
use crate::labels::Label;
use crate::logql::ast::{Conversion, Grouping, LabelFilter, RangeAggregation, RangeOp, Stage};
use crate::logql::eval::Pipeline;
use crate::logql::log::{
    ERROR_DETAILS_LABEL, ERROR_LABEL, ErrorKind, LabelsBuilder, parse_go_duration, parse_go_float, parse_humanize_bytes,
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
    let mut pipeline = Pipeline::new(&stages)?;
    let mut post = match &r.range.unwrap {
        Some(u) if !u.post_filters.is_empty() => {
            let st: Vec<Stage> = u.post_filters.iter().cloned().map(Stage::LabelFilter).collect();
            Some(Pipeline::new(&st)?)
        }
        _ => None,
    };
    let value = match (&r.range.unwrap, r.op) {
        (Some(u), _) => Value::Unwrap { label: &u.label, conversion: u.conversion },
        (None, RangeOp::BytesOverTime | RangeOp::BytesRate) => Value::Bytes,
        (None, _) => Value::Count,
    };
    let reduce = Reduce::new(r, grouping);
    let preserve = preserve_error(r, &reduce);

    let streams = ctx.engine.select(ctx.tenant, &r.range.selector.matchers, from, through)?;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<SeriesData> = Vec::new();
    let mut key = String::new();
    let empty: Metric = Arc::from(Vec::new());
    for s in &streams {
        let mut builder = LabelsBuilder::new(s.labels());
        builder.set_preserve_error(preserve);
        ctx.engine.for_each_entry(s, from, through, Direction::Forward, &mut |e| {
            let line = e.line();
            if let Some(f) = pipeline.leading_filter()
                && !f.matches(line)
            {
                return ControlFlow::Continue(());
            }
            builder.reset();
            e.for_each_metadata(|n, v| builder.set_metadata(n, v));
            let ts = e.timestamp();
            let Some(out) = pipeline.process(&mut builder, ts, line) else {
                return ControlFlow::Continue(());
            };
            let v = match &value {
                Value::Count => 1.0,
                Value::Bytes => out.len() as f64,
                Value::Unwrap { label, conversion } => {
                    let Some(raw) = builder.get(label).filter(|v| !v.is_empty()) else {
                        return ControlFlow::Continue(());
                    };
                    match convert(raw, *conversion) {
                        Ok(v) => v,
                        Err(details) => {
                            builder.set_error(ErrorKind::SampleExtraction, Some(&details));
                            0.0
                        }
                    }
                }
            };
            if let Some(p) = &mut post
                && p.process(&mut builder, ts, line).is_none()
            {
                return ControlFlow::Continue(());
            }
            let idx = series_index(&mut builder, &reduce, &mut key, &mut index, &mut series, &empty);
            if let Some(sd) = series.get_mut(idx) {
                sd.ts.push(ts);
                sd.values.push(v);
            }
            ControlFlow::Continue(())
        })?;
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

/// The index of the series the current line's (reduced) labels name,
/// created when new. Allocates only for a new series.
fn series_index(
    builder: &mut LabelsBuilder,
    reduce: &Reduce,
    key: &mut String,
    index: &mut HashMap<String, usize>,
    series: &mut Vec<SeriesData>,
    empty: &Metric,
) -> usize {
    let full = builder.has_error() || (reduce.groups.is_empty() && !reduce.no_labels);
    if !full && reduce.no_labels {
        key.clear();
    } else if full {
        let k = builder.label_string();
        if let Some(&i) = index.get(k) {
            return i;
        }
        key.clear();
        key.push_str(k);
    } else {
        key.clear();
        push_reduced(builder, reduce, |n, v| {
            key.push_str(n);
            key.push('\u{ff}');
            key.push_str(v);
            key.push('\u{ff}');
        });
    }
    if let Some(&i) = index.get(key.as_str()) {
        return i;
    }
    let metric: Metric = if !full && reduce.no_labels {
        empty.clone()
    } else if full {
        Arc::from(builder.to_vec())
    } else {
        let mut labels = Vec::new();
        push_reduced(builder, reduce, |n, v| labels.push(Label::new(n, v)));
        Arc::from(labels)
    };
    series.push(SeriesData { metric, ts: Vec::new(), values: Vec::new() });
    index.insert(key.clone(), series.len() - 1);
    series.len() - 1
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
