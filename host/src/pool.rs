//! Instances ready to serve calls, and the guard every call into wasm runs under:
//! fuel, an epoch deadline that yields to tokio and then traps, a tokio timeout for
//! time spent in blocking WASI calls, and the classification of what went wrong.
//! An instance that faulted is dropped, never re-entered.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::capability::{Grants, OutputBudget};
use crate::error::{Error, Fault, Result};
use crate::limits::{Limiter, Limits, TrapContext, classify};
use crate::metrics::Metrics;
use crate::plugin::{InstanceMode, PluginInfo};
use crate::state::{SharedState, StoreState};
use crate::version::{since_v0_1_0 as v0_1_0, since_v0_2_0 as v0_2_0};

/// Bytes of stdout + stderr + log one call may produce before the rest is dropped.
const OUTPUT_BUDGET: u64 = 1 << 20;

/// A version's pre-linked component, ready to instantiate.
pub(crate) enum Pre {
    V0_1_0(v0_1_0::PluginPre<StoreState>),
    V0_2_0(v0_2_0::PluginPre<StoreState>),
}

enum Bindings {
    V0_1_0(v0_1_0::Plugin),
    V0_2_0(v0_2_0::Plugin),
}

/// One instance of a plugin and its store.
pub(crate) struct Instance {
    store: Store<StoreState>,
    bindings: Bindings,
}

/// What a plugin's export returned, before the host turns it into a `Result`.
type Guest<T> = std::result::Result<T, (String, String)>;

impl Instance {
    async fn info(&mut self) -> wasmtime::Result<PluginInfo> {
        match &self.bindings {
            Bindings::V0_1_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_info(&mut self.store)
                .await?
                .into()),
            Bindings::V0_2_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_info(&mut self.store)
                .await?
                .into()),
        }
    }

    /// `shutdown` (0.2.0 and later; a no-op for 0.1.0 plugins).
    async fn shutdown(&mut self) -> wasmtime::Result<()> {
        match &self.bindings {
            Bindings::V0_1_0(_) => Ok(()),
            Bindings::V0_2_0(b) => b.wasp_plugin_guest().call_shutdown(&mut self.store).await,
        }
    }

    async fn init(&mut self) -> wasmtime::Result<Guest<()>> {
        match &self.bindings {
            Bindings::V0_1_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_init(&mut self.store)
                .await?
                .map_err(v0_1_0::plugin_error)),
            Bindings::V0_2_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_init(&mut self.store)
                .await?
                .map_err(v0_2_0::plugin_error)),
        }
    }

    async fn call(&mut self, function: &str, input: &[u8]) -> wasmtime::Result<Guest<Vec<u8>>> {
        match &self.bindings {
            Bindings::V0_1_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_call(&mut self.store, function, input)
                .await?
                .map_err(v0_1_0::plugin_error)),
            Bindings::V0_2_0(b) => Ok(b
                .wasp_plugin_guest()
                .call_call(&mut self.store, function, input)
                .await?
                .map_err(v0_2_0::plugin_error)),
        }
    }

    /// Prepares the store for one export call under `limits`; returns its deadline.
    fn arm(&mut self, limits: &Limits) -> Instant {
        let deadline = Instant::now() + limits.timeout;
        let s = &mut self.store;
        let data = s.data_mut();
        data.last_error = None;
        data.deadline = deadline;
        data.budget.refill(OUTPUT_BUDGET);
        // Cannot fail: the engine is built with consume_fuel.
        let _ = s.set_fuel(limits.fuel);
        let copy_budget = limits
            .max_output
            .max(limits.max_input)
            .saturating_add(64 << 10);
        s.set_hostcall_fuel(usize::try_from(copy_budget).unwrap_or(usize::MAX));
        s.set_epoch_deadline(1);
        deadline
    }

    fn trap_context(&mut self) -> TrapContext {
        let data = self.store.data_mut();
        TrapContext {
            memory_refused: std::mem::take(&mut data.limiter.refused),
            last_error: data.last_error.take(),
        }
    }
}

/// Where a plugin's instances come from, and how calls run on them.
pub(crate) struct Pool {
    /// What the pool was made from (fixed for its life).
    pub(crate) spec: PoolSpec,
    idle: Mutex<Vec<Instance>>,
    permits: Arc<Semaphore>,
    /// Set on unload: instances are no longer kept.
    closed: std::sync::atomic::AtomicBool,
    /// Calls waiting for an instance now.
    waiting: std::sync::atomic::AtomicU32,
}

