//! Parsing of stream selectors, pipelines, label filters, `unwrap` and log
//! ranges (the `Parser` methods for log queries).
//!
//! | construct | grammar |
//! |---|---|
//! | selector | `{ [IDENT op STRING {, IDENT op STRING}] }`, op `= != =~ !~` |
//! | line filter | `(\|= \| != \| \|~ \| !~ \| \|> \| !>) arg { or arg }`, arg `STRING \| ip(STRING)` |
//! | stage after `\|` | `logfmt {FLAG} [extractions]`, `json [extractions]`, `regexp STRING`, `pattern STRING`, `unpack`, `line_format STRING`, `label_format IDENT=(IDENT\|STRING) {, …}`, `decolorize`, `drop`/`keep` `(IDENT \| matcher) {, …}`, a label filter |
//! | extraction | `IDENT [= STRING] {, IDENT [= STRING]}` |
//! | label filter | primaries joined by `or`, `and`, `,` or nothing (juxtaposition) |
//! | label filter primary | `( filter )`, `IDENT (= != =~ !~) STRING`, `IDENT (= !=) ip(STRING)`, `IDENT cmp ([+-]NUMBER \| DURATION \| BYTES)`, cmp `= == != > >= < <=` |
//! | unwrap | `\| unwrap (IDENT \| (bytes\|duration\|duration_seconds)(IDENT)) { \| label filter }` |
//!
//! Label filter precedence is what Loki's yacc grammar produces: `and`
//! binds tighter than `or`, both left-associative; a `,` or a
//! juxtaposition takes its left primary and *everything after it* as its
//! operands (yacc shifts on these unprecedenced operators), so
//! `a or b , c or d` is `a or (b and (c or d))`.

use super::ast::*;
use super::error::{ParseErrorKind, Span};
use super::extraction::{parse_json_path, parse_logfmt_key};
use super::lexer::{Flag, Kind, Value};
use super::parser::{PResult, Parser};
use super::pattern::parse_pattern_parser;
use super::validate;

/// An operator between label filter primaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FilterJoin {
    Or,
    And,
    /// `,` or juxtaposition.
    Then,
}

