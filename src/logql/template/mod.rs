//! The template engine of `line_format` and `label_format`: Go's
//! `text/template` language with Loki's function set
//! (`../shared/spec/logql.md` §3.7, §3.8; Loki's `pkg/logql/log/fmt.go`).
//!
//! A [`Template`] is parsed once ([`Template::parse`]) and executed per log
//! line ([`Template::execute`]) against a [`TemplateData`]: the label map
//! (the template's dot, a Go `map[string]string`), the line (`__line__`)
//! and the entry timestamp (`__timestamp__`). Missing labels print as the
//! empty string (Loki's `missingkey=zero`). Errors carry Go's texts, e.g.
//! `template: line:1: function "nope" not defined` when parsing and
//! `template: line:1:2: executing "line" at <.foo>: foo is not a method
//! but has arguments` when executing; Loki puts the latter in
//! `__error_details__` with `__error__=TemplateFormatErr`.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Template`], [`TemplateData`], [`MapData`], limits |
//! | `lexer.rs` | tokens (`{{- … -}}` trimming, comments, literals) |
//! | `parse.rs` | the parser: Go's grammar, variable scopes, `define`/`block`, parse errors |
//! | `ast.rs` | nodes and their Go `String()` forms (execution error context) |
//! | `exec.rs` | execution: pipelines, `if`/`with`/`range`/`template`, `break`/`continue`, argument type checks |
//! | `value.rs` | values and their Go types; truth; Sprig's `toInt64`/`toFloat64` |
//! | `funcs.rs` | Go built-ins, Loki's and Sprig's functions, `time.Time` methods |
//! | `format.rs` | Go's `fmt`: `print`, `printf` verbs, flags, widths |
//! | `time.rs` | `time.Time`: reference layouts, parsing, fixed zones |
//! | `decimal.rs` | decimal arithmetic of Sprig's `addf`/`subf`/`mulf`/`divf` |
//! | `json.rs` | `fromJson` |
//! | `strconv.rs` | Go quoting, unquoting and number parsing |
//! | `goregex.rs` | RE2 patterns for Rust's `regex` (ASCII `\d \w \s \b`) |
//! | `error.rs` | [`TemplateError`] |
//!
//! # Language
//!
//! Text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* */}}`
//! comments; `.`, `.field` (chains too), `$` and variables (`$x := …`,
//! `$x = …`), pipelines with `|`, parenthesized pipelines, `(pipe).field`,
//! literals (strings with Go escapes, raw strings, numbers in every Go
//! spelling, characters, `true`/`false`, `nil`); `if`/`else if`/`else`,
//! `with`/`else with`, `range` over the label map (sorted by key, as Go
//! iterates maps), over slices and over integers (Go 1.22), with
//! `break`/`continue`; `define`, `template` and `block`. Go's argument
//! rules apply: function parameters are typed, so `{{ ToUpper 3 }}` fails
//! with `expected string; found 3` and `{{ repeat (add 1 2) "x" }}` with
//! `wrong type for value; expected int; got int64`, as in Loki.
//!
//! Functions: Go's built-ins (`and or not len index slice print printf
//! println eq ne lt le gt ge html js urlquery call`), Loki's (`ToLower
//! ToUpper Replace Trim TrimLeft TrimRight TrimPrefix TrimSuffix TrimSpace
//! regexReplaceAll regexReplaceAllLiteral count urlencode urldecode bytes
//! duration duration_seconds unixEpochMillis unixEpochNanos toDateInZone
//! unixToTime alignLeft alignRight b64dec __line__ __timestamp__`) and the
//! Sprig ones Loki exposes (`b64enc lower upper title trunc substr contains
//! hasPrefix hasSuffix indent nindent replace repeat trim trimAll
//! trimSuffix trimPrefix int float64 add sub mul div mod addf subf mulf
//! divf max min maxf minf ceil floor round fromJson date toDate now
//! unixEpoch default`), with Sprig's argument order and conversions
//! (`add` converts with `toInt64`, so `"010"` is octal 8; `trunc` and
//! `substr` cut bytes, and `substr` out of range fails like Go's slice
//! bounds check). Methods of `time.Time` values (`Unix`, `Format`, `Year`,
//! `UTC`, `Sub`, `AddDate`, …) and of `time.Duration` (`Seconds`, …) work
//! as in Go.
//!
//! # Differences from Go and Loki
//!
//! * Strings are UTF-8: byte escapes or byte-wise cuts (`trunc`, `substr`,
//!   `slice`, `index` on strings, `b64dec`, `urldecode`) that produce
//!   invalid UTF-8 yield U+FFFD instead of the raw bytes.
//! * Time zones: `Local` is UTC; `toDateInZone` knows `UTC`, `Local` and
//!   fixed-offset zone names (`Etc/GMT-2`, `GMT`, …) only; other IANA
//!   names are treated as UTC (Go would apply the zone's rules). `now`
//!   carries no monotonic clock reading.
//! * Complex number literals (`1i`) are refused when parsing.
//! * Regex patterns are compiled by Rust's `regex` crate (RE2 syntax;
//!   `\d \w \s \b` are made ASCII as in Go); error texts differ from Go's
//!   after the `error parsing regexp:` prefix. Literal patterns are
//!   compiled once, when the template is parsed.
//! * `%p`, and numeric verbs on a `time.Time`, print as bad verbs.
//! * A `null` element of a decoded JSON array or object, once it is a
//!   `range` variable or the dot, behaves like a missing value (Go would
//!   fail on a field access through it with `nil pointer evaluating
//!   interface {}.x`).
//! * Limits: output and string values are capped at [`MAX_OUTPUT`] bytes,
//!   execution at [`MAX_STEPS`] steps and [`MAX_DEPTH`] levels of nesting
//!   (control structures, parentheses, `template` calls), parsing at
//!   [`MAX_DEPTH`] levels; `fromJson` refuses documents nested deeper than
//!   512 levels; Sprig's decimal arithmetic refuses results of more than
//!   1000 digits. Exceeding a limit is an error, never a crash.
//!
//! # Examples
//!
//! ```
//! use lokistore::logql::template::{MapData, Template};
//!
//! let tmpl = Template::parse(r#"{{ .level | upper }} {{ printf "%-5s|" .status }} {{ __line__ }}"#).unwrap();
//! let data = MapData::new([("level", "info"), ("status", "200")]).with_line("GET /");
//! let mut out = String::new();
//! tmpl.execute(&data, &mut out).unwrap();
//! assert_eq!(out, "INFO 200  | GET /");
//!
//! let err = Template::parse("{{ .foo").unwrap_err();
//! assert_eq!(err.to_string(), "template: line:1: unclosed action");
//!
//! let tmpl = Template::parse(r#"{{ .foo | substr -1 10 }}"#).unwrap();
//! let err = tmpl.execute(&MapData::new([("foo", "abc")]), &mut out).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "template: line:1:10: executing \"line\" at <substr -1 10>: error calling substr: \
//!      runtime error: slice bounds out of range [:10] with length 3"
//! );
//! ```

