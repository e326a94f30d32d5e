//! Range aggregations (Loki's `range_vector.go`): for every step `t`, the
//! samples of each series in the window `(t - offset - range, t - offset]`
//! reduce to one value. Windows slide with two indices per series, so the
//! samples are read once for all steps; a series without samples in a
//! window gives no point at that step.

use std::cmp::Ordering;
use std::sync::Arc;

use super::MetricError;
use super::extract::extract;
use super::labels;
use super::steps::{Ctx, Metric, Point, StepVectors};
use crate::labels::Label;
use crate::logql::ast::{Grouping, MatchOp, RangeAggregation, RangeOp};
use crate::logql::log::{ERROR_LABEL, PRESERVE_ERROR_LABEL};

/// Evaluates range aggregation `r` at every step; `injected` is a parent
/// `sum`'s grouping pushed down to extraction.
pub(crate) fn eval(
    ctx: &Ctx<'_>,
    r: &RangeAggregation,
    injected: Option<&Grouping>,
) -> Result<StepVectors, MetricError> {
    let grouping = r.grouping.as_ref().or(injected);
    let series = extract(ctx, r, grouping)?;
    let range = i64::try_from(r.range.range.as_nanos()).unwrap_or(i64::MAX);
    let offset = r.range.offset.as_nanos();
    let n = ctx.grid.len();
    let mut out: StepVectors = vec![Vec::new(); n];
    let absent = r.op == RangeOp::AbsentOverTime;
    let mut present = vec![false; if absent { n } else { 0 }];
    // The earliest step at which an errored series has samples.
    let mut failure: Option<(usize, &Metric)> = None;
    let mut scratch = Vec::new();
    for sd in &series {
        let errored = is_error(&sd.metric);
        let (mut lo, mut hi) = (0usize, 0usize);
        for (i, t) in ctx.grid.times().enumerate() {
            let end = t.saturating_sub(offset);
            let start = end.saturating_sub(range);
            while sd.ts.get(hi).is_some_and(|&ts| ts <= end) {
                hi += 1;
            }
            while lo < hi && sd.ts.get(lo).is_some_and(|&ts| ts <= start) {
                lo += 1;
            }
            if lo >= hi {
                continue;
            }
            if errored {
                if failure.is_none_or(|(s, _)| i < s) {
                    failure = Some((i, &sd.metric));
                }
                break;
            }
            if absent {
                if let Some(p) = present.get_mut(i) {
                    *p = true;
                }
                continue;
            }
            let (ts, vs) = (sd.ts.get(lo..hi).unwrap_or_default(), sd.values.get(lo..hi).unwrap_or_default());
            let value = aggregate(r, ts, vs, end, range, &mut scratch);
            if let Some(v) = out.get_mut(i) {
                v.push(Point { metric: sd.metric.clone(), value });
            }
        }
    }
    if let Some((_, m)) = failure {
        return Err(MetricError::Pipeline {
            error_type: labels::get(m, ERROR_LABEL).unwrap_or_default().to_owned(),
            series: labels::to_string(m),
        });
    }
    if absent {
        let metric: Metric = Arc::from(absent_labels(r));
        for (v, p) in out.iter_mut().zip(present) {
            if !p {
                v.push(Point { metric: metric.clone(), value: 1.0 });
            }
        }
    }
    Ok(out)
}

/// Errors are not allowed in metric results unless preserved.
fn is_error(m: &[Label]) -> bool {
    labels::get(m, ERROR_LABEL).is_some() && labels::get(m, PRESERVE_ERROR_LABEL) != Some("true")
}

/// `absent_over_time`'s labels: the selector's `=` matchers, except names
/// that appear with another matcher or twice.
fn absent_labels(r: &RangeAggregation) -> Vec<Label> {
    let mut set: Vec<Label> = Vec::new();
    let mut drop: Vec<String> = Vec::new();
    for m in &r.range.selector.matchers {
        if m.name() == "__name__" {
            continue;
        }
        if m.op() == MatchOp::Equal && labels::get(&set, m.name()).is_none() {
            labels::set(&mut set, m.name(), m.value());
            // An empty value deletes the label, as Prometheus' builder does.
        } else {
            drop.push(m.name().to_owned());
        }
    }
    labels::without(&set, &drop)
}

