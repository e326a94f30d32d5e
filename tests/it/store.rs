//! Tests: one conformance suite for the `ObjectStore` contract, run against
//! every store (memory, local filesystem, fault-injecting wrapper, and with
//! the cloud features `object_store`'s in-memory store and S3 on a local
//! `moto_server`), plus what is particular to each store.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use lokistore::ChunkKey;
use lokistore::store::{Fault, FaultyStore, LocalFsStore, MemoryStore, ObjectStore, Op, StoreError};

// ---------------------------------------------------------------------------
// The suite

/// One part of the suite.
type Part = fn(&dyn ObjectStore);

/// The whole contract, on a store that starts empty. Every part removes
/// what it wrote, so the store is empty again at the end.
fn conformance(store: &dyn ObjectStore) {
    assert_eq!(keys(store, ""), Vec::<String>::new(), "the suite needs an empty store");
    let parts: [(&str, Part); 13] = [
        ("round_trip", round_trip),
        ("overwrite", overwrite),
        ("empty_object", empty_object),
        ("large_object", large_object),
        ("missing", missing),
        ("ranges", ranges),
        ("list_prefixes", list_prefixes),
        ("delete", delete),
        ("put_if_absent", put_if_absent),
        ("invalid_keys", invalid_keys),
        ("loki_key_characters", loki_key_characters),
        ("chunk_paths", chunk_paths),
        ("concurrent_puts", concurrent_puts),
    ];
    for (name, part) in parts {
        part(store);
        assert_eq!(keys(store, ""), Vec::<String>::new(), "{name} left objects behind");
    }
}

/// The keys `list(prefix)` returns, checking that they come sorted.
fn keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let listed: Vec<String> = store.list(prefix).unwrap().into_iter().map(|m| m.key).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "list({prefix:?}) is not sorted");
    listed
}

