//! Retention rules and the expiry test (`../shared/spec/compactor.md`
//! §4.1-§4.3, Loki's `retention/expiration.go`).
//!
//! * The period of a stream: among the tenant's `retention_stream` rules
//!   whose matchers all match the labels, the highest priority wins, ties
//!   go to the smallest period; no match -> the tenant's
//!   `retention_period`. A period of zero means "keep forever".
//! * A chunk is expired when `now - through > period` (strictly), where
//!   `through` is the chunk's MaxTime, or its ingestion day when the index
//!   records one (format 4 backfill chunks).
//! * A table is only inspected when its start is older than
//!   `now - smallest positive period` of the tenant.

use std::collections::HashMap;
use std::time::Duration;

use super::error::CompactorError;
use crate::Labels;
use crate::index::{ChunkMeta, DAY_MS, Matcher};

/// One `retention_stream` rule: streams matching `selector` keep data for
/// `period`; among matching rules the highest `priority` wins.
#[derive(Debug, Clone)]
pub struct StreamRetention {
    selector: String,
    matchers: Vec<Matcher>,
    /// Rule priority (higher wins).
    pub priority: i32,
    /// How long matching streams keep data.
    pub period: Duration,
}

impl StreamRetention {
    /// A rule from a stream selector such as `{app="nginx", env=~"dev.*"}`.
    ///
    /// # Errors
    ///
    /// [`CompactorError::InvalidRetention`] (inside [`crate::Error`]) when
    /// the selector does not parse, has a pipeline, or the period is under
    /// 24h (Loki's validation).
    pub fn new(selector: &str, priority: i32, period: Duration) -> crate::Result<Self> {
        let bad = |reason: String| CompactorError::InvalidRetention { selector: selector.to_owned(), reason };
        let parsed = crate::logql::parse_log_selector(selector).map_err(|e| bad(e.to_string()))?;
        if !parsed.stages.is_empty() {
            return Err(bad("a retention selector has no pipeline".to_owned()).into());
        }
        if period < Duration::from_secs(24 * 3600) {
            return Err(bad("retention period must be at least 24h".to_owned()).into());
        }
        Ok(Self { selector: selector.to_owned(), matchers: parsed.matchers, priority, period })
    }

    /// The selector as given.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Whether every matcher matches `labels` (a missing label is `""`).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }
}

/// One tenant's retention limits (Loki's `retention_period` and
/// `retention_stream`).
#[derive(Debug, Clone, Default)]
pub struct TenantRetention {
    /// `retention_period`; zero keeps data forever.
    pub period: Duration,
    /// `retention_stream` rules.
    pub streams: Vec<StreamRetention>,
}

impl TenantRetention {
    /// Only a global period, no stream rule.
    pub fn with_period(period: Duration) -> Self {
        Self { period, streams: Vec::new() }
    }

    /// The period for a stream, ms (`<= 0` = keep forever).
    pub fn period_ms_for(&self, labels: &Labels) -> i64 {
        let mut best: Option<&StreamRetention> = None;
        for r in self.streams.iter().filter(|r| r.matches(labels)) {
            best = match best {
                Some(b) if b.priority > r.priority || (b.priority == r.priority && b.period <= r.period) => Some(b),
                _ => Some(r),
            };
        }
        duration_ms(best.map_or(self.period, |r| r.period))
    }

    /// The smallest positive period of the tenant, ms, if any.
    fn smallest_ms(&self) -> Option<i64> {
        std::iter::once(self.period)
            .chain(self.streams.iter().map(|r| r.period))
            .map(duration_ms)
            .filter(|&p| p > 0)
            .min()
    }
}

/// Retention settings: the defaults (Loki's `limits_config`), per-tenant
/// overrides (each replaces the defaults for its tenant, as Loki's
/// runtime overrides do), and the sweeper's delay.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Limits of tenants without an override.
    pub defaults: TenantRetention,
    /// Per-tenant overrides.
    pub tenants: HashMap<String, TenantRetention>,
    /// `retention_delete_delay`: a marked chunk object is deleted only
    /// this long after its marker was committed (default 2h).
    pub delete_delay: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            defaults: TenantRetention::default(),
            tenants: HashMap::new(),
            delete_delay: Duration::from_secs(2 * 3600),
        }
    }
}

