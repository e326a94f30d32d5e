//! The template scanner: Go `text/template/parse` tokens with byte offsets
//! and line numbers.
//!
//! The whole text is scanned up front into a vector that ends with an
//! [`ItemKind::Eof`] or an [`ItemKind::Error`] item (the scanner stops at
//! its first error, as Go's does). Rules, as in Go:
//!
//! * Text runs up to `{{`. `{{- ` (dash plus a space, tab, CR or LF) trims
//!   the white space before the action, ` -}}` the white space after it.
//! * `{{/* … */}}` is a comment (with optional trim markers); it must close
//!   right after `*/`.
//! * Inside an action: runs of spaces (one [`ItemKind::Space`] item),
//!   `=`, `:=`, `|`, `(`, `)`, quoted and raw strings, character constants,
//!   numbers (scanned loosely; the parser validates them), `$variables`,
//!   `.fields` (one item per `.name`), identifiers and keywords, and any
//!   other printable ASCII character as [`ItemKind::Char`].
//! * Newlines are allowed inside actions (Go 1.16 and later).

use super::strconv::unicode_sharp;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A scan error; the text is the message.
    Error,
    /// `true` or `false`.
    Bool,
    /// Any other printable ASCII character (`,` for example).
    Char,
    /// A character constant such as `'a'`.
    CharConstant,
    /// A complex constant such as `1+2i`.
    Complex,
    /// `=`.
    Assign,
    /// `:=`.
    Declare,
    /// End of input.
    Eof,
    /// `.name`.
    Field,
    /// A name not starting with `.` or `$`: a function.
    Identifier,
    /// `{{`.
    LeftDelim,
    /// `(`.
    LeftParen,
    /// A number (possibly imaginary).
    Number,
    /// `|`.
    Pipe,
    /// A raw string, with its backquotes.
    RawString,
    /// `}}`.
    RightDelim,
    /// `)`.
    RightParen,
    /// A run of spaces inside an action.
    Space,
    /// A quoted string, with its quotes.
    String,
    /// Text outside actions.
    Text,
    /// `$` or `$name`.
    Variable,
    // Keywords.
    /// `block`.
    Block,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `.` alone.
    Dot,
    /// `define`.
    Define,
    /// `else`.
    Else,
    /// `end`.
    End,
    /// `if`.
    If,
    /// `nil`.
    Nil,
    /// `range`.
    Range,
    /// `template`.
    Template,
    /// `with`.
    With,
}

impl ItemKind {
    /// Keywords print as `<word>` in messages.
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Self::Block
                | Self::Break
                | Self::Continue
                | Self::Dot
                | Self::Define
                | Self::Else
                | Self::End
                | Self::If
                | Self::Nil
                | Self::Range
                | Self::Template
                | Self::With
        )
    }
}

/// One token.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) kind: ItemKind,
    /// Byte offset of the token in the template text.
    pub(crate) pos: usize,
    /// The token's text (the message for [`ItemKind::Error`]).
    pub(crate) val: String,
    /// The line the token starts on (1-based).
    pub(crate) line: usize,
}

impl Item {
    /// How Go describes the token in parse errors: `EOF`, the message of an
    /// error, `<keyword>`, or the quoted text (cut after 10 characters).
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            ItemKind::Eof => "EOF".to_owned(),
            ItemKind::Error => self.val.clone(),
            k if k.is_keyword() => format!("<{}>", self.val),
            _ => {
                if self.val.len() > 10 {
                    let cut = self.val.char_indices().nth(10).map_or(self.val.len(), |(i, _)| i);
                    let head = self.val.get(..cut).unwrap_or(&self.val);
                    format!("{}...", super::strconv::quote(head))
                } else {
                    super::strconv::quote(&self.val)
                }
            }
        }
    }
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker is the dash plus one space character.
const TRIM_MARKER_LEN: usize = 2;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `isAlphaNumeric`: `_`, a letter or a digit.
pub(crate) fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s.first() == Some(&b'-') && s.get(1).is_some_and(|&b| is_space_byte(b))
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s.first().is_some_and(|&b| is_space_byte(b)) && s.get(1) == Some(&b'-')
}

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Done,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    /// Width of the last rune read, for `backup`.
    width: usize,
    paren_depth: usize,
    line: usize,
    start_line: usize,
    items: Vec<Item>,
}

/// Scans `input` into tokens; the last one is `Eof` or `Error`.
pub(crate) fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer { input, pos: 0, start: 0, width: 0, paren_depth: 0, line: 1, start_line: 1, items: Vec::new() };
    let mut state = State::Text;
    loop {
        state = match state {
            State::Text => l.lex_text(),
            State::LeftDelim => l.lex_left_delim(),
            State::Comment => l.lex_comment(),
            State::RightDelim => l.lex_right_delim(),
            State::InsideAction => l.lex_inside_action(),
            State::Done => break,
        };
    }
    l.items
}

