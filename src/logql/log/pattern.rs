//! Pattern expressions (spec §3.4 `|>`, §3.5 `| pattern`; Loki's
//! `log/pattern`).
//!
//! An expression is literal text and captures `<name>` (`name` is
//! `[A-Za-z_][A-Za-z0-9_]*`; `<_>` captures without a name). Any other `<`
//! is literal.
//!
//! | check | `\| pattern` ([`PatternParser`]) | `\|>` / `!>` ([`LinePattern`]) |
//! |---|---|---|
//! | empty expression | refused | matches only empty lines |
//! | at least one named capture | required | named captures refused |
//! | two captures in a row | refused | refused |
//! | a name twice | refused | – |
//!
//! Extraction: if the expression starts with a literal the line must start
//! with it; each capture then runs to the next occurrence of the literal
//! after it; if that literal is missing the capture takes the rest of the
//! line and later captures are absent; a trailing capture takes the rest.
//! An empty line extracts nothing.
//!
//! Line filter: the literals must be found in order (the first one
//! anywhere — Loki does not anchor it, so `|> "foo"` matches `xfoo`); a
//! literal after a capture may not start right where the previous one
//! ended (captures are non-empty); if the expression ends with a literal
//! the line must end there, if it ends with a capture some text must be
//! left for it.
//!
//! Costs: one `memmem` search per literal, O(n) per line overall.

use memchr::memmem::Finder;

use super::{DUPLICATE_SUFFIX, LabelsBuilder, StageError, push_value};

/// A parsed element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// A capture; `_` is unnamed.
    Capture(String),
}

/// The byte length of a `<name>` capture at the start of `s`.
fn capture_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'<') || !s.get(1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return None;
    }
    let end = s.iter().skip(2).position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))? + 2;
    (s.get(end) == Some(&b'>')).then_some(end + 1)
}

/// Splits an expression into literals and captures.
fn tokenize(expr: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = capture_len(rest.as_bytes()) {
            out.push(Token::Capture(rest.get(1..len - 1).unwrap_or_default().to_owned()));
            rest = rest.get(len..).unwrap_or_default();
            continue;
        }
        match out.last_mut() {
            Some(Token::Literal(l)) => l.push(c),
            _ => out.push(Token::Literal(c.to_string())),
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out
}

fn check_consecutive(tokens: &[Token]) -> Result<(), StageError> {
    for pair in tokens.windows(2) {
        if let [Token::Capture(a), Token::Capture(b)] = pair {
            return Err(StageError::PatternConsecutiveCaptures { captures: format!("<{a}><{b}>") });
        }
    }
    Ok(())
}

/// A compiled element.
#[derive(Debug, Clone)]
enum Node {
    Literal(Box<Finder<'static>>),
    /// A capture: its index among the named captures, `None` for `<_>`.
    Capture(Option<usize>),
}

/// A compiled expression.
#[derive(Debug, Clone, Default)]
struct Matcher {
    nodes: Vec<Node>,
}

impl Matcher {
    fn compile(tokens: &[Token]) -> Self {
        let mut named = 0;
        let nodes = tokens
            .iter()
            .map(|t| match t {
                Token::Literal(l) => Node::Literal(Box::new(Finder::new(l.as_bytes()).into_owned())),
                Token::Capture(n) if n == "_" => Node::Capture(None),
                Token::Capture(_) => {
                    named += 1;
                    Node::Capture(Some(named - 1))
                }
            })
            .collect();
        Self { nodes }
    }

    /// The captured ranges of `line`, in order of the named captures
    /// (possibly fewer than there are names).
    fn matches(&self, line: &[u8], out: &mut Vec<(usize, usize)>) {
        out.clear();
        if line.is_empty() || self.nodes.is_empty() {
            return;
        }
        let mut nodes = self.nodes.as_slice();
        let mut pos = 0;
        if let Some(Node::Literal(lit)) = nodes.first() {
            if !line.starts_with(lit.needle()) {
                return;
            }
            pos = lit.needle().len();
            nodes = nodes.get(1..).unwrap_or_default();
        }
        if nodes.is_empty() {
            return;
        }
        while let Some(node) = nodes.first() {
            let named = matches!(node, Node::Capture(Some(_)));
            let Some(Node::Literal(lit)) = nodes.get(1) else {
                // The expression ends with this capture.
                if named {
                    out.push((pos, line.len()));
                }
                return;
            };
            nodes = nodes.get(2..).unwrap_or_default();
            let rest = line.get(pos..).unwrap_or_default();
            let Some(i) = lit.find(rest) else {
                if named {
                    out.push((pos, line.len()));
                }
                return;
            };
            if named {
                out.push((pos, pos + i));
            }
            pos += i + lit.needle().len();
        }
    }

    /// Whether `line` matches as a whole (the `|>` rule).
    fn test(&self, line: &[u8]) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0;
        for (i, node) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = node else { continue };
            let Some(j) = lit.find(line.get(off..).unwrap_or_default()) else { return false };
            if i != 0 && j == 0 {
                return false;
            }
            off += j + lit.needle().len();
        }
        let ends_with_capture = matches!(self.nodes.last(), Some(Node::Capture(_)));
        ends_with_capture == (off != line.len())
    }
}

