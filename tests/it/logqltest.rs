//! Runs Grafana Loki's LogQL script tests (`../shared/conformance/logqltest/*.logqltest`,
//! read in place; syntax in `FORMAT.md` there) against the metric query
//! evaluator: `load` blocks push streams into a fresh engine per `clear`,
//! every `eval` runs as an instant or range query and is compared with the
//! expected vector, matrix, scalar, emptiness or failure. Prints `N passed,
//! N failed` and each failing case (file:line, query, expected vs got).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::logql::eval::metric::{MetricLimits, MetricResult, query_metric};
use lokistore::logql::log::parse_go_duration;
use lokistore::{Entry, Label, Labels, SyncMode, TenantId};

/// The minimum number of passing cases; raise it as the evaluator improves.
const MIN_PASSED: usize = 1095;

/// The script epoch (t=0): 2026-01-01T00:00:00Z, as Loki's runner.
const EPOCH_NS: i64 = 1_767_225_600 * 1_000_000_000;

fn scripts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/logqltest"))
}

/// One entry line of a `load` block, expanded.
struct LoadStream {
    labels: Labels,
    entries: Vec<Entry>,
}

/// Label sets (sorted pairs) with per-step points (`None` = no point).
type Got = Vec<(Vec<(String, String)>, Vec<Option<f64>>)>;

#[derive(Debug, Clone)]
enum Expect {
    Fail {
        msg: Option<String>,
        regex: Option<String>,
    },
    Empty,
    Scalar(f64),
    /// Label sets (sorted) and their points (`None` = gap).
    Series {
        ordered: bool,
        series: Got,
    },
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Instant(i64),
    Range { from: i64, to: i64, step: i64 },
}

struct Case {
    file: String,
    line: usize,
    query: String,
    kind: Kind,
    expect: Result<Expect, String>,
}

enum Cmd {
    Clear,
    Load(Vec<LoadStream>),
    Eval(Box<Case>),
}

/// Drops a `#` comment that is outside `"…"` / `` `…` `` quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

fn duration_ns(s: &str) -> Result<i64, String> {
    parse_go_duration(s.trim()).map_err(|e| format!("bad duration {s:?}: {e}"))
}

/// Splits off the text up to the matching `}` (quotes respected).
fn take_braces(s: &str) -> Result<(&str, &str), String> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == '}' => return Ok((&s[..=i], &s[i + 1..])),
            None => {}
        }
    }
    Err(format!("unterminated {{ in {s:?}"))
}

/// `{a="b", c=""}` to sorted pairs (empty values kept).
fn parse_label_list(s: &str) -> Result<Vec<(String, String)>, String> {
    let inner = s.trim().strip_prefix('{').and_then(|r| r.strip_suffix('}')).ok_or(format!("bad labels {s:?}"))?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(format!("bad labels {s:?}"))?;
        let name = rest[..eq].trim().trim_matches('"').to_owned();
        rest = rest[eq + 1..].trim_start();
        let (value, after) = take_quoted(rest)?;
        out.push((name, value));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    out.sort();
    Ok(out)
}

