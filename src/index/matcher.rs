//! Label matchers with Loki's (Prometheus') semantics: `=`, `!=`, `=~`,
//! `!~`; regexes are fully anchored, `^(?s:pattern)$` as Prometheus'
//! `FastRegexMatcher` compiles them, and a matcher that matches `""` also
//! matches series that lack the label.
//!
//! Regex fast paths (no regex engine at match time): a pattern that is an
//! alternation of literals (`prod|dev`, `a\.b`, up to 256 alternatives) is
//! a set of strings, which the index looks up directly; `.*` matches
//! anything, `.+` anything non-empty, `literal.*` is a prefix test.

use std::fmt;

use crate::Labels;

use super::error::IndexError;

/// Prometheus' cap on the size of a literal set extracted from a regex.
const MAX_SET_MATCHES: usize = 256;

/// A matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written in LogQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }

    /// Whether this is `!=` or `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, Self::NotEqual | Self::NotRegex)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
enum Pattern {
    /// Equal to `value` (ops `=`/`!=`).
    Literal,
    /// One of these strings, sorted and unique.
    Set(Vec<String>),
    /// Anything (`.*`).
    Any,
    /// Anything non-empty (`.+`).
    NonEmpty,
    /// Starts with the string (`prefix.*`).
    Prefix(String),
    /// The compiled, anchored regex.
    Regex(regex::Regex),
}

/// A label matcher: `name op "value"`.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::index::Matcher;
///
/// let env = Matcher::regex("env", "prod|dev").unwrap();
/// assert!(env.matches("dev") && !env.matches("devel"));
/// let labels: Labels = r#"{app="x"}"#.parse().unwrap();
/// // `team!="a"` matches "", so it matches a series without `team`.
/// assert!(Matcher::not_equal("team", "a").matches_labels(&labels));
/// ```
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    pattern: Pattern,
    matches_empty: bool,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher; regex operators compile `value` as
    /// `^(?s:value)$`.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self, IndexError> {
        let (name, value) = (name.into(), value.into());
        let pattern = match op {
            MatchOp::Equal | MatchOp::NotEqual => Pattern::Literal,
            MatchOp::Regex | MatchOp::NotRegex => compile(&value).map_err(|msg| IndexError::InvalidMatcher {
                name: name.clone(),
                op: op.as_str(),
                value: value.clone(),
                msg,
            })?,
        };
        let mut m = Self { name, op, value, pattern, matches_empty: false };
        m.matches_empty = m.matches("");
        Ok(m)
    }

    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let matches_empty = value.is_empty();
        Self { name, op: MatchOp::Equal, value, pattern: Pattern::Literal, matches_empty }
    }

    /// `name!="value"`.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let matches_empty = !value.is_empty();
        Self { name, op: MatchOp::NotEqual, value, pattern: Pattern::Literal, matches_empty }
    }

    /// `name=~"pattern"`.
    pub fn regex(name: impl Into<String>, pattern: impl Into<String>) -> Result<Self, IndexError> {
        Self::new(MatchOp::Regex, name, pattern)
    }

    /// `name!~"pattern"`.
    pub fn not_regex(name: impl Into<String>, pattern: impl Into<String>) -> Result<Self, IndexError> {
        Self::new(MatchOp::NotRegex, name, pattern)
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or pattern as given.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the label value `v` satisfies the matcher.
    #[inline]
    pub fn matches(&self, v: &str) -> bool {
        let hit = match &self.pattern {
            Pattern::Literal => v == self.value,
            Pattern::Set(set) => set.binary_search_by(|s| s.as_str().cmp(v)).is_ok(),
            Pattern::Any => true,
            Pattern::NonEmpty => !v.is_empty(),
            Pattern::Prefix(p) => v.starts_with(p.as_str()),
            Pattern::Regex(re) => re.is_match(v),
        };
        hit != self.op.is_negative()
    }

    /// Whether the matcher matches the empty string, i.e. also matches
    /// series without the label.
    #[inline]
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// Whether a series with `labels` satisfies the matcher (a missing label
    /// counts as `""`).
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// For `=` and for `=~` over a literal alternation: the exact values
    /// that match, so the index looks them up instead of scanning values.
    pub fn set_matches(&self) -> Option<&[String]> {
        match (&self.pattern, self.op) {
            (Pattern::Literal, MatchOp::Equal) => Some(std::slice::from_ref(&self.value)),
            (Pattern::Set(s), MatchOp::Regex) => Some(s),
            _ => None,
        }
    }

    /// Whether the matcher matches every value, even a missing label
    /// (`=~".*"`): it selects nothing away.
    pub fn matches_everything(&self) -> bool {
        matches!((&self.pattern, self.op), (Pattern::Any, MatchOp::Regex))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

/// Compiles a pattern, taking a fast path when it has one.
fn compile(pattern: &str) -> Result<Pattern, String> {
    match pattern {
        ".*" => return Ok(Pattern::Any),
        ".+" => return Ok(Pattern::NonEmpty),
        _ => {}
    }
    if let Some(prefix) = pattern.strip_suffix(".*")
        && let Some([lit]) = literal_alternatives(prefix).as_deref()
    {
        return Ok(Pattern::Prefix(lit.clone()));
    }
    if let Some(mut set) = literal_alternatives(pattern)
        && set.len() <= MAX_SET_MATCHES
    {
        set.sort_unstable();
        set.dedup();
        return Ok(Pattern::Set(set));
    }
    regex::Regex::new(&format!("^(?s:{pattern})$")).map(Pattern::Regex).map_err(|e| e.to_string())
}

/// Splits `a|b\.c` into literal alternatives, or `None` if any part is not
/// a plain literal.
fn literal_alternatives(pattern: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '|' => out.push(String::new()),
            '\\' => {
                let next = chars.next()?;
                if !next.is_ascii_punctuation() {
                    return None;
                }
                out.last_mut()?.push(next);
            }
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => out.last_mut()?.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_paths_agree_with_regex() {
        let values = ["", "a", "prod", "dev", "devel", "a.b", "axb", "pre", "prefix", "x\ny", "PROD"];
        for pat in ["prod|dev", "a\\.b", "", ".*", ".+", "pre.*", "a|", "(?i)prod", "d.v.*", "x.y", "[a-c]+"] {
            let m = Matcher::regex("l", pat).unwrap();
            let re = regex::Regex::new(&format!("^(?s:{pat})$")).unwrap();
            for v in values {
                assert_eq!(m.matches(v), re.is_match(v), "{pat} {v:?}");
                let n = Matcher::not_regex("l", pat).unwrap();
                assert_eq!(n.matches(v), !re.is_match(v), "!{pat} {v:?}");
            }
        }
        assert_eq!(Matcher::regex("l", "prod|dev").unwrap().set_matches().unwrap(), ["dev", "prod"]);
        assert!(Matcher::regex("l", "(").is_err());
    }

    #[test]
    fn empty_semantics() {
        assert!(Matcher::equal("a", "").matches_empty());
        assert!(Matcher::not_equal("a", "x").matches_empty());
        assert!(!Matcher::not_equal("a", "").matches_empty());
        assert!(Matcher::regex("a", ".*").unwrap().matches_empty());
        assert!(!Matcher::regex("a", ".+").unwrap().matches_empty());
    }
}
