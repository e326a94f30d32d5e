//! A log pipeline compiled once per query from its [`Stage`]s, then run
//! line by line (`../shared/spec/logql.md` §3.2-§3.8).
//!
//! Compilation applies Loki's stage order: within each run of stages
//! delimited by a label filter, a `line_format` or an `unpack` (the stages
//! that read labels or change the line), every line filter moves to the
//! front, combined into one filter (cheapest test first). So `| json |= "x"`
//! filters before parsing.
//!
//! Per line, [`Pipeline::process`] works on a [`LabelsBuilder`] the caller
//! owns per stream (reset per line) and returns the possibly rewritten line;
//! `None` drops it. The buffers for rewritten lines and template output are
//! owned by the pipeline and reused.

use std::fmt;

use super::EvalError;
use crate::logql::ast::{self, LabelFilter, LabelFormat, NamedMatcher, Stage};
use crate::logql::log::{
    self, Decolorizer, ErrorKind, JsonExpressionParser, JsonParser, LabelsBuilder, LineFilter, LineFilterArg,
    LineFilterOp, LogfmtExpressionParser, LogfmtParser, PatternParser, RegexpParser, StageError, UnpackParser,
};
use crate::logql::template::{Template, TemplateData};

/// A compiled label filter.
#[derive(Debug)]
enum CLabelFilter {
    Matcher(crate::index::Matcher),
    /// `=~` / `!~`: Loki anchors label-filter regexes as `^(?:re)$`
    /// without the dot-matches-newline flag stream matchers get.
    Regex(String, regex::Regex, bool),
    Number(String, log::CmpOp, f64),
    Duration(String, log::CmpOp, i64),
    Bytes(String, log::CmpOp, u64),
    Ip(String, log::IpMatcher, bool),
    And(Vec<CLabelFilter>),
    Or(Vec<CLabelFilter>),
}

#[derive(Debug)]
enum CLabelFormat {
    Rename { dst: String, src: String },
    Template { dst: String, template: Template },
}

/// Early rejection for a parser directly followed by a label filter:
/// `(name, filter)` pairs meaning "once the parser has set `name` to a
/// value `filter` rejects, the label filter will drop the line". Only
/// parsers where the first value set for a name is final (`logfmt` and
/// `json` without arguments: first writer wins) use them, and only
/// filters whose verdict on a present label depends on its value alone
/// (not on `__error__`), so dropping the line at that point gives the
/// answer the full run would: the line is dropped either way, and what
/// the parser would have added to it is never seen.
type EarlyChecks = Vec<(String, CLabelFilter)>;

#[derive(Debug)]
enum CStage {
    Filter(LineFilter),
    Logfmt(LogfmtParser, EarlyChecks),
    LogfmtExpr(LogfmtExpressionParser),
    Json(JsonParser, EarlyChecks),
    JsonExpr(JsonExpressionParser),
    Regexp(RegexpParser),
    Pattern(PatternParser),
    Unpack(UnpackParser),
    LabelFilter(CLabelFilter),
    LineFormat(Template),
    LabelFormat(Vec<CLabelFormat>),
    Decolorize(Decolorizer),
    Drop(Vec<NamedMatcher>),
    Keep(Vec<NamedMatcher>),
}

/// A compiled pipeline. Not shared between threads: each worker compiles
/// its own (compilation is cheap next to a chunk's worth of lines).
pub struct Pipeline {
    stages: Vec<CStage>,
    line: Vec<u8>,
    spare: Vec<u8>,
    text: String,
    snapshot: Vec<(String, String)>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline").field("stages", &self.stages.len()).finish_non_exhaustive()
    }
}

