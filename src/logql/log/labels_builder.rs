//! The label set of one log line while a pipeline runs (spec §3.3, §3.7
//! drop/keep, §3.8; Loki's `log/labels.go`).
//!
//! | category | holds | set by |
//! |---|---|---|
//! | stream | the stream's labels, fixed per builder | [`LabelsBuilder::new`] |
//! | structured metadata | the entry's metadata; a name equal to a stream label is stored as `<name>_extracted` | [`LabelsBuilder::set_metadata`] |
//! | parsed | labels from parsers and `label_format` | [`LabelsBuilder::add_parsed`], [`LabelsBuilder::set_label`] |
//! | error | `__error__`, `__error_details__`, outside the categories | [`LabelsBuilder::set_error`], [`LabelsBuilder::set_error_if_none`] |
//!
//! A name lives in at most one category at a time: setting a parsed label
//! removes a metadata label of the same name and hides the stream label;
//! metadata hides a stream label. Reading prefers parsed, then metadata,
//! then stream.
//!
//! Costs: `reset` is O(1) (O(stream labels) after a deletion); lookups and
//! inserts are linear in the number of metadata and parsed labels of the
//! line (as in Loki); the final set is sorted on demand in O(n log n) into
//! reused buffers. Nothing allocates per line once the buffers have grown.

use crate::labels::{Label, Labels};

use super::{DUPLICATE_SUFFIX, ERROR_DETAILS_LABEL, ERROR_LABEL, ErrorKind, PRESERVE_ERROR_LABEL};

/// Where a label of the final set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelCategory {
    /// A stream label.
    Stream,
    /// Structured metadata of the entry.
    StructuredMetadata,
    /// Extracted by a parser or written by `label_format`.
    Parsed,
}

/// The final label set split by category, as Loki returns it with
/// `categorize-labels` (error labels count as parsed). Each part is sorted
/// by name and may hold empty values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategorizedLabels {
    /// Stream labels that are still present and not overridden.
    pub stream: Vec<Label>,
    /// Structured metadata not overridden by a parsed label.
    pub structured_metadata: Vec<Label>,
    /// Parsed labels, `__error__` and `__error_details__`.
    pub parsed: Vec<Label>,
}

/// `(name, value)` pairs whose buffers are kept when the list is cleared.
#[derive(Debug, Clone, Default)]
struct Slots {
    items: Vec<(String, String)>,
    len: usize,
}

impl Slots {
    fn clear(&mut self) {
        self.len = 0;
    }

    fn as_slice(&self) -> &[(String, String)] {
        self.items.get(..self.len).unwrap_or_default()
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.as_slice().iter().position(|(n, _)| n == name)
    }

    fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.as_slice().iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn push(&mut self, name: &str, value: &str) {
        if let Some((n, v)) = self.items.get_mut(self.len) {
            n.clear();
            n.push_str(name);
            v.clear();
            v.push_str(value);
        } else {
            self.items.push((name.to_owned(), value.to_owned()));
        }
        self.len += 1;
    }

    fn set_value(&mut self, idx: usize, value: &str) {
        if let Some((_, v)) = self.items.get_mut(idx) {
            v.clear();
            v.push_str(value);
        }
    }

    /// Removes entry `idx` (order is not kept).
    fn remove(&mut self, idx: usize) {
        if idx < self.len {
            self.items.swap(idx, self.len - 1);
            self.len -= 1;
        }
    }
}

/// A reference to one label of the final set.
#[derive(Debug, Clone, Copy)]
enum Ref {
    Stream(usize),
    Metadata(usize),
    Parsed(usize),
    Error,
    ErrorDetails,
}

