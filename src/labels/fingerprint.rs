//! The stream fingerprint: xxHash64 (seed 0) over `name 0xFF value 0xFF` for
//! every label in name order, skipping `__name__` (Prometheus
//! `labels.HashWithoutLabels`, as Loki's ingester uses it;
//! `../shared/spec/chunk-format.md` §9.5).

use std::fmt;

use super::Labels;

/// A stream's 64-bit fingerprint. Displays as lowercase hex without padding,
/// the form used in object keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fingerprint(pub u64);

const SEP: u8 = 0xff;

impl Fingerprint {
    /// Computes the fingerprint of `labels`.
    pub fn of(labels: &Labels) -> Self {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in labels {
            if l.name == "__name__" {
                continue;
            }
            h.update(l.name.as_bytes());
            h.update(&[SEP]);
            h.update(l.value.as_bytes());
            h.update(&[SEP]);
        }
        Self(h.digest())
    }

    /// Parses the lowercase (or uppercase) hex form, as found in object keys.
    pub fn from_hex(s: &str) -> Option<Self> {
        // `from_str_radix` alone would also take a leading `+`.
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Self)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_worked_example() {
        let l = Labels::from_pairs([("app", "demo")]).unwrap();
        assert_eq!(l.fingerprint(), Fingerprint(0xfb31c43a197bbb77));
        assert_eq!(l.fingerprint().to_string(), "fb31c43a197bbb77");
    }

    #[test]
    fn metric_name_is_not_hashed() {
        let plain = Labels::from_pairs([("app", "demo")]).unwrap();
        let named = Labels::from_pairs([("__name__", "logs"), ("app", "demo")]).unwrap();
        assert_eq!(plain.fingerprint(), named.fingerprint());
    }

    #[test]
    fn hex_forms() {
        assert_eq!(Fingerprint(0x13639e8a0563518).to_string(), "13639e8a0563518");
        assert_eq!(Fingerprint::from_hex("13639e8a0563518"), Some(Fingerprint(0x13639e8a0563518)));
        assert_eq!(Fingerprint::from_hex("FB31C43A197BBB77"), Some(Fingerprint(0xfb31c43a197bbb77)));
        assert_eq!(Fingerprint(0).to_string(), "0");
        for bad in ["", "g", "-1", "+1", "12345678901234567", " 1"] {
            assert_eq!(Fingerprint::from_hex(bad), None, "{bad:?}");
        }
    }
}
