//! The checks Loki makes when it builds a pipeline (before reading data),
//! reported as `stage '…' : …` parse errors, and the regex checks shared
//! with the parser.
//!
//! | stage | check | Loki's message |
//! |---|---|---|
//! | `\|~`, `!~` | the regex compiles | `error parsing regexp: …` |
//! | `\|>`, `!>` | pattern syntax, no named captures | `named captures are not allowed: …` |
//! | `ip("…")` in a line filter | only with `\|=` / `!=`; a valid pattern | `ip: invalid operation`, `ip: invalid pattern: "…"` |
//! | `ip("…")` in a label filter | a valid pattern (Loki checks only a top-level one; lokistore everywhere, unwrap post-filters included) | `ip: invalid pattern: "…"` |
//! | `json` / `logfmt` extractions | the expression parses | `cannot parse expression [e]: …` |
//! | `label_format` | not `__error__`, no label twice | `__error__ cannot be formatted`, `multiple label name 'x' not allowed …` |
//!
//! Not checked here: Go templates of `line_format` / `label_format` (Loki
//! parses them with `text/template`; that belongs with the template
//! engine).
//!
//! Regexes are compiled with Rust's `regex` crate, whose syntax is RE2's
//! with few differences; error texts have Go's shape, `error parsing
//! regexp: REASON: ` then the pattern in backticks, with Rust's reason.

use std::collections::HashSet;

use super::ast::{IpMatcher, LabelFilter, LineFilterArg, LineFilterOp, Stage};
use super::error::StageErrorKind;
use super::extraction::{parse_json_path, parse_logfmt_key};
use super::pattern::parse_line_pattern;

/// Go-style text for a regex that does not compile.
pub(crate) fn regex_error(pattern: &str, err: &regex::Error) -> String {
    let reason = match err {
        regex::Error::Syntax(s) => s.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(s).to_owned(),
        regex::Error::CompiledTooBig(_) => "expression too large".to_owned(),
        other => other.to_string(),
    };
    format!("error parsing regexp: {reason}: `{pattern}`")
}

/// The error text if `pattern` does not compile.
pub(crate) fn regex_error_text(pattern: &str) -> Option<String> {
    regex::Regex::new(pattern).err().map(|e| regex_error(pattern, &e))
}

/// The names of `(?P<name>…)` / `(?<name>…)` groups, in order (escapes and
/// character classes skipped).
fn group_names(re: &str) -> Vec<&str> {
    let b = re.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    let mut class_depth = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 1,
            b'[' => {
                class_depth += 1;
                // `[]…]` and `[^]…]` start with a literal `]`.
                let mut j = i + 1;
                if b.get(j) == Some(&b'^') {
                    j += 1;
                }
                if class_depth == 1 && b.get(j) == Some(&b']') {
                    i = j;
                }
            }
            b']' if class_depth > 0 => class_depth -= 1,
            b'(' if class_depth == 0 => {
                let rest = re.get(i..).unwrap_or("");
                let prefix = if rest.starts_with("(?P<") {
                    4
                } else if rest.starts_with("(?<") {
                    3
                } else {
                    0
                };
                if prefix > 0
                    && let Some(end) = rest.get(prefix..).and_then(|r| r.find('>'))
                    && let Some(name) = rest.get(prefix..prefix + end)
                {
                    names.push(name);
                }
            }
            _ => {}
        }
        i += 1;
    }
    names
}

/// Loki's `NewRegexpParser` checks for `| regexp "…"`.
pub(crate) fn check_regexp_parser(re: &str) -> Result<(), String> {
    let names = group_names(re);
    let mut seen = HashSet::new();
    let duplicate = names.iter().find(|n| !seen.insert(**n));
    let compiled = match regex::Regex::new(re) {
        Ok(r) => r,
        // Rust refuses duplicate names while compiling; Go compiles them and
        // Loki then reports the duplicate.
        Err(e) => {
            return Err(match duplicate {
                Some(name) => format!("duplicate extracted label name '{name}'"),
                None => regex_error(re, &e),
            });
        }
    };
    if compiled.capture_names().flatten().next().is_none() {
        return Err("at least one named capture must be supplied".to_owned());
    }
    Ok(())
}

