//! Parse errors: a kind (what Loki would report), the span of the offending
//! text, and a rendering with a caret under it.
//!
//! [`ParseError::loki_message`] is the exact one-line text Loki returns
//! (HTTP 400):
//!
//! | kind | text |
//! |---|---|
//! | lexical and syntax errors | `parse error at line L, col C: <msg>` (Loki reports line 0 for tokens its lexer completes by hand: two-character operators, durations, bytes, ranges, flags) |
//! | validation errors | `parse error : <msg>` |
//! | pipeline stage errors | `parse error : stage '<stage>' : <msg>` |
//!
//! `Display` prints that text, then the query line and a caret under the
//! error's position, e.g.
//!
//! ```text
//! parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,
//!   {app="api"
//!             ^
//! ```
//!
//! Facts: `../shared/spec/logql.md` §2.1; Loki `logqlmodel/error.go`,
//! `syntax/parser.go`, `syntax/ast.go`.

use std::fmt;

use super::ast::{BinaryOp, RangeOp, VectorOp};
use super::number::format_fixed6;

/// A byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset after the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Why a pipeline stage cannot be built (Loki finds these when it builds the
/// pipeline, before reading any data).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StageErrorKind {
    /// A line filter regex does not compile: Go's `error parsing regexp: …`.
    InvalidRegex(String),
    /// `ip()` used with an operator other than `|=` / `!=`.
    IpInvalidOperation,
    /// `ip("…")` is not an address, CIDR prefix or `a-b` range.
    IpInvalidPattern(String),
    /// A `|>` / `!>` pattern is malformed or has named captures.
    InvalidLinePattern(String),
    /// A `json` / `logfmt` extraction expression does not parse.
    InvalidExtraction {
        /// The expression.
        expr: String,
        /// The expression parser's message.
        msg: String,
    },
    /// `label_format` targets `__error__`.
    FormatErrorLabel,
    /// `label_format` names one label twice.
    FormatDuplicateLabel(String),
}

impl fmt::Display for StageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRegex(msg) | Self::InvalidLinePattern(msg) => f.write_str(msg),
            Self::IpInvalidOperation => f.write_str("ip: invalid operation"),
            Self::IpInvalidPattern(p) => write!(f, "ip: invalid pattern: {}", super::quote::go_quote(p)),
            Self::InvalidExtraction { expr, msg } => write!(f, "cannot parse expression [{expr}]: {msg}"),
            Self::FormatErrorLabel => f.write_str("__error__ cannot be formatted"),
            Self::FormatDuplicateLabel(name) => {
                write!(f, "multiple label name '{name}' not allowed in a single format operation")
            }
        }
    }
}