/// The labels of one log line: built once per query and stream, reset for
/// every line.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{ErrorKind, LabelsBuilder};
///
/// let stream: Labels = r#"{app="a", sp="s", sm="s", tri="s"}"#.parse().unwrap();
/// let mut b = LabelsBuilder::new(&stream);
/// b.reset();
/// for (n, v) in [("mp", "m"), ("sm", "m"), ("tri", "m")] {
///     b.set_metadata(n, v);
/// }
/// for (n, v) in [("sp", "p"), ("mp", "p"), ("tri", "p")] {
///     b.add_parsed(n, v);
/// }
/// assert_eq!(
///     b.label_string(),
///     r#"{app="a", mp="m", mp_extracted="p", sm="s", sm_extracted="m", sp="s", sp_extracted="p", tri="s", tri_extracted="p"}"#
/// );
/// b.set_error_if_none(ErrorKind::LabelFilter, Some("bad"));
/// assert_eq!(b.get("__error__"), Some("LabelFilterErr"));
/// ```
#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    /// Stream labels, sorted by name.
    stream: Vec<(String, String)>,
    /// The stream labels' `{…}` text and hash (the unchanged fast path).
    stream_text: String,
    stream_hash: u64,
    /// Stream labels deleted on this line.
    deleted: Vec<bool>,
    deleted_count: usize,
    metadata: Slots,
    parsed: Slots,
    /// Names parsed labels were created under on this line (Loki's parser
    /// hints `Extracted`): later parsers skip them even after a deletion.
    extracted: Slots,
    err: String,
    err_details: String,
    preserve_error: bool,
    // Scratch buffers.
    order: Vec<Ref>,
    text: String,
    names: Slots,
    scratch: String,
}

