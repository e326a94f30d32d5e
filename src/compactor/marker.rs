//! Marker objects and the sweeper (`../shared/spec/compactor.md` §4.5,
//! §6).
//!
//! A table pass that removes chunk references from the index (retention)
//! or replaces chunks by merged ones (chunk compaction) records what it
//! does in marker objects; the sweeper deletes chunk objects only once a
//! marker is older than the delete delay, so a reader still using an index
//! loaded before the pass never finds a chunk missing.
//!
//! | object | content |
//! |---|---|
//! | `compactor/markers/pending/<ns>-<table>-<n>` | the pass's journal, written before it uploads anything |
//! | `compactor/markers/ready/<ns>-<table>-<n>` | what to delete once the delay passed, written when the pass is settled |
//!
//! A marker is JSON `{"table", "sources", "chunks", "replaced",
//! "new_chunks", "new_index"}`:
//!
//! | field | pending marker | ready marker |
//! |---|---|---|
//! | `sources` | index objects the pass deletes | (informational) |
//! | `chunks` | expired chunk objects | deleted |
//! | `replaced` | chunk objects merged into new ones | deleted unless an index object of the table references them again |
//! | `new_chunks` | chunk objects the pass writes | (empty) |
//! | `new_index` | index objects the pass writes | (informational) |
//!
//! `<ns>` is the creation (pending) or settling (ready) time in Unix ns,
//! 20 digits; the delay runs from the settling. At most 100 000 chunks of
//! each kind per marker.
//!
//! **Recovery** of a pending marker left by a crashed pass (done before
//! anything else in a run): when every `new_index` object exists and
//! reads, the pass rolls forward (its remaining sources are deleted, the
//! marker becomes ready); otherwise it rolls back (the `new_index` objects
//! that exist are deleted, the `new_chunks` go to a ready marker as
//! `replaced`, and the sources, still complete, keep every reference).
//! Either way every chunk reference stays in at least one index object.
//! `replaced` chunks are checked against the table's index at sweep time
//! because a later pass may write byte-identical (same-key) chunks, or an
//! ingester may flush one again; the sweeper treats a chunk already gone
//! as deleted, so marking twice is harmless.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::CompactionReport;
use crate::error::Result;
use crate::index::{TENANT_LABEL, read_object};
use crate::object::ChunkKey;
use crate::store::{ObjectStore, StoreError};

/// Prefix of markers not committed yet.
pub const PENDING_PREFIX: &str = "compactor/markers/pending/";
/// Prefix of committed markers, swept after the delay.
pub const READY_PREFIX: &str = "compactor/markers/ready/";
/// Most chunks of each kind in one marker object (Loki's roll-over size).
const MAX_MARKS_PER_OBJECT: usize = 100_000;

/// One marker object (see the module table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MarkerFile {
    pub(crate) table: String,
    #[serde(default)]
    pub(crate) sources: Vec<String>,
    #[serde(default)]
    pub(crate) chunks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) replaced: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) new_chunks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) new_index: Vec<String>,
}

impl MarkerFile {
    /// True when the marker records nothing to delete or roll back.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.replaced.is_empty() && self.new_chunks.is_empty()
    }

    /// The marker split into objects of at most [`MAX_MARKS_PER_OBJECT`]
    /// chunks of each kind (sources and new index repeated in each).
    fn parts(&self) -> Vec<MarkerFile> {
        let n = [&self.chunks, &self.replaced, &self.new_chunks]
            .iter()
            .map(|v| v.len().div_ceil(MAX_MARKS_PER_OBJECT))
            .max()
            .unwrap_or(0)
            .max(1);
        let part = |v: &[String], i: usize| -> Vec<String> {
            v.chunks(MAX_MARKS_PER_OBJECT).nth(i).map(<[String]>::to_vec).unwrap_or_default()
        };
        (0..n)
            .map(|i| MarkerFile {
                table: self.table.clone(),
                sources: self.sources.clone(),
                chunks: part(&self.chunks, i),
                replaced: part(&self.replaced, i),
                new_chunks: part(&self.new_chunks, i),
                new_index: self.new_index.clone(),
            })
            .collect()
    }

    fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Writes `data` under `<prefix><ns>-<table>-<n>` with the first free `n`;
