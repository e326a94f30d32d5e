//! Canonical LogQL text: `Display` for the AST, following Loki's `String()`
//! methods (`syntax/ast.go`, `log/label_filter.go`), so printing and parsing
//! again gives an equal tree.
//!
//! | node | printed as |
//! |---|---|
//! | selector | `{app="foo", env=~"p.*"}` (values with Go's `strconv.Quote`) |
//! | pipeline | stages joined by a space: `\|= "a" or "b"`, `\| json a="x",b="y"`, `\| logfmt --strict`, `\| label_format a=b,c="t"`, `\| drop a,b="v"` |
//! | label filters | `name="v"`, `n>=5`, `d>1s`, `s<=20MB`, `a=ip("…")`; groups `( a , b )`, `( a or b )` |
//! | range aggregation | `rate({…} \| json \| unwrap x[5m] offset 1h0m0s) by (a)` (range: Prometheus duration; offset: Go duration) |
//! | vector aggregation | `sum by (a,b)(…)`, `topk(5,…)` (no `by ()`) |
//! | binary operation | `(lhs op [bool] [on (l) group_left (i)] rhs)` |
//! | literal | Go's `%v` (`1e+06`, `NaN`, `+Inf`) |
//! | `vector(…)` | Go's `%f` (`vector(1.000000)`) |
//!
//! Deviations from Loki's text, each to keep the round trip exact:
//! byte sizes that Loki's rounded `humanize.Bytes` would change print as
//! plain bytes (`1572864B`, `0.0B` for zero); `vector()` values that `%f`
//! would round print in shortest form; `ignoring () group_left` keeps its
//! (otherwise dropped) matching clause; `group_left`/`group_right` before
//! a parenthesized operand prints an explicit empty label list `()`; chains of three or more `and`s or
//! `or`s print flat, `( a , b , c )`; regex label filters are always
//! double-quoted (Loki sometimes prints backticks); a label named `!`
//! before an operator is followed by a space; non-finite literals print as
//! `NaN` / `+Inf` / `-Inf`, which do not parse back; negative zero prints
//! as `-0.0` (`-0` lexes as a duration).

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::number::{format_f, format_fixed6, format_g, parse_go_float};
use super::quote::go_quote;
use super::units::{format_bytes, format_prom_duration, parse_bytes};

/// A number's text, with negative zero as `-0.0`: `-0` would lex as a
/// duration (Go's `ParseDuration` accepts it).
fn number_text(text: String) -> String {
    if text == "-0" { "-0.0".to_owned() } else { text }
}

/// Writes `name` then `op`, with a space when the two would lex as one
/// operator (an identifier `!` before `=`, `~` or `>`).
fn name_op(f: &mut Formatter<'_>, name: &str, op: &str) -> fmt::Result {
    f.write_str(name)?;
    if name.ends_with('!') {
        f.write_char(' ')?;
    }
    f.write_str(op)
}

fn write_matcher(f: &mut Formatter<'_>, m: &Matcher) -> fmt::Result {
    name_op(f, m.name(), m.op().as_str())?;
    f.write_str(&go_quote(m.value()))
}

fn write_joined<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    sep: &str,
    mut each: impl FnMut(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        each(f, item)?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log(l) => l.fmt(f),
            Self::Sample(s) => s.fmt(f),
        }
    }
}

impl Display for LogSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        write_joined(f, &self.matchers, ", ", write_matcher)?;
        f.write_char('}')?;
        for stage in &self.stages {
            write!(f, " {stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineFilter(l) => l.fmt(f),
            Self::Logfmt(p) => {
                f.write_str("| logfmt")?;
                if p.extractions.is_empty() {
                    if p.strict {
                        f.write_str(" --strict")?;
                    }
                    if p.keep_empty {
                        f.write_str(" --keep-empty")?;
                    }
                    return Ok(());
                }
                f.write_char(' ')?;
                if p.strict {
                    f.write_str("--strict ")?;
                }
                if p.keep_empty {
                    f.write_str("--keep-empty ")?;
                }
                write_joined(f, &p.extractions, ",", |f, e| {
                    name_op(f, &e.label, "=")?;
                    f.write_str(&go_quote(&e.expr))
                })
            }
            Self::Json(p) => {
                f.write_str("| json")?;
                if !p.extractions.is_empty() {
                    f.write_char(' ')?;
                }
                write_joined(f, &p.extractions, ",", |f, e| {
                    name_op(f, &e.label, "=")?;
                    f.write_str(&go_quote(&e.expr))
                })
            }
            Self::Regexp(re) => write!(f, "| regexp {}", go_quote(re)),
            Self::Pattern(p) => write!(f, "| pattern {}", go_quote(&p.pattern)),
            Self::Unpack => f.write_str("| unpack"),
            Self::LabelFilter(l) => write!(f, "| {l}"),
            Self::LineFormat(t) => write!(f, "| line_format {}", go_quote(t)),
            Self::LabelFormat(items) => {
                f.write_str("| label_format ")?;
                write_joined(f, items, ",", |f, item| match item {
                    LabelFormat::Rename { dst, src } => {
                        name_op(f, dst, "=")?;
                        f.write_str(src)
                    }
                    LabelFormat::Template { dst, template } => {
                        name_op(f, dst, "=")?;
                        f.write_str(&go_quote(template))
                    }
                })
            }
            Self::Decolorize => f.write_str("| decolorize"),
            Self::Drop(items) => {
                f.write_str("| drop ")?;
                write_joined(f, items, ",", write_named)
            }
            Self::Keep(items) => {
                f.write_str("| keep ")?;
                write_joined(f, items, ",", write_named)
            }
        }
    }
}

