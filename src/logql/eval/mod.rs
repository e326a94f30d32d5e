//! Evaluating LogQL over an [`Engine`](crate::engine::Engine).
//!
//! | file | what |
//! |---|---|
//! | `pipeline.rs` | [`Pipeline`]: stages compiled once (Loki's stage order), run per line |
//! | `log_query.rs` | [`query_logs`]: a log query's streams and entries, Loki's limit and ordering |
//! | `metric/` | [`metric::query_metric`]: metric queries, instant and range |
//! | `units.rs` | work units (runs of a stream's chunk groups) and scoped worker threads, shared by both |

mod log_query;
pub mod metric;
mod pipeline;
mod units;

pub use log_query::{LogEvaluator, LogQueryResult, LogStream, query_logs, select_logs};
pub use pipeline::Pipeline;

use crate::logql::ParseError;
use crate::logql::log::StageError;
use crate::logql::template::TemplateError;

/// A query could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The query does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A pipeline stage could not be built (bad regex, pattern, ...).
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A template does not parse.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The query is a metric query where a log query was expected, or the other way round.
    #[error("{0}")]
    Unsupported(String),
    /// Reading the data failed.
    #[error(transparent)]
    Storage(#[from] Box<crate::Error>),
}

impl From<crate::Error> for EvalError {
    fn from(e: crate::Error) -> Self {
        Self::Storage(Box::new(e))
    }
}
