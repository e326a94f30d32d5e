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
//! Costs: `reset` is O(1) (O(stream labels) after a deletion). Each
//! category keeps its names and values in one byte arena with a 64-bit
//! hash per name and a one-word bloom filter of the names (the stream
//! labels have one too), so most lookups of an absent name cost a bit
//! test, the others a scan comparing hashes (linear in the line's labels,
//! as in Loki). Deleted parsed labels stay listed, not live, which is the
//! "extracted on this line" set parsers consult: one lookup decides both.
//! The final set is sorted on demand in O(n log n) into reused buffers,
//! once until it changes. Nothing allocates per line once the buffers have
//! grown.

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

/// A cheap 64-bit hash of a label name (FxHash-style over 8-byte words),
/// used to skip most string comparisons and as a bloom filter bit.
#[inline]
pub(crate) fn name_hash(name: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let b = name.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(a)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(a)).wrapping_mul(K);
    }
    h
}

/// The bloom-filter bit of a name hash.
#[inline]
fn bloom_bit(hash: u64) -> u64 {
    1u64 << (hash >> 58)
}

/// One label of a [`Slots`] list: ranges into its arena.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    name: (u32, u32),
    value: (u32, u32),
    /// False once deleted (parsed labels stay listed as extracted).
    live: bool,
}

/// `(name, value)` pairs of one category, their bytes in one arena that
/// is kept when the list is cleared; a bloom filter of the names skips
/// most failed lookups.
#[derive(Debug, Clone, Default)]
struct Slots {
    arena: String,
    items: Vec<Slot>,
    bloom: u64,
    live: usize,
}