/// Deterministic bytes that do not repeat with a short period.
fn pseudo_random(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn assert_invalid_range(result: Result<Bytes, StoreError>, key: &str, range: Range<u64>, size: u64) {
    match result {
        Err(StoreError::InvalidRange { key: k, range: r, size: s }) => {
            assert_eq!((k.as_str(), r, s), (key, range, size))
        }
        other => panic!("{key} {range:?}: expected InvalidRange, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, key: &str) {
    match result {
        Err(StoreError::NotFound { key: k }) => assert_eq!(k, key),
        other => panic!("{key}: expected NotFound, got {other:?}"),
    }
}

fn round_trip(store: &dyn ObjectStore) {
    let key = "rt/a/b/c.txt";
    store.put(key, Bytes::from_static(b"hello")).unwrap();
    assert_eq!(store.get(key).unwrap(), Bytes::from_static(b"hello"));
    let head = store.head(key).unwrap();
    assert_eq!((head.key.as_str(), head.size), (key, 5));
    assert_eq!(store.list("rt/").unwrap(), vec![head]);
    store.delete(key).unwrap();
}

fn overwrite(store: &dyn ObjectStore) {
    let key = "ow/k";
    store.put(key, Bytes::from_static(b"the first, longer value")).unwrap();
    store.put(key, Bytes::from_static(b"second")).unwrap();
    assert_eq!(store.get(key).unwrap(), Bytes::from_static(b"second"));
    assert_eq!(store.head(key).unwrap().size, 6);
    assert_eq!(keys(store, "ow"), vec![key]);
    store.delete(key).unwrap();
}

fn empty_object(store: &dyn ObjectStore) {
    let key = "empty/k";
    store.put(key, Bytes::new()).unwrap();
    assert_eq!(store.get(key).unwrap(), Bytes::new());
    assert_eq!(store.head(key).unwrap().size, 0);
    assert_eq!(store.get_range(key, 0..0).unwrap(), Bytes::new());
    assert_invalid_range(store.get_range(key, 0..1), key, 0..1, 0);
    let listed = store.list("empty/").unwrap();
    assert_eq!((listed.len(), listed[0].size), (1, 0));
    store.delete(key).unwrap();
}

fn large_object(store: &dyn ObjectStore) {
    let key = "large/k";
    let data = pseudo_random(3 << 20, 7);
    store.put(key, data.clone()).unwrap();
    assert!(store.get(key).unwrap() == data, "large object differs");
    assert_eq!(store.head(key).unwrap().size, data.len() as u64);
    assert_eq!(store.get_range(key, 1_000_000..1_000_100).unwrap(), data.slice(1_000_000..1_000_100));
    let tail = data.len() as u64 - 10..data.len() as u64;
    assert_eq!(store.get_range(key, tail).unwrap(), data.slice(data.len() - 10..));
    store.delete(key).unwrap();
}

fn missing(store: &dyn ObjectStore) {
    let key = "missing/never/written";
    assert_not_found(store.get(key), key);
    assert_not_found(store.head(key), key);
    assert_not_found(store.get_range(key, 0..1), key);
    assert_not_found(store.get_range(key, 0..0), key);
    assert!(store.get(key).unwrap_err().is_not_found());
    assert_eq!(keys(store, "missing/"), Vec::<String>::new());
}

#[expect(clippy::reversed_empty_ranges, reason = "a reversed range must be refused")]
fn ranges(store: &dyn ObjectStore) {
    let key = "ranges/k";
    let data: Bytes = (0..100u8).collect::<Vec<_>>().into();
    store.put(key, data.clone()).unwrap();
    for range in [0..10, 40..60, 90..100, 0..100, 99..100, 50..50, 0..0, 100..100] {
        let got = store.get_range(key, range.clone()).unwrap();
        assert_eq!(got, data.slice(range.start as usize..range.end as usize), "{range:?}");
    }
    for range in [95..101, 0..101, 100..101, 200..300, 101..101, 10..5] {
        assert_invalid_range(store.get_range(key, range.clone()), key, range, 100);
    }
    store.delete(key).unwrap();
}

fn list_prefixes(store: &dyn ObjectStore) {
    let all = [
        "fake/0000000000000001/1:2:3",
        "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e",
        "index/index_19675/a.tsdb.gz",
        "index/index_19675/b.tsdb.gz",
        "index/index_19676/c.tsdb.gz",
        "index_old/x",
        "indexfile",
        "other/deep/er/still/x",
    ];
    // Written out of order, to check that listing sorts.
    for (i, key) in all.iter().enumerate().rev() {
        store.put(key, Bytes::from(vec![b'x'; i + 1])).unwrap();
    }
    let expect = |prefix: &str, want: &[&str]| assert_eq!(keys(store, prefix), want, "list({prefix:?})");
    expect("", &all);
    expect("ind", &all[2..7]);
    expect("index", &all[2..7]);
    expect("index/", &all[2..5]);
    expect("index/index_1967", &all[2..5]);
    expect("index/index_19675/", &all[2..4]);
    expect("index/index_19675/a", &all[2..3]);
    expect("index/index_19675/a.tsdb.gz", &all[2..3]);
    expect("index_", &all[5..6]);
    expect("other/", &all[7..]);
    expect("other/deep/er/", &all[7..]);
    expect("fake/", &all[..2]);
    expect("f", &all[..2]);
    expect("nothing/", &[]);
    expect("zzz", &[]);
    expect("index/index_19675/a.tsdb.gz/", &[]);
    let sizes: Vec<u64> = store.list("").unwrap().iter().map(|m| m.size).collect();
    assert_eq!(sizes, (1..=all.len() as u64).collect::<Vec<_>>());
    for prefix in ["/", "/index", "../", "index/../", "a//", "./x", "a\0"] {
        assert!(matches!(store.list(prefix), Err(StoreError::InvalidKey { .. })), "list({prefix:?})");
    }
    for key in all {
        store.delete(key).unwrap();
    }
}

fn delete(store: &dyn ObjectStore) {
    let key = "del/a/k";
    store.put(key, Bytes::from_static(b"x")).unwrap();
    store.put("del/b", Bytes::from_static(b"y")).unwrap();
    store.delete(key).unwrap();
    assert_not_found(store.get(key), key);
    assert_not_found(store.head(key), key);
    assert_eq!(keys(store, "del/"), vec!["del/b"]);
    store.delete(key).unwrap();
    store.delete("del/never/existed").unwrap();
    store.delete("del/b").unwrap();
    store.delete("del/b").unwrap();
}

fn put_if_absent(store: &dyn ObjectStore) {
    let key = "pia/k";
    assert!(store.put_if_absent(key, Bytes::from_static(b"first")).unwrap());
    assert!(!store.put_if_absent(key, Bytes::from_static(b"second, longer")).unwrap());
    assert_eq!(store.get(key).unwrap(), Bytes::from_static(b"first"));
    store.put(key, Bytes::from_static(b"put replaces")).unwrap();
    assert!(!store.put_if_absent(key, Bytes::new()).unwrap());
    assert_eq!(store.get(key).unwrap(), Bytes::from_static(b"put replaces"));
    store.delete(key).unwrap();
    assert!(store.put_if_absent(key, Bytes::from_static(b"again")).unwrap());
    assert_eq!(store.get(key).unwrap(), Bytes::from_static(b"again"));
    store.delete(key).unwrap();

    // Racing writers: exactly one wins, and its object is the one stored.
    let race = "pia/race";
    let winners: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| s.spawn(move || store.put_if_absent(race, Bytes::from(vec![i as u8; 1000])).unwrap().then_some(i)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(store.get(race).unwrap(), Bytes::from(vec![winners[0] as u8; 1000]));
    store.delete(race).unwrap();
}

fn invalid_keys(store: &dyn ObjectStore) {
    for key in ["../x", "a/../../x", "/abs", "a//b", "a/./b", "a/.", "a/..", "", "a\0b", "a\\b", "a/", "."] {
        let is_invalid = |r: Result<(), StoreError>| match r {
            Err(StoreError::InvalidKey { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key:?}: expected InvalidKey, got {other:?}"),
        };
        is_invalid(store.put(key, Bytes::from_static(b"x")));
        is_invalid(store.put_if_absent(key, Bytes::from_static(b"x")).map(|_| ()));
        is_invalid(store.get(key).map(|_| ()));
        is_invalid(store.get_range(key, 0..1).map(|_| ()));
        is_invalid(store.head(key).map(|_| ()));
        is_invalid(store.delete(key));
    }
}

fn loki_key_characters(store: &dyn ObjectStore) {
    let keys_in = [
        "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e",
        "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=",
        "fake/fb31c43a197bbb77/-1:-ff:0",
        "t!-_*'()x/a==/b=c",
        "t/with space/x",
    ];
    for (i, key) in keys_in.iter().enumerate() {
        store.put(key, Bytes::from(format!("object {i}"))).unwrap();
    }
    for (i, key) in keys_in.iter().enumerate() {
        assert_eq!(store.get(key).unwrap(), Bytes::from(format!("object {i}")), "{key}");
        assert_eq!(store.head(key).unwrap().key, *key);
    }
    let mut sorted = keys_in.map(str::to_owned).to_vec();
    sorted.sort();
    assert_eq!(keys(store, ""), sorted);
    assert_eq!(keys(store, "fake/fb31c43a197bbb77/18bcfe56800:"), vec![keys_in[0]]);
    for key in keys_in {
        store.delete(key).unwrap();
    }
}

fn chunk_paths(store: &dyn ObjectStore) {
    let key = ChunkKey::parse("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").unwrap();
    let path = store.chunk_path(&key);
    assert!(path == key.to_string() || path == key.to_fs_path(), "{path}");
    store.put(&path, Bytes::from_static(b"chunk")).unwrap();
    assert_eq!(keys(store, "fake/"), vec![path.clone()]);
    assert_eq!(ChunkKey::from_fs_path(&path).unwrap_or_else(|_| ChunkKey::parse(&path).unwrap()), key);
    store.delete(&path).unwrap();
}

fn concurrent_puts(store: &dyn ObjectStore) {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 8;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let data = pseudo_random(1000 + i, (t * 100 + i) as u64);
                    store.put(&format!("conc/t{t}/k{i}"), data).unwrap();
                    // Everyone also replaces one shared object, whole.
                    store.put("conc/shared", Bytes::from(vec![t as u8; 64 << 10])).unwrap();
                }
            });
        }
    });
    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            let key = format!("conc/t{t}/k{i}");
            assert_eq!(store.get(&key).unwrap(), pseudo_random(1000 + i, (t * 100 + i) as u64), "{key}");
        }
    }
    let shared = store.get("conc/shared").unwrap();
    assert_eq!(shared.len(), 64 << 10);
    assert!(shared.iter().all(|b| *b == shared[0]) && (shared[0] as usize) < THREADS, "torn shared object");
    let listed = keys(store, "conc/");
    assert_eq!(listed.len(), THREADS * PER_THREAD + 1);
    // Deleting concurrently, too.
    std::thread::scope(|s| {
        for chunk in listed.chunks(7) {
            s.spawn(move || chunk.iter().for_each(|key| store.delete(key).unwrap()));
        }
    });
}

