//! The LogQL syntax tree, shaped for evaluation.
//!
//! | node | LogQL |
//! |---|---|
//! | [`Expr::Log`] / [`LogSelector`] | `{app="x"} \|= "err" \| json \| level="error"` |
//! | [`Stage`] | one pipeline stage: line filter, parser, label filter, formatter, `drop`/`keep` |
//! | [`LabelFilter`] | `a="b"`, `n > 5`, `d >= 1s`, `s < 1MB`, `ip = ip("…")`, `and`/`or` trees (n-ary, flattened) |
//! | [`Expr::Sample`] / [`SampleExpr`] | metric queries |
//! | [`RangeAggregation`] / [`LogRange`] | `rate({…} \| unwrap x [5m] offset 1h) by (l)` |
//! | [`VectorAggregation`] | `topk by (l) (5, …)` |
//! | [`BinaryOpExpr`] | `a / on(l) group_left(m) b`, `x > bool 5` |
//!
//! Normalizations done by the parser (so equal queries give equal trees):
//! parentheses are dropped; consecutive `!=`/`!~`/`!>` operands joined
//! with `or` become separate filters (`!= "a" or "b"` is `!= "a" != "b"`);
//! the `unwrap` and `offset` parts of a range may be written in any of
//! Loki's places; binary operations between two literals are folded
//! (`1 + 2` is `3`, `2 > 7` is `0`); `and`/`,`/juxtaposition chains and
//! `or` chains of label filters are flattened; a vector aggregation without
//! `by`/`without` groups `by ()`.

use std::fmt;
use std::time::Duration;

pub use super::extraction::JsonPathPart;
pub use super::ip::IpMatcher;
pub use super::pattern::PatternNode;
pub use super::units::GoDuration;
pub use crate::index::{MatchOp, Matcher};

/// A parsed LogQL query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A log query: streams of log lines.
    Log(LogSelector),
    /// A metric query: a vector, matrix or scalar.
    Sample(SampleExpr),
}

/// A stream selector and its pipeline: `{app="x"} |= "err" | json`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSelector {
    /// The stream matchers (`{…}`).
    pub matchers: Vec<Matcher>,
    /// The pipeline stages, in written order.
    pub stages: Vec<Stage>,
}

/// One pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "x"`, `!~ "re"`, `|> "<_> x"`, `|= "a" or "b"`, `|= ip("…")`.
    LineFilter(LineFilter),
    /// `| logfmt [--strict] [--keep-empty] [a, b="key"]`.
    Logfmt(LogfmtParser),
    /// `| json [a, b="path"]`.
    Json(JsonParser),
    /// `| regexp "re"`: the Go regex with named captures.
    Regexp(String),
    /// `| pattern "<a> <_> <b>"`.
    Pattern(PatternParser),
    /// `| unpack`.
    Unpack,
    /// `| <label filter>`.
    LabelFilter(LabelFilter),
    /// `| line_format "template"`: the Go template.
    LineFormat(String),
    /// `| label_format a=b, c="template"`.
    LabelFormat(Vec<LabelFormat>),
    /// `| decolorize`.
    Decolorize,
    /// `| drop a, b="v"`.
    Drop(Vec<NamedMatcher>),
    /// `| keep a, b="v"`.
    Keep(Vec<NamedMatcher>),
}

/// A line filter: an operator and one or more operands joined by `or`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    /// The operator.
    pub op: LineFilterOp,
    /// The operands (never empty). More than one only for the positive
    /// operators `|=`, `|~`, `|>`: the line passes if any operand matches.
    pub args: Vec<LineFilterArg>,
}

/// A line filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFilterOp {
    /// `|=`: contains.
    Contains,
    /// `!=`: does not contain.
    NotContains,
    /// `|~`: the regex matches somewhere.
    Regex,
    /// `!~`: the regex matches nowhere.
    NotRegex,
    /// `|>`: the pattern matches the whole line.
    Pattern,
    /// `!>`: the pattern does not match.
    NotPattern,
}

impl LineFilterOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contains => "|=",
            Self::NotContains => "!=",
            Self::Regex => "|~",
            Self::NotRegex => "!~",
            Self::Pattern => "|>",
            Self::NotPattern => "!>",
        }
    }

    /// Whether the operator keeps lines that do *not* match.
    pub fn is_negative(self) -> bool {
        matches!(self, Self::NotContains | Self::NotRegex | Self::NotPattern)
    }
}

/// A line filter operand.
#[derive(Debug, Clone, PartialEq)]
pub enum LineFilterArg {
    /// A substring, regex or pattern, per the operator.
    Text(String),
    /// `ip("…")` (only with `|=` and `!=`).
    Ip(IpFilter),
}