/// A `"…"` (backslash escapes decoded) or `` `…` `` string at the start of `s`.
fn take_quoted(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else { return Err("expected a quoted string".into()) };
    if q != '"' && q != '`' {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            out.push(match c {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            escaped = false;
        } else if c == '\\' && q == '"' {
            escaped = true;
        } else if c == q {
            return Ok((out, &s[i + 1..]));
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string {s:?}"))
}

/// The raw text of a quoted log line (no unescaping, per FORMAT.md).
fn take_raw_line(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("missing log line")?;
    if q != '"' && q != '`' {
        return Err(format!("expected a quoted log line at {s:?}"));
    }
    let end = s[1..].find(q).ok_or(format!("unterminated log line {s:?}"))? + 1;
    Ok((s[1..end].to_owned(), &s[end + 1..]))
}

fn parse_load_line(line: &str) -> Result<LoadStream, String> {
    let (sel, rest) = take_braces(line.trim())?;
    let pairs = parse_label_list(sel)?;
    let labels = Labels::from_pairs(pairs).map_err(|e| format!("labels {sel}: {e}"))?;
    let (text, rest) = take_raw_line(rest.trim_start())?;
    let rest = rest.trim_start().strip_prefix('@').ok_or(format!("missing @ in {line:?}"))?.trim_start();
    let end = rest.find('[').unwrap_or(rest.len());
    let start = duration_ns(&rest[..end])?;
    let mut rest = &rest[end..];
    let (mut every, mut count) = (0i64, 1usize);
    let mut metadata: Vec<Label> = Vec::new();
    while let Some(r) = rest.trim_start().strip_prefix('[') {
        let close = r.find(']').ok_or(format!("unterminated [ in {line:?}"))?;
        let body = r[..close].trim();
        rest = &r[close + 1..];
        if let Some(b) = body.strip_prefix("repeat every") {
            let (step, n) = b.split_once(" for ").ok_or(format!("bad repeat in {line:?}"))?;
            every = duration_ns(step)?;
            count = n.trim().parse().map_err(|e| format!("bad count in {line:?}: {e}"))?;
        } else if let Some(mut b) = body.strip_prefix("metadata") {
            loop {
                b = b.trim_start();
                if b.is_empty() {
                    break;
                }
                let (name, after) = if b.starts_with('"') {
                    let (n, a) = take_quoted(b)?;
                    (n, a)
                } else {
                    let eq = b.find('=').ok_or(format!("bad metadata in {line:?}"))?;
                    (b[..eq].to_owned(), &b[eq..])
                };
                let after = after.trim_start().strip_prefix('=').ok_or(format!("bad metadata in {line:?}"))?;
                let (value, after) = take_quoted(after.trim_start())?;
                metadata.push(Label::new(name, value));
                b = after;
            }
        } else {
            return Err(format!("unknown [{body}] in {line:?}"));
        }
    }
    metadata.sort_by(|a, b| a.name.cmp(&b.name));
    let entries = (0..count)
        .map(|i| {
            let ts = EPOCH_NS + start + every * i as i64;
            Entry::with_metadata(ts, text.replace("{{.i}}", &i.to_string()), metadata.clone())
        })
        .collect();
    Ok(LoadStream { labels, entries })
}

/// A promqltest point list: `1 _ 2+3x2 NaN -Inf 4x3`.
fn parse_points(tokens: &[&str]) -> Result<Vec<Option<f64>>, String> {
    let num = |s: &str| -> Result<f64, String> {
        match s {
            "Inf" | "+Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => s.parse::<f64>().map_err(|e| format!("bad number {s:?}: {e}")),
        }
    };
    let mut out = Vec::new();
    for t in tokens {
        if *t == "_" {
            out.push(None);
            continue;
        }
        if let Some(x) = t.rfind('x')
            && let Ok(n) = t[x + 1..].parse::<usize>()
        {
            let base = &t[..x];
            let split = base
                .char_indices()
                .skip(1)
                .find(|&(i, c)| (c == '+' || c == '-') && !matches!(base.as_bytes().get(i - 1), Some(b'e' | b'E')));
            let (start, delta) = match split {
                Some((i, _)) => (num(&base[..i])?, num(&base[i..])?),
                None => (num(base)?, 0.0),
            };
            for k in 0..=n {
                out.push(Some(start + delta * k as f64));
            }
            continue;
        }
        out.push(Some(num(t)?));
    }
    Ok(out)
}

fn parse_expect(lines: &[(usize, String)]) -> Result<Expect, String> {
    let mut ordered = false;
    let mut series = Vec::new();
    let mut scalar = None;
    for (_, l) in lines {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("expect fail") {
            let rest = rest.trim();
            let (mut msg, mut regex) = (None, None);
            if let Some(m) = rest.strip_prefix("msg:") {
                msg = Some(m.trim().to_owned());
            } else if let Some(r) = rest.strip_prefix("regex:") {
                regex = Some(r.trim().to_owned());
            }
            return Ok(Expect::Fail { msg, regex });
        }
        if l == "expect empty" {
            return Ok(Expect::Empty);
        }
        if l == "expect ordered" {
            ordered = true;
            continue;
        }
        if l.starts_with("skip ") {
            continue;
        }
        if l.starts_with('{') {
            let (sel, rest) = take_braces(l)?;
            let tokens: Vec<&str> = rest.split_whitespace().collect();
            series.push((parse_label_list(sel)?, parse_points(&tokens)?));
        } else {
            let p = parse_points(&[l])?;
            scalar = p.first().copied().flatten();
        }
    }
    if let Some(v) = scalar
        && series.is_empty()
    {
        return Ok(Expect::Scalar(v));
    }
    if series.is_empty() {
        return Err("eval without expectation".into());
    }
    Ok(Expect::Series { ordered, series })
}

fn parse_eval(file: &str, line_no: usize, head: &str, body: &[(usize, String)]) -> Result<Case, String> {
    let expect = parse_expect(body);
    let (kind, query) = if let Some(r) = head.strip_prefix("eval instant at ") {
        let (t, q) = r.trim_start().split_once(' ').ok_or("missing query")?;
        (Kind::Instant(duration_ns(t)?), q)
    } else if let Some(r) = head.strip_prefix("eval range from ") {
        let (from, r) = r.trim_start().split_once(" to ").ok_or("missing to")?;
        let (to, r) = r.trim_start().split_once(" step ").ok_or("missing step")?;
        let (step, q) = r.trim_start().split_once(' ').ok_or("missing query")?;
        (Kind::Range { from: duration_ns(from)?, to: duration_ns(to)?, step: duration_ns(step)? }, q)
    } else {
        return Err(format!("unknown command {head:?}"));
    };
    Ok(Case { file: file.to_owned(), line: line_no, query: query.trim().to_owned(), kind, expect })
}

fn parse_script(path: &Path) -> Result<Vec<Cmd>, String> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("?").to_owned();
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // Comment-only lines vanish; truly blank lines end blocks.
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim().is_empty() || !strip_comment(l).trim().is_empty())
        .map(|(i, l)| (i + 1, strip_comment(l).trim_end().to_owned()))
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (no, l) = &lines[i];
        i += 1;
        if l.trim().is_empty() || l.starts_with(char::is_whitespace) {
            continue;
        }
        let mut body = Vec::new();
        while i < lines.len() && lines[i].1.starts_with(char::is_whitespace) && !lines[i].1.trim().is_empty() {
            body.push(lines[i].clone());
            i += 1;
        }
        let head = l.trim();
        if head == "clear" {
            cmds.push(Cmd::Clear);
        } else if head == "load" {
            let streams = body
                .iter()
                .map(|(n, b)| parse_load_line(b).map_err(|e| format!("{file}:{n}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            cmds.push(Cmd::Load(streams));
        } else if head.starts_with("eval ") {
            cmds.push(Cmd::Eval(Box::new(
                parse_eval(&file, *no, head, &body).map_err(|e| format!("{file}:{no}: {e}"))?,
            )));
        } else {
            return Err(format!("{file}:{no}: unknown command {head:?}"));
        }
    }
    Ok(cmds)
}

/// promqltest's float comparison.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPS * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPS
}

fn fmt_points(p: &[Option<f64>]) -> String {
    p.iter().map(|v| v.map_or("_".to_owned(), |v| v.to_string())).collect::<Vec<_>>().join(" ")
}

fn fmt_labels(l: &[(String, String)]) -> String {
    let inner: Vec<String> = l.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// The result as label sets and per-step points.
fn got_series(r: &MetricResult, kind: Kind) -> Got {
    let pairs = |l: &[Label]| l.iter().map(|l| (l.name.clone(), l.value.clone())).collect::<Vec<_>>();
    match r {
        MetricResult::Vector(v) => v.iter().map(|s| (pairs(&s.labels), vec![Some(s.value)])).collect(),
        MetricResult::Scalar { value, .. } => vec![(Vec::new(), vec![Some(*value)])],
        MetricResult::Matrix(m) => {
            let Kind::Range { from, to, step } = kind else {
                return m.iter().map(|s| (pairs(&s.labels), s.points.iter().map(|p| Some(p.1)).collect())).collect();
            };
            let times: Vec<i64> =
                (0..).map(|i| from + i * step).take_while(|t| *t <= to).map(|t| (EPOCH_NS + t) / 1_000_000).collect();
            m.iter()
                .map(|s| {
                    let by_t: BTreeMap<i64, f64> = s.points.iter().copied().collect();
                    (pairs(&s.labels), times.iter().map(|t| by_t.get(t).copied()).collect())
                })
                .collect()
        }
    }
}

fn points_equal(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (None, None) => true,
            (Some(x), Some(y)) => almost_equal(*x, *y),
            _ => false,
        })
}

/// `Ok(())` when the case passes, else a description of the difference.
fn check(case: &Case, got: Result<MetricResult, String>) -> Result<(), String> {
    let expect = case.expect.as_ref().map_err(|e| format!("bad expectation: {e}"))?;
    let got = match (expect, got) {
        (Expect::Fail { msg, regex }, Err(e)) => {
            if let Some(m) = msg
                && !e.contains(m.as_str())
            {
                return Err(format!("expected failure containing {m:?}, got error {e:?}"));
            }
            if let Some(r) = regex
                && !regex::Regex::new(r).is_ok_and(|re| re.is_match(&e))
            {
                return Err(format!("expected failure matching /{r}/, got error {e:?}"));
            }
            return Ok(());
        }
        (_, Err(e)) => return Err(format!("unexpected error: {e}")),
        (Expect::Fail { .. }, Ok(r)) => return Err(format!("expected failure, got {r:?}")),
        (_, Ok(r)) => r,
    };
    let series = got_series(&got, case.kind);
    let show = |s: &Got| s.iter().map(|(l, p)| format!("{} {}", fmt_labels(l), fmt_points(p))).collect::<Vec<_>>();
    match expect {
        Expect::Fail { .. } => Ok(()),
        Expect::Empty => {
            if series.is_empty() {
                Ok(())
            } else {
                Err(format!("expected empty, got {:?}", show(&series)))
            }
        }
        Expect::Scalar(v) => match got {
            MetricResult::Scalar { value, .. } if almost_equal(value, *v) => Ok(()),
            other => Err(format!("expected scalar {v}, got {other:?}")),
        },
        Expect::Series { ordered, series: want } => {
            let mismatch = || format!("expected {:?}\n      got {:?}", show(want), show(&series));
            if matches!(case.kind, Kind::Instant(_)) && !matches!(got, MetricResult::Vector(_)) {
                return Err(format!("expected a vector, got {got:?}"));
            }
            if want.len() != series.len() {
                return Err(mismatch());
            }
            if *ordered {
                let ok = want.iter().zip(&series).all(|(w, g)| w.0 == g.0 && points_equal(&w.1, &g.1));
                return if ok { Ok(()) } else { Err(mismatch()) };
            }
            for (labels, points) in want {
                match series.iter().find(|g| &g.0 == labels) {
                    Some(g) if points_equal(points, &g.1) => {}
                    _ => return Err(mismatch()),
                }
            }
            Ok(())
        }
    }
}

fn fresh_engine(dir: &Path) -> Engine {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    Engine::open(c).expect("open engine")
}

#[test]
fn loki_logql_scripts() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scripts_dir())
        .expect("read logqltest dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "logqltest"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .logqltest scripts found");
    let tenant = TenantId::new("logqltest").unwrap();
    // Loki's script runner evaluates without the query frontend's step
    // alignment (its splitting is off there).
    let limits = MetricLimits { align_to_step: false, ..MetricLimits::default() };
    let (mut passed, mut failed) = (0usize, Vec::new());
    for path in &paths {
        let cmds = match parse_script(path) {
            Ok(c) => c,
            Err(e) => panic!("cannot parse {}: {e}", path.display()),
        };
        let mut dir = tempfile::tempdir().unwrap();
        let mut engine = fresh_engine(dir.path());
        for cmd in cmds {
            match cmd {
                Cmd::Clear => {
                    engine.close().ok();
                    dir = tempfile::tempdir().unwrap();
                    engine = fresh_engine(dir.path());
                }
                Cmd::Load(streams) => {
                    let mut by_stream: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
                    for s in streams {
                        by_stream.entry(s.labels).or_default().extend(s.entries);
                    }
                    for (labels, mut entries) in by_stream {
                        entries.sort_by_key(|e| e.timestamp);
                        let r = engine.push(&tenant, vec![PushStream::new(labels.clone(), entries)]).expect("push");
                        if !r.is_complete() {
                            eprintln!("{}: push of {labels} incomplete: {:?}", path.display(), r.streams);
                        }
                    }
                }
                Cmd::Eval(case) => {
                    let got = match case.kind {
                        Kind::Instant(t) => query_metric(
                            &engine,
                            &tenant,
                            &case.query,
                            EPOCH_NS + t,
                            EPOCH_NS + t,
                            Duration::ZERO,
                            &limits,
                        ),
                        Kind::Range { from, to, step } => query_metric(
                            &engine,
                            &tenant,
                            &case.query,
                            EPOCH_NS + from,
                            EPOCH_NS + to,
                            Duration::from_nanos(u64::try_from(step).unwrap_or(0)),
                            &limits,
                        ),
                    };
                    match check(&case, got.map_err(|e| e.to_string())) {
                        Ok(()) => passed += 1,
                        Err(why) => failed.push(format!("{}:{}: {}\n      {why}", case.file, case.line, case.query)),
                    }
                }
            }
        }
    }
    for f in &failed {
        eprintln!("FAILED {f}");
    }
    eprintln!("logqltest: {passed} passed, {} failed", failed.len());
    assert!(passed >= MIN_PASSED, "only {passed} logqltest cases passed (minimum {MIN_PASSED})");
}