/// What went wrong; `Display` is Loki's message text (without the
/// `parse error` prefix).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The query is at least 128 KiB long.
    InputTooLong {
        /// The query length in bytes.
        len: usize,
    },
    /// The query nests deeper than [`MAX_NESTING`](super::MAX_NESTING)
    /// (parentheses, function calls, binary operators, label filter groups).
    NestingTooDeep {
        /// The limit.
        limit: usize,
    },
    /// A lexical error: Go's scanner message (`literal not terminated`,
    /// `invalid char escape`, `… has no digits`), a string escape error
    /// (`invalid syntax`), or a `[range]` that is not a Prometheus duration.
    Lexical(String),
    /// An unexpected token.
    Syntax {
        /// Loki's name of the token: `IDENTIFIER`, `STRING`, `$end`, `|=`, …
        unexpected: &'static str,
        /// Loki's names of the accepted tokens when there are at most four.
        expected: Vec<&'static str>,
    },
    /// A label matcher's regex does not compile.
    InvalidMatcher(String),
    /// The stream selector has no matcher that rejects the empty string.
    NoNonEmptyMatcher,
    /// A number literal is not a float for `strconv.ParseFloat`.
    InvalidLiteral {
        /// `vector(…)` rather than a literal.
        vector: bool,
        /// Go's `strconv` message.
        reason: String,
    },
    /// A range aggregation other than `quantile_over_time` got a parameter.
    RangeParamNotSupported {
        /// The aggregation.
        op: RangeOp,
        /// The parameter as written.
        param: String,
    },
    /// `quantile_over_time` without its parameter.
    RangeParamRequired(RangeOp),
    /// The range aggregation parameter is not a float.
    InvalidRangeParam {
        /// The aggregation.
        op: RangeOp,
        /// Go's `strconv` message.
        reason: String,
    },
    /// `by`/`without` on a range aggregation that does not allow it.
    RangeGroupingNotAllowed(RangeOp),
    /// `| unwrap` on a range aggregation that counts lines.
    UnwrapNotAllowed(RangeOp),
    /// A range aggregation over unwrapped values without `| unwrap`.
    UnwrapRequired(RangeOp),
    /// `topk`, `bottomk` or `approx_topk` without its parameter.
    VectorParamRequired(VectorOp),
    /// The parameter is not an integer.
    InvalidVectorParam {
        /// The aggregation.
        op: VectorOp,
        /// The parameter as written.
        param: String,
    },
    /// The parameter is not greater than 0.
    VectorParamNotPositive {
        /// The aggregation.
        op: VectorOp,
        /// The parameter as written.
        param: String,
    },
    /// A vector aggregation that takes no parameter got one.
    VectorParamNotSupported {
        /// The aggregation.
        op: VectorOp,
        /// The parameter as written.
        param: String,
    },
    /// `approx_topk` with `by`/`without`.
    VectorGroupingNotAllowed(VectorOp),
    /// `sort`/`sort_desc` with grouping labels.
    SortGrouping,
    /// A literal leg of `and`, `or`, `unless`.
    LiteralInSetOperation {
        /// The operator.
        op: BinaryOp,
        /// Whether the left leg is the literal (else the right).
        left: bool,
        /// The literal.
        value: f64,
    },
    /// A log query as a leg of a binary operation.
    LogQueryInBinaryOp {
        /// The operator.
        op: BinaryOp,
        /// Whether the left leg is the log query (else the right).
        left: bool,
        /// Whether it has a pipeline (Loki names the Go type).
        pipeline: bool,
    },
    /// `label_replace` with a regex that does not compile.
    InvalidLabelReplaceRegex(String),
    /// `| regexp` with an invalid expression or without named captures.
    InvalidRegexpParser(String),
    /// `| pattern` with an invalid expression or without captures.
    InvalidPatternParser(String),
    /// A pipeline stage cannot be built.
    Stage {
        /// The stage as Loki prints it.
        stage: String,
        /// Why.
        kind: StageErrorKind,
    },
    /// A log query was required ([`parse_log_selector`](super::parse_log_selector)).
    NotLogSelector,
    /// A metric query was required ([`parse_sample_expr`](super::parse_sample_expr)).
    NotSampleExpr,
}

