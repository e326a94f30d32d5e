//! The compactor lease: at most one compactor works on a store at a time
//! (Loki elects one through its ring, `../shared/spec/compactor.md` §2).
//!
//! Lease objects are `compactor/lease/<generation, 20 digits>.json`, JSON
//! `{"owner", "generation", "acquired_ms", "expires_ms", "released"}`. The
//! current lease is the highest generation.
//!
//! * **Acquire**: when there is no lease, or the highest one is released or
//!   expired, write generation `g + 1` with `put_if_absent`. Two compactors
//!   racing for the same generation cannot both win, because creating the
//!   object is atomic; the loser reports [`CompactorError::LeaseHeld`].
//! * **Hold**: before every destructive step the holder checks its own
//!   expiry on its clock and renews (rewrites its own generation object)
//!   once half the duration is gone, after checking that no higher
//!   generation exists. A holder past its expiry stops with
//!   [`CompactorError::LeaseLost`] before deleting anything more.
//! * **Release**: rewrite the own generation as `released`, so the next
//!   compactor need not wait for the expiry.
//!
//! What this guarantees, honestly: mutual exclusion holds if the store's
//! `put_if_absent` is atomic and the clocks of the compactors agree to
//! well within the lease duration. A store without conditional writes
//! (a plain `put` behind `put_if_absent`) cannot make it perfect: two
//! compactors can then both believe they won. A holder paused (GC, swap,
//! suspended VM) across its expiry may finish the step it was in (one
//! upload or delete) after a successor started; every step is designed to
//! be safe to repeat and to leave all chunk references reachable, so the
//! worst case is duplicate work, not lost data. An unreadable lease object
//! counts as held until its modification time plus the duration.

use serde::{Deserialize, Serialize};

use bytes::Bytes;

use super::error::CompactorError;
use crate::error::Result;
use crate::store::{ObjectStore, StoreError};

/// Where lease objects live.
pub const LEASE_PREFIX: &str = "compactor/lease/";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseRecord {
    owner: String,
    generation: u64,
    acquired_ms: i64,
    expires_ms: i64,
    released: bool,
}

fn lease_key(generation: u64) -> String {
    format!("{LEASE_PREFIX}{generation:020}.json")
}

