//! Reading the metadata JSON (spec §9.2) with the leniency of Loki's
//! jsoniter-based reader where it matters, and exact where Loki's is lossy.
//!
//! | key (ASCII case-insensitive, as jsoniter) | read as                         | absent / `null` |
//! |-------------------------------------------|---------------------------------|-----------------|
//! | `fingerprint`                             | JSON integer, full `u64`        | 0 / unchanged   |
//! | `userID`                                  | string                          | `""`            |
//! | `from`, `through`, `ingestedAt`           | decimal seconds -> ms, exactly  | 0 / error       |
//! | `metric`                                  | object of strings (`null` = "") | empty           |
//! | `encoding`                                | integer 0..=255                 | 0 / unchanged   |
//! | anything else                             | skipped                         |                 |
//!
//! Loki parses times as a float64 and truncates `seconds * 1000`; this
//! reader computes the same truncation from the decimal text exactly
//! (identical for every value Loki writes). Duplicate keys: the last wins.
//! Whatever follows the top-level object (the `\n`) is ignored, as by Go's
//! `Decoder.Decode`. Strings must be valid UTF-8 (labels are Rust strings).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::error::ObjectError;

/// Deepest nesting skipped inside an unknown field.
const MAX_DEPTH: usize = 64;

/// The metadata fields, as found in the JSON.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Metadata {
    pub fingerprint: u64,
    pub user_id: String,
    pub from_ms: i64,
    pub through_ms: i64,
    /// `metric` pairs in document order, `__name__` included.
    pub metric: Vec<(String, String)>,
    pub ingested_at_ms: i64,
    pub encoding: u8,
}