impl Lexer<'_> {
    fn rest(&self) -> &[u8] {
        self.input.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn rest_str(&self) -> &str {
        self.input.get(self.pos..).unwrap_or_default()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.rest_str().chars().next();
        match c {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                if c == '\n' {
                    self.line += 1;
                }
            }
            None => self.width = 0,
        }
        c
    }

    fn peek(&self) -> Option<char> {
        self.rest_str().chars().next()
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.width == 1 && self.input.as_bytes().get(self.pos) == Some(&b'\n') {
            self.line -= 1;
        }
        self.width = 0;
    }

    fn current(&self) -> &str {
        self.input.get(self.start..self.pos).unwrap_or_default()
    }

    fn emit(&mut self, kind: ItemKind) {
        let val = self.current().to_owned();
        self.items.push(Item { kind, pos: self.start, val, line: self.start_line });
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn ignore(&mut self) {
        self.line += self.current().bytes().filter(|&b| b == b'\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, msg: String) -> State {
        self.items.push(Item { kind: ItemKind::Error, pos: self.start, val: msg, line: self.start_line });
        State::Done
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                self.backup();
                return;
            }
        }
    }

    fn lex_text(&mut self) -> State {
        self.width = 0;
        match self.rest_str().find(LEFT_DELIM) {
            Some(x) => {
                self.pos += x;
                let after = self.input.as_bytes().get(self.pos + LEFT_DELIM.len()..).unwrap_or_default();
                let trim = if has_left_trim_marker(after) {
                    let text = self.current();
                    text.len() - text.trim_end_matches(is_space).len()
                } else {
                    0
                };
                self.pos -= trim;
                if self.pos > self.start {
                    self.line += self.current().bytes().filter(|&b| b == b'\n').count();
                    self.emit(ItemKind::Text);
                }
                self.pos += trim;
                self.ignore();
                State::LeftDelim
            }
            None => {
                self.pos = self.input.len();
                if self.pos > self.start {
                    self.line += self.current().bytes().filter(|&b| b == b'\n').count();
                    self.emit(ItemKind::Text);
                }
                self.emit(ItemKind::Eof);
                State::Done
            }
        }
    }

    /// Whether the input is at `}}` (first) or ` -}}` (second is true).
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest.get(TRIM_MARKER_LEN..).is_some_and(|r| r.starts_with(b"}}")) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM.as_bytes()), false)
    }

    fn lex_left_delim(&mut self) -> State {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(self.rest());
        let after_marker = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.rest().get(after_marker..).is_some_and(|r| r.starts_with(LEFT_COMMENT.as_bytes())) {
            self.pos += after_marker;
            self.ignore();
            return State::Comment;
        }
        self.emit(ItemKind::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        State::InsideAction
    }

    fn lex_comment(&mut self) -> State {
        self.pos += LEFT_COMMENT.len();
        let Some(i) = self.rest_str().find(RIGHT_COMMENT) else {
            return self.error("unclosed comment".to_owned());
        };
        self.pos += i + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".to_owned());
        }
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            let rest = self.rest_str();
            self.pos += rest.len() - rest.trim_start_matches(is_space).len();
        }
        self.ignore();
        State::Text
    }

    fn lex_right_delim(&mut self) -> State {
        let trim = has_right_trim_marker(self.rest());
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        self.emit(ItemKind::RightDelim);
        if trim {
            let rest = self.rest_str();
            self.pos += rest.len() - rest.trim_start_matches(is_space).len();
            self.ignore();
        }
        State::Text
    }

    fn lex_inside_action(&mut self) -> State {
        if self.at_right_delim().0 {
            if self.paren_depth == 0 {
                return State::RightDelim;
            }
            return self.error("unclosed left paren".to_owned());
        }
        let Some(c) = self.next() else {
            return self.error("unclosed action".to_owned());
        };
        match c {
            c if is_space(c) => {
                self.backup();
                return self.lex_space();
            }
            '=' => self.emit(ItemKind::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".to_owned());
                }
                self.emit(ItemKind::Declare);
            }
            '|' => self.emit(ItemKind::Pipe),
            '"' => return self.lex_quote(),
            '`' => return self.lex_raw_quote(),
            '$' => return self.lex_variable(),
            '\'' => return self.lex_char(),
            // ".x" is a field; "." followed by a digit (or at the very end)
            // is scanned as a number.
            '.' if self.rest().first().is_some_and(|b| !b.is_ascii_digit()) => {
                return self.lex_field_or_variable(ItemKind::Field);
            }
            '.' | '+' | '-' | '0'..='9' => {
                self.backup();
                return self.lex_number();
            }
            c if is_alphanumeric(c) => {
                self.backup();
                return self.lex_identifier();
            }
            '(' => {
                self.emit(ItemKind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                if self.paren_depth == 0 {
                    // Go reports the error instead of the parenthesis.
                    self.start = self.pos;
                    self.start_line = self.line;
                    return self.error(format!("unexpected right paren {}", unicode_sharp(c)));
                }
                self.emit(ItemKind::RightParen);
                self.paren_depth -= 1;
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.emit(ItemKind::Char),
            c => return self.error(format!("unrecognized character in action: {}", unicode_sharp(c))),
        }
        State::InsideAction
    }

    fn lex_space(&mut self) -> State {
        let mut spaces = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            spaces += 1;
        }
        // A space may start a trim-marked closing delimiter (" -}}").
        let before = self.input.as_bytes().get(self.pos - 1..).unwrap_or_default();
        if has_right_trim_marker(before) && before.get(TRIM_MARKER_LEN..).is_some_and(|r| r.starts_with(b"}}")) {
            self.backup();
            if spaces == 1 {
                return State::RightDelim;
            }
        }
        self.emit(ItemKind::Space);
        State::InsideAction
    }

    /// Whether the next character may follow an identifier, field or
    /// variable.
    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) => is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '}'),
        }
    }

    fn lex_identifier(&mut self) -> State {
        loop {
            match self.next() {
                Some(c) if is_alphanumeric(c) => {}
                other => {
                    if other.is_some() {
                        self.backup();
                    }
                    if !self.at_terminator() {
                        return self.error(format!("bad character {}", bad_char(other)));
                    }
                    let kind = match self.current() {
                        "block" => ItemKind::Block,
                        "break" => ItemKind::Break,
                        "continue" => ItemKind::Continue,
                        "define" => ItemKind::Define,
                        "else" => ItemKind::Else,
                        "end" => ItemKind::End,
                        "if" => ItemKind::If,
                        "range" => ItemKind::Range,
                        "nil" => ItemKind::Nil,
                        "template" => ItemKind::Template,
                        "with" => ItemKind::With,
                        "true" | "false" => ItemKind::Bool,
                        _ => ItemKind::Identifier,
                    };
                    self.emit(kind);
                    return State::InsideAction;
                }
            }
        }
    }

    fn lex_variable(&mut self) -> State {
        if self.at_terminator() {
            self.emit(ItemKind::Variable);
            return State::InsideAction;
        }
        self.lex_field_or_variable(ItemKind::Variable)
    }

    fn lex_field_or_variable(&mut self, kind: ItemKind) -> State {
        if self.at_terminator() {
            self.emit(if kind == ItemKind::Variable { ItemKind::Variable } else { ItemKind::Dot });
            return State::InsideAction;
        }
        let mut last;
        loop {
            last = self.next();
            match last {
                Some(c) if is_alphanumeric(c) => {}
                Some(_) => {
                    self.backup();
                    break;
                }
                None => break,
            }
        }
        if !self.at_terminator() {
            return self.error(format!("bad character {}", bad_char(last)));
        }
        self.emit(kind);
        State::InsideAction
    }

    fn lex_char(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if !matches!(self.next(), None | Some('\n')) {
                        continue;
                    }
                    return self.error("unterminated character constant".to_owned());
                }
                None | Some('\n') => return self.error("unterminated character constant".to_owned()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::CharConstant);
        State::InsideAction
    }

    fn lex_number(&mut self) -> State {
        if !self.scan_number() {
            return self.error(format!("bad number syntax: {}", super::strconv::quote(self.current())));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            // Complex: 1+2i, no spaces, must end in 'i'.
            if !self.scan_number() || !self.current().ends_with('i') {
                return self.error(format!("bad number syntax: {}", super::strconv::quote(self.current())));
            }
            self.emit(ItemKind::Complex);
        } else {
            self.emit(ItemKind::Number);
        }
        State::InsideAction
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alphanumeric) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if !matches!(self.next(), None | Some('\n')) {
                        continue;
                    }
                    return self.error("unterminated quoted string".to_owned());
                }
                None | Some('\n') => return self.error("unterminated quoted string".to_owned()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::String);
        State::InsideAction
    }

    fn lex_raw_quote(&mut self) -> State {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".to_owned()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::RawString);
        State::InsideAction
    }
}

