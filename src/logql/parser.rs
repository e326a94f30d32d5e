//! The recursive-descent LogQL parser: metric expressions, binary
//! operators and the parser's error bookkeeping. Log selectors, pipelines
//! and label filters are in `pipeline.rs`.
//!
//! Grammar (`../shared/spec/logql.md` §2), by function:
//!
//! | function | parses |
//! |---|---|
//! | [`Parser::expr`] | `operand { binop [bool] [on/ignoring (…) [group_left/right [(…)]]] operand }`, precedence climbing (`or` < `and unless` < comparisons < `+ -` < `* / %` < `^`, all left-associative but `^`) |
//! | `operand` | `( expr )`, a log query, `[+-]NUMBER`, range and vector aggregations, `label_replace(…)`, `vector(NUMBER)` |
//! | `range_aggregation` | `op ( [NUMBER ,] logRange ) [grouping]` |
//! | `log_range` | `selector [pipeline] [unwrap] RANGE [offset]`, `selector RANGE [offset] [pipeline] [unwrap]`, `( selector [pipeline] [unwrap] ) RANGE [offset]`, `(selector) RANGE [offset] [unwrap]`, `( logRange )` |
//! | `vector_aggregation` | `op [grouping] ( [NUMBER ,] expr ) [grouping]` (one grouping at most) |
//!
//! Errors come in Loki's order: lexical and syntax errors and the checks Loki
//! makes while parsing (matcher regexes, `regexp`/`pattern` expressions,
//! label filter numbers) stop the parse at once; the checks Loki makes after
//! parsing (parameters, grouping, unwrap, binary operand types, literals,
//! the non-empty matcher rule) are collected and the one first in tree
//! pre-order is reported; pipeline stage errors (line filter regexes, `ip()`,
//! extraction expressions, `label_format` targets) come last.

use std::cmp::Reverse;
use std::collections::VecDeque;

use super::MAX_NESTING;
use super::ast::*;
use super::error::{ParseError, ParseErrorKind, Span, StageErrorKind};
use super::lexer::{Kind, LexError, Lexer, Token, Value};
use super::number::{parse_go_float, parse_go_int};

/// A parsed operand with its source span.
pub(crate) struct Node {
    pub(crate) expr: Expr,
    pub(crate) span: Span,
    /// A literal whose text is not a float (its value is a NaN placeholder).
    bad_literal: Option<ParseErrorKind>,
}

impl Node {
    fn sample(expr: SampleExpr, span: Span) -> Self {
        Self { expr: Expr::Sample(expr), span, bad_literal: None }
    }
}

/// `on`/`ignoring`/`group_*` and `bool`.
#[derive(Default)]
struct Modifiers {
    return_bool: bool,
    matching: VectorMatching,
}

pub(crate) struct Parser<'a> {
    pub(crate) src: &'a str,
    lexer: Lexer<'a>,
    lookahead: VecDeque<Token>,
    /// End of the last consumed token.
    pub(crate) last_end: usize,
    depth: usize,
    /// The post-parse error first in tree pre-order: keyed by (start,
    /// longest first). Built into a `ParseError` only at the end.
    deferred: Option<((usize, Reverse<usize>), ParseErrorKind, Span)>,
    /// The first pipeline stage error.
    stage_error: Option<ParseError>,
}

