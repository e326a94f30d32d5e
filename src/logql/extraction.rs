//! Extraction expressions of `| json label="path"` and `| logfmt
//! label="key"` (Loki's `log/jsonexpr` and `log/logfmt` expression
//! grammars).
//!
//! | parser | grammar | example |
//! |---|---|---|
//! | json | `field` or `[…]` first, then any of `.field`, `["key"]`, `[index]`; fields are `[A-Za-z_][A-Za-z0-9_]*`; a `"…"` key ends at `"` or `]` (no escapes) | `user.roles[0]`, `["a b"].c` |
//! | logfmt | a key or a `"…"` string, then only strings | `status`, `"a b"` |
//!
//! Whitespace (space, tab, newline) between tokens is ignored. Error texts
//! follow Loki's lexers and goyacc's `syntax error: unexpected X, expecting
//! Y` messages.

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonPathPart {
    /// An object member (`.field` or `["key"]`).
    Key(String),
    /// An array element (`[0]`).
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Lsb,
    Rsb,
    Str(String),
    Field(String),
    Index(usize),
    Eof,
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Self::Dot => "DOT",
            Self::Lsb => "LSB",
            Self::Rsb => "RSB",
            Self::Str(_) => "STRING",
            Self::Field(_) => "FIELD",
            Self::Index(_) => "INDEX",
            Self::Eof => "$end",
        }
    }
}

/// The shared lexer of both expression languages.
struct Lexer<'a> {
    rest: std::str::Chars<'a>,
    /// The first lexical error; the lexer then reports the end of input.
    err: Option<String>,
    json: bool,
}

fn is_field_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.rest.clone().next()
    }

    fn next(&mut self) -> Tok {
        if self.err.is_some() {
            return Tok::Eof;
        }
        loop {
            let Some(c) = self.rest.next() else { return Tok::Eof };
            match c {
                '\0' => return Tok::Eof,
                ' ' | '\t' | '\n' => continue,
                '0'..='9' if self.json => return self.index(c),
                '[' if self.json => return Tok::Lsb,
                ']' if self.json => return Tok::Rsb,
                '.' if self.json => return Tok::Dot,
                c if is_field_start(c) => {
                    let mut s = c.to_string();
                    while let Some(n) = self.peek().filter(|&n| is_field_char(n)) {
                        s.push(n);
                        self.rest.next();
                    }
                    return Tok::Field(s);
                }
                '"' => {
                    let mut s = String::new();
                    for n in self.rest.by_ref() {
                        if n == '"' || n == ']' || n == '\0' {
                            break;
                        }
                        s.push(n);
                    }
                    return Tok::Str(s);
                }
                c => {
                    self.err = Some(format!("unexpected char {c}"));
                    return Tok::Eof;
                }
            }
        }
    }

    fn index(&mut self, first: char) -> Tok {
        let mut digits = first.to_string();
        loop {
            let c = self.peek().unwrap_or('\0');
            if c == '.' {
                self.err = Some("cannot use float as array index".to_owned());
                return Tok::Eof;
            }
            if matches!(c, ' ' | '\t' | '\n' | ']') {
                break;
            }
            if !c.is_ascii_digit() {
                self.err = Some(format!("non-integer value: {c}"));
                return Tok::Eof;
            }
            digits.push(c);
            self.rest.next();
        }
        match super::number::parse_go_int(&digits).ok().and_then(|v| usize::try_from(v).ok()) {
            Some(v) => Tok::Index(v),
            None => {
                self.err = Some(super::number::NumError::Range.message("Atoi", &digits));
                Tok::Eof
            }
        }
    }
}

fn syntax_error(got: &Tok, expected: &[&str]) -> String {
    let mut msg = format!("syntax error: unexpected {}", got.name());
    for (i, e) in expected.iter().enumerate() {
        msg.push_str(if i == 0 { ", expecting " } else { " or " });
        msg.push_str(e);
    }
    msg
}

