//! The per-plugin key-value store behind the `kv` interface of `wasp:plugin@0.2.0`.
//!
//! One [`KvStore`] serves every plugin of a runtime. Each plugin granted `kv = true`
//! gets a *namespace* (the runtime uses the plugin's name) and a quota in bytes
//! (`kv-quota`, 10 MiB by default). A plugin only ever names keys and prefixes; the
//! namespace is added by the host, so one plugin cannot see or touch another's keys.
//!
//! # Why redb
//!
//! The store is a [redb](https://docs.rs/redb) database:
//!
//! - **pure Rust**: a plain dependency, used through a safe API (this crate stays
//!   `#![forbid(unsafe_code)]`);
//! - **ACID**: copy-on-write B-trees with checksummed commit slots. A committed write
//!   transaction survives a crash (of wasp, or of the machine once `commit` has returned,
//!   as it fsyncs); an uncommitted one leaves no trace. Each [`KvStore::set`] and
//!   [`KvStore::delete`] is one such transaction, data and usage together;
//! - **no C toolchain**: nothing to link, so wasp still builds with plain `cargo`
//!   everywhere it did (unlike SQLite or RocksDB bindings);
//! - **well kept**: actively maintained and released, fuzzed, with crash tests of its own.
//!
//! # Layout
//!
//! Two tables, always written in the same transaction:
//!
//! - `kv_data`: `(namespace, key) → value`. The key is a redb tuple key, stored with the
//!   length of the namespace in front of it and compared element by element, so no key or
//!   prefix (empty, containing `NUL`, `/`, or another namespace's name) can reach past the
//!   end of its own namespace. Scans also check the namespace of every entry they return.
//! - `kv_usage`: `namespace → bytes`, where bytes is the sum of `key.len() + value.len()`
//!   over the namespace's entries. Because it is updated in the transaction that changes
//!   the data, it always matches the data, also after a crash.
//!
//! # Group commit
//!
//! An fsync per write caps a plugin at a few thousand writes per second. With a
//! commit delay (`[runtime] kv-commit`, 5 ms by default), each `set` and `delete` is
//! its own redb transaction committed with [`Durability::None`]: visible at once to
//! every later read (in this and every other call), atomic, but not yet on disk. A
//! committer thread then makes every such commit durable with one empty
//! [`Durability::Immediate`] commit (one fsync), at most the delay after the first
//! write that is not yet durable. [`KvStore::wait_durable`] waits for the writes made
//! so far to be on disk: `wasp run` calls it before it releases outputs, so a crash
//! never leaves an output whose kv state was lost (the event is read again, the
//! state it wrote was not kept). With a delay of zero every write fsyncs before it
//! returns, as a plain redb commit does. Dropping the last clone of the store commits
//! what is pending.
//!
//! # Blocking
//!
//! Every method blocks: reads walk the B-tree (from disk on a cache miss) and a
//! durable commit fsyncs. With group commit, writes never fsync on the caller's
//! thread and run where they are called; without it, async callers run them on
//! tokio's blocking pool (`tokio::task::spawn_blocking`), never on a runtime worker.
//! Writes are serialized by redb (one write transaction at a time); reads run
//! concurrently with them and see the last committed state.
//!
//! # Example
//!
//! The types are crate-private, so this is not a doctest; the same code runs as the
//! unit test `docs_example`.
//!
//! ```ignore
//! let store = KvStore::in_memory()?;
//! store.set("counter", "hits", b"41", 1024)?;
//! assert_eq!(store.get("counter", "hits")?, Some(b"41".to_vec()));
//! assert_eq!(store.get("other", "hits")?, None); // another plugin's namespace
//! assert_eq!(store.list_keys("counter", "h", 100)?, ["hits"]);
//! assert_eq!(store.usage("counter")?, 6); // "hits" + "41"
//! store.delete("counter", "hits")?;
//! assert_eq!(store.usage("counter")?, 0);
//! ```

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

pub(crate) use crate::error::KvError;

use redb::backends::InMemoryBackend;
use redb::{
    Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, StorageError,
    TableDefinition, WriteTransaction,
};

mod scratch;
pub(crate) use scratch::Scratch;

/// Longest key a plugin may use, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 1024;

/// Memory redb may use to cache pages of the file (redb's own default is 1 GiB).
const CACHE_SIZE: usize = 64 << 20;

/// `(namespace, key) → value`.
const DATA: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv_data");

/// `namespace → bytes used` (sum of `key.len() + value.len()`).
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("kv_usage");

/// Wraps a redb error with what the store was doing.
fn storage<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> KvError {
    move |e| KvError::Storage {
        action,
        hint: "",
        source: Box::new(e.into()),
    }
}

/// A length as bytes of quota (lossless on every platform wasp runs on; saturates otherwise).
fn bytes(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Checks a key a plugin passed in.
fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        Err(KvError::EmptyKey { max: MAX_KEY_LEN })
    } else if key.len() > MAX_KEY_LEN {
        Err(KvError::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        })
    } else {
        Ok(())
    }
}