/// What a pool is made from.
pub(crate) struct PoolSpec {
    pub(crate) engine: Engine,
    pub(crate) pre: Pre,
    pub(crate) name: Arc<str>,
    pub(crate) limits: Limits,
    pub(crate) grants: Grants,
    pub(crate) shared: Arc<SharedState>,
    pub(crate) mode: InstanceMode,
    pub(crate) max_instances: u32,
    pub(crate) max_queue: u32,
    pub(crate) metrics: Arc<Metrics>,
}

/// An instance taken from the pool for one call.
pub(crate) struct Lease {
    instance: Option<Instance>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(crate) fn new(spec: PoolSpec) -> Self {
        Pool {
            permits: Arc::new(Semaphore::new(spec.max_instances as usize)),
            spec,
            idle: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            waiting: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn fault(&self, function: &str, fault: Fault) -> Error {
        Error::Fault {
            plugin: self.spec.name.to_string(),
            function: function.to_string(),
            fault,
        }
    }

    /// Runs one export call on `inst` under the limits; `Err` means the instance
    /// must be dropped.
    async fn guarded<T>(
        &self,
        inst: &mut Instance,
        run: impl AsyncFnOnce(&mut Instance) -> wasmtime::Result<T>,
    ) -> std::result::Result<T, Fault> {
        let deadline = inst.arm(&self.spec.limits);
        let outcome = tokio::time::timeout_at(deadline.into(), run(inst)).await;
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let ctx = inst.trap_context();
                let text = format!("{e:#}");
                if text.contains("fuel allocated for hostcalls has been exhausted") {
                    // wasmtime refused to copy more guest data to the host than the
                    // per-call budget (max-output) allows.
                    return Err(Fault::OutputTooLarge {
                        limit: self.spec.limits.max_output,
                    });
                }
                Err(classify(&e, &self.spec.limits, ctx))
            }
            // Dropping the future cancelled the call (e.g. a blocking WASI sleep).
            Err(_elapsed) => Err(Fault::Timeout {
                limit: self.spec.limits.timeout,
            }),
        }
    }

