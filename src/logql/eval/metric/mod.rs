//! Metric queries: range aggregations over log samples, vector
//! aggregations, binary operators and functions, evaluated at every step
//! of an instant or range query as Loki does (`../shared/spec/logql.md` §4).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the entry points [`query_metric`] / [`eval_metric`], results, errors, assembling vectors and matrices |
//! | `steps.rs` | the step grid and the per-node evaluator (one [`StepVectors`](steps::StepVectors) per node) |
//! | `extract.rs` | reading the selected streams once and turning entries into samples (count, bytes, `unwrap`) grouped into series |
//! | `range_agg.rs` | sliding the `(t - range, t]` windows over the series: `rate`, `*_over_time`, `rate_counter`, `absent_over_time` |
//! | `vector_agg.rs` | `sum`, `avg`, `topk`, `sort`, … per step |
//! | `binop.rs` | arithmetic, comparisons, set operators, vector matching |
//! | `windows.rs` | window classes: which steps' windows a timestamp falls in, for adding up counts and counting whole blocks |
//! | `labels.rs` | label-set helpers (keep / delete names, printing) |
//! | `tests.rs` | unit tests over a small engine |
//!
//! The data of every range aggregation is read once for the whole query,
//! on every core: samples are collected per series in time order, then
//! windows slide over the steps. Counts add up lines that fall in the
//! same windows, and without pipeline stages count whole blocks from
//! their metadata (`extract.rs`).

mod binop;
mod extract;
mod labels;
mod range_agg;
mod steps;
#[cfg(test)]
mod tests;
mod vector_agg;
mod windows;

use std::time::Duration;

use super::EvalError;
use crate::engine::Engine;
use crate::labels::Label;
use crate::logql::ast::{Expr, SampleExpr};
use crate::tenant::TenantId;

/// Most steps (beyond the first) a range query may have, as Loki's HTTP
/// API allows.
pub const MAX_POINTS: i64 = 11_000;

/// Limits applied while evaluating a metric query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricLimits {
    /// Most series a result may hold (Loki's `max_query_series`, default
    /// 500); 0 means no limit.
    pub max_series: usize,
    /// Align a range query to its step as Loki's query frontend does when
    /// it splits metric queries by time (`split_queries_by_interval`, on by
    /// default): `start` rounded down, `end` rounded up to a multiple of
    /// `step`, so answers match a default Loki's HTTP API. Default true;
    /// false evaluates at `start + k·step` as Loki's bare engine does.
    pub align_to_step: bool,
    /// Worker threads reading the data: 0 (the default) for every
    /// available core, 1 to evaluate on the calling thread only. The
    /// answer is the same for any number.
    pub threads: usize,
}

impl Default for MetricLimits {
    fn default() -> Self {
        Self { max_series: 500, align_to_step: true, threads: 0 }
    }
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series labels, sorted by name (empty values possible).
    pub labels: Vec<Label>,
    /// The evaluation time in milliseconds.
    pub timestamp_ms: i64,
    /// The value.
    pub value: f64,
}

/// One series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series labels, sorted by name (empty values possible).
    pub labels: Vec<Label>,
    /// `(timestamp ms, value)` in time order; steps without a value are absent.
    pub points: Vec<(i64, f64)>,
}

/// The answer of a metric query.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricResult {
    /// An instant query's vector: sorted by labels, unless the query uses
    /// `sort` / `sort_desc` (then in their order).
    Vector(Vec<Sample>),
    /// A range query's matrix, series sorted by labels.
    Matrix(Vec<Series>),
    /// A literal evaluated as an instant query.
    Scalar {
        /// The evaluation time in milliseconds.
        timestamp_ms: i64,
        /// The value.
        value: f64,
    },
}

