//! Log queries: the selected streams' entries through the pipeline,
//! grouped into output streams by their final labels, limited and ordered
//! as Loki does (`../shared/spec/logql.md` §3.1).
//!
//! The limit counts lines over all output streams: the first `limit`
//! entries in query direction win. Each input stream is read in direction
//! order and stops once it has produced `limit` lines, since no later line
//! of it can be among the first `limit` overall.

use std::collections::HashMap;
use std::ops::ControlFlow;

use bytes::Bytes;

use super::{EvalError, Pipeline};
use crate::chunk::Direction;
use crate::engine::Engine;
use crate::labels::Label;
use crate::logql::ast::{Expr, LogSelector};
use crate::logql::log::LabelsBuilder;
use crate::tenant::TenantId;

/// One output stream: its labels (stream, structured metadata and parsed
/// labels together) and entries in query direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    /// The final label set, sorted by name. Unlike a stream's [`Labels`],
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
/// through)` (ns).
pub fn query_logs(
    engine: &Engine,
    tenant: &TenantId,
    query: &str,
    from: i64,
    through: i64,
    direction: Direction,
    limit: usize,
) -> Result<LogQueryResult, EvalError> {
    match crate::logql::parse_expr(query)? {
        Expr::Log(sel) => select_logs(engine, tenant, &sel, from, through, direction, limit),
        Expr::Sample(_) => Err(EvalError::Unsupported("a metric query is not a log query".into())),
    }
}

struct Out {
    labels: Vec<Label>,
    label_string: String,
    entries: Vec<(i64, Bytes)>,
}

/// Runs a parsed log selector with its pipeline. `limit` 0 means no limit.
pub fn select_logs(
    engine: &Engine,
    tenant: &TenantId,
    sel: &LogSelector,
    from: i64,
    through: i64,
    direction: Direction,
    limit: usize,
) -> Result<LogQueryResult, EvalError> {
    let mut pipeline = Pipeline::new(&sel.stages)?;
    let streams = engine.select(tenant, &sel.matchers, from, through)?;
    let mut outs: Vec<Out> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut result = LogQueryResult::default();
    for s in &streams {
        let mut builder = LabelsBuilder::new(s.labels());
        let mut produced = 0usize;
        engine.for_each_entry(s, from, through, direction, &mut |e| {
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
            let key = builder.label_string();
            let idx = match by_key.get(key) {
                Some(&i) => i,
                None => {
                    let key = key.to_owned();
                    let labels = builder.to_vec();
                    outs.push(Out { labels, label_string: key.clone(), entries: Vec::new() });
                    by_key.insert(key, outs.len() - 1);
                    outs.len() - 1
                }
            };
            outs[idx].entries.push((e.timestamp(), Bytes::copy_from_slice(out_line)));
            produced += 1;
            if limit > 0 && produced >= limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })?;
    }
    // Entries of one output stream may come from several input streams
    // (a parser can map different streams to equal labels): order them.
    for o in &mut outs {
        match direction {
            Direction::Forward => o.entries.sort_by_key(|e| e.0),
            Direction::Backward => o.entries.sort_by_key(|e| std::cmp::Reverse(e.0)),
        }
    }
    outs.sort_by(|a, b| a.label_string.cmp(&b.label_string));
    if limit > 0 {
        apply_limit(&mut outs, limit, direction);
    }
    result.streams = outs
        .into_iter()
        .filter(|o| !o.entries.is_empty())
        .map(|o| LogStream { labels: o.labels, label_string: o.label_string, entries: o.entries })
        .collect();
    Ok(result)
}

/// Keeps the first `limit` entries over all streams in direction order;
/// at equal timestamps, streams earlier in label order go first.
fn apply_limit(outs: &mut [Out], limit: usize, direction: Direction) {
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
