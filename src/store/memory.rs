//! [`MemoryStore`]: objects in a sorted map in memory.
//!
//! Every operation takes a lock on one `BTreeMap<key, (bytes, written at)>`,
//! so writes are trivially atomic and listing is a range scan. Used by tests
//! and by engines that need no persistence.

use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;

use super::key::{check_range, validate_key, validate_prefix};
use super::{ObjectMeta, ObjectStore, StoreError};

/// An object store in memory. Cloning the [`Bytes`] it hands out is cheap;
/// nothing is copied on `get`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use lokistore::store::{MemoryStore, ObjectStore};
///
/// let store = MemoryStore::new();
/// store.put("index/a", Bytes::from_static(b"hello"))?;
/// assert_eq!(store.get_range("index/a", 1..3)?, Bytes::from_static(b"el"));
/// assert_eq!(store.list("ind")?.len(), 1);
/// # Ok::<(), lokistore::store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: RwLock<BTreeMap<String, (Bytes, SystemTime)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many objects the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when the store holds no object.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The sum of the sizes of all objects, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.read().values().map(|(data, _)| data.len() as u64).sum()
    }

    // A panic in another thread cannot leave the map half-updated (every
    // update is a single map call), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, (Bytes, SystemTime)>> {
        self.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, (Bytes, SystemTime)>> {
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ObjectStore for MemoryStore {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        validate_key(key)?;
        self.write().insert(key.to_owned(), (data, SystemTime::now()));
        Ok(())
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        validate_key(key)?;
        let mut objects = self.write();
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_owned(), (data, SystemTime::now()));
        Ok(true)
    }

    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        match self.read().get(key) {
            Some((data, _)) => Ok(data.clone()),
            None => Err(StoreError::NotFound { key: key.to_owned() }),
        }
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let data = self.get(key)?;
        let bounds = check_range(key, &range, data.len() as u64)?;
        Ok(data.slice(bounds))
    }

    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        validate_key(key)?;
        match self.read().get(key) {
            Some((data, written)) => {
                Ok(ObjectMeta { key: key.to_owned(), size: data.len() as u64, last_modified: Some(*written) })
            }
            None => Err(StoreError::NotFound { key: key.to_owned() }),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        let objects = self.read();
        Ok(objects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, (data, written))| ObjectMeta {
                key: key.clone(),
                size: data.len() as u64,
                last_modified: Some(*written),
            })
            .collect())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.write().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_objects_and_bytes() {
        let store = MemoryStore::new();
        assert!(store.is_empty());
        store.put("a", Bytes::from_static(b"abc")).unwrap();
        store.put("b/c", Bytes::from_static(b"de")).unwrap();
        store.put("a", Bytes::from_static(b"x")).unwrap();
        assert_eq!((store.len(), store.total_bytes(), store.is_empty()), (2, 3, false));
        store.delete("a").unwrap();
        assert_eq!((store.len(), store.total_bytes()), (1, 2));
    }
}
