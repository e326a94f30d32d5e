//! The functions a template can call, with their Go signatures, and the
//! methods of `time.Time`, `time.Duration`, `time.Month` and
//! `time.Weekday` values.
//!
//! Each function declares its parameter types ([`Ty`]) the way the Go
//! function does (`repeat(count int, str string)`), because Go's template
//! engine checks arguments against them before calling: a literal must fit
//! (`expected integer; found "x"`), any other value must have exactly that
//! type (`wrong type for value; expected string; got int`). Failures of
//! the function itself become `error calling <name>: <message>`, with Go's
//! messages, including Go runtime panics that `text/template` recovers
//! (`runtime error: slice bounds out of range …`, `runtime error: integer
//! divide by zero`, `strings: negative Repeat count`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::rc::Rc;

use base64::Engine as _;

use super::TemplateData;
use super::decimal::{Decimal, DecimalOp};
use super::format::{Overflow, duration_string, sprint, sprint_limited, sprintf_limited, sprintln_limited};
use super::strconv::{is_print, num_error, parse_int};
use super::time::{GoTime, Loc, load_location, month_name, parse as parse_time, weekday_name};
use super::value::{Basic, Value, to_float64, to_int64};
use super::{MAX_OUTPUT, json};

/// A Go parameter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    Int,
    Float,
    Time,
    Duration,
    /// `interface{}` or `reflect.Value`: anything.
    Any,
}

impl Ty {
    /// The type as Go prints it.
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Time => "time.Time",
            Ty::Duration => "time.Duration",
            Ty::Any => "interface {}",
        }
    }

    /// Whether a value of this Go type may be passed.
    pub(crate) fn accepts(self, v: &Value<'_>) -> bool {
        matches!(
            (self, v),
            (Ty::Any, _)
                | (Ty::Str, Value::Str(_))
                | (Ty::Int, Value::Int(_))
                | (Ty::Float, Value::Float(_))
                | (Ty::Time, Value::Time(_))
                | (Ty::Duration, Value::Duration(_))
        )
    }
}

/// A signature: fixed parameters and an optional variadic one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sig {
    pub(crate) fixed: &'static [Ty],
    pub(crate) variadic: Option<Ty>,
}

const fn sig(fixed: &'static [Ty]) -> Sig {
    Sig { fixed, variadic: None }
}

const fn var(fixed: &'static [Ty], variadic: Ty) -> Sig {
    Sig { fixed, variadic: Some(variadic) }
}

use Ty::{Any, Int, Str};

macro_rules! funcs {
    ($($variant:ident = $name:literal : $sig:expr,)*) => {
        /// A function a template can call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($variant,)* }

        impl Func {
            /// The function called `name`.
            pub(crate) fn lookup(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }

            /// The name templates use.
            pub(crate) fn name(self) -> &'static str {
                match self { $(Func::$variant => $name,)* }
            }

            /// The Go signature.
            pub(crate) fn sig(self) -> Sig {
                match self { $(Func::$variant => $sig,)* }
            }
        }
    };
}

funcs! {
    // Go's built-ins.
    And = "and": var(&[Any], Any),
    Or = "or": var(&[Any], Any),
    Not = "not": sig(&[Any]),
    Len = "len": sig(&[Any]),
    Index = "index": var(&[Any], Any),
    Slice = "slice": var(&[Any], Any),
    Print = "print": var(&[], Any),
    Printf = "printf": var(&[Str], Any),
    Println = "println": var(&[], Any),
    Eq = "eq": var(&[Any], Any),
    Ne = "ne": sig(&[Any, Any]),
    Lt = "lt": sig(&[Any, Any]),
    Le = "le": sig(&[Any, Any]),
    Gt = "gt": sig(&[Any, Any]),
    Ge = "ge": sig(&[Any, Any]),
    Html = "html": var(&[], Any),
    Js = "js": var(&[], Any),
    Urlquery = "urlquery": var(&[], Any),
    Call = "call": var(&[Any], Any),
    // Loki's.
    ToLower = "ToLower": sig(&[Str]),
    ToUpper = "ToUpper": sig(&[Str]),
    Replace = "Replace": sig(&[Str, Str, Str, Int]),
    Trim = "Trim": sig(&[Str, Str]),
    TrimLeft = "TrimLeft": sig(&[Str, Str]),
    TrimRight = "TrimRight": sig(&[Str, Str]),
    TrimPrefix = "TrimPrefix": sig(&[Str, Str]),
    TrimSuffix = "TrimSuffix": sig(&[Str, Str]),
    TrimSpace = "TrimSpace": sig(&[Str]),
    RegexReplaceAll = "regexReplaceAll": sig(&[Str, Str, Str]),
    RegexReplaceAllLiteral = "regexReplaceAllLiteral": sig(&[Str, Str, Str]),
    Count = "count": sig(&[Str, Str]),
    Urlencode = "urlencode": sig(&[Str]),
    Urldecode = "urldecode": sig(&[Str]),
    Bytes = "bytes": sig(&[Str]),
    Duration = "duration": sig(&[Str]),
    DurationSeconds = "duration_seconds": sig(&[Str]),
    UnixEpochMillis = "unixEpochMillis": sig(&[Ty::Time]),
    UnixEpochNanos = "unixEpochNanos": sig(&[Ty::Time]),
    ToDateInZone = "toDateInZone": sig(&[Str, Str, Str]),
    UnixToTime = "unixToTime": sig(&[Str]),
    AlignLeft = "alignLeft": sig(&[Int, Str]),
    AlignRight = "alignRight": sig(&[Int, Str]),
    B64dec = "b64dec": sig(&[Str]),
    Line = "__line__": sig(&[]),
    Timestamp = "__timestamp__": sig(&[]),
    // Sprig's.
    B64enc = "b64enc": sig(&[Str]),
    Lower = "lower": sig(&[Str]),
    Upper = "upper": sig(&[Str]),
    Title = "title": sig(&[Str]),
    Trunc = "trunc": sig(&[Int, Str]),
    Substr = "substr": sig(&[Int, Int, Str]),
    Contains = "contains": sig(&[Str, Str]),
    HasPrefix = "hasPrefix": sig(&[Str, Str]),
    HasSuffix = "hasSuffix": sig(&[Str, Str]),
    Indent = "indent": sig(&[Int, Str]),
    Nindent = "nindent": sig(&[Int, Str]),
    SprigReplace = "replace": sig(&[Str, Str, Str]),
    Repeat = "repeat": sig(&[Int, Str]),
    SprigTrim = "trim": sig(&[Str]),
    TrimAll = "trimAll": sig(&[Str, Str]),
    SprigTrimSuffix = "trimSuffix": sig(&[Str, Str]),
    SprigTrimPrefix = "trimPrefix": sig(&[Str, Str]),
    ToInt = "int": sig(&[Any]),
    ToFloat64 = "float64": sig(&[Any]),
    Add = "add": var(&[], Any),
    Sub = "sub": sig(&[Any, Any]),
    Mul = "mul": var(&[Any], Any),
    Div = "div": sig(&[Any, Any]),
    Mod = "mod": sig(&[Any, Any]),
    Addf = "addf": var(&[], Any),
    Subf = "subf": var(&[Any], Any),
    Mulf = "mulf": var(&[Any], Any),
    Divf = "divf": var(&[Any], Any),
    Max = "max": var(&[Any], Any),
    Min = "min": var(&[Any], Any),
    Maxf = "maxf": var(&[Any], Any),
    Minf = "minf": var(&[Any], Any),
    Ceil = "ceil": sig(&[Any]),
    Floor = "floor": sig(&[Any]),
    Round = "round": var(&[Any, Int], Ty::Float),
    FromJson = "fromJson": sig(&[Str]),
    Date = "date": sig(&[Str, Any]),
    ToDate = "toDate": sig(&[Str, Str]),
    Now = "now": sig(&[]),
    UnixEpoch = "unixEpoch": sig(&[Ty::Time]),
    Default = "default": var(&[Any], Any),
}

