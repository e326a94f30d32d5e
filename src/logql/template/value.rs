//! Template values: the Go values a Loki template can meet, each with its
//! Go type (which decides assignability to function parameters, the
//! comparison rules of `eq`/`lt`, and how `fmt` prints it).
//!
//! | variant | Go type |
//! |---|---|
//! | `Nil` | untyped `nil` / an invalid `reflect.Value` |
//! | `Bool` | `bool` |
//! | `Int`, `Int64`, `Uint8` | `int`, `int64`, `uint8` (a byte of a string) |
//! | `Float` | `float64` |
//! | `Str` | `string` |
//! | `Time`, `Duration`, `Month`, `Weekday` | `time.Time`, `time.Duration`, `time.Month`, `time.Weekday` |
//! | `Labels` | `map[string]string`: the label set (the template's dot) |
//! | `Map`, `List` | `map[string]interface {}`, `[]interface {}` (from `fromJson`) |

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::TemplateData;
use super::strconv::{parse_float, parse_int};
use super::time::GoTime;

/// A template value.
#[derive(Clone)]
pub(crate) enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Int64(i64),
    Uint8(u8),
    Float(f64),
    Str(Cow<'a, str>),
    Time(GoTime),
    Duration(i64),
    Month(u8),
    Weekday(u8),
    Labels(&'a dyn TemplateData),
    Map(Rc<BTreeMap<String, Value<'a>>>),
    List(Rc<Vec<Value<'a>>>),
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::format::sprint(std::slice::from_ref(self)))
    }
}

/// A comparable scalar, as Go's `basicKind` sorts values for `eq`/`lt`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Basic<'v> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'v str),
}

impl<'a> Value<'a> {
    /// A string value.
    pub(crate) fn str(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(s.into())
    }

    /// The Go type, as `reflect.Type.String()` prints it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
            Value::Month(_) => "time.Month",
            Value::Weekday(_) => "time.Weekday",
            Value::Labels(_) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "[]interface {}",
        }
    }

    /// Go's template truth (`isTrue`): the zero value of its type and empty
    /// collections are false, structs (times) always true.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) | Value::Duration(i) => *i != 0,
            Value::Uint8(u) | Value::Month(u) | Value::Weekday(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time(_) => true,
            Value::Labels(d) => d.label_count() > 0,
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
        }
    }

    /// Sprig's `empty`: like the opposite of truth (a `time.Time` is never
    /// empty).
    pub(crate) fn is_empty(&self) -> bool {
        !self.truth()
    }

    /// The scalar used by comparisons, `None` for other kinds.
    pub(crate) fn basic(&self) -> Option<Basic<'_>> {
        Some(match self {
            Value::Bool(b) => Basic::Bool(*b),
            Value::Int(i) | Value::Int64(i) | Value::Duration(i) => Basic::Int(*i),
            Value::Month(m) | Value::Weekday(m) => Basic::Int(i64::from(*m)),
            Value::Uint8(u) => Basic::Uint(u64::from(*u)),
            Value::Float(f) => Basic::Float(*f),
            Value::Str(s) => Basic::Str(s),
            _ => return None,
        })
    }

    /// Whether this is a string (for `fmt.Sprint`'s spacing rule).
    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Value::Str(_))
    }

    /// The signed integer of an integer kind.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) | Value::Duration(i) => Some(*i),
            Value::Uint8(u) | Value::Month(u) | Value::Weekday(u) => Some(i64::from(*u)),
            _ => None,
        }
    }

    /// Number of elements of a collection or bytes of a string.
    pub(crate) fn len(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.len()),
            Value::Labels(d) => Some(d.label_count()),
            Value::Map(m) => Some(m.len()),
            Value::List(l) => Some(l.len()),
            _ => None,
        }
    }
}

/// Go's float64 to int64 conversion as amd64 performs it: truncation, with
/// NaN and out-of-range values giving the minimum int64.
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) { f as i64 } else { i64::MIN }
}

/// `spf13/cast`'s `trimDecimal`: `"12.5"` → `"12"`, `"-.5"` → `"-0"`.
fn trim_decimal(s: &str) -> Cow<'_, str> {
    if !s.contains('.') {
        return Cow::Borrowed(s);
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = int.strip_prefix(['+', '-']).unwrap_or(int);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(s);
    }
    match int {
        "-" | "+" => Cow::Owned(format!("{int}0")),
        "" => Cow::Borrowed("0"),
        _ => Cow::Borrowed(int),
    }
}

/// Sprig's `toInt64` (`cast.ToInt64`, errors give 0): strings are read
/// with `strconv.ParseInt(s, 0, 0)` after dropping a decimal fraction, so
/// `"010"` is octal 8 and `"0x1F"` is 31.
pub(crate) fn to_int64(v: &Value<'_>) -> i64 {
    match v {
        Value::Float(f) => go_f64_to_i64(*f),
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            if s.is_empty() {
                return 0;
            }
            parse_int(&trim_decimal(s), true).unwrap_or(0)
        }
        other => other.as_int().unwrap_or(0),
    }
}

/// Sprig's `toFloat64` (`cast.ToFloat64`, errors give 0).
pub(crate) fn to_float64(v: &Value<'_>) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => {
            if s.is_empty() {
                return 0.0;
            }
            parse_float(s).unwrap_or(0.0)
        }
        other => other.as_int().map_or(0.0, |i| i as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_rules() {
        let s = |x: &'static str| Value::str(x);
        assert_eq!(to_int64(&s("42")), 42);
        assert_eq!(to_int64(&s("2.5")), 2);
        assert_eq!(to_int64(&s("-.5")), 0);
        assert_eq!(to_int64(&s("010")), 8);
        assert_eq!(to_int64(&s("0x1F")), 31);
        assert_eq!(to_int64(&s("1e3")), 0);
        assert_eq!(to_int64(&s("abc")), 0);
        assert_eq!(to_int64(&s("")), 0);
        assert_eq!(to_int64(&Value::Float(-2.9)), -2);
        assert_eq!(to_int64(&Value::Float(f64::NAN)), i64::MIN);
        assert_eq!(to_int64(&Value::Bool(true)), 1);
        assert_eq!(to_int64(&Value::Nil), 0);
        assert_eq!(to_float64(&s("2.5")), 2.5);
        assert_eq!(to_float64(&s("1e3")), 1000.0);
        assert_eq!(to_float64(&s("1e400")), 0.0);
        assert_eq!(to_float64(&s("x")), 0.0);
        assert_eq!(to_float64(&Value::Int(3)), 3.0);
    }

    #[test]
    fn truth() {
        assert!(!Value::Nil.truth());
        assert!(!Value::str("").truth());
        assert!(Value::str("0").truth());
        assert!(!Value::Int(0).truth());
        assert!(!Value::Float(0.0).truth());
        assert!(Value::Time(GoTime::zero()).truth());
        assert!(!Value::List(Rc::new(Vec::new())).truth());
    }
}