pub(crate) type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            lexer: Lexer::new(src),
            lookahead: VecDeque::new(),
            last_end: 0,
            depth: 0,
            deferred: None,
            stage_error: None,
        }
    }

    /// Parses a whole query.
    pub(crate) fn parse_query(mut self) -> PResult<Expr> {
        let node = self.expr(0)?;
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected(&[]));
        }
        if let Some((_, kind, span)) = self.deferred.take() {
            return Err(self.error(kind, span));
        }
        if let Some(err) = self.stage_error {
            return Err(err);
        }
        Ok(node.expr)
    }

    // -----------------------------------------------------------------
    // Tokens and errors
    // -----------------------------------------------------------------

    fn lex_error(&self, e: LexError) -> ParseError {
        ParseError::new(ParseErrorKind::Lexical(e.msg), e.span, e.line_zero, self.src)
    }

    fn fill(&mut self, n: usize) -> PResult<()> {
        while self.lookahead.len() < n {
            let tok = self.lexer.next_token().map_err(|e| self.lex_error(e))?;
            self.lookahead.push_back(tok);
        }
        Ok(())
    }

    /// The next token.
    pub(crate) fn peek(&mut self) -> PResult<&Token> {
        self.fill(1)?;
        self.lookahead.front().ok_or_else(|| self.eof_error())
    }

    /// The kind of the token after the next one.
    pub(crate) fn peek2(&mut self) -> PResult<Kind> {
        self.fill(2)?;
        Ok(self.lookahead.get(1).map_or(Kind::Eof, |t| t.kind))
    }

    pub(crate) fn peek_kind(&mut self) -> PResult<Kind> {
        Ok(self.peek()?.kind)
    }

    /// Consumes the next token.
    pub(crate) fn bump(&mut self) -> PResult<Token> {
        self.fill(1)?;
        let tok = self.lookahead.pop_front().ok_or_else(|| self.eof_error())?;
        self.last_end = tok.span.end;
        Ok(tok)
    }

    /// Consumes the next token if it is `kind`.
    pub(crate) fn eat(&mut self, kind: Kind) -> PResult<Option<Token>> {
        if self.peek_kind()? == kind { self.bump().map(Some) } else { Ok(None) }
    }

    /// Consumes a token of `kind` or fails with "unexpected …, expecting
    /// `expected`".
    pub(crate) fn expect(&mut self, kind: Kind, expected: &[Kind]) -> PResult<Token> {
        if self.peek_kind()? == kind { self.bump() } else { Err(self.unexpected(expected)) }
    }

    /// The text of a consumed token.
    pub(crate) fn text(&self, tok: &Token) -> &'a str {
        self.src.get(tok.span.start..tok.span.end).unwrap_or("")
    }

    /// A string token's value.
    pub(crate) fn expect_str(&mut self) -> PResult<(String, Span)> {
        let tok = self.expect(Kind::Str, &[Kind::Str])?;
        let span = tok.span;
        match tok.value {
            Value::Str(s) => Ok((s, span)),
            _ => Ok((String::new(), span)),
        }
    }

    /// An identifier token's text.
    pub(crate) fn expect_ident(&mut self, expected: &[Kind]) -> PResult<String> {
        let tok = self.expect(Kind::Ident, expected)?;
        Ok(self.text(&tok).to_owned())
    }

    fn eof_error(&self) -> ParseError {
        let end = self.src.len();
        ParseError::new(
            ParseErrorKind::Syntax { unexpected: Kind::Eof.name(), expected: Vec::new() },
            Span::new(end, end),
            false,
            self.src,
        )
    }

    /// "syntax error: unexpected <next token>[, expecting …]" (the list only
    /// when it has at most four entries, as goyacc prints it).
    pub(crate) fn unexpected(&mut self, expected: &[Kind]) -> ParseError {
        let tok = match self.peek() {
            Ok(t) => t.clone(),
            Err(e) => return e,
        };
        let mut kinds = expected.to_vec();
        kinds.sort();
        kinds.dedup();
        let expected = if kinds.len() <= 4 { kinds.iter().map(|k| k.name()).collect() } else { Vec::new() };
        ParseError::new(
            ParseErrorKind::Syntax { unexpected: tok.kind.name(), expected },
            tok.span,
            tok.line_zero,
            self.src,
        )
    }

    /// An error without a Loki position, for `span`.
    pub(crate) fn error(&self, kind: ParseErrorKind, span: Span) -> ParseError {
        ParseError::new(kind, span, false, self.src)
    }

    /// Records a post-parse error of the node spanning `span`.
    pub(crate) fn defer(&mut self, kind: ParseErrorKind, span: Span) {
        let key = (span.start, Reverse(span.end));
        if self.deferred.as_ref().is_none_or(|(k, _, _)| key < *k) {
            self.deferred = Some((key, kind, span));
        }
    }

    /// Records a pipeline stage error (the first one wins).
    pub(crate) fn stage_failed(&mut self, stage: String, kind: StageErrorKind, span: Span) {
        if self.stage_error.is_none() {
            self.stage_error = Some(self.error(ParseErrorKind::Stage { stage, kind }, span));
        }
    }

    /// Enters one nesting level.
    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let span = self.peek().map(|t| t.span).unwrap_or_default();
            return Err(self.error(ParseErrorKind::NestingTooDeep { limit: MAX_NESTING }, span));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // -----------------------------------------------------------------
    // Expressions
    // -----------------------------------------------------------------

    /// `operand { binop operand }` with operators binding at least
    /// `min_prec`.
    fn expr(&mut self, min_prec: u8) -> PResult<Node> {
        let mut lhs = self.operand()?;
        let mut chain = 0;
        while let Some(op) = binary_op(self.peek_kind()?) {
            if op.precedence() < min_prec {
                break;
            }
            self.bump()?;
            let modifiers = self.modifiers()?;
            let next_min = if op.is_right_associative() { op.precedence() } else { op.precedence() + 1 };
            self.enter()?;
            let rhs = self.expr(next_min)?;
            self.leave();
            chain += 1;
            if self.depth + chain > MAX_NESTING {
                return Err(self.error(ParseErrorKind::NestingTooDeep { limit: MAX_NESTING }, rhs.span));
            }
            lhs = self.binary(op, modifiers, lhs, rhs);
        }
        Ok(lhs)
    }

    /// `[bool] [(on|ignoring) (labels) [(group_left|group_right) [(labels)]]]`.
    fn modifiers(&mut self) -> PResult<Modifiers> {
        let mut m = Modifiers { return_bool: self.eat(Kind::Bool)?.is_some(), ..Modifiers::default() };
        let on = match self.peek_kind()? {
            Kind::On => true,
            Kind::Ignoring => false,
            _ => return Ok(m),
        };
        self.bump()?;
        m.matching.on = on;
        m.matching.labels = self.label_list()?;
        let card = match self.peek_kind()? {
            Kind::GroupLeft => Cardinality::ManyToOne,
            Kind::GroupRight => Cardinality::OneToMany,
            _ => return Ok(m),
        };
        self.bump()?;
        m.matching.card = card;
        if self.peek_kind()? == Kind::LParen {
            m.matching.include = self.label_list()?;
        }
        Ok(m)
    }

    /// `( [IDENT {, IDENT}] )`.
    pub(crate) fn label_list(&mut self) -> PResult<Vec<String>> {
        self.expect(Kind::LParen, &[Kind::LParen])?;
        let mut labels = Vec::new();
        if self.eat(Kind::RParen)?.is_some() {
            return Ok(labels);
        }
        labels.push(self.expect_ident(&[Kind::Ident, Kind::RParen])?);
        loop {
            match self.peek_kind()? {
                Kind::Comma => {
                    self.bump()?;
                    labels.push(self.expect_ident(&[Kind::Ident])?);
                }
                Kind::RParen => {
                    self.bump()?;
                    return Ok(labels);
                }
                _ => return Err(self.unexpected(&[Kind::Comma, Kind::RParen])),
            }
        }
    }

    /// Builds `lhs op rhs`, folding two literals and recording Loki's
    /// operand checks.
    fn binary(&mut self, op: BinaryOp, m: Modifiers, lhs: Node, rhs: Node) -> Node {
        let span = lhs.span.to(rhs.span);
        let placeholder = Node::sample(SampleExpr::Literal(f64::NAN), span);
        for (node, left) in [(&lhs, true), (&rhs, false)] {
            if let Expr::Log(sel) = &node.expr {
                let pipeline = !sel.stages.is_empty();
                self.defer(ParseErrorKind::LogQueryInBinaryOp { op, left, pipeline }, span);
                return placeholder;
            }
        }
        for node in [&lhs, &rhs] {
            if let Some(kind) = &node.bad_literal {
                self.defer(kind.clone(), span);
                return placeholder;
            }
        }
        let (Expr::Sample(l), Expr::Sample(r)) = (lhs.expr, rhs.expr) else { return placeholder };
        if op.is_set_op() {
            for (side, left) in [(&l, true), (&r, false)] {
                if let SampleExpr::Literal(value) = side {
                    self.defer(ParseErrorKind::LiteralInSetOperation { op, left, value: *value }, span);
                    return placeholder;
                }
            }
        }
        if let (SampleExpr::Literal(a), SampleExpr::Literal(b)) = (&l, &r) {
            return Node::sample(SampleExpr::Literal(op.apply(*a, *b).unwrap_or(f64::NAN)), span);
        }
        let expr =
            BinaryOpExpr { op, return_bool: m.return_bool, matching: m.matching, lhs: Box::new(l), rhs: Box::new(r) };
        Node::sample(SampleExpr::BinaryOp(expr), span)
    }

    /// One operand of a binary expression.
    fn operand(&mut self) -> PResult<Node> {
        let kind = self.peek_kind()?;
        if let Some(op) = range_op(kind) {
            return self.range_aggregation(op);
        }
        if let Some(op) = vector_op(kind) {
            return self.vector_aggregation(op);
        }
        match kind {
            Kind::LBrace => {
                let start = self.peek()?.span.start;
                let selector = self.log_selector(false)?;
                let span = Span::new(start, self.last_end);
                Ok(Node { expr: Expr::Log(selector), span, bad_literal: None })
            }
            Kind::LParen => {
                self.bump()?;
                self.enter()?;
                let inner = self.expr(0)?;
                self.expect(Kind::RParen, &[])?;
                self.leave();
                Ok(inner)
            }
            Kind::Number | Kind::Add | Kind::Sub => self.literal(),
            Kind::LabelReplace => self.label_replace(),
            Kind::Vector => self.vector(),
            _ => Err(self.unexpected(&[])),
        }
    }

    /// `[+-]NUMBER`.
    fn literal(&mut self) -> PResult<Node> {
        let start = self.peek()?.span.start;
        let negative = match self.peek_kind()? {
            Kind::Add => {
                self.bump()?;
                false
            }
            Kind::Sub => {
                self.bump()?;
                true
            }
            _ => false,
        };
        let tok = self.expect(Kind::Number, &[Kind::Number])?;
        let text = self.text(&tok);
        let span = Span::new(start, tok.span.end);
        match parse_go_float(text) {
            Ok(v) => Ok(Node::sample(SampleExpr::Literal(if negative { -v } else { v }), span)),
            Err(e) => {
                let kind = ParseErrorKind::InvalidLiteral { vector: false, reason: e.message("ParseFloat", text) };
                self.defer(kind.clone(), span);
                let mut node = Node::sample(SampleExpr::Literal(f64::NAN), span);
                node.bad_literal = Some(kind);
                Ok(node)
            }
        }
    }

    /// A label filter literal: `[+-]NUMBER`, checked at once (Loki panics
    /// while parsing).
    pub(crate) fn filter_number(&mut self) -> PResult<f64> {
        let node = self.literal()?;
        if let Some(kind) = node.bad_literal {
            return Err(self.error(kind, node.span));
        }
        match node.expr {
            Expr::Sample(SampleExpr::Literal(v)) => Ok(v),
            _ => Ok(f64::NAN),
        }
    }

    /// `vector(NUMBER)`.
    fn vector(&mut self) -> PResult<Node> {
        let start = self.bump()?.span.start;
        self.expect(Kind::LParen, &[Kind::LParen])?;
        let tok = self.expect(Kind::Number, &[Kind::Number])?;
        self.expect(Kind::RParen, &[Kind::RParen])?;
        let span = Span::new(start, self.last_end);
        let text = self.text(&tok);
        let value = match parse_go_float(text) {
            Ok(v) => v,
            Err(e) => {
                let reason = e.message("ParseFloat", text);
                self.defer(ParseErrorKind::InvalidLiteral { vector: true, reason }, span);
                0.0
            }
        };
        Ok(Node::sample(SampleExpr::Vector(value), span))
    }

    /// `label_replace(expr, "dst", "replacement", "src", "regex")`.
    fn label_replace(&mut self) -> PResult<Node> {
        let start = self.bump()?.span.start;
        self.expect(Kind::LParen, &[Kind::LParen])?;
        self.enter()?;
        let inner = self.expr(0)?;
        let inner = self.require_sample(inner)?;
        let mut strings = Vec::with_capacity(4);
        for _ in 0..4 {
            self.expect(Kind::Comma, &[Kind::Comma])?;
            strings.push(self.expect_str()?.0);
        }
        self.expect(Kind::RParen, &[Kind::RParen])?;
        self.leave();
        let span = Span::new(start, self.last_end);
        let [dst, replacement, src, regex]: [String; 4] = strings.try_into().unwrap_or_default();
        if let Err(e) = regex::Regex::new(&format!("^(?:{regex})$")) {
            self.defer(ParseErrorKind::InvalidLabelReplaceRegex(super::validate::regex_error(&regex, &e)), span);
        }
        let expr = LabelReplace { expr: Box::new(inner), dst, replacement, src, regex };
        Ok(Node::sample(SampleExpr::LabelReplace(expr), span))
    }

    /// A metric operand where the grammar wants one: a log query here is a
    /// syntax error at the token after it.
    fn require_sample(&mut self, node: Node) -> PResult<SampleExpr> {
        match node.expr {
            Expr::Sample(s) => Ok(s),
            Expr::Log(_) => Err(self.unexpected(&[])),
        }
    }

    /// `by (…)` / `without (…)`, if present.
    fn grouping(&mut self) -> PResult<Option<Grouping>> {
        let without = match self.peek_kind()? {
            Kind::By => false,
            Kind::Without => true,
            _ => return Ok(None),
        };
        self.bump()?;
        Ok(Some(Grouping { without, labels: self.label_list()? }))
    }

    /// `op ( [NUMBER ,] logRange ) [grouping]`.
    fn range_aggregation(&mut self, op: RangeOp) -> PResult<Node> {
        let start = self.bump()?.span.start;
        self.expect(Kind::LParen, &[Kind::LParen])?;
        self.enter()?;
        let mut param = None;
        if self.peek_kind()? == Kind::Number {
            let tok = self.bump()?;
            param = Some(self.text(&tok).to_owned());
            self.expect(Kind::Comma, &[Kind::Comma])?;
        }
        let range = self.log_range(param.is_none())?;
        self.expect(Kind::RParen, &[])?;
        self.leave();
        let grouping = self.grouping()?;
        let span = Span::new(start, self.last_end);
        let param = self.range_param(op, param, span);
        if let Some(kind) = range_agg_error(op, grouping.is_some(), range.unwrap.is_some()) {
            self.defer(kind, span);
        }
        Ok(Node::sample(SampleExpr::RangeAggregation(RangeAggregation { op, param, range, grouping }), span))
    }

    /// Loki's parameter checks of a range aggregation.
    fn range_param(&mut self, op: RangeOp, param: Option<String>, span: Span) -> Option<f64> {
        match (param, op) {
            (None, RangeOp::QuantileOverTime) => {
                self.defer(ParseErrorKind::RangeParamRequired(op), span);
                None
            }
            (None, _) => None,
            (Some(param), RangeOp::QuantileOverTime) => match parse_go_float(&param) {
                Ok(v) => Some(v),
                Err(e) => {
                    let reason = e.message("ParseFloat", &param);
                    self.defer(ParseErrorKind::InvalidRangeParam { op, reason }, span);
                    None
                }
            },
            (Some(param), _) => {
                self.defer(ParseErrorKind::RangeParamNotSupported { op, param }, span);
                None
            }
        }
    }

    /// `op [grouping] ( [NUMBER ,] expr ) [grouping]`.
    fn vector_aggregation(&mut self, op: VectorOp) -> PResult<Node> {
        let start = self.bump()?.span.start;
        let before = self.grouping()?;
        self.expect(Kind::LParen, &[Kind::LParen])?;
        self.enter()?;
        let mut param = None;
        if self.peek_kind()? == Kind::Number && self.peek2()? == Kind::Comma {
            let tok = self.bump()?;
            param = Some(self.text(&tok).to_owned());
            self.bump()?;
        }
        let inner = self.expr(0)?;
        let inner = self.require_sample(inner)?;
        self.expect(Kind::RParen, &[])?;
        self.leave();
        let grouping = match before {
            Some(g) => Some(g),
            None => self.grouping()?,
        };
        let span = Span::new(start, self.last_end);
        let has_grouping = grouping.is_some();
        let grouping = grouping.unwrap_or_default();
        let param = self.vector_param(op, param, has_grouping, &grouping, span);
        let agg = VectorAggregation { op, param, grouping, expr: Box::new(inner) };
        Ok(Node::sample(SampleExpr::VectorAggregation(agg), span))
    }

    /// Loki's parameter and grouping checks of a vector aggregation.
    fn vector_param(
        &mut self,
        op: VectorOp,
        param: Option<String>,
        has_grouping: bool,
        grouping: &Grouping,
        span: Span,
    ) -> Option<i64> {
        let mut value = None;
        let error = if op.takes_param() {
            match param {
                None => Some(ParseErrorKind::VectorParamRequired(op)),
                Some(param) => match parse_go_int(&param) {
                    Err(_) => Some(ParseErrorKind::InvalidVectorParam { op, param }),
                    Ok(v) if v <= 0 => Some(ParseErrorKind::VectorParamNotPositive { op, param }),
                    Ok(_) if op == VectorOp::ApproxTopk && has_grouping => {
                        Some(ParseErrorKind::VectorGroupingNotAllowed(op))
                    }
                    Ok(v) => {
                        value = Some(v);
                        None
                    }
                },
            }
        } else if let Some(param) = param {
            Some(ParseErrorKind::VectorParamNotSupported { op, param })
        } else if matches!(op, VectorOp::Sort | VectorOp::SortDesc) && !grouping.labels.is_empty() {
            Some(ParseErrorKind::SortGrouping)
        } else {
            None
        };
        if let Some(kind) = error {
            self.defer(kind, span);
        }
        value
    }
}