// ---------------------------------------------------------------------------
// MemoryStore

#[test]
fn memory_store_conformance() {
    let store = MemoryStore::new();
    conformance(&store);
    assert!(store.is_empty());
}

#[test]
fn memory_store_counts_and_plain_chunk_paths() {
    let store = MemoryStore::new();
    store.put("a", Bytes::from_static(b"123")).unwrap();
    store.put("b/c", Bytes::from_static(b"45")).unwrap();
    assert_eq!((store.len(), store.total_bytes(), store.is_empty()), (2, 5, false));
    let key = ChunkKey::parse("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").unwrap();
    assert_eq!(store.chunk_path(&key), "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e");
}

// ---------------------------------------------------------------------------
// LocalFsStore

#[test]
fn local_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = LocalFsStore::open(&root).unwrap();
    conformance(&store);
    // Nothing escaped the root, and deletes removed the directories they emptied.
    let beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, vec!["store"]);
    let inside: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(inside, vec![".tmp"]);
    assert_eq!(std::fs::read_dir(root.join(".tmp")).unwrap().count(), 0, "temp files left behind");
}

#[test]
fn local_store_files_and_base64_chunk_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFsStore::open(dir.path()).unwrap();
    assert_eq!(store.root(), dir.path());
    let key = ChunkKey::parse("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").unwrap();
    let path = store.chunk_path(&key);
    assert_eq!(path, "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=");
    store.put(&path, Bytes::from_static(b"chunk")).unwrap();
    // Where Loki's filesystem store keeps it.
    let file = dir.path().join("fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=");
    assert_eq!(std::fs::read(file).unwrap(), b"chunk");
    let listed = store.list("fake/").unwrap();
    assert_eq!(ChunkKey::from_fs_path(&listed[0].key).unwrap(), key);
    assert!(listed[0].last_modified.is_some());
}