impl ParseErrorKind {
    /// Whether Loki reports a line and column for this kind.
    pub fn has_position(&self) -> bool {
        matches!(self, Self::Lexical(_) | Self::Syntax { .. })
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InputTooLong { len } => write!(f, "input size too long ({len} > {})", super::MAX_QUERY_LEN),
            Self::NestingTooDeep { limit } => write!(f, "expression nests deeper than {limit} levels"),
            Self::Lexical(msg) | Self::InvalidMatcher(msg) => f.write_str(msg),
            Self::Syntax { unexpected, expected } => {
                write!(f, "syntax error: unexpected {unexpected}")?;
                for (i, tok) in expected.iter().enumerate() {
                    f.write_str(if i == 0 { ", expecting " } else { " or " })?;
                    f.write_str(tok)?;
                }
                Ok(())
            }
            Self::NoNonEmptyMatcher => f.write_str(
                "queries require at least one regexp or equality matcher that does not have an \
                 empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but \
                 app=~\".+\" will",
            ),
            Self::InvalidLiteral { vector: false, reason } => write!(f, "unable to parse literal as a float: {reason}"),
            Self::InvalidLiteral { vector: true, reason } => {
                write!(f, "unable to parse vectorExpr as a float: {reason}")
            }
            Self::RangeParamNotSupported { op, param } => {
                write!(f, "parameter {param} not supported for operation {op}")
            }
            Self::RangeParamRequired(op) => write!(f, "parameter required for operation {op}"),
            Self::VectorParamRequired(op) => write!(f, "parameter required for operation {op}"),
            Self::InvalidRangeParam { op, reason } => write!(f, "invalid parameter for operation {op}: {reason}"),
            Self::RangeGroupingNotAllowed(op) => write!(f, "grouping not allowed for {op} aggregation"),
            Self::UnwrapNotAllowed(op) => write!(f, "invalid aggregation {op} with unwrap"),
            Self::UnwrapRequired(op) => write!(f, "invalid aggregation {op} without unwrap"),
            Self::InvalidVectorParam { op, param } => write!(f, "invalid parameter {op}({param},"),
            Self::VectorParamNotPositive { op, param } => {
                write!(f, "invalid parameter (must be greater than 0) {op}({param}")
            }
            Self::VectorParamNotSupported { op, param } => {
                write!(f, "unsupported parameter for operation {op}({param},")
            }
            Self::VectorGroupingNotAllowed(op) => write!(f, "grouping not allowed for {op} aggregation"),
            Self::SortGrouping => f.write_str("sort and sort_desc doesn't allow grouping by "),
            Self::LiteralInSetOperation { op, left, value } => write!(
                f,
                "unexpected literal for {} leg of logical/set binary operation ({op}): {}",
                if *left { "left" } else { "right" },
                format_fixed6(*value)
            ),
            Self::LogQueryInBinaryOp { op, left, pipeline } => write!(
                f,
                "unexpected type for {} leg of binary operation ({op}): *syntax.{}",
                if *left { "left" } else { "right" },
                if *pipeline { "PipelineExpr" } else { "MatchersExpr" }
            ),
            Self::InvalidLabelReplaceRegex(msg) => write!(f, "invalid regex in label_replace: {msg}"),
            Self::InvalidRegexpParser(msg) => write!(f, "invalid regexp parser: {msg}"),
            Self::InvalidPatternParser(msg) => write!(f, "invalid pattern parser: {msg}"),
            Self::Stage { stage, kind } => write!(f, "stage '{stage}' : {kind}"),
            Self::NotLogSelector => f.write_str("only log selector is supported"),
            Self::NotSampleExpr => f.write_str("only sample expression supported"),
        }
    }
}

/// A LogQL parse error.
///
/// `Display` is [`loki_message`](Self::loki_message), then the query line
/// with a caret under the offending position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ParseErrorKind,
    span: Span,
    /// 1-based line and column (in characters) of `span.start`.
    line: usize,
    column: usize,
    /// Loki reports line 0 for this token.
    line_zero: bool,
    /// The query line holding the error, and the caret column in it.
    snippet: String,
    caret: usize,
}

/// How much of a long query line the caret rendering shows on each side.
const SNIPPET_RADIUS: usize = 60;

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, span: Span, line_zero: bool, query: &str) -> Self {
        let start = span.start.min(query.len());
        let start = (0..=start).rev().find(|&i| query.is_char_boundary(i)).unwrap_or(0);
        let before = query.get(..start).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        let line_end = query.get(line_start..).and_then(|s| s.find('\n')).map_or(query.len(), |i| line_start + i);
        let text: Vec<char> = query.get(line_start..line_end).unwrap_or("").chars().collect();
        let col0 = column - 1;
        let from = col0.saturating_sub(SNIPPET_RADIUS);
        let to = (col0 + SNIPPET_RADIUS).min(text.len());
        let mut snippet: String = text.get(from..to).unwrap_or_default().iter().collect();
        snippet = snippet.replace(['\t', '\r'], " ");
        Self(Box::new(Inner { kind, span, line, column, line_zero, snippet, caret: col0 - from }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.0.kind
    }

    /// The offending text's byte range in the query.
    pub fn span(&self) -> Span {
        self.0.span
    }

    /// The 1-based line of the error.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// The 1-based column (in characters) of the error.
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// The one-line message Loki returns for this error, e.g. `parse error
    /// at line 1, col 11: syntax error: unexpected $end, expecting } or ,`.
    pub fn loki_message(&self) -> String {
        let e = &self.0;
        if e.kind.has_position() {
            let line = if e.line_zero { 0 } else { e.line };
            format!("parse error at line {line}, col {}: {}", e.column, e.kind)
        } else {
            format!("parse error : {}", e.kind)
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.loki_message())?;
        write!(f, "\n  {}\n  {:width$}^", self.0.snippet, "", width = self.0.caret)
    }
}

impl std::error::Error for ParseError {}
