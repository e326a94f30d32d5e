//! Go's `fmt` for template values: `Sprint` (what `{{ x }}` and `print`
//! write), `Sprintln` and `Sprintf` with Go's verbs, flags, widths,
//! precisions, argument indexes and error forms (`%!d(string=x)`,
//! `%!v(MISSING)`, `%!(EXTRA int=1)`, `%!(NOVERB)`, `%!(BADWIDTH)`,
//! `%!(BADPREC)`, `%!d(BADINDEX)`).
//!
//! | type | verbs |
//! |---|---|
//! | bool | `%t %v` |
//! | integers | `%d %b %o %O %x %X %c %q %U %v` |
//! | float64 | `%e %E %f %F %g %G %b %x %X %v` |
//! | string | `%s %q %x %X %v` |
//! | time.Time, time.Duration, time.Month, time.Weekday | their `String()` for `%v %s %q %x %X`; the numeric verbs on the integer kinds |
//! | maps, slices | `map[k:v …]`, `[a b]`, each element formatted with the verb; `%#v` in Go syntax |
//!
//! Widths and precisions count characters; `%T` prints the Go type. Not
//! supported: `%p` (no value here has an address) and the numeric verbs on
//! a `time.Time` (Go prints its internal fields); both print as a bad verb.
//!
//! Every function stops and reports [`Overflow`] once its output would pass
//! the caller's byte limit.

use std::fmt::Write as _;

use super::strconv::{can_backquote, is_print, quote, quote_ascii, quote_rune};
use super::time::{GoTime, Loc, month_name, weekday_name};
use super::value::Value;

