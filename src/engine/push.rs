//! Push requests and their per-stream, per-entry results.
//!
//! A push is accepted entry by entry, as Loki's distributor and ingester
//! accept it: valid entries are stored (and in the WAL before
//! [`super::Engine::push`] returns) even when others of the same request
//! are rejected; every rejection carries a reason whose message follows
//! Loki's wording.

use std::fmt;

use crate::chunk::{ChunkError, Entry};
use crate::labels::{Labels, LabelsError};

/// One stream of a push: its labels and entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushStream {
    /// The stream labels.
    pub labels: Labels,
    /// Entries, in any order (the out-of-order window applies).
    pub entries: Vec<Entry>,
}

impl PushStream {
    /// A stream of `entries` labelled `labels`.
    pub fn new(labels: Labels, entries: Vec<Entry>) -> Self {
        Self { labels, entries }
    }
}

/// Why an entry or a whole stream was not stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The stream's labels fail validation.
    InvalidLabels(LabelsError),
    /// Creating the stream would exceed the tenant's stream limit.
    StreamLimit {
        /// The limit.
        limit: usize,
    },
    /// The tenant's ingestion rate limit (the whole push was refused).
    RateLimited {
        /// Bytes per second allowed.
        limit: f64,
        /// Lines in the push.
        lines: usize,
        /// Bytes in the push.
        bytes: usize,
    },
    /// The stream's rate limit.
    StreamRateLimited {
        /// Bytes per second allowed.
        limit: f64,
    },
    /// The line is longer than `max_line_size`.
    LineTooLong {
        /// Line length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Structured metadata is not allowed for the tenant.
    MetadataNotAllowed,
    /// Structured metadata exceeds `max_structured_metadata_size`.
    MetadataTooLarge {
        /// Bytes of names and values.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// More structured metadata pairs than allowed.
    TooManyMetadata {
        /// Pairs.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Older than `reject_old_samples_max_age`.
    TooOld {
        /// The entry's timestamp (ns).
        timestamp: i64,
        /// Oldest acceptable (ns).
        cutoff: i64,
    },
    /// Newer than now plus `creation_grace_period`.
    TooNew {
        /// The entry's timestamp (ns).
        timestamp: i64,
    },
    /// Behind the stream's out-of-order window.
    TooFarBehind {
        /// The entry's timestamp (ns).
        timestamp: i64,
        /// Oldest acceptable (ns).
        cutoff: i64,
    },
    /// The chunk refused the entry (for example a timestamp it cannot store).
    Chunk(String),
}

impl RejectReason {
    /// True for rate and stream limits (Loki answers them with 429, the
    /// others with 400).
    pub fn is_limit(&self) -> bool {
        matches!(self, Self::StreamLimit { .. } | Self::RateLimited { .. } | Self::StreamRateLimited { .. })
    }

    pub(crate) fn from_chunk_error(e: ChunkError) -> Self {
        match e {
            ChunkError::TooFarBehind { timestamp, cutoff } => Self::TooFarBehind { timestamp, cutoff },
            other => Self::Chunk(other.to_string()),
        }
    }
}

/// RFC 3339 with nanoseconds in UTC, as Go prints `time.Time` in Loki's messages.
pub(crate) fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", tod / 3600, tod / 60 % 60, tod % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// A rejection in context: the reason plus the stream, for Loki's message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Index of the entry in its [`PushStream`]; `None` when the whole
    /// stream was rejected.
    pub entry: Option<usize>,
    /// Why.
    pub reason: RejectReason,
}

/// What happened to one pushed stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamPushResult {
    /// The stream labels as pushed.
    pub labels: Labels,
    /// Entries stored.
    pub accepted: usize,
    /// Entries identical to one already stored, dropped without error (as Loki drops them).
    pub duplicates: usize,
    /// Entries (or the whole stream) not stored.
    pub rejected: Vec<Rejection>,
}

impl StreamPushResult {
    /// Loki's message for one rejection of this stream.
    pub fn message(&self, r: &Rejection) -> String {
        let stream = &self.labels;
        match &r.reason {
            RejectReason::InvalidLabels(e) => e.to_string(),
            RejectReason::StreamLimit { limit } => format!(
                "Maximum active stream limit exceeded when trying to create stream {stream}, reduce the number of \
                 active streams (reduce labels or reduce label values), or contact your Loki administrator to see \
                 if the limit can be increased (limit: {limit})"
            ),
            RejectReason::RateLimited { limit, lines, bytes } => format!(
                "Ingestion rate limit exceeded (limit: {} bytes/sec) while attempting to ingest '{lines}' lines \
                 totaling '{bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit \
                 can be increased",
                *limit as u64
            ),
            RejectReason::StreamRateLimited { limit } => format!(
                "Per stream rate limit exceeded (limit: {} bytes/sec) while attempting to ingest for stream \
                 '{stream}', consider splitting a stream via additional labels or contact your Loki administrator \
                 to see if the limit can be increased",
                *limit as u64
            ),
            RejectReason::LineTooLong { size, limit } => format!(
                "Max entry size '{limit}' bytes exceeded for stream '{stream}' while adding an entry with length \
                 '{size}' bytes"
            ),
            RejectReason::MetadataNotAllowed => {
                format!("stream '{stream}' includes structured metadata, but this feature is disallowed")
            }
            RejectReason::MetadataTooLarge { size, limit } => format!(
                "structured metadata size '{size}' bytes exceeds the limit of '{limit}' bytes for stream '{stream}'"
            ),
            RejectReason::TooManyMetadata { count, limit } => format!(
                "structured metadata has '{count}' entries, which exceeds the limit of '{limit}' for stream \
                 '{stream}'"
            ),
            RejectReason::TooOld { timestamp, cutoff } => format!(
                "entry for stream '{stream}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
                rfc3339(*timestamp),
                rfc3339(*cutoff)
            ),
            RejectReason::TooNew { timestamp } => {
                format!("entry for stream '{stream}' has timestamp too new: {}", rfc3339(*timestamp))
            }
            RejectReason::TooFarBehind { timestamp, cutoff } => format!(
                "entry with timestamp {} ignored, reason: 'entry too far behind, entry timestamp is: {}, oldest \
                 acceptable timestamp is: {}'",
                rfc3339(*timestamp),
                rfc3339(*timestamp),
                rfc3339(*cutoff)
            ),
            RejectReason::Chunk(msg) => format!("entry for stream '{stream}' rejected: {msg}"),
        }
    }
}

/// What [`super::Engine::push`] did, one result per pushed stream in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushResult {
    /// Per stream, in request order.
    pub streams: Vec<StreamPushResult>,
}

impl PushResult {
    /// Entries stored.
    pub fn accepted(&self) -> usize {
        self.streams.iter().map(|s| s.accepted).sum()
    }

    /// True when nothing was rejected.
    pub fn is_complete(&self) -> bool {
        self.streams.iter().all(|s| s.rejected.is_empty())
    }

    /// Every rejection with its message, in request order.
    pub fn messages(&self) -> Vec<String> {
        self.streams.iter().flat_map(|s| s.rejected.iter().map(move |r| s.message(r))).collect()
    }

    /// True when a rejection was a rate or stream limit (HTTP 429 in Loki).
    pub fn is_limited(&self) -> bool {
        self.streams.iter().flat_map(|s| &s.rejected).any(|r| r.reason.is_limit())
    }
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.messages().iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(m)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_like_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_768_003_201_326_501_063), "2026-01-10T00:00:01.326501063Z");
        assert_eq!(rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
