//! A byte-bounded least-recently-used cache of decoded stored chunks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::state::lock;
use crate::chunk::Chunk;

#[derive(Debug, Default)]
struct Lru {
    map: HashMap<String, (Arc<Chunk>, usize, u64)>,
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

/// Decoded chunks by object path, at most `capacity` bytes of chunk data.
#[derive(Debug)]
pub(crate) struct ChunkCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

impl ChunkCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(Lru::default()) }
    }

    pub(crate) fn get(&self, path: &str) -> Option<Arc<Chunk>> {
        let mut l = lock(&self.inner);
        l.tick += 1;
        let tick = l.tick;
        let (chunk, old) = {
            let e = l.map.get_mut(path)?;
            let old = std::mem::replace(&mut e.2, tick);
            (Arc::clone(&e.0), old)
        };
        l.order.remove(&old);
        l.order.insert(tick, path.to_owned());
        Some(chunk)
    }

    pub(crate) fn insert(&self, path: &str, chunk: Arc<Chunk>, size: usize) {
        if size > self.capacity {
            return;
        }
        let mut l = lock(&self.inner);
        l.tick += 1;
        let tick = l.tick;
        if let Some((_, old_size, old_tick)) = l.map.insert(path.to_owned(), (chunk, size, tick)) {
            l.order.remove(&old_tick);
            l.bytes -= old_size;
        }
        l.order.insert(tick, path.to_owned());
        l.bytes += size;
        while l.bytes > self.capacity {
            let Some((_, victim)) = l.order.pop_first() else { break };
            if let Some((_, s, _)) = l.map.remove(&victim) {
                l.bytes -= s;
            }
        }
    }

    /// Evicts least recently used chunks until at most `bytes` are held.
    pub(crate) fn shrink_to(&self, bytes: usize) {
        let mut l = lock(&self.inner);
        while l.bytes > bytes {
            let Some((_, victim)) = l.order.pop_first() else { break };
            if let Some((_, s, _)) = l.map.remove(&victim) {
                l.bytes -= s;
            }
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        lock(&self.inner).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkConfig;

    #[test]
    fn evicts_least_recently_used() {
        let c = ChunkCache::new(10);
        let chunk = Arc::new(Chunk::new(ChunkConfig::default()).unwrap());
        c.insert("a", Arc::clone(&chunk), 4);
        c.insert("b", Arc::clone(&chunk), 4);
        assert!(c.get("a").is_some());
        c.insert("c", Arc::clone(&chunk), 4);
        assert!(c.get("b").is_none(), "b was the least recently used");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        assert_eq!(c.bytes(), 8);
        c.shrink_to(5);
        assert_eq!(c.bytes(), 4);
        assert!(c.get("c").is_some(), "the most recently used one stays");
        c.insert("huge", chunk, 11);
        assert!(c.get("huge").is_none());
    }
}