fn parse_generation(key: &str) -> Option<u64> {
    let name = key.strip_prefix(LEASE_PREFIX)?.strip_suffix(".json")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The generations present, sorted.
fn generations(store: &dyn ObjectStore) -> Result<Vec<u64>> {
    let mut g: Vec<u64> = store.list(LEASE_PREFIX)?.iter().filter_map(|m| parse_generation(&m.key)).collect();
    g.sort_unstable();
    Ok(g)
}

/// Reads lease `generation`: `Ok(None)` when it vanished meanwhile.
fn read_record(store: &dyn ObjectStore, generation: u64, duration_ms: i64) -> Result<Option<LeaseRecord>> {
    let key = lease_key(generation);
    let data = match store.get(&key) {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match serde_json::from_slice::<LeaseRecord>(&data) {
        Ok(r) => Ok(Some(r)),
        Err(parse) => {
            // Unreadable: held until its write time plus one duration.
            let meta = match store.head(&key) {
                Ok(m) => m,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let Some(written) = meta.last_modified else {
                return Err(CompactorError::CorruptLease { key, reason: parse.to_string() }.into());
            };
            let written_ms = written
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Ok(Some(LeaseRecord {
                owner: format!("<unreadable lease: {parse}>"),
                generation,
                acquired_ms: written_ms,
                expires_ms: written_ms.saturating_add(duration_ms),
                released: false,
            }))
        }
    }
}

/// A held lease. Released by [`Lease::release`] or, best effort, on drop.
#[derive(Debug)]
pub struct Lease<'a> {
    store: &'a dyn ObjectStore,
    record: LeaseRecord,
    duration_ms: i64,
    released: bool,
}

impl<'a> Lease<'a> {
    /// Takes the lease for `owner` at `now_ms` for `duration_ms`, or says
    /// who holds it.
    pub(crate) fn acquire(store: &'a dyn ObjectStore, owner: &str, duration_ms: i64, now_ms: i64) -> Result<Self> {
        let gens = generations(store)?;
        let next = match gens.last() {
            None => 1,
            Some(&g) => {
                if let Some(cur) = read_record(store, g, duration_ms)?
                    && !cur.released
                    && cur.expires_ms > now_ms
                {
                    return Err(CompactorError::LeaseHeld {
                        owner: cur.owner,
                        expires_ms: cur.expires_ms,
                        generation: g,
                    }
                    .into());
                }
                g.saturating_add(1)
            }
        };
        let record = LeaseRecord {
            owner: owner.to_owned(),
            generation: next,
            acquired_ms: now_ms,
            expires_ms: now_ms.saturating_add(duration_ms),
            released: false,
        };
        if !store.put_if_absent(&lease_key(next), encode(&record))? {
            // Somebody else took this generation first.
            let (owner, expires_ms) = match read_record(store, next, duration_ms)? {
                Some(r) => (r.owner, r.expires_ms),
                None => (String::from("<unknown>"), now_ms.saturating_add(duration_ms)),
            };
            return Err(CompactorError::LeaseHeld { owner, expires_ms, generation: next }.into());
        }
        // Old generations are history; keep the previous one for diagnosis.
        for g in gens.into_iter().filter(|&g| g.saturating_add(1) < next) {
            let _ = store.delete(&lease_key(g));
        }
        Ok(Self { store, record, duration_ms, released: false })
    }

    /// The generation held.
    pub fn generation(&self) -> u64 {
        self.record.generation
    }

    /// The owner id written in the lease.
    pub fn owner(&self) -> &str {
        &self.record.owner
    }

    /// When the lease expires unless renewed, Unix ms.
    pub fn expires_ms(&self) -> i64 {
        self.record.expires_ms
    }

    /// Checks the lease is still held at `now_ms`, renewing it when half
    /// of its duration is gone. Call before every destructive step.
    pub fn ensure(&mut self, now_ms: i64) -> Result<()> {
        let lost = || CompactorError::LeaseLost { generation: self.record.generation };
        if self.released || now_ms >= self.record.expires_ms {
            return Err(lost().into());
        }
        if self.record.expires_ms.saturating_sub(now_ms) > self.duration_ms / 2 {
            return Ok(());
        }
        if generations(self.store)?.last().is_some_and(|&g| g > self.record.generation) {
            return Err(lost().into());
        }
        let mut renewed = self.record.clone();
        renewed.expires_ms = now_ms.saturating_add(self.duration_ms);
        self.store.put(&lease_key(renewed.generation), encode(&renewed))?;
        self.record = renewed;
        Ok(())
    }

    /// Gives the lease up now (the next compactor need not wait for it to
    /// expire).
    pub fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        // Never clobber a successor's lease.
        if generations(self.store)?.last().is_some_and(|&g| g > self.record.generation) {
            return Ok(());
        }
        let mut r = self.record.clone();
        r.released = true;
        self.store.put(&lease_key(r.generation), encode(&r))?;
        Ok(())
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Best effort: an unreleased lease simply expires.
        let _ = self.release_inner();
    }
}

fn encode(r: &LeaseRecord) -> Bytes {
    Bytes::from(serde_json::to_vec(r).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn one_holder_then_takeover_after_expiry() {
        let store = MemoryStore::new();
        let mut a = Lease::acquire(&store, "a", 1000, 0).unwrap();
        let err = Lease::acquire(&store, "b", 1000, 10).unwrap_err();
        assert!(matches!(CompactorError::from_error(&err), Some(CompactorError::LeaseHeld { .. })));
        a.ensure(600).unwrap(); // renewed to 1600
        assert!(Lease::acquire(&store, "b", 1000, 1500).is_err());
        std::mem::forget(a); // a crashed holder
        let b = Lease::acquire(&store, "b", 1000, 1601).unwrap();
        assert_eq!(b.generation(), 2);
        b.release().unwrap();
        let c = Lease::acquire(&store, "c", 1000, 1602).unwrap();
        assert_eq!(c.generation(), 3);
        assert_eq!(generations(&store).unwrap(), [2, 3]);
    }

    #[test]
    fn lost_lease_is_reported() {
        let store = MemoryStore::new();
        let mut a = Lease::acquire(&store, "a", 1000, 0).unwrap();
        assert!(a.ensure(1000).is_err());
    }

    #[test]
    fn corrupt_lease_is_held_or_refused() {
        let store = MemoryStore::new();
        store.put(&lease_key(7), Bytes::from_static(b"{not json")).unwrap();
        assert!(Lease::acquire(&store, "a", 1000, 0).is_err());
    }
}
