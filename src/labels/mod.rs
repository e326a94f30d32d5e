//! Stream label sets: parsing and printing Loki's `{name="value", ...}` form,
//! push-path validation, and the stream fingerprint.
//!
//! * [`Labels::parse`] / [`FromStr`]: Loki's
//!   `syntax.ParseLabels` (the Prometheus metric parser), see `parse.rs`.
//! * [`Display`](fmt::Display): Prometheus' `labels.Labels.String()`, see
//!   [`Labels`].
//! * [`Labels::validate`] with [`LabelLimits`]: the distributor's checks.
//! * [`Fingerprint`]: `../shared/spec/chunk-format.md` §9.5.
//! * [`normalize_metadata_name`]: `../shared/spec/chunk-format.md` §6.

use std::fmt;
use std::str::FromStr;

mod fingerprint;
mod isprint;
mod normalize;
mod parse;
mod quote;
mod validate;

pub use fingerprint::Fingerprint;
pub use normalize::normalize_metadata_name;
#[allow(unused_imports, reason = "public API, re-exported from the crate root")]
pub use normalize::try_normalize_metadata_name;
#[allow(unused_imports, reason = "public API, re-exported from the crate root")]
pub use validate::LabelLimits;

/// The metric-name label.
pub(crate) const METRIC_NAME: &str = "__name__";
/// Reserved label Loki adds to backfilled streams.
pub(crate) const BACKFILL_LABEL: &str = "__backfill__";
/// Reserved label Loki adds to backfilled streams, with the shard.
pub(crate) const BACKFILL_SHARD_LABEL: &str = "__backfill_shard__";

/// Whether `name` is a label name under Prometheus' legacy scheme,
/// `[a-zA-Z_][a-zA-Z0-9_]*`. Such names print bare; any other name (Loki
/// accepts any string) prints quoted.
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// Writes `{n1="v1", n2="v2"}` as Prometheus' `labels.Labels.String()`.
pub(crate) fn write_label_list<'a, W: fmt::Write + ?Sized>(
    out: &mut W,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    out.write_char('{')?;
    for (i, (name, value)) in labels.into_iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        if is_legacy_label_name(name) {
            out.write_str(name)?;
        } else {
            quote::write_quoted(out, name, '"')?;
        }
        out.write_char('=')?;
        quote::write_quoted(out, value, '"')?;
    }
    out.write_char('}')
}

/// Displays a string as Go's `%q` does (`strconv.Quote`).
struct GoQuoted<'a>(&'a str);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quote::write_quoted(f, self.0, '"')
    }
}

/// One label: a name and a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// The label name.
    pub name: String,
    /// The label value.
    pub value: String,
}