    /// Creates a fresh instance and runs `init` on it, under the limits.
    pub(crate) async fn instantiate(&self) -> Result<Instance> {
        let budget = OutputBudget::new(OUTPUT_BUDGET);
        let wasi = self.spec.grants.wasi_ctx(&self.spec.name, &budget)?;
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(self.spec.limits.memory),
            plugin: self.spec.name.clone(),
            shared: self.spec.shared.clone(),
            budget,
            last_error: None,
            deadline: Instant::now() + self.spec.limits.timeout,
        };
        let mut store = Store::new(&self.spec.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every epoch tick: past the deadline, trap; otherwise yield to the
        // other tasks of this tokio worker and go on.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // tokio's own yield: this task goes to the back of the queue
                // *after* the I/O and timer driver runs, so on a current-thread
                // runtime other tasks and timers are served at every tick (a
                // plain `Yield` re-queues at once and can starve them).
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        let _ = store.set_fuel(self.spec.limits.fuel);
        store.set_epoch_deadline(1);
        let deadline = store.data().deadline;
        let instantiated = match &self.spec.pre {
            Pre::V0_1_0(pre) => {
                tokio::time::timeout_at(deadline.into(), pre.instantiate_async(&mut store))
                    .await
                    .map(|r| r.map(Bindings::V0_1_0))
            }
            Pre::V0_2_0(pre) => {
                tokio::time::timeout_at(deadline.into(), pre.instantiate_async(&mut store))
                    .await
                    .map(|r| r.map(Bindings::V0_2_0))
            }
        };
        let bindings = match instantiated {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let fault = if store.data().limiter.refused {
                    Fault::MemoryLimit {
                        limit: self.spec.limits.memory,
                    }
                } else {
                    classify(&e, &self.spec.limits, TrapContext::default())
                };
                return Err(self.fault("instantiate", fault));
            }
            Err(_) => {
                return Err(self.fault(
                    "instantiate",
                    Fault::Timeout {
                        limit: self.spec.limits.timeout,
                    },
                ));
            }
        };
        let mut inst = Instance { store, bindings };
        match self.guarded(&mut inst, async |i| i.init().await).await {
            Ok(Ok(())) => {}
            Ok(Err((code, message))) => {
                return Err(Error::Plugin {
                    plugin: self.spec.name.to_string(),
                    function: "init".into(),
                    code,
                    message,
                });
            }
            Err(fault) => return Err(self.fault("init", fault)),
        }
        self.spec.metrics.instances.fetch_add(1, Ordering::Relaxed);
        Ok(inst)
    }

    /// Calls `info` on a fresh instance (at load).
    pub(crate) async fn info(&self, inst: &mut Instance) -> Result<PluginInfo> {
        self.guarded(inst, async |i| i.info().await)
            .await
            .map_err(|f| self.fault("info", f))
    }

    /// Puts a healthy instance back (or drops it, for `per-call` plugins).
    pub(crate) fn put_back(&self, inst: Instance) {
        if self.spec.mode == InstanceMode::PerCall {
            self.spec.metrics.instances.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(inst);
    }

    /// Waits for a free slot (at most `max-instances` calls run at once) and takes
    /// an idle instance or makes a fresh one.
    pub(crate) async fn lease(&self) -> Result<Lease> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::Unloaded {
                plugin: self.spec.name.to_string(),
            });
        }
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(Error::Unloaded {
                    plugin: self.spec.name.to_string(),
                });
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let busy = || Error::Busy {
                    plugin: self.spec.name.to_string(),
                    max_instances: self.spec.max_instances,
                    waited: self.spec.limits.timeout,
                };
                // A bounded queue, and a bounded wait: a caller learns it is busy
                // instead of piling up behind a slow plugin.
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.spec.max_queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy());
                }
                let waited = tokio::time::timeout(
                    self.spec.limits.timeout,
                    self.permits.clone().acquire_owned(),
                )
                .await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => {
                        return Err(Error::Unloaded {
                            plugin: self.spec.name.to_string(),
                        });
                    }
                    Err(_) => return Err(busy()),
                }
            }
        };
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::Unloaded {
                plugin: self.spec.name.to_string(),
            });
        }
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let instance = match idle {
            Some(i) => i,
            None => self.instantiate().await?,
        };
        Ok(Lease {
            instance: Some(instance),
            _permit: permit,
        })
    }

    /// Runs `call(function, input)` on a leased instance; returns the instance to
    /// the pool unless it faulted.
    pub(crate) async fn call(
        &self,
        mut lease: Lease,
        function: &str,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        let Some(mut inst) = lease.instance.take() else {
            return Err(Error::Runtime("internal: empty lease".into()));
        };
        let r = self
            .guarded(&mut inst, async |i| i.call(function, input).await)
            .await;
        match r {
            Ok(Ok(out)) if out.len() as u64 > self.spec.limits.max_output => {
                self.spec.metrics.instances.fetch_sub(1, Ordering::Relaxed);
                Err(self.fault(
                    function,
                    Fault::OutputTooLarge {
                        limit: self.spec.limits.max_output,
                    },
                ))
            }
            Ok(Ok(out)) => {
                self.put_back(inst);
                Ok(out)
            }
            Ok(Err((code, message))) => {
                self.put_back(inst);
                Err(Error::Plugin {
                    plugin: self.spec.name.to_string(),
                    function: function.to_string(),
                    code,
                    message,
                })
            }
            Err(fault) => {
                drop(inst);
                self.spec.metrics.instances.fetch_sub(1, Ordering::Relaxed);
                Err(self.fault(function, fault))
            }
        }
    }

    /// Unloads: refuses new calls, waits for the calls in flight (each is bounded
    /// by the timeout), calls `shutdown` on every instance (under the limits) and
    /// drops them.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let drained = tokio::time::timeout(
            self.spec.limits.timeout + std::time::Duration::from_secs(1),
            self.permits.acquire_many(self.spec.max_instances),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(target: "wasp::registry", plugin = %self.spec.name, "calls still running after the timeout; unloading anyway");
        }
        // Release what we hold before closing, then refuse everyone else.
        drop(drained);
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for mut inst in idle {
            if let Err(fault) = self.guarded(&mut inst, async |i| i.shutdown().await).await {
                tracing::warn!(target: "wasp::fault", plugin = %self.spec.name, "shutdown faulted: {fault}");
            }
            self.spec.metrics.instances.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