/// Loki's stage order: line filters hoisted to the front of each run of
/// stages that ends at a label filter, `line_format` or `unpack`.
fn reorder(stages: &[Stage]) -> Vec<Vec<&Stage>> {
    // Each element is either one combined group of line filters or a
    // single other stage.
    let mut out: Vec<Vec<&Stage>> = Vec::new();
    let mut filters: Vec<&Stage> = Vec::new();
    let mut others: Vec<&Stage> = Vec::new();
    fn flush<'a>(out: &mut Vec<Vec<&'a Stage>>, filters: &mut Vec<&'a Stage>, others: &mut Vec<&'a Stage>) {
        if !filters.is_empty() {
            out.push(std::mem::take(filters));
        }
        out.extend(others.drain(..).map(|s| vec![s]));
    }
    for s in stages {
        match s {
            Stage::LabelFilter(_) => {
                flush(&mut out, &mut filters, &mut others);
                out.push(vec![s]);
            }
            Stage::LineFilter(_) => filters.push(s),
            Stage::LineFormat(_) | Stage::Unpack => {
                others.push(s);
                flush(&mut out, &mut filters, &mut others);
            }
            _ => others.push(s),
        }
    }
    flush(&mut out, &mut filters, &mut others);
    out
}

fn cmp(op: ast::CmpOp) -> log::CmpOp {
    match op {
        ast::CmpOp::Eq => log::CmpOp::Eq,
        ast::CmpOp::Ne => log::CmpOp::Ne,
        ast::CmpOp::Gt => log::CmpOp::Gt,
        ast::CmpOp::Ge => log::CmpOp::Ge,
        ast::CmpOp::Lt => log::CmpOp::Lt,
        ast::CmpOp::Le => log::CmpOp::Le,
    }
}

fn compile_line_filter(f: &ast::LineFilter) -> Result<LineFilter, EvalError> {
    let op = match f.op {
        ast::LineFilterOp::Contains => LineFilterOp::Contains,
        ast::LineFilterOp::NotContains => LineFilterOp::NotContains,
        ast::LineFilterOp::Regex => LineFilterOp::Regex,
        ast::LineFilterOp::NotRegex => LineFilterOp::NotRegex,
        ast::LineFilterOp::Pattern => LineFilterOp::Pattern,
        ast::LineFilterOp::NotPattern => LineFilterOp::NotPattern,
    };
    let args: Vec<LineFilterArg<'_>> = f
        .args
        .iter()
        .map(|a| match a {
            ast::LineFilterArg::Text(s) => LineFilterArg::Text(s),
            ast::LineFilterArg::Ip(ip) => LineFilterArg::Ip(&ip.pattern),
        })
        .collect();
    Ok(LineFilter::new(op, &args)?)
}

fn compile_label_filter(f: &LabelFilter) -> Result<CLabelFilter, EvalError> {
    Ok(match f {
        LabelFilter::Matcher(m) if matches!(m.op(), ast::MatchOp::Regex | ast::MatchOp::NotRegex) => {
            let re = regex::Regex::new(&format!("^(?:{})$", m.value()))
                .map_err(|e| StageError::Regex { message: e.to_string() })?;
            CLabelFilter::Regex(m.name().to_owned(), re, m.op() == ast::MatchOp::NotRegex)
        }
        LabelFilter::Matcher(m) => CLabelFilter::Matcher(m.clone()),
        LabelFilter::Number { name, op, value } => CLabelFilter::Number(name.clone(), cmp(*op), *value),
        LabelFilter::Duration { name, op, value } => CLabelFilter::Duration(name.clone(), cmp(*op), value.as_nanos()),
        LabelFilter::Bytes { name, op, value } => CLabelFilter::Bytes(name.clone(), cmp(*op), *value),
        LabelFilter::Ip { name, negated, filter } => {
            CLabelFilter::Ip(name.clone(), log::IpMatcher::new(&filter.pattern)?, *negated)
        }
        LabelFilter::And(v) => CLabelFilter::And(v.iter().map(compile_label_filter).collect::<Result<_, _>>()?),
        LabelFilter::Or(v) => CLabelFilter::Or(v.iter().map(compile_label_filter).collect::<Result<_, _>>()?),
    })
}