/// Loki's grouping and unwrap checks of a range aggregation.
fn range_agg_error(op: RangeOp, grouping: bool, unwrap: bool) -> Option<ParseErrorKind> {
    if grouping && !op.allows_grouping() {
        return Some(ParseErrorKind::RangeGroupingNotAllowed(op));
    }
    if unwrap {
        return (!op.allows_unwrap()).then_some(ParseErrorKind::UnwrapNotAllowed(op));
    }
    (!op.allows_lines()).then_some(ParseErrorKind::UnwrapRequired(op))
}

fn binary_op(kind: Kind) -> Option<BinaryOp> {
    Some(match kind {
        Kind::Or => BinaryOp::Or,
        Kind::And => BinaryOp::And,
        Kind::Unless => BinaryOp::Unless,
        Kind::Add => BinaryOp::Add,
        Kind::Sub => BinaryOp::Sub,
        Kind::Mul => BinaryOp::Mul,
        Kind::Div => BinaryOp::Div,
        Kind::Mod => BinaryOp::Mod,
        Kind::Pow => BinaryOp::Pow,
        Kind::CmpEq => BinaryOp::Eq,
        Kind::Neq => BinaryOp::Ne,
        Kind::Gt => BinaryOp::Gt,
        Kind::Gte => BinaryOp::Ge,
        Kind::Lt => BinaryOp::Lt,
        Kind::Lte => BinaryOp::Le,
        _ => return None,
    })
}

