//! The step grid and the tree evaluator: every node of a metric query
//! evaluates to one vector per step ([`StepVectors`]), children first.
//!
//! Label sets are shared ([`Metric`] is an `Arc`), so a series' labels are
//! built once and only reference-counted at each step.

use std::sync::Arc;
use std::time::Duration;

use super::MetricError;
use crate::engine::Engine;
use crate::labels::Label;
use crate::logql::ast::{SampleExpr, VectorOp};
use crate::tenant::TenantId;

/// A series' label set, sorted by name (empty values possible).
pub(crate) type Metric = Arc<[Label]>;

/// One sample of a step's vector.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub metric: Metric,
    pub value: f64,
}

/// One vector per step, in step order.
pub(crate) type StepVectors = Vec<Vec<Point>>;

/// The evaluation times: `start, start + step, …, <= end` (ns).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    /// The step in ns; 1 for an instant query (Loki's "at least one step").
    pub step: i64,
    pub instant: bool,
}

impl Grid {
    pub fn new(start: i64, end: i64, step: Duration) -> Self {
        let step_ns = i64::try_from(step.as_nanos()).unwrap_or(i64::MAX);
        if step_ns == 0 {
            Self { start, end: start, step: 1, instant: true }
        } else {
            Self { start, end, step: step_ns, instant: false }
        }
    }

    /// Number of evaluations.
    pub fn len(&self) -> usize {
        if self.end < self.start {
            return 0;
        }
        usize::try_from(self.end.saturating_sub(self.start) / self.step + 1).unwrap_or(0)
    }

    /// The evaluation times in ns.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        let (start, step) = (self.start, self.step);
        (0..self.len()).map(move |i| start.saturating_add(step.saturating_mul(i as i64)))
    }
}

/// What every node evaluation needs.
pub(crate) struct Ctx<'a> {
    pub engine: &'a Engine,
    pub tenant: &'a TenantId,
    pub grid: Grid,
    /// Worker threads for extraction (0: every core).
    pub threads: usize,
    /// Whether counts without stages may be read from block metas (off
    /// only to compare against the line-by-line path in tests).
    pub use_blocks: bool,
}

/// Evaluates `expr` at every step of the grid.
pub(crate) fn eval(ctx: &Ctx<'_>, expr: &SampleExpr) -> Result<StepVectors, MetricError> {
    match expr {
        SampleExpr::RangeAggregation(r) => super::range_agg::eval(ctx, r, None),
        SampleExpr::VectorAggregation(v) => {
            // Loki pushes a `sum`'s grouping down into the extraction of a
            // directly nested range aggregation that has none.
            let inner = match &*v.expr {
                SampleExpr::RangeAggregation(r) if v.op == VectorOp::Sum && can_inject(r) => {
                    super::range_agg::eval(ctx, r, Some(&v.grouping))?
                }
                other => eval(ctx, other)?,
            };
            Ok(super::vector_agg::eval(v, inner))
        }
        SampleExpr::BinaryOp(b) => super::binop::eval(ctx, b),
        SampleExpr::LabelReplace(l) => super::binop::label_replace(l, eval(ctx, &l.expr)?),
        SampleExpr::Literal(v) | SampleExpr::Vector(v) => {
            let empty: Metric = Arc::from(Vec::new());
            Ok((0..ctx.grid.len()).map(|_| vec![Point { metric: empty.clone(), value: *v }]).collect())
        }
    }
}

/// Whether a parent `sum`'s grouping may replace the (absent) grouping of
/// range aggregation `r` at extraction.
fn can_inject(r: &crate::logql::ast::RangeAggregation) -> bool {
    use crate::logql::ast::RangeOp::*;
    r.grouping.is_none() && matches!(r.op, BytesOverTime | BytesRate | SumOverTime | Rate | CountOverTime)
}