fn compile_stage(s: &Stage) -> Result<CStage, EvalError> {
    Ok(match s {
        Stage::LineFilter(f) => CStage::Filter(compile_line_filter(f)?),
        Stage::Logfmt(p) if p.extractions.is_empty() => {
            CStage::Logfmt(LogfmtParser::new(p.strict, p.keep_empty), EarlyChecks::new())
        }
        Stage::Logfmt(p) => {
            let exprs: Vec<(String, String)> = p.extractions.iter().map(|e| (e.label.clone(), e.key.clone())).collect();
            CStage::LogfmtExpr(LogfmtExpressionParser::new(&exprs, p.strict)?)
        }
        Stage::Json(p) if p.extractions.is_empty() => CStage::Json(JsonParser::new(), EarlyChecks::new()),
        Stage::Json(p) => {
            let exprs: Vec<(&str, &str)> = p.extractions.iter().map(|e| (e.label.as_str(), e.expr.as_str())).collect();
            CStage::JsonExpr(JsonExpressionParser::parse(&exprs)?)
        }
        Stage::Regexp(re) => CStage::Regexp(RegexpParser::new(re)?),
        Stage::Pattern(p) => CStage::Pattern(PatternParser::new(&p.pattern)?),
        Stage::Unpack => CStage::Unpack(UnpackParser::new()),
        Stage::LabelFilter(f) => CStage::LabelFilter(compile_label_filter(f)?),
        Stage::LineFormat(t) => CStage::LineFormat(Template::parse(t)?),
        Stage::LabelFormat(items) => CStage::LabelFormat(
            items
                .iter()
                .map(|i| {
                    Ok(match i {
                        LabelFormat::Rename { dst, src } => CLabelFormat::Rename { dst: dst.clone(), src: src.clone() },
                        LabelFormat::Template { dst, template } => CLabelFormat::Template {
                            dst: dst.clone(),
                            template: Template::parse_named("label", template)?,
                        },
                    })
                })
                .collect::<Result<_, EvalError>>()?,
        ),
        Stage::Decolorize => CStage::Decolorize(Decolorizer::new()),
        Stage::Drop(m) => CStage::Drop(m.clone()),
        Stage::Keep(m) => CStage::Keep(m.clone()),
    })
}

impl Pipeline {
    /// Compiles `stages` (in written order).
    pub fn new(stages: &[Stage]) -> Result<Self, EvalError> {
        let mut out = Vec::new();
        let groups = reorder(stages);
        for (k, group) in groups.iter().enumerate() {
            if group.len() > 1 || matches!(group.first(), Some(Stage::LineFilter(_))) {
                let mut fs = Vec::with_capacity(group.len());
                for s in group {
                    if let Stage::LineFilter(f) = s {
                        fs.push(compile_line_filter(f)?);
                    }
                }
                out.push(CStage::Filter(if fs.len() == 1 { fs.remove(0) } else { LineFilter::all(fs) }));
            } else if let Some(s) = group.first() {
                let mut stage = compile_stage(s)?;
                if let CStage::Logfmt(_, early) | CStage::Json(_, early) = &mut stage
                    && let Some([Stage::LabelFilter(f)]) = groups.get(k + 1).map(Vec::as_slice)
                {
                    for (name, f) in early_checks(f) {
                        early.push((name.to_owned(), compile_label_filter(f)?));
                    }
                }
                out.push(stage);
            }
        }
        Ok(Self { stages: out, line: Vec::new(), spare: Vec::new(), text: String::new(), snapshot: Vec::new() })
    }

    /// True when the pipeline has no stage.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// True when no stage reads or writes labels (only line filters), so
    /// the output labels are the stream's.
    pub fn only_line_filters(&self) -> bool {
        self.stages.iter().all(|s| matches!(s, CStage::Filter(_)))
    }

