//! The delete request model (`../shared/spec/compactor.md` §5.1-§5.2):
//! query validation, Loki's request ids, `max_interval` shards, statuses
//! and the delete API's JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DeleteError;
use crate::logql::{LineFilterArg, LineFilterOp, LogSelector, Stage};
use crate::tenant::TenantId;

/// Nanoseconds per millisecond.
pub(crate) const NS_PER_MS: i64 = 1_000_000;

/// A request's status as Loki reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStatus {
    /// No shard processed yet (`"received"`).
    Received,
    /// Every shard processed (`"processed"`).
    Processed,
    /// Some shards processed (`"<N>% Complete"`).
    Partial {
        /// Shards processed.
        processed: usize,
        /// Shards in all.
        total: usize,
    },
}

impl DeleteStatus {
    fn of(processed: usize, total: usize) -> Self {
        if processed == 0 {
            Self::Received
        } else if processed >= total {
            Self::Processed
        } else {
            Self::Partial { processed, total }
        }
    }
}

impl fmt::Display for DeleteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Received => f.write_str("received"),
            Self::Processed => f.write_str("processed"),
            Self::Partial { processed, total } => {
                // Go: int(float64(processed) / float64(total) * 100).
                #[expect(clippy::cast_precision_loss, reason = "shard counts are small")]
                let pct = (processed as f64 / total as f64 * 100.0) as i64;
                write!(f, "{pct}% Complete")
            }
        }
    }
}

/// One shard of a request: a sub-range with its own status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteShard {
    /// Start, inclusive, Unix ms.
    pub start_ms: i64,
    /// End, inclusive, Unix ms.
    pub end_ms: i64,
    /// Whether the compactor removed its data.
    pub processed: bool,
}

/// A delete request: the lines of `tenant`'s streams matching `query` with
/// timestamps in `[start_ns, end_ns]` (both inclusive; millisecond
/// precision, as Loki stores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// Loki's id: 8 lowercase hex digits.
    pub request_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// The LogQL log selector, as given.
    pub query: String,
    /// Start, inclusive, Unix ns (a whole millisecond).
    pub start_ns: i64,
    /// End, inclusive, Unix ns (a whole millisecond).
    pub end_ns: i64,
    /// When the request was made, Unix ns (a whole millisecond).
    pub created_at_ns: i64,
    /// Merged status of the shards.
    pub status: DeleteStatus,
    /// The shards (one unless the query has a filter and the range is
    /// longer than `max_interval`).
    pub shards: Vec<DeleteShard>,
}

/// The stored form (`compactor/deletes/<tenant>/<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub request_id: String,
    pub tenant: String,
    pub query: String,
    pub created_at_ms: i64,
    pub shards: Vec<DeleteShard>,
}

impl Record {
    /// The public view (shards merged: min start, max end, status).
    pub fn to_request(&self) -> Result<DeleteRequest, DeleteError> {
        let tenant = TenantId::new(self.tenant.as_str())
            .map_err(|e| DeleteError::Corrupt { key: self.request_id.clone(), reason: e.to_string() })?;
        let start = self.shards.iter().map(|s| s.start_ms).min().unwrap_or(0);
        let end = self.shards.iter().map(|s| s.end_ms).max().unwrap_or(0);
        let processed = self.shards.iter().filter(|s| s.processed).count();
        Ok(DeleteRequest {
            request_id: self.request_id.clone(),
            tenant,
            query: self.query.clone(),
            start_ns: start.saturating_mul(NS_PER_MS),
            end_ns: end.saturating_mul(NS_PER_MS),
            created_at_ns: self.created_at_ms.saturating_mul(NS_PER_MS),
            status: DeleteStatus::of(processed, self.shards.len()),
            shards: self.shards.clone(),
        })
    }
}

/// Parses and checks a delete query as Loki does: a log selector
/// expression, whose pipeline must also compile.
pub(crate) fn validate_query(query: &str) -> Result<LogSelector, DeleteError> {
    if query.is_empty() {
        return Err(DeleteError::QueryNotSet);
    }
    let sel =
        crate::logql::parse_log_selector(query).map_err(|e| DeleteError::InvalidQuery { reason: e.to_string() })?;
    crate::logql::eval::Pipeline::new(&sel.stages).map_err(|e| DeleteError::InvalidQuery { reason: e.to_string() })?;
    Ok(sel)
}

