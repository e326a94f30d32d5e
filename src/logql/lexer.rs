//! The LogQL lexer: tokens with byte spans, as Loki's `syntax/lex.go` reads
//! them on top of its copy of Go's `text/scanner` (`query_scanner.go`).
//!
//! | input | token |
//! |---|---|
//! | `\t \n \r` and space, `// …`, `/* … */`, `# …` | skipped |
//! | `[_\p{L}][_\p{L}\p{Nd}]*` | a keyword (case-insensitive: `by`, `or`, `json`, `unwrap`, …), a function (`rate`, `sum`, `bytes`, `ip`, … only when the next non-space is `(`, or `by`/`without` then `(`), else [`Kind::Ident`] |
//! | `"…"` (Go escapes), `` `…` `` (raw) | [`Kind::Str`] with the unquoted value |
//! | `'…'` (one character), any other character that is not an operator | [`Kind::Ident`] (Loki treats them as identifiers) |
//! | Go number (`12`, `1.5`, `.5`, `1e3`, `0x1p3`, `0x1A`, `017`, `1_000`) | [`Kind::Number`], text kept for `strconv.ParseFloat` |
//! | number followed without space by duration units (`5m`, `1h30m`, `1.5s`, `250µs`, `1d`) | [`Kind::Duration`] (Prometheus syntax first, else Go's) |
//! | number followed by byte units (`10KB`, `1.5MiB`, `5B`) | [`Kind::Bytes`] |
//! | `-` followed by a duration (`-5s`) | [`Kind::Duration`] (negative) |
//! | `--strict`, `--keep-empty` | [`Kind::Flag`] |
//! | `[…]` | [`Kind::Range`]: the text up to `]` as a Prometheus duration |
//! | `\|= \|~ \|> != !~ !> =~ == >= <=` and single-character operators | operator kinds |
//!
//! Quirks kept from Loki: `0b…` is a binary literal only when it directly
//! follows the previous token (else "decimal literal has no digits");
//! tokens Loki's lexer completes with `Next()` (two-character operators,
//! durations, bytes, flags, ranges) report line 0 in error positions.
//!
//! Facts: `../shared/spec/logql.md` §1.

use std::time::Duration;

use super::error::Span;
use super::quote::{UnquoteError, unquote_double};
use super::units::{parse_bytes, parse_duration, parse_prom_duration};

