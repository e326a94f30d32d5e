//! Parsing a stream selector string as Loki parses the `labels` of a push.
//!
//! Loki's `syntax.ParseLabels` (pkg/logql/syntax/parser.go) rejects strings
//! longer than 16 MiB - 1, runs the Prometheus PromQL parser's `ParseMetric`
//! (a goyacc grammar over the PromQL lexer) and drops labels with empty
//! values. This module re-implements exactly the subset of that lexer and
//! grammar a metric can reach:
//!
//! ```text
//! metric     = [ metric_name ] [ "{" [ item { "," item } [ "," ] ] "}" ]
//! item       = IDENTIFIER "=" STRING | STRING "=" STRING | STRING
//! ```
//!
//! * Tokens may be separated by spaces, tabs, CR and LF, and `#` starts a
//!   comment that runs to the end of the line, inside braces too.
//! * `metric_name` is an identifier `[a-zA-Z_:][a-zA-Z0-9_:]*` that is not
//!   one of the PromQL keywords the grammar refuses there (`atan2`, `bool`,
//!   `on`, `ignoring`, `group_left`, `group_right`, `inf`, `nan`; matched
//!   case-insensitively); it becomes the `__name__` label. The empty string
//!   is an empty label set.
//! * Names inside braces are `[a-zA-Z_][a-zA-Z0-9_]*` or any quoted string;
//!   a lone quoted string is the metric name (`{"up"}` is `{__name__="up"}`).
//! * Strings are double-quoted, single-quoted (same rules, with `\'`
//!   instead of `\"`) or backtick raw strings. Quoted strings may not span
//!   lines and accept Go's escapes `\a \b \f \n \r \t \v \\`, the own quote,
//!   `\NNN` octal (at most 255), `\xNN`, `\uNNNN` and `\UNNNNNNNN` (no
//!   surrogates, at most U+10FFFF). A literal U+FFFD in any string is
//!   rejected ("invalid UTF-8 rune"), as Go's lexer cannot tell it from a
//!   bad byte.
//! * The result is sorted by name; empty values are dropped. With a metric
//!   name before the braces, Prometheus' label builder drops *every* label
//!   whose name also appears with an empty value (`foo{a="x", a=""}` keeps
//!   no `a`), and the metric name replaces the first `__name__` inside the
//!   braces.
//!
//! Differences, all on inputs Loki would not store usefully:
//!
//! * `\xNN` and octal escapes produce single bytes in Go, so a value can be
//!   invalid UTF-8 there; a [`Labels`] holds `String`s, so such input is
//!   rejected with a parse error.
//! * A name that is still present twice is accepted by Loki's parser and
//!   rejected by its distributor ("stream ... has duplicate label name");
//!   here the parser returns that same error,
//!   [`LabelsError::DuplicateLabelName`], because a [`Labels`] cannot hold
//!   both.
//!
//! Errors report the first problem with Loki's message: lexer errors
//! ("unterminated quoted string", "unexpected end of input inside braces",
//! ...) at the start of the offending token, and grammar errors
//! (`unexpected identifier "c" in label set, expected "," or "}"`) at the
//! unexpected token. The grammar errors were checked, state by state and
//! token by token, against a simulation of the goyacc tables Prometheus
//! generates.

use super::quote::{quote, quote_rune, quote_truncated, unicode_sharp};
use super::{Label, Labels, LabelsError, METRIC_NAME, write_label_list};

/// Longest labels string Loki parses (`maxStreamLabelsSize`, 16 MiB - 1).
pub(crate) const MAX_LABELS_SIZE: usize = (1 << 24) - 1;

