//! Label-set helpers for metric evaluation: sorted `[Label]` slices, kept
//! or reduced by name, printed as Prometheus does.

use crate::labels::Label;

/// The value of `name`, if present.
pub(crate) fn get<'a>(labels: &'a [Label], name: &str) -> Option<&'a str> {
    labels.binary_search_by(|l| l.name.as_str().cmp(name)).ok().and_then(|i| labels.get(i)).map(|l| l.value.as_str())
}

/// Only the labels named in `names`.
pub(crate) fn keep(labels: &[Label], names: &[String]) -> Vec<Label> {
    labels.iter().filter(|l| names.contains(&l.name)).cloned().collect()
}

/// All labels except those named in `names`.
pub(crate) fn without(labels: &[Label], names: &[String]) -> Vec<Label> {
    labels.iter().filter(|l| !names.contains(&l.name)).cloned().collect()
}

/// Sets (or, with an empty value, deletes) `name`, keeping the order.
pub(crate) fn set(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => {
            if let Some(l) = labels.get_mut(i) {
                l.value = value.to_owned();
            }
        }
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, Label::new(name, value)),
    }
}

/// `{a="b", c="d"}` as Prometheus' `Labels.String()`.
pub(crate) fn to_string(labels: &[Label]) -> String {
    let mut s = String::new();
    let _ = crate::labels::write_label_list(&mut s, labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
    s
}