/// Token kinds, in the order of Loki's yacc token numbers (which orders the
/// "expecting …" lists of syntax errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Bytes,
    Ident,
    Str,
    Number,
    Flag,
    Duration,
    Range,
    Eq,
    Re,
    Nre,
    Npa,
    LBrace,
    RBrace,
    RBracket,
    Comma,
    Dot,
    PipeMatch,
    PipeExact,
    PipePattern,
    LParen,
    RParen,
    By,
    Without,
    CountOverTime,
    Rate,
    RateCounter,
    Sum,
    Sort,
    SortDesc,
    Avg,
    Max,
    Min,
    Count,
    Stddev,
    Stdvar,
    Bottomk,
    Topk,
    ApproxTopk,
    BytesOverTime,
    BytesRate,
    Bool,
    Json,
    Regexp,
    Logfmt,
    Pipe,
    LineFmt,
    LabelFmt,
    Unwrap,
    AvgOverTime,
    SumOverTime,
    MinOverTime,
    MaxOverTime,
    StdvarOverTime,
    StddevOverTime,
    QuantileOverTime,
    BytesConv,
    DurationConv,
    DurationSecondsConv,
    FirstOverTime,
    LastOverTime,
    AbsentOverTime,
    Vector,
    LabelReplace,
    Unpack,
    Offset,
    Pattern,
    Ip,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Decolorize,
    Drop,
    Keep,
    Or,
    And,
    Unless,
    CmpEq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl Kind {
    /// The name Loki's syntax errors use for the token.
    pub(crate) fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Bytes => "BYTES",
            Ident => "IDENTIFIER",
            Str => "STRING",
            Number => "NUMBER",
            Flag => "FUNCTION_FLAG",
            Duration => "DURATION",
            Range => "RANGE",
            Eq => "=",
            Re => "=~",
            Nre => "!~",
            Npa => "!>",
            LBrace => "{",
            RBrace => "}",
            RBracket => "]",
            Comma => ",",
            Dot => ".",
            PipeMatch => "|~",
            PipeExact => "|=",
            PipePattern => "|>",
            LParen => "(",
            RParen => ")",
            By => "by",
            Without => "without",
            CountOverTime => "COUNT_OVER_TIME",
            Rate => "RATE",
            RateCounter => "RATE_COUNTER",
            Sum => "SUM",
            Sort => "SORT",
            SortDesc => "SORT_DESC",
            Avg => "AVG",
            Max => "MAX",
            Min => "MIN",
            Count => "COUNT",
            Stddev => "STDDEV",
            Stdvar => "STDVAR",
            Bottomk => "BOTTOMK",
            Topk => "TOPK",
            ApproxTopk => "APPROX_TOPK",
            BytesOverTime => "BYTES_OVER_TIME",
            BytesRate => "BYTES_RATE",
            Bool => "bool",
            Json => "json",
            Regexp => "regexp",
            Logfmt => "logfmt",
            Pipe => "|",
            LineFmt => "line_format",
            LabelFmt => "label_format",
            Unwrap => "unwrap",
            AvgOverTime => "AVG_OVER_TIME",
            SumOverTime => "SUM_OVER_TIME",
            MinOverTime => "MIN_OVER_TIME",
            MaxOverTime => "MAX_OVER_TIME",
            StdvarOverTime => "STDVAR_OVER_TIME",
            StddevOverTime => "STDDEV_OVER_TIME",
            QuantileOverTime => "QUANTILE_OVER_TIME",
            BytesConv => "BYTES_CONV",
            DurationConv => "DURATION_CONV",
            DurationSecondsConv => "DURATION_SECONDS_CONV",
            FirstOverTime => "FIRST_OVER_TIME",
            LastOverTime => "LAST_OVER_TIME",
            AbsentOverTime => "ABSENT_OVER_TIME",
            Vector => "VECTOR",
            LabelReplace => "label_replace",
            Unpack => "unpack",
            Offset => "offset",
            Pattern => "pattern",
            Ip => "ip",
            On => "on",
            Ignoring => "ignoring",
            GroupLeft => "group_left",
            GroupRight => "group_right",
            Decolorize => "decolorize",
            Drop => "drop",
            Keep => "keep",
            Or => "or",
            And => "and",
            Unless => "unless",
            CmpEq => "==",
            Neq => "!=",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Eof => "$end",
        }
    }
}

/// A parser flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    /// `--strict`
    Strict,
    /// `--keep-empty`
    KeepEmpty,
}

/// A token's value, where it has one beyond its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    /// The unquoted string.
    Str(String),
    /// Nanoseconds.
    Duration(i64),
    Bytes(u64),
    Range(Duration),
    Flag(Flag),
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) span: Span,
    pub(crate) value: Value,
    /// Loki reports this token's line as 0 (its lexer advanced with `Next()`).
    pub(crate) line_zero: bool,
}

/// A lexical error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) msg: String,
    /// The token the error belongs to (Loki reports the token's start).
    pub(crate) span: Span,
    pub(crate) line_zero: bool,
}

/// Go's `text/scanner` whitespace.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ')
}