mod ast;
mod decimal;
mod error;
mod exec;
mod format;
mod funcs;
mod goregex;
mod json;
mod lexer;
mod parse;
mod strconv;
mod time;
mod value;

use std::collections::HashMap;

pub use error::{TemplateError, TemplateErrorKind};

/// The most bytes a template may write in one execution, and the largest
/// string any function may build.
pub const MAX_OUTPUT: usize = 4 << 20;

/// The most steps (nodes walked, loop iterations, calls) of one execution.
pub const MAX_STEPS: u64 = 1_000_000;

/// How deep control structures, parenthesized pipelines and `template`
/// calls may nest. The deepest template allowed parses and runs within a
/// 2 MiB stack in debug builds (512 KiB in release builds).
pub const MAX_DEPTH: usize = 100;

/// What a template reads: labels (its dot), the log line and the entry
/// timestamp.
pub trait TemplateData {
    /// The value of label `name`, if present.
    fn label(&self, name: &str) -> Option<&str>;

    /// Calls `f` with every label (in any order; the engine sorts when it
    /// needs to).
    fn for_each_label<'s>(&'s self, f: &mut dyn FnMut(&'s str, &'s str));

    /// The number of labels (`len .`).
    fn label_count(&self) -> usize {
        let mut n = 0;
        self.for_each_label(&mut |_, _| n += 1);
        n
    }

    /// The current log line (`__line__`).
    fn line(&self) -> &str;

    /// The entry's timestamp in Unix nanoseconds (`__timestamp__`).
    fn timestamp(&self) -> i64;
}