/// The error Loki reports when it builds `stage`, if any.
pub(crate) fn check_stage(stage: &Stage) -> Option<StageErrorKind> {
    match stage {
        Stage::LineFilter(f) => f.args.iter().find_map(|arg| check_line_arg(f.op, arg)),
        Stage::Json(p) => p.extractions.iter().find_map(|e| {
            parse_json_path(&e.expr).err().map(|msg| StageErrorKind::InvalidExtraction { expr: e.expr.clone(), msg })
        }),
        Stage::Logfmt(p) => p.extractions.iter().find_map(|e| {
            parse_logfmt_key(&e.expr).err().map(|msg| StageErrorKind::InvalidExtraction { expr: e.expr.clone(), msg })
        }),
        Stage::LabelFilter(f) => check_label_filter(f),
        Stage::LabelFormat(items) => {
            let mut seen = HashSet::new();
            items.iter().find_map(|item| {
                let dst = item.dst();
                if dst == "__error__" {
                    Some(StageErrorKind::FormatErrorLabel)
                } else if !seen.insert(dst) {
                    Some(StageErrorKind::FormatDuplicateLabel(dst.to_owned()))
                } else {
                    None
                }
            })
        }
        Stage::Regexp(_)
        | Stage::Pattern(_)
        | Stage::Unpack
        | Stage::LineFormat(_)
        | Stage::Decolorize
        | Stage::Drop(_)
        | Stage::Keep(_) => None,
    }
}

fn check_line_arg(op: LineFilterOp, arg: &LineFilterArg) -> Option<StageErrorKind> {
    match arg {
        LineFilterArg::Ip(ip) => {
            if !matches!(op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                Some(StageErrorKind::IpInvalidOperation)
            } else if IpMatcher::parse(&ip.pattern).is_none() {
                Some(StageErrorKind::IpInvalidPattern(ip.pattern.clone()))
            } else {
                None
            }
        }
        LineFilterArg::Text(text) => match op {
            LineFilterOp::Regex | LineFilterOp::NotRegex => regex_error_text(text).map(StageErrorKind::InvalidRegex),
            LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                parse_line_pattern(text).err().map(StageErrorKind::InvalidLinePattern)
            }
            LineFilterOp::Contains | LineFilterOp::NotContains => None,
        },
    }
}

/// The `ip()` pattern errors of a label filter tree.
pub(crate) fn check_label_filter(f: &LabelFilter) -> Option<StageErrorKind> {
    match f {
        LabelFilter::Ip { filter, .. } => IpMatcher::parse(&filter.pattern)
            .is_none()
            .then(|| StageErrorKind::IpInvalidPattern(filter.pattern.clone())),
        LabelFilter::And(items) | LabelFilter::Or(items) => items.iter().find_map(check_label_filter),
        LabelFilter::Matcher(_)
        | LabelFilter::Number { .. }
        | LabelFilter::Duration { .. }
        | LabelFilter::Bytes { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexp_parser_checks() {
        assert!(check_regexp_parser("(?P<a>x)").is_ok());
        assert!(check_regexp_parser("(?<a>x)(y)").is_ok());
        assert_eq!(check_regexp_parser("nocapture").unwrap_err(), "at least one named capture must be supplied");
        assert_eq!(check_regexp_parser("(x)").unwrap_err(), "at least one named capture must be supplied");
        assert_eq!(check_regexp_parser("(?P<x>.)(?P<x>.)").unwrap_err(), "duplicate extracted label name 'x'");
        assert!(check_regexp_parser("(").unwrap_err().starts_with("error parsing regexp: "));
        assert_eq!(group_names(r"[(?P<no>]\(?P<no2>(?P<yes>a)"), ["yes"]);
    }
}
