//! Deciding what a delete request removes (`../shared/spec/compactor.md`
//! §5.3, Loki's `deleteRequest.FilterFunction` / `GetChunkFilter`).
//!
//! * A request applies to a stream when all its matchers match the
//!   stream labels (a missing label is `""`).
//! * A line is deleted when `start <= ts <= end` (the ms bounds as ns,
//!   both inclusive) and, if the request has a filter, its pipeline run on
//!   the line and the entry's structured metadata keeps the line. Several
//!   requests are OR-ed.
//! * A chunk is deleted whole when a request without filter covers
//!   `[from, through]` (ms); otherwise a touched chunk is rewritten.

use std::sync::Arc;

use super::DeleteError;
use super::request::{NS_PER_MS, has_filter, validate_query};
use crate::index::Matcher;
use crate::labels::Labels;
use crate::logql::Stage;
use crate::logql::eval::{EvalError, Pipeline};
use crate::logql::log::LabelsBuilder;

/// One request (or shard) ready for matching.
#[derive(Debug, Clone)]
pub(crate) struct CompiledDelete {
    /// The request id.
    pub request_id: String,
    /// Start, inclusive, Unix ms.
    pub start_ms: i64,
    /// End, inclusive, Unix ms.
    pub end_ms: i64,
    matchers: Vec<Matcher>,
    stages: Vec<Stage>,
    filter: bool,
}

impl CompiledDelete {
    /// Compiles `query` (validated as when the request was added).
    pub fn new(request_id: &str, query: &str, start_ms: i64, end_ms: i64) -> Result<Self, DeleteError> {
        let sel = validate_query(query)?;
        Ok(Self {
            request_id: request_id.to_owned(),
            start_ms,
            end_ms,
            filter: has_filter(&sel.stages),
            matchers: sel.matchers,
            stages: sel.stages,
        })
    }

    /// Start, inclusive, ns.
    pub fn start_ns(&self) -> i64 {
        self.start_ms.saturating_mul(NS_PER_MS)
    }

    /// End, inclusive, ns.
    pub fn end_ns(&self) -> i64 {
        self.end_ms.saturating_mul(NS_PER_MS)
    }

    /// Whether the request applies to the stream `labels`.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }

    /// Whether `[from_ms, through_ms]` (inclusive) meets the request's range.
    pub fn overlaps_ms(&self, from_ms: i64, through_ms: i64) -> bool {
        from_ms <= self.end_ms && self.start_ms <= through_ms
    }

    /// Whether `[from, through)` (ns) meets the request's range.
    pub fn overlaps_ns(&self, from: i64, through: i64) -> bool {
        from <= self.end_ns() && self.start_ns() < through
    }

    /// Whether the request deletes the whole chunk `[from_ms, through_ms]`.
    pub fn covers_chunk(&self, from_ms: i64, through_ms: i64) -> bool {
        !self.filter && self.start_ms <= from_ms && self.end_ms >= through_ms
    }
}

struct Part {
    start_ns: i64,
    end_ns: i64,
    pipeline: Option<Pipeline>,
}

/// The requests applying to one stream, compiled for its lines. Not
/// shared between threads (pipelines keep per-line buffers).
pub(crate) struct DeleteFilter {
    parts: Vec<Part>,
    builder: LabelsBuilder,
}

impl std::fmt::Debug for DeleteFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteFilter").field("requests", &self.parts.len()).finish_non_exhaustive()
    }
}

impl DeleteFilter {
    /// A filter for the stream `labels` from requests that apply to it.
    pub fn new(requests: &[Arc<CompiledDelete>], labels: &Labels) -> Result<Self, EvalError> {
        let mut parts = Vec::with_capacity(requests.len());
        for r in requests {
            let pipeline = if r.filter { Some(Pipeline::new(&r.stages)?) } else { None };
            parts.push(Part { start_ns: r.start_ns(), end_ns: r.end_ns(), pipeline });
        }
        Ok(Self { parts, builder: LabelsBuilder::new(labels) })
    }

    /// Whether the entry `(ts, line)` is deleted; `metadata` adds the
    /// entry's structured metadata to a reset builder (called only when a
    /// pipeline must run).
    pub fn deletes(&mut self, ts: i64, line: &[u8], metadata: &mut dyn FnMut(&mut LabelsBuilder)) -> bool {
        let Self { parts, builder } = self;
        for p in parts.iter_mut() {
            if ts < p.start_ns || ts > p.end_ns {
                continue;
            }
            let Some(pipeline) = p.pipeline.as_mut() else { return true };
            builder.reset();
            metadata(builder);
            if pipeline.process(builder, ts, line).is_some() {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_are_inclusive_and_filters_or() {
        let labels: Labels = r#"{app="a", env="prod"}"#.parse().unwrap();
        let a = Arc::new(CompiledDelete::new("1", r#"{app="a"}"#, 10, 20).unwrap());
        let b = Arc::new(CompiledDelete::new("2", r#"{app="a"} |= "x" | trace="t""#, 30, 40).unwrap());
        let other = CompiledDelete::new("3", r#"{app="b"}"#, 0, 100).unwrap();
        assert!(a.matches_labels(&labels) && b.matches_labels(&labels) && !other.matches_labels(&labels));
        assert!(a.covers_chunk(10, 20) && !a.covers_chunk(9, 20) && !b.covers_chunk(30, 40));
        assert!(a.overlaps_ms(20, 25) && !a.overlaps_ms(21, 25));
        let mut f = DeleteFilter::new(&[a, b], &labels).unwrap();
        let mut none = |_: &mut LabelsBuilder| {};
        let mut trace = |b: &mut LabelsBuilder| b.set_metadata("trace", "t");
        let ms = NS_PER_MS;
        assert!(!f.deletes(10 * ms - 1, b"y", &mut none));
        assert!(f.deletes(10 * ms, b"y", &mut none));
        assert!(f.deletes(20 * ms, b"y", &mut none));
        assert!(!f.deletes(20 * ms + 1, b"y", &mut none));
        assert!(!f.deletes(35 * ms, b"x", &mut none), "label filter on metadata fails");
        assert!(f.deletes(35 * ms, b"x", &mut trace));
        assert!(!f.deletes(35 * ms, b"y", &mut trace));
    }
}