impl LabelsBuilder {
    /// A builder for the lines of one stream.
    pub fn new(stream_labels: &Labels) -> Self {
        let stream: Vec<(String, String)> = stream_labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        let mut text = String::new();
        let _ = crate::labels::write_label_list(&mut text, stream.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let hash = hash_pairs(stream.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        Self {
            deleted: vec![false; stream.len()],
            stream,
            stream_text: text,
            stream_hash: hash,
            deleted_count: 0,
            metadata: Slots::default(),
            parsed: Slots::default(),
            extracted: Slots::default(),
            err: String::new(),
            err_details: String::new(),
            preserve_error: false,
            order: Vec::new(),
            text: String::new(),
            names: Slots::default(),
            scratch: String::new(),
        }
    }

    /// When set, every parser error also sets the parsed label
    /// `__preserve_error__="true"` (Loki does this for metric queries that
    /// group by `__error__`).
    pub fn set_preserve_error(&mut self, preserve: bool) {
        self.preserve_error = preserve;
    }

    /// Clears everything but the stream labels, for the next line.
    pub fn reset(&mut self) {
        if self.deleted_count > 0 {
            self.deleted.iter_mut().for_each(|d| *d = false);
            self.deleted_count = 0;
        }
        self.metadata.clear();
        self.parsed.clear();
        self.extracted.clear();
        self.err.clear();
        self.err_details.clear();
    }

    fn stream_index(&self, name: &str) -> Option<usize> {
        self.stream.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()
    }

    /// Whether the stream has a label `name` (deleted on this line or not):
    /// the first half of the `_extracted` rule.
    pub fn stream_has(&self, name: &str) -> bool {
        self.stream_index(name).is_some()
    }

    /// Whether structured metadata `name` is currently set.
    pub fn metadata_has(&self, name: &str) -> bool {
        self.metadata.contains(name)
    }

    /// Whether a parser extracting `name` must store it as
    /// `name_extracted`: the stream or the structured metadata has it.
    pub fn conflicts(&self, name: &str) -> bool {
        self.stream_has(name) || self.metadata_has(name)
    }

    /// Whether a parsed label `name` was created on this line (by a parser
    /// or `label_format`), even if it was deleted since: parsers skip such
    /// names (first writer wins).
    pub fn was_extracted(&self, name: &str) -> bool {
        self.extracted.contains(name)
    }

    /// Adds the entry's structured metadata `name=value` (Loki's `Add`):
    /// a name equal to a stream label becomes `name_extracted`; the names
    /// `__error__` and `__error_details__` set the error fields instead; a
    /// parsed label of the same name wins.
    pub fn set_metadata(&mut self, name: &str, value: &str) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.push_str(name);
        if self.stream_has(name) {
            buf.push_str(DUPLICATE_SUFFIX);
        }
        match buf.as_str() {
            ERROR_LABEL => {
                self.err.clear();
                self.err.push_str(value);
            }
            ERROR_DETAILS_LABEL => {
                self.err_details.clear();
                self.err_details.push_str(value);
            }
            n => {
                if !self.parsed.contains(n) {
                    match self.metadata.find(n) {
                        Some(i) => self.metadata.set_value(i, value),
                        None => self.metadata.push(n, value),
                    }
                }
            }
        }
        self.scratch = buf;
    }

    /// Sets a parsed label, overwriting (Loki's `Set(ParsedLabel, …)`):
    /// what `label_format` does, and what parsers do after their own
    /// checks. Removes a metadata label of the same name and hides a stream
    /// label of the same name. A new name is recorded as extracted.
    pub fn set_label(&mut self, name: &str, value: &str) {
        if let Some(i) = self.metadata.find(name) {
            self.metadata.remove(i);
        }
        match self.parsed.find(name) {
            Some(i) => self.parsed.set_value(i, value),
            None => {
                self.parsed.push(name, value);
                if !self.extracted.contains(name) {
                    self.extracted.push(name, "");
                }
            }
        }
    }

    /// Adds a label found by a parser with the usual rules: a name that
    /// [`conflicts`](Self::conflicts) gets the `_extracted` suffix, then a
    /// name already [extracted](Self::was_extracted) on this line is
    /// skipped (first writer wins). Returns whether the label was set.
    pub fn add_parsed(&mut self, name: &str, value: &str) -> bool {
        if self.conflicts(name) {
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            buf.push_str(name);
            buf.push_str(DUPLICATE_SUFFIX);
            let set = self.add_exact(&buf, value);
            self.scratch = buf;
            return set;
        }
        self.add_exact(name, value)
    }

    /// `add_parsed` after the suffix rule: skips extracted names.
    pub(crate) fn add_exact(&mut self, name: &str, value: &str) -> bool {
        if self.was_extracted(name) {
            return false;
        }
        self.set_label(name, value);
        true
    }

    /// `label_format dst=src`: moves the value of `src` (any category) to
    /// the parsed label `dst` and deletes `src`. No-op when `src` is
    /// absent. Returns whether it happened.
    pub fn rename_label(&mut self, dst: &str, src: &str) -> bool {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let found = match self.get_with_category(src) {
            Some((v, _)) => {
                buf.push_str(v);
                true
            }
            None => false,
        };
        if found {
            self.set_label(dst, &buf);
            self.delete(src);
        }
        self.scratch = buf;
        found
    }

    /// The current value of `name`: parsed, else metadata, else stream
    /// (unless deleted). `__error__` and `__error_details__` read the error
    /// fields (`None` when empty), as label filters do.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            ERROR_LABEL => Some(self.err.as_str()).filter(|e| !e.is_empty()),
            ERROR_DETAILS_LABEL => Some(self.err_details.as_str()).filter(|e| !e.is_empty()),
            _ => self.get_with_category(name).map(|(v, _)| v),
        }
    }

    /// The value and category of `name` (Loki's `GetWithCategory`; the
    /// error fields are not part of any category).
    pub fn get_with_category(&self, name: &str) -> Option<(&str, LabelCategory)> {
        if let Some(v) = self.parsed.get(name) {
            return Some((v, LabelCategory::Parsed));
        }
        if let Some(v) = self.metadata.get(name) {
            return Some((v, LabelCategory::StructuredMetadata));
        }
        let i = self.stream_index(name)?;
        if self.deleted.get(i).copied().unwrap_or(true) {
            return None;
        }
        self.stream.get(i).map(|(_, v)| (v.as_str(), LabelCategory::Stream))
    }

    /// Deletes `name` from every category (`drop name`). `__error__` and
    /// `__error_details__` clear the error fields.
    pub fn delete(&mut self, name: &str) {
        match name {
            ERROR_LABEL => self.err.clear(),
            ERROR_DETAILS_LABEL => self.err_details.clear(),
            _ => {
                if let Some(i) = self.parsed.find(name) {
                    self.parsed.remove(i);
                }
                if let Some(i) = self.metadata.find(name) {
                    self.metadata.remove(i);
                }
                if let Some(i) = self.stream_index(name)
                    && let Some(d) = self.deleted.get_mut(i)
                    && !*d
                {
                    *d = true;
                    self.deleted_count += 1;
                }
            }
        }
    }

    /// `drop` with matchers: deletes every label of the final set (error
    /// labels included) for which `pred(name, value)` holds.
    pub fn drop_where(&mut self, mut pred: impl FnMut(&str, &str) -> bool) {
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        self.for_each(|n, v| {
            if pred(n, v) {
                names.push(n, "");
            }
        });
        for (n, _) in names.as_slice() {
            self.delete(n);
        }
        self.names = names;
    }

    /// `keep`: deletes every label of the final set for which
    /// `keep(name, value)` is false, except `__error__`,
    /// `__error_details__` and `__preserve_error__`.
    pub fn keep_where(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.drop_where(|n, v| !matches!(n, ERROR_LABEL | ERROR_DETAILS_LABEL | PRESERVE_ERROR_LABEL) && !keep(n, v));
    }

    /// Sets the error, overwriting any previous one, as parsers and
    /// formatters do. `details`, when given, replaces `__error_details__`
    /// (Loki leaves the details alone when the failure has no message).
    pub fn set_error(&mut self, kind: ErrorKind, details: Option<&str>) {
        self.err.clear();
        self.err.push_str(kind.as_str());
        if let Some(d) = details {
            self.err_details.clear();
            self.err_details.push_str(d);
        }
    }

    /// Sets the error only if the line has none yet, as label filters do.
    /// Returns whether it was set.
    pub fn set_error_if_none(&mut self, kind: ErrorKind, details: Option<&str>) -> bool {
        if self.has_error() {
            return false;
        }
        self.set_error(kind, details);
        true
    }

    /// A parser's failure (Loki's `addErrLabel`): [`set_error`](Self::set_error),
    /// plus `__preserve_error__="true"` when the builder preserves errors.
    pub fn set_parser_error(&mut self, kind: ErrorKind, details: Option<&str>) {
        self.set_error(kind, details);
        if self.preserve_error {
            self.set_label(PRESERVE_ERROR_LABEL, "true");
        }
    }

    /// Whether `__error__` is set.
    pub fn has_error(&self) -> bool {
        !self.err.is_empty()
    }

    /// The current `__error__`, if any.
    pub fn error(&self) -> Option<&str> {
        self.get(ERROR_LABEL)
    }

    /// The current `__error_details__`, if any.
    pub fn error_details(&self) -> Option<&str> {
        self.get(ERROR_DETAILS_LABEL)
    }

    /// Whether the final set is exactly the stream labels: no metadata, no
    /// parsed label, no deletion, no error. The fast path for grouping
    /// lines into output streams.
    pub fn is_unchanged(&self) -> bool {
        self.parsed.len == 0 && self.metadata.len == 0 && self.deleted_count == 0 && self.err.is_empty()
    }

    /// Whether `__error_details__` is part of the final set. Loki returns
    /// the bare stream labels when nothing else changed, so details alone
    /// (possible through structured metadata) are dropped then.
    fn details_visible(&self) -> bool {
        !self.err_details.is_empty() && !self.is_unchanged()
    }

    /// Calls `f` for every label of the final set, unsorted: visible
    /// stream labels, metadata, parsed labels, then the error labels.
    pub fn for_each(&self, mut f: impl FnMut(&str, &str)) {
        for r in self.refs() {
            let (n, v) = self.resolve(r);
            f(n, v);
        }
    }

    /// The final set's labels, unsorted (see [`for_each`](Self::for_each)).
    fn refs(&self) -> impl Iterator<Item = Ref> + '_ {
        let stream = self.stream.iter().enumerate().filter_map(move |(i, (n, _))| {
            let hidden =
                self.deleted.get(i).copied().unwrap_or(true) || self.metadata.contains(n) || self.parsed.contains(n);
            (!hidden).then_some(Ref::Stream(i))
        });
        let metadata = self
            .metadata
            .as_slice()
            .iter()
            .enumerate()
            .filter_map(move |(i, (n, _))| (!self.parsed.contains(n)).then_some(Ref::Metadata(i)));
        let parsed = self.parsed.as_slice().iter().enumerate().filter_map(move |(i, (n, _))| {
            // A parser may extract a key named like an error label; the
            // error fields win so the set has unique names.
            let shadowed =
                (n == ERROR_LABEL && !self.err.is_empty()) || (n == ERROR_DETAILS_LABEL && self.details_visible());
            (!shadowed).then_some(Ref::Parsed(i))
        });
        let err = (!self.err.is_empty()).then_some(Ref::Error);
        let details = self.details_visible().then_some(Ref::ErrorDetails);
        stream.chain(metadata).chain(parsed).chain(err).chain(details)
    }

    fn resolve(&self, r: Ref) -> (&str, &str) {
        fn pair(p: Option<&(String, String)>) -> (&str, &str) {
            p.map_or(("", ""), |(n, v)| (n.as_str(), v.as_str()))
        }
        match r {
            Ref::Stream(i) => pair(self.stream.get(i)),
            Ref::Metadata(i) => pair(self.metadata.as_slice().get(i)),
            Ref::Parsed(i) => pair(self.parsed.as_slice().get(i)),
            Ref::Error => (ERROR_LABEL, self.err.as_str()),
            Ref::ErrorDetails => (ERROR_DETAILS_LABEL, self.err_details.as_str()),
        }
    }

    /// Sorts the final set into `self.order`.
    fn sort(&mut self) {
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(self.refs());
        order.sort_unstable_by(|a, b| self.resolve(*a).0.cmp(self.resolve(*b).0));
        self.order = order;
    }

    /// Calls `f` for every label of the final set in name order. Empty
    /// values are included.
    pub fn for_each_sorted(&mut self, mut f: impl FnMut(&str, &str)) {
        self.sort();
        for &r in &self.order {
            let (n, v) = self.resolve(r);
            f(n, v);
        }
    }

    /// The final set as Prometheus prints it, `{a="b", c=""}` (empty
    /// values included): the key of the line's output stream. Borrowed from
    /// an internal buffer; the stream labels' text when
    /// [`is_unchanged`](Self::is_unchanged).
    pub fn label_string(&mut self) -> &str {
        if self.is_unchanged() {
            return &self.stream_text;
        }
        self.sort();
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let _ = crate::labels::write_label_list(&mut text, self.order.iter().map(|&r| self.resolve(r)));
        self.text = text;
        &self.text
    }

    /// A 64-bit hash of the final set (xxHash64 over `name 0xff value 0xff`
    /// in name order, empty values included); precomputed for the
    /// unchanged case. Equal sets hash equally; use
    /// [`label_string`](Self::label_string) to resolve collisions.
    pub fn hash(&mut self) -> u64 {
        if self.is_unchanged() {
            return self.stream_hash;
        }
        self.sort();
        hash_pairs(self.order.iter().map(|&r| self.resolve(r)))
    }

    /// The final set, sorted, empty values included.
    pub fn to_vec(&mut self) -> Vec<Label> {
        let mut out = Vec::new();
        self.for_each_sorted(|n, v| out.push(Label::new(n, v)));
        out
    }

    /// The final set as [`Labels`]. `Labels` cannot hold empty values, so
    /// empty-valued labels (which are part of Loki's set, e.g. `a=""` from a
    /// json path that was not found) are left out; use
    /// [`to_vec`](Self::to_vec) or [`label_string`](Self::label_string) to
    /// keep them.
    pub fn labels(&mut self) -> Labels {
        let mut pairs = Vec::new();
        self.for_each_sorted(|n, v| pairs.push((n.to_owned(), v.to_owned())));
        // Names are unique, so this cannot fail.
        Labels::from_pairs(pairs).unwrap_or_default()
    }

    /// The final set split by category.
    pub fn categorized(&mut self) -> CategorizedLabels {
        self.sort();
        let mut out = CategorizedLabels::default();
        for &r in &self.order {
            let (n, v) = self.resolve(r);
            let label = Label::new(n, v);
            match r {
                Ref::Stream(_) => out.stream.push(label),
                Ref::Metadata(_) => out.structured_metadata.push(label),
                Ref::Parsed(_) | Ref::Error | Ref::ErrorDetails => out.parsed.push(label),
            }
        }
        out
    }
}

