//! Template engine tests: the data-driven cases in
//! `tests/logql/template/cases.txt`.
//!
//! Case file format: blocks separated by blank lines; `#` starts a comment
//! line. Each key is followed by `: ` and a value running to the end of the
//! line; a `-json` suffix (`template-json:`) means the value is a JSON
//! string literal, for escapes and trailing spaces; a `+` suffix
//! (`output+:`) appends a newline and more text to the previous value.
//!
//! | key | meaning |
//! |---|---|
//! | `template:` | the template text (required) |
//! | `name:` | the template name (default `line`; Loki uses `label` for `label_format`) |
//! | `label:` | `name=value`, one label (repeatable) |
//! | `line:` | the log line (`__line__`) |
//! | `ts:` | the entry timestamp in Unix nanoseconds (`__timestamp__`) |
//! | `output:` | the exact output |
//! | `error:` | the exact execution error |
//! | `error-contains:` | a substring of the execution error |
//! | `parse-error:` | the exact parse error |
//! | `parse-error-contains:` | a substring of the parse error |
//! | `limit:` | `yes`: the error must be a limit error |

use std::path::PathBuf;

use lokistore::logql::template::{MapData, Template, TemplateErrorKind};

#[derive(Debug, Default)]
struct Case {
    at: usize,
    template: Option<String>,
    name: Option<String>,
    labels: Vec<(String, String)>,
    line: String,
    ts: i64,
    output: Option<String>,
    error: Option<String>,
    error_contains: Option<String>,
    parse_error: Option<String>,
    parse_error_contains: Option<String>,
    limit: bool,
}

fn value(key: &str, raw: &str, at: usize) -> String {
    if key.ends_with("-json") {
        serde_json::from_str::<String>(raw).unwrap_or_else(|e| panic!("line {at}: bad JSON string {raw:?}: {e}"))
    } else {
        raw.to_owned()
    }
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut cur = Case::default();
    let mut last: Option<String> = None;
    let flush = |cur: &mut Case, cases: &mut Vec<Case>| {
        if cur.template.is_some() {
            cases.push(std::mem::take(cur));
        } else {
            *cur = Case::default();
        }
    };
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        if line.trim().is_empty() {
            flush(&mut cur, &mut cases);
            last = None;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, raw) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
            .unwrap_or_else(|| panic!("line {at}: expected `key: value`, got {line:?}"));
        if cur.template.is_none() && cur.at == 0 {
            cur.at = at;
        }
        if let Some(base) = key.strip_suffix('+') {
            let v = value(base, raw, at);
            let base = base.strip_suffix("-json").unwrap_or(base);
            assert_eq!(last.as_deref(), Some(base), "line {at}: `{key}` must follow `{base}`");
            let slot = match base {
                "template" => &mut cur.template,
                "output" => &mut cur.output,
                "error" => &mut cur.error,
                other => panic!("line {at}: `{other}+` is not supported"),
            };
            if let Some(s) = slot.as_mut() {
                s.push('\n');
                s.push_str(&v);
            }
            continue;
        }
        let v = value(key, raw, at);
        let base = key.strip_suffix("-json").unwrap_or(key);
        match base {
            "template" => cur.template = Some(v),
            "name" => cur.name = Some(v),
            "label" => {
                let (k, val) = v.split_once('=').unwrap_or_else(|| panic!("line {at}: label needs name=value"));
                cur.labels.push((k.to_owned(), val.to_owned()));
            }
            "line" => cur.line = v,
            "ts" => cur.ts = v.parse().unwrap_or_else(|e| panic!("line {at}: bad ts: {e}")),
            "output" => cur.output = Some(v),
            "error" => cur.error = Some(v),
            "error-contains" => cur.error_contains = Some(v),
            "parse-error" => cur.parse_error = Some(v),
            "parse-error-contains" => cur.parse_error_contains = Some(v),
            "limit" => cur.limit = v == "yes",
            other => panic!("line {at}: unknown key `{other}`"),
        }
        last = Some(base.to_owned());
    }
    flush(&mut cur, &mut cases);
    cases
}

