//! LogQL parser tests: the data-driven cases in `tests/logql/parse/*.txt`,
//! Loki's conformance queries (`../shared/conformance/queries.jsonl`, with
//! the recorded answers in `golden.jsonl`) and every `eval` query of Loki's
//! logqltest scripts (`../shared/conformance/logqltest/*.logqltest`), all
//! read in place.
//!
//! Case file format: blocks separated by blank lines, `#` comment lines.
//!
//! | key | meaning |
//! |---|---|
//! | `query:` | the query (`query+:` appends a newline and more text) |
//! | `canonical:` | the exact `Display` of the parsed query |
//! | `error:` | the exact `ParseError::loki_message()` |
//! | `error-contains:` | a substring of it |
//!
//! Every query that parses must print canonical text that parses to an
//! equal tree and prints the same again (except trees holding a NaN or
//! infinite literal, which Loki prints as `NaN` / `+Inf`).

use std::path::{Path, PathBuf};

use lokistore::logql::{Expr, SampleExpr, parse_expr};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

/// Whether the tree holds a literal that has no LogQL spelling.
fn has_non_finite(e: &SampleExpr) -> bool {
    match e {
        SampleExpr::Literal(v) | SampleExpr::Vector(v) => !v.is_finite(),
        SampleExpr::BinaryOp(b) => has_non_finite(&b.lhs) || has_non_finite(&b.rhs),
        SampleExpr::VectorAggregation(v) => has_non_finite(&v.expr),
        SampleExpr::LabelReplace(l) => has_non_finite(&l.expr),
        SampleExpr::RangeAggregation(_) => false,
    }
}

/// Checks print → parse → print; `Ok(false)` when skipped (non-finite).
fn round_trip(query: &str, expr: &Expr) -> Result<bool, String> {
    if matches!(expr, Expr::Sample(s) if has_non_finite(s)) {
        return Ok(false);
    }
    let text = expr.to_string();
    let again = parse_expr(&text).map_err(|e| format!("{query:?}: canonical {text:?} does not parse: {e}"))?;
    if &again != expr {
        return Err(format!("{query:?}: canonical {text:?} parses to a different tree:\n{expr:?}\n{again:?}"));
    }
    if again.to_string() != text {
        return Err(format!("{query:?}: canonical text is not stable: {text:?} then {again}"));
    }
    Ok(true)
}

#[derive(Debug, Default)]
struct Case {
    origin: String,
    query: Option<String>,
    canonical: Option<String>,
    error: Option<String>,
    error_contains: Option<String>,
}

fn read_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("read case file");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
    let mut cases = Vec::new();
    let mut cur = Case::default();
    for (i, line) in text.lines().enumerate() {
        let origin = format!("{name}:{}", i + 1);
        if line.trim().is_empty() {
            if cur.query.is_some() {
                cases.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(": ").or_else(|| line.split_once(':')).expect(&origin);
        let value = value.to_owned();
        match key {
            "query" => {
                assert!(cur.query.is_none(), "{origin}: two queries in one block");
                cur.origin = origin;
                cur.query = Some(value);
            }
            "query+" => cur.query.as_mut().expect(&origin).push_str(&format!("\n{value}")),
            "canonical" => cur.canonical = Some(value),
            "error" => cur.error = Some(value),
            "error-contains" => cur.error_contains = Some(value),
            _ => panic!("{origin}: unknown key {key:?}"),
        }
    }
    if cur.query.is_some() {
        cases.push(cur);
    }
    cases
}

#[test]
fn case_files() {
    let dir = manifest().join("tests/logql/parse");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/logql/parse")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for file in &files {
        for case in read_cases(file) {
            let query = case.query.clone().unwrap_or_default();
            let origin = &case.origin;
            match parse_expr(&query) {
                Ok(expr) => {
                    accepted += 1;
                    if case.error.is_some() || case.error_contains.is_some() {
                        failures.push(format!("{origin}: {query:?} parsed, want an error; got {expr}"));
                        continue;
                    }
                    if let Some(want) = &case.canonical {
                        let got = expr.to_string();
                        if &got != want {
                            failures
                                .push(format!("{origin}: {query:?}\n   got canonical {got}\n  want canonical {want}"));
                        }
                    }
                    if let Err(e) = round_trip(&query, &expr) {
                        failures.push(format!("{origin}: {e}"));
                    }
                }
                Err(err) => {
                    rejected += 1;
                    let msg = err.loki_message();
                    let ok = match (&case.error, &case.error_contains) {
                        (Some(want), _) => &msg == want,
                        (None, Some(want)) => msg.contains(want.as_str()),
                        (None, None) => false,
                    };
                    if !ok {
                        failures.push(format!(
                            "{origin}: {query:?}\n   got error {msg}\n  want {}",
                            case.error.as_deref().or(case.error_contains.as_deref()).unwrap_or("success")
                        ));
                    }
                }
            }
        }
    }
    eprintln!("logql case files: {} files, {accepted} queries accepted, {rejected} rejected", files.len());
    assert!(failures.is_empty(), "{} failing case(s):\n{}", failures.len(), failures.join("\n"));
}

