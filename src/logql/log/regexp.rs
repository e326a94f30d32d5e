//! `| regexp "re"` (spec §3.5; Loki's `RegexpParser`).
//!
//! The first (leftmost) match of the expression sets one label per named
//! group; a group that did not take part gives `""`; no match extracts
//! nothing. Names are sanitized like parser keys and follow the
//! `_extracted` and first-writer-wins rules.
//!
//! Regular expressions use Rust's `regex` crate, whose syntax is RE2's
//! (Go's) for everything LogQL users write; group names must be
//! `[A-Za-z_][A-Za-z0-9_]*` (Go also allows a leading digit), and error
//! messages are the `regex` crate's. Go reads each byte that is not UTF-8
//! as U+FFFD, so a line with such bytes is matched as if they were U+FFFD
//! (here they end up as spaces in the values, as in every parser).
//!
//! Costs: a UTF-8 check and one regex search per line, with reused capture
//! slots.

use regex::bytes::{CaptureLocations, Regex};

use super::{DUPLICATE_SUFFIX, LabelsBuilder, StageError, push_sanitized, push_value};

/// Compiles a regex the way stages do, with Loki's message prefix.
pub(crate) fn compile(pattern: &str) -> Result<Regex, StageError> {
    Regex::new(pattern).map_err(|e| StageError::Regex { message: short_regex_error(&e) })
}

/// The last line of the `regex` crate's error (the description), or the
/// whole text.
fn short_regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines().rev().find_map(|l| l.strip_prefix("error: ")).map(str::to_owned).unwrap_or(text)
}

/// The group names of `pattern`, in order, found without compiling it
/// (escapes and character classes are skipped).
fn group_names(pattern: &str) -> Vec<&str> {
    let b = pattern.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    let mut in_class = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 1,
            b'[' if !in_class => {
                in_class = true;
                // A `]` right after `[` or `[^` is literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            b'(' if !in_class => {
                let rest = pattern.get(i + 1..).unwrap_or_default();
                let body = rest.strip_prefix("?P<").or_else(|| rest.strip_prefix("?<"));
                if let Some(body) = body
                    && let Some(end) = body.find('>')
                {
                    names.push(body.get(..end).unwrap_or_default());
                }
            }
            _ => {}
        }
        i += 1;
    }
    names
}

/// The `| regexp` parser.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{LabelsBuilder, RegexpParser};
///
/// let mut p = RegexpParser::new(r"status=(?P<status>\d+),latency=(?P<latency>\w+)(ms|ns)").unwrap();
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// b.reset();
/// p.process(b"status=200,latency=500ms", &mut b);
/// assert_eq!(b.label_string(), r#"{app="x", latency="500", status="200"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct RegexpParser {
    re: Regex,
    locs: CaptureLocations,
    /// Group index and sanitized label name of each named group.
    groups: Vec<(usize, String)>,
    name: String,
    value: String,
    decoded: Vec<u8>,
}

impl RegexpParser {
    /// Compiles `pattern`.
    ///
    /// # Errors
    ///
    /// [`StageError::Regex`] if it does not compile,
    /// [`StageError::MissingCapture`] without named groups,
    /// [`StageError::DuplicateLabelName`] for a name used twice.
    pub fn new(pattern: &str) -> Result<Self, StageError> {
        let re = match compile(pattern) {
            Ok(re) => re,
            Err(e) => {
                // Go accepts a name twice; Loki then refuses it itself.
                let names = group_names(pattern);
                for (i, n) in names.iter().enumerate() {
                    if names.iter().take(i).any(|p| p == n) {
                        return Err(StageError::DuplicateLabelName { name: (*n).to_owned() });
                    }
                }
                return Err(e);
            }
        };
        let mut groups = Vec::new();
        for (i, name) in re.capture_names().enumerate() {
            let Some(name) = name else { continue };
            let mut sanitized = String::new();
            push_sanitized(&mut sanitized, name.as_bytes());
            if sanitized.is_empty() {
                continue;
            }
            groups.push((i, sanitized));
        }
        if groups.is_empty() {
            return Err(StageError::MissingCapture);
        }
        let locs = re.capture_locations();
        Ok(Self { re, locs, groups, name: String::new(), value: String::new(), decoded: Vec::new() })
    }

    /// Extracts the named groups of the first match in `line`.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) {
        let line = if std::str::from_utf8(line).is_ok() {
            line
        } else {
            self.decoded.clear();
            super::push_go_decoded(&mut self.decoded, line);
            &self.decoded
        };
        if self.re.captures_read(&mut self.locs, line).is_none() {
            return;
        }
        for (i, label) in &self.groups {
            self.value.clear();
            if let Some((s, e)) = self.locs.get(*i) {
                push_value(&mut self.value, line.get(s..e).unwrap_or_default());
            }
            self.name.clear();
            self.name.push_str(label);
            if builder.conflicts(label) {
                self.name.push_str(DUPLICATE_SUFFIX);
            }
            builder.add_exact(&self.name, &self.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(re: &str, stream: &str, line: &str) -> String {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        RegexpParser::new(re).unwrap().process(line.as_bytes(), &mut b);
        b.label_string().to_owned()
    }

    #[test]
    fn construction() {
        assert_eq!(RegexpParser::new("w.*").unwrap_err(), StageError::MissingCapture);
        assert_eq!(RegexpParser::new("f(.*) (foo|bar|buzz)").unwrap_err(), StageError::MissingCapture);
        assert!(RegexpParser::new("blah (.*) (?P<foo>)").is_ok());
        assert!(RegexpParser::new("blah (.*) (?P<foo>foo)(?P<bar>barr)").is_ok());
        assert!(RegexpParser::new("blah (.*) (?<foo>foo)").is_ok());
        assert!(matches!(RegexpParser::new("blah (.*) (?P<foo$>foo)(?P<bar>barr)"), Err(StageError::Regex { .. })));
        assert_eq!(
            RegexpParser::new("blah (.*) (?P<foo>foo)(?P<foo>barr)").unwrap_err().to_string(),
            "duplicate extracted label name 'foo'"
        );
        assert!(RegexpParser::new("(").unwrap_err().to_string().starts_with("error parsing regexp: "));
        assert_eq!(group_names(r"[(?P<x>)](?P<a>\()\((?<b>.)"), ["a", "b"]);
    }

    #[test]
    fn loki_cases() {
        assert_eq!(run("(?P<foo>foo|bar)buzz", r#"{app="foo"}"#, "blah"), r#"{app="foo"}"#);
        assert_eq!(
            run("(?P<foo>.*)buzz", r#"{app="bar"}"#, "matchebuzz barbuzz"),
            r#"{app="bar", foo="matchebuzz bar"}"#
        );
        assert_eq!(run("(?P<bar>bar)buzz", r#"{bar="foo"}"#, "barbuzz"), r#"{bar="foo", bar_extracted="bar"}"#);
        assert_eq!(run("(?P<a>x)|(?P<b>y)", "{}", "y"), r#"{a="", b="y"}"#);
    }
}