impl Label {
    /// A label from a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// A set of labels sorted by name, each name at most once, no empty values.
///
/// Displays as Prometheus' `labels.Labels.String()`, which Loki uses for
/// stream keys and messages: `{app="demo", env="prod"}`. Values, and names
/// outside `[a-zA-Z_][a-zA-Z0-9_]*`, are quoted like Go's `strconv.Quote`:
/// `\a \b \f \n \r \t \v \\ \"` escaped, other unprintable characters as
/// `\xNN` / `\uNNNN` / `\UNNNNNNNN`. Printability is Go's `unicode.IsPrint`
/// (categories L, M, N, P, S and U+0020) from a Unicode 15.0 table, so
/// controls, format characters such as U+200B and U+FEFF, U+2028/2029,
/// non-ASCII spaces such as U+00A0, private-use and unassigned code points
/// are escaped. [`Labels::parse`] reads the output back to the same labels,
/// with one exception inherited from Loki: a name or value containing U+FFFD
/// prints the character as is, and Loki's lexer refuses it.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
///
/// let labels: Labels = r#"{env="prod", app="demo", "k8s.pod"=`a"b`}"#.parse().unwrap();
/// assert_eq!(labels.to_string(), r#"{app="demo", env="prod", "k8s.pod"="a\"b"}"#);
///
/// let demo: Labels = r#"{app="demo"}"#.parse().unwrap();
/// assert_eq!(demo.fingerprint().to_string(), "fb31c43a197bbb77");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

/// Why a label set was rejected. Where Loki has the same check, the message
/// is Loki's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelsError {
    /// The same name appears twice ([`Labels::from_pairs`]).
    #[error("duplicate label name {name:?}")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// The labels string is not a valid selector. Displays as Loki's parse
    /// errors do, `1:8: parse error: unexpected ...`; Loki's push handler
    /// prefixes `couldn't parse labels: `.
    #[error("{line}:{column}: parse error: {message}")]
    Parse {
        /// Byte offset of the offending token in the input.
        position: usize,
        /// 1-based line of `position`.
        line: usize,
        /// 1-based column of `position`, in bytes.
        column: usize,
        /// What is wrong, as Prometheus' parser says it.
        message: String,
    },
    /// The labels string is longer than Loki parses (16 MiB - 1 bytes).
    #[error("labels size {} MiB exceeds limit of {}", .size >> 20, parse::MAX_LABELS_SIZE >> 20)]
    TooLarge {
        /// Length of the input in bytes.
        size: usize,
    },
    /// A stream has a name twice (after parsing) or an empty name
    /// ([`Labels::validate`]); Loki's `duplicate_label_names`.
    #[error("stream '{stream}' has duplicate label name: '{name}'")]
    DuplicateLabelName {
        /// The stream, printed as Loki prints it.
        stream: String,
        /// The repeated name.
        name: String,
    },
    /// A pushed stream has no labels; Loki's `missing_labels`.
    #[error("error at least one label pair is required per stream")]
    MissingLabels,
    /// A stream has more labels than allowed; Loki's
    /// `max_label_names_per_series`.
    #[error("entry for stream '{stream}' has {count} label names; limit {limit}")]
    TooManyLabelNames {
        /// The stream, printed.
        stream: String,
        /// Its number of labels, `service_name` not counted.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label name is too long; Loki's `label_name_too_long`.
    #[error("stream '{stream}' has label name too long: '{name}'")]
    LabelNameTooLong {
        /// The stream, printed.
        stream: String,
        /// The name.
        name: String,
    },
    /// A label value is too long; Loki's `label_value_too_long`.
    #[error("stream '{stream}' has label value too long: '{value}'")]
    LabelValueTooLong {
        /// The stream, printed.
        stream: String,
        /// The value.
        value: String,
    },
    /// A pushed stream carries `__backfill__` or `__backfill_shard__`.
    #[error(
        "streams must not contain the reserved labels __backfill__ or __backfill_shard__; \
         set the X-Loki-Backfill-Shard header to mark a push as backfill data"
    )]
    ReservedLabels,
    /// A structured-metadata name normalizes to underscores only, which
    /// Loki refuses when reading (`try_normalize_metadata_name`).
    #[error("normalization for label name {} resulted in invalid name {}", GoQuoted(.name), GoQuoted(.normalized))]
    InvalidMetadataName {
        /// The stored name.
        name: String,
        /// What it normalizes to.
        normalized: String,
    },
}

impl Labels {
    /// Parses a stream selector such as `{app="demo", env="prod"}` exactly as
    /// Loki parses the `labels` of a pushed stream (`syntax.ParseLabels`):
    /// double-, single- or backtick-quoted values with Go escapes, quoted
    /// names, an optional metric name before the braces (stored as
    /// `__name__`), a trailing comma, `#` comments; empty values are dropped
    /// and the result is sorted. Errors carry Loki's message and position.
    /// Never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use lokistore::Labels;
    ///
    /// let labels = Labels::parse(r#"{env="prod", app='demo', empty=""}"#).unwrap();
    /// assert_eq!(labels.to_string(), r#"{app="demo", env="prod"}"#);
    ///
    /// let err = Labels::parse(r#"{app="demo" env="prod"}"#).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"1:13: parse error: unexpected identifier "env" in label set, expected "," or "}""#
    /// );
    /// ```
    pub fn parse(s: &str) -> Result<Self, LabelsError> {
        parse::parse(s)
    }

    /// The empty label set.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs in any order: sorts them by name, drops
    /// empty values (as Loki does) and rejects a name given twice.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self, LabelsError>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<Label> =
            pairs.into_iter().map(|(n, v)| Label::new(n, v)).filter(|l| !l.value.is_empty()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = v.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(LabelsError::DuplicateName { name: w[0].name.clone() });
        }
        Ok(Self(v))
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice, in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok().map(|i| self.0[i].value.as_str())
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stream fingerprint Loki computes for these labels.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_label_list(f, self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

impl FromStr for Labels {
    type Err = LabelsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