/// `queries.jsonl`: every query parses (and round-trips) unless Loki's
/// recorded answer is a parse error, whose message must then be ours.
#[test]
fn conformance_queries() {
    let dir = shared().join("conformance");
    let golden: std::collections::HashMap<String, serde_json::Value> =
        std::fs::read_to_string(dir.join("golden.jsonl"))
            .expect("golden.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v.get("id")?.as_str()?.to_owned(), v)))
            .collect();
    let mut failures = Vec::new();
    let (mut total, mut parsed, mut round_tripped, mut rejected, mut template_gaps) = (0, 0, 0, 0, 0);
    for line in std::fs::read_to_string(dir.join("queries.jsonl")).expect("queries.jsonl").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("queries.jsonl line");
        let (Some(id), Some(query)) = (v["id"].as_str(), v["query"].as_str()) else { continue };
        total += 1;
        let loki_error = golden
            .get(id)
            .and_then(|g| g["body_text"].as_str())
            .filter(|t| t.starts_with("parse error"))
            .map(str::trim_end);
        // Loki rejects a bad Go template while building the pipeline; the
        // template engine (not this parser) checks templates.
        let template = loki_error.is_some_and(|t| t.contains("template"));
        match (parse_expr(query), loki_error) {
            (Ok(expr), None) => {
                parsed += 1;
                match round_trip(query, &expr) {
                    Ok(true) => round_tripped += 1,
                    Ok(false) => {}
                    Err(e) => failures.push(format!("{id}: {e}")),
                }
            }
            (Ok(_), Some(_)) if template => template_gaps += 1,
            (Ok(expr), Some(want)) => failures.push(format!("{id}: {query:?} parsed as {expr}, Loki: {want}")),
            (Err(err), Some(want)) if err.loki_message() == want => rejected += 1,
            (Err(err), want) => failures.push(format!("{id}: {query:?}: {}, Loki: {want:?}", err.loki_message())),
        }
    }
    eprintln!(
        "conformance queries: {total}; {parsed} parse ({round_tripped} round-trip), {rejected} rejected with \
         Loki's message, {template_gaps} template error(s) left to the template engine"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(template_gaps, 1, "fmt-021 is the only template case");
}

/// What a logqltest `eval` expects.
enum Expect {
    Success,
    /// `expect fail` with an optional `msg:` or `regex:`.
    Fail {
        msg: Option<String>,
        regex: Option<String>,
    },
}

/// `expect fail` messages that come from evaluation, not parsing.
const RUNTIME_FAILURES: [&str; 10] = [
    "LabelFilterErr",
    "JSONParserErr",
    "LogfmtParserErr",
    "multiple matches for labels",
    "found duplicate series",
    "only supported on instant queries",
    "invalid duration",
    "missing unit in duration",
    r#"parsing \"\": invalid syntax"#,
    "unknown unit",
];

/// `expect fail` messages of Go template parsing (checked by the template
/// engine, not the parser).
const TEMPLATE_FAILURES: [&str; 2] = ["not defined", "unclosed action"];

fn eval_queries() -> Vec<(String, String, Expect)> {
    let dir = shared().join("conformance/logqltest");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("logqltest dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "logqltest"))
        .collect();
    files.sort();
    let instant = regex::Regex::new(r"^eval\s+instant\s+at\s+\S+\s+(.*)$").expect("regex");
    let range = regex::Regex::new(r"^eval\s+range\s+from\s+\S+\s+to\s+\S+\s+step\s+\S+\s+(.*)$").expect("regex");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read logqltest");
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(caps) = instant.captures(line).or_else(|| range.captures(line)) else { continue };
            let query = caps.get(1).map_or("", |m| m.as_str()).to_owned();
            let first = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
            let expect = match first.strip_prefix("expect fail") {
                Some(rest) => {
                    let rest = rest.trim();
                    Expect::Fail {
                        msg: rest.strip_prefix("msg:").map(|m| m.trim().to_owned()),
                        regex: rest.strip_prefix("regex:").map(|m| m.trim().to_owned()),
                    }
                }
                None => Expect::Success,
            };
            out.push((format!("{name}:{}", i + 1), query, expect));
        }
    }
    out
}

