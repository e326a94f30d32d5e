//! Request parameters as Loki reads them (`../shared/spec/http-api.md` §2):
//! the URL query string plus, for a form `POST`, the urlencoded body;
//! timestamps in seconds, nanoseconds or RFC 3339; durations as float
//! seconds or Prometheus durations.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ApiError, ApiResult};

/// Decoded `name=value` pairs in request order (names may repeat).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Pairs of the URL query string and, when given, a form body.
    pub fn parse(query: Option<&str>, form: Option<&[u8]>) -> ApiResult<Self> {
        let mut out = Vec::new();
        if let Some(q) = query {
            decode_into(q.as_bytes(), &mut out)?;
        }
        if let Some(body) = form {
            decode_into(body, &mut out)?;
        }
        Ok(Self(out))
    }

    /// The first value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape(s: &[u8]) -> ApiResult<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(hex);
                let lo = s.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(ApiError::bad_request(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(&s[i..(i + 3).min(s.len())])
                    )));
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("request parameters are not valid UTF-8"))
}

fn decode_into(s: &[u8], out: &mut Vec<(String, String)>) -> ApiResult<()> {
    for pair in s.split(|&b| b == b'&' || b == b';').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        out.push((unescape(k)?, unescape(v)?));
    }
    Ok(())
}

/// Now in Unix nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (with optional fractional seconds) to Unix nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |a: usize, len: usize| -> Option<i64> {
        let part = b.get(a..a + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d, h, mi, se) = (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &s[start..end.min(start + 9)];
        frac = format!("{digits:0<9}").parse().ok()?;
        i = end;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
            let sign = if c == b'-' { -1 } else { 1 };
            sign * (num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// Loki's `parseTimestamp`: a float with `.` is seconds (fraction rounded
/// to milliseconds), an integer of at most 10 characters seconds, a longer
/// one nanoseconds, else RFC 3339.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if s.contains('.')
        && let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        let whole = f.trunc();
        if whole.abs() > 9.2e9 {
            return None;
        }
        let ms = ((f - whole) * 1000.0).round() as i64;
        return (whole as i64).checked_mul(1_000_000_000)?.checked_add(ms * 1_000_000);
    }
    if let Ok(n) = s.parse::<i64>() {
        return if s.len() <= 10 { n.checked_mul(1_000_000_000) } else { Some(n) };
    }
    parse_rfc3339(s)
}

/// A timestamp parameter, `default` when absent.
pub fn time_param(p: &Params, name: &str, default: i64) -> ApiResult<i64> {
    match p.get(name) {
        None => Ok(default),
        Some(s) => parse_timestamp(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "could not parse '{name}' parameter: cannot parse \"{s}\" to a valid timestamp"
            ))
        }),
    }
}

/// Loki's duration parameters (`step`, `interval`): float seconds, else a
/// Prometheus duration. Returns nanoseconds (possibly negative).
pub fn duration_param(p: &Params, name: &str) -> ApiResult<Option<i64>> {
    let Some(s) = p.get(name) else { return Ok(None) };
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f.abs() > 9.2e9 {
            return Err(ApiError::bad_request(format!("could not parse '{name}' parameter: {s} is out of range")));
        }
        return Ok(Some((f * 1e9).round() as i64));
    }
    lokistore::logql::parse_prom_duration(s)
        .map(|d| Some(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
        .map_err(|e| ApiError::bad_request(format!("could not parse '{name}' parameter: {e}")))
}

/// The `step` of a range request in nanoseconds: the parameter, or by
/// default `(end - start) / 250` whole seconds (at least one); refused when
/// not positive or when it would make too many points.
pub fn step_param(p: &Params, start: i64, end: i64) -> ApiResult<i64> {
    let step = duration_param(p, "step")?
        .unwrap_or_else(|| (end.saturating_sub(start) / 1_000_000_000 / 250).max(1) * 1_000_000_000);
    if step <= 0 {
        return Err(ApiError::bad_request(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if end.saturating_sub(start) / step > lokistore::logql::eval::metric::MAX_POINTS {
        return Err(ApiError::bad_request(
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter",
        ));
    }
    Ok(step)
}

/// `since` (a Prometheus duration), default one hour, in nanoseconds.
pub fn since_param(p: &Params) -> ApiResult<i64> {
    match p.get("since") {
        None => Ok(3_600_000_000_000),
        Some(s) => lokistore::logql::parse_prom_duration(s)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .map_err(|e| ApiError::bad_request(format!("could not parse 'since' parameter: {e}"))),
    }
}

/// `start` / `end` with Loki's defaults: `end` now, `start` =
/// `min(end, now) - since`. Checks `end >= start`.
pub fn range_params(p: &Params) -> ApiResult<(i64, i64)> {
    let now = now_ns();
    let end = time_param(p, "end", now)?;
    let since = since_param(p)?;
    let start = time_param(p, "start", end.min(now).saturating_sub(since))?;
    if end < start {
        return Err(ApiError::bad_request("end timestamp must not be before or equal to start time"));
    }
    Ok((start, end))
}

/// `limit` (default 100, must be > 0).
pub fn limit_param(p: &Params, default: u64) -> ApiResult<u64> {
    match p.get("limit") {
        None => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(0) => Err(ApiError::bad_request("limit must be a positive value")),
            Ok(n) => Ok(n),
            Err(e) => Err(ApiError::bad_request(format!("could not parse 'limit' parameter: {e}"))),
        },
    }
}

/// `direction`: `backward` (default) or `forward`, case-insensitive.
pub fn direction_param(p: &Params) -> ApiResult<lokistore::Direction> {
    match p.get("direction").map(str::to_ascii_lowercase).as_deref() {
        None | Some("backward") => Ok(lokistore::Direction::Backward),
        Some("forward") => Ok(lokistore::Direction::Forward),
        Some(other) => Err(ApiError::bad_request(format!("invalid direction '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_loki() {
        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_timestamp("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("1700000000.1234"), Some(1_700_000_000_123_000_000));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_timestamp("2023-11-14T23:13:20.5+01:00"), Some(1_700_000_000_500_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2023-11-14T22:13"), None);
    }

    #[test]
    fn params_decode() {
        let p = Params::parse(Some("query=%7Bapp%3D%22a%22%7D&match[]=x&match%5B%5D=y+z"), None).unwrap();
        assert_eq!(p.get("query"), Some("{app=\"a\"}"));
        assert_eq!(p.all("match[]").collect::<Vec<_>>(), ["x", "y z"]);
        assert!(Params::parse(Some("a=%zz"), None).is_err());
    }
}
