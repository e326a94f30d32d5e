//! Data-driven log query tests: `tests/logql/pipeline/*.txt`, each a list
//! of cases with streams, entries, a query and the expected output
//! streams (or an error), run through an engine and the LogQL evaluator.
//!
//! Case format (one directive per line; `#` starts a comment line):
//!
//! ```text
//! === name of the case
//! stream: {app="a", env="prod"}          starts a stream; entries follow
//! entry: 10 level=error msg=x            timestamp (ns), one space, the line
//! entry[trace_id=abc,user=u1]: 11 text   the same with structured metadata
//! query: {app="a"} | logfmt              the query
//! direction: backward                    optional (default forward)
//! limit: 2                               optional (default 0 = none)
//! expect: {app="a", level="error"} 10 level=error msg=x
//! error: substring of the error message  instead of expect lines
//! ```
//!
//! Expected streams are compared order-insensitively across streams and
//! exactly within a stream (as `expect` lines list them, in query order).
//! A case with neither `expect` nor `error` expects no output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::logql::eval::query_logs;
use lokistore::{Direction, Entry, Label, Labels, SyncMode, TenantId};

#[derive(Debug, Default)]
struct Case {
    name: String,
    file: String,
    streams: Vec<(Labels, Vec<Entry>)>,
    query: String,
    direction: Option<Direction>,
    limit: usize,
    expect: Vec<(String, i64, String)>,
    error: Option<String>,
}

fn parse_cases(path: &PathBuf) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut cases: Vec<Case> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{file}:{}", n + 1);
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case { name: name.to_owned(), file: file.clone(), ..Default::default() });
            continue;
        }
        let case = cases.last_mut().unwrap_or_else(|| panic!("{}: directive before the first case", at()));
        let (key, value) = line.split_once(": ").unwrap_or_else(|| panic!("{}: expected `key: value`", at()));
        match key {
            "stream" => case.streams.push((value.parse().unwrap_or_else(|e| panic!("{}: {e}", at())), Vec::new())),
            "query" => case.query = value.to_owned(),
            "direction" => {
                case.direction = Some(if value == "backward" { Direction::Backward } else { Direction::Forward })
            }
            "limit" => case.limit = value.parse().unwrap(),
            "error" => case.error = Some(value.to_owned()),
            "expect" => {
                // `{labels} ts line`: the labels end at the first `} ` outside quotes.
                let end = label_end(value).unwrap_or_else(|| panic!("{}: bad expect labels", at()));
                let (labels, rest) = value.split_at(end + 1);
                let (ts, text) = rest.trim_start().split_once(' ').unwrap_or((rest.trim_start(), ""));
                case.expect.push((labels.to_owned(), ts.parse().unwrap(), text.to_owned()));
            }
            k if k.starts_with("entry") => {
                let mut md: Vec<Label> = Vec::new();
                if let Some(spec) = k.strip_prefix("entry[").and_then(|s| s.strip_suffix(']')) {
                    for kv in spec.split(',') {
                        let (a, b) = kv.split_once('=').unwrap();
                        md.push(Label::new(a, b));
                    }
                    md.sort_by(|a, b| a.name.cmp(&b.name));
                }
                let (ts, text) = value.split_once(' ').unwrap_or((value, ""));
                let entry = Entry::with_metadata(ts.parse().unwrap(), text.to_owned(), md);
                case.streams.last_mut().unwrap_or_else(|| panic!("{}: entry before stream", at())).1.push(entry);
            }
            other => panic!("{}: unknown directive {other}", at()),
        }
    }
    cases
}

/// Index of the `}` closing a label set written as `{a="b", ...}`.
fn label_end(s: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '}' if !in_str => return Some(i),
            _ => {}
        }
    }
    None
}

/// Label text as the evaluator prints output streams: `{a="b", c=""}`.
fn canonical(labels: &str) -> String {
    // Parse loosely: `name="value"` pairs, values may be empty.
    let inner = labels.trim().trim_start_matches('{').trim_end_matches('}');
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("name=value");
        let after = after.trim_start();
        let body = after.strip_prefix('"').expect("quoted value");
        let mut end = 0;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = i;
                break;
            }
        }
        pairs.push((name.trim().to_owned(), body[..end].to_owned()));
        rest = body[end + 1..].trim_start().trim_start_matches(',').trim_start();
    }
    pairs.sort();
    let items: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
    format!("{{{}}}", items.join(", "))
}

#[test]
fn pipeline_cases() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/logql/pipeline"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let tenant = TenantId::new("t").unwrap();
    let (mut passed, mut failed) = (0, Vec::new());
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "txt")) {
        for case in parse_cases(f) {
            let tmp = tempfile::tempdir().unwrap();
            let mut c = EngineConfig::new(tmp.path());
            c.wal.sync = SyncMode::Never;
            c.limits.creation_grace_period = None;
            let engine = Engine::open(c).unwrap();
            let push: Vec<PushStream> =
                case.streams.iter().map(|(l, e)| PushStream::new(l.clone(), e.clone())).collect();
            let res = engine.push(&tenant, push).unwrap();
            assert!(res.is_complete(), "{} / {}: {res}", case.file, case.name);
            let direction = case.direction.unwrap_or(Direction::Forward);
            let got = query_logs(&engine, &tenant, &case.query, 0, 1_000_000_000_000, direction, case.limit);
            let outcome = match (&case.error, got) {
                (Some(want), Err(e)) => {
                    let msg = e.to_string();
                    if msg.contains(want.as_str()) { Ok(()) } else { Err(format!("error {msg:?} lacks {want:?}")) }
                }
                (Some(want), Ok(_)) => Err(format!("expected an error containing {want:?}, got a result")),
                (None, Err(e)) => Err(format!("unexpected error: {e}")),
                (None, Ok(r)) => {
                    let mut want: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
                    for (l, ts, line) in &case.expect {
                        want.entry(canonical(l)).or_default().push((*ts, line.clone()));
                    }
                    let ours: BTreeMap<String, Vec<(i64, String)>> = r
                        .streams
                        .iter()
                        .map(|s| {
                            let v =
                                s.entries.iter().map(|(t, l)| (*t, String::from_utf8_lossy(l).into_owned())).collect();
                            (canonical(&s.label_string), v)
                        })
                        .collect();
                    if want == ours { Ok(()) } else { Err(format!("\n  want {want:?}\n  got  {ours:?}")) }
                }
            };
            match outcome {
                Ok(()) => passed += 1,
                Err(why) => failed.push(format!("{} / {}: {why}", case.file, case.name)),
            }
        }
    }
    eprintln!("LogQL pipeline cases: {passed} passed, {} failed", failed.len());
    for f in &failed {
        eprintln!("  FAILED {f}");
    }
    assert!(failed.is_empty(), "{} pipeline cases failed", failed.len());
    assert!(passed > 0);
}