/// The `| pattern "…"` parser.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{LabelsBuilder, PatternParser};
///
/// let mut p = PatternParser::new(r#"<ip> - <_> "<method> <path> <_>" <status>"#).unwrap();
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// b.reset();
/// p.process(br#"1.2.3.4 - frank "GET /a HTTP/1.0" 200"#, &mut b);
/// assert_eq!(b.label_string(), r#"{app="x", ip="1.2.3.4", method="GET", path="/a", status="200"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct PatternParser {
    matcher: Matcher,
    names: Vec<String>,
    found: Vec<(usize, usize)>,
    name: String,
    value: String,
}

impl PatternParser {
    /// Parses and validates an expression (Loki's `pattern.New`).
    ///
    /// # Errors
    ///
    /// [`StageError::PatternEmpty`], [`StageError::PatternNoCapture`],
    /// [`StageError::PatternConsecutiveCaptures`],
    /// [`StageError::PatternDuplicateCapture`], in that order of checks.
    pub fn new(expr: &str) -> Result<Self, StageError> {
        if expr.is_empty() {
            return Err(StageError::PatternEmpty);
        }
        let tokens = tokenize(expr);
        let names: Vec<String> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Capture(n) if n != "_" => Some(n.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err(StageError::PatternNoCapture);
        }
        check_consecutive(&tokens)?;
        for (i, n) in names.iter().enumerate() {
            if names.iter().take(i).any(|p| p == n) {
                return Err(StageError::PatternDuplicateCapture { name: n.clone() });
            }
        }
        Ok(Self {
            matcher: Matcher::compile(&tokens),
            names,
            found: Vec::new(),
            name: String::new(),
            value: String::new(),
        })
    }

    /// The capture names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Extracts the captures of `line`.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) {
        self.matcher.matches(line, &mut self.found);
        for (&(s, e), name) in self.found.iter().zip(&self.names) {
            self.name.clear();
            self.name.push_str(name);
            if builder.conflicts(name) {
                self.name.push_str(DUPLICATE_SUFFIX);
            }
            self.value.clear();
            push_value(&mut self.value, line.get(s..e).unwrap_or_default());
            builder.add_exact(&self.name, &self.value);
        }
    }
}

/// The pattern of a `|>` / `!>` line filter (Loki's
/// `pattern.ParseLineFilter`): only `<_>` captures.
///
/// # Examples
///
/// ```
/// use lokistore::logql::log::LinePattern;
///
/// let p = LinePattern::new("GET <_> 200").unwrap();
/// assert!(p.matches(b"GET /api 200"));
/// assert!(!p.matches(b"GET /api 200 extra"));
/// assert!(!LinePattern::new("GET /api").unwrap().matches(b"GET /api 200"));
/// ```
#[derive(Debug, Clone)]
pub struct LinePattern {
    matcher: Matcher,
    text: String,
}

impl LinePattern {
    /// Parses a line-filter pattern.
    ///
    /// # Errors
    ///
    /// [`StageError::PatternConsecutiveCaptures`],
    /// [`StageError::PatternNamedCapture`].
    pub fn new(expr: &str) -> Result<Self, StageError> {
        let tokens = tokenize(expr);
        check_consecutive(&tokens)?;
        if let Some(Token::Capture(name)) = tokens.iter().find(|t| matches!(t, Token::Capture(n) if n != "_")) {
            return Err(StageError::PatternNamedCapture { capture: format!("<{name}>") });
        }
        Ok(Self { matcher: Matcher::compile(&tokens), text: expr.to_owned() })
    }