/// Finds where the top-level JSON object ends while the text arrives in
/// pieces (one per snappy chunk), without parsing it: enough to know which
/// snappy chunk Loki's reader would stop after.
#[derive(Debug, Default)]
pub(super) struct EndScanner {
    seen: usize,
    started: bool,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl EndScanner {
    /// Feeds the next piece; `Ok(true)` once the object's closing brace has
    /// been seen.
    pub(super) fn feed(&mut self, piece: &[u8]) -> Result<bool, ObjectError> {
        for &b in piece {
            let offset = self.seen;
            self.seen += 1;
            if !self.started {
                match b {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'{' => {
                        self.started = true;
                        self.depth = 1;
                        continue;
                    }
                    _ => {
                        return Err(ObjectError::MetadataJson { offset, problem: "metadata is not a JSON object" });
                    }
                }
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(true);
                    }
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

/// Parses the metadata object at the start of `text`.
pub(super) fn parse_metadata(text: &[u8]) -> Result<Metadata, ObjectError> {
    let mut p = Parser { s: text, pos: 0 };
    let mut m = Metadata::default();
    p.object(|p, key| {
        match key.to_ascii_lowercase().as_str() {
            "fingerprint" => {
                if !p.null()? {
                    m.fingerprint = p.uint(u64::MAX, "fingerprint is not a uint64")?;
                }
            }
            "userid" => m.user_id = p.nullable_string()?,
            "from" => m.from_ms = p.model_time()?,
            "through" => m.through_ms = p.model_time()?,
            "ingestedat" => m.ingested_at_ms = p.model_time()?,
            "encoding" => {
                if !p.null()? {
                    let e = p.uint(u64::from(u8::MAX), "encoding is not a byte")?;
                    m.encoding = u8::try_from(e).unwrap_or(u8::MAX);
                }
            }
            "metric" => {
                m.metric.clear();
                if !p.null()? {
                    let metric = &mut m.metric;
                    p.object(|p, name| {
                        let value = p.nullable_string()?;
                        metric.push((name, value));
                        Ok(())
                    })?;
                }
            }
            _ => p.skip_value(0)?,
        }
        Ok(())
    })?;
    Ok(m)
}

/// Where the parts of a scanned JSON number are in the text.
struct Number {
    /// Offset of the number.
    start: usize,
    negative: bool,
    /// Integer digits (start, end).
    int: (usize, usize),
    /// Fraction digits (start, end), empty if none.
    frac: (usize, usize),
    /// The exponent, saturated to +-2^40.
    exponent: i64,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, problem: &'static str) -> ObjectError {
        ObjectError::MetadataJson { offset: self.pos, problem }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn token(&mut self) -> Result<u8, ObjectError> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
        self.peek().ok_or_else(|| self.err("unexpected end of the JSON text"))
    }

    fn expect(&mut self, want: u8, problem: &'static str) -> Result<(), ObjectError> {
        if self.token()? != want {
            return Err(self.err(problem));
        }
        self.pos += 1;
        Ok(())
    }

    fn literal(&mut self, lit: &'static [u8]) -> Result<(), ObjectError> {
        if self.s.get(self.pos..).is_some_and(|rest| rest.starts_with(lit)) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// Consumes `null` if it is next.
    fn null(&mut self) -> Result<bool, ObjectError> {
        if self.token()? == b'n' {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `{ "key": value, ... }`, calling `field` positioned at each value.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, String) -> Result<(), ObjectError>,
    ) -> Result<(), ObjectError> {
        self.expect(b'{', "expected a JSON object")?;
        if self.token()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "expected ':' after an object key")?;
            field(self, key)?;
            match self.token()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }

    fn nullable_string(&mut self) -> Result<String, ObjectError> {
        if self.null()? { Ok(String::new()) } else { self.string() }
    }

    /// A JSON string, unescaped. Lone UTF-16 surrogates become U+FFFD, as
    /// in Go.
    fn string(&mut self) -> Result<String, ObjectError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.bump() else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => break,
                b'\\' => self.escape(&mut out)?,
                _ => out.push(b),
            }
        }
        String::from_utf8(out)
            .map_err(|_| ObjectError::MetadataJson { offset: start, problem: "string is not valid UTF-8" })
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ObjectError> {
        let simple = match self.bump() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                let mut chars = [hi, 0];
                let mut n = 1;
                if (0xd800..0xe000).contains(&hi) && self.s.get(self.pos..).is_some_and(|r| r.starts_with(b"\\u")) {
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if (0xd800..0xdc00).contains(&hi) && (0xdc00..0xe000).contains(&lo) {
                        chars[0] = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                    } else {
                        chars[1] = lo;
                        n = 2;
                    }
                }
                for &c in chars.iter().take(n) {
                    let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                return Ok(());
            }
            _ => return Err(self.err("invalid escape in a string")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ObjectError> {
        let mut v = 0;
        for _ in 0..4 {
            let d =
                self.bump().and_then(|b| char::from(b).to_digit(16)).ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// Digits of a non-negative integer (no sign, fraction or exponent).
    fn uint(&mut self, max: u64, problem: &'static str) -> Result<u64, ObjectError> {
        self.token()?;
        let start = self.pos;
        let digits = self.digits();
        if digits.is_empty() || (digits.len() > 1 && digits.first() == Some(&b'0')) {
            self.pos = start;
            return Err(self.err(problem));
        }
        let mut v: u64 = 0;
        for &d in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .filter(|&v| v <= max)
                .ok_or(ObjectError::MetadataJson { offset: start, problem })?;
        }
        Ok(v)
    }

    fn digits(&mut self) -> &[u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or(&[])
    }

    /// Scans a JSON number: `-? int (. frac)? ([eE] [+-]? exp)?`.
    fn number(&mut self) -> Result<Number, ObjectError> {
        const BAD: &str = "expected a JSON number";
        self.token()?;
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_len = self.digits().len();
        if int_len == 0 || (int_len > 1 && self.s.get(int_start) == Some(&b'0')) {
            return Err(self.err(BAD));
        }
        let mut frac = (self.pos, self.pos);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let frac_start = self.pos;
            if self.digits().is_empty() {
                return Err(self.err(BAD));
            }
            frac = (frac_start, self.pos);
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let exp_negative = self.peek() == Some(b'-');
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            let exp = self.digits();
            if exp.is_empty() {
                return Err(self.err(BAD));
            }
            for &d in exp {
                // Saturates far beyond any exponent that leaves a value.
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 40);
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        Ok(Number { start, negative, int: (int_start, int_start + int_len), frac, exponent })
    }

    /// A JSON number of seconds, as milliseconds truncated towards zero
    /// (Go's `int64(f * 1000)`), computed exactly from the text.
    fn model_time(&mut self) -> Result<i64, ObjectError> {
        let n = self.number()?;
        let range_err =
            || ObjectError::MetadataJson { offset: n.start, problem: "time is out of the int64 millisecond range" };
        let int = self.s.get(n.int.0..n.int.1).unwrap_or(&[]);
        let frac = self.s.get(n.frac.0..n.frac.1).unwrap_or(&[]);
        // ms = <int frac digits> * 10^scale, truncated towards zero.
        let scale = n.exponent + 3 - frac.len() as i64;
        let leading_zeros = int.iter().chain(frac).take_while(|&&d| d == b'0').count();
        let significant = (int.len() + frac.len() - leading_zeros) as i64;
        let kept = if scale >= 0 { significant } else { significant + scale };
        let mut v: u128 = 0;
        for &d in int.iter().chain(frac).skip(leading_zeros).take(usize::try_from(kept.max(0)).unwrap_or(usize::MAX)) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d - b'0')))
                .filter(|&v| v <= 1 << 63)
                .ok_or_else(range_err)?;
        }
        if v != 0 {
            for _ in 0..scale {
                v = v.checked_mul(10).filter(|&v| v <= 1 << 63).ok_or_else(range_err)?;
            }
        }
        // v <= 2^63, so the i128 arithmetic is exact.
        let signed = if n.negative { -(v as i128) } else { v as i128 };
        i64::try_from(signed).map_err(|_| range_err())
    }