impl Parser<'_> {
    /// `selector [pipeline]` outside a range (no `unwrap`).
    pub(crate) fn log_selector(&mut self, in_range: bool) -> PResult<LogSelector> {
        let matchers = self.selector()?;
        let stages = self.pipeline(in_range)?;
        Ok(LogSelector { matchers, stages })
    }

    /// `{ matchers }`, with Loki's non-empty-matcher rule recorded for
    /// after the parse.
    fn selector(&mut self) -> PResult<Vec<Matcher>> {
        let start = self.expect(Kind::LBrace, &[Kind::LBrace])?.span.start;
        let mut matchers = Vec::new();
        if self.eat(Kind::RBrace)?.is_none() {
            matchers.push(self.matcher(&[Kind::Ident, Kind::RBrace])?);
            loop {
                match self.peek_kind()? {
                    Kind::Comma => {
                        self.bump()?;
                        matchers.push(self.matcher(&[Kind::Ident])?);
                    }
                    Kind::RBrace => {
                        self.bump()?;
                        break;
                    }
                    _ => return Err(self.unexpected(&[Kind::RBrace, Kind::Comma])),
                }
            }
        }
        if !matchers.iter().any(|m| !m.matches_empty()) {
            self.defer(ParseErrorKind::NoNonEmptyMatcher, Span::new(start, self.last_end));
        }
        Ok(matchers)
    }

    /// `IDENT op STRING`.
    fn matcher(&mut self, expected: &[Kind]) -> PResult<Matcher> {
        let start = self.peek()?.span.start;
        let name = self.expect_ident(expected)?;
        let op = match self.peek_kind()? {
            Kind::Eq => MatchOp::Equal,
            Kind::Neq => MatchOp::NotEqual,
            Kind::Re => MatchOp::Regex,
            Kind::Nre => MatchOp::NotRegex,
            _ => return Err(self.unexpected(&[Kind::Eq, Kind::Neq, Kind::Re, Kind::Nre])),
        };
        self.bump()?;
        let (value, _) = self.expect_str()?;
        self.build_matcher(op, name, value, start)
    }

    /// A matcher, compiling its regex; a bad regex fails the parse at once.
    fn build_matcher(&mut self, op: MatchOp, name: String, value: String, start: usize) -> PResult<Matcher> {
        Matcher::new(op, name, value.clone()).map_err(|e| {
            let msg = validate::regex_error_text(&value).unwrap_or_else(|| e.to_string());
            self.error(ParseErrorKind::InvalidMatcher(msg), Span::new(start, self.last_end))
        })
    }

    /// Pipeline stages; in a range, stops before `| unwrap`.
    pub(crate) fn pipeline(&mut self, in_range: bool) -> PResult<Vec<Stage>> {
        let mut stages = Vec::new();
        loop {
            match self.peek_kind()? {
                Kind::PipeExact | Kind::PipeMatch | Kind::PipePattern | Kind::Neq | Kind::Nre | Kind::Npa => {
                    self.line_filter(&mut stages)?;
                }
                Kind::Pipe => {
                    if in_range && self.peek2()? == Kind::Unwrap {
                        break;
                    }
                    let start = self.bump()?.span.start;
                    let stage = self.stage()?;
                    self.finish_stage(&stage, start);
                    stages.push(stage);
                }
                _ => break,
            }
        }
        Ok(stages)
    }

    /// Records the stage error of a finished stage, with the stage text.
    fn finish_stage(&mut self, stage: &Stage, start: usize) {
        if let Some(kind) = validate::check_stage(stage) {
            self.stage_failed(stage.to_string(), kind, Span::new(start, self.last_end));
        }
    }

    /// A line filter; negated `or` chains become one filter per operand.
    fn line_filter(&mut self, stages: &mut Vec<Stage>) -> PResult<()> {
        let tok = self.bump()?;
        let op = match tok.kind {
            Kind::PipeExact => LineFilterOp::Contains,
            Kind::Neq => LineFilterOp::NotContains,
            Kind::PipeMatch => LineFilterOp::Regex,
            Kind::Nre => LineFilterOp::NotRegex,
            Kind::PipePattern => LineFilterOp::Pattern,
            _ => LineFilterOp::NotPattern,
        };
        let mut args = vec![self.line_filter_arg()?];
        while self.eat(Kind::Or)?.is_some() {
            args.push(self.line_filter_arg()?);
        }
        let span = Span::new(tok.span.start, self.last_end);
        let filters = if op.is_negative() {
            args.into_iter().map(|a| LineFilter { op, args: vec![a] }).collect()
        } else {
            vec![LineFilter { op, args }]
        };
        for filter in filters {
            let stage = Stage::LineFilter(filter);
            if let Some(kind) = validate::check_stage(&stage) {
                self.stage_failed(stage.to_string(), kind, span);
            }
            stages.push(stage);
        }
        Ok(())
    }

    /// `STRING` or `ip(STRING)`.
    fn line_filter_arg(&mut self) -> PResult<LineFilterArg> {
        match self.peek_kind()? {
            Kind::Str => Ok(LineFilterArg::Text(self.expect_str()?.0)),
            Kind::Ip => Ok(LineFilterArg::Ip(self.ip_call()?)),
            _ => Err(self.unexpected(&[Kind::Str, Kind::Ip])),
        }
    }

    /// `ip(STRING)`; an invalid pattern is a stage error (reported by
    /// `validate`), the matcher then a placeholder.
    fn ip_call(&mut self) -> PResult<IpFilter> {
        self.expect(Kind::Ip, &[Kind::Ip])?;
        self.expect(Kind::LParen, &[Kind::LParen])?;
        let (pattern, _) = self.expect_str()?;
        self.expect(Kind::RParen, &[Kind::RParen])?;
        let matcher = IpMatcher::parse(&pattern).unwrap_or(IpMatcher::Addr(std::net::Ipv4Addr::UNSPECIFIED.into()));
        Ok(IpFilter { pattern, matcher })
    }

    /// The stage after a `|`.
    fn stage(&mut self) -> PResult<Stage> {
        Ok(match self.peek_kind()? {
            Kind::Logfmt => {
                self.bump()?;
                let mut p = LogfmtParser::default();
                while let Some(tok) = self.eat(Kind::Flag)? {
                    match tok.value {
                        Value::Flag(Flag::Strict) => p.strict = true,
                        Value::Flag(Flag::KeepEmpty) => p.keep_empty = true,
                        _ => {}
                    }
                }
                if self.peek_kind()? == Kind::Ident {
                    for (label, expr) in self.extractions()? {
                        // An invalid expression is a stage error (see `validate`).
                        let key = parse_logfmt_key(&expr).unwrap_or_default();
                        p.extractions.push(LogfmtExtraction { label, expr, key });
                    }
                }
                Stage::Logfmt(p)
            }
            Kind::Json => {
                self.bump()?;
                let mut p = JsonParser::default();
                if self.peek_kind()? == Kind::Ident {
                    for (label, expr) in self.extractions()? {
                        // An invalid expression is a stage error (see `validate`).
                        let path = parse_json_path(&expr).unwrap_or_default();
                        p.extractions.push(JsonExtraction { label, expr, path });
                    }
                }
                Stage::Json(p)
            }
            Kind::Regexp => {
                self.bump()?;
                let (regex, span) = self.expect_str()?;
                if let Err(msg) = validate::check_regexp_parser(&regex) {
                    return Err(self.error(ParseErrorKind::InvalidRegexpParser(msg), span));
                }
                Stage::Regexp(regex)
            }
            Kind::Pattern => {
                self.bump()?;
                let (pattern, span) = self.expect_str()?;
                match parse_pattern_parser(&pattern) {
                    Ok(nodes) => Stage::Pattern(PatternParser { pattern, nodes }),
                    Err(msg) => return Err(self.error(ParseErrorKind::InvalidPatternParser(msg), span)),
                }
            }
            Kind::Unpack => {
                self.bump()?;
                Stage::Unpack
            }
            Kind::LineFmt => {
                self.bump()?;
                Stage::LineFormat(self.expect_str()?.0)
            }
            Kind::LabelFmt => {
                self.bump()?;
                Stage::LabelFormat(self.label_formats()?)
            }
            Kind::Decolorize => {
                self.bump()?;
                Stage::Decolorize
            }
            Kind::Drop => {
                self.bump()?;
                Stage::Drop(self.named_matchers()?)
            }
            Kind::Keep => {
                self.bump()?;
                Stage::Keep(self.named_matchers()?)
            }
            Kind::Ident | Kind::LParen => Stage::LabelFilter(self.label_filter()?),
            _ => return Err(self.unexpected(&[])),
        })
    }

    /// `IDENT [= STRING] {, IDENT [= STRING]}`: (label, expression).
    fn extractions(&mut self) -> PResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        loop {
            let label = self.expect_ident(&[Kind::Ident])?;
            let expr = if self.eat(Kind::Eq)?.is_some() { self.expect_str()?.0 } else { label.clone() };
            out.push((label, expr));
            if self.eat(Kind::Comma)?.is_none() {
                return Ok(out);
            }
        }
    }

    /// `IDENT = (IDENT | STRING) {, …}`.
    fn label_formats(&mut self) -> PResult<Vec<LabelFormat>> {
        let mut out = Vec::new();
        loop {
            let dst = self.expect_ident(&[Kind::Ident])?;
            self.expect(Kind::Eq, &[Kind::Eq])?;
            out.push(match self.peek_kind()? {
                Kind::Ident => {
                    let src = self.expect_ident(&[Kind::Ident])?;
                    LabelFormat::Rename { dst, src }
                }
                Kind::Str => LabelFormat::Template { dst, template: self.expect_str()?.0 },
                _ => return Err(self.unexpected(&[Kind::Ident, Kind::Str])),
            });
            if self.eat(Kind::Comma)?.is_none() {
                return Ok(out);
            }
        }
    }

    /// `(IDENT | IDENT op STRING) {, …}` of `drop` / `keep`.
    fn named_matchers(&mut self) -> PResult<Vec<NamedMatcher>> {
        let mut out = Vec::new();
        loop {
            let start = self.peek()?.span.start;
            let name = self.expect_ident(&[Kind::Ident])?;
            let op = match self.peek_kind()? {
                Kind::Eq => Some(MatchOp::Equal),
                Kind::Neq => Some(MatchOp::NotEqual),
                Kind::Re => Some(MatchOp::Regex),
                Kind::Nre => Some(MatchOp::NotRegex),
                _ => None,
            };
            out.push(match op {
                Some(op) => {
                    self.bump()?;
                    let (value, _) = self.expect_str()?;
                    NamedMatcher::Matcher(self.build_matcher(op, name, value, start)?)
                }
                None => NamedMatcher::Name(name),
            });
            if self.eat(Kind::Comma)?.is_none() {
                return Ok(out);
            }
        }
    }

    /// A label filter expression (see the module docs for precedence).
    pub(crate) fn label_filter(&mut self) -> PResult<LabelFilter> {
        // Primaries and the operators between them, left to right.
        let mut primaries = vec![self.label_filter_primary()?];
        let mut joins = Vec::new();
        loop {
            let join = match self.peek_kind()? {
                Kind::Or => FilterJoin::Or,
                Kind::And => FilterJoin::And,
                Kind::Comma => FilterJoin::Then,
                Kind::Ident | Kind::LParen => FilterJoin::Then,
                _ => break,
            };
            if matches!(self.peek_kind()?, Kind::Or | Kind::And | Kind::Comma) {
                self.bump()?;
            }
            joins.push(join);
            primaries.push(self.label_filter_primary()?);
        }
        Ok(combine_filters(primaries, &joins))
    }

    fn label_filter_primary(&mut self) -> PResult<LabelFilter> {
        if self.eat(Kind::LParen)?.is_some() {
            self.enter()?;
            let inner = self.label_filter()?;
            self.expect(Kind::RParen, &[])?;
            self.leave();
            return Ok(inner);
        }
        let start = self.peek()?.span.start;
        let name = self.expect_ident(&[])?;
        let op = self.peek_kind()?;
        let cmp = match op {
            Kind::Eq => CmpOp::Eq,
            Kind::CmpEq => CmpOp::Eq,
            Kind::Neq => CmpOp::Ne,
            Kind::Gt => CmpOp::Gt,
            Kind::Gte => CmpOp::Ge,
            Kind::Lt => CmpOp::Lt,
            Kind::Lte => CmpOp::Le,
            Kind::Re | Kind::Nre => {
                self.bump()?;
                let (value, _) = self.expect_str()?;
                let mop = if op == Kind::Re { MatchOp::Regex } else { MatchOp::NotRegex };
                return Ok(LabelFilter::Matcher(self.build_matcher(mop, name, value, start)?));
            }
            _ => return Err(self.unexpected(&[])),
        };
        self.bump()?;
        let string_ok = matches!(op, Kind::Eq | Kind::Neq);
        match self.peek_kind()? {
            Kind::Str if string_ok => {
                let (value, _) = self.expect_str()?;
                let mop = if op == Kind::Eq { MatchOp::Equal } else { MatchOp::NotEqual };
                Ok(LabelFilter::Matcher(self.build_matcher(mop, name, value, start)?))
            }
            Kind::Ip if string_ok => {
                let filter = self.ip_call()?;
                Ok(LabelFilter::Ip { name, negated: op == Kind::Neq, filter })
            }
            Kind::Number | Kind::Add | Kind::Sub => {
                let value = self.filter_number()?;
                Ok(LabelFilter::Number { name, op: cmp, value })
            }
            Kind::Duration => {
                let tok = self.bump()?;
                let Value::Duration(d) = tok.value else { return Err(self.unexpected(&[])) };
                Ok(LabelFilter::Duration { name, op: cmp, value: GoDuration(d) })
            }
            Kind::Bytes => {
                let tok = self.bump()?;
                let Value::Bytes(b) = tok.value else { return Err(self.unexpected(&[])) };
                Ok(LabelFilter::Bytes { name, op: cmp, value: b })
            }
            _ => Err(self.unexpected(&[])),
        }
    }

    /// `| unwrap …` with its post filters, if next.
    fn unwrap_opt(&mut self) -> PResult<Option<Unwrap>> {
        if self.peek_kind()? != Kind::Pipe {
            return Ok(None);
        }
        self.bump()?;
        self.expect(Kind::Unwrap, &[Kind::Unwrap])?;
        let conversion = match self.peek_kind()? {
            Kind::BytesConv => Some(Conversion::Bytes),
            Kind::DurationConv => Some(Conversion::Duration),
            Kind::DurationSecondsConv => Some(Conversion::DurationSeconds),
            _ => None,
        };
        let label = if conversion.is_some() {
            self.bump()?;
            self.expect(Kind::LParen, &[Kind::LParen])?;
            let label = self.expect_ident(&[Kind::Ident])?;
            self.expect(Kind::RParen, &[Kind::RParen])?;
            label
        } else {
            self.expect_ident(&[Kind::Ident, Kind::BytesConv, Kind::DurationConv, Kind::DurationSecondsConv])?
        };
        let mut post_filters = Vec::new();
        while self.peek_kind()? == Kind::Pipe {
            let start = self.bump()?.span.start;
            let filter = self.label_filter()?;
            if let Some(kind) = validate::check_label_filter(&filter) {
                let text = format!("| {filter}");
                self.stage_failed(text, kind, Span::new(start, self.last_end));
            }
            post_filters.push(filter);
        }
        Ok(Some(Unwrap { label, conversion, post_filters }))
    }

    /// A log range (see `parser.rs` for the accepted forms).
    pub(crate) fn log_range(&mut self, number_allowed: bool) -> PResult<LogRange> {
        if self.eat(Kind::LParen)?.is_some() {
            self.enter()?;
            if self.peek_kind()? == Kind::LParen {
                let inner = self.log_range(false)?;
                self.expect(Kind::RParen, &[])?;
                self.leave();
                return Ok(inner);
            }
            if self.peek_kind()? != Kind::LBrace {
                return Err(self.unexpected(&[Kind::LBrace, Kind::LParen]));
            }
            let selector = self.log_selector(true)?;
            let unwrap = self.unwrap_opt()?;
            if self.eat(Kind::RParen)?.is_some() {
                self.leave();
                let (range, offset) = self.range_and_offset()?;
                let unwrap = match unwrap {
                    None if selector.stages.is_empty() => self.unwrap_opt()?,
                    u => u,
                };
                return Ok(LogRange { selector, unwrap, range, offset });
            }
            let lr = self.range_rest(selector, unwrap)?;
            self.expect(Kind::RParen, &[])?;
            self.leave();
            return Ok(lr);
        }
        if self.peek_kind()? != Kind::LBrace {
            let expected: &[Kind] = if number_allowed {
                &[Kind::Number, Kind::LBrace, Kind::LParen]
            } else {
                &[Kind::LBrace, Kind::LParen]
            };
            return Err(self.unexpected(expected));
        }
        let selector = self.log_selector(true)?;
        let unwrap = self.unwrap_opt()?;
        self.range_rest(selector, unwrap)
    }

    /// `RANGE [offset]`, then (only when nothing came before the range) a
    /// pipeline and unwrap.
    fn range_rest(&mut self, mut selector: LogSelector, mut unwrap: Option<Unwrap>) -> PResult<LogRange> {
        let (range, offset) = self.range_and_offset()?;
        if selector.stages.is_empty() && unwrap.is_none() {
            selector.stages = self.pipeline(true)?;
            unwrap = self.unwrap_opt()?;
        }
        Ok(LogRange { selector, unwrap, range, offset })
    }

    /// `RANGE [offset DURATION]`.
    fn range_and_offset(&mut self) -> PResult<(std::time::Duration, GoDuration)> {
        let tok = self.expect(Kind::Range, &[])?;
        let range = match tok.value {
            Value::Range(d) => d,
            _ => std::time::Duration::ZERO,
        };
        let mut offset = GoDuration(0);
        if self.eat(Kind::Offset)?.is_some() {
            let tok = self.expect(Kind::Duration, &[Kind::Duration])?;
            if let Value::Duration(d) = tok.value {
                offset = GoDuration(d);
            }
        }
        Ok((range, offset))
    }
}

