//! Listing the index tables of a store (`../shared/spec/compactor.md` §3
//! step 1, `tsdb-index.md` §4.2): objects directly under
//! `<path_prefix><table>/` are the common (multi-tenant) set, objects under
//! `<path_prefix><table>/<tenant>/` the tenant's set.

use std::collections::BTreeMap;

use super::CompactionReport;
use crate::error::Result;
use crate::index::IndexFileName;
use crate::store::ObjectStore;

/// The index objects of one table.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableSources {
    /// The table name (`index_19675`).
    pub name: String,
    /// Its Unix day.
    pub day: i64,
    /// Keys of the multi-tenant files.
    pub common: Vec<String>,
    /// Keys of each tenant's files.
    pub tenants: BTreeMap<String, Vec<String>>,
}

/// The day of a table name `<table_prefix><digits>`.
fn table_day(name: &str, table_prefix: &str) -> Option<i64> {
    let digits = name.strip_prefix(table_prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every table under `path_prefix` with its index objects, most recent
/// first. Objects that are not index files are ignored; index files in an
/// unexpected place or with a name Loki would not write are reported and
/// left alone.
pub(crate) fn list_tables(
    store: &dyn ObjectStore,
    path_prefix: &str,
    table_prefix: &str,
    report: &mut CompactionReport,
) -> Result<Vec<TableSources>> {
    let mut tables: BTreeMap<i64, TableSources> = BTreeMap::new();
    for meta in store.list(path_prefix)? {
        let Some(rel) = meta.key.strip_prefix(path_prefix) else { continue };
        let parts: Vec<&str> = rel.split('/').collect();
        let Some(file) = parts.last() else { continue };
        if !(file.ends_with(".tsdb.gz") || file.ends_with(".tsdb")) {
            continue;
        }
        let mut skip = |why: &str| report.skipped_objects.push((meta.key.clone(), why.to_owned()));
        let Some(table) = parts.first() else { continue };
        let Some(day) = table_day(table, table_prefix) else {
            skip("not in a table this compactor owns");
            continue;
        };
        let name = match IndexFileName::parse(file) {
            Ok(n) => n,
            Err(e) => {
                skip(&e.to_string());
                continue;
            }
        };
        let t =
            tables.entry(day).or_insert_with(|| TableSources { name: (*table).to_owned(), day, ..Default::default() });
        if t.name != *table {
            skip("a second table name for the same day");
            continue;
        }
        match (parts.as_slice(), name) {
            ([_, _], IndexFileName::MultiTenant { .. }) => t.common.push(meta.key.clone()),
            ([_, tenant, _], _) => t.tenants.entry((*tenant).to_owned()).or_default().push(meta.key.clone()),
            _ => skip("index file in an unexpected place"),
        }
    }
    Ok(tables.into_values().rev().collect())
}