/// An `ip("…")` operand: the pattern as written and what it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpFilter {
    /// The pattern as written.
    pub pattern: String,
    /// The parsed address, prefix or range.
    pub matcher: IpMatcher,
}

/// `| logfmt`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogfmtParser {
    /// `--strict`: stop at the first malformed pair and set `__error__`.
    pub strict: bool,
    /// `--keep-empty`: keep pairs with empty values.
    pub keep_empty: bool,
    /// Only these keys, renamed (empty: every key).
    pub extractions: Vec<LogfmtExtraction>,
}

/// `label="key"` (or `label`) after `logfmt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogfmtExtraction {
    /// The label to set.
    pub label: String,
    /// The expression as written (the label itself when omitted).
    pub expr: String,
    /// The logfmt key the expression names.
    pub key: String,
}

/// `| json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonParser {
    /// Only these paths (empty: every scalar leaf).
    pub extractions: Vec<JsonExtraction>,
}

/// `label="path"` (or `label`) after `json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonExtraction {
    /// The label to set.
    pub label: String,
    /// The path expression as written (the label itself when omitted).
    pub expr: String,
    /// The parsed path: `a.b[0]["c d"]` is `[Key(a), Key(b), Index(0), Key(c d)]`.
    pub path: Vec<JsonPathPart>,
}

/// `| pattern "…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternParser {
    /// The pattern as written.
    pub pattern: String,
    /// Literals and captures (`<_>` is a capture named `_`), never two
    /// captures in a row.
    pub nodes: Vec<PatternNode>,
}

/// A label filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// `name="v"`, `!=`, `=~`, `!~`: string comparison (an absent label is `""`).
    Matcher(Matcher),
    /// `name > 5`: the value parsed as a float.
    Number {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The literal.
        value: f64,
    },
    /// `name > 1s`: the value parsed as a Go duration.
    Duration {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The literal.
        value: GoDuration,
    },
    /// `name > 1MB`: the value parsed as a byte size.
    Bytes {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The literal in bytes.
        value: u64,
    },
    /// `name = ip("…")` / `name != ip("…")`.
    Ip {
        /// The label.
        name: String,
        /// `!=` rather than `=`.
        negated: bool,
        /// The pattern.
        filter: IpFilter,
    },
    /// All must pass (`and`, `,` or juxtaposition); at least two operands,
    /// none of them an `And`. Every operand is evaluated.
    And(Vec<LabelFilter>),
    /// One must pass, tried left to right; at least two operands, none of
    /// them an `Or`.
    Or(Vec<LabelFilter>),
}

impl LabelFilter {
    /// `a and b`, flattening nested `And`s.
    pub fn and(a: LabelFilter, b: LabelFilter) -> LabelFilter {
        let mut items = Vec::new();
        for f in [a, b] {
            match f {
                LabelFilter::And(inner) => items.extend(inner),
                other => items.push(other),
            }
        }
        LabelFilter::And(items)
    }

    /// `a or b`, flattening nested `Or`s.
    pub fn or(a: LabelFilter, b: LabelFilter) -> LabelFilter {
        let mut items = Vec::new();
        for f in [a, b] {
            match f {
                LabelFilter::Or(inner) => items.extend(inner),
                other => items.push(other),
            }
        }
        LabelFilter::Or(items)
    }
}

/// A comparison in numeric, duration and bytes label filters (`=` and
/// `==` are both [`CmpOp::Eq`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==` (or `=`)
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CmpOp {
    /// The operator as Loki prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// One `label_format` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelFormat {
    /// `dst=src`: move the value of `src` to `dst`.
    Rename {
        /// The new label.
        dst: String,
        /// The label to move.
        src: String,
    },
    /// `dst="template"`: set `dst` from a Go template.
    Template {
        /// The label to set.
        dst: String,
        /// The template.
        template: String,
    },
}

impl LabelFormat {
    /// The label this item sets.
    pub fn dst(&self) -> &str {
        match self {
            Self::Rename { dst, .. } | Self::Template { dst, .. } => dst,
        }
    }
}

/// A `drop` / `keep` operand.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedMatcher {
    /// A label name.
    Name(String),
    /// A label matching `name op "value"`.
    Matcher(Matcher),
}

/// A metric query.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleExpr {
    /// `rate({…}[5m])`.
    RangeAggregation(RangeAggregation),
    /// `sum by (l) (…)`.
    VectorAggregation(VectorAggregation),
    /// `a + b`.
    BinaryOp(BinaryOpExpr),
    /// A number (possibly the folded result of literal arithmetic).
    Literal(f64),
    /// `vector(1)`.
    Vector(f64),
    /// `label_replace(…)`.
    LabelReplace(LabelReplace),
}