/// Why a metric query failed. `Display` is Loki's message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// Parsing, building the pipeline or reading failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A sample kept an `__error__` label (Loki's `PipelineError`; HTTP 400).
    #[error(
        "pipeline error: '{error_type}' for series: '{series}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{error_type}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    )]
    Pipeline {
        /// The `__error__` value.
        error_type: String,
        /// The series labels as Prometheus prints them.
        series: String,
    },
    /// The result would hold more series than allowed (HTTP 400).
    #[error(
        "maximum number of series ({limit}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
    )]
    SeriesLimit {
        /// The limit.
        limit: usize,
    },
    /// Vector matching failed (duplicate series, ambiguous matches; Loki
    /// answers HTTP 500).
    #[error("{0}")]
    Matching(String),
    /// A query Loki refuses at evaluation time (a log query as a metric
    /// query, `approx_topk` in a range query).
    #[error("{0}")]
    Unsupported(String),
}

impl MetricError {
    /// Whether Loki reports this error as the client's fault (HTTP 400)
    /// rather than a server error (500).
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Eval(EvalError::Storage(_)) | Self::Matching(_) => false,
            Self::Eval(_) | Self::Pipeline { .. } | Self::SeriesLimit { .. } | Self::Unsupported(_) => true,
        }
    }
}

impl From<crate::Error> for MetricError {
    fn from(e: crate::Error) -> Self {
        Self::Eval(EvalError::from(e))
    }
}

impl From<crate::logql::ParseError> for MetricError {
    fn from(e: crate::logql::ParseError) -> Self {
        Self::Eval(EvalError::from(e))
    }
}

/// Parses and evaluates the metric query `query` for `tenant`.
///
/// `start` and `end` are Unix nanoseconds; `step` zero makes an instant
/// query at `start` (Loki's `/query`), otherwise evaluations run at
/// `start, start + step, …` while `<= end` (Loki's `/query_range`).
///
/// # Errors
///
/// Parse errors, pipeline errors (an `__error__` label reaching a
/// sample), the series limit, vector matching errors, storage errors. A log
/// query is refused ([`MetricError::Unsupported`]).
pub fn query_metric(
    engine: &Engine,
    tenant: &TenantId,
    query: &str,
    start: i64,
    end: i64,
    step: Duration,
    limits: &MetricLimits,
) -> Result<MetricResult, MetricError> {
    match crate::logql::parse_expr(query)? {
        Expr::Sample(e) => eval_metric(engine, tenant, &e, start, end, step, limits),
        Expr::Log(_) => Err(MetricError::Unsupported(
            "log queries are not supported as an instant query type, please change your query to a range query type"
                .into(),
        )),
    }
}

/// Evaluates a parsed metric query; see [`query_metric`].
///
/// # Errors
///
/// As [`query_metric`].
pub fn eval_metric(
    engine: &Engine,
    tenant: &TenantId,
    expr: &SampleExpr,
    start: i64,
    end: i64,
    step: Duration,
    limits: &MetricLimits,
) -> Result<MetricResult, MetricError> {
    eval_with(engine, tenant, expr, (start, end, step), limits, true)
}