/// The output would pass the byte limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// `fmt.Sprint(args...)` without a limit (used for small values only, e.g.
/// in error messages).
pub(crate) fn sprint(args: &[Value<'_>]) -> String {
    let mut p = Printer::new(usize::MAX);
    p.do_print(args);
    p.buf
}

/// `fmt.Sprint(args...)`.
pub(crate) fn sprint_limited(args: &[Value<'_>], limit: usize) -> Result<String, Overflow> {
    let mut p = Printer::new(limit);
    p.do_print(args);
    p.finish()
}

/// `fmt.Sprintln(args...)`.
pub(crate) fn sprintln_limited(args: &[Value<'_>], limit: usize) -> Result<String, Overflow> {
    let mut p = Printer::new(limit);
    p.do_println(args);
    p.finish()
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf_limited(format: &str, args: &[Value<'_>], limit: usize) -> Result<String, Overflow> {
    let mut p = Printer::new(limit);
    p.do_printf(format, args);
    p.finish()
}

/// Writes `v` as `{{ v }}` prints it (`fmt.Fprint`, with an invalid value
/// printed as `<no value>`).
pub(crate) fn print_value(out: &mut String, v: &Value<'_>, limit: usize) -> Result<(), Overflow> {
    let direct = |out: &mut String, s: &str| {
        if out.len() + s.len() > limit {
            return Err(Overflow);
        }
        out.push_str(s);
        Ok(())
    };
    match v {
        Value::Nil => direct(out, "<no value>")?,
        Value::Str(s) => direct(out, s)?,
        other => {
            let mut p = Printer::new(limit.saturating_sub(out.len()));
            p.print_arg(other, 'v');
            out.push_str(&p.finish()?);
        }
    }
    Ok(())
}

/// Go's `Duration.String()`.
pub(crate) fn duration_string(d: i64) -> String {
    crate::logql::format_go_duration(d)
}

/// Go's `Time.GoString()` (`%#v`).
fn time_go_string(t: &GoTime) -> String {
    let c = t.civil();
    let loc = match t.loc {
        Loc::Utc => "time.UTC".to_owned(),
        Loc::Local => "time.Local".to_owned(),
        Loc::Fixed { name, .. } => format!("time.Location({})", quote(name.as_str())),
    };
    format!(
        "time.Date({}, time.{}, {}, {}, {}, {}, {}, {loc})",
        c.year,
        month_name(c.month),
        c.day,
        c.hour,
        c.minute,
        c.second,
        t.nsec
    )
}

/// The `String()` of a value that has one (`fmt.Stringer`).
fn stringer(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Time(t) => Some(t.go_string()),
        Value::Duration(d) => Some(duration_string(*d)),
        Value::Month(m) => Some(month_name(*m).to_owned()),
        Value::Weekday(d) => Some(weekday_name(*d).to_owned()),
        _ => None,
    }
}

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

struct Printer {
    buf: String,
    limit: usize,
    overflow: bool,
    f: Flags,
    erroring: bool,
    reordered: bool,
    good_arg_num: bool,
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Go's `tooLarge` bound on widths and precisions.
const TOO_LARGE: usize = 1_000_000;

impl Printer {
    fn new(limit: usize) -> Self {
        Printer {
            buf: String::new(),
            limit,
            overflow: false,
            f: Flags::default(),
            erroring: false,
            reordered: false,
            good_arg_num: true,
        }
    }

    fn finish(self) -> Result<String, Overflow> {
        if self.overflow { Err(Overflow) } else { Ok(self.buf) }
    }

    fn room(&mut self, n: usize) -> bool {
        if self.overflow || self.buf.len().saturating_add(n) > self.limit {
            self.overflow = true;
            return false;
        }
        true
    }

    fn write(&mut self, s: &str) {
        if self.room(s.len()) {
            self.buf.push_str(s);
        }
    }

    fn write_char(&mut self, c: char) {
        if self.room(c.len_utf8()) {
            self.buf.push(c);
        }
    }

    fn write_padding(&mut self, n: usize) {
        if n == 0 || !self.room(n) {
            return;
        }
        let c = if self.f.zero && !self.f.minus { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Pads `s` to the width (counted in characters).
    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid else {
            self.write(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.write(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.write(s);
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| s.get(..i).unwrap_or(s)),
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &[u8], digits: &[u8; 16]) {
        let mut length = s.len();
        if let Some(p) = self.f.prec
            && p < length
        {
            length = p;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if !self.room(width) {
            return;
        }
        let x = char::from(digits[10] + (b'x' - b'a'));
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(x);
        }
        for (i, &c) in s.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(x);
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xf)]));
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
        } else if self.f.plus {
            self.pad(&quote_ascii(s));
        } else {
            self.pad(&quote(s));
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value<'_>) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s.as_bytes(), LOWER_HEX),
            'X' => self.fmt_sx(s.as_bytes(), UPPER_HEX),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_bool(&mut self, b: bool, verb: char, v: &Value<'_>) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 16]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { (u as i64).unsigned_abs() } else { u };
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = old;
                return;
            }
        } else if self.f.zero
            && !self.f.minus
            && let Some(w) = self.f.wid
        {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        if !self.room(prec) {
            return;
        }
        // Digits, right to left.
        let mut rev: Vec<u8> = Vec::with_capacity(prec.max(24));
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[10] + (b'x' - b'a'));
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8(rev).unwrap_or_default();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = format!("U+{u:04X}");
        if let Some(p) = self.f.prec
            && p > 4
        {
            if !self.room(p) {
                return;
            }
            let hex = format!("{u:X}");
            s = format!("U+{}{hex}", "0".repeat(p.saturating_sub(hex.len())));
        }
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn rune_of(u: u64) -> char {
        u32::try_from(u).ok().and_then(char::from_u32).unwrap_or(char::REPLACEMENT_CHARACTER)
    }

    fn fmt_int_verb(&mut self, u: u64, signed: bool, verb: char, v: &Value<'_>) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let old = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(u, 16, false, 'v', LOWER_HEX);
                self.f.sharp = old;
            }
            'v' | 'd' => self.fmt_integer(u, 10, signed, verb, LOWER_HEX),
            'b' => self.fmt_integer(u, 2, signed, verb, LOWER_HEX),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, LOWER_HEX),
            'x' => self.fmt_integer(u, 16, signed, verb, LOWER_HEX),
            'X' => self.fmt_integer(u, 16, signed, verb, UPPER_HEX),
            'c' => {
                let c = if signed && (u as i64) < 0 { char::REPLACEMENT_CHARACTER } else { Self::rune_of(u) };
                self.pad(c.encode_utf8(&mut [0u8; 4]));
            }
            'q' => {
                let c = if signed && (u as i64) < 0 { char::REPLACEMENT_CHARACTER } else { Self::rune_of(u) };
                let q = quote_rune(c, self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_float_verb(&mut self, x: f64, verb: char, v: &Value<'_>) {
        match verb {
            'v' => self.fmt_float(x, 'g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(x, verb, None),
            'f' | 'e' | 'E' => self.fmt_float(x, verb, Some(6)),
            'F' => self.fmt_float(x, 'f', Some(6)),
            _ => self.bad_verb(verb, v),
        }
    }

    /// Go's `fmt.fmtFloat`: `strconv` formatting plus sign, padding and `#`.
    fn fmt_float(&mut self, x: f64, verb: char, default_prec: Option<usize>) {
        let prec = self.f.prec.or(default_prec);
        if let Some(p) = prec
            && !self.room(p)
        {
            return;
        }
        let formatted = format_float(x, verb, prec);
        // `num` keeps a leading sign: '+' when positive.
        let mut num =
            if formatted.starts_with('-') || formatted.starts_with('+') { formatted } else { format!("+{formatted}") };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if second == Some(b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            num = sharp_float(&num, verb, prec);
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero
                && !self.f.minus
                && let Some(w) = self.f.wid
                && w > num.len()
            {
                let (sign, rest) = num.split_at(1);
                let rest = rest.to_owned();
                self.write(sign);
                self.write_padding(w - num.len());
                self.write(&rest);
                return;
            }
            self.pad(&num);
            return;
        }
        let rest = num.get(1..).unwrap_or_default().to_owned();
        self.pad(&rest);
    }

    fn print_arg(&mut self, v: &Value<'_>, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, v),
            }
            return;
        }
        match verb {
            'T' => {
                self.fmt_s(v.type_name());
                return;
            }
            'p' => {
                self.bad_verb(verb, v);
                return;
            }
            _ => {}
        }
        self.print_value(v, verb, 0);
    }

    fn print_value(&mut self, v: &Value<'_>, verb: char, depth: usize) {
        if self.overflow {
            return;
        }
        // Stringers, unless reporting a bad verb.
        if !self.erroring
            && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
            && let Some(s) = stringer(v)
        {
            if self.f.sharp_v {
                if let Value::Time(t) = v {
                    let g = time_go_string(t);
                    self.write(&g);
                    return;
                }
            } else {
                self.fmt_string(&s, verb, v);
                return;
            }
        }
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.write("interface {}(nil)");
                } else if depth == 0 {
                    self.write("<invalid reflect.Value>");
                } else {
                    self.write("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) | Value::Int64(i) | Value::Duration(i) => self.fmt_int_verb(*i as u64, true, verb, v),
            Value::Month(m) | Value::Weekday(m) => self.fmt_int_verb(u64::from(*m), true, verb, v),
            Value::Uint8(u) => self.fmt_int_verb(u64::from(*u), false, verb, v),
            Value::Float(x) => self.fmt_float_verb(*x, verb, v),
            Value::Str(s) => self.fmt_string(s, verb, v),
            Value::Time(t) => {
                let s = t.go_string();
                self.bad_verb_with(verb, "time.Time", &s);
            }
            Value::Labels(d) => {
                let mut entries: Vec<(&str, &str)> = Vec::new();
                d.for_each_label(&mut |k, v| entries.push((k, v)));
                entries.sort_unstable();
                self.open_map(v.type_name());
                for (i, (k, val)) in entries.into_iter().enumerate() {
                    self.map_sep(i);
                    self.print_value(&Value::str(k), verb, depth + 1);
                    self.write_char(':');
                    self.print_value(&Value::str(val), verb, depth + 1);
                }
                self.close_map();
            }
            Value::Map(m) => {
                self.open_map(v.type_name());
                for (i, (k, val)) in m.iter().enumerate() {
                    self.map_sep(i);
                    self.print_value(&Value::str(k.as_str()), verb, depth + 1);
                    self.write_char(':');
                    self.print_elem(val, verb, depth + 1);
                }
                self.close_map();
            }
            Value::List(l) => {
                if self.f.sharp_v {
                    self.write("[]interface {}{");
                } else {
                    self.write_char('[');
                }
                for (i, val) in l.iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.write(", ");
                        } else {
                            self.write_char(' ');
                        }
                    }
                    self.print_elem(val, verb, depth + 1);
                }
                self.write_char(if self.f.sharp_v { '}' } else { ']' });
            }
        }
    }

    /// An `interface{}` element of a decoded JSON value.
    fn print_elem(&mut self, v: &Value<'_>, verb: char, depth: usize) {
        if let Value::Nil = v {
            self.write(if self.f.sharp_v { "interface {}(nil)" } else { "<nil>" });
        } else {
            self.print_value(v, verb, depth);
        }
    }

    fn open_map(&mut self, type_name: &str) {
        if self.f.sharp_v {
            self.write(type_name);
            self.write_char('{');
        } else {
            self.write("map[");
        }
    }

    fn map_sep(&mut self, i: usize) {
        if i > 0 {
            if self.f.sharp_v {
                self.write(", ");
            } else {
                self.write_char(' ');
            }
        }
    }

    fn close_map(&mut self) {
        self.write_char(if self.f.sharp_v { '}' } else { ']' });
    }

    fn bad_verb(&mut self, verb: char, v: &Value<'_>) {
        self.erroring = true;
        self.write("%!");
        self.write_char(verb);
        self.write_char('(');
        if let Value::Nil = v {
            self.write("<nil>");
        } else {
            self.write(v.type_name());
            self.write_char('=');
            self.print_arg(v, 'v');
        }
        self.write_char(')');
        self.erroring = false;
    }

    fn bad_verb_with(&mut self, verb: char, type_name: &str, text: &str) {
        self.write("%!");
        self.write_char(verb);
        self.write_char('(');
        self.write(type_name);
        self.write_char('=');
        self.write(text);
        self.write_char(')');
    }

    fn do_print(&mut self, args: &[Value<'_>]) {
        let mut prev_string = false;
        for (i, a) in args.iter().enumerate() {
            let is_string = a.is_string();
            if i > 0 && !is_string && !prev_string {
                self.write_char(' ');
            }
            self.f = Flags::default();
            self.print_arg(a, 'v');
            prev_string = is_string;
        }
    }

    fn do_println(&mut self, args: &[Value<'_>]) {
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.write_char(' ');
            }
            self.f = Flags::default();
            self.print_arg(a, 'v');
        }
        self.write_char('\n');
    }

    /// `[n]` at `i`: (argument index, new i, found).
    fn arg_number(&mut self, arg_num: usize, format: &[u8], i: usize, num_args: usize) -> (usize, usize, bool) {
        if format.get(i) != Some(&b'[') {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(format.get(i..).unwrap_or_default());
        if ok && let Some(index) = index.filter(|&x| x < num_args) {
            return (index, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn do_printf(&mut self, format: &str, args: &[Value<'_>]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        'format: while i < end {
            if self.overflow {
                return;
            }
            self.good_arg_num = true;
            let last = i;
            while i < end && fb.get(i) != Some(&b'%') {
                i += 1;
            }
            if i > last {
                self.write(format.get(last..i).unwrap_or_default());
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            // Flags, and the fast path for a plain lower-case verb.
            while let Some(&c) = fb.get(i) {
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            if let Some(a) = args.get(arg_num) {
                                self.print_arg(a, char::from(c));
                            }
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            let (n, ni, found) = self.arg_number(arg_num, fb, i, args.len());
            arg_num = n;
            i = ni;
            after_index = found;
            // Width.
            if fb.get(i) == Some(&b'*') {
                i += 1;
                let (num, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                if !ok {
                    self.write("%!(BADWIDTH)");
                }
                if num < 0 {
                    self.f.wid = Some(num.unsigned_abs() as usize);
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = ok.then_some(num as usize);
                }
                after_index = false;
            } else {
                let (num, ok, ni) = parse_num(fb, i, end);
                self.f.wid = ok.then_some(num);
                i = ni;
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }
            // Precision.
            if i + 1 < end && fb.get(i) == Some(&b'.') {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                let (n, ni, found) = self.arg_number(arg_num, fb, i, args.len());
                arg_num = n;
                i = ni;
                after_index = found;
                if fb.get(i) == Some(&b'*') {
                    i += 1;
                    let (num, ok, next) = int_from_arg(args, arg_num);
                    arg_num = next;
                    self.f.prec = (ok && num >= 0).then_some(num as usize);
                    if !ok {
                        self.write("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (num, ok, ni) = parse_num(fb, i, end);
                    i = ni;
                    self.f.prec = Some(if ok { num } else { 0 });
                }
            }
            if !after_index {
                let (n, ni, _) = self.arg_number(arg_num, fb, i, args.len());
                arg_num = n;
                i = ni;
            }
            let Some(verb) = format.get(i..).and_then(|r| r.chars().next()) else {
                self.write("%!(NOVERB)");
                break;
            };
            i += verb.len_utf8();
            match verb {
                '%' => self.write_char('%'),
                _ if !self.good_arg_num => {
                    self.write("%!");
                    self.write_char(verb);
                    self.write("(BADINDEX)");
                }
                _ if arg_num >= args.len() => {
                    self.write("%!");
                    self.write_char(verb);
                    self.write("(MISSING)");
                }
                _ => {
                    if verb == 'v' {
                        self.f.sharp_v = self.f.sharp;
                        self.f.sharp = false;
                        self.f.plus_v = self.f.plus;
                        self.f.plus = false;
                    }
                    if let Some(a) = args.get(arg_num) {
                        self.print_arg(a, verb);
                    }
                    arg_num += 1;
                }
            }
        }
        if !self.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.write("%!(EXTRA ");
            for (k, a) in args.iter().skip(arg_num).enumerate() {
                if k > 0 {
                    self.write(", ");
                }
                if let Value::Nil = a {
                    self.write("<nil>");
                } else {
                    self.write(a.type_name());
                    self.write_char('=');
                    self.print_arg(a, 'v');
                }
            }
            self.write_char(')');
        }
    }
}

/// Go's `parsenum`: digits from `start`, giving up (and consuming the rest)
/// on absurd lengths.
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut isnum = false;
    let mut i = start;
    while i < end
        && let Some(&c) = s.get(i)
        && c.is_ascii_digit()
    {
        if num > TOO_LARGE {
            return (0, false, end);
        }
        num = num * 10 + usize::from(c - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `parseArgNumber` on `[n]…`: (index, bytes consumed, ok).
fn parse_arg_number(format: &[u8]) -> (Option<usize>, usize, bool) {
    if format.len() < 3 {
        return (None, 1, false);
    }
    for i in 1..format.len() {
        if format.get(i) == Some(&b']') {
            let (width, ok, ni) = parse_num(format, 1, i);
            if !ok || ni != i {
                return (None, i + 1, false);
            }
            return (width.checked_sub(1), i + 1, true);
        }
    }
    (None, 1, false)
}

/// Go's `intFromArg`: the argument as a width or precision.
fn int_from_arg(args: &[Value<'_>], arg_num: usize) -> (i64, bool, usize) {
    let Some(a) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (num, ok) = match a.as_int() {
        Some(n) => (n, true),
        None => (0, false),
    };
    if num.unsigned_abs() > TOO_LARGE as u64 {
        return (0, false, arg_num + 1);
    }
    (num, ok, arg_num + 1)
}

/// The `#` flag on a formatted float: keep a decimal point and (for `%g`)
/// trailing zeros. `num` starts with its sign.
fn sharp_float(num: &str, verb: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| p as i64),
        _ => 0,
    };
    let bytes = num.as_bytes();
    let mut body = String::from(num.get(..1).unwrap_or_default());
    let mut tail = String::new();
    let mut has_point = false;
    let mut saw_nonzero = false;
    let mut i = 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'.' => {
                has_point = true;
                body.push('.');
            }
            b'p' | b'P' => {
                tail.push_str(num.get(i..).unwrap_or_default());
                break;
            }
            b'e' | b'E' if verb != 'x' && verb != 'X' => {
                tail.push_str(num.get(i..).unwrap_or_default());
                break;
            }
            _ => {
                if c != b'0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
                body.push(char::from(c));
            }
        }
        i += 1;
    }
    if !has_point {
        if body.len() == 2 && body.ends_with('0') {
            digits -= 1;
        }
        body.push('.');
    }
    while digits > 0 {
        body.push('0');
        digits -= 1;
    }
    body.push_str(&tail);
    body
}

/// More digits than any double's exact decimal expansion has.
const MAX_EXACT_DIGITS: usize = 1100;

/// Decimal digits of a positive finite float and the decimal point
/// position (`0.d1d2… × 10^dp`), trailing zeros removed; zero has no
/// digits.
fn decimal_digits(x: f64, significant: Option<usize>) -> (Vec<u8>, i64) {
    if x == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match significant {
        Some(n) => format!("{:.*e}", n.saturating_sub(1).min(MAX_EXACT_DIGITS), x),
        None => format!("{x:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp + 1)
}

fn fmt_e(out: &mut String, digits: &[u8], dp: i64, prec: usize, e: char) {
    out.push(char::from(digits.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(digits.get(i).copied().unwrap_or(b'0')));
        }
    }
    out.push(e);
    push_exponent(out, if digits.is_empty() { 0 } else { dp - 1 });
}

/// Writes a signed exponent with at least two digits, as Go's `%e` and `%x`
/// verbs do (`+07`, `-10`).
fn push_exponent(out: &mut String, exp: i64) {
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}

fn fmt_f(out: &mut String, digits: &[u8], dp: i64, prec: usize) {
    if dp > 0 {
        for i in 0..dp {
            out.push(char::from(digits.get(i as usize).copied().unwrap_or(b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let j = dp + i - 1;
            let c = if j >= 0 { digits.get(j as usize).copied().unwrap_or(b'0') } else { b'0' };
            out.push(char::from(c));
        }
    }
}

/// Go's `strconv.FormatFloat(x, verb, prec, 64)` (`prec` `None` = -1, the
/// shortest representation).
pub(crate) fn format_float(x: f64, verb: char, prec: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    let neg = x.is_sign_negative();
    let a = x.abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match verb {
        'b' => {
            let (mant, exp) = float_parts(a);
            let _ = write!(out, "{mant}p{}{}", if exp - 52 >= 0 { "+" } else { "" }, exp - 52);
        }
        'x' | 'X' => fmt_x(&mut out, a, prec, verb),
        'e' | 'E' => match prec {
            None => {
                let (d, dp) = decimal_digits(a, None);
                fmt_e(&mut out, &d, dp, d.len().saturating_sub(1), verb);
            }
            Some(p) => {
                let (d, dp) = decimal_digits(a, Some(p + 1));
                fmt_e(&mut out, &d, dp, p, verb);
            }
        },
        'f' => match prec {
            None => {
                let (d, dp) = decimal_digits(a, None);
                let p = (d.len() as i64 - dp).max(0) as usize;
                fmt_f(&mut out, &d, dp, p);
            }
            Some(p) => {
                // A double has at most 1074 fractional digits; Rust's
                // formatter refuses precisions above u16::MAX.
                let q = p.min(MAX_EXACT_DIGITS);
                let _ = write!(out, "{a:.q$}");
                out.extend(std::iter::repeat_n('0', p - q));
            }
        },
        _ => {
            // 'g' / 'G'
            let e = if verb == 'G' { 'E' } else { 'e' };
            let (d, dp, shortest, mut p) = match prec {
                None => {
                    let (d, dp) = decimal_digits(a, None);
                    let n = d.len();
                    (d, dp, true, n)
                }
                Some(p) => {
                    let p = p.max(1);
                    let (d, dp) = decimal_digits(a, Some(p));
                    (d, dp, false, p)
                }
            };
            let nd = d.len() as i64;
            let mut eprec = p as i64;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                if p as i64 > nd {
                    p = nd as usize;
                }
                fmt_e(&mut out, &d, dp, p.saturating_sub(1), e);
            } else {
                if p as i64 > dp {
                    p = nd as usize;
                }
                fmt_f(&mut out, &d, dp, (p as i64 - dp).max(0) as usize);
            }
        }
    }
    out
}

/// Mantissa (with the implicit bit) and binary exponent of a finite
/// non-negative float: `x = mant × 2^(exp-52)`.
fn float_parts(a: f64) -> (u64, i64) {
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mant = bits & ((1u64 << 52) - 1);
    if exp == 0 { (mant, 1 - 1023) } else { (mant | (1u64 << 52), exp - 1023) }
}

/// Go's `%x` for floats: `0x1.8p+01`.
fn fmt_x(out: &mut String, a: f64, prec: Option<usize>, verb: char) {
    let (mut mant, mut exp) = float_parts(a);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec
        && p < 15
    {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if verb == 'X' { UPPER_HEX } else { LOWER_HEX };
    out.push('0');
    out.push(verb);
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(char::from(hex[((mant >> 60) & 15) as usize]));
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p {
                out.push(char::from(hex[((mant >> 60) & 15) as usize]));
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    push_exponent(out, exp);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value<'_>]) -> String {
        sprintf_limited(format, args, 1 << 20).unwrap_or_else(|_| "<overflow>".into())
    }

    #[test]
    fn floats_like_strconv() {
        for (x, verb, prec, want) in [
            (3e6, 'g', None, "3e+06"),
            (123456.0, 'g', None, "123456"),
            (1234567.0, 'g', None, "1.234567e+06"),
            (0.0001, 'g', None, "0.0001"),
            (0.00001, 'g', None, "1e-05"),
            (3.8476190476190477, 'g', None, "3.8476190476190477"),
            (0.0, 'g', None, "0"),
            (-0.0, 'g', None, "-0"),
            (1.5, 'g', Some(5), "1.5"),
            (100.0, 'g', Some(3), "100"),
            (1234.5678, 'g', Some(3), "1.23e+03"),
            (1.0, 'e', Some(6), "1.000000e+00"),
            (123456.0, 'e', None, "1.23456e+05"),
            (1e-100, 'e', Some(2), "1.00e-100"),
            (3.14259, 'f', Some(2), "3.14"),
            (2.5, 'f', Some(0), "2"),
            (1e21, 'f', None, "1000000000000000000000"),
            (0.000123, 'f', None, "0.000123"),
            (3.0, 'x', None, "0x1.8p+01"),
            (1.0, 'x', Some(2), "0x1.00p+00"),
            (0.0, 'x', None, "0x0p+00"),
            (1.0, 'b', None, "4503599627370496p-52"),
            (f64::INFINITY, 'g', None, "+Inf"),
        ] {
            assert_eq!(format_float(x, verb, prec), want, "{x} {verb} {prec:?}");
        }
    }

    #[test]
    fn printf_verbs() {
        let s = |x: &'static str| Value::str(x);
        assert_eq!(f("%-6s|%5s", &[s("info"), s("200")]), "info  |  200");
        assert_eq!(
            f(
                "%d %5d %-5d| %05d %x %X %o %O %b %c %q %U %#U",
                &[
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(-42),
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(65),
                    Value::Int(65),
                    Value::Int(0x1F600),
                    Value::Int(65),
                ]
            ),
            "42    42 42   | -0042 ff FF 10 0o10 101 A 'A' U+1F600 U+0041 'A'"
        );
        assert_eq!(
            f(
                "%#x %#o %+d % d %.3d %8.3d",
                &[Value::Int(255), Value::Int(8), Value::Int(5), Value::Int(5), Value::Int(7), Value::Int(-7),]
            ),
            "0xff 010 +5  5 007     -007"
        );
        assert_eq!(
            f(
                "%.2f %8.3f %-8.2f| %+.1e %g %G %v %08.2f",
                &[
                    Value::Float(3.14259),
                    Value::Float(2.5),
                    Value::Float(1.0),
                    Value::Float(12345.678),
                    Value::Float(1e-7),
                    Value::Float(1e-7),
                    Value::Float(2.0),
                    Value::Float(-3.5),
                ]
            ),
            "3.14    2.500 1.00    | +1.2e+04 1e-07 1E-07 2 -0003.50"
        );
        assert_eq!(
            f("%q %x % x %#x %X %.2s %5.1s|", &[s("a\"b"), s("hi"), s("hi"), s("hi"), s("hi"), s("héllo"), s("xyz"),]),
            r#""a\"b" 6869 68 69 0x6869 6869 hé     x|"#
        );
        assert_eq!(f("%t %v %5t", &[Value::Bool(true), Value::Bool(false), Value::Bool(true)]), "true false  true");
        assert_eq!(
            f("%T %T %T %T", &[s("x"), Value::Int(1), Value::Float(1.0), Value::Nil]),
            "string int float64 <nil>"
        );
        assert_eq!(f("%#v %#v %#v", &[s("x"), Value::Int(1), Value::Uint8(97)]), r#""x" 1 0x61"#);
        assert_eq!(f("%*d|%-*d|", &[Value::Int(4), Value::Int(1), Value::Int(3), Value::Int(2)]), "   1|2  |");
        assert_eq!(f("%[2]s %[1]s", &[s("a"), s("b")]), "b a");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%#g %#.3e", &[Value::Float(1.0), Value::Float(2.0)]), "1.00000 2.000e+00");
    }

    #[test]
    fn printf_errors() {
        let s = |x: &'static str| Value::str(x);
        assert_eq!(f("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(f("%s", &[Value::Int(3)]), "%!s(int=3)");
        assert_eq!(f("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[Value::Int(1), s("x"), Value::Nil]), "1%!(EXTRA string=x, <nil>)");
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(f("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(f("%v", &[Value::Nil]), "<nil>");
        assert_eq!(f("%*d", &[s("x"), Value::Int(1)]), "%!(BADWIDTH)1");
        assert_eq!(f("%[3]d", &[Value::Int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%z", &[Value::Int(1)]), "%!z(int=1)");
        assert!(sprintf_limited("%100s", &[s("x")], 50).is_err());
    }

    #[test]
    fn sprint_spacing() {
        let s = |x: &'static str| Value::str(x);
        assert_eq!(sprint(&[s("a"), s("b")]), "ab");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&[s("a"), Value::Int(1), Value::Int(2), s("b")]), "a1 2b");
        assert_eq!(sprintln_limited(&[s("a"), s("b")], 100).unwrap(), "a b\n");
        let list = Value::List(std::rc::Rc::new(vec![s("a"), Value::Float(1.0), Value::Nil]));
        assert_eq!(sprint(std::slice::from_ref(&list)), "[a 1 <nil>]");
        assert_eq!(f("%#v", std::slice::from_ref(&list)), r#"[]interface {}{"a", 1, interface {}(nil)}"#);
        assert_eq!(sprint(&[Value::Duration(90 * 1_000_000_000)]), "1m30s");
        assert_eq!(sprint(&[Value::Month(3), Value::Weekday(0)]), "March Sunday");
        assert_eq!(f("%d", &[Value::Month(3)]), "3");
    }
}