impl Func {
    /// Whether the first argument is a regular expression (compiled once
    /// when it is a literal).
    pub(crate) fn takes_regex(self) -> bool {
        matches!(self, Func::RegexReplaceAll | Func::RegexReplaceAllLiteral | Func::Count)
    }
}

/// Why a call failed: Go's message, and whether a lokistore limit was hit.
#[derive(Debug)]
pub(crate) struct CallError {
    pub(crate) msg: String,
    pub(crate) limit: bool,
}

impl From<String> for CallError {
    fn from(msg: String) -> Self {
        CallError { msg, limit: false }
    }
}

impl From<&str> for CallError {
    fn from(msg: &str) -> Self {
        CallError { msg: msg.to_owned(), limit: false }
    }
}

impl From<Overflow> for CallError {
    fn from(_: Overflow) -> Self {
        too_large()
    }
}

fn too_large() -> CallError {
    CallError { msg: format!("result exceeds the template output limit of {MAX_OUTPUT} bytes"), limit: true }
}

/// Fails unless a result of `len` bytes fits the limit.
fn check_len(len: u128) -> Result<(), CallError> {
    if len > MAX_OUTPUT as u128 { Err(too_large()) } else { Ok(()) }
}

/// What a call can see besides its arguments.
pub(crate) struct CallCx<'a, 'c> {
    pub(crate) data: &'a dyn TemplateData,
    /// The pattern compiled at parse time, if the first argument is a
    /// literal.
    pub(crate) regex: Option<&'c Result<regex::Regex, String>>,
    /// For `call`: the text of the first argument.
    pub(crate) callee: String,
}

type CallResult<'a> = Result<Value<'a>, CallError>;

/// The string of a `string` argument (checked before the call).
fn s<'v>(v: &'v Value<'_>) -> &'v str {
    match v {
        Value::Str(s) => s,
        _ => "",
    }
}

/// The integer of an `int` argument.
fn i(v: &Value<'_>) -> i64 {
    v.as_int().unwrap_or(0)
}

/// The time of a `time.Time` argument.
fn t(v: &Value<'_>) -> GoTime {
    match v {
        Value::Time(t) => *t,
        _ => GoTime::zero(),
    }
}

fn arg<'v, 'a>(args: &'v [Value<'a>], n: usize) -> &'v Value<'a> {
    args.get(n).unwrap_or(&Value::Nil)
}

/// Bytes cut out of a string (Go keeps them; invalid UTF-8 becomes U+FFFD).
fn bytes_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn owned<'a>(s: String) -> Value<'a> {
    Value::Str(Cow::Owned(s))
}