/// The kv store of a runtime: one redb database, shared by every plugin, split into
/// namespaces.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`. A file can be open in one
/// `KvStore` at a time (redb locks it): clone the store to share it, do not open the file
/// twice.
#[derive(Clone)]
pub(crate) struct KvStore {
    /// The group commit, when writes are not each made durable on their own.
    /// Declared first: dropped (committing what is pending) before the database.
    group: Option<Arc<Committer>>,
    db: Arc<Database>,
}

/// The group-commit bookkeeping, shared by the store and its committer thread.
struct Group {
    /// How long writes may gather before the durable commit.
    delay: Duration,
    state: Mutex<GroupState>,
    /// Wakes the committer: a write is waiting, or the store is closing.
    pending: Condvar,
    /// Wakes the waiters: `durable` moved.
    committed: Condvar,
}

struct GroupState {
    /// The open transaction of this group: every read and write of the store goes
    /// through it until the committer commits it (reads see the group's writes).
    txn: Option<WriteTransaction>,
    /// Writes made (in the open transaction or committed), counted from 1.
    written: u64,
    /// Writes known to be on disk.
    durable: u64,
    /// Writes up to this count were in a transaction whose commit failed: lost.
    lost: u64,
    /// Why the last lost commit failed.
    failed: Option<String>,
    closing: bool,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, GroupState> {
        // A panic while holding the lock cannot leave the counters inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The committer thread; dropping it (with the last store clone) commits what is
/// pending and joins the thread.
struct Committer {
    group: Arc<Group>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.group.lock().closing = true;
        self.group.pending.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The committer's loop: wait for a write, let writes gather for `delay`, commit
/// the group's transaction (one fsync), wake the waiters.
fn commit_loop(group: &Group) {
    let mut st = group.lock();
    loop {
        while st.written == st.durable.max(st.lost) && !st.closing {
            st = group
                .pending
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if st.written == st.durable.max(st.lost) {
            // Closing, nothing pending; a read-only transaction may be open.
            drop(st.txn.take());
            return;
        }
        if !st.closing {
            // Let writes gather; closing ends the wait early.
            st = group
                .pending
                .wait_timeout_while(st, group.delay, |s| !s.closing)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let target = st.written;
        // Committed under the lock: an operation that comes during the fsync waits
        // for it, and then sees the committed state (no read ever goes back in time).
        let result = match st.txn.take() {
            Some(txn) => txn
                .commit()
                .map_err(storage("committing a group of writes")),
            None => Ok(()),
        };
        match result {
            Ok(()) => st.durable = target,
            Err(e) => {
                tracing::error!(target: "wasp::kv", "kv group commit failed, its writes are lost: {e}");
                st.lost = target;
                st.failed = Some(e.to_string());
            }
        }
        group.committed.notify_all();
    }
}

impl fmt::Debug for KvStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvStore").finish_non_exhaustive()
    }
}

impl KvStore {
    /// Opens the database file at `path`, creating it if it does not exist or is empty.
    ///
    /// The whole file is checked on open (redb's integrity check: every page's checksum),
    /// so a file that is not a redb database, or was damaged outside redb, is an error
    /// rather than a panic later. This reads the file once; it also repairs a file left by
    /// a crash, keeping every committed transaction.
    ///
    /// # Errors
    ///
    /// [`KvError::Storage`] if the file cannot be created or opened (missing directory,
    /// permissions), is not a redb database, is corrupted, or is already open (by this or
    /// another process).
    pub(crate) fn open(path: &Path, commit_delay: Duration) -> Result<Self, KvError> {
        let db = Database::builder()
            .set_cache_size(CACHE_SIZE)
            .set_check_integrity_on_open(true)
            .create(path)
            .map_err(|e| {
                let hint = match &e {
                    DatabaseError::DatabaseAlreadyOpen => {
                        " (it is already open: by another wasp process, or by another runtime \
                         in this one; share one store instead)"
                    }
                    DatabaseError::Storage(StorageError::Corrupted(_)) => {
                        " (it is damaged; restore it from a backup, or move it aside to start empty)"
                    }
                    DatabaseError::Storage(StorageError::Io(io))
                        if io.kind() == std::io::ErrorKind::InvalidData =>
                    {
                        " (it is not a wasp kv database; point `[runtime] state` at a new file)"
                    }
                    _ => "",
                };
                KvError::Open {
                    path: path.to_path_buf(),
                    hint,
                    source: Box::new(e.into()),
                }
            })?;
        Self::init(db, commit_delay)
    }

    /// A store kept in memory only, lost when the last clone is dropped (used when the
    /// manifest has no `[runtime] state`).
    ///
    /// # Errors
    ///
    /// [`KvError::Storage`] if redb cannot initialize the database (out of memory).
    pub(crate) fn in_memory() -> Result<Self, KvError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(storage("creating the in-memory database"))?;
        // Nothing to make durable: no committer.
        Self::init(db, Duration::ZERO)
    }

    /// Creates both tables, so that read transactions always find them, and starts
    /// the committer when `commit_delay` is not zero.
    fn init(db: Database, commit_delay: Duration) -> Result<Self, KvError> {
        let txn = begin_write(&db, Durability::Immediate, "creating the tables")?;
        txn.open_table(DATA)
            .map_err(storage("creating the data table"))?;
        txn.open_table(USAGE)
            .map_err(storage("creating the usage table"))?;
        txn.commit().map_err(storage("creating the tables"))?;
        let db = Arc::new(db);
        let group = if commit_delay.is_zero() {
            None
        } else {
            let group = Arc::new(Group {
                delay: commit_delay,
                state: Mutex::new(GroupState {
                    txn: None,
                    written: 0,
                    durable: 0,
                    lost: 0,
                    failed: None,
                    closing: false,
                }),
                pending: Condvar::new(),
                committed: Condvar::new(),
            });
            let group2 = Arc::clone(&group);
            let thread = std::thread::Builder::new()
                .name("wasp-kv-commit".into())
                .spawn(move || commit_loop(&group2))
                .map_err(|e| KvError::Storage {
                    action: "starting the group-commit thread",
                    hint: "",
                    source: Box::new(redb::Error::Io(e)),
                })?;
            Some(Arc::new(Committer {
                group,
                thread: Some(thread),
            }))
        };
        Ok(Self { group, db })
    }

    /// Whether writes are group-committed (they then never fsync on the caller's
    /// thread, so async callers may run them in place).
    pub(crate) fn group_commit(&self) -> bool {
        self.group.is_some()
    }

    /// Waits until every write made before this call is on disk. Immediate
    /// without group commit (each write was durable when it returned).
    ///
    /// # Errors
    ///
    /// [`KvError::Commit`] when a commit that held some of these writes failed
    /// (they are lost).
    pub(crate) fn wait_durable(&self) -> Result<(), KvError> {
        let Some(c) = &self.group else { return Ok(()) };
        let group = &c.group;
        let mut st = group.lock();
        let target = st.written;
        loop {
            // A failed commit held some of these writes (checked first: a later
            // commit's success does not bring them back).
            if target > 0 && target <= st.lost {
                return Err(KvError::Commit {
                    message: st.failed.clone().unwrap_or_default(),
                });
            }
            if st.durable >= target {
                return Ok(());
            }
            st = group
                .committed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs `op` on a write transaction: the group's open one (opened if need be;
    /// the committer commits it), or, without group commit, one of its own,
    /// committed (durably) when `op` says it wrote and aborted otherwise.
    fn write<T>(
        &self,
        action: &'static str,
        op: impl FnOnce(&WriteTransaction) -> Result<(T, bool), KvError>,
    ) -> Result<T, KvError> {
        match &self.group {
            Some(c) => {
                let mut st = c.group.lock();
                if st.txn.is_none() {
                    st.txn = Some(begin_write(&self.db, Durability::Immediate, action)?);
                }
                let Some(txn) = st.txn.as_ref() else {
                    unreachable!("opened above")
                };
                let (value, wrote) = op(txn)?;
                if wrote {
                    st.written += 1;
                    drop(st);
                    c.group.pending.notify_one();
                }
                Ok(value)
            }
            None => {
                let txn = begin_write(&self.db, Durability::Immediate, action)?;
                match op(&txn) {
                    Ok((value, true)) => {
                        txn.commit().map_err(storage(action))?;
                        Ok(value)
                    }
                    Ok((value, false)) => {
                        txn.abort().map_err(storage(action))?;
                        Ok(value)
                    }
                    Err(e) => {
                        txn.abort().map_err(storage(action))?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Runs a read: in the group's transaction (so it sees the group's writes), or
    /// without group commit in a read transaction of its own, concurrently with
    /// writers.
    fn read<T>(
        &self,
        action: &'static str,
        op: impl FnOnce(&dyn Tables) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        match &self.group {
            Some(_) => self.write(action, |txn| Ok((op(txn)?, false))),
            None => {
                let txn = self.db.begin_read().map_err(storage(action))?;
                op(&txn)
            }
        }
    }

    /// The value of `key` in `namespace`, or `None` if it is not set.
    ///
    /// # Errors
    ///
    /// [`KvError::EmptyKey`], [`KvError::KeyTooLong`], or [`KvError::Storage`].
    pub(crate) fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        self.read("reading a value", |t| t.value(namespace, key))
    }

    /// Sets `key` in `namespace` to `value`: durable when it returns without group
    /// commit, else at the group's commit ([`KvStore::wait_durable`]).
    ///
    /// The namespace's usage grows by `key.len() + value.len()`, less the size of the
    /// value it replaces. A write that would take usage over `quota` is refused; a write
    /// that does not grow usage (replacing a value with one no longer) is always allowed,
    /// so a plugin whose quota was lowered can still shrink its data.
    ///
    /// # Errors
    ///
    /// [`KvError::QuotaExceeded`] (nothing is written), [`KvError::EmptyKey`],
    /// [`KvError::KeyTooLong`], or [`KvError::Storage`].
    pub(crate) fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), KvError> {
        check_key(key)?;
        let entry_size = bytes(key.len()).saturating_add(bytes(value.len()));
        self.write("writing a value", |txn| {
            let mut data = txn
                .open_table(DATA)
                .map_err(storage("opening the data table for set"))?;
            let mut usage = txn
                .open_table(USAGE)
                .map_err(storage("opening the usage table for set"))?;
            let used = usage
                .get(namespace)
                .map_err(storage("reading usage"))?
                .map_or(0, |u| u.value());
            let old_size = data
                .get((namespace, key))
                .map_err(storage("reading the old value"))?
                .map_or(0, |v| {
                    bytes(key.len()).saturating_add(bytes(v.value().len()))
                });
            let wanted = used.saturating_sub(old_size).saturating_add(entry_size);
            if wanted > quota && wanted > used {
                // Checked before anything is written: the transaction is untouched.
                return Err(KvError::QuotaExceeded {
                    namespace: namespace.to_string(),
                    used,
                    wanted,
                    quota,
                });
            }
            data.insert((namespace, key), value)
                .map_err(storage("writing a value"))?;
            usage
                .insert(namespace, wanted)
                .map_err(storage("writing usage"))?;
            Ok(((), true))
        })
    }

    /// Removes `key` from `namespace` and frees its bytes of quota (durable as
    /// [`KvStore::set`]). Deleting a key that is not set is not an error.
    ///
    /// # Errors
    ///
    /// [`KvError::EmptyKey`], [`KvError::KeyTooLong`], or [`KvError::Storage`].
    pub(crate) fn delete(&self, namespace: &str, key: &str) -> Result<(), KvError> {
        check_key(key)?;
        self.write("removing a value", |txn| {
            let mut data = txn
                .open_table(DATA)
                .map_err(storage("opening the data table for delete"))?;
            let removed = data
                .remove((namespace, key))
                .map_err(storage("removing a value"))?
                .map(|v| bytes(key.len()).saturating_add(bytes(v.value().len())));
            let Some(freed) = removed else {
                return Ok(((), false));
            };
            let mut usage = txn
                .open_table(USAGE)
                .map_err(storage("opening the usage table for delete"))?;
            let used = usage
                .get(namespace)
                .map_err(storage("reading usage"))?
                .map_or(0, |u| u.value());
            let left = used.saturating_sub(freed);
            if left == 0 {
                usage.remove(namespace).map_err(storage("removing usage"))?;
            } else {
                usage
                    .insert(namespace, left)
                    .map_err(storage("writing usage"))?;
            }
            Ok(((), true))
        })
    }

    /// The keys of `namespace` that start with `prefix` (all keys for `""`), in byte
    /// order, at most `limit` of them.
    ///
    /// # Errors
    ///
    /// [`KvError::Storage`].
    pub(crate) fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read("scanning keys", |t| t.keys(namespace, prefix, limit))
    }

    /// Bytes `namespace` uses: the sum of `key.len() + value.len()` over its entries.
    ///
    /// # Errors
    ///
    /// [`KvError::Storage`].
    pub(crate) fn usage(&self, namespace: &str) -> Result<u64, KvError> {
        self.read("reading usage", |t| t.used(namespace))
    }
}

/// The reads of the store, over a read transaction or the group's write
/// transaction alike.
trait Tables {
    fn value(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn keys(&self, namespace: &str, prefix: &str, limit: usize) -> Result<Vec<String>, KvError>;
    fn used(&self, namespace: &str) -> Result<u64, KvError>;
}

/// [`Tables`] for both transaction types: they open tables of different types
/// with the same read API.
macro_rules! tables_for {
    ($txn:ty) => {
        impl Tables for $txn {
            fn value(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
                let data = self
                    .open_table(DATA)
                    .map_err(storage("opening the data table for get"))?;
                let value = data
                    .get((namespace, key))
                    .map_err(storage("reading a value"))?;
                Ok(value.map(|v| v.value().to_vec()))
            }

            fn keys(
                &self,
                namespace: &str,
                prefix: &str,
                limit: usize,
            ) -> Result<Vec<String>, KvError> {
                let data = self
                    .open_table(DATA)
                    .map_err(storage("opening the data table for list-keys"))?;
                // Tuple keys sort by namespace, then key: the namespace's keys with this
                // prefix are one run starting at (namespace, prefix). Stop at the first
                // entry outside it.
                let range = data
                    .range((namespace, prefix)..)
                    .map_err(storage("scanning keys"))?;
                let mut keys = Vec::new();
                for entry in range {
                    let (k, _) = entry.map_err(storage("scanning keys"))?;
                    let (ns, key) = k.value();
                    if ns != namespace || !key.starts_with(prefix) {
                        break;
                    }
                    keys.push(key.to_string());
                    if keys.len() >= limit {
                        break;
                    }
                }
                Ok(keys)
            }

            fn used(&self, namespace: &str) -> Result<u64, KvError> {
                let usage = self
                    .open_table(USAGE)
                    .map_err(storage("opening the usage table"))?;
                let used = usage.get(namespace).map_err(storage("reading usage"))?;
                Ok(used.map_or(0, |u| u.value()))
            }
        }
    };
}

tables_for!(WriteTransaction);
tables_for!(redb::ReadTransaction);

/// Starts a write transaction of `durability`.
fn begin_write(
    db: &Database,
    durability: Durability,
    action: &'static str,
) -> Result<WriteTransaction, KvError> {
    let mut txn = db.begin_write().map_err(storage(action))?;
    // `Immediate`: `commit` returns once the data is on disk (a no-op for the in-memory
    // backend). Commits stay 1-phase (redb's default, checksummed commit slots): 2-phase
    // commit only defends against someone who controls the order in which the disk
    // flushes pages and can crash the machine during fsync, which a plugin cannot, and
    // it costs a second fsync per write.
    txn.set_durability(durability).map_err(storage(action))?;
    Ok(txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: u64 = 1 << 20;

    fn store() -> KvStore {
        KvStore::in_memory().unwrap()
    }

    #[test]
    fn docs_example() -> Result<(), KvError> {
        let store = KvStore::in_memory()?;
        store.set("counter", "hits", b"41", 1024)?;
        assert_eq!(store.get("counter", "hits")?, Some(b"41".to_vec()));
        assert_eq!(store.get("other", "hits")?, None); // another plugin's namespace
        assert_eq!(store.list_keys("counter", "h", 100)?, ["hits"]);
        assert_eq!(store.usage("counter")?, 6); // "hits" + "41"
        store.delete("counter", "hits")?;
        assert_eq!(store.usage("counter")?, 0);
        Ok(())
    }

    #[test]
    fn set_get_round_trip_and_replace() {
        let s = store();
        assert_eq!(s.get("p", "k").unwrap(), None);
        s.set("p", "k", b"one", QUOTA).unwrap();
        assert_eq!(s.get("p", "k").unwrap(), Some(b"one".to_vec()));
        s.set("p", "k", b"", QUOTA).unwrap();
        assert_eq!(s.get("p", "k").unwrap(), Some(Vec::new()));
        let binary: Vec<u8> = (0..=255).collect();
        s.set("p", "k", &binary, QUOTA).unwrap();
        assert_eq!(s.get("p", "k").unwrap(), Some(binary));
        let unicode = "clé/ключ/\u{1F511}";
        s.set("p", unicode, b"v", QUOTA).unwrap();
        assert_eq!(s.get("p", unicode).unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn empty_and_too_long_keys_are_refused() {
        let s = store();
        assert!(matches!(
            s.set("p", "", b"v", QUOTA),
            Err(KvError::EmptyKey { max: MAX_KEY_LEN })
        ));
        assert!(matches!(
            s.get("p", ""),
            Err(KvError::EmptyKey { max: MAX_KEY_LEN })
        ));
        assert!(matches!(
            s.delete("p", ""),
            Err(KvError::EmptyKey { max: MAX_KEY_LEN })
        ));
        let longest = "k".repeat(MAX_KEY_LEN);
        s.set("p", &longest, b"v", QUOTA).unwrap();
        assert_eq!(s.get("p", &longest).unwrap(), Some(b"v".to_vec()));
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        let err = s.set("p", &too_long, b"v", QUOTA).unwrap_err();
        assert!(
            matches!(err, KvError::KeyTooLong { len, max } if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN)
        );
        assert!(matches!(
            s.get("p", &too_long),
            Err(KvError::KeyTooLong { .. })
        ));
        assert!(matches!(
            s.delete("p", &too_long),
            Err(KvError::KeyTooLong { .. })
        ));
        assert_eq!(s.list_keys("p", "", 10).unwrap(), [longest]);
    }

    /// Keys and prefixes a hostile plugin "a" might try, to reach plugin "b"'s keys.
    const ADVERSARIAL: &[&str] = &[
        "b",
        "b\0x",
        "\0",
        "\0b",
        "/",
        "b/",
        "../b",
        "a",
        "ab",
        "\u{10FFFF}",
        "\x7f",
        " ",
    ];

    #[test]
    fn namespaces_are_isolated_whatever_the_key_or_prefix() {
        let s = store();
        for key in ["secret", "x", "b\0x", "\0", "/"] {
            s.set("b", key, b"b's", QUOTA).unwrap();
        }
        // "a" reads b's keys by name: never found.
        for key in ["secret", "x", "b\0x", "\0", "/"] {
            assert_eq!(s.get("a", key).unwrap(), None, "key {key:?}");
        }
        // "a" writes keys shaped like b's namespace; b's values stay b's.
        for key in ADVERSARIAL {
            s.set("a", key, b"a's", QUOTA).unwrap();
        }
        for key in ["secret", "x", "b\0x", "\0", "/"] {
            assert_eq!(s.get("b", key).unwrap(), Some(b"b's".to_vec()));
        }
        // "a"'s scans, with every prefix, return only what "a" wrote.
        for prefix in ADVERSARIAL.iter().chain(&[""]) {
            for key in s.list_keys("a", prefix, usize::MAX).unwrap() {
                assert!(
                    ADVERSARIAL.contains(&key.as_str()),
                    "{prefix:?} saw {key:?}"
                );
                assert_eq!(s.get("a", &key).unwrap(), Some(b"a's".to_vec()));
            }
        }
        // "a" deleting b's key names removes nothing of b's.
        for key in ["secret", "x", "b\0x", "\0", "/"] {
            s.delete("a", key).unwrap();
        }
        assert_eq!(s.list_keys("b", "", usize::MAX).unwrap().len(), 5);
        // A namespace with no keys sees nothing, for any prefix.
        for prefix in ADVERSARIAL.iter().chain(&[""]) {
            assert!(s.list_keys("c", prefix, usize::MAX).unwrap().is_empty());
        }
    }

    #[test]
    fn namespace_that_is_a_prefix_of_another_sees_only_its_keys() {
        let s = store();
        s.set("a", "1", b"", QUOTA).unwrap();
        s.set("ab", "2", b"", QUOTA).unwrap();
        s.set("a\0", "3", b"", QUOTA).unwrap();
        s.set("", "4", b"", QUOTA).unwrap();
        assert_eq!(s.list_keys("a", "", 100).unwrap(), ["1"]);
        assert_eq!(s.list_keys("ab", "", 100).unwrap(), ["2"]);
        assert_eq!(s.list_keys("a\0", "", 100).unwrap(), ["3"]);
        assert_eq!(s.list_keys("", "", 100).unwrap(), ["4"]);
        // Prefixes that spell the other namespace's keys or its name.
        for prefix in ["b", "b2", "2", "\0", "\u{10FFFF}"] {
            assert!(
                s.list_keys("a", prefix, 100).unwrap().is_empty(),
                "{prefix:?}"
            );
        }
        assert_eq!(s.get("a", "2").unwrap(), None);
        assert_eq!(s.get("ab", "1").unwrap(), None);
        assert_eq!(s.usage("a").unwrap(), 1);
        assert_eq!(s.usage("ab").unwrap(), 1);
    }

    #[test]
    fn list_keys_filters_by_prefix_sorts_and_limits() {
        let s = store();
        for key in ["b", "a/2", "a/10", "a/1", "a", "ab", "c", "a/1/x"] {
            s.set("p", key, b"v", QUOTA).unwrap();
        }
        s.set("q", "a/0", b"v", QUOTA).unwrap();
        assert_eq!(
            s.list_keys("p", "", 100).unwrap(),
            ["a", "a/1", "a/1/x", "a/10", "a/2", "ab", "b", "c"]
        );
        assert_eq!(
            s.list_keys("p", "a/", 100).unwrap(),
            ["a/1", "a/1/x", "a/10", "a/2"]
        );
        assert_eq!(
            s.list_keys("p", "a/1", 100).unwrap(),
            ["a/1", "a/1/x", "a/10"]
        );
        assert_eq!(s.list_keys("p", "a/", 2).unwrap(), ["a/1", "a/1/x"]);
        assert_eq!(s.list_keys("p", "c", 100).unwrap(), ["c"]);
        assert!(s.list_keys("p", "d", 100).unwrap().is_empty());
        assert!(s.list_keys("p", "", 0).unwrap().is_empty());
        assert!(s.list_keys("p", &"x".repeat(5000), 10).unwrap().is_empty());
    }

    #[test]
    fn quota_exceeded_writes_nothing() {
        let s = store();
        s.set("p", "k", b"12345", 10).unwrap(); // 1 + 5 = 6 bytes
        let err = s.set("p", "other", b"123", 10).unwrap_err(); // 6 + 8 = 14 > 10
        match &err {
            KvError::QuotaExceeded {
                namespace,
                used,
                wanted,
                quota,
            } => {
                assert_eq!(
                    (namespace.as_str(), *used, *wanted, *quota),
                    ("p", 6, 14, 10)
                );
            }
            other => panic!("expected QuotaExceeded, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("'p'") && message.contains("kv-quota"),
            "{message}"
        );
        assert_eq!(s.get("p", "other").unwrap(), None);
        assert_eq!(s.usage("p").unwrap(), 6);
        // A value bigger than the whole quota, on a fresh namespace.
        assert!(matches!(
            s.set("q", "k", &[0; 11], 10),
            Err(KvError::QuotaExceeded {
                used: 0,
                wanted: 12,
                ..
            })
        ));
        assert_eq!(s.usage("q").unwrap(), 0);
        assert!(s.list_keys("q", "", 10).unwrap().is_empty());
    }

    #[test]
    fn replacing_a_value_counts_the_old_size() {
        let s = store();
        s.set("p", "k", b"123456789", 10).unwrap(); // exactly 10
        assert_eq!(s.usage("p").unwrap(), 10);
        // Same size again: would be 20 if the old value were not subtracted.
        s.set("p", "k", b"987654321", 10).unwrap();
        assert_eq!(s.usage("p").unwrap(), 10);
        s.set("p", "k", b"1", 10).unwrap();
        assert_eq!(s.usage("p").unwrap(), 2);
        assert!(matches!(
            s.set("p", "k", b"1234567890", 10),
            Err(KvError::QuotaExceeded {
                used: 2,
                wanted: 11,
                ..
            })
        ));
        assert_eq!(s.get("p", "k").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn shrinking_is_allowed_over_a_lowered_quota() {
        let s = store();
        s.set("p", "k", b"123456789", 100).unwrap(); // 10 bytes
        s.set("p", "k", b"12345", 4).unwrap(); // 6 bytes: still over 4, but smaller
        assert_eq!(s.usage("p").unwrap(), 6);
        assert!(matches!(
            s.set("p", "k2", b"", 4),
            Err(KvError::QuotaExceeded { .. })
        ));
    }

    #[test]
    fn delete_frees_quota_and_missing_key_is_ok() {
        let s = store();
        s.delete("p", "never-set").unwrap();
        assert_eq!(s.usage("p").unwrap(), 0);
        s.set("p", "a", b"1234", 10).unwrap();
        s.set("p", "b", b"1234", 10).unwrap();
        assert!(matches!(
            s.set("p", "c", b"1", 10),
            Err(KvError::QuotaExceeded { .. })
        ));
        s.delete("p", "a").unwrap();
        assert_eq!(s.usage("p").unwrap(), 5);
        assert_eq!(s.get("p", "a").unwrap(), None);
        s.set("p", "c", b"1", 10).unwrap();
        s.delete("p", "b").unwrap();
        s.delete("p", "c").unwrap();
        s.delete("p", "c").unwrap();
        assert_eq!(s.usage("p").unwrap(), 0);
        assert!(s.list_keys("p", "", 10).unwrap().is_empty());
    }

    #[test]
    fn data_and_usage_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = KvStore::open(&path, Duration::ZERO).unwrap();
            s.set("p", "kept", b"value", QUOTA).unwrap();
            s.set("p", "gone", b"value", QUOTA).unwrap();
            s.set("q", "other", b"x", QUOTA).unwrap();
            s.delete("p", "gone").unwrap();
        }
        let s = KvStore::open(&path, Duration::ZERO).unwrap();
        assert_eq!(s.get("p", "kept").unwrap(), Some(b"value".to_vec()));
        assert_eq!(s.get("p", "gone").unwrap(), None);
        assert_eq!(s.list_keys("p", "", 10).unwrap(), ["kept"]);
        assert_eq!(s.usage("p").unwrap(), 9);
        assert_eq!(s.usage("q").unwrap(), 6);
        // The quota still counts what was stored before the reopen.
        assert!(matches!(
            s.set("p", "more", b"123456", 15),
            Err(KvError::QuotaExceeded {
                used: 9,
                wanted: 19,
                ..
            })
        ));
    }

    /// Set for the child process of `crash_mid_write_loses_nothing_committed`.
    const CRASH_PATH_VAR: &str = "WASP_KV_TEST_CRASH_PATH";

    /// Run in a child process: commits two sets, then dies in the middle of a third
    /// write transaction (data and usage written, not committed), running no destructor.
    /// Does nothing unless the environment variable is set (in the child).
    #[test]
    fn crash_helper() {
        let Some(path) = std::env::var_os(CRASH_PATH_VAR) else {
            return;
        };
        let s = KvStore::open(Path::new(&path), Duration::ZERO).unwrap();
        s.set("p", "committed-1", b"value", QUOTA).unwrap();
        s.set("p", "committed-2", b"value", QUOTA).unwrap();
        let txn = s.db.begin_write().unwrap();
        {
            let mut data = txn.open_table(DATA).unwrap();
            for i in 0..1000 {
                data.insert(("p", format!("uncommitted-{i}").as_str()), &[1u8; 1000][..])
                    .unwrap();
            }
            let mut usage = txn.open_table(USAGE).unwrap();
            usage.insert("p", 1_000_000).unwrap();
        }
        // Like a crash: the process ends here, with the transaction open.
        std::process::exit(0);
    }

    #[test]
    fn crash_mid_write_loses_nothing_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kv::tests::crash_helper", "--nocapture"])
            .env(CRASH_PATH_VAR, &path)
            .status()
            .unwrap();
        assert!(status.success(), "{status}");
        let s = KvStore::open(&path, Duration::ZERO).unwrap();
        assert_eq!(
            s.list_keys("p", "", usize::MAX).unwrap(),
            ["committed-1", "committed-2"]
        );
        assert_eq!(s.usage("p").unwrap(), 2 * (11 + 5));
        s.set("p", "after", b"x", QUOTA).unwrap();
        assert_eq!(s.usage("p").unwrap(), 2 * (11 + 5) + 6);
    }

    #[test]
    fn opening_a_file_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let _first = KvStore::open(&path, Duration::ZERO).unwrap();
        let err = KvStore::open(&path, Duration::ZERO).unwrap_err();
        assert!(matches!(err, KvError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("already open"), "{err}");
    }

    #[test]
    fn opening_a_garbage_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let garbage: [&[u8]; 4] = [
            b"not a database",
            &[0xFF; 1],
            &[0xAB; 64 * 1024],
            b"redb\x1a\x0a\xa9\x0d\x0a but the rest is junk",
        ];
        for (i, bytes) in garbage.into_iter().enumerate() {
            let path = dir.path().join(format!("garbage-{i}"));
            std::fs::write(&path, bytes).unwrap();
            let err = KvStore::open(&path, Duration::ZERO).unwrap_err();
            assert!(matches!(err, KvError::Open { .. }), "{i}: {err:?}");
            assert!(err.to_string().contains("garbage-"), "{err}");
            if i == 0 {
                assert!(err.to_string().contains("not a wasp kv database"), "{err}");
            }
        }
    }

    #[test]
    fn opening_a_damaged_database_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = KvStore::open(&path, Duration::ZERO).unwrap();
            for i in 0..200 {
                s.set("p", &format!("key-{i}"), &[7; 100], QUOTA).unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        // Keep redb's header page, overwrite everything after it.
        for b in bytes.iter_mut().skip(4096) {
            *b = 0x5A;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = KvStore::open(&path, Duration::ZERO).unwrap_err();
        assert!(matches!(err, KvError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn open_in_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/state.redb");
        let err = KvStore::open(&path, Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("state.redb"), "{err}");
    }

    #[test]
    fn concurrent_sets_from_threads_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let s = KvStore::open(&dir.path().join("state.redb"), Duration::ZERO).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let ns = format!("plugin-{t}");
                    for i in 0..100 {
                        s.set(&ns, &format!("k{i:03}"), b"v", QUOTA).unwrap();
                        // Reads interleave with the other threads' writes.
                        assert_eq!(
                            s.get(&ns, &format!("k{i:03}")).unwrap(),
                            Some(b"v".to_vec())
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..4 {
            let ns = format!("plugin-{t}");
            assert_eq!(s.list_keys(&ns, "", usize::MAX).unwrap().len(), 100);
            assert_eq!(s.usage(&ns).unwrap(), 100 * 5); // "k000" + "v"
        }
    }

    #[test]
    fn store_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<KvStore>();
        fn check_err<T: Send + Sync + 'static>() {}
        check_err::<KvError>();
    }

    #[test]
    fn group_commit_makes_writes_durable_and_visible_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = KvStore::open(&path, Duration::from_millis(5)).unwrap();
            assert!(s.group_commit());
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for i in 0..200 {
                            let key = format!("k{t}-{i:03}");
                            s.set("p", &key, b"v", QUOTA).unwrap();
                            // Visible before it is durable.
                            assert_eq!(s.get("p", &key).unwrap(), Some(b"v".to_vec()));
                        }
                        s.delete("p", &format!("k{t}-000")).unwrap();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            s.wait_durable().unwrap();
            let st = s.group.as_ref().unwrap().group.lock();
            assert_eq!(st.durable, st.written);
            assert_eq!(st.written, 8 * 201);
        }
        let s = KvStore::open(&path, Duration::ZERO).unwrap();
        assert_eq!(s.list_keys("p", "", 10_000).unwrap().len(), 8 * 199);
        assert_eq!(s.usage("p").unwrap(), 8 * 199 * 7); // "kT-III" + "v"
    }

    #[test]
    fn dropping_the_store_commits_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            // A delay far longer than the test: only the drop can commit.
            let s = KvStore::open(&path, Duration::from_secs(3600)).unwrap();
            s.set("p", "k", b"kept", QUOTA).unwrap();
        }
        let s = KvStore::open(&path, Duration::ZERO).unwrap();
        assert_eq!(s.get("p", "k").unwrap(), Some(b"kept".to_vec()));
        // Without group commit there is nothing to wait for.
        assert!(!s.group_commit());
        s.wait_durable().unwrap();
    }
}
