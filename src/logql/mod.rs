//! LogQL, Loki's query language: the parser and syntax tree.
//!
//! [`parse_expr`] turns a query into an [`Expr`]: a log query
//! ([`LogSelector`]: stream matchers and a pipeline of [`Stage`]s) or a
//! metric query ([`SampleExpr`]). It accepts what Loki's parser accepts and
//! rejects what Loki rejects before reading data, with Loki's messages
//! ([`ParseError::loki_message`]); `Display` on the tree prints canonical
//! LogQL as Loki's `String()` does, and that text parses back to an equal
//! tree.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | entry points, limits |
//! | `lexer.rs` | tokens with byte spans (Go scanner rules, Loki's lexer quirks) |
//! | `parser.rs` | recursive descent: metric expressions, binary operators, error ordering |
//! | `pipeline.rs` | selectors, pipeline stages, label filters, `unwrap`, log ranges |
//! | `validate.rs` | checks Loki makes when building a pipeline (regexes, `ip()`, extractions, `label_format`) |
//! | `ast.rs` | the syntax tree |
//! | `display.rs` | canonical text |
//! | `error.rs` | [`ParseError`], [`ParseErrorKind`], [`Span`] |
//! | `units.rs` | durations (Prometheus and Go) and byte sizes |
//! | `number.rs` | Go's float parsing and formatting |
//! | `quote.rs` | Go string quoting and unquoting |
//! | `pattern.rs` | `pattern` / `\|>` expressions |
//! | `extraction.rs` | `json` paths and `logfmt` keys of extraction expressions |
//! | `ip.rs` | `ip("…")` patterns |
//!
//! The grammar, validation rules and quirks are in
//! `../shared/spec/logql.md` §1, §2 and §2.1.
//!
//! # Examples
//!
//! ```
//! use lokistore::logql::{parse_expr, Expr, SampleExpr, RangeOp};
//!
//! let expr = parse_expr(r#"sum by (app) (rate({env="prod"} |= "error" [5m]))"#).unwrap();
//! assert_eq!(expr.to_string(), r#"sum by (app)(rate({env="prod"} |= "error"[5m]))"#);
//! let Expr::Sample(SampleExpr::VectorAggregation(sum)) = &expr else { panic!() };
//! let SampleExpr::RangeAggregation(rate) = &*sum.expr else { panic!() };
//! assert_eq!(rate.op, RangeOp::Rate);
//! assert_eq!(rate.range.range, std::time::Duration::from_secs(300));
//!
//! let err = parse_expr(r#"{app="api""#).unwrap_err();
//! assert_eq!(
//!     err.loki_message(),
//!     "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,"
//! );
//! ```

mod ast;
mod display;
mod error;
pub mod eval;
mod extraction;
mod ip;
mod lexer;
pub mod log;
mod number;
mod parser;
mod pattern;
mod pipeline;
mod quote;
pub mod template;
mod units;
mod validate;

pub use ast::{
    BinaryOp, BinaryOpExpr, Cardinality, CmpOp, Conversion, Expr, GoDuration, Grouping, IpFilter, IpMatcher,
    JsonExtraction, JsonParser, JsonPathPart, LabelFilter, LabelFormat, LabelReplace, LineFilter, LineFilterArg,
    LineFilterOp, LogRange, LogSelector, LogfmtExtraction, LogfmtParser, MatchOp, Matcher, NamedMatcher, PatternNode,
    PatternParser, RangeAggregation, RangeOp, SampleExpr, Stage, Unwrap, VectorAggregation, VectorMatching, VectorOp,
};
pub use error::{ParseError, ParseErrorKind, Span, StageErrorKind};
pub use extraction::{parse_json_path, parse_logfmt_key};
pub use pattern::{parse_line_pattern, parse_pattern_parser};
pub use units::{format_go_duration, format_prom_duration, parse_bytes, parse_duration, parse_prom_duration};

/// Loki's query length limit: queries of this many bytes or more are
/// refused ("input size too long").
pub const MAX_QUERY_LEN: usize = 131_072;

/// How deep expressions may nest (parentheses, function calls, chained
/// binary operators, label filter groups). Loki has no limit; this one
/// keeps recursion bounded.
pub const MAX_NESTING: usize = 256;

/// Parses a LogQL query, log or metric.
///
/// # Errors
///
/// Any syntax or validation error Loki reports before reading data; see
/// [`ParseErrorKind`]. Never panics.
pub fn parse_expr(query: &str) -> Result<Expr, ParseError> {
    if query.len() >= MAX_QUERY_LEN {
        let kind = ParseErrorKind::InputTooLong { len: query.len() };
        return Err(ParseError::new(kind, Span::new(0, 0), false, query));
    }
    parser::Parser::new(query).parse_query()
}

/// Parses a log query (`{…} | …`).
///
/// # Errors
///
/// As [`parse_expr`], and [`ParseErrorKind::NotLogSelector`] for a metric
/// query.
pub fn parse_log_selector(query: &str) -> Result<LogSelector, ParseError> {
    match parse_expr(query)? {
        Expr::Log(l) => Ok(l),
        Expr::Sample(_) => {
            Err(ParseError::new(ParseErrorKind::NotLogSelector, Span::new(0, query.len()), false, query))
        }
    }
}

/// Parses a metric query.
///
/// # Errors
///
/// As [`parse_expr`], and [`ParseErrorKind::NotSampleExpr`] for a log query.
pub fn parse_sample_expr(query: &str) -> Result<SampleExpr, ParseError> {
    match parse_expr(query)? {
        Expr::Sample(s) => Ok(s),
        Expr::Log(_) => Err(ParseError::new(ParseErrorKind::NotSampleExpr, Span::new(0, query.len()), false, query)),
    }
}
