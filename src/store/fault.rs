//! [`FaultyStore`]: a wrapper that makes chosen operations fail, for
//! crash-safety tests of the engine.
//!
//! A test arms faults with [`FaultyStore::inject`] (the next `n` matching
//! calls) or [`FaultyStore::fail_always`] (until [`FaultyStore::clear`]);
//! every other call passes through to the inner store. A call matches a
//! fault when its operation is the fault's [`Op`] and its key (for
//! [`Op::List`], the prefix) contains the fault's substring. Calls are
//! counted per operation, faulted or not, so a test can also assert how
//! often the engine touched the store.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::key::{validate_key, validate_prefix};
use super::{ObjectMeta, ObjectStore, StoreError};
use crate::object::ChunkKey;

/// An [`ObjectStore`] operation, as named by [`FaultyStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`ObjectStore::put`].
    Put,
    /// [`ObjectStore::put_if_absent`].
    PutIfAbsent,
    /// [`ObjectStore::get`].
    Get,
    /// [`ObjectStore::get_range`].
    GetRange,
    /// [`ObjectStore::head`].
    Head,
    /// [`ObjectStore::list`].
    List,
    /// [`ObjectStore::delete`].
    Delete,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 7] = [Op::Put, Op::PutIfAbsent, Op::Get, Op::GetRange, Op::Head, Op::List, Op::Delete];

    /// The method name (`put`, `get_range`, ...), as used in errors.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::PutIfAbsent => "put_if_absent",
            Op::Get => "get",
            Op::GetRange => "get_range",
            Op::Head => "head",
            Op::List => "list",
            Op::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an armed fault does to a matching call. Every fault makes the call
/// return [`StoreError::Injected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Fail without touching the inner store.
    Fail,
    /// For [`Op::Put`]: write the first half of the data to the inner store,
    /// then fail, as a partial upload to a non-atomic remote store could.
    /// For any other operation the same as [`Fault::Fail`].
    Truncate,
    /// Carry out the operation on the inner store, then fail anyway: a
    /// write (or delete) whose acknowledgement was lost.
    FailAfter,
}

/// One armed fault.
#[derive(Debug)]
struct Rule {
    op: Op,
    key_contains: String,
    fault: Fault,
    /// Calls left to fault; `None` until cleared.
    remaining: Option<usize>,
}

/// An [`ObjectStore`] that passes calls to an inner store, except the ones
/// a test chose to fail.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use lokistore::store::{Fault, FaultyStore, MemoryStore, ObjectStore, Op, StoreError};
///
/// let store = FaultyStore::new(Arc::new(MemoryStore::new()));
/// store.inject(Op::Put, "index/", Fault::Fail, 1);
/// let err = store.put("index/a", Bytes::from_static(b"x")).unwrap_err();
/// assert!(matches!(err, StoreError::Injected { .. }));
/// store.put("index/a", Bytes::from_static(b"x"))?; // the fault is used up
/// assert_eq!(store.calls(Op::Put), 2);
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    rules: Mutex<Vec<Rule>>,
    calls: [AtomicUsize; Op::ALL.len()],
}

impl FaultyStore {
    /// Wraps `inner`, with no fault armed.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner, rules: Mutex::new(Vec::new()), calls: Default::default() }
    }

    /// Makes the next `times` calls of `op` whose key contains
    /// `key_contains` (`""` matches every key) fail with `fault`. Faults
    /// armed earlier fire first.
    pub fn inject(&self, op: Op, key_contains: &str, fault: Fault, times: usize) {
        if times > 0 {
            self.rules().push(Rule { op, key_contains: key_contains.to_owned(), fault, remaining: Some(times) });
        }
    }

    /// Makes every call of `op` whose key contains `key_contains` fail
    /// (with [`Fault::Fail`]) until [`clear`](Self::clear).
    pub fn fail_always(&self, op: Op, key_contains: &str) {
        self.rules().push(Rule { op, key_contains: key_contains.to_owned(), fault: Fault::Fail, remaining: None });
    }

    /// Disarms every fault. Call counts are kept.
    pub fn clear(&self) {
        self.rules().clear();
    }

    /// How many calls of `op` with a valid key this store has seen,
    /// faulted or not. (A call with an invalid key fails before it counts.)
    pub fn calls(&self, op: Op) -> usize {
        self.calls[op.index()].load(Ordering::Relaxed)
    }

    /// The wrapped store (to inspect what a faulted call left behind).
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    // The rules stay consistent even if a holder panicked (every change is
    // a single Vec call), so a poisoned lock is still usable.
    fn rules(&self) -> MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call and returns the fault it must suffer, if any.
    fn arm(&self, op: Op, key: &str) -> Option<Fault> {
        self.calls[op.index()].fetch_add(1, Ordering::Relaxed);
        let mut rules = self.rules();
        let at = rules.iter().position(|r| r.op == op && key.contains(r.key_contains.as_str()))?;
        let rule = &mut rules[at];
        let fault = rule.fault;
        if let Some(left) = &mut rule.remaining {
            *left -= 1;
            if *left == 0 {
                rules.remove(at);
            }
        }
        Some(fault)
    }

    /// Runs `call` on the inner store unless a fault says otherwise.
    fn run<T>(
        &self,
        op: Op,
        key: &str,
        call: impl FnOnce(&dyn ObjectStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let injected = || StoreError::Injected { op: op.name(), key: key.to_owned() };
        match self.arm(op, key) {
            None => call(self.inner.as_ref()),
            Some(Fault::Fail | Fault::Truncate) => Err(injected()),
            Some(Fault::FailAfter) => call(self.inner.as_ref()).and_then(|_| Err(injected())),
        }
    }
}

impl ObjectStore for FaultyStore {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        // Checked first so that a bad key is reported as such, not as a fault.
        validate_key(key)?;
        let injected = || StoreError::Injected { op: Op::Put.name(), key: key.to_owned() };
        match self.arm(Op::Put, key) {
            None => self.inner.put(key, data),
            Some(Fault::Fail) => Err(injected()),
            Some(Fault::Truncate) => {
                self.inner.put(key, data.slice(..data.len() / 2))?;
                Err(injected())
            }
            Some(Fault::FailAfter) => {
                self.inner.put(key, data)?;
                Err(injected())
            }
        }
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        validate_key(key)?;
        self.run(Op::PutIfAbsent, key, |s| s.put_if_absent(key, data))
    }

    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        self.run(Op::Get, key, |s| s.get(key))
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        self.run(Op::GetRange, key, |s| s.get_range(key, range))
    }

    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        validate_key(key)?;
        self.run(Op::Head, key, |s| s.head(key))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        self.run(Op::List, prefix, |s| s.list(prefix))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.run(Op::Delete, key, |s| s.delete(key))
    }

    fn chunk_path(&self, key: &ChunkKey) -> String {
        self.inner.chunk_path(key)
    }
}