/// Builds the filter tree from primaries `p0 j0 p1 j1 … pn`: split at
/// `Then` joins, each part an `or` of `and`s, where each part's last primary
/// takes the rest of the expression as its `and` partner.
fn combine_filters(primaries: Vec<LabelFilter>, joins: &[FilterJoin]) -> LabelFilter {
    // Segments of (primaries, joins) separated by `Then`.
    let mut segments: Vec<(Vec<LabelFilter>, Vec<FilterJoin>)> = vec![(Vec::new(), Vec::new())];
    for (i, p) in primaries.into_iter().enumerate() {
        if let Some(seg) = segments.last_mut() {
            seg.0.push(p);
        }
        match joins.get(i) {
            Some(FilterJoin::Then) => segments.push((Vec::new(), Vec::new())),
            Some(&j) => {
                if let Some(seg) = segments.last_mut() {
                    seg.1.push(j);
                }
            }
            None => {}
        }
    }
    let mut rest: Option<LabelFilter> = None;
    for (mut prims, seg_joins) in segments.into_iter().rev() {
        if let Some(r) = rest.take()
            && let Some(last) = prims.pop()
        {
            prims.push(LabelFilter::and(last, r));
        }
        rest = Some(or_of_ands(prims, &seg_joins));
    }
    rest.unwrap_or(LabelFilter::And(Vec::new()))
}

/// `p0 j0 p1 …` with `and` binding tighter than `or`, both left to right.
fn or_of_ands(prims: Vec<LabelFilter>, joins: &[FilterJoin]) -> LabelFilter {
    let mut result: Option<LabelFilter> = None;
    let mut group: Option<LabelFilter> = None;
    for (i, p) in prims.into_iter().enumerate() {
        group = Some(match group.take() {
            Some(g) => LabelFilter::and(g, p),
            None => p,
        });
        if joins.get(i) != Some(&FilterJoin::And)
            && let Some(g) = group.take()
        {
            result = Some(match result.take() {
                Some(r) => LabelFilter::or(r, g),
                None => g,
            });
        }
    }
    result.unwrap_or(LabelFilter::And(Vec::new()))
}