/// A range aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAggregation {
    /// The function.
    pub op: RangeOp,
    /// The parameter (`quantile_over_time` only, where it is required).
    pub param: Option<f64>,
    /// The log range.
    pub range: LogRange,
    /// `by`/`without` (only for the ops Loki allows).
    pub grouping: Option<Grouping>,
}

/// `{…} | pipeline | unwrap x [range] offset d`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRange {
    /// The log query whose lines are aggregated.
    pub selector: LogSelector,
    /// `| unwrap …`, after the pipeline.
    pub unwrap: Option<Unwrap>,
    /// The window length (Prometheus duration: whole milliseconds).
    pub range: Duration,
    /// `offset …` (zero when absent; may be negative).
    pub offset: GoDuration,
}

/// `| unwrap [conv(]label[)] | post-filters`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    /// The label whose value becomes the sample.
    pub label: String,
    /// The conversion (`None`: `strconv.ParseFloat`).
    pub conversion: Option<Conversion>,
    /// Label filters applied after the conversion.
    pub post_filters: Vec<LabelFilter>,
}

/// An unwrap conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    /// `bytes(l)`: humanize byte sizes.
    Bytes,
    /// `duration(l)`: Go duration in seconds.
    Duration,
    /// `duration_seconds(l)`: the same as `duration`.
    DurationSeconds,
}

impl Conversion {
    /// The function name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bytes => "bytes",
            Self::Duration => "duration",
            Self::DurationSeconds => "duration_seconds",
        }
    }
}

/// `by (…)` / `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grouping {
    /// `without` rather than `by`.
    pub without: bool,
    /// The labels, as written.
    pub labels: Vec<String>,
}

impl Grouping {
    /// `by ()`: one group without labels.
    pub fn is_singleton(&self) -> bool {
        !self.without && self.labels.is_empty()
    }
}

/// A vector aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorAggregation {
    /// The function.
    pub op: VectorOp,
    /// `k` of `topk`, `bottomk`, `approx_topk` (always > 0; `None` for the
    /// other functions).
    pub param: Option<i64>,
    /// The grouping (`by ()` when none was written).
    pub grouping: Grouping,
    /// The aggregated expression.
    pub expr: Box<SampleExpr>,
}

/// A binary operation between metric expressions (at least one side is not
/// a literal).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryOpExpr {
    /// The operator.
    pub op: BinaryOp,
    /// `bool`: comparisons return 0/1 instead of filtering.
    pub return_bool: bool,
    /// `on`/`ignoring` and `group_left`/`group_right`.
    pub matching: VectorMatching,
    /// The left operand.
    pub lhs: Box<SampleExpr>,
    /// The right operand.
    pub rhs: Box<SampleExpr>,
}

/// How the series of two vectors are paired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: Cardinality,
    /// `on (labels)` rather than `ignoring (labels)`.
    pub on: bool,
    /// The `on`/`ignoring` labels.
    pub labels: Vec<String>,
    /// The `group_left (…)` / `group_right (…)` labels.
    pub include: Vec<String>,
}

/// The cardinality of a vector match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cardinality {
    /// Default.
    #[default]
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
}

/// `label_replace(expr, "dst", "replacement", "src", "regex")`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelReplace {
    /// The input.
    pub expr: Box<SampleExpr>,
    /// The label to write.
    pub dst: String,
    /// The replacement (`$1`, `${name}`).
    pub replacement: String,
    /// The label to match.
    pub src: String,
    /// The regex, anchored when evaluated (`^(?:regex)$`).
    pub regex: String,
}

macro_rules! op_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The name as written in LogQL.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

op_enum! {
    /// A range aggregation function.
    RangeOp {
        /// `count_over_time`
        CountOverTime => "count_over_time",
        /// `rate`
        Rate => "rate",
        /// `rate_counter`
        RateCounter => "rate_counter",
        /// `bytes_over_time`
        BytesOverTime => "bytes_over_time",
        /// `bytes_rate`
        BytesRate => "bytes_rate",
        /// `avg_over_time`
        AvgOverTime => "avg_over_time",
        /// `sum_over_time`
        SumOverTime => "sum_over_time",
        /// `min_over_time`
        MinOverTime => "min_over_time",
        /// `max_over_time`
        MaxOverTime => "max_over_time",
        /// `stdvar_over_time`
        StdvarOverTime => "stdvar_over_time",
        /// `stddev_over_time`
        StddevOverTime => "stddev_over_time",
        /// `quantile_over_time`
        QuantileOverTime => "quantile_over_time",
        /// `first_over_time`
        FirstOverTime => "first_over_time",
        /// `last_over_time`
        LastOverTime => "last_over_time",
        /// `absent_over_time`
        AbsentOverTime => "absent_over_time",
    }
}

