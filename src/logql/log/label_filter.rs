//! Label filters that convert the label's value (spec §3.6; Loki's
//! `log/label_filter.go`, `log/ip.go`). String matchers (`=`, `!=`, `=~`,
//! `!~`) need no conversion: compare [`LabelsBuilder::get`] (absent is
//! `""`, `__error__` reads the error).
//!
//! | filter | label absent | value does not convert | otherwise |
//! |---|---|---|---|
//! | [`numeric_filter`] (`l > 5`) | line dropped | `__error__=LabelFilterErr` + Go's message, if the line has no error yet; line **kept** | compare as `f64` (NaN compares false, except `!=`) |
//! | [`duration_filter`] (`l > 1s`) | dropped | as above (`time.ParseDuration`: no `d`/`w`/`y`) | compare nanoseconds |
//! | [`bytes_filter`] (`l > 20MB`) | dropped | as above (go-humanize) | compare bytes |
//! | [`ip_filter`] (`l = ip("…")`) | dropped | – | kept whenever the line already has an error; else the value is scanned for addresses like a line |
//!
//! "Absent" is Loki's lookup: stream, metadata and parsed labels (an
//! empty parsed value is present and fails to convert); the error fields
//! are not labels here.

use super::goconv::{parse_go_duration, parse_go_float, parse_humanize_bytes};
use super::{ConversionError, ErrorKind, IpMatcher, LabelsBuilder};

/// A comparison operator of a label filter (`==` and `=` are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=` / `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CmpOp {
    /// `lhs op rhs`.
    pub fn apply<T: PartialOrd>(self, lhs: T, rhs: T) -> bool {
        match self {
            Self::Eq => lhs == rhs,
            Self::Ne => lhs != rhs,
            Self::Gt => lhs > rhs,
            Self::Ge => lhs >= rhs,
            Self::Lt => lhs < rhs,
            Self::Le => lhs <= rhs,
        }
    }
}

/// Converts the label and compares; the shared rules of the three
/// converting filters.
fn converting<T: PartialOrd>(
    builder: &mut LabelsBuilder,
    name: &str,
    op: CmpOp,
    rhs: T,
    convert: impl FnOnce(&str) -> Result<T, ConversionError>,
) -> bool {
    let Some((value, _)) = builder.get_with_category(name) else { return false };
    match convert(value) {
        Ok(lhs) => op.apply(lhs, rhs),
        Err(e) => {
            builder.set_error_if_none(ErrorKind::LabelFilter, Some(e.details()));
            true
        }
    }
}

/// `name op value` with a number (`l > 5`, `l == 200`).
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{CmpOp, LabelsBuilder, numeric_filter};
///
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{status="200.0", bad="abc"}"#).unwrap());
/// b.reset();
/// assert!(numeric_filter(&mut b, "status", CmpOp::Eq, 200.0));
/// assert!(!numeric_filter(&mut b, "missing", CmpOp::Gt, 0.0));
/// assert!(numeric_filter(&mut b, "bad", CmpOp::Gt, 0.0));
/// assert_eq!(b.error_details(), Some(r#"strconv.ParseFloat: parsing "abc": invalid syntax"#));
/// ```
pub fn numeric_filter(builder: &mut LabelsBuilder, name: &str, op: CmpOp, value: f64) -> bool {
    converting(builder, name, op, value, parse_go_float)
}

/// `name op duration` (`l > 1s`); `value` in nanoseconds.
pub fn duration_filter(builder: &mut LabelsBuilder, name: &str, op: CmpOp, value: i64) -> bool {
    converting(builder, name, op, value, parse_go_duration)
}

/// `name op bytes` (`l > 20MB`); `value` in bytes.
pub fn bytes_filter(builder: &mut LabelsBuilder, name: &str, op: CmpOp, value: u64) -> bool {
    converting(builder, name, op, value, parse_humanize_bytes)
}

/// `name = ip("…")` (or `!=` when `negated`).
pub fn ip_filter(builder: &LabelsBuilder, name: &str, matcher: &IpMatcher, negated: bool) -> bool {
    if builder.has_error() {
        return true;
    }
    let Some((value, _)) = builder.get_with_category(name) else { return false };
    matcher.matches_text(value.as_bytes()) != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> LabelsBuilder {
        let mut b = LabelsBuilder::new(&r#"{app="a"}"#.parse().unwrap());
        b.reset();
        b
    }

    #[test]
    fn numeric() {
        let mut b = builder();
        b.add_parsed("n", "1e3");
        b.add_parsed("nan", "NaN");
        b.add_parsed("empty", "");
        assert!(numeric_filter(&mut b, "n", CmpOp::Ge, 1000.0));
        assert!(!numeric_filter(&mut b, "n", CmpOp::Lt, 1000.0));
        assert!(!numeric_filter(&mut b, "nan", CmpOp::Eq, f64::NAN));
        assert!(numeric_filter(&mut b, "nan", CmpOp::Ne, 1.0));
        assert!(!numeric_filter(&mut b, "absent", CmpOp::Ne, 1.0));
        assert!(numeric_filter(&mut b, "empty", CmpOp::Eq, 1.0));
        assert_eq!(b.error(), Some("LabelFilterErr"));
        assert_eq!(b.error_details(), Some(r#"strconv.ParseFloat: parsing "": invalid syntax"#));
        // The first error stays.
        assert!(numeric_filter(&mut b, "app", CmpOp::Eq, 1.0));
        assert_eq!(b.error_details(), Some(r#"strconv.ParseFloat: parsing "": invalid syntax"#));
    }

    #[test]
    fn durations_and_bytes() {
        let mut b = builder();
        b.add_parsed("d", "1.5s");
        b.add_parsed("days", "1d");
        b.add_parsed("size", "2KiB");
        assert!(duration_filter(&mut b, "d", CmpOp::Gt, 1_000_000_000));
        assert!(!duration_filter(&mut b, "d", CmpOp::Gt, 2_000_000_000));
        assert!(bytes_filter(&mut b, "size", CmpOp::Eq, 2048));
        assert!(!bytes_filter(&mut b, "size", CmpOp::Lt, 2000));
        assert!(!b.has_error());
        assert!(duration_filter(&mut b, "days", CmpOp::Gt, 0));
        assert_eq!(b.error_details(), Some(r#"time: unknown unit "d" in duration "1d""#));
        let mut b = builder();
        assert!(bytes_filter(&mut b, "app", CmpOp::Gt, 0));
        assert_eq!(b.error_details(), Some(r#"strconv.ParseFloat: parsing "": invalid syntax"#));
    }

    #[test]
    fn ip() {
        let m = IpMatcher::new("10.0.0.0/8").unwrap();
        let mut b = builder();
        b.add_parsed("addr", "10.1.2.3:80");
        assert!(ip_filter(&b, "addr", &m, false));
        assert!(!ip_filter(&b, "addr", &m, true));
        assert!(!ip_filter(&b, "absent", &m, false));
        assert!(!ip_filter(&b, "absent", &m, true));
        b.set_error(ErrorKind::JsonParser, None);
        assert!(ip_filter(&b, "absent", &m, false));
    }
}
