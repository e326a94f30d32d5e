//! `fromJson`: Go's `json.Unmarshal` into an `interface{}`. Objects become
//! `map[string]interface {}` (a later duplicate key wins), arrays
//! `[]interface {}`, numbers `float64`, `null` nil. Invalid documents
//! decode to nil (Sprig drops the error); a number too large for a float
//! decodes to nil in place, as Go leaves it. Unpaired surrogate escapes
//! become U+FFFD. Documents nested deeper than [`MAX_NESTING`] levels are
//! refused (Go allows 10000).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::value::Value;

/// How deep arrays and objects may nest.
const MAX_NESTING: usize = 512;

/// Decodes `s`, or `None` if it is not one valid JSON value.
pub(crate) fn parse<'a>(s: &str) -> Option<Value<'a>> {
    let mut p = Parser { b: s.as_bytes(), i: 0, depth: 0 };
    p.ws();
    let v = p.value()?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

struct Parser<'s> {
    b: &'s [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..)?.starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn value<'a>(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'{' => self.nested(Self::object),
            b'[' => self.nested(Self::array),
            b'"' => Some(Value::str(self.string()?)),
            b't' => self.lit(b"true").map(|_| Value::Bool(true)),
            b'f' => self.lit(b"false").map(|_| Value::Bool(false)),
            b'n' => self.lit(b"null").map(|_| Value::Nil),
            _ => self.number(),
        }
    }

    fn nested<'a>(&mut self, f: impl FnOnce(&mut Self) -> Option<Value<'a>>) -> Option<Value<'a>> {
        if self.depth >= MAX_NESTING {
            return None;
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object<'a>(&mut self) -> Option<Value<'a>> {
        self.i += 1;
        let mut map = BTreeMap::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(Value::Map(Rc::new(map)));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.i += 1;
            self.ws();
            let v = self.value()?;
            map.insert(key, v);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(Value::Map(Rc::new(map)));
                }
                _ => return None,
            }
        }
    }

    fn array<'a>(&mut self) -> Option<Value<'a>> {
        self.i += 1;
        let mut list = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Some(Value::List(Rc::new(list)));
        }
        loop {
            self.ws();
            list.push(self.value()?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(Value::List(Rc::new(list)));
                }
                _ => return None,
            }
        }
    }

    fn number<'a>(&mut self) -> Option<Value<'a>> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        let text = std::str::from_utf8(self.b.get(start..self.i)?).ok()?;
        let f: f64 = text.parse().ok()?;
        Some(if f.is_finite() { Value::Float(f) } else { Value::Nil })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &d in digits {
            v = (v << 4) | char::from(d).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let u = self.hex4()?;
                            if (0xD800..0xDC00).contains(&u) {
                                // A high surrogate needs a low one right after.
                                let save = self.i;
                                if self.b.get(self.i..self.i + 2) == Some(b"\\u") {
                                    self.i += 2;
                                    if let Some(lo) = self.hex4()
                                        && (0xDC00..0xE000).contains(&lo)
                                    {
                                        char::from_u32(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00))
                                            .unwrap_or('\u{fffd}')
                                    } else {
                                        self.i = save;
                                        '\u{fffd}'
                                    }
                                } else {
                                    '\u{fffd}'
                                }
                            } else {
                                char::from_u32(u).unwrap_or('\u{fffd}')
                            }
                        }
                        _ => return None,
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                c if c < 0x20 => return None,
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::sprint;
    use super::*;

    fn show(s: &str) -> String {
        match parse(s) {
            Some(v) => sprint(&[v]),
            None => "invalid".to_owned(),
        }
    }

    #[test]
    fn decodes_like_go() {
        assert_eq!(show(r#"{"b":[1,2.5,"x",null,true],"a":{"c":1e6}}"#), "map[a:map[c:1e+06] b:[1 2.5 x <nil> true]]");
        assert_eq!(show(r#" "\u00e9\ud83d\ude00\ud800x" "#), "é😀\u{fffd}x");
        assert_eq!(show(r#"{"a":1,"a":2}"#), "map[a:2]");
        assert_eq!(show("1e400"), "<nil>");
        assert_eq!(show("[1,]"), "invalid");
        assert_eq!(show("01"), "invalid");
        assert_eq!(show("{} x"), "invalid");
        assert_eq!(show("\"a\tb\""), "invalid");
        assert_eq!(show(&"[".repeat(600)), "invalid");
        assert_eq!(show(""), "invalid");
    }
}