/// What the PromQL lexer calls a keyword class; decides how Go's
/// `Item.desc()` prints a token in "unexpected ..." messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Printed `<op:TEXT>`.
    Operator,
    /// Printed `<aggr:TEXT>`.
    Aggregator,
    /// Printed `<TEXT>`.
    Keyword,
    /// In Go's item-type table but printed quoted (`"start"`, `","`).
    Plain,
    /// `inf` / `nan`: number tokens, printed `number "Inf"`.
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    Comma,
    LeftBrace,
    RightBrace,
    Eql,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (and, outside braces, colon-free words
    /// that are not keywords).
    Identifier,
    /// A word with a colon, outside braces.
    MetricIdentifier,
    /// A keyword; `metric_name` says whether the grammar accepts it as a
    /// metric name.
    Keyword {
        class: Class,
        metric_name: bool,
    },
    Str,
    Number,
    Duration,
    /// Punctuation or an operator, described by `class`.
    Other(Class),
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// A lexer error: Go's `errorf`, reported at the lexer's token start.
struct LexError {
    pos: usize,
    msg: String,
}

type LexResult<T> = Result<T, LexError>;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// PromQL keywords, by lowercase spelling: class and whether the metric
/// grammar accepts the word as a metric name.
fn keyword(word: &str) -> Option<(Class, bool)> {
    use Class::*;
    Some(match word {
        "and" | "or" | "unless" => (Operator, true),
        "atan2" => (Operator, false),
        "sum" | "avg" | "count" | "min" | "max" | "group" | "stddev" | "stdvar" | "topk" | "bottomk"
        | "count_values" | "quantile" | "limitk" | "limit_ratio" => (Aggregator, true),
        "offset" | "smoothed" | "anchored" | "by" | "without" | "fill" | "fill_left" | "fill_right" => (Keyword, true),
        "on" | "ignoring" | "group_left" | "group_right" | "bool" => (Keyword, false),
        "start" | "end" | "step" | "range" | "max_of" | "min_of" => (Plain, true),
        "inf" | "nan" => (Number, false),
        _ => return None,
    })
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    brace_open: bool,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, pos: 0, start: 0, width: 0, brace_open: false }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    /// Go's `next`: the next rune, `None` at the end.
    fn next(&mut self) -> Option<char> {
        match self.rest().chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn backup(&mut self) {
        self.pos -= self.width;
    }

    fn peek(&mut self) -> Option<char> {
        let c = self.next();
        self.backup();
        c
    }

    fn accept(&mut self, valid: &str) -> bool {
        if self.next().is_some_and(|c| valid.contains(c)) {
            return true;
        }
        self.backup();
        false
    }

    fn is(&mut self, valid: &str) -> bool {
        self.peek().is_some_and(|c| valid.contains(c))
    }

    fn error<T>(&self, msg: String) -> LexResult<T> {
        Err(LexError { pos: self.start, msg })
    }

    fn token(&self, kind: Kind) -> Token {
        Token { kind, start: self.start, end: self.pos }
    }

    fn text(&self, t: Token) -> &'a str {
        self.input.get(t.start..t.end).unwrap_or("")
    }

    fn skip_comment(&mut self) {
        self.pos += 1;
        while self.next().is_some_and(|c| c != '\n' && c != '\r') {}
        self.backup();
    }

    /// The next token, skipping spaces and comments.
    fn next_token(&mut self) -> LexResult<Token> {
        loop {
            if self.rest().starts_with('#') {
                self.skip_comment();
                continue;
            }
            self.start = self.pos;
            let t = if self.brace_open { self.inside_braces()? } else { self.statement()? };
            if let Some(t) = t {
                return Ok(t);
            }
        }
    }

    /// Go's `lexStatements` for one token; `None` after skipping spaces.
    fn statement(&mut self) -> LexResult<Option<Token>> {
        use Class::{Operator, Plain};
        let Some(r) = self.next() else {
            return Ok(Some(self.token(Kind::Eof)));
        };
        let kind = match r {
            ',' => Kind::Comma,
            c if is_space(c) => {
                self.skip_spaces();
                return Ok(None);
            }
            '*' | '/' | '%' | '+' | '-' | '^' | '@' => Kind::Other(Operator),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    Kind::Other(Operator)
                }
                Some('~') => {
                    return self.error("unexpected character after '=': '~'".to_owned());
                }
                _ => Kind::Eql,
            },
            '!' => {
                let t = self.next();
                if t != Some('=') {
                    return self.error(format!("unexpected character after '!': {}", quote_rune(t)));
                }
                Kind::Other(Operator)
            }
            '<' | '>' => {
                if matches!(self.peek(), Some('=' | '/')) {
                    self.next();
                }
                Kind::Other(Operator)
            }
            c if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|p| p.is_ascii_digit())) => {
                self.backup();
                return self.number_or_duration().map(Some);
            }
            '"' | '\'' => return self.string(r).map(Some),
            '`' => return self.raw_string().map(Some),
            c if is_alpha(c) || c == ':' => {
                self.backup();
                return Ok(Some(self.keyword_or_identifier()));
            }
            '(' | '[' => Kind::Other(Plain),
            ')' => {
                // Go emits the paren, then finds the depth negative and
                // reports the error from the position after it.
                self.start = self.pos;
                return self.error("unexpected right parenthesis ')'".to_owned());
            }
            ']' => return self.error("unexpected right bracket ']'".to_owned()),
            '{' => {
                self.brace_open = true;
                Kind::LeftBrace
            }
            c => return self.error(format!("unexpected character: {}", quote_rune(Some(c)))),
        };
        Ok(Some(self.token(kind)))
    }

    /// Go's `lexInsideBraces` for one token; `None` after skipping spaces.
    fn inside_braces(&mut self) -> LexResult<Option<Token>> {
        let Some(r) = self.next() else {
            return self.error("unexpected end of input inside braces".to_owned());
        };
        let kind = match r {
            c if is_space(c) => {
                self.skip_spaces();
                return Ok(None);
            }
            c if is_alpha(c) => {
                while self.next().is_some_and(is_alnum) {}
                self.backup();
                Kind::Identifier
            }
            ',' => Kind::Comma,
            '"' | '\'' => return self.string(r).map(Some),
            '`' => return self.raw_string().map(Some),
            '=' => {
                if self.next() == Some('~') {
                    Kind::Other(Class::Operator)
                } else {
                    self.backup();
                    Kind::Eql
                }
            }
            '!' => match self.next() {
                Some('~' | '=') => Kind::Other(Class::Operator),
                nr => {
                    return self.error(format!("unexpected character after '!' inside braces: {}", quote_rune(nr)));
                }
            },
            '{' => return self.error("unexpected left brace '{'".to_owned()),
            '}' => {
                self.brace_open = false;
                Kind::RightBrace
            }
            c => {
                return self.error(format!("unexpected character inside braces: {}", quote_rune(Some(c))));
            }
        };
        Ok(Some(self.token(kind)))
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
    }

    /// Go's `lexKeywordOrIdentifier` (outside braces).
    fn keyword_or_identifier(&mut self) -> Token {
        while self.next().is_some_and(|c| is_alnum(c) || c == ':') {}
        self.backup();
        let word = self.input.get(self.start..self.pos).unwrap_or("");
        let kind = match keyword(&word.to_ascii_lowercase()) {
            Some((class, metric_name)) => {
                let lower = word.to_ascii_lowercase();
                let fill = matches!(lower.as_str(), "fill" | "fill_left" | "fill_right");
                if fill && !self.followed_by_left_paren() {
                    Kind::Identifier
                } else {
                    Kind::Keyword { class, metric_name }
                }
            }
            None if word.contains(':') => Kind::MetricIdentifier,
            None => Kind::Identifier,
        };
        self.token(kind)
    }

    fn followed_by_left_paren(&self) -> bool {
        self.rest().trim_start_matches(is_space).starts_with('(')
    }

    /// Go's `lexString`, after the opening quote.
    fn string(&mut self, quote: char) -> LexResult<Token> {
        loop {
            match self.next() {
                Some('\\') => self.escape(quote)?,
                Some(char::REPLACEMENT_CHARACTER) => {
                    return self.error("invalid UTF-8 rune".to_owned());
                }
                None | Some('\n') => return self.error("unterminated quoted string".to_owned()),
                Some(c) if c == quote => return Ok(self.token(Kind::Str)),
                Some(_) => {}
            }
        }
    }

    /// Go's `lexRawString`, after the opening backtick.
    fn raw_string(&mut self) -> LexResult<Token> {
        loop {
            match self.next() {
                Some(char::REPLACEMENT_CHARACTER) => {
                    return self.error("invalid UTF-8 rune".to_owned());
                }
                None => return self.error("unterminated raw string".to_owned()),
                Some('`') => return Ok(self.token(Kind::Str)),
                Some(_) => {}
            }
        }
    }

    /// Go's `lexEscape`, after the backslash: validates the escape.
    fn escape(&mut self, quote: char) -> LexResult<()> {
        let first = self.next();
        let (mut n, base, max, mut ch) = match first {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == quote => return Ok(()),
            Some('0'..='7') => (3, 8, 255, first),
            Some('x') => (2, 16, 255, self.next()),
            Some('u') => (4, 16, 0x10_ffff, self.next()),
            Some('U') => (8, 16, 0x10_ffff, self.next()),
            None => return self.error("escape sequence not terminated".to_owned()),
            Some(c) => return self.error(format!("unknown escape sequence {}", unicode_sharp(c))),
        };
        let mut x: u64 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).map_or(16, u64::from);
            if d >= base {
                return match ch {
                    None => self.error("escape sequence not terminated".to_owned()),
                    Some(c) => self.error(format!("illegal character {} in escape sequence", unicode_sharp(c))),
                };
            }
            x = x * base + d;
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            return self.error("escape sequence is an invalid Unicode code point".to_owned());
        }
        Ok(())
    }

    /// Go's `lexNumberOrDuration`.
    fn number_or_duration(&mut self) -> LexResult<Token> {
        if self.scan_number() {
            return Ok(self.token(Kind::Number));
        }
        if self.accept_remaining_duration() {
            self.backup();
            return Ok(self.token(Kind::Duration));
        }
        let text = self.input.get(self.start..self.pos).unwrap_or("");
        self.error(format!("bad number or duration syntax: {}", quote(text)))
    }

    /// Go's `scanNumber` (not in a series description).
    fn scan_number(&mut self) -> bool {
        const DEC: &str = "0123456789";
        const HEX: &str = "0123456789abcdefABCDEF";
        let initial = self.pos;
        let mut digits = DEC;
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = HEX;
        }
        let any: String = [digits, "._eE"].concat();
        self.accept(".");
        self.accept(digits);
        let (mut dot, mut exponent) = (false, false);
        while self.is(&any) {
            if self.is(".") && dot {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exponent {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    /// Go's `acceptRemainingDuration`.
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !self.next().is_some_and(is_alnum)
    }
}

/// Go's `Item.String()` for items printed quoted: `%q`, or `%.10q...` for
/// values longer than 10 bytes.
fn item_string(text: &str) -> String {
    if text.len() > 10 { quote_truncated(text, 10) } else { quote(text) }
}

/// Go's `Item.desc()`, as used in "unexpected ..." messages.
fn describe(t: Token, text: &str) -> String {
    match t.kind {
        Kind::Eof => "end of input".to_owned(),
        Kind::Identifier => format!("identifier {}", quote(text)),
        Kind::MetricIdentifier => format!("metric identifier {}", quote(text)),
        Kind::Str => format!("string {}", item_string(text)),
        Kind::Number | Kind::Keyword { class: Class::Number, .. } => {
            format!("number {}", item_string(text))
        }
        Kind::Duration => format!("duration {}", item_string(text)),
        Kind::Keyword { class, .. } | Kind::Other(class) => match class {
            Class::Operator => format!("<op:{text}>"),
            Class::Aggregator => format!("<aggr:{text}>"),
            Class::Keyword => format!("<{text}>"),
            Class::Plain | Class::Number => item_string(text),
        },
        Kind::Comma | Kind::LeftBrace | Kind::RightBrace | Kind::Eql => item_string(text),
    }
}

/// 1-based line and byte column of `pos`, as Prometheus' `StartPosInput`.
fn line_column(input: &str, pos: usize) -> (usize, usize) {
    let before = input.as_bytes().get(..pos).unwrap_or(input.as_bytes());
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = match before.iter().rposition(|&b| b == b'\n') {
        Some(i) => pos - i,
        None => pos + 1,
    };
    (line, column)
}

fn parse_error(input: &str, pos: usize, message: String) -> LabelsError {
    let (line, column) = line_column(input, pos);
    LabelsError::Parse { position: pos, line, column, message }
}

/// Prometheus' `strutil.Unquote` on a token the lexer accepted, then a UTF-8
/// check. Octal and `\x` escapes are single bytes, as in Go.
fn unquote(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let (Some(&q), Some(&last)) = (bytes.first(), bytes.last()) else {
        return Err("invalid syntax");
    };
    if bytes.len() < 2 || q != last {
        return Err("invalid syntax");
    }
    let body = &text[1..text.len() - 1];
    if q == b'`' {
        return Ok(body.to_owned());
    }
    if !body.contains('\\') {
        return Ok(body.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or("invalid syntax")?;
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '\'' | '"' if e as u32 == u32::from(q) => Some(q),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err("invalid syntax"),
        };
        let mut v: u32 = if radix == 8 { e as u32 - '0' as u32 } else { 0 };
        for _ in 0..n {
            let d = chars.next().and_then(|c| c.to_digit(radix)).ok_or("invalid syntax")?;
            v = v * radix + d;
        }
        match e {
            'x' | '0'..='7' => {
                out.push(u8::try_from(v).map_err(|_| "invalid syntax")?);
            }
            _ => {
                let c = char::from_u32(v).ok_or("invalid syntax")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8(out).map_err(|_| "not valid UTF-8 once unescaped")
}

/// Parses `input` as Loki's `syntax.ParseLabels` does.
pub(crate) fn parse(input: &str) -> Result<Labels, LabelsError> {
    if input.len() > MAX_LABELS_SIZE {
        return Err(LabelsError::TooLarge { size: input.len() });
    }
    Parser { lx: Lexer::new(input), items: Vec::new() }.run()
}

/// Where the grammar is; named after the goyacc states they stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After `{` (expects a name or `}`).
    Open,
    /// After an identifier name (expects `=`).
    AfterIdent,
    /// After `name =` (expects a string).
    ExpectValue,
    /// After a quoted string that may be a name or a lone metric name.
    AfterString,
    /// After a complete item (expects `,` or `}`).
    AfterItem,
    /// After `,` (expects a name or `}`).
    AfterComma,
}

struct Parser<'a> {
    lx: Lexer<'a>,
    items: Vec<(String, String)>,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Token, LabelsError> {
        self.lx.next_token().map_err(|e| parse_error(self.lx.input, e.pos, e.msg))
    }

    /// A grammar error at `t`: Go's `parser.unexpected(context, expected)`.
    fn unexpected(&self, t: Token, expected: Option<&str>) -> LabelsError {
        let mut msg = format!("unexpected {}", describe(t, self.lx.text(t)));
        if let Some(expected) = expected {
            msg.push_str(" in label set, expected ");
            msg.push_str(expected);
        }
        parse_error(self.lx.input, t.start, msg)
    }

    fn string_value(&self, t: Token) -> Result<String, LabelsError> {
        let text = self.lx.text(t);
        unquote(text).map_err(|why| {
            parse_error(self.lx.input, t.start, format!("error unquoting string {}: {why}", quote(text)))
        })
    }

    fn run(mut self) -> Result<Labels, LabelsError> {
        let mut metric_name = None;
        let mut t = self.next()?;
        match t.kind {
            Kind::Identifier | Kind::MetricIdentifier | Kind::Keyword { metric_name: true, .. } => {
                metric_name = Some(self.lx.text(t).to_owned());
                t = self.next()?;
            }
            Kind::Eof | Kind::LeftBrace => {}
            _ => return Err(self.unexpected(t, None)),
        }
        match t.kind {
            Kind::Eof => return self.finish(metric_name),
            Kind::LeftBrace => self.braces()?,
            _ => return Err(self.unexpected(t, None)),
        }
        let t = self.next()?;
        if t.kind != Kind::Eof {
            return Err(self.unexpected(t, None));
        }
        self.finish(metric_name)
    }

    /// The inside of `{...}`, after the `{`, up to and including the `}`.
    fn braces(&mut self) -> Result<(), LabelsError> {
        const NAME_OR_CLOSE: &str = r#"identifier or "}""#;
        const COMMA_OR_CLOSE: &str = r#""," or "}""#;
        let mut state = State::Open;
        let mut name = String::new();
        let mut pending: Option<Token> = None;
        loop {
            let t = self.next()?;
            state = match (state, t.kind) {
                (State::Open | State::AfterComma, Kind::RightBrace) => return Ok(()),
                (State::Open | State::AfterComma, Kind::Identifier) => {
                    name = self.lx.text(t).to_owned();
                    State::AfterIdent
                }
                (State::Open | State::AfterComma, Kind::Str) => {
                    pending = Some(t);
                    State::AfterString
                }
                (State::Open | State::AfterComma, _) => {
                    return Err(self.unexpected(t, Some(NAME_OR_CLOSE)));
                }
                (State::AfterIdent, Kind::Eql) => State::ExpectValue,
                (State::AfterIdent, _) => return Err(self.unexpected(t, Some(r#""=""#))),
                (State::AfterString, Kind::Eql) => {
                    let p = pending.take().unwrap_or(t);
                    name = self.string_value(p)?;
                    State::ExpectValue
                }
                (State::AfterString, Kind::Comma | Kind::RightBrace) => {
                    let p = pending.take().unwrap_or(t);
                    let value = self.string_value(p)?;
                    self.items.push((METRIC_NAME.to_owned(), value));
                    if t.kind == Kind::RightBrace {
                        return Ok(());
                    }
                    State::AfterComma
                }
                (State::AfterString, _) => return Err(self.unexpected(t, Some(COMMA_OR_CLOSE))),
                (State::ExpectValue, Kind::Str) => {
                    let value = self.string_value(t)?;
                    self.items.push((std::mem::take(&mut name), value));
                    State::AfterItem
                }
                (State::ExpectValue, _) => return Err(self.unexpected(t, Some("string"))),
                (State::AfterItem, Kind::Comma) => State::AfterComma,
                (State::AfterItem, Kind::RightBrace) => return Ok(()),
                (State::AfterItem, _) => return Err(self.unexpected(t, Some(COMMA_OR_CLOSE))),
            };
        }
    }

    /// Builds the label set as Prometheus' `labels.New` (+ `NewBuilder` /
    /// `Set` for a metric name) and Loki's `WithoutEmpty` do.
    fn finish(self, metric_name: Option<String>) -> Result<Labels, LabelsError> {
        let mut items = self.items;
        // Go sorts with pdqsort, which is an insertion sort (stable) for
        // up to 12 labels; order among equal names only matters for inputs
        // that end up rejected as duplicates anyway.
        items.sort_by(|a, b| a.0.cmp(&b.0));
        match metric_name {
            None => items.retain(|(_, v)| !v.is_empty()),
            Some(metric) => {
                let emptied: Vec<String> = items.iter().filter(|(_, v)| v.is_empty()).map(|(n, _)| n.clone()).collect();
                let mut replaced = false;
                if !emptied.iter().any(|n| n == METRIC_NAME)
                    && let Some(first) = items.iter_mut().find(|(n, _)| n == METRIC_NAME)
                {
                    first.1.clone_from(&metric);
                    replaced = true;
                }
                items.retain(|(n, _)| !emptied.contains(n));
                if !replaced {
                    items.retain(|(n, _)| n != METRIC_NAME);
                    items.push((METRIC_NAME.to_owned(), metric));
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                }
            }
        }
        if let Some(w) = items.windows(2).find(|w| w[0].0 == w[1].0) {
            let mut stream = String::new();
            let _ = write_label_list(&mut stream, items.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            return Err(LabelsError::DuplicateLabelName { stream, name: w[0].0.clone() });
        }
        Ok(Labels(items.into_iter().map(|(name, value)| Label { name, value }).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> Labels {
        parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn pairs(l: &Labels) -> Vec<(&str, &str)> {
        l.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect()
    }

    /// The full error text as Loki prints it after "couldn't parse labels: ".
    fn err(input: &str) -> String {
        match parse(input) {
            Ok(l) => panic!("{input:?} parsed as {l}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepted_forms() {
        assert!(ok("").is_empty());
        assert!(ok("  \t\n").is_empty());
        assert!(ok("{}").is_empty());
        assert!(ok("# just a comment").is_empty());
        assert_eq!(pairs(&ok(r#"{app="demo"}"#)), [("app", "demo")]);
        assert_eq!(pairs(&ok(r#"{b="2",a="1",}"#)), [("a", "1"), ("b", "2")]);
        assert_eq!(pairs(&ok(" {\n a = 'x' ,\tb=`y\nz` } \n")), [("a", "x"), ("b", "y\nz")]);
        assert_eq!(pairs(&ok(r#"{a="x"} # trailing"#)), [("a", "x")]);
        assert_eq!(pairs(&ok("{a=\"x\", # note\n b=\"y\"}")), [("a", "x"), ("b", "y")]);
        assert_eq!(pairs(&ok(r#"{"a.b"="c", "üñí"='d'}"#)), [("a.b", "c"), ("üñí", "d")]);
        assert_eq!(pairs(&ok(r#"{""="x"}"#)), [("", "x")]);
        assert_eq!(pairs(&ok(r#"{a="", b="1"}"#)), [("b", "1")]);
        assert_eq!(pairs(&ok(r#"{a="x", a=""}"#)), [("a", "x")]);
        assert_eq!(pairs(&ok(r#"{_a1="x"}"#)), [("_a1", "x")]);
    }

    #[test]
    fn metric_names() {
        assert_eq!(pairs(&ok("up")), [("__name__", "up")]);
        assert_eq!(pairs(&ok(r#"up{a="b"}"#)), [("__name__", "up"), ("a", "b")]);
        assert_eq!(pairs(&ok(r#"a:b_c{}"#)), [("__name__", "a:b_c")]);
        assert_eq!(pairs(&ok(r#":x"#)), [("__name__", ":x")]);
        assert_eq!(pairs(&ok(r#"SUM{x="1"}"#)), [("__name__", "SUM"), ("x", "1")]);
        assert_eq!(pairs(&ok("offset")), [("__name__", "offset")]);
        assert_eq!(pairs(&ok("fill")), [("__name__", "fill")]);
        assert_eq!(err("fill ("), r#"1:6: parse error: unexpected "(""#);
    }

    #[test]
    fn metric_name_inside_braces() {
        assert_eq!(pairs(&ok(r#"{"up"}"#)), [("__name__", "up")]);
        assert_eq!(pairs(&ok(r#"{"up", a="1"}"#)), [("__name__", "up"), ("a", "1")]);
        assert_eq!(pairs(&ok(r#"{a="1", "up",}"#)), [("__name__", "up"), ("a", "1")]);
        assert_eq!(pairs(&ok(r#"{__name__="up"}"#)), [("__name__", "up")]);
        // The name before the braces wins over one inside.
        assert_eq!(pairs(&ok(r#"foo{__name__="bar"}"#)), [("__name__", "foo")]);
        assert_eq!(pairs(&ok(r#"foo{"bar"}"#)), [("__name__", "foo")]);
        assert_eq!(pairs(&ok(r#"foo{__name__=""}"#)), [("__name__", "foo")]);
        // The builder drops every label whose name also has an empty value.
        assert_eq!(pairs(&ok(r#"foo{a="x", a=""}"#)), [("__name__", "foo")]);
        assert_eq!(pairs(&ok(r#"foo{__name__="", __name__="x"}"#)), [("__name__", "foo")]);
    }

    #[test]
    fn escapes() {
        let v = |s: &str| ok(&format!("{{a={s}}}")).get("a").unwrap_or("").to_owned();
        assert_eq!(v(r#""\a\b\f\n\r\t\v\\\"""#), "\x07\x08\x0c\n\r\t\x0b\\\"");
        assert_eq!(v(r"'\''"), "'");
        assert_eq!(v(r#"'"'"#), "\"");
        assert_eq!(v(r#""\x41\101\u00e9\U0001F600""#), "AAé😀");
        assert_eq!(v(r#""\xc3\xa9""#), "é");
        assert_eq!(v(r#""\000x""#), "\0x");
        assert_eq!(v(r"`\n\x`"), "\\n\\x");
        assert_eq!(v("\"tab\there\""), "tab\there");
        assert_eq!(v("\"\r\""), "\r");
    }

    #[test]
    fn lexer_errors() {
        // Messages and positions checked against Loki's own tests where
        // they exist (distributor_test.go, segment_test.go).
        assert_eq!(err("{ab\""), "1:4: parse error: unterminated quoted string");
        assert_eq!(err("{"), "1:2: parse error: unexpected end of input inside braces");
        assert_eq!(err("{a=\"b\n\"}"), "1:4: parse error: unterminated quoted string");
        assert_eq!(err("{a=`b"), "1:4: parse error: unterminated raw string");
        assert_eq!(err(r#"{a="\q"}"#), "1:4: parse error: unknown escape sequence U+0071 'q'");
        assert_eq!(err(r#"{a="\'"}"#), "1:4: parse error: unknown escape sequence U+0027 '''");
        assert_eq!(err(r#"{a='\"'}"#), "1:4: parse error: unknown escape sequence U+0022 '\"'");
        assert_eq!(err("{a=\"\\"), "1:4: parse error: escape sequence not terminated");
        assert_eq!(err(r#"{a="\x4"#), "1:4: parse error: escape sequence not terminated");
        assert_eq!(err(r#"{a="\x4g"}"#), "1:4: parse error: illegal character U+0067 'g' in escape sequence");
        assert_eq!(err(r#"{a="\8"}"#), "1:4: parse error: unknown escape sequence U+0038 '8'");
        assert_eq!(err(r#"{a="\18"}"#), "1:4: parse error: illegal character U+0038 '8' in escape sequence");
        assert_eq!(err(r#"{a="\400"}"#), "1:4: parse error: escape sequence is an invalid Unicode code point");
        assert_eq!(err(r#"{a="\ud800"}"#), "1:4: parse error: escape sequence is an invalid Unicode code point");
        assert_eq!(err(r#"{a="\U00110000"}"#), "1:4: parse error: escape sequence is an invalid Unicode code point");
        assert_eq!(err("{a=\"\u{fffd}\"}"), "1:4: parse error: invalid UTF-8 rune");
        assert_eq!(err("{a=`\u{fffd}`}"), "1:4: parse error: invalid UTF-8 rune");
        assert_eq!(err("{a:b=\"c\"}"), "1:3: parse error: unexpected character inside braces: ':'");
        assert_eq!(err("{1=\"c\"}"), "1:2: parse error: unexpected character inside braces: '1'");
        assert_eq!(err("{a=\"c\"{"), "1:7: parse error: unexpected left brace '{'");
        assert_eq!(err("{a!x}"), "1:3: parse error: unexpected character after '!' inside braces: 'x'");
        assert_eq!(err("{a!"), "1:3: parse error: unexpected character after '!' inside braces: '\u{fffd}'");
        assert_eq!(err("{a=\"b\"}}"), "1:8: parse error: unexpected character: '}'");
        assert_eq!(err("a=~b"), "1:2: parse error: unexpected character after '=': '~'");
        assert_eq!(err("a!b"), "1:2: parse error: unexpected character after '!': 'b'");
        assert_eq!(err("a ) "), "1:4: parse error: unexpected right parenthesis ')'");
        assert_eq!(err("a ]"), "1:3: parse error: unexpected right bracket ']'");
        assert_eq!(err("5abc"), "1:1: parse error: bad number or duration syntax: \"5\"");
        assert_eq!(err("a ."), "1:3: parse error: unexpected character: '.'");
        assert_eq!(err("{a=\"b\"\n, c=\"\\z\"}"), "2:5: parse error: unknown escape sequence U+007A 'z'");
    }

    #[test]
    fn grammar_errors() {
        assert_eq!(
            err(r#"{a="b" c="d"}"#),
            r#"1:8: parse error: unexpected identifier "c" in label set, expected "," or "}""#
        );
        assert_eq!(err("{a}"), r#"1:3: parse error: unexpected "}" in label set, expected "=""#);
        assert_eq!(err(r#"{a=~"b"}"#), r#"1:3: parse error: unexpected <op:=~> in label set, expected "=""#);
        assert_eq!(err(r#"{a!="b"}"#), r#"1:3: parse error: unexpected <op:!=> in label set, expected "=""#);
        assert_eq!(err("{a=b}"), r#"1:4: parse error: unexpected identifier "b" in label set, expected string"#);
        assert_eq!(err("{a=}"), r#"1:4: parse error: unexpected "}" in label set, expected string"#);
        assert_eq!(err("{,}"), r#"1:2: parse error: unexpected "," in label set, expected identifier or "}""#);
        assert_eq!(err(r#"{a="b",,}"#), r#"1:8: parse error: unexpected "," in label set, expected identifier or "}""#);
        assert_eq!(err("{=}"), r#"1:2: parse error: unexpected "=" in label set, expected identifier or "}""#);
        assert_eq!(
            err(r#"{"a" b}"#),
            r#"1:6: parse error: unexpected identifier "b" in label set, expected "," or "}""#
        );
        assert_eq!(
            err(r#"{"a"="b" "c"}"#),
            r#"1:10: parse error: unexpected string "\"c\"" in label set, expected "," or "}""#
        );
        assert_eq!(
            err(r#"{"a"="b" "very long string"}"#),
            r#"1:10: parse error: unexpected string "\"very long"... in label set, expected "," or "}""#
        );
        assert_eq!(err(r#"{"a"=}"#), r#"1:6: parse error: unexpected "}" in label set, expected string"#);
        assert_eq!(err(r#"{a="b"} c"#), r#"1:9: parse error: unexpected identifier "c""#);
        assert_eq!(err(r#"{a="b"}{"#), r#"1:8: parse error: unexpected "{""#);
        assert_eq!(err("foo bar"), r#"1:5: parse error: unexpected identifier "bar""#);
        assert_eq!(err("foo sum"), r#"1:5: parse error: unexpected <aggr:sum>"#);
        assert_eq!(err("foo on"), r#"1:5: parse error: unexpected <on>"#);
        assert_eq!(err("foo start"), r#"1:5: parse error: unexpected "start""#);
        assert_eq!(err("foo and"), r#"1:5: parse error: unexpected <op:and>"#);
        assert_eq!(err("foo a:b"), r#"1:5: parse error: unexpected metric identifier "a:b""#);
        assert_eq!(err("foo fill(x)"), r#"1:5: parse error: unexpected <fill>"#);
        assert_eq!(err("foo fill"), r#"1:5: parse error: unexpected identifier "fill""#);
        assert_eq!(err("foo 5m"), r#"1:5: parse error: unexpected duration "5m""#);
        assert_eq!(err("foo 1.5e3"), r#"1:5: parse error: unexpected number "1.5e3""#);
        assert_eq!(err("foo Inf"), r#"1:5: parse error: unexpected number "Inf""#);
        assert_eq!(err("foo ="), r#"1:5: parse error: unexpected "=""#);
        assert_eq!(err("foo =="), r#"1:5: parse error: unexpected <op:==>"#);
        assert_eq!(err("foo <="), r#"1:5: parse error: unexpected <op:<=>"#);
        assert_eq!(err("foo ("), r#"1:5: parse error: unexpected "(""#);
        assert_eq!(err("foo ["), r#"1:5: parse error: unexpected "[""#);
        assert_eq!(err("foo,"), r#"1:4: parse error: unexpected ",""#);
        assert_eq!(err("foo 'x'"), r#"1:5: parse error: unexpected string "'x'""#);
        assert_eq!(err("atan2"), r#"1:1: parse error: unexpected <op:atan2>"#);
        assert_eq!(err("bool{}"), r#"1:1: parse error: unexpected <bool>"#);
        assert_eq!(err("nan"), r#"1:1: parse error: unexpected number "nan""#);
        assert_eq!(err(r#""x"{}"#), r#"1:1: parse error: unexpected string "\"x\"""#);
        assert_eq!(err("+"), r#"1:1: parse error: unexpected <op:+>"#);
        assert_eq!(err("@"), r#"1:1: parse error: unexpected <op:@>"#);
        assert_eq!(err("# c\n,"), "2:1: parse error: unexpected \",\"");
    }

    #[test]
    fn non_utf8_escapes_are_rejected() {
        let e = parse(r#"{a="\xff"}"#).unwrap_err();
        assert!(matches!(e, LabelsError::Parse { position: 3, .. }), "{e:?}");
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
    }

    #[test]
    fn duplicates_are_reported_like_loki_validation() {
        assert_eq!(err(r#"{b="1", a="2", b="3"}"#), r#"stream '{a="2", b="1", b="3"}' has duplicate label name: 'b'"#);
        assert_eq!(
            err(r#"{__name__="x", "y"}"#),
            r#"stream '{__name__="x", __name__="y"}' has duplicate label name: '__name__'"#
        );
        assert_eq!(
            err(r#"foo{__name__="x", __name__="y"}"#),
            r#"stream '{__name__="foo", __name__="y"}' has duplicate label name: '__name__'"#
        );
    }

    #[test]
    fn size_limit() {
        let long = "x".repeat(MAX_LABELS_SIZE + 1);
        assert_eq!(parse(&long).unwrap_err().to_string(), "labels size 16 MiB exceeds limit of 15");
    }
}