fn write_named(f: &mut Formatter<'_>, n: &NamedMatcher) -> fmt::Result {
    match n {
        NamedMatcher::Name(name) => f.write_str(name),
        NamedMatcher::Matcher(m) => write_matcher(f, m),
    }
}

impl Display for LineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.op.as_str())?;
        write_joined(f, &self.args, " or ", |f, arg| match arg {
            LineFilterArg::Text(t) => f.write_str(&go_quote(t)),
            LineFilterArg::Ip(ip) => write!(f, "ip({})", go_quote(&ip.pattern)),
        })
    }
}

/// A byte size as Loki prints it when that text reads back as the same
/// value, else exactly.
fn bytes_text(v: u64) -> String {
    let human = format_bytes(v);
    let unit_ok = human
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
        .chars()
        .all(|c| matches!(c, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P'));
    if v != 0 && unit_ok && parse_bytes(&human) == Ok(v) {
        human
    } else if v == 0 {
        // `0B` lexes as a bad binary literal.
        "0.0B".to_owned()
    } else {
        format!("{v}B")
    }
}

impl Display for LabelFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Matcher(m) => write_matcher(f, m),
            Self::Number { name, op, value } => {
                name_op(f, name, op.as_str())?;
                f.write_str(&number_text(format_f(*value)))
            }
            Self::Duration { name, op, value } => {
                name_op(f, name, op.as_str())?;
                write!(f, "{value}")
            }
            Self::Bytes { name, op, value } => {
                name_op(f, name, op.as_str())?;
                f.write_str(&bytes_text(*value))
            }
            Self::Ip { name, negated, filter } => {
                name_op(f, name, if *negated { "!=" } else { "=" })?;
                write!(f, "ip({})", go_quote(&filter.pattern))
            }
            Self::And(items) => write_group(f, items, " , "),
            Self::Or(items) => write_group(f, items, " or "),
        }
    }
}

fn write_group(f: &mut Formatter<'_>, items: &[LabelFilter], sep: &str) -> fmt::Result {
    f.write_str("( ")?;
    write_joined(f, items, sep, |f, item| item.fmt(f))?;
    f.write_str(" )")
}

impl Display for SampleExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::RangeAggregation(r) => r.fmt(f),
            Self::VectorAggregation(v) => v.fmt(f),
            Self::BinaryOp(b) => b.fmt(f),
            Self::Literal(v) => f.write_str(&number_text(format_g(*v))),
            Self::Vector(v) => {
                let fixed = format_fixed6(*v);
                let text = if parse_go_float(&fixed).is_ok_and(|p| p == *v) { fixed } else { format_f(*v) };
                write!(f, "vector({text})")
            }
            Self::LabelReplace(l) => write!(
                f,
                "label_replace({},{},{},{},{})",
                l.expr,
                go_quote(&l.dst),
                go_quote(&l.replacement),
                go_quote(&l.src),
                go_quote(&l.regex)
            ),
        }
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.without { " without (" } else { " by (" })?;
        f.write_str(&self.labels.join(","))?;
        f.write_char(')')
    }
}

impl Display for RangeAggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.op)?;
        if let Some(p) = self.param {
            write!(f, "{},", format_f(p))?;
        }
        write!(f, "{})", self.range)?;
        if let Some(g) = &self.grouping {
            g.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for LogRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.selector.fmt(f)?;
        if let Some(u) = &self.unwrap {
            u.fmt(f)?;
        }
        write!(f, "[{}]", format_prom_duration(self.range))?;
        if !self.offset.is_zero() {
            write!(f, " offset {}", self.offset)?;
        }
        Ok(())
    }
}

impl Display for Unwrap {
    /// With a leading space, as Loki prints it after the pipeline.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.conversion {
            Some(c) => write!(f, " | unwrap {}({})", c.as_str(), self.label)?,
            None => write!(f, " | unwrap {}", self.label)?,
        }
        for filter in &self.post_filters {
            write!(f, " | {filter}")?;
        }
        Ok(())
    }
}

impl Display for VectorAggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        if !self.grouping.is_singleton() {
            self.grouping.fmt(f)?;
        }
        f.write_char('(')?;
        if let Some(p) = self.param {
            write!(f, "{p},")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for BinaryOpExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "({} {}", self.lhs, self.op)?;
        if self.return_bool {
            f.write_str(" bool")?;
        }
        let m = &self.matching;
        if m.on || !m.labels.is_empty() || m.card != Cardinality::OneToOne {
            let group = match m.card {
                Cardinality::OneToOne => "",
                Cardinality::ManyToOne => "group_left",
                Cardinality::OneToMany => "group_right",
            };
            write!(f, " {} ({}) {group}", if m.on { "on" } else { "ignoring" }, m.labels.join(","))?;
            if !m.include.is_empty() {
                write!(f, " ({})", m.include.join(","))?;
            } else if m.card != Cardinality::OneToOne && matches!(*self.rhs, SampleExpr::BinaryOp(_)) {
                // `group_left (…` would read the operand as the label list.
                f.write_str(" ()")?;
            }
        }
        write!(f, " {})", self.rhs)
    }
}