#[test]
fn local_store_cleans_temp_files_and_reserves_only_its_temp_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFsStore::open(dir.path()).unwrap();
    store.put("index/a", Bytes::from_static(b"kept")).unwrap();
    drop(store);
    // What a crash in the middle of writes leaves, plus files of other tools.
    let tmp = dir.path().join(".tmp");
    std::fs::write(tmp.join("junk"), b"partial").unwrap();
    std::fs::write(tmp.join(format!("{}-3.tmp", std::process::id().wrapping_add(1))), b"partial").unwrap();
    std::fs::create_dir(tmp.join("subdir")).unwrap();
    std::fs::write(dir.path().join(".DS_Store"), b"x").unwrap();
    std::fs::write(dir.path().join("index/.hidden"), b"x").unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/HEAD"), b"x").unwrap();

    let store = LocalFsStore::open(dir.path()).unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "stale temp files survived open");
    assert_eq!(keys(&store, ""), vec![".DS_Store", ".git/HEAD", "index/.hidden", "index/a"]);
    assert_eq!(keys(&store, "."), vec![".DS_Store", ".git/HEAD"]);
    assert_eq!(keys(&store, ".tmp/"), Vec::<String>::new());
    assert_eq!(keys(&store, "index/."), vec!["index/.hidden"]);
    assert_eq!(store.get("index/a").unwrap(), Bytes::from_static(b"kept"));
    // Only the top-level temp directory is the store's own; other names
    // starting with `.` (a tenant `.team`, say) are ordinary keys.
    for key in [".tmp/junk", ".tmp"] {
        assert!(matches!(store.get(key), Err(StoreError::InvalidKey { .. })), "{key}");
        assert!(matches!(store.put(key, Bytes::new()), Err(StoreError::InvalidKey { .. })), "{key}");
    }
    assert_eq!(store.get(".DS_Store").unwrap(), Bytes::from_static(b"x"));
}