fn run(case: &Case) -> Result<(), String> {
    let text = case.template.as_deref().unwrap_or_default();
    let name = case.name.as_deref().unwrap_or("line");
    let parsed = Template::parse_named(name, text);
    if case.parse_error.is_some() || case.parse_error_contains.is_some() {
        let err = match parsed {
            Ok(_) => return Err("parsed, but a parse error was expected".to_owned()),
            Err(e) => e,
        };
        if err.kind() != TemplateErrorKind::Parse {
            return Err(format!("error kind {:?}, want Parse", err.kind()));
        }
        if let Some(want) = &case.parse_error
            && err.message() != want
        {
            return Err(format!("parse error\n   got: {}\n  want: {want}", err.message()));
        }
        if let Some(want) = &case.parse_error_contains
            && !err.message().contains(want.as_str())
        {
            return Err(format!("parse error {:?} does not contain {want:?}", err.message()));
        }
        return Ok(());
    }
    let tmpl = parsed.map_err(|e| format!("parse error: {e}"))?;
    let data = MapData::new(case.labels.iter().cloned()).with_line(case.line.clone()).with_timestamp(case.ts);
    let mut out = String::from("prefix:");
    let result = tmpl.execute(&data, &mut out);
    match (&case.output, result) {
        (Some(want), Ok(())) => {
            let got = out.strip_prefix("prefix:").unwrap_or(&out);
            if got != want {
                return Err(format!("output\n   got: {got:?}\n  want: {want:?}"));
            }
            Ok(())
        }
        (Some(_), Err(e)) => Err(format!("unexpected error: {e}")),
        (None, Ok(())) => Err(format!("expected an error, got output {out:?}")),
        (None, Err(e)) => {
            if out != "prefix:" {
                return Err(format!("output not restored after an error: {out:?}"));
            }
            if let Some(want) = &case.error
                && e.message() != want
            {
                return Err(format!("error\n   got: {}\n  want: {want}", e.message()));
            }
            if let Some(want) = &case.error_contains
                && !e.message().contains(want.as_str())
            {
                return Err(format!("error {:?} does not contain {want:?}", e.message()));
            }
            let want_kind = if case.limit { TemplateErrorKind::Limit } else { TemplateErrorKind::Exec };
            if e.kind() != want_kind {
                return Err(format!("error kind {:?}, want {want_kind:?}: {e}", e.kind()));
            }
            Ok(())
        }
    }
}

