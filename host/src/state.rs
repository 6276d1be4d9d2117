//! The data of one instance's `Store`: its WASI context, its limiter, and what the
//! host imports need to know about the plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capability::{HostFns, OutputBudget};
use crate::error::KvError;
use crate::kv::Scratch;
use crate::limits::{Limiter, PanicRecord};

/// Everything one instance's store carries.
pub(crate) struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) plugin: Arc<str>,
    pub(crate) shared: Arc<SharedState>,
    /// Bounds stdout, stderr and `log` bytes per call.
    pub(crate) budget: OutputBudget,
    /// The last message the plugin logged at `error` level in this call.
    pub(crate) last_error: Option<String>,
    /// The panic the plugin reported in this call (log field `wasp.panic`).
    pub(crate) panic: Option<PanicRecord>,
    /// When the current call (or instantiation) must end.
    pub(crate) deadline: std::time::Instant,
    /// The instance's tape, while it is recorded or replayed.
    pub(crate) tape: Option<crate::tape::Tape>,
}

/// What all instances of one plugin share.
#[derive(Debug)]
pub(crate) struct SharedState {
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) host_fns: HostFns,
    pub(crate) granted_host_fns: Vec<String>,
    /// The plugin's kv namespace, when `kv = true` is granted.
    pub(crate) kv: Option<KvAccess>,
}

/// A plugin's access to the runtime's kv store.
#[derive(Clone)]
pub(crate) struct KvAccess {
    pub(crate) store: crate::kv::KvStore,
    pub(crate) namespace: String,
    pub(crate) quota: u64,
    /// Set for a version in shadow: its writes stay in a scratch namespace.
    pub(crate) scratch: Option<Arc<Scratch>>,
}

impl KvAccess {
    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match &self.scratch {
            Some(s) => s.get(&self.store, &self.namespace, key),
            None => self.store.get(&self.namespace, key),
        }
    }

    pub(crate) fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        match &self.scratch {
            Some(s) => s.set(&self.store, &self.namespace, key, value, self.quota),
            None => self.store.set(&self.namespace, key, value, self.quota),
        }
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), KvError> {
        match &self.scratch {
            Some(s) => s.delete(&self.store, &self.namespace, key, self.quota),
            None => self.store.delete(&self.namespace, key),
        }
    }

    pub(crate) fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, KvError> {
        match &self.scratch {
            Some(s) => s.list_keys(&self.store, &self.namespace, prefix, limit),
            None => self.store.list_keys(&self.namespace, prefix, limit),
        }
    }
}

impl std::fmt::Debug for KvAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvAccess")
            .field("namespace", &self.namespace)
            .field("quota", &self.quota)
            .field("scratch", &self.scratch)
            .finish()
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