/// Calls `f` with arguments already checked against its signature.
pub(crate) fn call<'a>(f: Func, args: Vec<Value<'a>>, cx: &CallCx<'a, '_>) -> CallResult<'a> {
    let a0 = arg(&args, 0);
    let a1 = arg(&args, 1);
    let a2 = arg(&args, 2);
    Ok(match f {
        Func::And | Func::Or => return Err("and/or are evaluated by the executor".into()),
        Func::Not => Value::Bool(!a0.truth()),
        Func::Len => Value::Int(length(a0)? as i64),
        Func::Index => return index(args),
        Func::Slice => return slice(args),
        Func::Print => owned(sprint_limited(&args, MAX_OUTPUT)?),
        Func::Println => owned(sprintln_limited(&args, MAX_OUTPUT)?),
        Func::Printf => owned(sprintf_limited(s(a0), args.get(1..).unwrap_or_default(), MAX_OUTPUT)?),
        Func::Eq => Value::Bool(eq(a0, args.get(1..).unwrap_or_default())?),
        Func::Ne => Value::Bool(!eq(a0, std::slice::from_ref(a1))?),
        Func::Lt => Value::Bool(lt(a0, a1)?),
        Func::Le => Value::Bool(lt(a0, a1)? || eq(a0, std::slice::from_ref(a1))?),
        Func::Gt => Value::Bool(!(lt(a0, a1)? || eq(a0, std::slice::from_ref(a1))?)),
        Func::Ge => Value::Bool(!lt(a0, a1)?),
        Func::Html => owned(html_escape(&eval_args(&args)?)),
        Func::Js => owned(js_escape(&eval_args(&args)?)),
        Func::Urlquery => owned(query_escape(&eval_args(&args)?)),
        Func::Call => {
            if let Value::Nil = a0 {
                return Err("call of nil".into());
            }
            return Err(format!("non-function {} of type {}", cx.callee, a0.type_name()).into());
        }
        Func::ToLower | Func::Lower => owned(s(a0).chars().map(go_lower).collect()),
        Func::ToUpper | Func::Upper => owned(s(a0).chars().map(go_upper).collect()),
        Func::Title => owned(title(s(a0))),
        Func::Replace => owned(replace(s(a0), s(a1), s(a2), i(arg(&args, 3)))?),
        Func::SprigReplace => owned(replace(s(a2), s(a0), s(a1), -1)?),
        Func::Trim => owned(s(a0).trim_matches(|c| s(a1).contains(c)).to_owned()),
        Func::TrimAll => owned(s(a1).trim_matches(|c| s(a0).contains(c)).to_owned()),
        Func::TrimLeft => owned(s(a0).trim_start_matches(|c| s(a1).contains(c)).to_owned()),
        Func::TrimRight => owned(s(a0).trim_end_matches(|c| s(a1).contains(c)).to_owned()),
        Func::TrimPrefix => owned(s(a0).strip_prefix(s(a1)).unwrap_or(s(a0)).to_owned()),
        Func::TrimSuffix => owned(s(a0).strip_suffix(s(a1)).unwrap_or(s(a0)).to_owned()),
        Func::SprigTrimPrefix => owned(s(a1).strip_prefix(s(a0)).unwrap_or(s(a1)).to_owned()),
        Func::SprigTrimSuffix => owned(s(a1).strip_suffix(s(a0)).unwrap_or(s(a1)).to_owned()),
        Func::TrimSpace | Func::SprigTrim => owned(s(a0).trim().to_owned()),
        Func::RegexReplaceAll | Func::RegexReplaceAllLiteral => {
            let literal = f == Func::RegexReplaceAllLiteral;
            owned(with_regex(cx, s(a0), |re| regex_replace(re, s(a1), s(a2), literal))?)
        }
        Func::Count => Value::Int(with_regex(cx, s(a0), |re| Ok(re.find_iter(s(a1)).count()))? as i64),
        Func::Urlencode => owned(query_escape(s(a0))),
        Func::Urldecode => owned(query_unescape(s(a0))?),
        Func::Bytes => match crate::logql::parse_bytes(s(a0)) {
            Ok(b) => Value::Float(b as f64),
            Err(e) => return Err(e.into()),
        },
        Func::Duration | Func::DurationSeconds => match crate::logql::units::parse_go_duration(s(a0)) {
            Ok(d) => Value::Float((d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9),
            Err(e) => return Err(e.into()),
        },
        Func::UnixEpochMillis => owned(t(a0).unix_milli().to_string()),
        Func::UnixEpochNanos => owned(t(a0).unix_nano().to_string()),
        Func::UnixEpoch => owned(t(a0).sec.to_string()),
        Func::ToDateInZone => {
            let loc = load_location(s(a1));
            Value::Time(parse_time(s(a0), s(a2), loc, loc).unwrap_or_else(GoTime::zero))
        }
        Func::ToDate => Value::Time(parse_time(s(a0), s(a1), Loc::Local, Loc::Local).unwrap_or_else(GoTime::zero)),
        Func::UnixToTime => Value::Time(unix_to_time(s(a0))?),
        Func::AlignLeft => owned(align(i(a0), s(a1), true)?),
        Func::AlignRight => owned(align(i(a0), s(a1), false)?),
        Func::B64dec => owned(base64_decode(s(a0))),
        Func::B64enc => owned(base64::engine::general_purpose::STANDARD.encode(s(a0))),
        Func::Line => Value::Str(Cow::Borrowed(cx.data.line())),
        Func::Timestamp => Value::Time(GoTime::unix(0, cx.data.timestamp())),
        Func::Trunc => owned(trunc(i(a0), s(a1))),
        Func::Substr => owned(substr(i(a0), i(a1), s(a2))?),
        Func::Contains => Value::Bool(s(a1).contains(s(a0))),
        Func::HasPrefix => Value::Bool(s(a1).starts_with(s(a0))),
        Func::HasSuffix => Value::Bool(s(a1).ends_with(s(a0))),
        Func::Indent => owned(indent(i(a0), s(a1))?),
        Func::Nindent => owned(format!("\n{}", indent(i(a0), s(a1))?)),
        Func::Repeat => owned(repeat(s(a1), i(a0))?),
        Func::ToInt => Value::Int(to_int64(a0)),
        Func::ToFloat64 => Value::Float(to_float64(a0)),
        Func::Add => Value::Int64(args.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v)))),
        Func::Sub => Value::Int64(to_int64(a0).wrapping_sub(to_int64(a1))),
        Func::Mul => Value::Int64(args.iter().skip(1).fold(to_int64(a0), |acc, v| acc.wrapping_mul(to_int64(v)))),
        Func::Div | Func::Mod => {
            let (x, y) = (to_int64(a0), to_int64(a1));
            if y == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Value::Int64(if f == Func::Div { x.wrapping_div(y) } else { x.wrapping_rem(y) })
        }
        Func::Addf => Value::Float(decimal_op(&Value::Float(0.0), &args, DecimalOp::Add)?),
        Func::Subf => Value::Float(decimal_op(a0, args.get(1..).unwrap_or_default(), DecimalOp::Sub)?),
        Func::Mulf => Value::Float(decimal_op(a0, args.get(1..).unwrap_or_default(), DecimalOp::Mul)?),
        Func::Divf => Value::Float(decimal_op(a0, args.get(1..).unwrap_or_default(), DecimalOp::Div)?),
        Func::Max => Value::Int64(args.iter().skip(1).map(to_int64).fold(to_int64(a0), i64::max)),
        Func::Min => Value::Int64(args.iter().skip(1).map(to_int64).fold(to_int64(a0), i64::min)),
        Func::Maxf => Value::Float(args.iter().skip(1).map(to_float64).fold(to_float64(a0), go_max)),
        Func::Minf => Value::Float(args.iter().skip(1).map(to_float64).fold(to_float64(a0), go_min)),
        Func::Ceil => Value::Float(to_float64(a0).ceil()),
        Func::Floor => Value::Float(to_float64(a0).floor()),
        Func::Round => {
            let round_on = match args.get(2) {
                Some(Value::Float(r)) => *r,
                _ => 0.5,
            };
            Value::Float(round(to_float64(a0), i(a1), round_on))
        }
        Func::FromJson => json::parse(s(a0)).unwrap_or(Value::Nil),
        Func::Date => {
            let t = match a1 {
                Value::Time(t) => *t,
                Value::Int(n) | Value::Int64(n) => GoTime::unix(*n, 0),
                _ => GoTime::now(),
            };
            owned(t.in_loc(Loc::Local).format(s(a0)))
        }
        Func::Now => Value::Time(GoTime::now()),
        Func::Default => {
            if args.len() < 2 || a1.is_empty() {
                a0.clone()
            } else {
                a1.clone()
            }
        }
    })
}

