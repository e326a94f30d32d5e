//! `ip("…")` (spec §3.4, §3.6; Loki's `log/ip.go`).
//!
//! | pattern | Go parser | matches |
//! |---|---|---|
//! | `192.168.0.1`, `::1`, `fe80::1%eth0` | `netip.ParseAddr` | that address (a zoned pattern matches nothing found in text, which never has a zone) |
//! | `10.0.0.0/8`, `2001:db8::/32` | `netip.ParsePrefix` (no zone; bits in decimal, no sign or leading zero, at most 32/128) | addresses of the same family in the prefix |
//! | `10.0.0.1-10.0.0.9` | `netipx.ParseIPRange` (zones dropped; one family; `from <= to`) | addresses between, inclusive |
//!
//! IPv4 and IPv6 are separate families: an IPv4-mapped IPv6 address
//! (`::ffff:1.2.3.4`) never matches an IPv4 pattern and the other way
//! round. IPv4 octets with leading zeros are refused, as in Go.
//!
//! Scanning a line (or a label value) for addresses, as Loki does: at each
//! byte, a digit followed within three bytes by `.` starts an IPv4
//! candidate made of `[0-9.]`; otherwise a hex run of one to four digits
//! followed by `:` (or `::` then a hex digit) starts an IPv6 candidate made
//! of `[0-9A-Fa-f:.]`. A candidate that parses and matches ends the scan;
//! otherwise the scan continues after it. O(n) per line (plus the
//! candidate parses), no allocation.

use std::net::IpAddr;

use super::StageError;

/// A compiled `ip("…")` pattern.
///
/// # Examples
///
/// ```
/// use lokistore::logql::log::IpMatcher;
///
/// let m = IpMatcher::new("192.168.1.0/24").unwrap();
/// assert!(m.matches_text(b"src 192.168.1.10:443 ok"));
/// assert!(!m.matches_text(b"src 10.0.0.9 ok"));
/// assert_eq!(IpMatcher::new("notanip").unwrap_err().to_string(), r#"ip: invalid pattern: "notanip""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpMatcher {
    kind: Kind,
    pattern: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One address; `zoned` addresses match nothing found by a scan.
    Addr {
        addr: IpAddr,
        zoned: bool,
    },
    Prefix {
        addr: IpAddr,
        bits: u8,
    },
    Range {
        from: IpAddr,
        to: IpAddr,
    },
}

/// Go's `netip.ParseAddr`: the address and whether it had a zone.
fn parse_addr(s: &str) -> Option<(IpAddr, bool)> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some((a, false));
    }
    // An IPv6 zone: `addr%zone` with a non-empty zone.
    let (addr, zone) = s.split_once('%')?;
    if zone.is_empty() {
        return None;
    }
    let a: std::net::Ipv6Addr = addr.parse().ok()?;
    Some((IpAddr::V6(a), true))
}

fn bit_len(a: IpAddr) -> u32 {
    if a.is_ipv4() { 32 } else { 128 }
}

impl IpMatcher {
    /// Parses a pattern (Loki's `getMatcher`).
    ///
    /// # Errors
    ///
    /// [`StageError::IpInvalidPattern`].
    pub fn new(pattern: &str) -> Result<Self, StageError> {
        let kind = Self::parse(pattern).ok_or_else(|| StageError::IpInvalidPattern { pattern: pattern.to_owned() })?;
        Ok(Self { kind, pattern: pattern.to_owned() })
    }

    fn parse(pattern: &str) -> Option<Kind> {
        if let Some((addr, zoned)) = parse_addr(pattern) {
            return Some(Kind::Addr { addr, zoned });
        }
        if let Some(slash) = pattern.rfind('/') {
            let (addr, bits) = (pattern.get(..slash)?, pattern.get(slash + 1..)?);
            if let Ok(addr) = addr.parse::<IpAddr>() {
                let digits_ok = !bits.is_empty()
                    && bits.bytes().all(|b| b.is_ascii_digit())
                    && (bits.len() == 1 || !bits.starts_with('0'));
                if let Some(bits) = bits.parse::<u8>().ok().filter(|&b| digits_ok && u32::from(b) <= bit_len(addr)) {
                    return Some(Kind::Prefix { addr, bits });
                }
            }
        }
        let (from, to) = pattern.split_once('-')?;
        let (from, _) = parse_addr(from)?;
        let (to, _) = parse_addr(to)?;
        (from.is_ipv4() == to.is_ipv4() && from <= to).then_some(Kind::Range { from, to })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `ip` (an address without zone) is matched.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self.kind {
            Kind::Addr { addr, zoned } => !zoned && addr == ip,
            Kind::Range { from, to } => from <= ip && ip <= to,
            Kind::Prefix { addr, bits } => match (addr, ip) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                    u32::from(a) & mask == u32::from(b) & mask
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                    u128::from(a) & mask == u128::from(b) & mask
                }
                _ => false,
            },
        }
    }

    /// Whether `text` holds a matching address (Loki's scan, above).
    pub fn matches_text(&self, text: &[u8]) -> bool {
        let n = text.len();
        let at = |i: usize| text.get(i).copied().unwrap_or(0);
        let mut i = 0;
        while i < n {
            if i + 3 < n && ipv4_hint([at(i), at(i + 1), at(i + 2), at(i + 3)]) {
                let (found, len) = self.candidate(text, i, is_v4_char);
                if found {
                    return true;
                }
                i += len + 1;
                continue;
            }
            if ipv6_hint([at(i), at(i + 1), at(i + 2), at(i + 3), at(i + 4)]) {
                let (found, len) = self.candidate(text, i, is_v6_char);
                if found {
                    return true;
                }
                i += len + 1;
                continue;
            }
            i += 1;
        }
        false
    }

    /// Parses the run of `class` bytes at `start`: whether it is a
    /// matching address, and its length.
    fn candidate(&self, text: &[u8], start: usize, class: fn(u8) -> bool) -> (bool, usize) {
        let rest = text.get(start..).unwrap_or_default();
        let len = rest.iter().position(|&c| !class(c)).unwrap_or(rest.len());
        let found = std::str::from_utf8(rest.get(..len).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| self.contains(ip));
        (found, len)
    }
}