/// Go's `unicode.IsLetter` or `_` (approximated by Rust's `Alphabetic`).
fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Go's identifier continuation: letters, `_`, decimal digits.
fn is_ident_continue(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_duration_rune(c: char) -> bool {
    matches!(c, 'n' | 'u' | 'µ' | 'm' | 's' | 'h' | 'd' | 'w' | 'y')
}

fn is_bytes_rune(c: char) -> bool {
    matches!(c, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P')
}

/// Words that name a function only when followed by `(` (or `by`/`without`
/// then `(`), else they are identifiers.
fn function_kind(lower: &str) -> Option<Kind> {
    use Kind::*;
    Some(match lower {
        "rate" => Rate,
        "rate_counter" => RateCounter,
        "count_over_time" => CountOverTime,
        "bytes_rate" => BytesRate,
        "bytes_over_time" => BytesOverTime,
        "avg_over_time" => AvgOverTime,
        "sum_over_time" => SumOverTime,
        "min_over_time" => MinOverTime,
        "max_over_time" => MaxOverTime,
        "stdvar_over_time" => StdvarOverTime,
        "stddev_over_time" => StddevOverTime,
        "quantile_over_time" => QuantileOverTime,
        "first_over_time" => FirstOverTime,
        "last_over_time" => LastOverTime,
        "absent_over_time" => AbsentOverTime,
        "vector" => Vector,
        "sum" => Sum,
        "avg" => Avg,
        "max" => Max,
        "min" => Min,
        "count" => Count,
        "stddev" => Stddev,
        "stdvar" => Stdvar,
        "bottomk" => Bottomk,
        "topk" => Topk,
        "sort" => Sort,
        "sort_desc" => SortDesc,
        "label_replace" => LabelReplace,
        "approx_topk" => ApproxTopk,
        "bytes" => BytesConv,
        "duration" => DurationConv,
        "duration_seconds" => DurationSecondsConv,
        "ip" => Ip,
        _ => return None,
    })
}

/// Words that are always keywords (case-insensitive).
fn keyword_kind(lower: &str) -> Option<Kind> {
    use Kind::*;
    Some(match lower {
        "by" => By,
        "without" => Without,
        "bool" => Bool,
        "offset" => Offset,
        "on" => On,
        "ignoring" => Ignoring,
        "group_left" => GroupLeft,
        "group_right" => GroupRight,
        "or" => Or,
        "and" => And,
        "unless" => Unless,
        "json" => Json,
        "regexp" => Regexp,
        "logfmt" => Logfmt,
        "unpack" => Unpack,
        "pattern" => Pattern,
        "label_format" => LabelFmt,
        "line_format" => LineFmt,
        "decolorize" => Decolorize,
        "drop" => Drop,
        "keep" => Keep,
        "unwrap" => Unwrap,
        _ => return None,
    })
}

fn two_char_kind(a: char, b: char) -> Option<Kind> {
    use Kind::*;
    Some(match (a, b) {
        ('|', '=') => PipeExact,
        ('|', '~') => PipeMatch,
        ('|', '>') => PipePattern,
        ('!', '=') => Neq,
        ('!', '~') => Nre,
        ('!', '>') => Npa,
        ('=', '~') => Re,
        ('=', '=') => CmpEq,
        ('>', '=') => Gte,
        ('<', '=') => Lte,
        _ => return None,
    })
}

fn one_char_kind(c: char) -> Option<Kind> {
    use Kind::*;
    Some(match c {
        ',' => Comma,
        '.' => Dot,
        '{' => LBrace,
        '}' => RBrace,
        '=' => Eq,
        '|' => Pipe,
        '(' => LParen,
        ')' => RParen,
        ']' => RBracket,
        '+' => Add,
        '-' => Sub,
        '*' => Mul,
        '/' => Div,
        '%' => Mod,
        '^' => Pow,
        '>' => Gt,
        '<' => Lt,
        _ => return None,
    })
}

/// Whether the text after a function name makes it a function call: `(`,
/// or `by`/`without` then `(`, after optional (Unicode) spaces.
fn is_function(rest: &str) -> bool {
    let rest = rest.trim_start_matches(char::is_whitespace);
    if rest.starts_with('(') {
        return true;
    }
    for word in ["by", "without"] {
        let mut chars = rest.chars();
        let matched = word.chars().all(|w| chars.next().is_some_and(|c| c.to_lowercase().eq(std::iter::once(w))));
        if matched {
            return chars.as_str().trim_start_matches(char::is_whitespace).starts_with('(');
        }
    }
    false
}

/// The lexer over one query.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Where the previous token ended (for the `0b` quirk).
    prev_end: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        // Go's scanner ignores a byte order mark at the very start.
        let start = if src.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
        Self { src, pos: start, prev_end: start }
    }

    fn peek_at(&self, pos: usize) -> Option<char> {
        self.src.get(pos..).and_then(|s| s.chars().next())
    }

    fn cur(&self) -> Option<char> {
        self.peek_at(self.pos)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.cur()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    fn err(&self, start: usize, msg: impl Into<String>, line_zero: bool) -> LexError {
        LexError { msg: msg.into(), span: Span::new(start, self.pos.max(start)), line_zero }
    }

    fn token(&self, kind: Kind, start: usize, value: Value, line_zero: bool) -> Token {
        Token { kind, span: Span::new(start, self.pos), value, line_zero }
    }

    /// The next token (an [`Kind::Eof`] token at the end, repeatedly).
    pub(crate) fn next_token(&mut self) -> Result<Token, LexError> {
        let tok = self.scan()?;
        self.prev_end = tok.span.end;
        Ok(tok)
    }

    fn scan(&mut self) -> Result<Token, LexError> {
        loop {
            while self.cur().is_some_and(is_go_space) {
                self.pos += 1;
            }
            let start = self.pos;
            let Some(c) = self.cur() else {
                return Ok(self.token(Kind::Eof, start, Value::None, false));
            };
            match c {
                '\0' => {
                    self.bump();
                    return Err(self.err(start, "invalid character NUL", false));
                }
                '#' => {
                    while let Some(c) = self.cur() {
                        if c == '\n' {
                            break;
                        }
                        if c == '\0' {
                            return Err(self.err(start, "invalid character NUL", false));
                        }
                        self.bump();
                    }
                    continue;
                }
                '/' if matches!(self.peek_at(start + 1), Some('/' | '*')) => {
                    self.skip_comment(start)?;
                    continue;
                }
                _ => {}
            }
            return self.scan_token(start, c);
        }
    }

    fn skip_comment(&mut self, start: usize) -> Result<(), LexError> {
        self.bump();
        if self.bump() == Some('/') {
            while let Some(c) = self.cur() {
                if c == '\n' {
                    break;
                }
                if c == '\0' {
                    return Err(self.err(start, "invalid character NUL", false));
                }
                self.bump();
            }
            return Ok(());
        }
        let mut prev = '\0';
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err(start, "comment not terminated", false));
            };
            if c == '\0' {
                return Err(self.err(start, "invalid character NUL", false));
            }
            if prev == '*' && c == '/' {
                return Ok(());
            }
            prev = c;
        }
    }

    fn scan_token(&mut self, start: usize, c: char) -> Result<Token, LexError> {
        if is_ident_start(c) {
            while self.cur().is_some_and(is_ident_continue) {
                self.bump();
            }
            return Ok(self.word(start));
        }
        if c.is_ascii_digit() {
            return self.number(start, false);
        }
        match c {
            '.' if self.peek_at(start + 1).is_some_and(|d| d.is_ascii_digit()) => {
                self.bump();
                self.number(start, true)
            }
            '"' => {
                self.bump();
                self.string(start)
            }
            '`' => {
                self.bump();
                self.raw_string(start)
            }
            '\'' => {
                self.bump();
                self.char_literal(start)
            }
            '[' => {
                self.bump();
                self.range(start)
            }
            '-' => self.minus(start),
            _ => {
                self.bump();
                Ok(self.operator(start, c))
            }
        }
    }

    /// An identifier, keyword or function name.
    fn word(&mut self, start: usize) -> Token {
        let text = self.text(Span::new(start, self.pos));
        let lower = text.to_lowercase();
        if let Some(kind) = function_kind(&lower) {
            let rest = self.src.get(self.pos..).unwrap_or("");
            let kind = if is_function(rest) { kind } else { Kind::Ident };
            return self.token(kind, start, Value::None, false);
        }
        let kind = keyword_kind(&lower).unwrap_or(Kind::Ident);
        self.token(kind, start, Value::None, false)
    }

    /// A one- or two-character operator, or a lone character (an
    /// identifier for Loki).
    fn operator(&mut self, start: usize, c: char) -> Token {
        if let Some(kind) = self.cur().and_then(|n| two_char_kind(c, n)) {
            self.bump();
            return self.token(kind, start, Value::None, true);
        }
        let kind = one_char_kind(c).unwrap_or(Kind::Ident);
        self.token(kind, start, Value::None, false)
    }

    /// `-`: a parser flag, a negative duration, or the minus operator.
    fn minus(&mut self, start: usize) -> Result<Token, LexError> {
        self.bump();
        if self.cur() == Some('-') {
            let rest = self.src.get(self.pos..).unwrap_or("");
            let len: usize = rest.chars().take_while(|&c| c.is_alphabetic() || c == '-').map(char::len_utf8).sum();
            let flag = match rest.get(..len) {
                Some("-strict") => Some(Flag::Strict),
                Some("-keep-empty") => Some(Flag::KeepEmpty),
                _ => None,
            };
            if let Some(flag) = flag {
                self.pos += len;
                return Ok(self.token(Kind::Flag, start, Value::Flag(flag), true));
            }
        }
        if let Some(d) = self.try_suffix(start, is_duration_rune, |s| parse_duration(s).ok()) {
            return Ok(self.token(Kind::Duration, start, Value::Duration(d), true));
        }
        Ok(self.operator(start, '-'))
    }

    /// Loki's `tryScanDuration` / `tryScanBytes`: the characters right after
    /// the current token that are numbers, `.` or unit characters, parsed
    /// together with the token's text; consumed only on success.
    fn try_suffix<T>(&mut self, start: usize, unit: fn(char) -> bool, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let rest = self.src.get(self.pos..)?;
        let len: usize = rest
            .chars()
            .take_while(|&c| !c.is_whitespace() && (c.is_numeric() || unit(c) || c == '.'))
            .map(char::len_utf8)
            .sum();
        if len == 0 {
            return None;
        }
        let text = self.src.get(start..self.pos + len)?;
        let v = parse(text)?;
        self.pos += len;
        Some(v)
    }

    /// A number, then Loki's duration and bytes suffixes.
    fn number(&mut self, start: usize, seen_dot: bool) -> Result<Token, LexError> {
        let gap = start != self.prev_end;
        if let Some(msg) = self.scan_number(seen_dot, gap) {
            return Err(self.err(start, msg, false));
        }
        if let Some(d) = self.try_suffix(start, is_duration_rune, |s| parse_duration(s).ok()) {
            return Ok(self.token(Kind::Duration, start, Value::Duration(d), true));
        }
        if let Some(b) = self.try_suffix(start, is_bytes_rune, |s| parse_bytes(s).ok()) {
            return Ok(self.token(Kind::Bytes, start, Value::Bytes(b), true));
        }
        Ok(self.token(Kind::Number, start, Value::None, false))
    }

    /// Go's `scanNumber` (Loki's copy); returns the first error message.
    fn scan_number(&mut self, mut seen_dot: bool, gap: bool) -> Option<String> {
        let start = if seen_dot { self.pos - 1 } else { self.pos };
        let mut err: Option<String> = None;
        let mut base = 10;
        let mut prefix = ' ';
        let mut digsep = 0u8;
        let mut invalid: Option<char> = None;
        let mut is_float = false;
        if !seen_dot {
            if self.cur() == Some('0') {
                self.bump();
                match self.cur().map(|c| c.to_ascii_lowercase()) {
                    Some('x') => {
                        self.bump();
                        (base, prefix) = (16, 'x');
                    }
                    Some('o') => {
                        self.bump();
                        (base, prefix) = (8, 'o');
                    }
                    Some('b') => {
                        // Loki's scanner peeks at a stale character here: the
                        // prefix is taken only when nothing separates this
                        // token from the previous one.
                        self.bump();
                        if !gap {
                            (base, prefix) = (2, 'b');
                        } else {
                            // The `b` is read but not part of the token.
                            self.pos -= 1;
                            return Some("decimal literal has no digits".to_owned());
                        }
                    }
                    _ => {
                        (base, prefix) = (8, '0');
                        digsep = 1;
                    }
                }
            }
            digsep |= self.digits(base, &mut invalid);
            if self.cur() == Some('.') {
                self.bump();
                seen_dot = true;
            }
        }
        if seen_dot {
            is_float = true;
            if matches!(prefix, 'o' | 'b') {
                err.get_or_insert_with(|| format!("invalid radix point in {}", litname(prefix)));
            }
            digsep |= self.digits(base, &mut invalid);
        }
        if digsep & 1 == 0 {
            err.get_or_insert_with(|| format!("{} has no digits", litname(prefix)));
        }
        let e = self.cur().map(|c| c.to_ascii_lowercase());
        if e == Some('e') || (e == Some('p') && prefix == 'x') {
            if let Some(ch) = self.cur().filter(|_| e == Some('e') && prefix != ' ' && prefix != '0') {
                err.get_or_insert_with(|| format!("'{ch}' exponent requires decimal mantissa"));
            }
            self.bump();
            is_float = true;
            if matches!(self.cur(), Some('+' | '-')) {
                self.bump();
            }
            let mut none = None;
            let ds = self.digits(10, &mut none);
            digsep |= ds;
            if ds & 1 == 0 {
                err.get_or_insert_with(|| "exponent has no digits".to_owned());
            }
        } else if prefix == 'x' && is_float {
            err.get_or_insert_with(|| "hexadecimal mantissa requires a 'p' exponent".to_owned());
        }
        if let Some(d) = invalid.filter(|_| !is_float) {
            err.get_or_insert_with(|| format!("invalid digit '{d}' in {}", litname(prefix)));
        }
        if digsep & 2 != 0 && invalid_sep(self.text(Span::new(start, self.pos))) {
            err.get_or_insert_with(|| "'_' must separate successive digits".to_owned());
        }
        err
    }

    /// Go's `digits`: consumes digits of `base` (and `_`); returns bit 0 for
    /// a digit, bit 1 for an underscore.
    fn digits(&mut self, base: u32, invalid: &mut Option<char>) -> u8 {
        let mut digsep = 0;
        while let Some(c) = self.cur() {
            let ok = if base <= 10 { c.is_ascii_digit() } else { c.is_ascii_hexdigit() };
            if !ok && c != '_' {
                break;
            }
            if c == '_' {
                digsep |= 2;
            } else {
                digsep |= 1;
                if base <= 10 && c.to_digit(10).is_some_and(|d| d >= base) && invalid.is_none() {
                    *invalid = Some(c);
                }
            }
            self.bump();
        }
        digsep
    }

    /// A double-quoted string (the opening quote consumed).
    fn string(&mut self, start: usize) -> Result<Token, LexError> {
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.err(start, "literal not terminated", false)),
                Some('\0') => return Err(self.err(start, "invalid character NUL", false)),
                Some('"') => break,
                Some('\\') => self.escape(start, '"')?,
                Some(_) => {}
            }
        }
        let body = self.text(Span::new(start + 1, self.pos - 1));
        let value = unquote_double(body).map_err(|e: UnquoteError| self.err(start, e.message(), false))?;
        Ok(self.token(Kind::Str, start, Value::Str(value), false))
    }

    /// Go's `scanEscape` (the backslash consumed): checks the escape's shape.
    fn escape(&mut self, start: usize, quote: char) -> Result<(), LexError> {
        let invalid = |l: &Self| l.err(start, "invalid char escape", false);
        let (base, n) = match self.cur() {
            Some(c) if matches!(c, 'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') || c == quote => {
                self.bump();
                return Ok(());
            }
            Some('0'..='7') => (8, 3),
            Some('x') => {
                self.bump();
                (16, 2)
            }
            Some('u') => {
                self.bump();
                (16, 4)
            }
            Some('U') => {
                self.bump();
                (16, 8)
            }
            _ => return Err(invalid(self)),
        };
        for _ in 0..n {
            match self.cur() {
                Some(c) if c.is_digit(base) => {
                    self.bump();
                }
                _ => return Err(invalid(self)),
            }
        }
        Ok(())
    }

    /// A raw string (the opening backtick consumed).
    fn raw_string(&mut self, start: usize) -> Result<Token, LexError> {
        loop {
            match self.bump() {
                None => return Err(self.err(start, "literal not terminated", false)),
                Some('\0') => return Err(self.err(start, "invalid character NUL", false)),
                Some('`') => break,
                Some(_) => {}
            }
        }
        let body = self.text(Span::new(start + 1, self.pos - 1)).to_owned();
        Ok(self.token(Kind::Str, start, Value::Str(body), false))
    }

    /// A Go character literal (the quote consumed): Loki's lexer returns it
    /// as an identifier, quotes included.
    fn char_literal(&mut self, start: usize) -> Result<Token, LexError> {
        let mut n = 0;
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.err(start, "literal not terminated", false)),
                Some('\0') => return Err(self.err(start, "invalid character NUL", false)),
                Some('\'') => break,
                Some('\\') => self.escape(start, '\'')?,
                Some(_) => {}
            }
            n += 1;
        }
        if n != 1 {
            return Err(self.err(start, "invalid char literal", false));
        }
        Ok(self.token(Kind::Ident, start, Value::None, false))
    }

    /// `[…]` (the bracket consumed): a Prometheus duration up to `]`.
    fn range(&mut self, start: usize) -> Result<Token, LexError> {
        let body_start = self.pos;
        loop {
            match self.bump() {
                None => return Err(self.err(start, "missing closing ']' in duration", true)),
                Some('\0') => return Err(self.err(start, "invalid character NUL", true)),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let body = self.text(Span::new(body_start, self.pos - 1));
        match parse_prom_duration(body) {
            Ok(d) => Ok(self.token(Kind::Range, start, Value::Range(d), true)),
            Err(msg) => Err(self.err(start, msg, true)),
        }
    }
}

/// Go's `litname`.
fn litname(prefix: char) -> &'static str {
    match prefix {
        'x' => "hexadecimal literal",
        'o' | '0' => "octal literal",
        'b' => "binary literal",
        _ => "decimal literal",
    }
}