#[test]
fn template_cases() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logql/template/cases.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = parse_cases(&text);
    assert!(cases.len() > 300, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expectations = [
            case.output.is_some(),
            case.error.is_some() || case.error_contains.is_some(),
            case.parse_error.is_some() || case.parse_error_contains.is_some(),
        ];
        if expectations.iter().filter(|&&b| b).count() != 1 {
            failures.push(format!("line {}: needs exactly one of output / error / parse-error", case.at));
            continue;
        }
        if let Err(e) = run(case) {
            failures.push(format!("line {}: {:?}\n  {e}", case.at, case.template.as_deref().unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Loki's `RequiredLabelNames` and its `{{.name}}` fast path.
#[test]
fn required_labels_and_simple_field() {
    let names = |t: &str| Template::parse(t).map(|t| t.required_label_names().join(",")).unwrap_or_default();
    assert_eq!(names("{{.foo}} and {{.bar}}"), "foo,bar");
    assert_eq!(names("{{ .foo | ToUpper | .buzz }} and {{.bar}}"), "foo,buzz,bar");
    assert_eq!(names(r#"{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}"#), "foo");
    assert_eq!(
        names(r#"{{ if  .foo | hasSuffix "Ip" }} {{.bar}} {{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}}"#),
        "foo,bar"
    );
    assert_eq!(names(r#"{{with .foo}}{{printf "%q" .}} {{end}}"#), "foo");
    assert_eq!(names(r#"{{with .foo}}{{printf "%q" .}} {{else}} {{ .buzz | lower }} {{end}}"#), "foo,buzz");
    let simple = |t: &str| Template::parse(t).ok().and_then(|t| t.simple_field().map(str::to_owned));
    assert_eq!(simple("{{.foo}}").as_deref(), Some("foo"));
    assert_eq!(simple("{{ .foo }}").as_deref(), Some("foo"));
    assert_eq!(simple("{{.foo}}  "), None);
    assert_eq!(simple("{{.foo.bar}}"), None);
    assert_eq!(simple("{{.foo | upper}}"), None);
}

/// A template is parsed once and executed many times; executions are
/// independent (variables, output).
#[test]
fn reuse_and_threads() {
    let tmpl = Template::parse(r#"{{ $n := len . }}{{ .a }}:{{ $n }}"#).expect("parses");
    let mut out = String::new();
    for i in 0..100 {
        out.clear();
        let data = MapData::new([("a", i.to_string())]);
        tmpl.execute(&data, &mut out).expect("runs");
        assert_eq!(out, format!("{i}:1"));
    }
    let tmpl = std::sync::Arc::new(tmpl);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let tmpl = tmpl.clone();
            std::thread::spawn(move || {
                let mut out = String::new();
                tmpl.execute(&MapData::new([("a", t.to_string())]), &mut out).map(|_| out)
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().expect("thread").expect("runs"), format!("{t}:1"));
    }
}

/// Hostile templates end with an error, not a crash or a hang.
#[test]
fn hostile_templates() {
    let huge = [
        r#"{{ repeat 2000000000 "abc" }}"#,
        r#"{{ range 100000000 }}{{ end }}"#,
        r#"{{ printf "%10000000d" 1 }}{{ printf "%10000000d" 1 }}"#,
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#,
        r#"{{ $s := "xxxxxxxxxxxxxxxx" }}{{ range 30 }}{{ $s = print $s $s }}{{ end }}{{ $s }}"#,
        r#"{{ alignLeft 1000000000 "x" }}"#,
        r#"{{ indent 100000 (repeat 1000 "\n") }}"#,
        r#"{{ Replace (repeat 100000 "a") "" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" -1 }}"#,
        r#"{{ regexReplaceAll "a" (repeat 100000 "a") (repeat 50 "$0") }}"#,
    ];
    for t in huge {
        let tmpl = Template::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        let mut out = String::new();
        let err = tmpl.execute(&MapData::default(), &mut out).expect_err(t);
        assert_eq!(err.kind(), TemplateErrorKind::Limit, "{t}: {err}");
        assert!(out.is_empty());
    }
    // Deep nesting is refused when parsing.
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(Template::parse(&deep).is_err());
    let deep = "{{ if 1 }}".repeat(10_000);
    assert!(Template::parse(&deep).is_err());
    let deep = format!("{}{}", "{{ with 1 }}".repeat(99), "{{ end }}".repeat(99));
    Template::parse(&deep).expect("99 levels parse").execute(&MapData::default(), &mut String::new()).expect("runs");
}

mod fuzz {
    use lokistore::logql::template::{MapData, Template};
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        " ",
        "\n",
        "(",
        ")",
        "|",
        ".",
        ".a",
        ".b.c",
        "$",
        "$x",
        "$x := ",
        "$x = ",
        ",",
        "if ",
        "else ",
        "else if ",
        "end",
        "range ",
        "with ",
        "break",
        "continue",
        "define \"t\"",
        "template \"t\"",
        "block \"b\" .",
        "nil",
        "true",
        "1",
        "-2",
        "1.5",
        "1e400",
        "0x1F",
        "'a'",
        "\"s\"",
        "`r`",
        "\"%5.2f %d %s %v\"",
        "printf ",
        "print ",
        "len ",
        "index ",
        "slice ",
        "eq ",
        "lt ",
        "and ",
        "or ",
        "not ",
        "html ",
        "js ",
        "call ",
        "upper ",
        "repeat ",
        "substr ",
        "trunc ",
        "add ",
        "divf ",
        "round ",
        "fromJson ",
        "toDate ",
        "date ",
        "default ",
        "regexReplaceAll ",
        "count ",
        "\"(\"",
        "\"a*\"",
        "b64dec ",
        "urldecode ",
        "alignLeft ",
        "__timestamp__",
        "__line__",
        ".Unix",
        ".Format",
        "unixToTime ",
        "duration ",
        "bytes ",
        "text",
        "/*",
        "*/",
        "{{/* c */}}",
    ];

    const INNER: &[&str] = &[
        ".",
        ".a",
        ".b",
        ".s",
        "$",
        "(fromJson .b)",
        "(fromJson .b).c",
        "1",
        "-1",
        "0",
        "2.5",
        "\"x\"",
        "\"\"",
        "nil",
        "true",
        "'a'",
        "9223372036854775807",
        "|",
        "printf",
        "\"%v %d %s %q %x %.2f %5s %T\"",
        "print",
        "println",
        "len",
        "index",
        "slice",
        "eq",
        "ne",
        "lt",
        "ge",
        "and",
        "or",
        "not",
        "html",
        "js",
        "urlquery",
        "call",
        "ToUpper",
        "Replace",
        "Trim",
        "TrimPrefix",
        "regexReplaceAll",
        "count",
        "\"a+\"",
        "urlencode",
        "urldecode",
        "bytes",
        "duration",
        "unixEpochMillis",
        "toDateInZone",
        "\"2006-01-02\"",
        "\"UTC\"",
        "unixToTime",
        "alignLeft",
        "alignRight",
        "b64dec",
        "__line__",
        "__timestamp__",
        "__timestamp__.Unix",
        "__timestamp__.Month",
        "b64enc",
        "title",
        "trunc",
        "substr",
        "contains",
        "indent",
        "nindent",
        "replace",
        "repeat",
        "trimAll",
        "int",
        "float64",
        "add",
        "sub",
        "mul",
        "div",
        "mod",
        "addf",
        "subf",
        "mulf",
        "divf",
        "max",
        "min",
        "maxf",
        "minf",
        "ceil",
        "floor",
        "round",
        "fromJson",
        "date",
        "toDate",
        "now",
        "unixEpoch",
        "default",
    ];

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000),
            ..ProptestConfig::default()
        })]

        /// Arbitrary token soups parse or fail cleanly, and execute or fail
        /// cleanly, leaving the output untouched on error.
        #[test]
        fn never_panics(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..24)) {
            let text: String = pieces.concat();
            if let Ok(t) = Template::parse(&text) {
                let data = MapData::new([("a", "1"), ("b", "{\"c\":[1,null]}"), ("x", "")])
                    .with_line("line")
                    .with_timestamp(1_700_000_000_123_456_789);
                let mut out = String::from("keep");
                if t.execute(&data, &mut out).is_err() {
                    prop_assert_eq!(out, "keep");
                }
            }
        }

        /// Actions built from function names and operands, so that many
        /// parse and run.
        #[test]
        fn actions_never_panic(
            actions in prop::collection::vec(prop::collection::vec(prop::sample::select(INNER), 1..7), 1..5)
        ) {
            let text: String = actions.iter().map(|a| format!("{{{{ {} }}}}", a.join(" "))).collect();
            if let Ok(t) = Template::parse(&text) {
                let data = MapData::new([("a", "1"), ("b", "{\"c\":[1,null]}"), ("s", "héllo")])
                    .with_line("line")
                    .with_timestamp(-1);
                let mut out = String::new();
                let _ = t.execute(&data, &mut out);
            }
        }

        /// Arbitrary bytes as templates.
        #[test]
        fn arbitrary_text(text in "\\PC{0,64}") {
            if let Ok(t) = Template::parse(&text) {
                let _ = t.execute(&MapData::default(), &mut String::new());
            }
        }
    }
}

/// The deepest template the limits allow runs on a 2 MiB stack (Rust's
/// default for spawned threads) even in debug builds.
#[test]
fn deepest_template_fits_a_small_stack() {
    let inner = format!("{}printf \"%v\" 1{}", "(".repeat(99), ")".repeat(99));
    let text = format!(
        "{{{{ define \"t\" }}}}{}{{{{ {inner} }}}}{}{{{{ end }}}}{{{{ template \"t\" . }}}}",
        "{{ with 1 }}".repeat(98),
        "{{ end }}".repeat(98)
    );
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let tmpl = Template::parse(&text).map_err(|e| e.to_string())?;
            let mut out = String::new();
            tmpl.execute(&MapData::default(), &mut out).map_err(|e| e.to_string())?;
            Ok::<_, String>(out)
        })
        .expect("spawn");
    assert_eq!(handle.join().expect("no stack overflow"), Ok("1".to_owned()));
}
