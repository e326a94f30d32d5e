//! Delete requests (`../shared/spec/compactor.md` §5, Loki's
//! `pkg/compactor/deletion`): a tenant asks for the lines of the streams
//! matching a log selector (optionally with a pipeline of line and label
//! filters) in an inclusive millisecond range `[start, end]` to go away.
//!
//! * Queries hide matching lines at once (the engine caches the requests,
//!   see `engine/deletes.rs`).
//! * Once a request is older than the cancellation period (+1 minute),
//!   [`crate::Compactor::run_once`] (with retention enabled, as in Loki)
//!   removes the data: chunks wholly covered by a request without filter
//!   leave the index and are marked for the sweeper; other touched chunks
//!   are rewritten without the deleted lines, the new object uploaded
//!   before the index that points at it, the old one swept through the
//!   markers after the delay. Once every table is committed, the
//!   request's shards are marked `processed`.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | [`DeleteConfig`], [`DeleteError`] with Loki's messages |
//! | `request.rs` | [`DeleteRequest`], [`DeleteStatus`], validation, request ids, `max_interval` shards, Loki's JSON |
//! | `store.rs` | persistence in the object store |
//! | `filter.rs` | a request compiled for matching streams, chunks and lines |
//! | `process.rs` | the compactor's part: eligible batch, per-table rewrite, marking processed |
//!
//! Store layout: one JSON object per request,
//! `compactor/deletes/<tenant>/<request_id>.json`, holding the query, the
//! creation time and each shard's range and status. It is created with
//! `put_if_absent` (an acknowledged request is never overwritten by
//! another), replaced whole when shards are processed, deleted when the
//! request is cancelled.

use std::time::Duration;

mod filter;
mod process;
mod request;
mod store;

pub(crate) use filter::{CompiledDelete, DeleteFilter};
pub(crate) use process::Batch;
pub use request::{DeleteRequest, DeleteShard, DeleteStatus, delete_requests_json, go_json_string};
pub(crate) use request::{Record, has_filter, validate_query};
pub use store::DELETES_PREFIX;
pub(crate) use store::{DeleteStore, NewRequest};

/// Settings of delete requests (Loki's `delete_request_cancel_period`,
/// `delete_max_interval`, `delete_batch_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteConfig {
    /// How long after its creation a request may be cancelled without
    /// `force`, and how long the compactor waits (plus one minute) before
    /// processing it. Default 24h.
    pub cancel_period: Duration,
    /// Requests with a filter are split into shards of at most this
    /// length (the default `max_interval`); zero disables the split.
    /// Default 24h.
    pub max_interval: Duration,
    /// Most shards the compactor processes in one pass. Default 70.
    pub batch_size: usize,
}

impl Default for DeleteConfig {
    fn default() -> Self {
        Self {
            cancel_period: Duration::from_secs(24 * 3600),
            max_interval: Duration::from_secs(24 * 3600),
            batch_size: 70,
        }
    }
}

/// Why a delete request was refused, with Loki's messages (the delete
/// API's response bodies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeleteError {
    /// The query is empty.
    #[error("query not set")]
    QueryNotSet,
    /// The query is not a log selector expression (possibly with a
    /// pipeline), or its pipeline cannot be compiled.
    #[error("invalid query expression")]
    InvalidQuery {
        /// What the parser or compiler said.
        reason: String,
    },
    /// `start >= end`.
    #[error("start time can't be greater than or equal to end time")]
    StartNotBeforeEnd,
    /// `end` is later than now.
    #[error("deletes in the future are not allowed")]
    EndInFuture,
    /// `max_interval` is under one second.
    #[error("invalid max_interval: valid time units are 's', 'm', 'h'")]
    InvalidMaxInterval,
    /// `max_interval` is over the configured maximum.
    #[error("max_interval can't be greater than {max}")]
    MaxIntervalOverLimit {
        /// The configured maximum, as Go prints a duration.
        max: String,
    },
    /// `max_interval` is longer than the range to delete.
    #[error("max_interval can't be greater than the interval to be deleted ({range})")]
    MaxIntervalOverRange {
        /// `end - start`, as Go prints a duration.
        range: String,
    },
    /// No request of the tenant has this id.
    #[error("could not find delete request with given id")]
    NotFound,
    /// Every shard of the request was processed.
    #[error("deletion of request which is in process or already processed is not allowed")]
    AlreadyProcessed,
    /// The request is partly processed or older than the cancellation
    /// period, and `force` was not given.
    #[error(
        "Cancellation of partially completed delete request or delete request past the deadline of {period} since its creation is not allowed. To force, use the ?force query parameter"
    )]
    PastCancelPeriod {
        /// The cancellation period, as Go prints a duration.
        period: String,
    },
    /// A stored request object could not be read.
    #[error("unreadable delete request {key:?}: {reason}")]
    Corrupt {
        /// The object's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// No free request id was found (ids are 32-bit hashes of the tenant,
    /// the time and the query).
    #[error("could not allocate a delete request id for tenant {tenant:?}")]
    NoFreeId {
        /// The tenant.
        tenant: String,
    },
}

impl DeleteError {
    /// The HTTP status Loki answers with: 404 for [`DeleteError::NotFound`],
    /// 500 for a stored request it cannot read or an id it cannot
    /// allocate, 400 for the rest.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Corrupt { .. } | Self::NoFreeId { .. } => 500,
            _ => 400,
        }
    }

    /// The delete error inside a root [`crate::Error`], if it is one.
    pub fn from_error(e: &crate::Error) -> Option<&DeleteError> {
        match e {
            crate::Error::Delete(d) => Some(d),
            _ => None,
        }
    }
}

/// Go's `Duration.String()` of `d`.
pub(crate) fn go_duration(d: Duration) -> String {
    crate::logql::format_go_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `d` in milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