/// [`eval_metric`]; `use_blocks` false reads every count line by line
/// (the reference the block path is tested against).
pub(crate) fn eval_with(
    engine: &Engine,
    tenant: &TenantId,
    expr: &SampleExpr,
    (start, end, step): (i64, i64, Duration),
    limits: &MetricLimits,
    use_blocks: bool,
) -> Result<MetricResult, MetricError> {
    if !step.is_zero() {
        let step_ns = i64::try_from(step.as_nanos()).unwrap_or(i64::MAX);
        if end < start {
            return Err(MetricError::Unsupported("end timestamp must not be before or equal to start time".into()));
        }
        // Loki's HTTP layer caps a range query's resolution; so do we,
        // which also bounds the per-step buffers.
        if end.saturating_sub(start) / step_ns > MAX_POINTS {
            return Err(MetricError::Unsupported(
                "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter"
                    .into(),
            ));
        }
    }
    let (start, end) = if limits.align_to_step { align(start, end, step) } else { (start, end) };
    let grid = steps::Grid::new(start, end, step);
    let instant = grid.instant;
    // Literals and `vector()` at the top are answered without reading data.
    match expr {
        SampleExpr::Literal(v) if instant => {
            return Ok(MetricResult::Scalar { timestamp_ms: start.div_euclid(1_000_000), value: *v });
        }
        SampleExpr::Literal(v) | SampleExpr::Vector(v) if !instant => {
            let points = grid.times().map(|t| (t.div_euclid(1_000_000), *v)).collect();
            return Ok(MetricResult::Matrix(vec![Series { labels: Vec::new(), points }]));
        }
        _ => {}
    }
    if !instant && contains_approx_topk(expr) {
        return Err(MetricError::Unsupported("count min sketches are only supported on instant queries".into()));
    }
    let ctx = steps::Ctx { engine, tenant, grid, threads: limits.threads, use_blocks };
    let per_step = steps::eval(&ctx, expr)?;
    let max = limits.max_series;
    if instant {
        let vec = per_step.into_iter().next().unwrap_or_default();
        if max > 0 && vec.len() > max {
            return Err(MetricError::SeriesLimit { limit: max });
        }
        let ts = start.div_euclid(1_000_000);
        let mut out: Vec<Sample> =
            vec.into_iter().map(|p| Sample { labels: p.metric.to_vec(), timestamp_ms: ts, value: p.value }).collect();
        if !uses_sort(expr) {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        return Ok(MetricResult::Vector(out));
    }
    let mut index: std::collections::HashMap<steps::Metric, usize> = std::collections::HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for (t, vec) in grid.times().zip(per_step) {
        if max > 0 && vec.len() > max && series.is_empty() {
            return Err(MetricError::SeriesLimit { limit: max });
        }
        let ts = t.div_euclid(1_000_000);
        for p in vec {
            let i = match index.get(&p.metric) {
                Some(&i) => i,
                None => {
                    if max > 0 && series.len() >= max {
                        return Err(MetricError::SeriesLimit { limit: max });
                    }
                    series.push(Series { labels: p.metric.to_vec(), points: Vec::new() });
                    index.insert(p.metric.clone(), series.len() - 1);
                    series.len() - 1
                }
            };
            if let Some(s) = series.get_mut(i) {
                s.points.push((ts, p.value));
            }
        }
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(MetricResult::Matrix(series))
}

/// The query frontend's step alignment of a range query: start rounded
/// down, end rounded up to a multiple of the step.
fn align(start: i64, end: i64, step: Duration) -> (i64, i64) {
    let step = i64::try_from(step.as_nanos()).unwrap_or(i64::MAX);
    if step <= 0 {
        return (start, end);
    }
    let end = match end.rem_euclid(step) {
        0 => end,
        m => end.saturating_add(step - m),
    };
    (start.saturating_sub(start.rem_euclid(step)), end)
}

/// Whether `sort` / `sort_desc` appears anywhere (Loki's `Sortable`).
fn uses_sort(e: &SampleExpr) -> bool {
    use crate::logql::ast::VectorOp;
    any_node(
        e,
        &|n| matches!(n, SampleExpr::VectorAggregation(v) if matches!(v.op, VectorOp::Sort | VectorOp::SortDesc)),
    )
}

fn contains_approx_topk(e: &SampleExpr) -> bool {
    use crate::logql::ast::VectorOp;
    any_node(e, &|n| matches!(n, SampleExpr::VectorAggregation(v) if v.op == VectorOp::ApproxTopk))
}

fn any_node(e: &SampleExpr, f: &dyn Fn(&SampleExpr) -> bool) -> bool {
    if f(e) {
        return true;
    }
    match e {
        SampleExpr::VectorAggregation(v) => any_node(&v.expr, f),
        SampleExpr::BinaryOp(b) => any_node(&b.lhs, f) || any_node(&b.rhs, f),
        SampleExpr::LabelReplace(l) => any_node(&l.expr, f),
        SampleExpr::RangeAggregation(_) | SampleExpr::Literal(_) | SampleExpr::Vector(_) => false,
    }
}