fn is_v4_char(c: u8) -> bool {
    c.is_ascii_digit() || c == b'.'
}

fn is_v6_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

fn ipv4_hint(p: [u8; 4]) -> bool {
    p[0].is_ascii_digit() && (p[1] == b'.' || p[2] == b'.' || p[3] == b'.')
}

fn ipv6_hint(p: [u8; 5]) -> bool {
    let hex = |c: u8| c.is_ascii_hexdigit();
    (p[0] == b':' && p[1] == b':' && hex(p[2]))
        || (hex(p[0]) && p[1] == b':')
        || (hex(p[0]) && hex(p[1]) && p[2] == b':')
        || (hex(p[0]) && hex(p[1]) && hex(p[2]) && p[3] == b':')
        || (hex(p[0]) && hex(p[1]) && hex(p[2]) && hex(p[3]) && p[4] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let ok = |p: &str| IpMatcher::new(p).is_ok();
        for p in [
            "192.168.0.1",
            "::1",
            "fe80::1%eth0",
            "10.0.0.0/8",
            "1.2.3.4/32",
            "2001:db8::/32",
            "::/0",
            "10.0.0.1-10.0.0.9",
            "::1-::2",
            "fe80::1-fe80::2%a",
            "fe80::1%eth0/64",
        ] {
            assert!(ok(p), "{p}");
        }
        for p in [
            "",
            "notanip",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/08",
            "1.2.3.4/+8",
            "01.2.3.4",
            "1.2.3.9-1.2.3.1",
            "1.2.3.4-::1",
            "1.2.3.4%eth0",
            "fe80::1%",
            "1.2.3",
        ] {
            assert!(!ok(p), "{p}");
        }
        assert_eq!(IpMatcher::new("").unwrap_err().to_string(), r#"ip: invalid pattern: """#);
    }

    #[test]
    fn containment() {
        let m = |p: &str| IpMatcher::new(p).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(m("10.0.0.0/8").contains(ip("10.1.2.3")));
        assert!(!m("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(m("1.2.3.4/24").contains(ip("1.2.3.200")), "the address need not be masked");
        assert!(m("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!m("0.0.0.0/0").contains(ip("::1")));
        assert!(m("192.168.0.1-192.168.0.23").contains(ip("192.168.0.23")));
        assert!(!m("192.168.0.1-192.168.0.23").contains(ip("192.168.0.24")));
        assert!(!m("fe80::1%eth0").contains(ip("fe80::1")));
        assert!(m("fe80::1-fe80::2%a").contains(ip("fe80::2")), "zones of range ends are dropped");
        assert!(!m("fe80::1%a-fe80::2").contains(ip("fe80::2")), "Go reads this as one zoned address");
    }

    #[test]
    fn scanning() {
        let t = |p: &str, line: &str| IpMatcher::new(p).unwrap().matches_text(line.as_bytes());
        assert!(t("192.168.1.0/24", "src 192.168.1.10 ok"));
        assert!(t("192.168.1.10", "192.168.1.10"));
        assert!(t("192.168.1.10", "x=192.168.1.10:8080"));
        assert!(!t("192.168.1.10", "192.168.1.100"));
        assert!(!t("192.168.1.0/24", "no ip here"));
        assert!(t("::1", "addr ::1 end"));
        assert!(t("2001:db8::/32", "[2001:db8::68]:443"));
        assert!(t("::ffff:1.2.3.4", "mapped ::ffff:1.2.3.4"));
        assert!(!t("1.2.3.4", "mapped ::ffff:1.2.3.4"));
        assert!(!t("1.2.3.4", ""));
        assert!(t("1.2.3.4", "a1.2.3.4"));
        assert!(!t("1.2.3.4", "01.2.3.4"), "leading zeros are not an address");
        assert!(t("5.6.7.8", "1.2.3.4.5 5.6.7.8"));
        assert!(t("::1", "::1"), "IPv6 candidates near the end are padded");
        assert!(t("a::1", "a::1"));
    }
}