/// returns the name (without prefix).
fn put_new(store: &dyn ObjectStore, prefix: &str, ns: i64, table: &str, data: &Bytes) -> Result<String> {
    let mut n = 0u32;
    loop {
        let name = format!("{ns:020}-{table}-{n}");
        if store.put_if_absent(&format!("{prefix}{name}"), data.clone())? {
            return Ok(name);
        }
        n = n.saturating_add(1);
    }
}

/// Writes the pending markers of a pass (before it uploads anything).
/// Returns their names.
pub(crate) fn write_pending(store: &dyn ObjectStore, now_ns: i64, marker: &MarkerFile) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for part in marker.parts() {
        names.push(put_new(store, PENDING_PREFIX, now_ns, &marker.table, &part.encode())?);
    }
    Ok(names)
}

/// Settles pending markers of a pass that finished: each becomes a ready
/// marker named by `now_ns` (its new chunks are live now), then the
/// pending one is deleted.
pub(crate) fn commit(store: &dyn ObjectStore, names: &[String], now_ns: i64) -> Result<usize> {
    let mut n = 0;
    for name in names {
        let key = format!("{PENDING_PREFIX}{name}");
        let Some(m) = read_marker(store, &key)? else { continue };
        let m = match m {
            Ok(m) => m,
            // Unreadable: left for `recover_pending` to report.
            Err(_) => continue,
        };
        settle_forward(store, &key, m, now_ns)?;
        n += 1;
    }
    Ok(n)
}

fn settle_forward(store: &dyn ObjectStore, key: &str, m: MarkerFile, now_ns: i64) -> Result<()> {
    let ready = MarkerFile { new_chunks: Vec::new(), ..m };
    if !(ready.chunks.is_empty() && ready.replaced.is_empty()) {
        put_new(store, READY_PREFIX, now_ns, &ready.table, &ready.encode())?;
    }
    store.delete(key)?;
    Ok(())
}

/// A marker object: `Ok(None)` when it vanished, `Ok(Some(Err(why)))` when
/// it does not parse.
fn read_marker(store: &dyn ObjectStore, key: &str) -> Result<Option<std::result::Result<MarkerFile, String>>> {
    let data = match store.get(key) {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(serde_json::from_slice(&data).map_err(|e| format!("unreadable marker: {e}"))))
}

/// The creation time in a marker name (`<ns>-...`).
fn marker_ns(name: &str) -> Option<i64> {
    let (ns, _) = name.split_once('-')?;
    if ns.is_empty() || !ns.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ns.parse().ok()
}

/// Calls `f(key, marker)` for every marker under `prefix` in name (= time)
/// order whose time is at most `until_ns`, stopping at the first younger
/// one. Markers without a time in their name, or that do not parse, are
/// reported and left alone; markers that vanish meanwhile are skipped.
fn for_each_marker(
    store: &dyn ObjectStore,
    prefix: &str,
    until_ns: i64,
    report: &mut CompactionReport,
    mut f: impl FnMut(&str, MarkerFile, &mut CompactionReport) -> Result<()>,
) -> Result<()> {
    for meta in store.list(prefix)? {
        let name = meta.key.get(prefix.len()..).unwrap_or_default();
        let Some(ns) = marker_ns(name) else {
            report.skipped_objects.push((meta.key.clone(), "marker name without a time".to_owned()));
            continue;
        };
        if ns > until_ns {
            break;
        }
        match read_marker(store, &meta.key)? {
            None => {}
            Some(Err(why)) => report.skipped_objects.push((meta.key.clone(), why)),
            Some(Ok(m)) => f(&meta.key, m, report)?,
        }
    }
    Ok(())
}