    /// Whether `line` matches the pattern as a whole.
    pub fn matches(&self, line: &[u8]) -> bool {
        self.matcher.test(line)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loki's `pattern_test.go` fixtures: expression, line, captures,
    /// whether the line matches as a whole.
    const FIXTURES: &[(&str, &str, &[&str], bool)] = &[
        ("foo <foo> bar", "foo buzz bar", &["buzz"], true),
        ("foo <foo> bar<fuzz>", "foo buzz bar", &["buzz", ""], false),
        ("<foo>foo <bar> bar", "foo buzz bar", &["", "buzz"], false),
        ("<foo> bar<fuzz>", " bar", &["", ""], false),
        ("<foo>bar<baz>", " bar ", &[" ", " "], true),
        ("<foo> bar<baz>", " bar ", &["", " "], false),
        ("<foo>bar <baz>", " bar ", &[" ", ""], false),
        ("<foo>", " bar ", &[" bar "], true),
        (
            "<path>?<_>",
            "/api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel&grafanaVersion=7.0.0-beta1",
            &["/api/plugins/versioncheck"],
            true,
        ),
        ("<path>?<_>", "/api/plugins/status", &["/api/plugins/status"], false),
        (
            r#"<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>"#,
            r#"127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            &["127.0.0.1", "user-identifier", "frank", "GET", "/apache_pb.gif", "200", "2326"],
            true,
        ),
        (
            "<_> <id> [<level>] [<no>] [<component>] ",
            "2020-08-06T14:25:02.835618Z 0 [Note] [MY-012487] [InnoDB] DDL log recovery : begin",
            &["0", "Note", "MY-012487", "InnoDB"],
            false,
        ),
        (
            "<level>  [<component>]<_> in <duration>.<_>",
            "INFO  [Service Thread] 2021-05-19 07:40:12,130 GCInspector.java:284 - ParNew GC in 248ms.  CMS Old Gen: 5043436640 -> 5091062064",
            &["INFO", "Service Thread", "248ms"],
            true,
        ),
        (
            r#"<_> msg="<method> <path> (<status>) <duration>""#,
            r#"level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 traceID=7fbb92fd0eb9c65d msg="POST /loki/api/v1/push (204) 1.238734ms""#,
            &["POST", "/loki/api/v1/push", "204", "1.238734ms"],
            true,
        ),
        ("unicode <emoji> character", "unicode 🤷 character", &["🤷"], true),
        ("unicode ▶ <what>", "unicode ▶ character", &["character"], true),
    ];

    #[test]
    fn fixtures() {
        for &(expr, line, captures, whole) in FIXTURES {
            let p = PatternParser::new(expr).unwrap();
            let mut found = Vec::new();
            p.matcher.matches(line.as_bytes(), &mut found);
            let got: Vec<&str> = found.iter().map(|&(s, e)| &line[s..e]).collect();
            assert_eq!(got, captures, "{expr}");
            assert_eq!(p.matcher.test(line.as_bytes()), whole, "{expr}");
        }
    }

    #[test]
    fn errors() {
        assert!(PatternParser::new("<f>").is_ok());
        assert!(PatternParser::new("<f> <a>").is_ok());
        for (expr, msg) in [
            ("", "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"),
            ("<_>", "at least one capture is required"),
            ("foo <_> bar <_>", "at least one capture is required"),
            ("foo bar buzz", "at least one capture is required"),
            ("<f><f>", "found consecutive capture '<f><f>': invalid expression"),
            ("<f> f<d><b>", "found consecutive capture '<d><b>': invalid expression"),
            ("<f> f<f>", "duplicate capture name (f): invalid expression"),
            ("f<f><_>", "found consecutive capture '<f><_>': invalid expression"),
            ("<f>f<f><_>", "found consecutive capture '<f><_>': invalid expression"),
        ] {
            assert_eq!(PatternParser::new(expr).unwrap_err().to_string(), msg, "{expr}");
        }
        for ok in ["<_>", "", "foo <_> bar <_>"] {
            assert!(LinePattern::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            LinePattern::new("<foo <foo> bar <_>").unwrap_err().to_string(),
            "named captures are not allowed: found '<foo>'"
        );
        assert_eq!(LinePattern::new("<foo>").unwrap_err().to_string(), "named captures are not allowed: found '<foo>'");
        assert!(LinePattern::new("<_><_>").is_err());
    }

    #[test]
    fn line_filter() {
        let t = |p: &str, l: &str| LinePattern::new(p).unwrap().matches(l.as_bytes());
        assert!(t("", ""));
        assert!(!t("", "x"));
        assert!(!t("<_>", ""));
        assert!(t("<_>", "x"));
        assert!(t("foo <_>", "foo bar"));
        assert!(!t("foo <_>", "foo "));
        assert!(t("<_> baz", "foo bar baz"));
        assert!(!t("<_> bar", "foo bar baz"));
        assert!(!t("<_> bar <_>", " bar "));
        assert!(t("<_>bar<_>", " bar "));
        assert!(t("foo", "foo"));
        assert!(t("foo", "xfoo"), "Loki does not anchor the first literal");
        assert!(!t("foo", "foox"));
    }

    #[test]
    fn tokens() {
        assert_eq!(tokenize("<1> <a>"), [Token::Literal("<1> ".into()), Token::Capture("a".into())]);
        assert_eq!(tokenize("a<b"), [Token::Literal("a<b".into())]);
        assert_eq!(tokenize("<a_1><_>"), [Token::Capture("a_1".into()), Token::Capture("_".into())]);
    }
}
