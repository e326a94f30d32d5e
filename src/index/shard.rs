//! Fingerprint shards, `s_of_n` (`../shared/spec/tsdb-index.md` §5.5, Loki's
//! `index.ShardAnnotation`): shard `s` of `2^k` holds the fingerprints whose
//! top `k` bits equal `s`.

use std::fmt;
use std::str::FromStr;

use crate::Fingerprint;

use super::error::IndexError;

/// The label Loki uses to carry a shard in a matcher list.
pub const SHARD_LABEL: &str = "__tsdb_shard__";

/// Shard `shard` of `of` (`of` a power of two, at least 2).
///
/// # Examples
///
/// ```
/// use lokistore::Fingerprint;
/// use lokistore::index::Shard;
///
/// let s: Shard = "1_of_4".parse().unwrap();
/// assert!(s.matches(Fingerprint(0x4000_0000_0000_0000)));
/// assert!(!s.matches(Fingerprint(0x8000_0000_0000_0000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    shard: u32,
    of: u32,
}

impl Shard {
    /// Shard `shard` of `of`.
    pub fn new(shard: u32, of: u32) -> Result<Self, IndexError> {
        if of < 2 || !of.is_power_of_two() || shard >= of {
            return Err(IndexError::InvalidShard(format!("{shard}_of_{of}")));
        }
        Ok(Self { shard, of })
    }

    /// The shard number.
    pub fn shard(self) -> u32 {
        self.shard
    }

    /// The shard count.
    pub fn of(self) -> u32 {
        self.of
    }

    fn bits(self) -> u32 {
        self.of.trailing_zeros()
    }

    /// Whether `fp` belongs to this shard.
    #[inline]
    pub fn matches(self, fp: Fingerprint) -> bool {
        u64::from(self.shard) == fp.0 >> (64 - self.bits())
    }

    /// Loki's `GetFromThrough`: `[s << (64-k), (s+1) << (64-k))`, the last
    /// shard ending at `u64::MAX`.
    pub fn bounds(self) -> (u64, u64) {
        let shift = 64 - self.bits();
        let from = u64::from(self.shard) << shift;
        let through = if self.shard + 1 == self.of { u64::MAX } else { u64::from(self.shard + 1) << shift };
        (from, through)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_of_{}", self.shard, self.of)
    }
}

impl FromStr for Shard {
    type Err = IndexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IndexError::InvalidShard(s.to_owned());
        let (a, b) = s.split_once("_of_").ok_or_else(bad)?;
        Self::new(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)
    }
}

/// Loki's `FingerprintOffsets.Range`: the series-ref range `[min, max)` that
/// can hold fingerprints in `[from, through)`, from the sampled table.
pub(crate) fn ref_range(samples: &[(u64, u64)], from: u64, through: u64) -> (u64, u64) {
    let lower = samples.partition_point(|s| s.1 < from);
    let min = if lower > 0 && lower < samples.len() { samples[lower - 1].0 } else { 0 };
    let upper = samples.partition_point(|s| s.1 < through);
    let max = samples.get(upper).map_or(u64::MAX, |s| s.0);
    (min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_bounds() {
        assert!("0_of_1".parse::<Shard>().is_err());
        assert!("3_of_6".parse::<Shard>().is_err());
        assert!("4_of_4".parse::<Shard>().is_err());
        let s: Shard = "3_of_4".parse().unwrap();
        assert_eq!(s.bounds(), (0xC000_0000_0000_0000, u64::MAX));
        assert_eq!(s.to_string(), "3_of_4");
        assert!(s.matches(Fingerprint(u64::MAX)));
    }
}