/// Whether index object `key` exists and reads completely.
fn index_is_whole(store: &dyn ObjectStore, key: &str) -> Result<bool> {
    let data = match store.get(key) {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    Ok(read_object(key, data).is_ok_and(|r| r.all_series().all(|s| s.is_ok())))
}

/// Settles every pending marker left by a crashed pass (see the module
/// comment): roll forward when all its new index objects are whole, roll
/// back otherwise.
pub(crate) fn recover_pending(store: &dyn ObjectStore, now_ns: i64, report: &mut CompactionReport) -> Result<()> {
    // Parts of one pass share `new_index`: decide once per pass.
    let mut decided: HashMap<Vec<String>, bool> = HashMap::new();
    for_each_marker(store, PENDING_PREFIX, i64::MAX, report, |key, m, report| {
        let forward = match decided.get(&m.new_index) {
            Some(&f) => f,
            None => {
                let mut whole = true;
                for k in &m.new_index {
                    if !index_is_whole(store, k)? {
                        whole = false;
                        break;
                    }
                }
                decided.insert(m.new_index.clone(), whole);
                whole
            }
        };
        if forward {
            for s in m.sources.iter().filter(|s| !m.new_index.contains(s)) {
                store.delete(s)?;
                report.files_deleted += 1;
            }
            settle_forward(store, key, m, now_ns)?;
            report.markers_committed += 1;
        } else {
            for k in m.new_index.iter().filter(|k| !m.sources.contains(k)) {
                store.delete(k)?;
            }
            if !m.new_chunks.is_empty() {
                let ready = MarkerFile { table: m.table.clone(), replaced: m.new_chunks, ..MarkerFile::default() };
                put_new(store, READY_PREFIX, now_ns, &ready.table, &ready.encode())?;
            }
            store.delete(key)?;
            report.passes_rolled_back += 1;
        }
        Ok(())
    })
}

/// Paths of every chunk object the index objects of `table` reference, or
/// the first unreadable index object.
fn referenced_chunks(
    store: &dyn ObjectStore,
    path_prefix: &str,
    table: &str,
) -> Result<std::result::Result<HashSet<String>, (String, String)>> {
    let dir = format!("{path_prefix}{table}/");
    let mut out = HashSet::new();
    for meta in store.list(&dir)? {
        let rel = meta.key.get(dir.len()..).unwrap_or_default();
        if !(rel.ends_with(".tsdb.gz") || rel.ends_with(".tsdb")) {
            continue;
        }
        let dir_tenant = rel.split_once('/').map(|(t, _)| t.to_owned());
        let data = match store.get(&meta.key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let reader = match read_object(&meta.key, data) {
            Ok(r) => r,
            Err(e) => return Ok(Err((meta.key.clone(), e.to_string()))),
        };
        for s in reader.all_series() {
            let s = match s {
                Ok(s) => s,
                Err(e) => return Ok(Err((meta.key.clone(), e.to_string()))),
            };
            let Some(tenant) = dir_tenant.clone().or_else(|| s.labels.get(TENANT_LABEL).map(str::to_owned)) else {
                continue;
            };
            for c in &s.chunks {
                let key = ChunkKey {
                    tenant: tenant.clone(),
                    fingerprint: s.fingerprint,
                    from_ms: c.min_time,
                    through_ms: c.max_time,
                    checksum: c.checksum,
                };
                out.insert(store.chunk_path(&key));
            }
        }
    }
    Ok(Ok(out))
}

/// Deletes the chunk objects of every ready marker at least `delay_ns`
/// old (`replaced` ones only when no index object of the table under
/// `path_prefix` references them), then the marker. Idempotent: a
/// restart continues where it stopped.
pub(crate) fn sweep(
    store: &dyn ObjectStore,
    path_prefix: &str,
    now_ns: i64,
    delay_ns: i64,
    report: &mut CompactionReport,
) -> Result<()> {
    let mut referenced: HashMap<String, std::result::Result<HashSet<String>, (String, String)>> = HashMap::new();
    for_each_marker(store, READY_PREFIX, now_ns.saturating_sub(delay_ns), report, |key, m, report| {
        if !m.replaced.is_empty() && !referenced.contains_key(&m.table) {
            let r = referenced_chunks(store, path_prefix, &m.table)?;
            referenced.insert(m.table.clone(), r);
        }
        let live = match referenced.get(&m.table) {
            None => None,
            Some(Ok(live)) => Some(live),
            Some(Err((index, why))) => {
                let why = format!("not swept: index object {index} of its table is unreadable ({why})");
                report.skipped_objects.push((key.to_owned(), why));
                return Ok(());
            }
        };
        for chunk in &m.chunks {
            store.delete(chunk)?;
            report.chunks_deleted += 1;
        }
        for chunk in &m.replaced {
            if live.is_some_and(|l| l.contains(chunk)) {
                report.chunks_kept_referenced += 1;
            } else {
                store.delete(chunk)?;
                report.chunks_deleted += 1;
            }
        }
        store.delete(key)?;
        report.markers_swept += 1;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn marker(sources: &[&str], chunks: &[&str], new_chunks: &[&str], new_index: &[&str]) -> MarkerFile {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        MarkerFile {
            table: "index_1".into(),
            sources: v(sources),
            chunks: v(chunks),
            replaced: Vec::new(),
            new_chunks: v(new_chunks),
            new_index: v(new_index),
        }
    }

    #[test]
    fn pending_rolls_forward_then_sweeps_after_the_delay() {
        let store = MemoryStore::new();
        store.put("t/1/a", Bytes::from_static(b"x")).unwrap();
        store.put("index/src", Bytes::from_static(b"x")).unwrap();
        let names = write_pending(&store, 10, &marker(&["index/src"], &["t/1/a"], &[], &[])).unwrap();
        let mut r = CompactionReport::default();
        // No new index object: the pass had nothing to upload, so it is
        // rolled forward (its sources deleted).
        recover_pending(&store, 20, &mut r).unwrap();
        assert_eq!((r.markers_committed, r.files_deleted), (1, 1));
        assert!(store.get("index/src").is_err());
        assert!(store.get(&format!("{PENDING_PREFIX}{}", names[0])).is_err());
        sweep(&store, "index/", 29, 10, &mut r).unwrap();
        assert!(store.get("t/1/a").is_ok(), "too early");
        sweep(&store, "index/", 30, 10, &mut r).unwrap();
        assert!(store.get("t/1/a").is_err());
        assert!(store.list("compactor/").unwrap().is_empty());
        assert_eq!((r.chunks_deleted, r.markers_swept), (1, 1));
    }

    #[test]
    fn a_pass_without_its_new_index_rolls_back() {
        let store = MemoryStore::new();
        store.put("index/index_1/src", Bytes::from_static(b"x")).unwrap();
        store.put("index/index_1/t/new.tsdb.gz", Bytes::from_static(b"torn")).unwrap();
        store.put("t/1/old", Bytes::from_static(b"x")).unwrap();
        store.put("t/1/new", Bytes::from_static(b"x")).unwrap();
        let m = marker(&["index/index_1/src"], &["t/1/old"], &["t/1/new"], &["index/index_1/t/new.tsdb.gz"]);
        write_pending(&store, 10, &m).unwrap();
        let mut r = CompactionReport::default();
        recover_pending(&store, 20, &mut r).unwrap();
        assert_eq!(r.passes_rolled_back, 1);
        assert!(store.get("index/index_1/src").is_ok(), "sources kept");
        assert!(store.get("index/index_1/t/new.tsdb.gz").is_err(), "torn new index removed");
        sweep(&store, "index/", 100, 10, &mut r).unwrap();
        assert!(store.get("t/1/old").is_ok(), "still referenced by the sources");
        assert!(store.get("t/1/new").is_err(), "written by the rolled back pass");
        assert!(store.list("compactor/").unwrap().is_empty());
    }

    #[test]
    fn large_markers_are_split() {
        let chunks: Vec<String> = (0..MAX_MARKS_PER_OBJECT + 1).map(|i| format!("t/1/{i}")).collect();
        let m = MarkerFile { table: "x".into(), chunks, ..MarkerFile::default() };
        let parts = m.parts();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].chunks.len(), 1);
        assert_eq!(MarkerFile::default().parts().len(), 1);
    }
}