impl RangeOp {
    /// Whether `by`/`without` is allowed.
    pub fn allows_grouping(self) -> bool {
        use RangeOp::*;
        matches!(
            self,
            AvgOverTime
                | StddevOverTime
                | StdvarOverTime
                | QuantileOverTime
                | MaxOverTime
                | MinOverTime
                | FirstOverTime
                | LastOverTime
        )
    }

    /// Whether the function works on unwrapped values.
    pub fn allows_unwrap(self) -> bool {
        use RangeOp::*;
        !matches!(self, CountOverTime | BytesOverTime | BytesRate)
    }

    /// Whether the function works on log lines without `unwrap`.
    pub fn allows_lines(self) -> bool {
        use RangeOp::*;
        matches!(self, BytesOverTime | BytesRate | CountOverTime | Rate | AbsentOverTime)
    }
}

op_enum! {
    /// A vector aggregation function.
    VectorOp {
        /// `sum`
        Sum => "sum",
        /// `avg`
        Avg => "avg",
        /// `count`
        Count => "count",
        /// `max`
        Max => "max",
        /// `min`
        Min => "min",
        /// `stddev`
        Stddev => "stddev",
        /// `stdvar`
        Stdvar => "stdvar",
        /// `bottomk`
        Bottomk => "bottomk",
        /// `topk`
        Topk => "topk",
        /// `sort`
        Sort => "sort",
        /// `sort_desc`
        SortDesc => "sort_desc",
        /// `approx_topk`
        ApproxTopk => "approx_topk",
    }
}

impl VectorOp {
    /// Whether the function takes the integer parameter `k`.
    pub fn takes_param(self) -> bool {
        matches!(self, Self::Topk | Self::Bottomk | Self::ApproxTopk)
    }
}

op_enum! {
    /// A binary operator.
    BinaryOp {
        /// `or`
        Or => "or",
        /// `and`
        And => "and",
        /// `unless`
        Unless => "unless",
        /// `+`
        Add => "+",
        /// `-`
        Sub => "-",
        /// `*`
        Mul => "*",
        /// `/`
        Div => "/",
        /// `%`
        Mod => "%",
        /// `^`
        Pow => "^",
        /// `==`
        Eq => "==",
        /// `!=`
        Ne => "!=",
        /// `>`
        Gt => ">",
        /// `>=`
        Ge => ">=",
        /// `<`
        Lt => "<",
        /// `<=`
        Le => "<=",
    }
}

impl BinaryOp {
    /// `and`, `or`, `unless`.
    pub fn is_set_op(self) -> bool {
        matches!(self, Self::And | Self::Or | Self::Unless)
    }

    /// `== != > >= < <=`.
    pub fn is_comparison(self) -> bool {
        matches!(self, Self::Eq | Self::Ne | Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }

    /// Binding strength: `or` 1, `and`/`unless` 2, comparisons 3, `+ -` 4,
    /// `* / %` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And | Self::Unless => 2,
            Self::Eq | Self::Ne | Self::Gt | Self::Ge | Self::Lt | Self::Le => 3,
            Self::Add | Self::Sub => 4,
            Self::Mul | Self::Div | Self::Mod => 5,
            Self::Pow => 6,
        }
    }

    /// Whether `a op b op c` is `a op (b op c)` (only `^`).
    pub fn is_right_associative(self) -> bool {
        self == Self::Pow
    }

    /// Applies the operator to two numbers as Loki folds literals
    /// (`MergeBinOp` without filtering): division and modulo by zero are
    /// NaN, comparisons give 1 or 0. `None` for set operators.
    pub fn apply(self, l: f64, r: f64) -> Option<f64> {
        let b = |v: bool| if v { 1.0 } else { 0.0 };
        Some(match self {
            Self::Add => l + r,
            Self::Sub => l - r,
            Self::Mul => l * r,
            Self::Div => {
                if r == 0.0 {
                    f64::NAN
                } else {
                    l / r
                }
            }
            Self::Mod => {
                if r == 0.0 {
                    f64::NAN
                } else {
                    l % r
                }
            }
            Self::Pow => l.powf(r),
            Self::Eq => b(l == r),
            Self::Ne => b(l != r),
            Self::Gt => b(l > r),
            Self::Ge => b(l >= r),
            Self::Lt => b(l < r),
            Self::Le => b(l <= r),
            Self::Or | Self::And | Self::Unless => return None,
        })
    }
}

impl Expr {
    /// The log query, if this is one.
    pub fn as_log(&self) -> Option<&LogSelector> {
        match self {
            Self::Log(l) => Some(l),
            Self::Sample(_) => None,
        }
    }

    /// The metric query, if this is one.
    pub fn as_sample(&self) -> Option<&SampleExpr> {
        match self {
            Self::Sample(s) => Some(s),
            Self::Log(_) => None,
        }
    }
}