/// Loki's `HasFilter`: a label filter, or a line filter other than an
/// empty `|=` / `|~`.
pub(crate) fn has_filter(stages: &[Stage]) -> bool {
    stages.iter().any(|s| match s {
        Stage::LabelFilter(_) => true,
        Stage::LineFilter(f) => {
            !matches!(f.op, LineFilterOp::Contains | LineFilterOp::Regex)
                || !matches!(f.args.first(), Some(LineFilterArg::Text(t)) if t.is_empty())
        }
        _ => false,
    })
}

/// FNV-32 (FNV-1: multiply, then xor) of `bytes`.
fn fnv32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(b);
    }
    h
}

/// Loki's request id: FNV-32 (not 1a) of the tenant, `now_ns` as 8
/// little-endian bytes and the query, as 8 lowercase hex digits.
pub(crate) fn request_id(tenant: &str, now_ns: i64, query: &str) -> String {
    let h = fnv32(tenant.bytes().chain(now_ns.to_le_bytes()).chain(query.bytes()));
    format!("{h:08x}")
}

/// Loki's `buildRequests`: one shard, or (`interval_ns > 0` shorter than
/// the range) consecutive shards aligned on multiples of the interval,
/// each ending where the next starts (the overlap is deliberate).
pub(crate) fn shards(start_ms: i64, end_ms: i64, interval_ns: i64) -> Vec<DeleteShard> {
    let one = || vec![DeleteShard { start_ms, end_ms, processed: false }];
    let span_ns = end_ms.saturating_sub(start_ms).saturating_mul(NS_PER_MS);
    if interval_ns <= 0 || interval_ns >= span_ns {
        return one();
    }
    let start_ns = start_ms.saturating_mul(NS_PER_MS);
    let end_ns = end_ms.saturating_mul(NS_PER_MS);
    let mut out = Vec::new();
    // Go's `%` truncates like Rust's.
    let mut s = start_ns - start_ns % interval_ns;
    while s < end_ns {
        let e = s.saturating_add(interval_ns).min(end_ns);
        let from = if out.is_empty() { start_ns } else { s };
        out.push(DeleteShard { start_ms: from / NS_PER_MS, end_ms: e / NS_PER_MS, processed: false });
        s = s.saturating_add(interval_ns);
    }
    if out.is_empty() { one() } else { out }
}