#[test]
fn local_store_open_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    match LocalFsStore::open(&file) {
        Err(StoreError::Io { op: "open", key, .. }) => assert!(key.ends_with("a-file"), "{key}"),
        other => panic!("{other:?}"),
    }
    // A key that runs through a file is a missing object, a failed write.
    let store = LocalFsStore::open(dir.path().join("s")).unwrap();
    store.put("f", Bytes::from_static(b"x")).unwrap();
    assert!(store.get("f/g").unwrap_err().is_not_found());
    assert!(matches!(store.put("f/g", Bytes::new()), Err(StoreError::Io { op: "put", .. })));
    assert_eq!(std::fs::read_dir(dir.path().join("s/.tmp")).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------
// FaultyStore

#[test]
fn faulty_store_passes_through_without_faults() {
    let inner = Arc::new(MemoryStore::new());
    let store = FaultyStore::new(inner.clone());
    // Armed, but on keys the suite never uses.
    store.fail_always(Op::Put, "never-used-key");
    store.inject(Op::Get, "never-used-key", Fault::Fail, 3);
    conformance(&store);
    for op in Op::ALL {
        assert!(store.calls(op) > 0, "{op:?} not counted");
    }
    assert!(inner.is_empty());
    let key = ChunkKey::parse("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").unwrap();
    assert_eq!(store.chunk_path(&key), inner.chunk_path(&key));
    let dir = tempfile::tempdir().unwrap();
    let local = FaultyStore::new(Arc::new(LocalFsStore::open(dir.path()).unwrap()));
    assert_eq!(local.chunk_path(&key), key.to_fs_path());
}

fn assert_injected<T: std::fmt::Debug>(result: Result<T, StoreError>, op: &str, key: &str) {
    match result {
        Err(StoreError::Injected { op: o, key: k }) => assert_eq!((o, k.as_str()), (op, key)),
        other => panic!("{op} {key}: expected Injected, got {other:?}"),
    }
}

#[test]
fn faulty_store_fails_each_op_exactly_as_often_as_asked() {
    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    store.put("index/k", Bytes::from_static(b"0123456789")).unwrap();
    type Call = fn(&FaultyStore, &str) -> Result<(), StoreError>;
    let calls: [(Op, Call); 7] = [
        (Op::Put, |s, k| s.put(k, Bytes::from_static(b"0123456789"))),
        (Op::PutIfAbsent, |s, k| s.put_if_absent(k, Bytes::from_static(b"0123456789")).map(|_| ())),
        (Op::Get, |s, k| s.get(k).map(|_| ())),
        (Op::GetRange, |s, k| s.get_range(k, 0..2).map(|_| ())),
        (Op::Head, |s, k| s.head(k).map(|_| ())),
        (Op::List, |s, k| s.list(k).map(|_| ())),
        (Op::Delete, |s, k| s.delete(k)),
    ];
    for (op, call) in calls {
        store.inject(op, "index/", Fault::Fail, 2);
        store.put("other/k", Bytes::from_static(b"0123456789")).unwrap();
        let before = store.calls(op);
        // A non-matching key passes and does not use up the fault.
        call(&store, "other/k").unwrap();
        assert_injected(call(&store, "index/k"), op.name(), "index/k");
        assert_injected(call(&store, "index/k"), op.name(), "index/k");
        call(&store, "index/k").unwrap();
        call(&store, "index/k").unwrap();
        assert_eq!(store.calls(op), before + 5, "{op:?}");
        // Put the object back for the next operation.
        store.put("index/k", Bytes::from_static(b"0123456789")).unwrap();
        store.delete("other/k").unwrap();
    }

    // fail_always lasts until clear; "" matches every key.
    store.fail_always(Op::Get, "");
    for _ in 0..5 {
        assert_injected(store.get("index/k"), "get", "index/k");
    }
    store.clear();
    store.get("index/k").unwrap();

    // Faults armed earlier fire first; an invalid key is not a fault.
    store.inject(Op::Head, "", Fault::Fail, 1);
    assert!(matches!(store.head("../x"), Err(StoreError::InvalidKey { .. })));
    assert_injected(store.head("index/k"), "head", "index/k");
    store.head("index/k").unwrap();
    store.inject(Op::Head, "", Fault::Fail, 0);
    store.head("index/k").unwrap();
}

#[test]
fn faulty_store_truncate_leaves_half_an_object() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let store = FaultyStore::new(inner.clone());
    store.inject(Op::Put, "chunks/", Fault::Truncate, 1);
    assert_injected(store.put("chunks/a", Bytes::from_static(b"0123456789")), "put", "chunks/a");
    assert_eq!(inner.get("chunks/a").unwrap(), Bytes::from_static(b"01234"));
    // The fault is used up: the retry writes the whole object.
    store.put("chunks/a", Bytes::from_static(b"0123456789")).unwrap();
    assert_eq!(store.get("chunks/a").unwrap(), Bytes::from_static(b"0123456789"));
    assert_eq!(store.calls(Op::Put), 2);

    // Twice, on another key; an odd length rounds down.
    store.inject(Op::Put, "b", Fault::Truncate, 2);
    assert_injected(store.put("chunks/b", Bytes::from_static(b"abc")), "put", "chunks/b");
    assert_eq!(inner.get("chunks/b").unwrap(), Bytes::from_static(b"a"));
    assert_injected(store.put("chunks/b", Bytes::from_static(b"abcdef")), "put", "chunks/b");
    assert_eq!(inner.get("chunks/b").unwrap(), Bytes::from_static(b"abc"));
    store.put("chunks/b", Bytes::from_static(b"abcdef")).unwrap();
    assert_eq!(inner.get("chunks/b").unwrap(), Bytes::from_static(b"abcdef"));

    // Truncate on any other operation fails without touching the store.
    store.inject(Op::PutIfAbsent, "", Fault::Truncate, 1);
    assert_injected(store.put_if_absent("chunks/c", Bytes::from_static(b"abc")), "put_if_absent", "chunks/c");
    assert_not_found(inner.get("chunks/c"), "chunks/c");
}

