//! Vector aggregations (Loki's `VectorAggEvaluator`), per step: samples
//! are grouped by their `by` labels (or all labels but the `without`
//! ones) and reduced; `topk`/`bottomk`/`sort`/`sort_desc` keep the chosen
//! samples with their full labels, selected with the same binary heap Go's
//! `container/heap` builds so ties resolve as in Loki.

use std::collections::HashMap;
use std::sync::Arc;

use super::labels;
use super::steps::{Metric, Point, StepVectors};
use crate::logql::ast::{VectorAggregation, VectorOp};

/// One group's running state.
struct Group {
    metric: Metric,
    value: f64,
    mean: f64,
    count: f64,
    /// `topk`, `bottomk`, `sort`, `sort_desc`.
    heap: Vec<Point>,
}

/// The group labels of an input label set.
fn group_metric(v: &VectorAggregation, m: &Metric) -> Metric {
    let g = &v.grouping;
    if g.without {
        let mut names = g.labels.clone();
        names.push("__name__".to_owned());
        Arc::from(labels::without(m, &names))
    } else {
        Arc::from(labels::keep(m, &g.labels))
    }
}

/// Evaluates aggregation `v` over its input's vectors.
pub(crate) fn eval(v: &VectorAggregation, input: StepVectors) -> StepVectors {
    // Input label sets repeat across steps: map each once.
    let mut cache: HashMap<Metric, Metric> = HashMap::new();
    input.into_iter().map(|vec| step(v, vec, &mut cache)).collect()
}

/// Whether heap element `i` is "less" than `j`: Loki's value heaps, where
/// a NaN is always less. `reverse == false` keeps the smallest value on
/// top (`topk`, `sort_desc`); `true` keeps the largest (`bottomk`, `sort`).
fn less(h: &[Point], i: usize, j: usize, reverse: bool) -> bool {
    let (Some(a), Some(b)) = (h.get(i), h.get(j)) else { return false };
    if a.value.is_nan() {
        return true;
    }
    if reverse { a.value > b.value } else { a.value < b.value }
}

fn up(h: &mut [Point], mut j: usize, rev: bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h, j, i, rev) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn down(h: &mut [Point], i0: usize, n: usize, rev: bool) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(h, j2, j1, rev) {
            j = j2;
        }
        if !less(h, j, i, rev) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

fn push(h: &mut Vec<Point>, p: Point, rev: bool) {
    h.push(p);
    let last = h.len() - 1;
    up(h, last, rev);
}

fn pop(h: &mut Vec<Point>, rev: bool) {
    let n = h.len();
    if n == 0 {
        return;
    }
    h.swap(0, n - 1);
    down(h, 0, n - 1, rev);
    h.pop();
}

fn step(v: &VectorAggregation, vec: Vec<Point>, cache: &mut HashMap<Metric, Metric>) -> Vec<Point> {
    let k = usize::try_from(v.param.unwrap_or(0)).unwrap_or(0);
    let reverse = matches!(v.op, VectorOp::Bottomk | VectorOp::Sort);
    if matches!(v.op, VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk) && k < 1 {
        return Vec::new();
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Metric, usize> = HashMap::new();
    for p in vec {
        let gm = cache.entry(p.metric.clone()).or_insert_with(|| group_metric(v, &p.metric)).clone();
        let Some(&gi) = index.get(&gm) else {
            let mut g = Group { metric: gm.clone(), value: p.value, mean: p.value, count: 1.0, heap: Vec::new() };
            match v.op {
                VectorOp::Stddev | VectorOp::Stdvar => g.value = 0.0,
                VectorOp::Topk | VectorOp::ApproxTopk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => {
                    push(&mut g.heap, p, reverse);
                }
                _ => {}
            }
            index.insert(gm, groups.len());
            groups.push(g);
            continue;
        };
        let Some(g) = groups.get_mut(gi) else { continue };
        let s = p.value;
        match v.op {
            VectorOp::Sum => g.value += s,
            VectorOp::Avg => {
                g.count += 1.0;
                if g.mean.is_infinite() {
                    if s.is_infinite() && (g.mean > 0.0) == (s > 0.0) {
                        continue;
                    }
                    if !s.is_infinite() && !s.is_nan() {
                        continue;
                    }
                }
                g.mean += (s - g.mean) / g.count;
            }
            VectorOp::Max => {
                if g.value < s || g.value.is_nan() {
                    g.value = s;
                }
            }
            VectorOp::Min => {
                if g.value > s || g.value.is_nan() {
                    g.value = s;
                }
            }
            VectorOp::Count => g.count += 1.0,
            VectorOp::Stddev | VectorOp::Stdvar => {
                g.count += 1.0;
                let delta = s - g.mean;
                g.mean += delta / g.count;
                g.value += delta * (s - g.mean);
            }
            VectorOp::Topk | VectorOp::ApproxTopk | VectorOp::Bottomk => {
                let top = g.heap.first().map_or(f64::NAN, |t| t.value);
                let better = if reverse { top > s } else { top < s };
                if g.heap.len() < k || better || top.is_nan() {
                    if g.heap.len() == k {
                        pop(&mut g.heap, reverse);
                    }
                    push(&mut g.heap, p, reverse);
                }
            }
            VectorOp::Sort | VectorOp::SortDesc => push(&mut g.heap, p, reverse),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = match v.op {
            VectorOp::Avg => g.mean,
            VectorOp::Count => g.count,
            VectorOp::Stddev => (g.value / g.count).sqrt(),
            VectorOp::Stdvar => g.value / g.count,
            VectorOp::Topk | VectorOp::ApproxTopk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => {
                // Reverse heap order: largest first for topk / sort_desc,
                // smallest first for bottomk / sort; NaN last either way.
                let mut items = std::mem::take(&mut g.heap);
                items.sort_by(|a, b| {
                    let key = |x: f64| if reverse { -x } else { x };
                    match (a.value.is_nan(), b.value.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => key(b.value).partial_cmp(&key(a.value)).unwrap_or(std::cmp::Ordering::Equal),
                    }
                });
                out.extend(items);
                continue;
            }
            VectorOp::Sum | VectorOp::Max | VectorOp::Min => g.value,
        };
        out.push(Point { metric: g.metric, value });
    }
    out
}