// Built-ins.

fn length(v: &Value<'_>) -> Result<usize, CallError> {
    match v {
        Value::Nil => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        other => other.len().ok_or_else(|| format!("len of type {}", other.type_name()).into()),
    }
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(v: &Value<'_>, cap: usize) -> Result<usize, CallError> {
    let x = match v {
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => other.as_int().ok_or_else(|| format!("cannot index slice/array with type {}", other.type_name()))?,
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}").into());
    }
    Ok(x as usize)
}

fn index<'a>(args: Vec<Value<'a>>) -> CallResult<'a> {
    let mut it = args.into_iter();
    let mut item = it.next().unwrap_or(Value::Nil);
    if let Value::Nil = item {
        return Err("index of untyped nil".into());
    }
    for ix in it {
        item = match &item {
            Value::Str(s) => {
                let x = index_arg(&ix, s.len())?;
                match s.as_bytes().get(x) {
                    Some(&b) => Value::Uint8(b),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::List(l) => {
                let x = index_arg(&ix, l.len())?;
                match l.get(x) {
                    Some(v) => v.clone(),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::Labels(d) => Value::Str(Cow::Borrowed(d.label(map_key(&ix)?).unwrap_or(""))),
            Value::Map(m) => m.get(map_key(&ix)?).cloned().unwrap_or(Value::Nil),
            Value::Nil => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.type_name()).into()),
        };
    }
    Ok(item)
}

/// Go's `prepareArg` for a `string` map key.
fn map_key<'v>(ix: &'v Value<'_>) -> Result<&'v str, CallError> {
    match ix {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("value is nil; should be of type string".into()),
        other => Err(format!("value has type {}; should be string", other.type_name()).into()),
    }
}

fn slice<'a>(args: Vec<Value<'a>>) -> CallResult<'a> {
    let item = arg(&args, 0);
    let indexes = args.get(1..).unwrap_or_default();
    if let Value::Nil = item {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()).into());
    }
    let cap = match item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name()).into()),
    };
    let mut idx = [0, cap, 0];
    for (k, ix) in indexes.iter().enumerate() {
        if let Some(slot) = idx.get_mut(k) {
            *slot = index_arg(ix, cap)?;
        }
    }
    let [lo, hi, max] = idx;
    if lo > hi {
        return Err(format!("invalid slice index: {lo} > {hi}").into());
    }
    if indexes.len() == 3 && hi > max {
        return Err(format!("invalid slice index: {hi} > {max}").into());
    }
    Ok(match item {
        Value::Str(s) => owned(bytes_str(s.as_bytes().get(lo..hi).unwrap_or_default())),
        Value::List(l) => Value::List(Rc::new(l.get(lo..hi).unwrap_or_default().to_vec())),
        _ => Value::Nil,
    })
}

