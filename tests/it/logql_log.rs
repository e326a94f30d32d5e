//! Per-line LogQL pipeline building blocks (`lokistore::logql::log`): the
//! data-driven cases in `tests/logql/log/*.txt`, plus property tests (no
//! input panics a stage; the fast literal and case-insensitive filters
//! agree with naive oracles).
//!
//! Case files: blocks separated by blank lines, `#` comment lines. A block
//! sets up stages and a stream, then runs one or more lines through them
//! (one builder per block, reset for every line).
//!
//! | key | meaning |
//! |---|---|
//! | `stream:` | the stream labels, `{a="b"}` (default `{}`) |
//! | `stage:` | a stage, applied in order (see below) |
//! | `stage-error:` | building the block's last stage must fail with exactly this message |
//! | `metadata:` | structured metadata for the following lines, `{a="b"}` |
//! | `line:` / `line-q:` | run a line: raw text to the end of the line / a quoted string (`\n \t \r \\ \" \xNN \u{…}`) |
//! | `want:` | the final label set (`{…}`, empty values included) or `dropped` |
//! | `want-line:` / `want-line-q:` | the line after the stages |
//! | `want-categories:` | `stream={…} metadata={…} parsed={…}` |
//!
//! Stages: `json [label="path", …]`, `logfmt [--strict] [--keep-empty]
//! [label[="key"], …]`, `regexp <regex to end of line>`, `pattern <text to
//! end of line>`, `unpack`, `decolorize`, line filters `|= != |~ !~ |> !>`
//! followed by operands `"…"` or `ip("…")` joined with `or`, label filters
//! `numeric|duration|bytes <name> <op> <value>`, `ip <name> =|!= "<pattern>"`,
//! `label <name> =|!= "<value>"` (string equality; absent = `""`),
//! `set <name> "<value>"` (label_format template result), `rename <dst>
//! <src>`, `drop|keep <name>[="value"], …`, `error <kind> ["details"]`
//! (parser rule: overwrite), `filter-error <kind> ["details"]` (filter rule),
//! `preserve-error`.

use std::path::PathBuf;

use lokistore::Labels;
use lokistore::logql::log::{
    CmpOp, Decolorizer, ErrorKind, IpMatcher, JsonExpressionParser, JsonParser, LabelsBuilder, LineFilter,
    LineFilterArg, LineFilterOp, LogfmtExpressionParser, LogfmtParser, PatternParser, RegexpParser, UnpackParser,
    bytes_filter, duration_filter, ip_filter, numeric_filter, parse_go_duration, parse_humanize_bytes,
};

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/logql/log"))
}

// ---------------------------------------------------------------------------
// Stage specs
// ---------------------------------------------------------------------------

enum Stage {
    Json(JsonParser),
    JsonExpr(JsonExpressionParser),
    Logfmt(LogfmtParser),
    LogfmtExpr(LogfmtExpressionParser),
    Regexp(RegexpParser),
    Pattern(PatternParser),
    Unpack(UnpackParser),
    Decolorize(Decolorizer),
    Filter(LineFilter),
    Numeric(String, CmpOp, f64),
    Duration(String, CmpOp, i64),
    Bytes(String, CmpOp, u64),
    Ip(String, IpMatcher, bool),
    Label(String, String, bool),
    Set(String, String),
    Rename(String, String),
    Drop(Vec<(String, Option<String>)>),
    Keep(Vec<(String, Option<String>)>),
    Error(ErrorKind, Option<String>, bool),
    Preserve,
}