/// `%#U` of the character that stopped a name; Go's `eof` (-1) prints as
/// `U+FFFFFFFFFFFFFFFF`.
fn bad_char(c: Option<char>) -> String {
    match c {
        Some(c) => unicode_sharp(c),
        None => "U+FFFFFFFFFFFFFFFF".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(ItemKind, String)> {
        lex(s).into_iter().map(|i| (i.kind, i.val)).collect()
    }

    #[test]
    fn scans_text_and_actions() {
        use ItemKind::*;
        assert_eq!(
            kinds("a{{.foo | upper}}b"),
            vec![
                (Text, "a".into()),
                (LeftDelim, "{{".into()),
                (Field, ".foo".into()),
                (Space, " ".into()),
                (Pipe, "|".into()),
                (Space, " ".into()),
                (Identifier, "upper".into()),
                (RightDelim, "}}".into()),
                (Text, "b".into()),
                (Eof, "".into()),
            ]
        );
        assert_eq!(
            kinds("{{$x := 1.5e3}}"),
            vec![
                (LeftDelim, "{{".into()),
                (Variable, "$x".into()),
                (Space, " ".into()),
                (Declare, ":=".into()),
                (Space, " ".into()),
                (Number, "1.5e3".into()),
                (RightDelim, "}}".into()),
                (Eof, "".into()),
            ]
        );
        assert_eq!(kinds("{{.a.b}}")[1..3], [(Field, ".a".into()), (Field, ".b".into())]);
        assert_eq!(kinds("{{ . }}")[2], (Dot, ".".into()));
        assert_eq!(kinds("{{'a'}}")[1], (CharConstant, "'a'".into()));
        assert_eq!(kinds("{{`x\ny`}}")[1], (RawString, "`x\ny`".into()));
        assert_eq!(kinds("{{1+2i}}")[1], (Complex, "1+2i".into()));
    }

    #[test]
    fn trims_and_comments() {
        use ItemKind::*;
        assert_eq!(
            kinds("a  {{- .x -}}  b"),
            vec![
                (Text, "a".into()),
                (LeftDelim, "{{".into()),
                (Field, ".x".into()),
                (RightDelim, "}}".into()),
                (Text, "b".into()),
                (Eof, "".into()),
            ]
        );
        assert_eq!(kinds("a {{/* c */}} b"), vec![(Text, "a ".into()), (Text, " b".into()), (Eof, "".into())]);
        assert_eq!(kinds("a \n{{- /* c */ -}}\n b"), vec![(Text, "a".into()), (Text, "b".into()), (Eof, "".into())]);
        // "{{-3}}" is a negative number, not a trim marker.
        assert_eq!(kinds("{{-3}}")[1], (Number, "-3".into()));
    }

    #[test]
    fn errors() {
        let last = |s: &str| lex(s).pop().map(|i| (i.kind, i.val)).unwrap_or((ItemKind::Eof, String::new()));
        assert_eq!(last("{{.foo"), (ItemKind::Error, "unclosed action".into()));
        assert_eq!(last("{{"), (ItemKind::Error, "unclosed action".into()));
        assert_eq!(last("{{/* x"), (ItemKind::Error, "unclosed comment".into()));
        assert_eq!(last("{{/* x */ }}"), (ItemKind::Error, "comment ends before closing delimiter".into()));
        assert_eq!(last("{{\"abc}}"), (ItemKind::Error, "unterminated quoted string".into()));
        assert_eq!(last("{{`abc}}"), (ItemKind::Error, "unterminated raw quoted string".into()));
        assert_eq!(last("{{'a}}"), (ItemKind::Error, "unterminated character constant".into()));
        assert_eq!(last("{{3x}}"), (ItemKind::Error, "bad number syntax: \"3x\"".into()));
        assert_eq!(last("{{.a-b}}"), (ItemKind::Error, "bad character U+002D '-'".into()));
        assert_eq!(last("{{(.a}}"), (ItemKind::Error, "unclosed left paren".into()));
        assert_eq!(last("{{.a)}}"), (ItemKind::Error, "unexpected right paren U+0029 ')'".into()));
        assert_eq!(last("{{:}}"), (ItemKind::Error, "expected :=".into()));
        assert_eq!(last("{{€}}"), (ItemKind::Error, "unrecognized character in action: U+20AC '€'".into()));
    }

    #[test]
    fn lines() {
        let items = lex("a\nb{{\n.x}}\n{{");
        let err = items.last().map(|i| (i.kind, i.line));
        assert_eq!(err, Some((ItemKind::Error, 4)));
        let field = items.iter().find(|i| i.kind == ItemKind::Field).map(|i| (i.pos, i.line));
        assert_eq!(field, Some((6, 3)));
    }
}
