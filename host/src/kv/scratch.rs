//! A scratch namespace over a live one: what a plugin version running in shadow
//! writes to kv (see the rollout in `registry`).
//!
//! Reads see the scratch's own writes first (a deleted key is a tombstone), then
//! the live namespace; writes and deletes stay in memory, bounded by the
//! namespace's quota counted over the scratch's own entries. Nothing the scratch
//! holds ever reaches the store: at the rollout's decision it is
//! [promoted](Scratch::promote) (emptied, and from then on every operation goes
//! straight to the live namespace) or [discarded](Scratch::discard) (emptied,
//! and late writes still stay in it, to be dropped with it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{KvError, KvStore, bytes, check_key};

/// The overlay: key → value, or `None` for a key deleted in the scratch.
#[derive(Default)]
struct Overlay {
    entries: BTreeMap<String, Option<Vec<u8>>>,
    /// `key.len() + value.len()` over the entries (a tombstone counts its key).
    used: u64,
}

fn size(key: &str, value: Option<&[u8]>) -> u64 {
    bytes(key.len()).saturating_add(value.map_or(0, |v| bytes(v.len())))
}

/// A scratch namespace; see the module.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Set when the version was promoted: the scratch is gone, the store serves.
    live: AtomicBool,
    overlay: Mutex<Overlay>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl Scratch {
    fn overlay(&self) -> MutexGuard<'_, Overlay> {
        self.overlay.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether operations go straight to the live namespace.
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Empties the scratch; from now on the live namespace serves.
    pub(crate) fn promote(&self) {
        let mut o = self.overlay();
        *o = Overlay::default();
        self.live.store(true, Ordering::Release);
    }

    /// Empties the scratch; later writes still stay in it.
    pub(crate) fn discard(&self) {
        *self.overlay() = Overlay::default();
    }

    /// Bytes the scratch holds.
    #[cfg(test)]
    fn used(&self) -> u64 {
        self.overlay().used
    }

    pub(crate) fn get(
        &self,
        store: &KvStore,
        ns: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        if !self.is_live()
            && let Some(v) = self.overlay().entries.get(key)
        {
            return Ok(v.clone());
        }
        store.get(ns, key)
    }

    /// Puts `key` (a value, or a tombstone) in the overlay, within `quota`.
    fn put(&self, ns: &str, key: &str, value: Option<&[u8]>, quota: u64) -> Result<(), KvError> {
        let mut o = self.overlay();
        let old = o.entries.get(key).map_or(0, |v| size(key, v.as_deref()));
        let wanted = o.used.saturating_sub(old).saturating_add(size(key, value));
        if wanted > quota && wanted > o.used {
            return Err(KvError::QuotaExceeded {
                namespace: ns.to_string(),
                used: o.used,
                wanted,
                quota,
            });
        }
        o.entries.insert(key.to_string(), value.map(<[u8]>::to_vec));
        o.used = wanted;
        Ok(())
    }

    pub(crate) fn set(
        &self,
        store: &KvStore,
        ns: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), KvError> {
        check_key(key)?;
        if self.is_live() {
            return store.set(ns, key, value, quota);
        }
        self.put(ns, key, Some(value), quota)
    }

    pub(crate) fn delete(
        &self,
        store: &KvStore,
        ns: &str,
        key: &str,
        quota: u64,
    ) -> Result<(), KvError> {
        check_key(key)?;
        if self.is_live() {
            return store.delete(ns, key);
        }
        self.put(ns, key, None, quota)
    }

    /// The live namespace's keys with the overlay applied: at most `limit`, in
    /// byte order.
    pub(crate) fn list_keys(
        &self,
        store: &KvStore,
        ns: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        if self.is_live() {
            return store.list_keys(ns, prefix, limit);
        }
        let mine: Vec<(String, bool)> = {
            let o = self.overlay();
            o.entries
                .range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.is_some()))
                .collect()
        };
        // A key among the first `limit` that remain is among the first
        // `limit + tombstones` of the store's.
        let tombstones = mine.iter().filter(|(_, set)| !set).count();
        let mut keys: BTreeSet<String> = store
            .list_keys(ns, prefix, limit.saturating_add(tombstones))?
            .into_iter()
            .collect();
        for (k, set) in mine {
            if set {
                keys.insert(k);
            } else {
                keys.remove(&k);
            }
        }
        Ok(keys.into_iter().take(limit).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_writes_over_the_live_namespace_and_never_writes_it() -> Result<(), KvError> {
        let store = KvStore::in_memory()?;
        store.set("p", "a", b"live-a", 1024)?;
        store.set("p", "b", b"live-b", 1024)?;
        let s = Scratch::default();
        assert_eq!(s.get(&store, "p", "a")?, Some(b"live-a".to_vec()));
        s.set(&store, "p", "a", b"mine", 1024)?;
        s.delete(&store, "p", "b", 1024)?;
        s.set(&store, "p", "c", b"new", 1024)?;
        assert_eq!(s.get(&store, "p", "a")?, Some(b"mine".to_vec()));
        assert_eq!(s.get(&store, "p", "b")?, None);
        assert_eq!(s.list_keys(&store, "p", "", 10)?, ["a", "c"]);
        assert_eq!(s.list_keys(&store, "p", "", 1)?, ["a"]);
        // The live namespace is untouched.
        assert_eq!(store.get("p", "a")?, Some(b"live-a".to_vec()));
        assert_eq!(store.get("p", "b")?, Some(b"live-b".to_vec()));
        assert_eq!(store.get("p", "c")?, None);
        // Discarded: empty, still apart from the store.
        s.discard();
        assert_eq!(s.get(&store, "p", "a")?, Some(b"live-a".to_vec()));
        s.set(&store, "p", "late", b"x", 1024)?;
        assert_eq!(store.get("p", "late")?, None);
        // Promoted: straight to the store.
        s.promote();
        assert_eq!(s.get(&store, "p", "late")?, None);
        s.set(&store, "p", "after", b"y", 1024)?;
        assert_eq!(store.get("p", "after")?, Some(b"y".to_vec()));
        Ok(())
    }

    #[test]
    fn the_quota_bounds_the_scratch() -> Result<(), KvError> {
        let store = KvStore::in_memory()?;
        let s = Scratch::default();
        s.set(&store, "p", "k", &[0; 10], 16)?;
        assert_eq!(s.used(), 11);
        let err = s.set(&store, "p", "j", &[0; 10], 16).unwrap_err();
        assert!(matches!(
            err,
            KvError::QuotaExceeded {
                used: 11,
                wanted: 22,
                quota: 16,
                ..
            }
        ));
        // Shrinking is always allowed.
        s.set(&store, "p", "k", &[0; 2], 16)?;
        assert_eq!(s.used(), 3);
        assert!(matches!(
            s.set(&store, "p", "", b"x", 16),
            Err(KvError::EmptyKey { .. })
        ));
        Ok(())
    }
}