    /// The line filter that runs first, if the pipeline starts with one:
    /// it can be applied to raw lines before any label work.
    pub fn leading_filter(&self) -> Option<&LineFilter> {
        match self.stages.first() {
            Some(CStage::Filter(f)) => Some(f),
            _ => None,
        }
    }

    /// Runs the stages over one line. `builder` must have been reset and
    /// given the entry's structured metadata. Returns the output line, or
    /// `None` when a stage drops it.
    pub fn process<'a>(&'a mut self, builder: &mut LabelsBuilder, ts: i64, line: &'a [u8]) -> Option<&'a [u8]> {
        self.process_from(0, builder, ts, line)
    }

    /// [`process`](Self::process) for a line that already passed the
    /// [`leading_filter`](Self::leading_filter) (the caller applied it to
    /// the raw line): the filter is not run again.
    pub fn process_after_leading<'a>(
        &'a mut self,
        builder: &mut LabelsBuilder,
        ts: i64,
        line: &'a [u8],
    ) -> Option<&'a [u8]> {
        let skip = usize::from(self.leading_filter().is_some());
        self.process_from(skip, builder, ts, line)
    }

    fn process_from<'a>(
        &'a mut self,
        skip: usize,
        builder: &mut LabelsBuilder,
        ts: i64,
        line: &'a [u8],
    ) -> Option<&'a [u8]> {
        let Pipeline { stages, line: buf, spare, text, snapshot } = self;
        let mut rewritten = false;
        for stage in stages.iter_mut().skip(skip) {
            let cur: &[u8] = if rewritten { buf } else { line };
            match stage {
                CStage::Filter(f) => {
                    if !f.matches(cur) {
                        return None;
                    }
                }
                CStage::Logfmt(p, early) if !early.is_empty() => {
                    if !p.process_watched(cur, builder, &mut |n, v| rejects_early(early, n, v)) {
                        return None;
                    }
                }
                CStage::Logfmt(p, _) => p.process(cur, builder),
                CStage::LogfmtExpr(p) => p.process(cur, builder),
                CStage::Json(p, early) if !early.is_empty() => {
                    if !p.process_watched(cur, builder, &mut |n, v| rejects_early(early, n, v)) {
                        return None;
                    }
                }
                CStage::Json(p, _) => p.process(cur, builder),
                CStage::JsonExpr(p) => p.process(cur, builder),
                CStage::Regexp(p) => p.process(cur, builder),
                CStage::Pattern(p) => p.process(cur, builder),
                CStage::Unpack(p) => {
                    if let Some(new) = p.process(cur, builder) {
                        spare.clear();
                        spare.extend_from_slice(new);
                        std::mem::swap(buf, spare);
                        rewritten = true;
                    }
                }
                CStage::Decolorize(d) => {
                    if let Some(new) = d.process(cur) {
                        spare.clear();
                        spare.extend_from_slice(new);
                        std::mem::swap(buf, spare);
                        rewritten = true;
                    }
                }
                CStage::LabelFilter(f) => {
                    if !eval_label_filter(f, builder) {
                        return None;
                    }
                }
                CStage::LineFormat(t) => {
                    text.clear();
                    let result = {
                        let line_text = String::from_utf8_lossy(cur);
                        let data = BuilderData { builder, line: &line_text, ts, all: std::cell::OnceCell::new() };
                        t.execute(&data, text)
                    };
                    match result {
                        Ok(()) => {
                            spare.clear();
                            spare.extend_from_slice(text.as_bytes());
                            std::mem::swap(buf, spare);
                            rewritten = true;
                        }
                        Err(e) => builder.set_error(ErrorKind::TemplateFormat, Some(&e.to_string())),
                    }
                }
                CStage::LabelFormat(items) => {
                    let line_text = String::from_utf8_lossy(cur);
                    label_format(items, builder, &line_text, ts, text, snapshot);
                }
                CStage::Drop(ms) => builder.drop_where(|n, v| ms.iter().any(|m| named_matches(m, n, v))),
                CStage::Keep(ms) => builder.keep_where(|n, v| ms.iter().any(|m| named_matches(m, n, v))),
            }
        }
        Some(if rewritten { buf } else { line })
    }
}