fn range_op(kind: Kind) -> Option<RangeOp> {
    Some(match kind {
        Kind::CountOverTime => RangeOp::CountOverTime,
        Kind::Rate => RangeOp::Rate,
        Kind::RateCounter => RangeOp::RateCounter,
        Kind::BytesOverTime => RangeOp::BytesOverTime,
        Kind::BytesRate => RangeOp::BytesRate,
        Kind::AvgOverTime => RangeOp::AvgOverTime,
        Kind::SumOverTime => RangeOp::SumOverTime,
        Kind::MinOverTime => RangeOp::MinOverTime,
        Kind::MaxOverTime => RangeOp::MaxOverTime,
        Kind::StdvarOverTime => RangeOp::StdvarOverTime,
        Kind::StddevOverTime => RangeOp::StddevOverTime,
        Kind::QuantileOverTime => RangeOp::QuantileOverTime,
        Kind::FirstOverTime => RangeOp::FirstOverTime,
        Kind::LastOverTime => RangeOp::LastOverTime,
        Kind::AbsentOverTime => RangeOp::AbsentOverTime,
        _ => return None,
    })
}

fn vector_op(kind: Kind) -> Option<VectorOp> {
    Some(match kind {
        Kind::Sum => VectorOp::Sum,
        Kind::Avg => VectorOp::Avg,
        Kind::Count => VectorOp::Count,
        Kind::Max => VectorOp::Max,
        Kind::Min => VectorOp::Min,
        Kind::Stddev => VectorOp::Stddev,
        Kind::Stdvar => VectorOp::Stdvar,
        Kind::Bottomk => VectorOp::Bottomk,
        Kind::Topk => VectorOp::Topk,
        Kind::Sort => VectorOp::Sort,
        Kind::SortDesc => VectorOp::SortDesc,
        Kind::ApproxTopk => VectorOp::ApproxTopk,
        _ => return None,
    })
}