impl RetentionConfig {
    /// A global retention period for every tenant.
    pub fn with_period(period: Duration) -> Self {
        Self { defaults: TenantRetention::with_period(period), ..Self::default() }
    }

    /// The limits of `tenant`.
    pub fn tenant(&self, tenant: &str) -> &TenantRetention {
        self.tenants.get(tenant).unwrap_or(&self.defaults)
    }

    /// Whether table `day` may hold expired data of `tenant` at `now_ms`
    /// (§4.3: the table starts before `now - smallest period`).
    pub fn table_may_expire(&self, tenant: &str, day: i64, now_ms: i64) -> bool {
        self.tenant(tenant).smallest_ms().is_some_and(|p| day.saturating_mul(DAY_MS) < now_ms.saturating_sub(p))
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What retention does with one chunk reference of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it.
    Keep,
    /// Expired: remove it from the index and mark the object for deletion.
    Expire,
    /// Not expired, but it continues into a later table and this table is
    /// out of retention: remove it from this table only.
    DropFromTable,
}

/// §4.2 and §4.4 for one chunk of table `day` with period `period_ms`.
pub fn verdict(c: &ChunkMeta, period_ms: i64, day: i64, now_ms: i64) -> Verdict {
    if period_ms <= 0 {
        return Verdict::Keep;
    }
    let from = if c.ingested_at != 0 { c.ingested_at } else { c.max_time };
    if now_ms.saturating_sub(from) > period_ms {
        return Verdict::Expire;
    }
    let table_end = day.saturating_mul(DAY_MS).saturating_add(DAY_MS - 1);
    if c.max_time > table_end {
        let since = if c.ingested_at != 0 { c.ingested_at } else { table_end };
        if now_ms.saturating_sub(since) > period_ms {
            return Verdict::DropFromTable;
        }
    }
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn rule_choice() {
        let t = TenantRetention {
            period: DAY * 30,
            streams: vec![
                StreamRetention::new(r#"{app="a"}"#, 1, DAY * 5).unwrap(),
                StreamRetention::new(r#"{app="a"}"#, 1, DAY * 3).unwrap(),
                StreamRetention::new(r#"{env="prod"}"#, 2, DAY * 10).unwrap(),
            ],
        };
        let l = |s: &str| s.parse::<Labels>().unwrap();
        assert_eq!(t.period_ms_for(&l(r#"{app="a"}"#)), 3 * DAY_MS);
        assert_eq!(t.period_ms_for(&l(r#"{app="a", env="prod"}"#)), 10 * DAY_MS);
        assert_eq!(t.period_ms_for(&l(r#"{app="b"}"#)), 30 * DAY_MS);
        assert!(StreamRetention::new(r#"{app="a"}"#, 1, DAY / 2).is_err());
        assert!(StreamRetention::new(r#"{app="a"} |= "x""#, 1, DAY).is_err());
        assert!(StreamRetention::new("nope", 1, DAY).is_err());
    }

    #[test]
    fn strict_expiry_and_spanning_chunks() {
        let c = ChunkMeta::new(100, 200, 1, 1, 7);
        assert_eq!(verdict(&c, 50, 0, 250), Verdict::Keep);
        assert_eq!(verdict(&c, 50, 0, 251), Verdict::Expire);
        assert_eq!(verdict(&c, 0, 0, i64::MAX), Verdict::Keep);
        let span = ChunkMeta::new(DAY_MS - 10, DAY_MS + 10, 1, 1, 7);
        assert_eq!(verdict(&span, 100, 0, DAY_MS - 1 + 101), Verdict::DropFromTable);
        assert_eq!(verdict(&span, 100, 1, DAY_MS - 1 + 101), Verdict::Keep);
    }
}