/// The label a filter reads, when its verdict on a present label depends
/// on that label's value alone: string, regex and converting filters (not
/// `ip()`, which passes lines with an error), not on the error labels
/// (they read the error fields, which parsers do not set through labels);
/// `and` / `or` of such filters on one label.
fn single_label(f: &LabelFilter) -> Option<&str> {
    let name = match f {
        LabelFilter::Matcher(m) => m.name(),
        LabelFilter::Number { name, .. } | LabelFilter::Duration { name, .. } | LabelFilter::Bytes { name, .. } => {
            name.as_str()
        }
        LabelFilter::Ip { .. } => return None,
        LabelFilter::And(v) | LabelFilter::Or(v) => {
            let first = single_label(v.first()?)?;
            return v.iter().all(|f| single_label(f) == Some(first)).then_some(first);
        }
    };
    (name != log::ERROR_LABEL && name != log::ERROR_DETAILS_LABEL).then_some(name)
}

/// The early checks of a label filter (see [`EarlyChecks`]): the filter
/// itself when it reads one label; for an `and`, each operand's (any
/// operand rejecting rejects the line).
fn early_checks(f: &LabelFilter) -> Vec<(&str, &LabelFilter)> {
    if let Some(name) = single_label(f) {
        return vec![(name, f)];
    }
    match f {
        LabelFilter::And(v) => v.iter().flat_map(early_checks).collect(),
        _ => Vec::new(),
    }
}

/// Whether one of `checks` on label `name` rejects `value`.
fn rejects_early(checks: &EarlyChecks, name: &str, value: &str) -> bool {
    checks.iter().any(|(n, f)| n == name && rejects(f, value))
}

/// Whether filter `f` (reading one label, see [`single_label`]) drops a
/// line whose label has the value `v`. Conversion failures keep the line.
fn rejects(f: &CLabelFilter, v: &str) -> bool {
    match f {
        CLabelFilter::Matcher(m) => !m.matches(v),
        CLabelFilter::Regex(_, re, negated) => re.is_match(v) == *negated,
        CLabelFilter::Number(_, op, x) => log::parse_go_float(v).is_ok_and(|l| !op.apply(l, *x)),
        CLabelFilter::Duration(_, op, x) => log::parse_go_duration(v).is_ok_and(|l| !op.apply(l, *x)),
        CLabelFilter::Bytes(_, op, x) => log::parse_humanize_bytes(v).is_ok_and(|l| !op.apply(l, *x)),
        CLabelFilter::Ip(..) => false,
        CLabelFilter::And(fs) => fs.iter().any(|f| rejects(f, v)),
        CLabelFilter::Or(fs) => fs.iter().all(|f| rejects(f, v)),
    }
}

fn named_matches(m: &NamedMatcher, name: &str, value: &str) -> bool {
    match m {
        NamedMatcher::Name(n) => n == name,
        NamedMatcher::Matcher(mm) => mm.name() == name && mm.matches(value),
    }
}

fn eval_label_filter(f: &CLabelFilter, b: &mut LabelsBuilder) -> bool {
    match f {
        CLabelFilter::Matcher(m) => m.matches(b.get(m.name()).unwrap_or("")),
        CLabelFilter::Regex(n, re, negated) => re.is_match(b.get(n).unwrap_or("")) != *negated,
        CLabelFilter::Number(n, op, v) => log::numeric_filter(b, n, *op, *v),
        CLabelFilter::Duration(n, op, v) => log::duration_filter(b, n, *op, *v),
        CLabelFilter::Bytes(n, op, v) => log::bytes_filter(b, n, *op, *v),
        CLabelFilter::Ip(n, m, negated) => log::ip_filter(b, n, m, *negated),
        CLabelFilter::And(v) => {
            // Every operand runs, even after one failed: each may set `__error__`.
            let mut ok = true;
            for f in v {
                ok &= eval_label_filter(f, b);
            }
            ok
        }
        CLabelFilter::Or(v) => v.iter().any(|f| eval_label_filter(f, b)),
    }
}