/// Go's `eq(arg1, arg2...)`.
pub(crate) fn eq(a: &Value<'_>, others: &[Value<'_>]) -> Result<bool, CallError> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = a.basic();
    for b in others {
        let truth = match (k1, b.basic()) {
            (Some(Basic::Int(x)), Some(Basic::Uint(y))) => x >= 0 && x as u64 == y,
            (Some(Basic::Uint(x)), Some(Basic::Int(y))) => y >= 0 && x == y as u64,
            (Some(Basic::Bool(x)), Some(Basic::Bool(y))) => x == y,
            (Some(Basic::Int(x)), Some(Basic::Int(y))) => x == y,
            (Some(Basic::Uint(x)), Some(Basic::Uint(y))) => x == y,
            (Some(Basic::Float(x)), Some(Basic::Float(y))) => x == y,
            (Some(Basic::Str(x)), Some(Basic::Str(y))) => x == y,
            (None, None) => match (a, b) {
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::Time(x), Value::Time(y)) => x == y,
                _ if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                    return Err(
                        format!("non-comparable type {}: {}", sprint(std::slice::from_ref(b)), b.type_name()).into()
                    );
                }
                _ => {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        sprint(std::slice::from_ref(a)),
                        a.type_name(),
                        b.type_name(),
                        sprint(std::slice::from_ref(b))
                    )
                    .into());
                }
            },
            _ => {
                if matches!(a, Value::Nil) || matches!(b, Value::Nil) {
                    false
                } else {
                    return Err(
                        format!("incompatible types for comparison: {} and {}", a.type_name(), b.type_name()).into()
                    );
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt(arg1, arg2)`.
pub(crate) fn lt(a: &Value<'_>, b: &Value<'_>) -> Result<bool, CallError> {
    let (Some(k1), Some(k2)) = (a.basic(), b.basic()) else {
        return Err("invalid type for comparison".into());
    };
    Ok(match (k1, k2) {
        (Basic::Int(x), Basic::Uint(y)) => x < 0 || (x as u64) < y,
        (Basic::Uint(x), Basic::Int(y)) => y >= 0 && x < y as u64,
        (Basic::Bool(_), Basic::Bool(_)) => return Err("invalid type for comparison".into()),
        (Basic::Int(x), Basic::Int(y)) => x < y,
        (Basic::Uint(x), Basic::Uint(y)) => x < y,
        (Basic::Float(x), Basic::Float(y)) => x < y,
        (Basic::Str(x), Basic::Str(y)) => x < y,
        _ => {
            return Err(format!("incompatible types for comparison: {} and {}", a.type_name(), b.type_name()).into());
        }
    })
}

/// Go's `evalArgs`: one string as is, anything else through `fmt.Sprint`
/// (a missing value printed as `<no value>`).
fn eval_args(args: &[Value<'_>]) -> Result<String, CallError> {
    if let [Value::Str(s)] = args {
        return Ok(s.to_string());
    }
    let printable: Vec<Value<'_>> =
        args.iter().map(|a| if let Value::Nil = a { Value::str("<no value>") } else { a.clone() }).collect();
    Ok(sprint_limited(&printable, MAX_OUTPUT)?)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, CallError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = |k: usize| b.get(k).and_then(|&h| char::from(h).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => {
                        let bad = s.get(i..).unwrap_or_default();
                        let bad: String = bad.chars().take(3).collect();
                        let bad = if bad.len() > 3 { bad.get(..3).unwrap_or(&bad).to_owned() } else { bad };
                        return Err(format!("invalid URL escape {}", super::strconv::quote(&bad)).into());
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(bytes_str(&out))
}

// Strings.

/// Go's `unicode.ToUpper` (simple case mapping: one character).
fn go_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower`.
fn go_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Go's `unicode.ToTitle`.
fn go_title(c: char) -> char {
    match c {
        '\u{1c4}'..='\u{1c6}' => '\u{1c5}',
        '\u{1c7}'..='\u{1c9}' => '\u{1c8}',
        '\u{1ca}'..='\u{1cc}' => '\u{1cb}',
        '\u{1f1}'..='\u{1f3}' => '\u{1f2}',
        c => go_upper(c),
    }
}

/// Go's `strings.Title`.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphabetic() || c.is_numeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { go_title(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

/// Go's `strings.Replace(s, old, new, n)`.
fn replace(s: &str, old: &str, new: &str, n: i64) -> Result<String, CallError> {
    if old == new || n == 0 {
        return Ok(s.to_owned());
    }
    let matches = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old).count() };
    if matches == 0 {
        return Ok(s.to_owned());
    }
    let n = if n < 0 || matches < n as usize { matches } else { n as usize };
    check_len(s.len() as u128 + n as u128 * new.len() as u128)?;
    Ok(s.replacen(old, new, n))
}

fn trunc(c: i64, s: &str) -> String {
    let l = s.len() as i64;
    if c < 0 && l + c > 0 {
        return bytes_str(s.as_bytes().get((l + c) as usize..).unwrap_or_default());
    }
    if c >= 0 && l > c {
        return bytes_str(s.as_bytes().get(..c as usize).unwrap_or_default());
    }
    s.to_owned()
}

/// Sprig's `substr`, including Go's slice bounds panics.
fn substr(start: i64, end: i64, s: &str) -> Result<String, CallError> {
    let b = s.as_bytes();
    let l = b.len() as i64;
    let oob = |m: String| -> CallError { format!("runtime error: slice bounds out of range {m}").into() };
    if start < 0 {
        if end < 0 {
            return Err(oob(format!("[:{end}]")));
        }
        if end > l {
            return Err(oob(format!("[:{end}] with length {l}")));
        }
        return Ok(bytes_str(b.get(..end as usize).unwrap_or_default()));
    }
    if end < 0 || end > l {
        if start > l {
            return Err(oob(format!("[{start}:{l}]")));
        }
        return Ok(bytes_str(b.get(start as usize..).unwrap_or_default()));
    }
    if start > end {
        return Err(oob(format!("[{start}:{end}]")));
    }
    Ok(bytes_str(b.get(start as usize..end as usize).unwrap_or_default()))
}

/// Go's `strings.Repeat`.
fn repeat(s: &str, count: i64) -> Result<String, CallError> {
    if count < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let total = s.len() as u128 * count as u128;
    if total > i64::MAX as u128 {
        return Err("strings: Repeat output length overflow".into());
    }
    check_len(total)?;
    Ok(s.repeat(count as usize))
}

