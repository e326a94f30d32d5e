//! Push-path validation of a stream's labels, as Loki's distributor does it
//! (`Validator.ValidateLabels` in pkg/distributor/validator.go, messages from
//! pkg/validation/validate.go, defaults from pkg/validation/limits.go).
//!
//! Loki does not check label *names* against a character set on push: its
//! parser accepts any quoted string as a name (Prometheus' UTF-8 scheme) and
//! the distributor only checks counts and lengths. The one name it does
//! refuse is the empty one, by accident: the duplicate check compares each
//! name with the previous one, starting from `""`.

use super::{BACKFILL_LABEL, BACKFILL_SHARD_LABEL, Labels, LabelsError};

/// Label `service_name`: not counted against the label-name limit, because
/// Loki adds it itself.
const SERVICE_NAME_LABEL: &str = "service_name";
/// Streams with these labels are Loki's own (aggregated metrics, patterns)
/// and skip validation.
const INTERNAL_STREAM_LABELS: [&str; 2] = ["__aggregated_metric__", "__pattern__"];

/// Per-tenant limits on a stream's labels, as Loki's `limits_config`;
/// [`Default`] gives Loki's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelLimits {
    /// `max_label_names_per_series`: most labels a stream may have, not
    /// counting `service_name` (Loki default 15).
    pub max_label_names_per_series: usize,
    /// `max_label_name_length`: longest label name in bytes (default 1024).
    pub max_label_name_length: usize,
    /// `max_label_value_length`: longest label value in bytes (default
    /// 2048).
    pub max_label_value_length: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        Self { max_label_names_per_series: 15, max_label_name_length: 1024, max_label_value_length: 2048 }
    }
}

impl Labels {
    /// Checks the labels of a pushed stream as Loki's distributor does, in
    /// its order:
    ///
    /// 1. at least one label ([`LabelsError::MissingLabels`]);
    /// 2. streams carrying `__aggregated_metric__` or `__pattern__` are
    ///    Loki-internal and pass without further checks;
    /// 3. at most `max_label_names_per_series` labels, `service_name` not
    ///    counted ([`LabelsError::TooManyLabelNames`]);
    /// 4. then label by label in name order: name length
    ///    ([`LabelsError::LabelNameTooLong`]), value length
    ///    ([`LabelsError::LabelValueTooLong`]), and a name equal to the
    ///    previous one, which for a valid [`Labels`] only happens to the
    ///    empty name ([`LabelsError::DuplicateLabelName`]).
    ///
    /// Errors carry the stream as [`Display`](std::fmt::Display) prints it,
    /// as Loki's messages do. Lengths are in bytes.
    ///
    /// In Loki the push handler has usually added `service_name` before
    /// this runs; that is the caller's business here. See also
    /// [`Labels::check_reserved_labels`], which Loki runs earlier.
    ///
    /// # Examples
    ///
    /// ```
    /// use lokistore::Labels;
    ///
    /// let labels: Labels = r#"{app="demo", env="prod"}"#.parse().unwrap();
    /// assert!(labels.validate(&Default::default()).is_ok());
    /// ```
    pub fn validate(&self, limits: &LabelLimits) -> Result<(), LabelsError> {
        if self.is_empty() {
            return Err(LabelsError::MissingLabels);
        }
        if INTERNAL_STREAM_LABELS.iter().any(|n| self.get(n).is_some()) {
            return Ok(());
        }
        let mut count = self.len();
        if self.get(SERVICE_NAME_LABEL).is_some() {
            count -= 1;
        }
        if count > limits.max_label_names_per_series {
            return Err(LabelsError::TooManyLabelNames {
                stream: self.to_string(),
                count,
                limit: limits.max_label_names_per_series,
            });
        }
        let mut last = "";
        for l in self {
            if l.name.len() > limits.max_label_name_length {
                return Err(LabelsError::LabelNameTooLong { stream: self.to_string(), name: l.name.clone() });
            }
            if l.value.len() > limits.max_label_value_length {
                return Err(LabelsError::LabelValueTooLong { stream: self.to_string(), value: l.value.clone() });
            }
            if l.name == last {
                return Err(LabelsError::DuplicateLabelName { stream: self.to_string(), name: l.name.clone() });
            }
            last = &l.name;
        }
        Ok(())
    }