/// `label_format`: renames apply to the current labels; templates see the
/// labels as they were when the stage's first template ran.
fn label_format(
    items: &[CLabelFormat],
    b: &mut LabelsBuilder,
    line: &str,
    ts: i64,
    out: &mut String,
    snapshot: &mut Vec<(String, String)>,
) {
    let mut have_snapshot = false;
    for item in items {
        match item {
            CLabelFormat::Rename { dst, src } => {
                b.rename_label(dst, src);
            }
            CLabelFormat::Template { dst, template } => {
                if !have_snapshot {
                    snapshot.clear();
                    b.for_each(|n, v| snapshot.push((n.to_owned(), v.to_owned())));
                    have_snapshot = true;
                }
                out.clear();
                let data = SnapshotData { labels: snapshot, line, ts };
                match template.execute(&data, out) {
                    Ok(()) => b.set_label(dst, out),
                    Err(e) => b.set_error(ErrorKind::TemplateFormat, Some(&e.to_string())),
                }
            }
        }
    }
}

/// Template data over the live label builder.
struct BuilderData<'a> {
    builder: &'a LabelsBuilder,
    line: &'a str,
    ts: i64,
    /// Every label, copied only if the template iterates over them.
    all: std::cell::OnceCell<Vec<(String, String)>>,
}

impl TemplateData for BuilderData<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.builder.get(name)
    }

    fn for_each_label<'s>(&'s self, f: &mut dyn FnMut(&'s str, &'s str)) {
        let all = self.all.get_or_init(|| {
            let mut v = Vec::new();
            self.builder.for_each(|n, val| v.push((n.to_owned(), val.to_owned())));
            v
        });
        for (n, v) in all {
            f(n, v);
        }
    }

    fn line(&self) -> &str {
        self.line
    }

    fn timestamp(&self) -> i64 {
        self.ts
    }
}

/// Template data over a snapshot of the labels.
struct SnapshotData<'a> {
    labels: &'a [(String, String)],
    line: &'a str,
    ts: i64,
}