    /// Skips any JSON value.
    fn skip_value(&mut self, depth: usize) -> Result<(), ObjectError> {
        if depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply"));
        }
        match self.token()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|p, _| p.skip_value(depth + 1)),
            b'[' => {
                self.pos += 1;
                if self.token()? == b']' {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    match self.token()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.err("expected ',' or ']' in an array")),
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use super::*;

    fn time(s: &str) -> Result<i64, ObjectError> {
        Parser { s: s.as_bytes(), pos: 0 }.model_time()
    }

    #[test]
    fn times_parse_exactly() {
        assert_eq!(time("0").unwrap(), 0);
        assert_eq!(time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(time("1700000000.005").unwrap(), 1_700_000_000_005);
        assert_eq!(time("1700000000.5").unwrap(), 1_700_000_000_500);
        assert_eq!(time("1700000000.0059").unwrap(), 1_700_000_000_005);
        assert_eq!(time("-0.001").unwrap(), -1);
        assert_eq!(time("-1.5009").unwrap(), -1500);
        assert_eq!(time("1.7e9").unwrap(), 1_700_000_000_000);
        assert_eq!(time("17E-1").unwrap(), 1700);
        assert_eq!(time("1e-4").unwrap(), 0);
        assert_eq!(time("0.000000000000000000001e30").unwrap(), 1_000_000_000_000);
        assert_eq!(time("9223372036854775.807").unwrap(), i64::MAX);
        assert_eq!(time("-9223372036854775.808").unwrap(), i64::MIN);
        assert!(time("9223372036854775.808").is_err());
        assert!(time("1e400").is_err());
        assert_eq!(time("0e400").unwrap(), 0);
        assert_eq!(time("1e-99999999999999999999").unwrap(), 0);
        for bad in ["", "-", "01", "1.", ".5", "1e", "+1", "\"1\"", "null", "--1"] {
            assert!(time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_loki_metadata() {
        let json = br#"{"fingerprint":18100464131193420663,"userID":"fake","from":1700000000,"through":1700000001.25,"metric":{"__name__":"logs","app":"demo"},"ingestedAt":0,"encoding":129}
"#;
        let m = parse_metadata(json).unwrap();
        assert_eq!(m.fingerprint, 18_100_464_131_193_420_663);
        assert_eq!(m.user_id, "fake");
        assert_eq!((m.from_ms, m.through_ms), (1_700_000_000_000, 1_700_000_001_250));
        assert_eq!(m.metric, [("__name__".into(), "logs".into()), ("app".into(), "demo".into())]);
        assert_eq!(m.encoding, 129);
    }

    #[test]
    fn leniency_like_jsoniter() {
        let json = br#" { "FINGERPRINT" : 1 , "extra":[1,{"a":[true,false,null]},"x",-2.5e3,1e999],
            "UserId":"t\u00fc\ud83e\udd80\ud800", "metric":{"b":"\"\\\/\b\f\n\r\t","a":null},
            "from":1, "through":2, "encoding":null, "fingerprint":2 } trailing"#;
        let m = parse_metadata(json).unwrap();
        assert_eq!(m.fingerprint, 2);
        assert_eq!(m.user_id, "tü🦀\u{fffd}");
        assert_eq!(m.metric, [("b".into(), "\"\\/\u{8}\u{c}\n\r\t".into()), ("a".into(), String::new())]);
        assert_eq!(m.encoding, 0);
    }

    #[test]
    fn bad_json_is_an_error() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"fingerprint\":-1}",
            b"{\"fingerprint\":18446744073709551616}",
            b"{\"fingerprint\":1.5}",
            b"{\"encoding\":256}",
            b"{\"metric\":{\"a\":1}}",
            b"{\"userID\":\"\xff\"}",
            b"{\"userID\":\"\\x\"}",
            b"{\"userID\":\"\\u12\"}",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{\"a\":tru}",
        ] {
            assert!(parse_metadata(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_metadata(deep.as_bytes()).is_err());
    }

    #[test]
    fn end_scanner_finds_the_closing_brace() {
        let mut s = EndScanner::default();
        assert!(!s.feed(b" {\"a}\\\"\":[{").unwrap());
        assert!(!s.feed(b"}]").unwrap());
        assert!(s.feed(b"}\n").unwrap());
        assert!(EndScanner::default().feed(b"[]").is_err());
    }
}
