//! `ip("…")` patterns, as Loki's `log/ip.go` `getMatcher` accepts them:
//! a single address (`192.168.0.1`, `::1`), a CIDR prefix
//! (`192.168.0.0/16`, `2001:db8::/32`) or an inclusive range of one family
//! (`192.168.0.1-192.168.0.23`).
//!
//! Addresses use Rust's parser, which like Go's `netip.ParseAddr` refuses
//! IPv4 octets with leading zeros; IPv6 zones (`fe80::1%eth0`), which Go
//! accepts for single addresses, are refused.

use std::net::IpAddr;

/// What an `ip("…")` pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpMatcher {
    /// Exactly this address.
    Addr(IpAddr),
    /// Addresses whose first `bits` bits equal `addr`'s.
    Prefix {
        /// The address as written (not necessarily masked).
        addr: IpAddr,
        /// The prefix length (at most 32 for IPv4, 128 for IPv6).
        bits: u8,
    },
    /// Addresses from `from` to `to`, inclusive, of the same family.
    Range {
        /// The first address.
        from: IpAddr,
        /// The last address.
        to: IpAddr,
    },
}

impl IpMatcher {
    /// Parses a pattern; `None` if Loki would report `ip: invalid pattern`.
    pub fn parse(pattern: &str) -> Option<Self> {
        if let Ok(addr) = pattern.parse::<IpAddr>() {
            return Some(Self::Addr(addr));
        }
        if let Some((addr, bits)) = pattern.split_once('/') {
            let addr: IpAddr = addr.parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            // Go accepts decimal bits without sign or leading zeros.
            if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || (bits.len() > 1 && bits.starts_with('0'))
            {
                return None;
            }
            let bits: u8 = bits.parse().ok().filter(|&b| b <= max)?;
            return Some(Self::Prefix { addr, bits });
        }
        let (from, to) = pattern.split_once('-')?;
        let (from, to): (IpAddr, IpAddr) = (from.parse().ok()?, to.parse().ok()?);
        if from.is_ipv4() != to.is_ipv4() || to < from {
            return None;
        }
        Some(Self::Range { from, to })
    }

    /// Whether `ip` is matched (an IPv4 pattern never matches an IPv6
    /// address and vice versa).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match *self {
            Self::Addr(a) => a == ip,
            Self::Range { from, to } => from.is_ipv4() == ip.is_ipv4() && from <= ip && ip <= to,
            Self::Prefix { addr, bits } => match (addr, ip) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn patterns() {
        assert_eq!(IpMatcher::parse("192.168.0.1"), Some(IpMatcher::Addr(ip("192.168.0.1"))));
        assert_eq!(IpMatcher::parse("::1"), Some(IpMatcher::Addr(ip("::1"))));
        let p = IpMatcher::parse("10.0.0.0/8").unwrap();
        assert!(p.contains(ip("10.1.2.3")) && !p.contains(ip("11.0.0.1")) && !p.contains(ip("::1")));
        let r = IpMatcher::parse("192.168.0.1-192.168.0.23").unwrap();
        assert!(r.contains(ip("192.168.0.23")) && !r.contains(ip("192.168.0.24")));
        let all = IpMatcher::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        for bad in ["", "bogus", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/08", "01.2.3.4", "1.2.3.9-1.2.3.1", "1.2.3.4-::1"] {
            assert_eq!(IpMatcher::parse(bad), None, "{bad}");
        }
    }
}