impl TemplateData for SnapshotData<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn for_each_label<'s>(&'s self, f: &mut dyn FnMut(&'s str, &'s str)) {
        for (n, v) in self.labels {
            f(n, v);
        }
    }

    fn label_count(&self) -> usize {
        self.labels.len()
    }

    fn line(&self) -> &str {
        self.line
    }

    fn timestamp(&self) -> i64 {
        self.ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    /// Runs `query`'s pipeline over `lines` with and without early
    /// rejection; the output lines and label sets must agree.
    fn same_with_and_without_early(stream: &str, query: &str, lines: &[&str]) -> usize {
        let Ok(crate::logql::Expr::Log(sel)) = crate::logql::parse_expr(query) else { panic!("{query}") };
        let mut early = Pipeline::new(&sel.stages).unwrap();
        let mut full = Pipeline::new(&sel.stages).unwrap();
        let mut checks = 0;
        for s in &mut full.stages {
            if let CStage::Logfmt(_, e) | CStage::Json(_, e) = s {
                checks += e.len();
                e.clear();
            }
        }
        assert!(checks > 0, "{query}: no early check");
        let labels: Labels = stream.parse().unwrap();
        let (mut a, mut b) = (LabelsBuilder::new(&labels), LabelsBuilder::new(&labels));
        let mut kept = 0;
        for line in lines {
            a.reset();
            b.reset();
            a.set_metadata("meta", "m");
            b.set_metadata("meta", "m");
            let x = early.process(&mut a, 0, line.as_bytes()).map(<[u8]>::to_vec);
            let y = full.process(&mut b, 0, line.as_bytes()).map(<[u8]>::to_vec);
            assert_eq!(x, y, "{query} on {line}");
            if x.is_some() {
                kept += 1;
                assert_eq!(a.label_string(), b.label_string(), "{query} on {line}");
            }
        }
        kept
    }

    #[test]
    fn early_rejection_gives_the_full_answer() {
        let logfmt = [
            "level=error msg=x",
            "msg=x level=info",
            "level= level=error",
            "level=info level=error",
            "lev-el=error level=warn",
            "meta=1 level=error",
            "status=500 level=error",
            "status=abc level=error",
            "status=0x1p9 dur=1s",
            "status=NaN",
            "level=\"err\\u006fr\" a=b",
            "bad\"key level=error",
            "",
        ];
        let json = [
            r#"{"level":"error","status":500}"#,
            r#"{"level":"info","status":"503"}"#,
            r#"{"status":"x","level":"error"}"#,
            r#"{"status":200,"status":500}"#,
            r#"{"a":{"status":500},"a_status":200}"#,
            r#"{"level":"error","status":5"#,
            r#"{"level":"err\u006fr"}"#,
            "not json",
        ];
        let s = r#"{app="x"}"#;
        let cases: &[(&str, &[&str])] = &[
            (r#"{app="x"} | logfmt | level="error""#, &logfmt),
            (r#"{app="x"} | logfmt | level=~"err.*" or level="warn""#, &logfmt),
            (r#"{app="x"} | logfmt | level!="info" and status >= 500"#, &logfmt),
            (r#"{app="x"} | logfmt --strict | status > 100 | line_format "{{.level}}""#, &logfmt),
            (r#"{app="x"} | logfmt | dur > 500ms"#, &logfmt),
            (r#"{app="x"} | logfmt | meta_extracted="1""#, &logfmt),
            (r#"{app="x"} | json | status >= 500"#, &json),
            (r#"{app="x"} | json | level="error", status < 501"#, &json),
            (r#"{app="x"} | json | a_status > 100"#, &json),
        ];
        let mut kept = 0;
        for (q, lines) in cases {
            kept += same_with_and_without_early(s, q, lines);
        }
        assert!(kept > 10);
        // A stream label of the same name: parsers write `level_extracted`.
        same_with_and_without_early(r#"{level="error"}"#, r#"{app="x"} | logfmt | level="error""#, &logfmt);
    }

    #[test]
    fn filters_reading_errors_get_no_early_check() {
        for q in [
            r#"{app="x"} | logfmt | __error__="""#,
            r#"{app="x"} | logfmt | addr = ip("10.0.0.0/8")"#,
            r#"{app="x"} | logfmt | level="error" or status=500"#,
            r#"{app="x"} | logfmt | drop x | level="error""#,
            r#"{app="x"} | logfmt a | a="1""#,
        ] {
            let Ok(crate::logql::Expr::Log(sel)) = crate::logql::parse_expr(q) else { panic!("{q}") };
            let p = Pipeline::new(&sel.stages).unwrap();
            let checks: usize = p
                .stages
                .iter()
                .map(|s| match s {
                    CStage::Logfmt(_, e) | CStage::Json(_, e) => e.len(),
                    _ => 0,
                })
                .sum();
            assert_eq!(checks, 0, "{q}");
        }
    }

    #[test]
    fn process_after_leading_skips_the_leading_filter() {
        let Ok(crate::logql::Expr::Log(sel)) = crate::logql::parse_expr(r#"{a="b"} |= "x" | logfmt"#) else { panic!() };
        let mut p = Pipeline::new(&sel.stages).unwrap();
        let mut b = LabelsBuilder::new(&r#"{a="b"}"#.parse().unwrap());
        b.reset();
        assert!(p.process(&mut b, 0, b"k=v").is_none());
        b.reset();
        assert_eq!(p.process_after_leading(&mut b, 0, b"k=v"), Some(&b"k=v"[..]));
        assert_eq!(b.get("k"), Some("v"));
    }
}
