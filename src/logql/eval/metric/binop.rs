//! Binary operators (Loki's `BinOpStepEvaluator`, `MergeBinOp`) and
//! `label_replace`.
//!
//! * vector ⊕ literal: applied per sample, labels kept; a comparison
//!   without `bool` keeps the sample (with the vector's value) or drops it.
//! * vector ⊕ vector: samples paired by signature (all labels, `on(…)`
//!   labels, or all but `ignoring(…)`); one-to-one, or many-to-one /
//!   one-to-many with `group_left` / `group_right`, with Loki's errors.
//! * `and`, `or`, `unless`: signature sets.
//!
//! Division and modulo by zero are NaN.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::MetricError;
use super::labels;
use super::steps::{Ctx, Metric, Point, StepVectors, eval as eval_node};
use crate::labels::Label;
use crate::logql::ast::{BinaryOp, BinaryOpExpr, Cardinality, LabelReplace, SampleExpr, VectorMatching};

/// Evaluates `b` at every step.
pub(crate) fn eval(ctx: &Ctx<'_>, b: &BinaryOpExpr) -> Result<StepVectors, MetricError> {
    let filter = !b.return_bool;
    if let SampleExpr::Literal(l) = &*b.lhs {
        let rhs = eval_node(ctx, &b.rhs)?;
        return Ok(rhs.into_iter().map(|v| with_literal(b.op, *l, v, true, filter)).collect());
    }
    if let SampleExpr::Literal(r) = &*b.rhs {
        let lhs = eval_node(ctx, &b.lhs)?;
        return Ok(lhs.into_iter().map(|v| with_literal(b.op, *r, v, false, filter)).collect());
    }
    let lhs = eval_node(ctx, &b.lhs)?;
    let rhs = eval_node(ctx, &b.rhs)?;
    let mut sigs = SigCache::default();
    let mut out = Vec::with_capacity(lhs.len());
    for (l, r) in lhs.into_iter().zip(rhs) {
        let ls: Vec<Metric> = l.iter().map(|p| sigs.get(&p.metric, &b.matching)).collect();
        let rs: Vec<Metric> = r.iter().map(|p| sigs.get(&p.metric, &b.matching)).collect();
        out.push(match b.op {
            BinaryOp::And => set_and(l, r, &ls, &rs),
            BinaryOp::Or => set_or(l, r, &ls, &rs),
            BinaryOp::Unless => set_unless(l, r, &ls, &rs),
            op => vector_binop(op, b, l, r, ls, rs)?,
        });
    }
    Ok(out)
}

/// Matching signatures, computed once per label set.
#[derive(Default)]
struct SigCache {
    map: HashMap<Metric, Metric>,
}

impl SigCache {
    fn get(&mut self, m: &Metric, vm: &VectorMatching) -> Metric {
        if !vm.on && vm.labels.is_empty() {
            return m.clone();
        }
        self.map
            .entry(m.clone())
            .or_insert_with(|| {
                Arc::from(if vm.on { labels::keep(m, &vm.labels) } else { labels::without(m, &vm.labels) })
            })
            .clone()
    }
}

/// `op` on two values; `None` when a comparison is false and filters.
fn merge(op: BinaryOp, l: f64, r: f64, filter: bool) -> Option<f64> {
    let v = op.apply(l, r)?;
    if op.is_comparison() && filter && v == 0.0 {
        return None;
    }
    Some(v)
}

/// Vector ⊕ literal; `literal_left` when the literal is the left operand.
fn with_literal(op: BinaryOp, lit: f64, vec: Vec<Point>, literal_left: bool, filter: bool) -> Vec<Point> {
    let mut out = Vec::with_capacity(vec.len());
    for p in vec {
        let (l, r) = if literal_left { (lit, p.value) } else { (p.value, lit) };
        if let Some(v) = merge(op, l, r, filter) {
            // A filtering comparison keeps the vector's own value.
            let value = if op.is_comparison() && filter { p.value } else { v };
            out.push(Point { metric: p.metric, value });
        }
    }
    out
}

fn set_and(l: Vec<Point>, r: Vec<Point>, ls: &[Metric], rs: &[Metric]) -> Vec<Point> {
    if l.is_empty() || r.is_empty() {
        return Vec::new();
    }
    let right: HashSet<&Metric> = rs.iter().collect();
    l.into_iter().zip(ls).filter(|(_, s)| right.contains(s)).map(|(p, _)| p).collect()
}