/// Reads a quoted string at the start of `s` (after spaces): its bytes
/// and the rest.
fn quoted(s: &str) -> Result<(Vec<u8>, &str), String> {
    let s = s.trim_start();
    let mut chars = s.char_indices();
    if chars.next().map(|(_, c)| c) != Some('"') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let mut out = Vec::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => {
                let (_, e) = chars.next().ok_or("dangling escape")?;
                match e {
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    'r' => out.push(b'\r'),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => {
                        let hex: String = (0..2).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                        out.push(u8::from_str_radix(&hex, 16).map_err(|e| e.to_string())?);
                    }
                    'u' => {
                        let rest = &s[i + 2..];
                        let end = rest.find('}').ok_or("bad \\u{")?;
                        let code = u32::from_str_radix(&rest[1..end], 16).map_err(|e| e.to_string())?;
                        let c = char::from_u32(code).ok_or("bad code point")?;
                        out.extend_from_slice(c.to_string().as_bytes());
                        for _ in 0..=end {
                            chars.next();
                        }
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                }
            }
            c => out.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    Err(format!("unterminated string in {s:?}"))
}

fn quoted_str(s: &str) -> Result<(String, &str), String> {
    let (b, rest) = quoted(s)?;
    Ok((String::from_utf8(b).map_err(|e| e.to_string())?, rest))
}

/// `a, b="x", c` → `[(a, None), (b, Some(x)), (c, None)]`.
fn assignments(s: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let end = rest.find(['=', ',']).unwrap_or(rest.len());
        let name = rest[..end].trim().to_owned();
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix('=') {
            let (v, r) = quoted_str(r)?;
            out.push((name, Some(v)));
            rest = r.trim_start();
        } else {
            out.push((name, None));
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

fn cmp_op(s: &str) -> Result<CmpOp, String> {
    Ok(match s {
        "=" | "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        _ => return Err(format!("bad operator {s:?}")),
    })
}

fn error_kind(s: &str) -> Result<ErrorKind, String> {
    Ok(match s {
        "JSONParserErr" => ErrorKind::JsonParser,
        "LogfmtParserErr" => ErrorKind::LogfmtParser,
        "SampleExtractionErr" => ErrorKind::SampleExtraction,
        "LabelFilterErr" => ErrorKind::LabelFilter,
        "TemplateFormatErr" => ErrorKind::TemplateFormat,
        _ => return Err(format!("bad error kind {s:?}")),
    })
}

/// Builds a stage: `Ok(Err(msg))` when the library refuses it,
/// `Err(..)` for a malformed spec.
fn build(spec: &str) -> Result<Result<Stage, String>, String> {
    let (word, rest) = spec.split_once(' ').unwrap_or((spec, ""));
    let lib = |r: Result<Stage, lokistore::logql::log::StageError>| Ok(r.map_err(|e| e.to_string()));
    let stage = match word {
        "json" if rest.trim().is_empty() => Stage::Json(JsonParser::new()),
        "json" => {
            let exprs = assignments(rest)?;
            let pairs: Vec<(&str, &str)> =
                exprs.iter().map(|(l, p)| (l.as_str(), p.as_deref().unwrap_or(l.as_str()))).collect();
            return lib(JsonExpressionParser::parse(&pairs).map(Stage::JsonExpr));
        }
        "logfmt" => {
            let mut rest = rest.trim();
            let (mut strict, mut keep_empty) = (false, false);
            loop {
                if let Some(r) = rest.strip_prefix("--strict") {
                    strict = true;
                    rest = r.trim_start();
                } else if let Some(r) = rest.strip_prefix("--keep-empty") {
                    keep_empty = true;
                    rest = r.trim_start();
                } else {
                    break;
                }
            }
            if rest.is_empty() {
                Stage::Logfmt(LogfmtParser::new(strict, keep_empty))
            } else {
                let exprs: Vec<(String, String)> =
                    assignments(rest)?.into_iter().map(|(l, k)| (l.clone(), k.unwrap_or(l))).collect();
                return lib(LogfmtExpressionParser::new(&exprs, strict).map(Stage::LogfmtExpr));
            }
        }
        "regexp" => return lib(RegexpParser::new(rest).map(Stage::Regexp)),
        "pattern" => return lib(PatternParser::new(rest).map(Stage::Pattern)),
        "unpack" => Stage::Unpack(UnpackParser::new()),
        "decolorize" => Stage::Decolorize(Decolorizer::new()),
        "|=" | "!=" | "|~" | "!~" | "|>" | "!>" => {
            let op = match word {
                "|=" => LineFilterOp::Contains,
                "!=" => LineFilterOp::NotContains,
                "|~" => LineFilterOp::Regex,
                "!~" => LineFilterOp::NotRegex,
                "|>" => LineFilterOp::Pattern,
                _ => LineFilterOp::NotPattern,
            };
            let mut owned: Vec<(bool, String)> = Vec::new();
            let mut rest = rest.trim();
            loop {
                let is_ip = rest.starts_with("ip(");
                let (s, r) = quoted_str(if is_ip { &rest[3..] } else { rest })?;
                rest = if is_ip { r.trim_start().strip_prefix(')').ok_or("missing )")? } else { r }.trim_start();
                owned.push((is_ip, s));
                match rest.strip_prefix("or ") {
                    Some(r) => rest = r.trim_start(),
                    None if rest.is_empty() => break,
                    None => return Err(format!("unexpected {rest:?}")),
                }
            }
            let args: Vec<LineFilterArg<'_>> =
                owned.iter().map(|(ip, s)| if *ip { LineFilterArg::Ip(s) } else { LineFilterArg::Text(s) }).collect();
            return lib(LineFilter::new(op, &args).map(Stage::Filter));
        }
        "numeric" | "duration" | "bytes" => {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let [name, op, value] = parts.as_slice() else { return Err(format!("bad filter {spec:?}")) };
            let (name, op) = ((*name).to_owned(), cmp_op(op)?);
            match word {
                "numeric" => Stage::Numeric(name, op, value.parse().map_err(|e| format!("{e}"))?),
                "duration" => Stage::Duration(name, op, parse_go_duration(value).map_err(|e| e.to_string())?),
                _ => Stage::Bytes(name, op, parse_humanize_bytes(value).map_err(|e| e.to_string())?),
            }
        }
        "ip" | "label" => {
            let (name, r) = rest.trim().split_once(' ').ok_or("bad filter")?;
            let (op, r) = r.trim().split_once(' ').ok_or("bad filter")?;
            let negated = match op {
                "=" => false,
                "!=" => true,
                _ => return Err(format!("bad operator {op:?}")),
            };
            let (value, _) = quoted_str(r)?;
            if word == "label" {
                Stage::Label(name.to_owned(), value, negated)
            } else {
                return lib(IpMatcher::new(&value).map(|m| Stage::Ip(name.to_owned(), m, negated)));
            }
        }
        "set" => {
            let (name, r) = rest.trim().split_once(' ').ok_or("bad set")?;
            Stage::Set(name.to_owned(), quoted_str(r)?.0)
        }
        "rename" => {
            let (dst, src) = rest.trim().split_once(' ').ok_or("bad rename")?;
            Stage::Rename(dst.to_owned(), src.trim().to_owned())
        }
        "drop" => Stage::Drop(assignments(rest)?),
        "keep" => Stage::Keep(assignments(rest)?),
        "error" | "filter-error" => {
            let (kind, r) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
            let details = if r.trim().is_empty() { None } else { Some(quoted_str(r)?.0) };
            Stage::Error(error_kind(kind)?, details, word == "filter-error")
        }
        "preserve-error" => Stage::Preserve,
        _ => return Err(format!("unknown stage {spec:?}")),
    };
    Ok(Ok(stage))
}

/// Runs one line through the stages: the final labels (`None` when a
/// filter dropped the line) and the final line.
fn run(stages: &mut [Stage], b: &mut LabelsBuilder, line: &[u8]) -> (Option<String>, Vec<u8>) {
    let mut line = line.to_vec();
    for stage in stages.iter_mut() {
        let keep = match stage {
            Stage::Json(p) => {
                p.process(&line, b);
                true
            }
            Stage::JsonExpr(p) => {
                p.process(&line, b);
                true
            }
            Stage::Logfmt(p) => {
                p.process(&line, b);
                true
            }
            Stage::LogfmtExpr(p) => {
                p.process(&line, b);
                true
            }
            Stage::Regexp(p) => {
                p.process(&line, b);
                true
            }
            Stage::Pattern(p) => {
                p.process(&line, b);
                true
            }
            Stage::Unpack(p) => {
                if let Some(new) = p.process(&line, b) {
                    line = new.to_vec();
                }
                true
            }
            Stage::Decolorize(d) => {
                if let Some(new) = d.process(&line) {
                    line = new.to_vec();
                }
                true
            }
            Stage::Filter(f) => f.matches(&line),
            Stage::Numeric(n, op, v) => numeric_filter(b, n, *op, *v),
            Stage::Duration(n, op, v) => duration_filter(b, n, *op, *v),
            Stage::Bytes(n, op, v) => bytes_filter(b, n, *op, *v),
            Stage::Ip(n, m, neg) => ip_filter(b, n, m, *neg),
            Stage::Label(n, v, neg) => (b.get(n).unwrap_or("") == v) != *neg,
            Stage::Set(n, v) => {
                b.set_label(n, v);
                true
            }
            Stage::Rename(dst, src) => {
                b.rename_label(dst, src);
                true
            }
            Stage::Drop(names) => {
                b.drop_where(|n, v| {
                    names.iter().any(|(name, want)| name == n && want.as_deref().is_none_or(|w| w == v))
                });
                true
            }
            Stage::Keep(names) => {
                b.keep_where(|n, v| {
                    names.iter().any(|(name, want)| name == n && want.as_deref().is_none_or(|w| w == v))
                });
                true
            }
            Stage::Error(kind, details, filter) => {
                if *filter {
                    b.set_error_if_none(*kind, details.as_deref());
                } else {
                    b.set_parser_error(*kind, details.as_deref());
                }
                true
            }
            Stage::Preserve => {
                b.set_preserve_error(true);
                true
            }
        };
        if !keep {
            return (None, line);
        }
    }
    (Some(b.label_string().to_owned()), line)
}

fn labels_text(labels: &[lokistore::Label]) -> String {
    let inner: Vec<String> = labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{{{}}}", inner.join(", "))
}

// ---------------------------------------------------------------------------
// The case files
// ---------------------------------------------------------------------------

/// Runs one block; returns how many lines it checked.
fn run_block(file: &str, start: usize, block: &[(usize, &str)]) -> Result<usize, String> {
    let at = |n: usize| format!("{file}:{n}");
    let mut stream = Labels::empty();
    let mut stages: Vec<Stage> = Vec::new();
    let mut builder: Option<LabelsBuilder> = None;
    let mut metadata = Labels::empty();
    let mut last: Option<(Option<String>, Vec<u8>)> = None;
    let mut checked = 0;
    for &(n, text) in block {
        let (key, value) = text.split_once(':').ok_or_else(|| format!("{}: no key", at(n)))?;
        let value = value.strip_prefix(' ').unwrap_or(value);
        match key {
            "stream" => stream = Labels::parse(value).map_err(|e| format!("{}: {e}", at(n)))?,
            "metadata" => metadata = Labels::parse(value).map_err(|e| format!("{}: {e}", at(n)))?,
            "stage" => match build(value).map_err(|e| format!("{}: {e}", at(n)))? {
                Ok(s) => stages.push(s),
                Err(e) => {
                    let next = block.iter().find(|(m, _)| *m > n);
                    let Some((_, t)) = next.filter(|(_, t)| t.starts_with("stage-error:")) else {
                        return Err(format!("{}: stage {value:?} failed: {e}", at(n)));
                    };
                    let want = t["stage-error:".len()..].trim_start();
                    if e != want {
                        return Err(format!("{}: stage {value:?}: error\n  got:  {e}\n  want: {want}", at(n)));
                    }
                    checked += 1;
                    return Ok(checked);
                }
            },
            "stage-error" => return Err(format!("{}: the stage before did not fail", at(n))),
            "line" | "line-q" => {
                let line = if key == "line" {
                    value.as_bytes().to_vec()
                } else {
                    quoted(value).map_err(|e| format!("{}: {e}", at(n)))?.0
                };
                let b = builder.get_or_insert_with(|| LabelsBuilder::new(&stream));
                b.reset();
                for l in &metadata {
                    b.set_metadata(&l.name, &l.value);
                }
                last = Some(run(&mut stages, b, &line));
            }
            "want" | "want-line" | "want-line-q" | "want-categories" => {
                let (labels, line) = last.as_ref().ok_or_else(|| format!("{}: no line before", at(n)))?;
                checked += 1;
                match key {
                    "want" => {
                        let got = labels.as_deref().unwrap_or("dropped");
                        if got != value {
                            return Err(format!("{}: labels\n  got:  {got}\n  want: {value}", at(n)));
                        }
                    }
                    "want-categories" => {
                        let b = builder.as_mut().ok_or("no builder")?;
                        let c = b.categorized();
                        let got = format!(
                            "stream={} metadata={} parsed={}",
                            labels_text(&c.stream),
                            labels_text(&c.structured_metadata),
                            labels_text(&c.parsed)
                        );
                        if got != value {
                            return Err(format!("{}: categories\n  got:  {got}\n  want: {value}", at(n)));
                        }
                    }
                    _ => {
                        let want = if key == "want-line" {
                            value.as_bytes().to_vec()
                        } else {
                            quoted(value).map_err(|e| format!("{}: {e}", at(n)))?.0
                        };
                        if *line != want {
                            return Err(format!(
                                "{}: line\n  got:  {:?}\n  want: {:?}",
                                at(n),
                                String::from_utf8_lossy(line),
                                String::from_utf8_lossy(&want)
                            ));
                        }
                    }
                }
            }
            _ => return Err(format!("{}: unknown key {key:?}", at(n))),
        }
    }
    if checked == 0 {
        return Err(format!("{}: block checks nothing", at(start)));
    }
    Ok(checked)
}

#[test]
fn case_files() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/logql/log")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "case files missing");
    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(path).expect("read case file");
        let mut block: Vec<(usize, &str)> = Vec::new();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            if !line.trim().is_empty() && !line.starts_with('#') {
                block.push((n, line));
            }
            let end = line.trim().is_empty() || n == lines.len();
            if end && !block.is_empty() {
                match run_block(&name, block[0].0, &block) {
                    Ok(c) => total += c,
                    Err(e) => failures.push(e),
                }
                block.clear();
            }
        }
    }
    assert!(failures.is_empty(), "{} case(s) fail:\n{}", failures.len(), failures.join("\n"));
    assert!(total > 200, "only {total} checks");
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

mod props {
    use proptest::prelude::*;

    use super::*;

    /// Bytes that exercise the tokenizers: structure characters, escapes,
    /// spaces, non-ASCII and invalid UTF-8.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        let atoms = prop::sample::select(vec![
            &b"{"[..],
            b"}",
            b"[",
            b"]",
            b"\"",
            b":",
            b",",
            b"=",
            b" ",
            b"\t",
            b"\\",
            b"\\u",
            b"\\ud83d",
            b"\\n",
            b"a",
            b"k",
            b"K",
            b"1",
            b"-",
            b".",
            b"true",
            b"null",
            b"_entry",
            b"\xff",
            b"\xc3",
            "é".as_bytes(),
            "\u{212a}".as_bytes(),
            "\u{fffd}".as_bytes(),
            b"\x1b[31m",
            b"10.0.0.1",
            b"::1",
            b"<",
            b">",
        ]);
        prop::collection::vec(
            prop_oneof![atoms.prop_map(<[u8]>::to_vec), prop::collection::vec(any::<u8>(), 0..4)],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    fn stream() -> Labels {
        Labels::parse(r#"{app="a", a="s", k="s"}"#).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parsers_never_panic(line in line(), meta in line()) {
            let mut b = LabelsBuilder::new(&stream());
            b.reset();
            b.set_metadata("a", &String::from_utf8_lossy(&meta));
            JsonParser::new().process(&line, &mut b);
            LogfmtParser::new(true, true).process(&line, &mut b);
            LogfmtParser::new(false, false).process(&line, &mut b);
            JsonExpressionParser::parse(&[("x", "a"), ("y", "a[0].b"), ("z", "[1]"), ("w", r#"["a"].k"#)]).unwrap().process(&line, &mut b);
            LogfmtExpressionParser::new(&[("a".into(), "a".into()), ("q".into(), "k".into())], true).unwrap().process(&line, &mut b);
            RegexpParser::new(r"(?P<r>a.)|(?P<s>\d+)").unwrap().process(&line, &mut b);
            PatternParser::new("<p> <_>:<q>").unwrap().process(&line, &mut b);
            let unpacked = UnpackParser::new().process(&line, &mut b).map(<[u8]>::to_vec);
            let _ = Decolorizer::new().process(&unpacked.unwrap_or_default());
            let s = b.label_string().to_owned();
            // The key agrees with the sorted set and the hash with the key.
            let mut again = LabelsBuilder::new(&Labels::empty());
            again.reset();
            for l in b.to_vec() {
                again.set_label(&l.name, &l.value);
            }
            prop_assert_eq!(again.label_string(), s.as_str());
            prop_assert_eq!(again.hash(), b.hash());
        }

        #[test]
        fn filters_never_panic(line in line(), pat in line()) {
            let pat = String::from_utf8_lossy(&pat).into_owned();
            for op in [LineFilterOp::Contains, LineFilterOp::Regex, LineFilterOp::Pattern, LineFilterOp::NotPattern] {
                if let Ok(f) = LineFilter::new(op, &[LineFilterArg::Text(&pat)]) {
                    let _ = f.matches(&line);
                }
            }
            if let Ok(m) = IpMatcher::new(&pat) {
                let _ = m.matches_text(&line);
            }
            let _ = IpMatcher::new("::/0").unwrap().matches_text(&line);
            let _ = IpMatcher::new("0.0.0.0/0").unwrap().matches_text(&line);
            let _ = lokistore::logql::log::parse_go_float(&pat);
            let _ = parse_go_duration(&pat);
            let _ = parse_humanize_bytes(&pat);
            let _ = lokistore::logql::log::parse_json_path(&pat);
            let _ = PatternParser::new(&pat);
        }

        /// `|= "s"` is a byte substring test.
        #[test]
        fn contains_matches_naive(line in line(), needle in line()) {
            let needle = String::from_utf8_lossy(&needle).into_owned();
            let f = LineFilter::new(LineFilterOp::Contains, &[LineFilterArg::Text(&needle)]).unwrap();
            let naive = needle.is_empty() || line.windows(needle.len()).any(|w| w == needle.as_bytes());
            prop_assert_eq!(f.matches(&line), naive);
            let not = LineFilter::new(LineFilterOp::NotContains, &[LineFilterArg::Text(&needle)]).unwrap();
            prop_assert_eq!(not.matches(&line), !naive);
        }

        /// `|~ "(?i)s"` for a literal `s` follows Loki's `containsLower`,
        /// checked against a direct transcription of it.
        #[test]
        fn case_insensitive_matches_naive(line in line(), needle in "[a-zA-Z0-9 kKiI\u{212a}\u{130}éÉ=._-]{1,6}") {
            let escaped = regex_syntax::escape(&needle);
            let f = LineFilter::new(LineFilterOp::Regex, &[LineFilterArg::Text(&format!("(?i){escaped}"))]).unwrap();
            let lowered: String = needle.chars().map(naive::fold_lower).collect();
            prop_assert_eq!(f.matches(&line), naive::contains_lower(&line, lowered.as_bytes()), "needle {:?}", needle);
        }

        /// Long lines cross the chunks of the case-insensitive search.
        #[test]
        fn case_insensitive_long_lines(pad in 4000usize..4200, needle in "[a-z]{1,12}", upper in any::<bool>()) {
            let mut line = vec![b'x'; pad];
            line.extend_from_slice(if upper { needle.to_uppercase() } else { needle.clone() }.as_bytes());
            line.extend_from_slice(b"tail");
            let f = LineFilter::new(LineFilterOp::Regex, &[LineFilterArg::Text(&format!("(?i){needle}"))]).unwrap();
            prop_assert!(f.matches(&line));
        }
    }

    /// Straight transcriptions of Loki's case-insensitive contains: the
    /// needle lowered from the smallest character of each literal's case
    /// orbit (`minFoldRune` then `unicode.ToLower`), and `containsLower`.
    mod naive {
        fn go_lower(c: char) -> char {
            if c == '\u{130}' {
                return 'i';
            }
            let mut it = c.to_lowercase();
            match (it.next(), it.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        }

        fn single(s: String) -> Option<char> {
            let mut it = s.chars();
            let a = it.next()?;
            it.next().is_none().then_some(a)
        }

        pub(super) fn fold_lower(c: char) -> char {
            let mut m = c;
            for alt in [single(c.to_uppercase().collect()), single(c.to_lowercase().collect())].into_iter().flatten() {
                m = m.min(alt);
            }
            go_lower(m)
        }

        fn decode(b: &[u8]) -> Option<(char, usize)> {
            for len in 1..=4.min(b.len()) {
                if let Ok(s) = std::str::from_utf8(&b[..len]) {
                    return s.chars().next().map(|c| (c, len));
                }
            }
            None
        }

        pub(super) fn contains_lower(line: &[u8], substr: &[u8]) -> bool {
            if substr.is_empty() {
                return true;
            }
            if substr.len() > line.len() {
                return false;
            }
            let first = substr[0];
            for i in 0..=line.len() - substr.len() {
                if line[i].to_ascii_lowercase() != first {
                    continue;
                }
                let (mut lp, mut sp) = (i, 0);
                let mut matched = true;
                while lp < line.len() && sp < substr.len() {
                    let (c, s) = (line[lp], substr[sp]);
                    if c < 0x80 && s < 0x80 {
                        if c.to_ascii_lowercase() != s {
                            matched = false;
                            break;
                        }
                        lp += 1;
                        sp += 1;
                        continue;
                    }
                    let Some((lr, lsize)) = decode(&line[lp..]) else {
                        if c.to_ascii_lowercase() != s {
                            matched = false;
                            break;
                        }
                        lp += 1;
                        sp += 1;
                        continue;
                    };
                    let Some((mr, msize)) = decode(&substr[sp..]) else {
                        matched = false;
                        break;
                    };
                    if go_lower(lr) != mr {
                        matched = false;
                        break;
                    }
                    lp += lsize;
                    sp += msize;
                }
                if matched && sp == substr.len() {
                    return true;
                }
            }
            false
        }
    }
}