impl Slots {
    fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
        self.bloom = 0;
        self.live = 0;
    }

    fn str(&self, r: (u32, u32)) -> &str {
        self.arena.get(r.0 as usize..r.1 as usize).unwrap_or_default()
    }

    fn name(&self, i: usize) -> &str {
        self.items.get(i).map_or("", |s| self.str(s.name))
    }

    fn value(&self, i: usize) -> &str {
        self.items.get(i).map_or("", |s| self.str(s.value))
    }

    fn is_live(&self, i: usize) -> bool {
        self.items.get(i).is_some_and(|s| s.live)
    }

    /// The index of `name` (live or not).
    #[inline]
    fn find_h(&self, name: &str, hash: u64) -> Option<usize> {
        if self.bloom & bloom_bit(hash) == 0 {
            return None;
        }
        self.items.iter().position(|s| s.hash == hash && self.str(s.name) == name)
    }

    /// The index of `name` if it is live.
    fn find_live_h(&self, name: &str, hash: u64) -> Option<usize> {
        self.find_h(name, hash).filter(|&i| self.is_live(i))
    }

    fn find_live(&self, name: &str) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        self.find_live_h(name, name_hash(name))
    }

    fn contains_live(&self, name: &str) -> bool {
        self.find_live(name).is_some()
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.find_live(name).map(|i| self.value(i))
    }

    fn append(&mut self, s: &str) -> (u32, u32) {
        let start = self.arena.len() as u32;
        self.arena.push_str(s);
        (start, self.arena.len() as u32)
    }

    /// Adds a live label not present yet.
    #[inline]
    fn push_h(&mut self, name: &str, hash: u64, value: &str) {
        let name = self.append(name);
        let value = self.append(value);
        self.items.push(Slot { hash, name, value, live: true });
        self.bloom |= bloom_bit(hash);
        self.live += 1;
    }

    /// Sets the value of entry `idx` and makes it live.
    fn set_value(&mut self, idx: usize, value: &str) {
        let unchanged = self.items.get(idx).is_some_and(|s| s.live && self.str(s.value) == value);
        if unchanged {
            return;
        }
        let r = self.append(value);
        if let Some(s) = self.items.get_mut(idx) {
            s.value = r;
            if !s.live {
                s.live = true;
                self.live += 1;
            }
        }
    }

    /// Marks entry `idx` deleted.
    fn kill(&mut self, idx: usize) {
        if let Some(s) = self.items.get_mut(idx)
            && s.live
        {
            s.live = false;
            self.live -= 1;
        }
    }

    /// The live entries' indices.
    fn live_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().enumerate().filter(|(_, s)| s.live).map(|(i, _)| i)
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
    /// Bloom filter of the stream label names ([`name_hash`] bits).
    stream_bloom: u64,
    /// The stream labels' `{…}` text and hash (the unchanged fast path).
    stream_text: String,
    stream_hash: u64,
    /// Stream labels deleted on this line.
    deleted: Vec<bool>,
    deleted_count: usize,
    metadata: Slots,
    /// Parsed labels; deleted ones stay listed (not live): they are the
    /// names parsed labels were created under on this line (Loki's parser
    /// hints `Extracted`), which later parsers skip even after a deletion.
    parsed: Slots,
    err: String,
    err_details: String,
    preserve_error: bool,
    // Scratch buffers.
    /// The final set in name order, when `order_valid` (every change to
    /// the set clears it).
    order: Vec<Ref>,
    order_valid: bool,
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
        let stream_bloom = stream.iter().fold(0, |b, (n, _)| b | bloom_bit(name_hash(n)));
        Self {
            stream_bloom,
            deleted: vec![false; stream.len()],
            stream,
            stream_text: text,
            stream_hash: hash,
            deleted_count: 0,
            metadata: Slots::default(),
            parsed: Slots::default(),
            err: String::new(),
            err_details: String::new(),
            preserve_error: false,
            order: Vec::new(),
            order_valid: false,
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
        self.order_valid = false;
        if self.deleted_count > 0 {
            self.deleted.iter_mut().for_each(|d| *d = false);
            self.deleted_count = 0;
        }
        self.metadata.clear();
        self.parsed.clear();
        self.err.clear();
        self.err_details.clear();
    }

    #[inline]
    fn stream_index_h(&self, name: &str, hash: u64) -> Option<usize> {
        if self.stream_bloom & bloom_bit(hash) == 0 {
            return None;
        }
        self.stream.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()
    }

    fn stream_index(&self, name: &str) -> Option<usize> {
        self.stream_index_h(name, name_hash(name))
    }

    /// Whether the stream has a label `name` (deleted on this line or not):
    /// the first half of the `_extracted` rule.
    pub fn stream_has(&self, name: &str) -> bool {
        self.stream_index(name).is_some()
    }

    /// Whether structured metadata `name` is currently set.
    pub fn metadata_has(&self, name: &str) -> bool {
        self.metadata.contains_live(name)
    }

    /// Whether a parser extracting `name` must store it as
    /// `name_extracted`: the stream or the structured metadata has it.
    pub fn conflicts(&self, name: &str) -> bool {
        self.conflicts_h(name, name_hash(name))
    }

    /// [`conflicts`](Self::conflicts) with the name's [`name_hash`].
    #[inline]
    pub(crate) fn conflicts_h(&self, name: &str, hash: u64) -> bool {
        self.stream_index_h(name, hash).is_some()
            || (self.metadata.live > 0 && self.metadata.find_live_h(name, hash).is_some())
    }

    /// Whether a parsed label `name` was created on this line (by a parser
    /// or `label_format`), even if it was deleted since: parsers skip such
    /// names (first writer wins).
    pub fn was_extracted(&self, name: &str) -> bool {
        !self.parsed.items.is_empty() && self.parsed.find_h(name, name_hash(name)).is_some()
    }

    /// Adds the entry's structured metadata `name=value` (Loki's `Add`):
    /// a name equal to a stream label becomes `name_extracted`; the names
    /// `__error__` and `__error_details__` set the error fields instead; a
    /// parsed label of the same name wins.
    pub fn set_metadata(&mut self, name: &str, value: &str) {
        self.order_valid = false;
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
                if !self.parsed.contains_live(n) {
                    let h = name_hash(n);
                    match self.metadata.find_h(n, h) {
                        Some(i) => self.metadata.set_value(i, value),
                        None => self.metadata.push_h(n, h, value),
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
        self.order_valid = false;
        let h = name_hash(name);
        self.remove_metadata_h(name, h);
        match self.parsed.find_h(name, h) {
            Some(i) => self.parsed.set_value(i, value),
            None => self.parsed.push_h(name, h, value),
        }
    }

    #[inline]
    fn remove_metadata_h(&mut self, name: &str, hash: u64) {
        if self.metadata.live > 0
            && let Some(i) = self.metadata.find_live_h(name, hash)
        {
            self.metadata.kill(i);
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
        self.add_exact_h(name, name_hash(name), value)
    }

    /// [`add_exact`](Self::add_exact) with the name's [`name_hash`]: one
    /// lookup.
    #[inline]
    pub(crate) fn add_exact_h(&mut self, name: &str, hash: u64, value: &str) -> bool {
        self.order_valid = false;
        if self.parsed.find_h(name, hash).is_some() {
            return false;
        }
        self.remove_metadata_h(name, hash);
        self.parsed.push_h(name, hash, value);
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
        self.order_valid = false;
        match name {
            ERROR_LABEL => self.err.clear(),
            ERROR_DETAILS_LABEL => self.err_details.clear(),
            _ => {
                let h = name_hash(name);
                if let Some(i) = self.parsed.find_live_h(name, h) {
                    self.parsed.kill(i);
                }
                self.remove_metadata_h(name, h);
                if let Some(i) = self.stream_index_h(name, h)
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
                names.push_h(n, 0, "");
            }
        });
        for i in 0..names.items.len() {
            self.delete(names.name(i));
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
        self.order_valid = false;
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
        self.parsed.live == 0 && self.metadata.live == 0 && self.deleted_count == 0 && self.err.is_empty()
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
            let hidden = self.deleted.get(i).copied().unwrap_or(true)
                || self.metadata.contains_live(n)
                || self.parsed.contains_live(n);
            (!hidden).then_some(Ref::Stream(i))
        });
        let metadata = self
            .metadata
            .live_indices()
            .filter(move |&i| !self.parsed.contains_live(self.metadata.name(i)))
            .map(Ref::Metadata);
        let parsed = self.parsed.live_indices().filter_map(move |i| {
            let n = self.parsed.name(i);
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
            Ref::Metadata(i) => (self.metadata.name(i), self.metadata.value(i)),
            Ref::Parsed(i) => (self.parsed.name(i), self.parsed.value(i)),
            Ref::Error => (ERROR_LABEL, self.err.as_str()),
            Ref::ErrorDetails => (ERROR_DETAILS_LABEL, self.err_details.as_str()),
        }
    }

    /// Sorts the final set into `self.order`.
    fn sort(&mut self) {
        if self.order_valid {
            return;
        }
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(self.refs());
        order.sort_unstable_by(|a, b| self.resolve(*a).0.cmp(self.resolve(*b).0));
        self.order = order;
        self.order_valid = true;
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