fn set_or(l: Vec<Point>, r: Vec<Point>, ls: &[Metric], rs: &[Metric]) -> Vec<Point> {
    if l.is_empty() {
        return r;
    }
    if r.is_empty() {
        return l;
    }
    let left: HashSet<&Metric> = ls.iter().collect();
    let extra: Vec<Point> = r.into_iter().zip(rs).filter(|(_, s)| !left.contains(s)).map(|(p, _)| p).collect();
    let mut out = l;
    out.extend(extra);
    out
}

fn set_unless(l: Vec<Point>, r: Vec<Point>, ls: &[Metric], rs: &[Metric]) -> Vec<Point> {
    if l.is_empty() || r.is_empty() {
        return l;
    }
    let right: HashSet<&Metric> = rs.iter().collect();
    l.into_iter().zip(ls).filter(|(_, s)| !right.contains(s)).map(|(p, _)| p).collect()
}

/// The result labels of a matched pair (Loki's `resultMetric`): the
/// "many" side's labels (reduced to the `on` labels / without the
/// `ignoring` labels for one-to-one), plus `group_*` labels copied from
/// the "one" side.
fn result_metric(many: &[Label], one: &[Label], vm: &VectorMatching) -> Vec<Label> {
    let mut out = if vm.card == Cardinality::OneToOne {
        if vm.on { labels::keep(many, &vm.labels) } else { labels::without(many, &vm.labels) }
    } else {
        many.to_vec()
    };
    for name in &vm.include {
        let v = labels::get(one, name).unwrap_or_default();
        labels::set(&mut out, name, v);
    }
    out
}

fn vector_binop(
    op: BinaryOp,
    b: &BinaryOpExpr,
    l: Vec<Point>,
    r: Vec<Point>,
    ls: Vec<Metric>,
    rs: Vec<Metric>,
) -> Result<Vec<Point>, MetricError> {
    let vm = &b.matching;
    let one_to_many = vm.card == Cardinality::OneToMany;
    // The "many" side is iterated, the "one" side indexed.
    let (many, one, many_sigs, one_sigs) = if one_to_many { (r, l, rs, ls) } else { (l, r, ls, rs) };
    let mut index: HashMap<&Metric, usize> = HashMap::with_capacity(one.len());
    for (i, s) in one_sigs.iter().enumerate() {
        if index.insert(s, i).is_some() {
            let side = if one_to_many { "left" } else { "right" };
            return Err(MetricError::Matching(format!(
                "found duplicate series on the {side} hand-side;many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let mut matched: HashMap<&Metric, HashSet<Vec<Label>>> = HashMap::new();
    let mut out = Vec::new();
    for (p, sig) in many.iter().zip(&many_sigs) {
        let Some(o) = index.get(sig).and_then(|&i| one.get(i)) else { continue };
        let metric = result_metric(&p.metric, &o.metric, vm);
        if vm.card == Cardinality::OneToOne {
            if matched.contains_key(sig) {
                return Err(MetricError::Matching(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            matched.insert(sig, HashSet::new());
        } else if !matched.entry(sig).or_default().insert(metric.clone()) {
            return Err(MetricError::Matching(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        // Operands in written order.
        let (lv, rv) = if one_to_many { (o.value, p.value) } else { (p.value, o.value) };
        let filter = !b.return_bool;
        if let Some(v) = merge(op, lv, rv, filter) {
            let value = if op.is_comparison() && filter { lv } else { v };
            out.push(Point { metric: Arc::from(metric), value });
        }
    }
    Ok(out)
}

/// `label_replace(v, dst, replacement, src, regex)` at every step.
pub(crate) fn label_replace(lr: &LabelReplace, input: StepVectors) -> Result<StepVectors, MetricError> {
    let re = regex::Regex::new(&format!("^(?:{})$", lr.regex)).map_err(|e| {
        MetricError::Eval(crate::logql::eval::EvalError::Stage(crate::logql::log::StageError::Regex {
            message: e.to_string(),
        }))
    })?;
    let mut cache: HashMap<Metric, Metric> = HashMap::new();
    let mut expanded = String::new();
    Ok(input
        .into_iter()
        .map(|vec| {
            vec.into_iter()
                .map(|p| {
                    let metric = cache
                        .entry(p.metric.clone())
                        .or_insert_with(|| {
                            let src = labels::get(&p.metric, &lr.src).unwrap_or_default();
                            let Some(caps) = re.captures(src) else { return p.metric.clone() };
                            expanded.clear();
                            caps.expand(&lr.replacement, &mut expanded);
                            let mut m = p.metric.to_vec();
                            labels::set(&mut m, &lr.dst, &expanded);
                            Arc::from(m)
                        })
                        .clone();
                    Point { metric, value: p.value }
                })
                .collect()
        })
        .collect())
}