/// A [`TemplateData`] backed by a `HashMap`, for tests and simple callers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapData {
    /// The labels.
    pub labels: HashMap<String, String>,
    /// The log line.
    pub line: String,
    /// The timestamp in Unix nanoseconds.
    pub timestamp: i64,
}

impl MapData {
    /// Labels from `(name, value)` pairs, an empty line, timestamp 0.
    pub fn new<K: Into<String>, V: Into<String>>(labels: impl IntoIterator<Item = (K, V)>) -> Self {
        MapData {
            labels: labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            line: String::new(),
            timestamp: 0,
        }
    }

    /// Sets the log line.
    #[must_use]
    pub fn with_line(mut self, line: impl Into<String>) -> Self {
        self.line = line.into();
        self
    }

    /// Sets the timestamp (Unix nanoseconds).
    #[must_use]
    pub fn with_timestamp(mut self, ts: i64) -> Self {
        self.timestamp = ts;
        self
    }
}

impl TemplateData for MapData {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    fn for_each_label<'s>(&'s self, f: &mut dyn FnMut(&'s str, &'s str)) {
        for (k, v) in &self.labels {
            f(k, v);
        }
    }

    fn label_count(&self) -> usize {
        self.labels.len()
    }

    fn line(&self) -> &str {
        &self.line
    }

    fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    /// The template's name (Loki: `line` or `label`).
    name: String,
    /// The source text, for error positions.
    text: String,
    root: ast::List,
    /// `{{define}}` and `{{block}}` templates.
    defines: Vec<(String, ast::List)>,
}

impl Template {
    /// Parses a `line_format` template (named `line`, as Loki names it).
    ///
    /// # Errors
    ///
    /// Go's parse errors (`template: line:1: unclosed action`, `function
    /// "x" not defined`, …). Never panics.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Self::parse_named("line", text)
    }

    /// Parses a template with the given name (Loki names `label_format`
    /// templates `label`); the name appears in error messages.
    ///
    /// # Errors
    ///
    /// As [`Template::parse`].
    pub fn parse_named(name: &str, text: &str) -> Result<Template, TemplateError> {
        let (root, defines) = parse::parse(name, text)?;
        Ok(Template { name: name.to_owned(), text: text.to_owned(), root, defines })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Executes the template, appending its output to `out`.
    ///
    /// # Errors
    ///
    /// Go's execution errors (bad arguments, failing functions, …) and the
    /// limits ([`MAX_OUTPUT`], [`MAX_STEPS`], [`MAX_DEPTH`]). On error `out`
    /// is left as it was. Never panics.
    pub fn execute(&self, data: &dyn TemplateData, out: &mut String) -> Result<(), TemplateError> {
        let start = out.len();
        // `{{.name}}`: copy the label (what Loki does too).
        if let Some(name) = self.simple_field() {
            let value = data.label(name).unwrap_or("");
            if value.len() <= MAX_OUTPUT {
                out.push_str(value);
                return Ok(());
            }
        }
        let r = exec::execute(self, data, out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// The label name of a template that is exactly `{{.name}}` (Loki
    /// copies the label directly in that case).
    pub fn simple_field(&self) -> Option<&str> {
        match self.root.as_slice() {
            [ast::Node::Action(a)] if a.pipe.decl.is_empty() => match a.pipe.cmds.as_slice() {
                [c] => match c.args.as_slice() {
                    [ast::Arg::Field { idents, .. }] if idents.len() == 1 => idents.first().map(String::as_str),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// The field names the template reads (Loki's `RequiredLabelNames`:
    /// every identifier of every `.a.b` field, in order, without
    /// duplicates).
    pub fn required_label_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        ast::collect_fields(&self.root, &mut names);
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(*n));
        names
    }

    /// The body of the template called `name` (the template itself or a
    /// `define`).
    fn lookup(&self, name: &str) -> Option<&ast::List> {
        if name == self.name {
            return Some(&self.root);
        }
        self.defines.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }
}