/// Go's `invalidSep`: whether an `_` does not separate two digits.
fn invalid_sep(x: &str) -> bool {
    let b = x.as_bytes();
    let mut x1 = b' ';
    let mut d = b'.';
    let mut i = 0;
    if b.len() >= 2 && b[0] == b'0' {
        x1 = b[1].to_ascii_lowercase();
        if matches!(x1, b'x' | b'o' | b'b') {
            d = b'0';
            i = 2;
        }
    }
    while let Some(&c) = b.get(i) {
        let p = d;
        d = c;
        if c == b'_' {
            if p != b'0' {
                return true;
            }
        } else if c.is_ascii_digit() || (x1 == b'x' && c.is_ascii_hexdigit()) {
            d = b'0';
        } else {
            if p == b'_' {
                return true;
            }
            d = b'.';
        }
        i += 1;
    }
    d == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Kind> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = l.next_token().unwrap_or_else(|e| panic!("{src}: {e:?}"));
            if t.kind == Kind::Eof {
                return out;
            }
            out.push(t.kind);
        }
    }

    fn first_error(src: &str) -> String {
        let mut l = Lexer::new(src);
        loop {
            match l.next_token() {
                Ok(t) if t.kind == Kind::Eof => panic!("{src}: no error"),
                Ok(_) => {}
                Err(e) => return e.msg,
            }
        }
    }

    #[test]
    fn tokens_like_loki() {
        use Kind::*;
        assert_eq!(kinds(r#"{foo="bar"}"#), [LBrace, Ident, Eq, Str, RBrace]);
        assert_eq!(
            kinds(r#"{foo="bar"} |~ "\\w+" | latency > 250ms"#),
            [LBrace, Ident, Eq, Str, RBrace, PipeMatch, Str, Pipe, Ident, Gt, Duration]
        );
        assert_eq!(kinds("latency > 1h0.0m0s or foo == 4.00"), [Ident, Gt, Duration, Or, Ident, CmpEq, Number]);
        assert_eq!(kinds("size > 250kB and x <= 200MiB"), [Ident, Gt, Bytes, And, Ident, Lte, Bytes]);
        assert_eq!(
            kinds("SUM BY (foo) (Count_Over_Time({a=\"b\"}[5m]))"),
            [
                Sum,
                By,
                LParen,
                Ident,
                RParen,
                LParen,
                CountOverTime,
                LParen,
                LBrace,
                Ident,
                Eq,
                Str,
                RBrace,
                Range,
                RParen,
                RParen
            ]
        );
        assert_eq!(kinds("ip rate bytes(x) bytes"), [Ident, Ident, BytesConv, LParen, Ident, RParen, Ident]);
        assert_eq!(kinds(r#"{foo="bar"} #|~ "x""#), [LBrace, Ident, Eq, Str, RBrace]);
        assert_eq!(
            kinds("|logfmt --strict --keep-empty|=ip(\"b\")"),
            [Pipe, Logfmt, Flag, Flag, PipeExact, Ip, LParen, Str, RParen]
        );
        assert_eq!(
            kinds("123 -123 123.45 123KB 123PiB 123ms 1e6 -123ms"),
            [Number, Sub, Number, Number, Bytes, Bytes, Duration, Number, Duration]
        );
        assert_eq!(kinds("34+-123 34-123"), [Number, Add, Sub, Number, Number, Sub, Number]);
        assert_eq!(kinds("0b01 0x1A 0x1p3"), [Number, Number, Number]);
        assert_eq!(kinds("x 1mb"), [Ident, Duration, Ident]);
        assert_eq!(kinds("@ 'a' ! ~"), [Ident, Ident, Ident, Ident]);
        assert_eq!(kinds("a /* c */ b // d\n c"), [Ident, Ident, Ident]);
        assert_eq!(kinds("sum\n  by (x)"), [Sum, By, LParen, Ident, RParen]);
        assert_eq!(kinds("sum byx"), [Ident, Ident]);
    }

    #[test]
    fn values() {
        let mut l = Lexer::new("`a\\b` \"a\\tb\" [1h30m] -5s 1.5MiB --keep-empty");
        let vals: Vec<Value> = std::iter::from_fn(|| {
            let t = l.next_token().unwrap();
            (t.kind != Kind::Eof).then_some(t.value)
        })
        .collect();
        assert_eq!(
            vals,
            [
                Value::Str("a\\b".into()),
                Value::Str("a\tb".into()),
                Value::Range(Duration::from_secs(5400)),
                Value::Duration(-5_000_000_000),
                Value::Bytes(1_572_864),
                Value::Flag(Flag::KeepEmpty),
            ]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(first_error(r#"{foo="bar}"#), "literal not terminated");
        assert_eq!(first_error(r#""\q""#), "invalid char escape");
        assert_eq!(first_error("[5minutes]"), r#"unknown unit "minutes" in duration "5minutes""#);
        assert_eq!(first_error("[5"), "missing closing ']' in duration");
        assert_eq!(first_error("09"), "invalid digit '9' in octal literal");
        assert_eq!(first_error("x < 0B"), "decimal literal has no digits");
        assert_eq!(first_error("x<0B"), "binary literal has no digits");
        assert_eq!(first_error("0x"), "hexadecimal literal has no digits");
        assert_eq!(first_error("1e"), "exponent has no digits");
        assert_eq!(first_error("1__0"), "'_' must separate successive digits");
        assert_eq!(first_error("/* x"), "comment not terminated");
        assert_eq!(first_error("'ab'"), "invalid char literal");
        assert_eq!(first_error("\"\\400\""), "invalid syntax");
        assert_eq!(first_error("a\0"), "invalid character NUL");
    }
}