/// One window's value. `ts`/`vs` are non-empty and in time order; `end`
/// is the window's upper bound (ns).
fn aggregate(r: &RangeAggregation, ts: &[i64], vs: &[f64], end: i64, range: i64, scratch: &mut Vec<f64>) -> f64 {
    let secs = range as f64 / 1e9;
    if super::extract::sums_weights(r) {
        // Samples are integer weights (see `extract.rs`): their sum is the
        // line count (or byte total) of the window, exactly.
        let total = sum(vs);
        return match r.op {
            RangeOp::Rate | RangeOp::BytesRate => total / secs,
            _ => total,
        };
    }
    let n = vs.len() as f64;
    match r.op {
        RangeOp::CountOverTime | RangeOp::AbsentOverTime => n,
        RangeOp::Rate if r.range.unwrap.is_none() => n / secs,
        RangeOp::Rate | RangeOp::BytesRate => sum(vs) / secs,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(vs),
        RangeOp::AvgOverTime => avg(vs),
        RangeOp::MaxOverTime => extreme(vs, |v, m| v > m),
        RangeOp::MinOverTime => extreme(vs, |v, m| v < m),
        RangeOp::StdvarOverTime => variance(vs),
        RangeOp::StddevOverTime => variance(vs).sqrt(),
        RangeOp::QuantileOverTime => quantile(r.param.unwrap_or(f64::NAN), vs, scratch),
        RangeOp::FirstOverTime => vs.first().copied().unwrap_or(f64::NAN),
        RangeOp::LastOverTime => vs.last().copied().unwrap_or(f64::NAN),
        RangeOp::RateCounter => counter_rate(ts, vs, end, range),
    }
}

fn sum(vs: &[f64]) -> f64 {
    vs.iter().fold(0.0, |a, v| a + v)
}

/// Incremental mean; an infinite mean is kept against finite values and
/// the same infinity.
fn avg(vs: &[f64]) -> f64 {
    let (mut mean, mut count) = (0.0f64, 0.0f64);
    for &v in vs {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        mean += v / count - mean / count;
    }
    mean
}

/// Min or max; a NaN current value is replaced by the next sample.
fn extreme(vs: &[f64], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut m = vs.first().copied().unwrap_or(f64::NAN);
    for &v in vs {
        if better(v, m) || m.is_nan() {
            m = v;
        }
    }
    m
}

/// Population variance (Welford).
fn variance(vs: &[f64]) -> f64 {
    let (mut aux, mut count, mut mean) = (0.0f64, 0.0f64, 0.0f64);
    for &v in vs {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// NaN sorts before every number (Loki's heap `Less`).
pub(crate) fn nan_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The `q`-quantile with linear interpolation between closest ranks.
pub(crate) fn quantile(q: f64, vs: &[f64], scratch: &mut Vec<f64>) -> f64 {
    if vs.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    scratch.clear();
    scratch.extend_from_slice(vs);
    let n = scratch.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    // The two ranks by selection rather than a sort: linear per window.
    // Zeros of both signs order -0 first, so the choice is deterministic.
    let order = |a: &f64, b: &f64| nan_first(*a, *b).then_with(|| b.is_sign_negative().cmp(&a.is_sign_negative()));
    let (lo, hi) = (lower as usize, upper as usize);
    if lo >= scratch.len() {
        return f64::NAN;
    }
    let (_, &mut lo_v, rest) = scratch.select_nth_unstable_by(lo, order);
    let hi_v = if hi > lo { rest.iter().copied().min_by(order).unwrap_or(f64::NAN) } else { lo_v };
    lo_v * (1.0 - weight) + hi_v * weight
}

/// Prometheus' extrapolated counter rate over the window `(end - range,
/// end]`, timestamps in ns; fewer than two samples give 0.
fn counter_rate(ts: &[i64], vs: &[f64], end: i64, range: i64) -> f64 {
    let (Some(&first_t), Some(&last_t), Some(&first_v), Some(&last_v)) = (ts.first(), ts.last(), vs.first(), vs.last())
    else {
        return 0.0;
    };
    if vs.len() < 2 {
        return 0.0;
    }
    let start = end - range;
    let mut result = last_v - first_v;
    let mut prev = 0.0;
    for &v in vs {
        if v < prev {
            result += prev;
        }
        prev = v;
    }
    let mut to_start = (first_t - start) as f64 / 1e9;
    let mut to_end = (end - last_t) as f64 / 1e9;
    let sampled = (last_t - first_t) as f64 / 1e9;
    let avg_gap = sampled / (vs.len() - 1) as f64;
    let threshold = avg_gap * 1.1;
    if to_start >= threshold {
        to_start = avg_gap / 2.0;
    }
    let mut to_zero = to_start;
    if result > 0.0 && first_v >= 0.0 {
        to_zero = sampled * (first_v / result);
    }
    if to_zero < to_start {
        to_start = to_zero;
    }
    if to_end >= threshold {
        to_end = avg_gap / 2.0;
    }
    let extrapolated = sampled + to_start + to_end;
    result *= extrapolated / sampled;
    result / (range as f64 / 1e9)
}
