//! The instances of one plugin, ready to serve concurrent calls: at most
//! `max-instances` run at once, at most `max-queue` wait, each waits at most the
//! plugin's timeout. Every slot is a semaphore permit and every instance a value
//! in a lease, so a call future dropped at any await point gives back its queue
//! slot and its instance slot at once; the instance it ran on is dropped with it
//! (its state may be half-updated), never returned to the pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::{Error, Result};
use crate::instance::{Instance, InstanceSpec, Outcome};
use crate::recording::{Entry, InstanceContext, RecordWhen};
use crate::spec::info::GuestError;
use crate::spec::limits::Limits;
use crate::spec::options::{InstanceMode, PluginOptions};

/// Where a plugin's instances come from, and how calls run on them.
pub(crate) struct Pool {
    pub(crate) spec: Arc<InstanceSpec>,
    mode: InstanceMode,
    max_instances: u32,
    idle: Mutex<Vec<Instance>>,
    /// One permit per call that may run at once.
    running: Arc<Semaphore>,
    /// One permit per call that may wait for a running slot.
    queue: Arc<Semaphore>,
    /// Set on unload: instances are no longer kept.
    closed: AtomicBool,
}

/// An instance's context and history: what a recording is made of.
pub(crate) type History = (InstanceContext, Vec<Entry>);

/// An instance taken from the pool for one call, and the slot it runs in.
/// Dropped without [`Pool::give_back`], it drops the instance.
struct Lease {
    instance: Instance,
    _running: OwnedSemaphorePermit,
}

/// What a `call-batch` returns: per input, an output or a `plugin-error`.
pub(crate) type BatchResult = Result<Vec<std::result::Result<Vec<u8>, GuestError>>>;

/// The instance's history after a call, if `record` asks for this one.
fn history(instance: &Instance, record: Option<RecordWhen>) -> Option<History> {
    match record? {
        RecordWhen::Always => instance.history(),
        RecordWhen::Failures if instance.last_failed() => instance.history(),
        RecordWhen::Failures => None,
    }
}

impl Pool {
    /// A pool whose first instance (already through `init`) is `first`.
    pub(crate) fn new(spec: Arc<InstanceSpec>, options: &PluginOptions, first: Instance) -> Self {
        let pool = Pool {
            spec,
            mode: options.instance,
            max_instances: options.max_instances,
            idle: Mutex::new(Vec::new()),
            running: Arc::new(Semaphore::new(options.max_instances as usize)),
            queue: Arc::new(Semaphore::new(options.max_queue as usize)),
            closed: AtomicBool::new(false),
        };
        pool.put_back(first);
        pool
    }

    fn unloaded(&self) -> Error {
        Error::Unloaded {
            plugin: self.spec.name.to_string(),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a healthy instance for the next call (drops it for `per-call`
    /// plugins, or after unload).
    fn put_back(&self, instance: Instance) {
        if self.mode == InstanceMode::PerCall
            || self.closed.load(Ordering::Acquire)
            || instance.history_full()
        {
            return;
        }
        self.idle().push(instance);
    }

    /// Waits for a running slot (queued, within bounds), then takes an idle
    /// instance or makes a fresh one and runs its `init`.
    async fn lease(&self) -> Result<Lease> {
        if self.closed.load(Ordering::Acquire) {
            return Err(self.unloaded());
        }
        let running = match self.running.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(self.unloaded()),
            Err(TryAcquireError::NoPermits) => {
                let busy = || Error::Busy {
                    plugin: self.spec.name.to_string(),
                    max_instances: self.max_instances,
                    waited: self.spec.limits.timeout,
                };
                // A bounded queue, and a bounded wait: a caller learns it is busy
                // instead of piling up behind a slow plugin. The queue slot is
                // held by this permit until the wait ends, however it ends.
                let _queued = self.queue.clone().try_acquire_owned().map_err(|_| busy())?;
                match tokio::time::timeout(
                    self.spec.limits.timeout,
                    self.running.clone().acquire_owned(),
                )
                .await
                {
                    Ok(Ok(p)) => p,
                    Ok(Err(_closed)) => return Err(self.unloaded()),
                    Err(_elapsed) => return Err(busy()),
                }
            }
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(self.unloaded());
        }
        let idle = self.idle().pop();
        let instance = match idle {
            Some(i) => i,
            None => {
                let mut i = Instance::new(&self.spec).await?;
                i.init(&self.spec).await?;
                i
            }
        };
        Ok(Lease {
            instance,
            _running: running,
        })
    }

    /// Runs `call(function, input)` under `limits` on an instance of the pool;
    /// with `record`, the instance's history when the call is one to record.
    pub(crate) async fn call(
        &self,
        limits: &Limits,
        function: &str,
        input: &[u8],
        record: Option<RecordWhen>,
    ) -> (Result<Vec<u8>>, Option<History>) {
        let mut lease = match self.lease().await {
            Ok(l) => l,
            Err(e) => return (Err(e), None),
        };
        let outcome = lease.instance.call(limits, function, input).await;
        let history = history(&lease.instance, record);
        let result = match outcome {
            Outcome::Done(out) => {
                self.give_back(lease);
                Ok(out)
            }
            Outcome::Refused(e) => {
                self.give_back(lease);
                Err(self.spec.plugin_error(function, e))
            }
            // The lease, and the instance in it, is dropped here.
            Outcome::Faulted(fault) => Err(self.spec.fault(function, fault)),
        };
        (result, history)
    }

    /// Runs `call-batch(function, inputs)` on one instance; `None` when the
    /// plugin's version has no `call-batch` (nothing was run).
    pub(crate) async fn call_batch(
        &self,
        limits: &Limits,
        function: &str,
        inputs: &[Vec<u8>],
        record: Option<RecordWhen>,
    ) -> Option<(BatchResult, Option<History>)> {
        let mut lease = match self.lease().await {
            Ok(l) => l,
            Err(e) => return Some((Err(e), None)),
        };
        let Some(outcome) = lease.instance.call_batch(limits, function, inputs).await else {
            self.give_back(lease);
            return None;
        };
        let history = history(&lease.instance, record);
        let result = match outcome {
            Outcome::Done(out) => {
                self.give_back(lease);
                Ok(out)
            }
            Outcome::Refused(e) => {
                self.give_back(lease);
                Err(self.spec.plugin_error(function, e))
            }
            Outcome::Faulted(fault) => Err(self.spec.fault(function, fault)),
        };
        Some((result, history))
    }

    fn give_back(&self, lease: Lease) {
        let Lease { instance, _running } = lease;
        self.put_back(instance);
    }

    /// Unloads: refuses new calls, waits for the calls in flight (each is bounded
    /// by the timeout), calls `shutdown` on every idle instance (under the limits)
    /// and drops them. Calls that were dropped hold nothing, so they are not
    /// waited for.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let drained = tokio::time::timeout(
            self.spec.limits.timeout + std::time::Duration::from_secs(1),
            self.running.acquire_many(self.max_instances),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(target: "wasp::registry", plugin = %self.spec.name, "calls still running after the timeout; unloading anyway");
        }
        // Release what we hold before closing, then refuse everyone else.
        drop(drained);
        self.running.close();
        self.queue.close();
        let idle = std::mem::take(&mut *self.idle());
        for instance in idle {
            instance.shutdown(&self.spec).await;
        }
    }
}