/// Parses a `json` extraction path (Loki's `jsonexpr.Parse`).
pub fn parse_json_path(expr: &str) -> Result<Vec<JsonPathPart>, String> {
    let mut lx = Lexer { rest: expr.chars(), err: None, json: true };
    let mut parts = Vec::new();
    let mut first = true;
    loop {
        let tok = lx.next();
        match tok {
            Tok::Eof if !first => break,
            Tok::Field(f) if first => parts.push(JsonPathPart::Key(f)),
            Tok::Dot if !first => match lx.next() {
                Tok::Field(f) => parts.push(JsonPathPart::Key(f)),
                other => return Err(syntax_error(&other, &["FIELD"])),
            },
            Tok::Lsb => {
                let part = match lx.next() {
                    Tok::Str(s) => JsonPathPart::Key(s),
                    Tok::Index(i) => JsonPathPart::Index(i),
                    other => return Err(syntax_error(&other, &["STRING", "INDEX"])),
                };
                match lx.next() {
                    Tok::Rsb => parts.push(part),
                    other => return Err(syntax_error(&other, &["RSB"])),
                }
            }
            other if first => return Err(syntax_error(&other, &["LSB", "FIELD"])),
            // After a whole path goyacc's default action is to reduce, so
            // its message lists no expected tokens.
            other => return Err(syntax_error(&other, &[])),
        }
        first = false;
    }
    match lx.err {
        Some(e) => Err(e),
        None => Ok(parts),
    }
}

/// Parses a `logfmt` extraction expression and returns the key it names:
/// the single key or string, or Go's `fmt.Sprintf("%v", parts...)` of
/// several strings (Loki's quirk).
pub fn parse_logfmt_key(expr: &str) -> Result<String, String> {
    let mut lx = Lexer { rest: expr.chars(), err: None, json: false };
    let mut parts: Vec<String> = Vec::new();
    loop {
        match lx.next() {
            Tok::Eof if !parts.is_empty() => break,
            Tok::Field(s) if parts.is_empty() => parts.push(s),
            Tok::Str(s) => parts.push(s),
            other if parts.is_empty() => return Err(syntax_error(&other, &["STRING", "KEY"])),
            other => return Err(syntax_error(&other, &["STRING"]).replace("FIELD", "KEY")),
        }
    }
    if let Some(e) = lx.err {
        return Err(e);
    }
    let mut key = parts.first().cloned().unwrap_or_default();
    if parts.len() > 1 {
        let extra: Vec<String> = parts.iter().skip(1).map(|p| format!("string={p}")).collect();
        key.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::JsonPathPart::{Index, Key};
    use super::*;

    fn k(s: &str) -> JsonPathPart {
        Key(s.to_owned())
    }

    #[test]
    fn json_paths() {
        assert_eq!(parse_json_path("a").unwrap(), [k("a")]);
        assert_eq!(parse_json_path("user.roles[0]").unwrap(), [k("user"), k("roles"), Index(0)]);
        assert_eq!(parse_json_path(r#"["a b"].c [ 2 ]"#).unwrap(), [k("a b"), k("c"), Index(2)]);
        assert_eq!(parse_json_path("[1]").unwrap(), [Index(1)]);
        assert!(parse_json_path("").unwrap_err().starts_with("syntax error: unexpected $end"));
        assert!(parse_json_path("user[").is_err());
        assert!(parse_json_path(".a").is_err());
        assert!(parse_json_path("a.").is_err());
        assert!(parse_json_path("a[0.5]").is_err());
        assert_eq!(parse_json_path("a$").unwrap_err(), "unexpected char $");
        assert!(parse_json_path("a b").is_err());
    }

    #[test]
    fn logfmt_keys() {
        assert_eq!(parse_logfmt_key("status").unwrap(), "status");
        assert_eq!(parse_logfmt_key(r#""a b""#).unwrap(), "a b");
        assert_eq!(parse_logfmt_key(r#"a "b""#).unwrap(), "a%!(EXTRA string=b)");
        assert_eq!(parse_logfmt_key("a.b").unwrap_err(), "unexpected char .");
        assert!(parse_logfmt_key("").is_err());
        assert!(parse_logfmt_key("a b").is_err());
    }
}