    /// Rejects a pushed stream that carries Loki's reserved backfill labels
    /// (`__backfill__`, `__backfill_shard__`), which only Loki may add. Loki's
    /// push handler makes this check right after parsing, before
    /// [`Labels::validate`], and fails the whole request with this error.
    pub fn check_reserved_labels(&self) -> Result<(), LabelsError> {
        if self.get(BACKFILL_LABEL).is_some() || self.get(BACKFILL_SHARD_LABEL).is_some() {
            return Err(LabelsError::ReservedLabels);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Labels {
        Labels::parse(s).unwrap()
    }

    fn err(s: &str, limits: &LabelLimits) -> String {
        labels(s).validate(limits).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_lokis() {
        let d = LabelLimits::default();
        assert_eq!((d.max_label_names_per_series, d.max_label_name_length, d.max_label_value_length), (15, 1024, 2048));
    }

    #[test]
    fn accepts_ordinary_streams() {
        let d = LabelLimits::default();
        labels(r#"{app="demo", env="prod"}"#).validate(&d).unwrap();
        labels(r#"{"weird name!"="x", "ü"="y"}"#).validate(&d).unwrap();
        labels(r#"up{a="b"}"#).validate(&d).unwrap();
    }

    #[test]
    fn missing_labels() {
        assert_eq!(
            Labels::empty().validate(&LabelLimits::default()).unwrap_err().to_string(),
            "error at least one label pair is required per stream"
        );
    }

    #[test]
    fn label_count() {
        let limits = LabelLimits { max_label_names_per_series: 2, ..LabelLimits::default() };
        labels(r#"{a="1", b="2"}"#).validate(&limits).unwrap();
        labels(r#"{a="1", b="2", service_name="s"}"#).validate(&limits).unwrap();
        assert_eq!(
            err(r#"{a="1", b="2", c="3"}"#, &limits),
            r#"entry for stream '{a="1", b="2", c="3"}' has 3 label names; limit 2"#
        );
        assert_eq!(
            err(r#"{a="1", b="2", c="3", service_name="s"}"#, &limits),
            r#"entry for stream '{a="1", b="2", c="3", service_name="s"}' has 3 label names; limit 2"#
        );
        // Internal streams skip the checks.
        labels(r#"{a="1", b="2", c="3", __pattern__="p"}"#).validate(&limits).unwrap();
        labels(r#"{a="1", b="2", c="3", __aggregated_metric__="m"}"#).validate(&limits).unwrap();
    }

    #[test]
    fn lengths() {
        let limits = LabelLimits { max_label_name_length: 3, max_label_value_length: 4, ..LabelLimits::default() };
        labels(r#"{abc="1234"}"#).validate(&limits).unwrap();
        assert_eq!(err(r#"{abcd="1"}"#, &limits), r#"stream '{abcd="1"}' has label name too long: 'abcd'"#);
        assert_eq!(err(r#"{a="12345"}"#, &limits), r#"stream '{a="12345"}' has label value too long: '12345'"#);
        // Bytes, not characters.
        assert!(labels(r#"{a="éé"}"#).validate(&limits).is_ok());
        assert!(labels(r#"{a="ééé"}"#).validate(&limits).is_err());
        // Name before value, label by label in name order.
        assert_eq!(
            err(r#"{a="12345", bcde="1"}"#, &limits),
            r#"stream '{a="12345", bcde="1"}' has label value too long: '12345'"#
        );
    }

    #[test]
    fn empty_name_is_a_duplicate() {
        assert_eq!(
            err(r#"{""="x", a="y"}"#, &LabelLimits::default()),
            r#"stream '{""="x", a="y"}' has duplicate label name: ''"#
        );
    }

    #[test]
    fn reserved_backfill_labels() {
        labels(r#"{a="1"}"#).check_reserved_labels().unwrap();
        for s in [r#"{__backfill__="true"}"#, r#"{a="1", __backfill_shard__="3"}"#] {
            assert_eq!(
                labels(s).check_reserved_labels().unwrap_err().to_string(),
                "streams must not contain the reserved labels __backfill__ or __backfill_shard__; \
                 set the X-Loki-Backfill-Shard header to mark a push as backfill data"
            );
        }
    }
}
