//! Marker objects and the sweeper (`../shared/spec/compactor.md` §4.5).
//!
//! Retention removes expired chunk references from the index and records
//! the chunk objects to delete in marker objects; the sweeper deletes the
//! objects only once a marker is older than the delete delay, so a reader
//! still using an index loaded before the compaction never finds a chunk
//! missing.
//!
//! | object | content |
//! |---|---|
//! | `compactor/markers/pending/<ns>-<table>-<n>` | JSON `{"table", "sources", "chunks"}`: written before the table's new index is uploaded |
//! | `compactor/markers/ready/<ns>-<table>-<n>` | the same, committed once every source index object of the table is deleted |
//!
//! `<ns>` is the creation (pending) or commit (ready) time in Unix ns, 20
//! digits; the delay runs from the commit. At most 100 000 chunks per
//! marker. A pending marker left by a crash is committed by a later run
//! once none of its sources exist any more (until then the table still
//! references those chunks and its next compaction marks them again);
//! the sweeper treats a chunk already gone as deleted, so marking twice
//! is harmless.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::CompactionReport;
use crate::error::Result;
use crate::store::{ObjectStore, StoreError};

/// Prefix of markers not committed yet.
pub const PENDING_PREFIX: &str = "compactor/markers/pending/";
/// Prefix of committed markers, swept after the delay.
pub const READY_PREFIX: &str = "compactor/markers/ready/";
/// Most chunks in one marker object (Loki's roll-over size).
const MAX_MARKS_PER_OBJECT: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MarkerFile {
    table: String,
    sources: Vec<String>,
    chunks: Vec<String>,
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

/// Writes pending markers for `chunks` (object paths) of `table`, whose
/// index `sources` will be deleted. Returns their names.
pub(crate) fn write_pending(
    store: &dyn ObjectStore,
    now_ns: i64,
    table: &str,
    sources: &[String],
    chunks: &[String],
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for part in chunks.chunks(MAX_MARKS_PER_OBJECT) {
        let m = MarkerFile { table: table.to_owned(), sources: sources.to_vec(), chunks: part.to_vec() };
        let data = Bytes::from(serde_json::to_vec(&m).unwrap_or_default());
        names.push(put_new(store, PENDING_PREFIX, now_ns, table, &data)?);
    }
    Ok(names)
}

/// Commits pending markers: copies each to the ready prefix named by
/// `now_ns`, then deletes the pending one.
pub(crate) fn commit(store: &dyn ObjectStore, names: &[String], now_ns: i64) -> Result<usize> {
    let mut n = 0;
    for name in names {
        let key = format!("{PENDING_PREFIX}{name}");
        let data = match store.get(&key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let table = serde_json::from_slice::<MarkerFile>(&data).map(|m| m.table).unwrap_or_default();
        put_new(store, READY_PREFIX, now_ns, &table, &data)?;
        store.delete(&key)?;
        n += 1;
    }
    Ok(n)
}

fn exists(store: &dyn ObjectStore, key: &str) -> Result<bool> {
    match store.head(key) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Commits pending markers left by earlier runs whose sources are all
/// gone; leaves the others (their tables still reference the chunks).
pub(crate) fn recover_pending(store: &dyn ObjectStore, now_ns: i64, report: &mut CompactionReport) -> Result<()> {
    for meta in store.list(PENDING_PREFIX)? {
        let data = match store.get(&meta.key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let m: MarkerFile = match serde_json::from_slice(&data) {
            Ok(m) => m,
            Err(e) => {
                report.skipped_objects.push((meta.key.clone(), format!("unreadable marker: {e}")));
                continue;
            }
        };
        let mut any = false;
        for s in &m.sources {
            if exists(store, s)? {
                any = true;
                break;
            }
        }
        if !any {
            let name = meta.key[PENDING_PREFIX.len()..].to_owned();
            report.markers_committed += commit(store, &[name], now_ns)?;
        }
    }
    Ok(())
}

/// The creation time in a marker name (`<ns>-...`).
fn marker_ns(name: &str) -> Option<i64> {
    let (ns, _) = name.split_once('-')?;
    if ns.is_empty() || !ns.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ns.parse().ok()
}

/// Deletes the chunk objects of every ready marker at least `delay_ns`
/// old, then the marker. Idempotent: a restart continues where it stopped.
pub(crate) fn sweep(store: &dyn ObjectStore, now_ns: i64, delay_ns: i64, report: &mut CompactionReport) -> Result<()> {
    for meta in store.list(READY_PREFIX)? {
        let name = &meta.key[READY_PREFIX.len()..];
        let Some(ns) = marker_ns(name) else {
            report.skipped_objects.push((meta.key.clone(), "marker name without a time".to_owned()));
            continue;
        };
        if ns.saturating_add(delay_ns) > now_ns {
            // Sorted by name, i.e. by time: the rest are younger.
            break;
        }
        let data = match store.get(&meta.key) {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let m: MarkerFile = match serde_json::from_slice(&data) {
            Ok(m) => m,
            Err(e) => {
                report.skipped_objects.push((meta.key.clone(), format!("unreadable marker: {e}")));
                continue;
            }
        };
        for chunk in &m.chunks {
            store.delete(chunk)?;
            report.chunks_deleted += 1;
        }
        store.delete(&meta.key)?;
        report.markers_swept += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn pending_commit_sweep() {
        let store = MemoryStore::new();
        store.put("t/1/a", Bytes::from_static(b"x")).unwrap();
        store.put("index/src", Bytes::from_static(b"x")).unwrap();
        let names = write_pending(&store, 10, "index_1", &["index/src".into()], &["t/1/a".into()]).unwrap();
        let mut r = CompactionReport::default();
        recover_pending(&store, 20, &mut r).unwrap();
        assert_eq!(r.markers_committed, 0, "source still there");
        store.delete("index/src").unwrap();
        recover_pending(&store, 20, &mut r).unwrap();
        assert_eq!(r.markers_committed, 1);
        assert!(store.get(&format!("{PENDING_PREFIX}{}", names[0])).is_err());
        sweep(&store, 29, 10, &mut r).unwrap();
        assert!(store.get("t/1/a").is_ok(), "too early");
        sweep(&store, 30, 10, &mut r).unwrap();
        assert!(store.get("t/1/a").is_err());
        assert!(store.list("compactor/").unwrap().is_empty());
        assert_eq!((r.chunks_deleted, r.markers_swept), (1, 1));
    }
}