/// Every `eval` query of Loki's scripts: those expected to succeed parse
/// and round-trip; an expected failure whose message is a parse error must
/// be one with that message; failures that happen during evaluation must
/// parse.
#[test]
fn logqltest_eval_queries() {
    let mut failures = Vec::new();
    let evals = eval_queries();
    let (mut ok, mut round_tripped, mut non_finite) = (0, 0, 0);
    let (mut parse_failures, mut runtime, mut template, mut unspecified_parse, mut unspecified_runtime) =
        (0, 0, 0, 0, 0);
    for (origin, query, expect) in &evals {
        let result = parse_expr(query);
        match (expect, result) {
            (Expect::Success, Ok(expr)) => {
                ok += 1;
                match round_trip(query, &expr) {
                    Ok(true) => round_tripped += 1,
                    Ok(false) => non_finite += 1,
                    Err(e) => failures.push(format!("{origin}: {e}")),
                }
            }
            (Expect::Success, Err(e)) => failures.push(format!("{origin}: {query:?}: {e}")),
            (Expect::Fail { msg: None, regex: None }, result) => match result {
                Ok(_) => unspecified_runtime += 1,
                Err(_) => unspecified_parse += 1,
            },
            (Expect::Fail { msg, regex }, result) => {
                let msg_text = msg.as_deref().unwrap_or("");
                let is_runtime = RUNTIME_FAILURES.iter().any(|m| msg_text.contains(m));
                let is_template = TEMPLATE_FAILURES.iter().any(|m| msg_text.contains(m));
                match result {
                    Ok(expr) if is_runtime || is_template => {
                        if is_template {
                            template += 1;
                        } else {
                            runtime += 1;
                        }
                        if let Err(e) = round_trip(query, &expr) {
                            failures.push(format!("{origin}: {e}"));
                        }
                    }
                    Ok(expr) => failures.push(format!("{origin}: {query:?} parsed as {expr}, want {msg:?} {regex:?}")),
                    Err(e) if is_runtime || is_template => {
                        failures.push(format!("{origin}: {query:?} fails to parse ({e}) but fails at runtime in Loki"))
                    }
                    Err(e) => {
                        let text = e.loki_message();
                        let matched = match (msg, regex) {
                            (Some(m), _) => text.contains(m.as_str()),
                            (None, Some(r)) => regex::Regex::new(r).is_ok_and(|re| re.is_match(&text)),
                            (None, None) => true,
                        };
                        if matched {
                            parse_failures += 1;
                        } else {
                            failures.push(format!("{origin}: {query:?}: {text}, want {msg:?} {regex:?}"));
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "logqltest eval queries: {}; {ok} expected to succeed parse ({round_tripped} round-trip, {non_finite} \
         NaN/Inf literals not re-parseable); expected failures: {parse_failures} rejected by the parser with \
         Loki's message, {runtime} fail at evaluation (parse OK), {template} template errors left to the \
         template engine, {unspecified_parse}+{unspecified_runtime} without a message (rejected+accepted)",
        evals.len()
    );
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

/// The tree holds what an evaluator needs, in typed form.
#[test]
fn tree_shapes() {
    use lokistore::logql::*;
    use std::time::Duration;

    let sel = parse_log_selector(
        r#"{app="x", env=~"p.*"} |= "a" or ip("10.0.0.0/8") != "b" | json id="user.ids[1]" | logfmt --strict k="\"a b\"" | n > 5 and d <= 1.5s or s > 1KB | label_format u=v | drop w="1""#,
    )
    .unwrap();
    assert_eq!(sel.matchers.len(), 2);
    assert_eq!((sel.matchers[1].name(), sel.matchers[1].op(), sel.matchers[1].value()), ("env", MatchOp::Regex, "p.*"));
    let Stage::LineFilter(f) = &sel.stages[0] else { panic!() };
    assert_eq!(f.op, LineFilterOp::Contains);
    assert_eq!(f.args[0], LineFilterArg::Text("a".into()));
    let LineFilterArg::Ip(ip) = &f.args[1] else { panic!() };
    assert!(ip.matcher.contains("10.1.2.3".parse().unwrap()));
    assert_eq!(
        sel.stages[1],
        Stage::LineFilter(LineFilter { op: LineFilterOp::NotContains, args: vec![LineFilterArg::Text("b".into())] })
    );
    let Stage::Json(j) = &sel.stages[2] else { panic!() };
    assert_eq!(
        j.extractions[0].path,
        [JsonPathPart::Key("user".into()), JsonPathPart::Key("ids".into()), JsonPathPart::Index(1)]
    );
    let Stage::Logfmt(l) = &sel.stages[3] else { panic!() };
    assert!(l.strict && !l.keep_empty);
    assert_eq!((l.extractions[0].label.as_str(), l.extractions[0].key.as_str()), ("k", "a b"));
    let Stage::LabelFilter(LabelFilter::Or(or)) = &sel.stages[4] else { panic!() };
    let LabelFilter::And(and) = &or[0] else { panic!() };
    assert_eq!(and[0], LabelFilter::Number { name: "n".into(), op: CmpOp::Gt, value: 5.0 });
    assert_eq!(and[1], LabelFilter::Duration { name: "d".into(), op: CmpOp::Le, value: GoDuration(1_500_000_000) });
    assert_eq!(or[1], LabelFilter::Bytes { name: "s".into(), op: CmpOp::Gt, value: 1000 });
    assert_eq!(sel.stages[5], Stage::LabelFormat(vec![LabelFormat::Rename { dst: "u".into(), src: "v".into() }]));
    let Stage::Drop(d) = &sel.stages[6] else { panic!() };
    assert!(matches!(&d[0], NamedMatcher::Matcher(m) if m.name() == "w"));

    let SampleExpr::RangeAggregation(r) = parse_sample_expr(
        r#"quantile_over_time(0.9, {a="b"} | unwrap duration(x) | __error__="" [5m] offset -1h) by (c)"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((r.op, r.param), (RangeOp::QuantileOverTime, Some(0.9)));
    assert_eq!(r.range.range, Duration::from_secs(300));
    assert_eq!(r.range.offset, GoDuration(-3_600_000_000_000));
    let u = r.range.unwrap.as_ref().unwrap();
    assert_eq!((u.label.as_str(), u.conversion, u.post_filters.len()), ("x", Some(Conversion::Duration), 1));
    assert_eq!(r.grouping, Some(Grouping { without: false, labels: vec!["c".into()] }));

    let SampleExpr::BinaryOp(b) = parse_sample_expr(
        r#"topk(3, rate({a="b"}[1m])) > bool on (x) group_right (y) sum without (z) (rate({a="b"}[1m]))"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.op, b.return_bool), (BinaryOp::Gt, true));
    assert_eq!(
        b.matching,
        VectorMatching { card: Cardinality::OneToMany, on: true, labels: vec!["x".into()], include: vec!["y".into()] }
    );
    let SampleExpr::VectorAggregation(topk) = &*b.lhs else { panic!() };
    assert_eq!((topk.op, topk.param, topk.grouping.is_singleton()), (VectorOp::Topk, Some(3), true));
    let SampleExpr::VectorAggregation(sum) = &*b.rhs else { panic!() };
    assert_eq!(sum.grouping, Grouping { without: true, labels: vec!["z".into()] });

    assert!(matches!(parse_sample_expr("vector(2)"), Ok(SampleExpr::Vector(v)) if v == 2.0));
    assert!(matches!(parse_sample_expr("2 ^ -1"), Ok(SampleExpr::Literal(v)) if v == 0.5));
}

#[test]
fn error_kinds_and_rendering() {
    use lokistore::logql::*;

    let err = parse_expr("{app=\"a\"}\n  | json x=").unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::Syntax { unexpected: "$end", expected: vec!["STRING"] });
    assert_eq!((err.line(), err.column(), err.span()), (2, 12, Span::new(21, 21)));
    assert_eq!(
        err.to_string(),
        "parse error at line 2, col 12: syntax error: unexpected $end, expecting STRING\n    | json x=\n             ^"
    );

    let err = parse_expr(r#"sum(rate({a="b"}[1m])) by (x) / rate({a="b"}[1m]) by (y)"#).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::RangeGroupingNotAllowed(RangeOp::Rate));
    assert_eq!(
        &r#"sum(rate({a="b"}[1m])) by (x) / rate({a="b"}[1m]) by (y)"#[err.span().start..err.span().end],
        r#"rate({a="b"}[1m]) by (y)"#
    );

    // Post-parse errors are reported in tree pre-order: the outer node first.
    let err = parse_expr(r#"topk(0, rate({a=""}[1m]))"#).unwrap_err();
    assert!(matches!(err.kind(), ParseErrorKind::VectorParamNotPositive { .. }));
    let err = parse_expr(r#"sum(rate({a=""}[1m])) + topk(0, rate({a="b"}[1m]))"#).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::NoNonEmptyMatcher);

    // Stage errors come after all other checks.
    let err = parse_expr(r#"rate({a="b"} |~ "(" [1m]) by (x)"#).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::RangeGroupingNotAllowed(RangeOp::Rate));
    let err = parse_expr(r#"rate({a="b"} |~ "(" [1m])"#).unwrap_err();
    assert!(matches!(err.kind(), ParseErrorKind::Stage { kind: StageErrorKind::InvalidRegex(_), .. }));

    assert_eq!(parse_log_selector("rate({a=\"b\"}[1m])").unwrap_err().kind(), &ParseErrorKind::NotLogSelector);
    assert_eq!(parse_sample_expr("{a=\"b\"}").unwrap_err().kind(), &ParseErrorKind::NotSampleExpr);
}

#[test]
fn limits() {
    use lokistore::logql::*;

    let long = format!("{{a=\"{}\"}}", "x".repeat(MAX_QUERY_LEN));
    let err = parse_expr(&long).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::InputTooLong { len: long.len() });
    assert!(err.loki_message().starts_with("parse error : input size too long ("));
    let just_under = format!("{{a=\"{}\"}}", "x".repeat(MAX_QUERY_LEN - 8));
    assert!(parse_expr(&just_under).is_ok());

    let nest = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_expr(&nest(MAX_NESTING - 1)).is_ok());
    let err = parse_expr(&nest(MAX_NESTING + 1)).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::NestingTooDeep { limit: MAX_NESTING });
    let chain = format!("rate({{a=\"b\"}}[1m]){}", " + rate({a=\"b\"}[1m])".repeat(MAX_NESTING + 1));
    assert!(matches!(parse_expr(&chain).unwrap_err().kind(), ParseErrorKind::NestingTooDeep { .. }));
    let filters = format!("{{a=\"b\"}} | {}", vec!["x=\"1\""; 5000].join(" or "));
    let Ok(Expr::Log(sel)) = parse_expr(&filters) else { panic!() };
    let Stage::LabelFilter(LabelFilter::Or(items)) = &sel.stages[0] else { panic!() };
    assert_eq!(items.len(), 5000);
    let parens = format!("{{a=\"b\"}} | {}x=\"1\"{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
    assert!(matches!(parse_expr(&parens).unwrap_err().kind(), ParseErrorKind::NestingTooDeep { .. }));
}

/// Query text built from grammar fragments, for the round-trip property.
mod generated {
    use proptest::prelude::*;
    use proptest::sample::select;

    const NAMES: &[&str] =
        &["a", "x_1", "__error__", "count", "bytes", "ip", "rate", "é", "_", "duration", "'q'", "@", "!", "€"];
    const STRINGS: &[&str] =
        &[r#""x""#, r#""""#, "`a\"b\\`", r#""\n\t""#, r#""a\x41""#, r#""é😀""#, r#""<_> x""#, r#""\u200b""#];
    const NUMBERS: &[&str] =
        &["0", "1", "-1", "+2", "1.5", "- 0", "1e6", "1e-7", "0x1p3", "017", "1_000", ".5", "1e21", "5e-324"];
    const DURATIONS: &[&str] = &[
        "1s",
        "1m",
        "1h30m",
        "1.5s",
        "250ms",
        "100us",
        "5µs",
        "1d",
        "1w",
        "-5s",
        "0s",
        "1ns",
        "-2562047h47m16.854775808s",
    ];
    const BYTES: &[&str] = &["1KB", "1KiB", "1.5MiB", "20MB", "5B", "0.0B", "10GB", "123PB", "1K", "999B"];
    const RANGES: &[&str] = &["[5m]", "[1h30m]", "[90s]", "[7d]", "[0]", "[1y]", "[500ms]"];

    fn label_filter() -> impl Strategy<Value = String> {
        let cmp = select(&["=", "==", "!=", ">", ">=", "<", "<="][..]);
        let leaf = prop_oneof![
            (select(NAMES), select(&["=", "!=", "=~", "!~"][..]), select(STRINGS))
                .prop_map(|(n, o, s)| format!("{n}{o}{s}")),
            (select(NAMES), cmp.clone(), select(NUMBERS)).prop_map(|(n, o, v)| format!("{n} {o} {v}")),
            (select(NAMES), cmp.clone(), select(DURATIONS)).prop_map(|(n, o, v)| format!("{n}{o}{v}")),
            (select(NAMES), cmp, select(BYTES)).prop_map(|(n, o, v)| format!("{n} {o} {v}")),
            (select(NAMES), select(&["=", "!="][..]), select(&["10.0.0.0/8", "::1", "1.2.3.4-1.2.3.9"][..]))
                .prop_map(|(n, o, p)| format!("{n} {o} ip(\"{p}\")")),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            (inner.clone(), prop::collection::vec((select(&[" or ", " and ", " , ", " ", " OR "][..]), inner), 1..4))
                .prop_map(|(first, rest)| {
                    let body: String = rest.iter().map(|(op, f)| format!("{op}{f}")).collect();
                    format!("({first}{body})")
                })
        })
    }

    fn stage() -> impl Strategy<Value = String> {
        prop_oneof![
            (
                select(&["|=", "!=", "|~", "!~", "|>", "!>"][..]),
                select(&[r#""a""#, r#""b" or "c""#, r#"ip("::1")"#, r#""x" or ip("10.0.0.1")"#, r#""<_> x""#][..])
            )
                .prop_map(|(op, a)| format!("{op} {a}")),
            select(&["| json", "| json a", "| json a=\"b.c[0]\", d", "| json x=`[\"a b\"]`"][..])
                .prop_map(str::to_owned),
            select(
                &["| logfmt", "| logfmt --strict", "| logfmt --keep-empty --strict", "| logfmt --strict a=\"b\", c"][..]
            )
            .prop_map(str::to_owned),
            select(&["| regexp \"(?P<a>\\\\w+)\"", "| pattern \"<a> <_> b\"", "| unpack", "| decolorize"][..])
                .prop_map(str::to_owned),
            select(STRINGS).prop_map(|s| format!("| line_format {s}")),
            (select(NAMES), select(NAMES), select(STRINGS))
                .prop_map(|(a, b, s)| format!("| label_format {a}={b}, z={s}")),
            (select(&["drop", "keep"][..]), select(NAMES), select(NAMES))
                .prop_map(|(k, a, b)| format!("| {k} {a}, {b}=\"v\"")),
            label_filter().prop_map(|f| format!("| {f}")),
        ]
    }

    fn log_query() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((select(NAMES), select(&["=", "!=", "=~", "!~"][..]), select(STRINGS)), 0..3),
            prop::collection::vec(stage(), 0..4),
        )
            .prop_map(|(ms, stages)| {
                let ms: String = ms.iter().map(|(n, o, s)| format!(", {n}{o}{s}")).collect();
                format!("{{app=\"x\"{ms}}} {}", stages.join(" "))
            })
    }

    fn range_aggregation() -> impl Strategy<Value = String> {
        let unwrap = (
            select(&["x", "bytes(x)", "duration(x)", "duration_seconds(x)", "bytes"][..]),
            prop::option::of(label_filter()),
        )
            .prop_map(|(u, f)| format!("| unwrap {u}{}", f.map(|f| format!(" | {f}")).unwrap_or_default()));
        (
            select(
                &[
                    "count_over_time",
                    "rate",
                    "bytes_rate",
                    "absent_over_time",
                    "sum_over_time",
                    "quantile_over_time",
                    "rate_counter",
                    "max_over_time",
                ][..],
            ),
            log_query(),
            unwrap,
            select(RANGES),
            prop::option::of(select(DURATIONS)),
            0..3usize,
            select(&["", " by (a, b)", " without (c)", " by ()"][..]),
        )
            .prop_map(|(op, sel, unwrap, range, offset, form, grouping)| {
                let lines = matches!(op, "count_over_time" | "bytes_rate" | "rate" | "absent_over_time");
                let u = if lines { "" } else { unwrap.as_str() };
                let off = offset.map(|o| format!(" offset {o}")).unwrap_or_default();
                let lr = match form {
                    0 => format!("{sel} {u} {range}{off}"),
                    1 => format!("({sel} {u}){range}{off}"),
                    _ => format!("{sel} {u} {range}{off}"),
                };
                let param = if op == "quantile_over_time" { "0.9, " } else { "" };
                let g = if matches!(op, "quantile_over_time" | "max_over_time") { grouping } else { "" };
                format!("{op}({param}{lr}){g}")
            })
    }

    pub(super) fn metric_query() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            range_aggregation(),
            select(NUMBERS).prop_map(str::to_owned),
            select(&["vector(1)", "vector(0.5)", "vector(1.23456789)", "vector(1e300)"][..]).prop_map(str::to_owned),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                (
                    select(&["sum", "avg", "count", "max", "topk", "bottomk", "sort"][..]),
                    select(&["", " by (a)", " without (b)", " by ()", " without ()"][..]),
                    inner.clone(),
                    any::<bool>()
                )
                    .prop_map(|(op, g, e, before)| {
                        let p = if matches!(op, "topk" | "bottomk") { "3, " } else { "" };
                        let g = if op == "sort" { "" } else { g };
                        if before { format!("{op}{g} ({p}{e})") } else { format!("{op}({p}{e}){g}") }
                    }),
                (
                    inner.clone(),
                    select(
                        &["+", "-", "*", "/", "%", "^", "==", "!=", ">", ">=", "<", "<=", "or", "and", "unless"][..]
                    ),
                    select(
                        &[
                            "",
                            " bool",
                            " on (a)",
                            " ignoring (b) group_left",
                            " on () group_right (c, d)",
                            " bool ignoring () group_left",
                            " on(x) group_left()"
                        ][..]
                    ),
                    inner.clone(),
                )
                    .prop_map(|(l, op, m, r)| format!("{l} {op}{m} {r}")),
                inner.prop_map(|e| format!("label_replace({e}, \"d\", \"$1\", \"s\", \"(.*)\")")),
            ]
        })
    }

    pub(super) fn query() -> impl Strategy<Value = String> {
        prop_oneof![log_query(), metric_query()]
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..proptest::prelude::ProptestConfig::default() })]

    /// Whatever the grammar fragments build, an accepted query's canonical
    /// text parses to the same tree.
    #[test]
    fn generated_queries_round_trip(query in generated::query()) {
        if let Ok(expr) = parse_expr(&query) {
            round_trip(&query, &expr).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }
}