#[test]
fn faulty_store_fail_after_does_the_work() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let store = FaultyStore::new(inner.clone());
    store.inject(Op::Put, "", Fault::FailAfter, 1);
    assert_injected(store.put("a", Bytes::from_static(b"whole")), "put", "a");
    assert_eq!(inner.get("a").unwrap(), Bytes::from_static(b"whole"));
    store.inject(Op::Delete, "", Fault::FailAfter, 1);
    assert_injected(store.delete("a"), "delete", "a");
    assert_not_found(inner.get("a"), "a");
    assert!(store.inner().list("").unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// CloudStore

#[cfg(feature = "cloud")]
#[test]
fn cloud_store_conformance_in_memory() {
    use lokistore::store::CloudStore;
    let store = CloudStore::new(Arc::new(object_store::memory::InMemory::new())).unwrap();
    conformance(&store);
}

#[cfg(feature = "cloud")]
#[test]
fn cloud_store_prefix_isolates_keys() {
    use lokistore::store::CloudStore;
    let shared: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let outer = CloudStore::new(shared.clone()).unwrap();
    let store = CloudStore::new(shared).unwrap().with_prefix("loki/data/").unwrap();
    assert_eq!(store.prefix(), "loki/data");
    outer.put("loki/dat", Bytes::from_static(b"beside the prefix")).unwrap();
    outer.put("loki/datax/k", Bytes::from_static(b"beside the prefix")).unwrap();
    conformance(&store);
    store.put("index/a", Bytes::from_static(b"x")).unwrap();
    assert_eq!(keys(&store, ""), vec!["index/a"]);
    assert_eq!(keys(&store, "ind"), vec!["index/a"]);
    assert_eq!(keys(&outer, ""), vec!["loki/dat", "loki/data/index/a", "loki/datax/k"]);
    assert!(CloudStore::new(Arc::new(object_store::memory::InMemory::new())).unwrap().with_prefix("../x").is_err());
    let key = ChunkKey::parse("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").unwrap();
    assert_eq!(store.chunk_path(&key), key.to_string());
}

#[cfg(feature = "cloud")]
#[test]
fn cloud_store_works_inside_an_async_runtime() {
    use lokistore::store::CloudStore;
    let store = CloudStore::new(Arc::new(object_store::memory::InMemory::new())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // Called straight from async code (not recommended), it must not panic.
    runtime.block_on(async {
        store.put("a", Bytes::from_static(b"x")).unwrap();
        assert_eq!(store.get("a").unwrap(), Bytes::from_static(b"x"));
        // Neither is dropping the store (and its runtime) there.
        drop(store);
    });
}

#[cfg(feature = "s3")]
mod moto {
    //! S3 through a real `moto_server` on the loopback interface.

    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use lokistore::store::{CloudStore, ObjectStore, S3Config};

    /// A running `moto_server`, killed when dropped (also when a test fails).
    struct MotoServer {
        child: Child,
        port: u16,
        log: tempfile::NamedTempFile,
    }

    impl MotoServer {
        /// Starts `moto_server` on a free loopback port and waits until it
        /// accepts connections.
        fn start(program: PathBuf) -> Self {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
            let log = tempfile::NamedTempFile::new().unwrap();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.reopen().unwrap())
                .stderr(log.reopen().unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let mut server = Self { child, port, log };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(60);
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Some(status) = server.child.try_wait().unwrap() {
                    panic!("moto_server exited with {status}: {}", server.log_text());
                }
                assert!(Instant::now() < deadline, "moto_server did not listen within 60 s: {}", server.log_text());
                std::thread::sleep(Duration::from_millis(100));
            }
            server
        }

        fn endpoint(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        fn log_text(&self) -> String {
            std::fs::read_to_string(self.log.path()).unwrap_or_default()
        }

        /// Creates a bucket with an unsigned `PUT /bucket` (moto does not
        /// check signatures).
        fn create_bucket(&self, bucket: &str) {
            let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let request = format!(
                "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.port
            );
            conn.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            conn.read_to_string(&mut response).unwrap();
            assert!(response.starts_with("HTTP/1.1 200"), "create bucket {bucket}: {response}");
        }
    }

    impl Drop for MotoServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// `moto_server` on PATH, if there is one.
    fn find_moto() -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|dir| dir.join("moto_server")).find(|p| p.is_file())
    }

    fn config(server: &MotoServer, bucket: &str, prefix: &str) -> S3Config {
        S3Config {
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: Some(server.endpoint()),
            access_key_id: Some("testing".to_owned()),
            secret_access_key: Some("testing".to_owned()),
            allow_http: true,
            prefix: prefix.to_owned(),
        }
    }

    #[test]
    fn s3_store_conformance_on_moto() {
        let Some(program) = find_moto() else {
            assert!(
                std::env::var("LOKISTORE_REQUIRE_MOTO").as_deref() != Ok("1"),
                "LOKISTORE_REQUIRE_MOTO=1 but moto_server is not on PATH (pip install 'moto[server]')"
            );
            eprintln!("skipped s3_store_conformance_on_moto: moto_server is not on PATH (pip install 'moto[server]')");
            return;
        };
        let server = MotoServer::start(program);
        server.create_bucket("lokistore-test");
        server.create_bucket("lokistore-prefixed");

        let store = CloudStore::s3(&config(&server, "lokistore-test", "")).unwrap();
        super::conformance(&store);

        // With a prefix, the same contract, and every object under it.
        let prefixed = CloudStore::s3(&config(&server, "lokistore-prefixed", "loki/")).unwrap();
        super::conformance(&prefixed);
        prefixed.put("index/a", bytes::Bytes::from_static(b"x")).unwrap();
        let whole = CloudStore::s3(&config(&server, "lokistore-prefixed", "")).unwrap();
        assert_eq!(super::keys(&whole, ""), vec!["loki/index/a"]);

        engine_round_trip_on_s3(&server);

        // A missing bucket is a typed backend error, not a panic.
        let nowhere = CloudStore::s3(&config(&server, "no-such-bucket", "")).unwrap();
        let put = nowhere.put("a", bytes::Bytes::new());
        assert!(matches!(put, Err(lokistore::store::StoreError::Backend { op: "put", .. })), "{put:?}");
        drop(server);
    }

    /// The engine flushes to S3 with Loki's plain keys and reads it all back
    /// after a restart.
    fn engine_round_trip_on_s3(server: &MotoServer) {
        use lokistore::engine::{Engine, EngineConfig, LogQuery, PushStream};
        use lokistore::{Direction, Entry, Labels, TenantId};
        use std::sync::Arc;

        server.create_bucket("lokistore-engine");
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = EngineConfig::new(dir.path());
        cfg.limits.creation_grace_period = None;
        let tenant = TenantId::new("team-a").unwrap();
        let t0 = 1_768_003_200_000_000_000i64;
        let streams: Vec<PushStream> = (0..3)
            .map(|s| {
                let labels: Labels = format!("{{app=\"app{s}\"}}").parse().unwrap();
                let entries = (0..100).map(|i| Entry::new(t0 + i * 1_000_000_000, format!("line {s} {i}"))).collect();
                PushStream::new(labels, entries)
            })
            .collect();
        {
            let store = Arc::new(CloudStore::s3(&config(server, "lokistore-engine", "")).unwrap());
            let engine = Engine::open_with_store(cfg.clone(), store).unwrap();
            assert_eq!(engine.push(&tenant, streams.clone()).unwrap().accepted(), 300);
            let stats = engine.flush().unwrap();
            assert_eq!((stats.chunks, stats.index_files), (3, 1));
            engine.close().unwrap();
        }
        let store = Arc::new(CloudStore::s3(&config(server, "lokistore-engine", "")).unwrap());
        let keys = super::keys(&*store, "");
        let chunk_keys: Vec<&String> = keys.iter().filter(|k| k.starts_with("team-a/")).collect();
        assert_eq!(chunk_keys.len(), 3, "{keys:?}");
        for k in &chunk_keys {
            // `<tenant>/<fp>/<from>:<through>:<checksum>`, unencoded on S3.
            let key: lokistore::ChunkKey = k.parse().unwrap();
            assert_eq!(key.to_string(), **k);
        }
        assert!(keys.iter().any(|k| k.starts_with("index/index_20463/") && k.ends_with(".tsdb.gz")), "{keys:?}");
        let engine = Engine::open_with_store(cfg, store).unwrap();
        let q = LogQuery {
            matchers: vec![],
            from: t0,
            through: t0 + 1_000_000_000_000,
            direction: Direction::Forward,
            limit: 0,
        };
        let got = engine.query_logs(&tenant, &q).unwrap();
        assert_eq!(got.len(), 3);
        for (g, want) in got.iter().zip(&streams) {
            assert_eq!(g.labels, want.labels);
            assert_eq!(g.entries, want.entries);
        }
    }

    #[test]
    fn s3_config_debug_hides_the_secret() {
        let mut config = S3Config::new("b");
        config.secret_access_key = Some("hunter2".to_owned());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
    }
}