impl std::fmt::Display for LabelsBuilder {
    /// The final set, as [`LabelsBuilder::label_string`] (sorting a copy).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut refs: Vec<Ref> = self.refs().collect();
        refs.sort_unstable_by(|a, b| self.resolve(*a).0.cmp(self.resolve(*b).0));
        let mut text = String::new();
        crate::labels::write_label_list(&mut text, refs.iter().map(|&r| self.resolve(r)))?;
        f.write_str(&text)
    }
}

/// xxHash64 over `name 0xff value 0xff` pairs.
fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for (n, v) in pairs {
        h.update(n.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(stream: &str) -> LabelsBuilder {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        b
    }

    #[test]
    fn spec_conflict_example() {
        let mut b = builder(r#"{app="a", sp="s", sm="s", tri="s"}"#);
        for (n, v) in [("mp", "m"), ("sm", "m"), ("tri", "m")] {
            b.set_metadata(n, v);
        }
        for (n, v) in [("sp", "p"), ("mp", "p"), ("tri", "p")] {
            assert!(b.add_parsed(n, v));
        }
        assert_eq!(
            b.label_string(),
            r#"{app="a", mp="m", mp_extracted="p", sm="s", sm_extracted="m", sp="s", sp_extracted="p", tri="s", tri_extracted="p"}"#
        );
        let c = b.categorized();
        assert_eq!(c.stream.len(), 4);
        assert_eq!(c.structured_metadata.len(), 2);
        assert_eq!(c.parsed.len(), 3);
    }

    #[test]
    fn precedence_and_first_writer() {
        let mut b = builder(r#"{app="a", env="prod"}"#);
        assert!(b.is_unchanged());
        let (h, s) = (b.hash(), b.label_string().to_owned());
        b.set_label("env", "dev");
        assert_eq!(b.get_with_category("env"), Some(("dev", LabelCategory::Parsed)));
        assert_eq!(b.label_string(), r#"{app="a", env="dev"}"#);
        assert!(b.add_parsed("x", "1"));
        assert!(!b.add_parsed("x", "2"));
        assert_eq!(b.get("x"), Some("1"));
        b.delete("x");
        assert_eq!(b.get("x"), None);
        assert!(!b.add_parsed("x", "3"), "deleted names stay extracted");
        b.reset();
        assert_eq!((b.hash(), b.label_string()), (h, s.as_str()));
        assert!(b.add_parsed("x", "3"));
    }

    #[test]
    fn metadata_rules() {
        let mut b = builder(r#"{app="a"}"#);
        b.set_metadata("app", "m");
        b.set_metadata("trace", "t");
        assert_eq!(b.label_string(), r#"{app="a", app_extracted="m", trace="t"}"#);
        b.set_metadata("__error__", "E");
        b.set_metadata("__error_details__", "D");
        assert_eq!(b.error(), Some("E"));
        b.set_label("trace", "p");
        assert_eq!(b.get_with_category("trace"), Some(("p", LabelCategory::Parsed)));
        assert!(!b.metadata_has("trace"));
        b.set_metadata("trace", "again");
        assert_eq!(b.get("trace"), Some("p"));
        assert_eq!(
            b.label_string(),
            r#"{__error__="E", __error_details__="D", app="a", app_extracted="m", trace="p"}"#
        );
    }

    #[test]
    fn details_only_is_dropped_on_the_fast_path() {
        let mut b = builder(r#"{app="a"}"#);
        b.set_metadata("__error_details__", "D");
        assert_eq!(b.label_string(), r#"{app="a"}"#);
        b.add_parsed("x", "");
        assert_eq!(b.label_string(), r#"{__error_details__="D", app="a", x=""}"#);
    }

    #[test]
    fn errors() {
        let mut b = builder(r#"{app="a"}"#);
        assert!(b.set_error_if_none(ErrorKind::LabelFilter, Some("first")));
        assert!(!b.set_error_if_none(ErrorKind::LabelFilter, Some("second")));
        assert_eq!(b.error_details(), Some("first"));
        b.set_error(ErrorKind::JsonParser, None);
        assert_eq!(b.get("__error__"), Some("JSONParserErr"));
        assert_eq!(b.error_details(), Some("first"));
        b.set_preserve_error(true);
        b.set_parser_error(ErrorKind::LogfmtParser, Some("x"));
        assert_eq!(
            b.label_string(),
            r#"{__error__="LogfmtParserErr", __error_details__="x", __preserve_error__="true", app="a"}"#
        );
        b.keep_where(|n, _| n == "nothing");
        assert_eq!(
            b.label_string(),
            r#"{__error__="LogfmtParserErr", __error_details__="x", __preserve_error__="true"}"#
        );
        b.drop_where(|n, _| n == "__error__");
        assert!(!b.has_error());
    }

    #[test]
    fn rename_and_keep_drop() {
        let mut b = builder(r#"{app="a", env="prod"}"#);
        assert!(b.rename_label("service", "app"));
        assert!(!b.rename_label("x", "missing"));
        assert_eq!(b.label_string(), r#"{env="prod", service="a"}"#);
        b.add_parsed("level", "info");
        b.keep_where(|n, v| n == "level" || (n == "env" && v == "prod"));
        assert_eq!(b.label_string(), r#"{env="prod", level="info"}"#);
        b.drop_where(|_, v| v == "prod");
        assert_eq!(b.label_string(), r#"{level="info"}"#);
        assert_eq!(b.to_vec(), vec![Label::new("level", "info")]);
        b.add_parsed("empty", "");
        assert_eq!(b.labels().to_string(), r#"{level="info"}"#);
        assert_eq!(b.label_string(), r#"{empty="", level="info"}"#);
        assert_eq!(b.to_string(), r#"{empty="", level="info"}"#);
    }

    #[test]
    fn parsed_error_names_do_not_duplicate() {
        let mut b = builder(r#"{app="a"}"#);
        b.add_parsed("__error__", "from-json");
        assert_eq!(b.label_string(), r#"{__error__="from-json", app="a"}"#);
        assert_eq!(b.get("__error__"), None);
        b.set_error(ErrorKind::JsonParser, None);
        assert_eq!(b.label_string(), r#"{__error__="JSONParserErr", app="a"}"#);
    }

    #[test]
    fn hash_is_consistent() {
        let mut a = builder(r#"{app="a"}"#);
        let mut b = builder(r#"{app="a", x="1"}"#);
        a.add_parsed("x", "1");
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.label_string(), b.label_string());
        let mut c = builder(r#"{app="a"}"#);
        c.add_parsed("x", "2");
        assert_ne!(a.hash(), c.hash());
    }
}
