//! Pattern expressions of `| pattern "…"` and the `|>` / `!>` line filters
//! (Loki's `log/pattern`): literal text and captures `<name>`, where `<_>`
//! captures without a name.
//!
//! | rule | `\| pattern` | `\|>` / `!>` |
//! |---|---|---|
//! | capture syntax | `<` `[A-Za-z_][A-Za-z0-9_]*` `>`; any other `<` is literal text | same |
//! | empty expression | error | allowed (matches only empty lines) |
//! | at least one named capture | required | named captures are refused |
//! | two captures in a row (`<a><b>`) | refused | refused |
//! | the same name twice | refused | (no names) |

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatternNode {
    /// Text that must appear.
    Literal(String),
    /// A capture; `_` captures nothing.
    Capture(String),
}

impl PatternNode {
    fn is_named_capture(&self) -> bool {
        matches!(self, Self::Capture(n) if n != "_")
    }
}

/// Splits a pattern into literals and captures.
fn tokenize(pattern: &str) -> Vec<PatternNode> {
    let mut nodes: Vec<PatternNode> = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(len) = capture_len(rest)
        {
            let name = rest.get(1..len - 1).unwrap_or("").to_owned();
            nodes.push(PatternNode::Capture(name));
            rest = rest.get(len..).unwrap_or("");
            continue;
        }
        if let Some(PatternNode::Literal(lit)) = nodes.last_mut() {
            lit.push(c);
        } else {
            nodes.push(PatternNode::Literal(c.to_string()));
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    nodes
}

/// The byte length of a `<name>` capture at the start of `s`, if any.
fn capture_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let first = *b.get(1)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let end = b.iter().skip(2).position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))? + 2;
    (b.get(end) == Some(&b'>')).then_some(end + 1)
}

fn check_consecutive(nodes: &[PatternNode]) -> Result<(), String> {
    for pair in nodes.windows(2) {
        if let [PatternNode::Capture(a), PatternNode::Capture(b)] = pair {
            return Err(format!("found consecutive capture '<{a}><{b}>': invalid expression"));
        }
    }
    Ok(())
}

/// Parses the expression of `| pattern "…"` (Loki's `pattern.New`).
pub fn parse_pattern_parser(pattern: &str) -> Result<Vec<PatternNode>, String> {
    if pattern.is_empty() {
        return Err("syntax error: unexpected $end, expecting IDENTIFIER or LITERAL".to_owned());
    }
    let nodes = tokenize(pattern);
    if !nodes.iter().any(PatternNode::is_named_capture) {
        return Err("at least one capture is required".to_owned());
    }
    check_consecutive(&nodes)?;
    let mut seen = std::collections::HashSet::new();
    for node in &nodes {
        if let PatternNode::Capture(name) = node
            && name != "_"
            && !seen.insert(name.as_str())
        {
            return Err(format!("duplicate capture name ({name}): invalid expression"));
        }
    }
    Ok(nodes)
}

/// Parses the pattern of a `|>` / `!>` line filter (Loki's
/// `pattern.ParseLineFilter`): only `<_>` captures.
pub fn parse_line_pattern(pattern: &str) -> Result<Vec<PatternNode>, String> {
    let nodes = tokenize(pattern);
    check_consecutive(&nodes)?;
    if let Some(PatternNode::Capture(name)) = nodes.iter().find(|n| n.is_named_capture()) {
        return Err(format!("named captures are not allowed: found '<{name}>'"));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> PatternNode {
        PatternNode::Literal(s.to_owned())
    }

    fn cap(s: &str) -> PatternNode {
        PatternNode::Capture(s.to_owned())
    }

    #[test]
    fn parses_patterns() {
        assert_eq!(
            parse_pattern_parser("<ip> - <_> [<ts>]").unwrap(),
            [cap("ip"), lit(" - "), cap("_"), lit(" ["), cap("ts"), lit("]")]
        );
        assert_eq!(parse_pattern_parser("<1> <a>").unwrap(), [lit("<1> "), cap("a")]);
        assert_eq!(parse_pattern_parser("a <b").unwrap_err(), "at least one capture is required");
        assert_eq!(parse_pattern_parser("<_> foo").unwrap_err(), "at least one capture is required");
        assert_eq!(
            parse_pattern_parser("<a><b>").unwrap_err(),
            "found consecutive capture '<a><b>': invalid expression"
        );
        assert_eq!(parse_pattern_parser("<a> <a>").unwrap_err(), "duplicate capture name (a): invalid expression");
        assert!(parse_pattern_parser("").is_err());
        assert_eq!(parse_line_pattern("").unwrap(), []);
        assert_eq!(parse_line_pattern("<_> x").unwrap(), [cap("_"), lit(" x")]);
        assert_eq!(parse_line_pattern("<verb> /api").unwrap_err(), "named captures are not allowed: found '<verb>'");
        assert!(parse_line_pattern("<_><_>").is_err());
    }
}