/// A Prometheus `model.Time` (ms) as Go's JSON renders it: seconds with
/// the shortest decimal fraction.
fn json_seconds(out: &mut String, ms: i64) {
    use fmt::Write as _;
    let neg = ms < 0;
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if neg {
        out.push('-');
    }
    let _ = write!(out, "{secs}");
    if frac != 0 {
        let f = format!("{frac:03}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

/// Appends `s` as a JSON string the way Go's `encoding/json` writes it:
/// HTML characters (`<`, `>`, `&`) and U+2028 / U+2029 as `\uXXXX`, other
/// controls escaped, everything else raw. Loki's HTTP answers use it.
pub fn go_json_string(out: &mut String, s: &str) {
    use fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl DeleteRequest {
    /// The request as Loki's `GET /loki/api/v1/delete` lists it:
    /// `{"request_id","start_time","end_time","query","status","created_at","user_id":""}`,
    /// times in seconds.
    pub fn loki_json(&self) -> String {
        let mut out = String::with_capacity(160 + self.query.len());
        out.push_str("{\"request_id\":");
        go_json_string(&mut out, &self.request_id);
        out.push_str(",\"start_time\":");
        json_seconds(&mut out, self.start_ns.div_euclid(NS_PER_MS));
        out.push_str(",\"end_time\":");
        json_seconds(&mut out, self.end_ns.div_euclid(NS_PER_MS));
        out.push_str(",\"query\":");
        go_json_string(&mut out, &self.query);
        out.push_str(",\"status\":");
        go_json_string(&mut out, &self.status.to_string());
        out.push_str(",\"created_at\":");
        json_seconds(&mut out, self.created_at_ns.div_euclid(NS_PER_MS));
        out.push_str(",\"user_id\":\"\"}");
        out
    }
}

/// The body of Loki's `GET /loki/api/v1/delete`: a JSON array of
/// [`DeleteRequest::loki_json`] (with Go's trailing newline).
pub fn delete_requests_json(requests: &[DeleteRequest]) -> String {
    let mut out = String::from("[");
    for (i, r) in requests.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&r.loki_json());
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32_ids() {
        // The published FNV-1 32-bit vectors.
        assert_eq!(fnv32(*b"a"), 0x050c_5d7e);
        assert_eq!(fnv32(*b"foobar"), 0x31f0_b262);
        let mut input = b"t".to_vec();
        input.extend(7i64.to_le_bytes());
        input.extend(b"{a=\"b\"}");
        assert_eq!(request_id("t", 7, "{a=\"b\"}"), format!("{:08x}", fnv32(input)));
        assert_ne!(request_id("t", 7, "{a=\"b\"}"), request_id("t", 8, "{a=\"b\"}"));
        assert_eq!(request_id("", 0, "").len(), 8);
    }

    #[test]
    fn sharding_aligns_and_overlaps() {
        const H: i64 = 3_600_000;
        let ns = |ms: i64| ms * NS_PER_MS;
        assert_eq!(shards(0, 10 * H, 0).len(), 1);
        assert_eq!(shards(0, 10 * H, ns(10 * H)).len(), 1);
        let s = shards(H / 2, 3 * H, ns(H));
        let r: Vec<(i64, i64)> = s.iter().map(|s| (s.start_ms, s.end_ms)).collect();
        assert_eq!(r, [(H / 2, H), (H, 2 * H), (2 * H, 3 * H)]);
    }

    #[test]
    fn statuses_and_json() {
        assert_eq!(DeleteStatus::of(0, 3).to_string(), "received");
        assert_eq!(DeleteStatus::of(3, 3).to_string(), "processed");
        assert_eq!(DeleteStatus::of(1, 3).to_string(), "33% Complete");
        assert_eq!(DeleteStatus::of(2, 3).to_string(), "66% Complete");
        let r = DeleteRequest {
            request_id: "2c3e0a1f".into(),
            tenant: TenantId::new("t").unwrap(),
            query: "{app=\"a\"} |= \"<x>\"".into(),
            start_ns: 1_700_000_000_000 * NS_PER_MS,
            end_ns: 1_700_003_600_500 * NS_PER_MS,
            created_at_ns: 1_700_100_000_123 * NS_PER_MS,
            status: DeleteStatus::Received,
            shards: Vec::new(),
        };
        assert_eq!(
            r.loki_json(),
            r#"{"request_id":"2c3e0a1f","start_time":1700000000,"end_time":1700003600.5,"query":"{app=\"a\"} |= \"\u003cx\u003e\"","status":"received","created_at":1700100000.123,"user_id":""}"#
        );
        assert_eq!(delete_requests_json(&[]), "[]\n");
    }

    #[test]
    fn validation_and_filters() {
        assert_eq!(validate_query(""), Err(DeleteError::QueryNotSet));
        for bad in ["nope", "count_over_time({a=\"b\"}[1m])", "{a=\"b\"} |~ \"(\""] {
            let e = validate_query(bad).unwrap_err();
            assert_eq!(e.to_string(), "invalid query expression", "{bad}");
        }
        let f = |q: &str| has_filter(&validate_query(q).unwrap().stages);
        assert!(!f("{a=\"b\"}"));
        assert!(!f("{a=\"b\"} |= \"\""));
        assert!(!f("{a=\"b\"} | json"));
        assert!(f("{a=\"b\"} |= \"x\""));
        assert!(f("{a=\"b\"} != \"\""));
        assert!(f("{a=\"b\"} | json | level=\"x\""));
    }
}