fn indent(spaces: i64, v: &str) -> Result<String, CallError> {
    let pad = repeat(" ", spaces)?;
    let lines = v.matches('\n').count() as u128 + 1;
    check_len(v.len() as u128 + lines * pad.len() as u128 + 1)?;
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

/// Loki's `alignLeft` / `alignRight`: pad or cut to `count` characters.
fn align(count: i64, src: &str, left: bool) -> Result<String, CallError> {
    let l = src.chars().count() as i64;
    if count < 0 || count == l {
        return Ok(src.to_owned());
    }
    let pad = count - l;
    if pad > 0 {
        let p = repeat(" ", pad)?;
        check_len(src.len() as u128 + p.len() as u128)?;
        return Ok(if left { format!("{src}{p}") } else { format!("{p}{src}") });
    }
    Ok(if left { src.chars().take(count as usize).collect() } else { src.chars().skip((l - count) as usize).collect() })
}

/// Loki's `b64dec`: pads a missing `=` or `==`, decodes with Go's standard
/// encoding, returns the error text on failure.
fn base64_decode(v: &str) -> String {
    let rem = v.len() % 4;
    let padded: Cow<'_, str> =
        if rem != 0 && rem != 1 { Cow::Owned(format!("{v}{}", "=".repeat(4 - rem))) } else { Cow::Borrowed(v) };
    match go_base64_decode(padded.as_bytes()) {
        Ok(b) => bytes_str(&b),
        Err(at) => format!("illegal base64 data at input byte {at}"),
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString` (padding required, `\r` and `\n`
/// ignored); the error is the offset Go reports.
fn go_base64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    let is_nl = |c: u8| c == b'\n' || c == b'\r';
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut trailing_err = None;
        while j < 4 {
            let Some(&c) = src.get(si) else {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            };
            si += 1;
            if let Some(v) = b64_value(c) {
                if let Some(slot) = dbuf.get_mut(j) {
                    *slot = v;
                }
                j += 1;
                continue;
            }
            if is_nl(c) {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while src.get(si).is_some_and(|&c| is_nl(c)) {
                        si += 1;
                    }
                    match src.get(si) {
                        None => return Err(src.len()),
                        Some(&b'=') => si += 1,
                        Some(_) => return Err(si - 1),
                    }
                }
                _ => {}
            }
            while src.get(si).is_some_and(|&c| is_nl(c)) {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val =
            (u32::from(dbuf[0]) << 18) | (u32::from(dbuf[1]) << 12) | (u32::from(dbuf[2]) << 6) | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(bytes.get(..dlen.saturating_sub(1)).unwrap_or_default());
        if let Some(at) = trailing_err {
            return Err(at);
        }
    }
    Ok(out)
}

/// Loki's `unixToTime`: 5 digits are days, 10 seconds, 13 milliseconds, 16
/// microseconds, 19 nanoseconds.
fn unix_to_time(epoch: &str) -> Result<GoTime, CallError> {
    let i = parse_int(epoch, false)
        .map_err(|e| format!("unable to parse time '{epoch}': {}", num_error("ParseInt", epoch, e)))?;
    Ok(match epoch.len() {
        5 => GoTime::unix(i.wrapping_mul(86_400), 0),
        10 => GoTime::unix(i, 0),
        13 => GoTime::unix(0, i.wrapping_mul(1_000_000)),
        16 => GoTime::unix(0, i.wrapping_mul(1000)),
        19 => GoTime::unix(0, i),
        _ => return Err(format!("unable to parse time '{epoch}': %!w(<nil>)").into()),
    })
}

// Numbers.

fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Go's `math.Pow(10, p)` for an integer `p` (repeated squaring of the
/// mantissa, as Go computes it, so results match bit for bit).
fn go_pow10(p: i64) -> f64 {
    if p == 0 {
        return 1.0;
    }
    // 10 = 0.625 × 2^4.
    let (mut x1, mut xe) = (0.625f64, 4i64);
    let (mut a1, mut ae) = (1.0f64, 0i64);
    let mut i = p.unsigned_abs();
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae = ae.saturating_add(xe);
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if p < 0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// `frac × 2^exp`, scaling in steps so intermediate powers stay finite.
fn ldexp(mut frac: f64, mut exp: i64) -> f64 {
    while exp > 1000 {
        frac *= 2f64.powi(1000);
        exp -= 1000;
        if frac.is_infinite() {
            return frac;
        }
    }
    while exp < -1000 {
        frac *= 2f64.powi(-1000);
        exp += 1000;
        if frac == 0.0 {
            return frac;
        }
    }
    frac * 2f64.powi(exp as i32)
}

/// Sprig's `round(a, p, roundOn)`.
fn round(val: f64, places: i64, round_on: f64) -> f64 {
    let pow = go_pow10(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on { digit.ceil() } else { digit.floor() };
    r / pow
}

/// Sprig's `execDecimalOp`: arguments become exact decimals of their
/// shortest representation, the operation runs in decimal, the result is
/// rounded to a float.
fn decimal_op(first: &Value<'_>, rest: &[Value<'_>], op: DecimalOp) -> Result<f64, CallError> {
    let mut acc = Decimal::from_f64(to_float64(first))?;
    for v in rest {
        acc = acc.apply(op, &Decimal::from_f64(to_float64(v))?)?;
    }
    Ok(acc.to_f64())
}

fn with_regex<T>(
    cx: &CallCx<'_, '_>,
    pattern: &str,
    f: impl FnOnce(&regex::Regex) -> Result<T, CallError>,
) -> Result<T, CallError> {
    match cx.regex {
        Some(Ok(re)) => f(re),
        Some(Err(e)) => Err(e.clone().into()),
        None => match super::goregex::compile(pattern) {
            Ok(re) => f(&re),
            Err(e) => Err(e.into()),
        },
    }
}

/// `ReplaceAllString` / `ReplaceAllLiteralString`, stopping at the output
/// limit.
fn regex_replace(re: &regex::Regex, s: &str, repl: &str, literal: bool) -> Result<String, CallError> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(s.get(last..m.start()).unwrap_or_default());
        if literal {
            out.push_str(repl);
        } else {
            caps.expand(repl, &mut out);
        }
        last = m.end();
        check_len(out.len() as u128)?;
    }
    out.push_str(s.get(last..).unwrap_or_default());
    check_len(out.len() as u128)?;
    Ok(out)
}

// Methods.

/// A method of a time value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    TimeString,
    Format,
    Unix,
    UnixMilli,
    UnixMicro,
    UnixNano,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Nanosecond,
    YearDay,
    Weekday,
    Utc,
    Local,
    IsZero,
    Before,
    After,
    Equal,
    TimeSub,
    TimeAdd,
    AddDate,
    DurString,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
    NameString,
}

impl Method {
    /// The method `name` of `recv`'s type.
    pub(crate) fn lookup(recv: &Value<'_>, name: &str) -> Option<Method> {
        use Method::*;
        Some(match recv {
            Value::Time(_) => match name {
                "String" => TimeString,
                "Format" => Format,
                "Unix" => Unix,
                "UnixMilli" => UnixMilli,
                "UnixMicro" => UnixMicro,
                "UnixNano" => UnixNano,
                "Year" => Year,
                "Month" => Month,
                "Day" => Day,
                "Hour" => Hour,
                "Minute" => Minute,
                "Second" => Second,
                "Nanosecond" => Nanosecond,
                "YearDay" => YearDay,
                "Weekday" => Weekday,
                "UTC" => Utc,
                "Local" => Local,
                "IsZero" => IsZero,
                "Before" => Before,
                "After" => After,
                "Equal" => Equal,
                "Sub" => TimeSub,
                "Add" => TimeAdd,
                "AddDate" => AddDate,
                _ => return None,
            },
            Value::Duration(_) => match name {
                "String" => DurString,
                "Hours" => Hours,
                "Minutes" => Minutes,
                "Seconds" => Seconds,
                "Milliseconds" => Milliseconds,
                "Microseconds" => Microseconds,
                "Nanoseconds" => Nanoseconds,
                _ => return None,
            },
            Value::Month(_) | Value::Weekday(_) if name == "String" => NameString,
            _ => return None,
        })
    }

    pub(crate) fn sig(self) -> Sig {
        match self {
            Method::Format => sig(&[Str]),
            Method::Before | Method::After | Method::Equal | Method::TimeSub => sig(&[Ty::Time]),
            Method::TimeAdd => sig(&[Ty::Duration]),
            Method::AddDate => sig(&[Int, Int, Int]),
            _ => sig(&[]),
        }
    }

    /// Calls the method on `recv` with checked arguments.
    pub(crate) fn call<'a>(self, recv: &Value<'a>, args: &[Value<'a>]) -> Value<'a> {
        let tm = t(recv);
        let d = recv.as_int().unwrap_or(0);
        let a0 = arg(args, 0);
        match self {
            Method::TimeString => owned(tm.go_string()),
            Method::Format => owned(tm.format(s(a0))),
            Method::Unix => Value::Int64(tm.sec),
            Method::UnixMilli => Value::Int64(tm.unix_milli()),
            Method::UnixMicro => Value::Int64(tm.unix_micro()),
            Method::UnixNano => Value::Int64(tm.unix_nano()),
            Method::Year => Value::Int(tm.civil().year),
            Method::Month => Value::Month(tm.civil().month),
            Method::Day => Value::Int(i64::from(tm.civil().day)),
            Method::Hour => Value::Int(i64::from(tm.civil().hour)),
            Method::Minute => Value::Int(i64::from(tm.civil().minute)),
            Method::Second => Value::Int(i64::from(tm.civil().second)),
            Method::Nanosecond => Value::Int(i64::from(tm.nsec)),
            Method::YearDay => Value::Int(i64::from(tm.civil().yday)),
            Method::Weekday => Value::Weekday(tm.civil().weekday),
            Method::Utc => Value::Time(tm.in_loc(Loc::Utc)),
            Method::Local => Value::Time(tm.in_loc(Loc::Local)),
            Method::IsZero => Value::Bool(tm.is_zero()),
            Method::Before => Value::Bool(tm.sub(&t(a0)) < 0),
            Method::After => Value::Bool(tm.sub(&t(a0)) > 0),
            Method::Equal => Value::Bool(tm.sec == t(a0).sec && tm.nsec == t(a0).nsec),
            Method::TimeSub => Value::Duration(tm.sub(&t(a0))),
            Method::TimeAdd => Value::Time(tm.add(a0.as_int().unwrap_or(0))),
            Method::AddDate => Value::Time(tm.add_date(i(a0), i(arg(args, 1)), i(arg(args, 2)))),
            Method::DurString => owned(duration_string(d)),
            Method::Hours => Value::Float((d / 3_600_000_000_000) as f64 + (d % 3_600_000_000_000) as f64 / 3.6e12),
            Method::Minutes => Value::Float((d / 60_000_000_000) as f64 + (d % 60_000_000_000) as f64 / 6e10),
            Method::Seconds => Value::Float((d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9),
            Method::Milliseconds => Value::Int64(d / 1_000_000),
            Method::Microseconds => Value::Int64(d / 1000),
            Method::Nanoseconds => Value::Int64(d),
            Method::NameString => match recv {
                Value::Month(m) => Value::str(month_name(*m)),
                Value::Weekday(w) => Value::str(weekday_name(*w)),
                _ => Value::Nil,
            },
        }
    }
}

/// A decoded JSON object, for tests.
#[cfg(test)]
pub(crate) fn json_map<'a>(pairs: Vec<(&str, Value<'a>)>) -> Value<'a> {
    Value::Map(Rc::new(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<std::collections::BTreeMap<_, _>>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(title("hello wORLD foo_bar x-y"), "Hello WORLD Foo_bar X-Y");
        assert_eq!(go_upper('ß'), 'ß');
        assert_eq!(go_lower('İ'), 'i');
        assert_eq!(replace("abc", "", "-", -1).ok().as_deref(), Some("-a-b-c-"));
        assert_eq!(replace("abc", "", "-", 2).ok().as_deref(), Some("-a-bc"));
        assert_eq!(trunc(-1, "Hello, world"), "d");
        assert_eq!(trunc(5, "Hello, world"), "Hello");
        assert_eq!(trunc(-20, "Hi"), "Hi");
        assert_eq!(substr(1, 3, "blip").ok().as_deref(), Some("li"));
        assert_eq!(substr(0, 10, "abc").ok().as_deref(), Some("abc"));
        assert_eq!(
            substr(5, 10, "abc").map_err(|e| e.msg).err().as_deref(),
            Some("runtime error: slice bounds out of range [5:3]")
        );
        assert_eq!(
            substr(-1, -1, "abc").map_err(|e| e.msg).err().as_deref(),
            Some("runtime error: slice bounds out of range [:-1]")
        );
        assert_eq!(
            substr(2, 1, "abc").map_err(|e| e.msg).err().as_deref(),
            Some("runtime error: slice bounds out of range [2:1]")
        );
        assert_eq!(align(8, "Hello, 世界", true).ok().as_deref(), Some("Hello, 世"));
        assert_eq!(align(2, "Hello, 世界", false).ok().as_deref(), Some("世界"));
        assert_eq!(align(-1, "abc", false).ok().as_deref(), Some("abc"));
        assert_eq!(indent(2, "a\nb").ok().as_deref(), Some("  a\n  b"));
        assert!(repeat("x", 1 << 40).is_err_and(|e| e.limit));
        assert_eq!(repeat("x", -1).map_err(|e| e.msg).err().as_deref(), Some("strings: negative Repeat count"));
        assert_eq!(repeat("", i64::MAX).ok().as_deref(), Some(""));
    }

    #[test]
    fn encodings() {
        assert_eq!(base64_decode("Zm9vYmE"), "fooba");
        assert_eq!(base64_decode("Zm9vYg"), "foob");
        assert_eq!(base64_decode("aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"), "i'm a string, encode me!");
        assert_eq!(base64_decode("Zm9vY"), "illegal base64 data at input byte 4");
        assert_eq!(base64_decode("Zm9v!mFy"), "illegal base64 data at input byte 4");
        assert_eq!(base64_decode("Zm9v\nYmFy"), "foobar");
        assert_eq!(base64_decode("Zg==Zg=="), "illegal base64 data at input byte 4");
        assert_eq!(query_escape("a b/c?d=é~"), "a+b%2Fc%3Fd%3D%C3%A9~");
        assert_eq!(query_unescape("a+b%2Fc").ok().as_deref(), Some("a b/c"));
        assert_eq!(query_unescape("100%zz").map_err(|e| e.msg).err().as_deref(), Some("invalid URL escape \"%zz\""));
        assert_eq!(query_unescape("%4").map_err(|e| e.msg).err().as_deref(), Some("invalid URL escape \"%4\""));
        assert_eq!(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(js_escape("a'b\"c<d>=&\\\n\u{2028}é"), "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\\\u000A\\u2028é");
    }

    #[test]
    fn numbers() {
        assert_eq!(round(3.885714285714286, 5, 0.2), 3.88572);
        assert_eq!(round(2.5, 0, 0.5), 3.0);
        assert_eq!(round(-2.5, 0, 0.5), -3.0);
        assert_eq!(round(1.2345, 2, 0.5), 1.23);
        assert_eq!(go_pow10(5), 100000.0);
        assert_eq!(go_pow10(-2), 0.01);
        assert_eq!(go_pow10(22), 1e22);
        assert!(go_pow10(400).is_infinite());
        assert_eq!(go_pow10(-400), 0.0);
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_max(-0.0, 0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(go_min(-0.0, 0.0).to_bits(), (-0.0f64).to_bits());
        let t = unix_to_time("19503").map(|t| t.go_string()).map_err(|e| e.msg);
        assert_eq!(t.as_deref(), Ok("2023-05-26 00:00:00 +0000 UTC"));
        let e = unix_to_time("abc").map_err(|e| e.msg).err();
        assert_eq!(
            e.as_deref(),
            Some(r#"unable to parse time 'abc': strconv.ParseInt: parsing "abc": invalid syntax"#)
        );
        let e = unix_to_time("464").map_err(|e| e.msg).err();
        assert_eq!(e.as_deref(), Some("unable to parse time '464': %!w(<nil>)"));
    }

    #[test]
    fn comparisons() {
        let s = |x: &'static str| Value::str(x);
        assert_eq!(eq(&s("a"), &[s("b"), s("a")]).ok(), Some(true));
        assert_eq!(eq(&Value::Int(1), &[Value::Int64(1)]).ok(), Some(true));
        assert_eq!(eq(&Value::Int(97), &[Value::Uint8(97)]).ok(), Some(true));
        assert_eq!(eq(&Value::Nil, &[s("a")]).ok(), Some(false));
        assert_eq!(eq(&Value::Nil, &[Value::Nil]).ok(), Some(true));
        assert_eq!(
            eq(&s("1"), &[Value::Int(1)]).map_err(|e| e.msg).err().as_deref(),
            Some("incompatible types for comparison: string and int")
        );
        assert_eq!(eq(&s("1"), &[]).map_err(|e| e.msg).err().as_deref(), Some("missing argument for comparison"));
        assert_eq!(lt(&Value::Int(1), &Value::Int(2)).ok(), Some(true));
        assert_eq!(lt(&s("a"), &s("b")).ok(), Some(true));
        assert_eq!(
            lt(&Value::Bool(true), &Value::Bool(false)).map_err(|e| e.msg).err().as_deref(),
            Some("invalid type for comparison")
        );
        assert_eq!(
            lt(&Value::Nil, &Value::Int(1)).map_err(|e| e.msg).err().as_deref(),
            Some("invalid type for comparison")
        );
        let m = json_map(vec![("a", Value::Float(1.0))]);
        assert_eq!(
            eq(&m, std::slice::from_ref(&m)).map_err(|e| e.msg).err().as_deref(),
            Some("non-comparable type map[a:1]: map[string]interface {}")
        );
    }
}
