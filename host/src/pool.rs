//! The instances of one plugin, ready to serve concurrent calls: at most
//! `max-instances` run at once, at most `max-queue` wait, each waits at most the
//! plugin's timeout.
//!
//! One lock guards what a call takes and gives back — the count of running
//! calls and the idle instances — so the common call takes it twice (lease, give
//! back) and waits for nothing. A running slot is a [`Slot`] value whose `Drop`
//! gives it back, and a queue place a semaphore permit, so a call future dropped
//! at any await point gives back both at once; the instance it ran on is dropped
//! with it (its state may be half-updated), never returned to the pool.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Notify, Semaphore};

use crate::error::{Error, Result};
use crate::instance::{Instance, InstanceSpec, Outcome};
use crate::metrics::CallTally;
use crate::recording::{Entry, InstanceContext, RecordWhen};
use crate::spec::info::GuestError;
use crate::spec::limits::Limits;
use crate::spec::options::{InstanceMode, PluginOptions};

/// Where a plugin's instances come from, and how calls run on them.
pub(crate) struct Pool {
    pub(crate) spec: Arc<InstanceSpec>,
    mode: InstanceMode,
    max_instances: u32,
    slots: Mutex<Slots>,
    /// Told when a running slot is given back and someone waits for one (or
    /// the pool closes).
    freed: Notify,
    /// One permit per call that may wait for a running slot.
    queue: Semaphore,
}

/// What the pool's lock guards.
struct Slots {
    /// Calls running now (each holds a [`Slot`]).
    running: u32,
    /// Calls (and an unload) waiting to be told of a freed slot.
    waiting: u32,
    /// Set on unload: no call starts, no instance is kept.
    closed: bool,
    idle: Vec<Pooled>,
}

/// An instance's context and history: what a recording is made of.
pub(crate) type History = (InstanceContext, Vec<Entry>);

/// One running slot of the pool; dropped, it is given back.
struct Slot<'a> {
    pool: &'a Pool,
}

impl Slot<'_> {
    /// Gives the slot back with `instance`, kept for the next call (else
    /// dropped): what `Drop` does, with an instance.
    fn give_back(self, instance: Option<Pooled>) {
        let pool = self.pool;
        std::mem::forget(self); // its release is the one below
        pool.release(instance);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pool.release(None);
    }
}

/// An instance taken from the pool for one call, and the slot it runs in.
/// Dropped without [`Pool::give_back`], it drops the instance.
struct Lease<'a> {
    instance: Pooled,
    slot: Slot<'a>,
}

/// A place among the callers waiting for a slot: counted while it exists.
struct Waiting<'a> {
    pool: &'a Pool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.pool.slots().waiting -= 1;
    }
}

/// An instance as the pool holds it: boxed, so that taking it, running on it
/// and giving it back move a pointer rather than the whole instance (a call
/// moves it four times).
type Pooled = Box<Instance>;

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
            slots: Mutex::new(Slots {
                running: 0,
                waiting: 0,
                closed: false,
                idle: Vec::new(),
            }),
            freed: Notify::new(),
            queue: Semaphore::new(options.max_queue as usize),
        };
        if pool.keeps(&first) {
            pool.slots().idle.push(Box::new(first));
        }
        pool
    }

    fn unloaded(&self) -> Error {
        Error::Unloaded {
            plugin: self.spec.name.to_string(),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a healthy instance is kept for the next call (not for `per-call`
    /// plugins, nor once its history reached the record window).
    fn keeps(&self, instance: &Instance) -> bool {
        self.mode != InstanceMode::PerCall && !instance.history_full()
    }

    /// Gives a running slot back, with the instance it ran on when that is to
    /// be kept, and tells a waiter. The instance not kept is dropped after the
    /// lock is let go (dropping a store takes a while).
    fn release(&self, instance: Option<Pooled>) {
        let (tell, dropped) = {
            let mut s = self.slots();
            s.running -= 1;
            let dropped = match instance {
                Some(i) if !s.closed => {
                    s.idle.push(i);
                    None
                }
                other => other,
            };
            (s.waiting > 0, dropped)
        };
        drop(dropped);
        if tell {
            self.freed.notify_waiters();
        }
    }

    /// Takes a running slot if one is free, and with it an idle instance if
    /// there is one; `Err` once the pool is closed.
    fn take_slot(&self, s: &mut Slots) -> Result<Option<Option<Pooled>>> {
        if s.closed {
            return Err(self.unloaded());
        }
        if s.running >= self.max_instances {
            return Ok(None);
        }
        s.running += 1;
        Ok(Some(s.idle.pop()))
    }

    /// Waits for a running slot (queued, within bounds), then takes an idle
    /// instance or makes a fresh one and runs its `init`. With it, when the
    /// call may start: `clock.start` when nothing was waited for, else now.
    async fn lease(&self, clock: &CallTally) -> Result<(Lease<'_>, Instant)> {
        let taken = self.take_slot(&mut self.slots())?;
        match taken {
            Some(Some(instance)) => Ok((
                Lease {
                    instance,
                    slot: Slot { pool: self },
                },
                clock.start,
            )),
            // Boxed: the waits that are not the common case stay out of every
            // call's future (smaller to move, fewer states to poll).
            Some(None) => {
                let slot = Slot { pool: self };
                let instance = Box::pin(self.fresh()).await?;
                Ok((Lease { instance, slot }, Instant::now()))
            }
            None => {
                let lease = Box::pin(self.lease_after_wait()).await?;
                Ok((lease, Instant::now()))
            }
        }
    }

    /// [`Pool::lease`] when every slot is taken: waits in the bounded queue for
    /// one, at most the timeout.
    async fn lease_after_wait(&self) -> Result<Lease<'_>> {
        let busy = || Error::Busy {
            plugin: self.spec.name.to_string(),
            max_instances: self.max_instances,
            waited: self.spec.limits.timeout,
        };
        // A bounded queue, and a bounded wait: a caller learns it is busy
        // instead of piling up behind a slow plugin. The queue place is held by
        // this permit until the wait ends, however it ends.
        let _queued = self.queue.try_acquire().map_err(|_| busy())?;
        let deadline = tokio::time::Instant::now() + self.spec.limits.timeout;
        let taken = self
            .wait_for(deadline, |s| self.take_slot(s))
            .await?
            .ok_or_else(busy)?;
        let slot = Slot { pool: self };
        let instance = match taken {
            Some(i) => i,
            None => self.fresh().await?,
        };
        Ok(Lease { instance, slot })
    }

    /// Waits until `look` (under the lock) finds what it looks for, told of
    /// every slot given back, until `deadline`, then looks once more (it may
    /// have come with the deadline). `Ok(None)`: the deadline came first.
    async fn wait_for<T>(
        &self,
        deadline: tokio::time::Instant,
        mut look: impl FnMut(&mut Slots) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        loop {
            // Listening before looking: a slot freed in between is told.
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            let waiting = {
                let mut s = self.slots();
                if let Some(found) = look(&mut s)? {
                    return Ok(Some(found));
                }
                s.waiting += 1;
                Waiting { pool: self }
            };
            let told = tokio::time::timeout_at(deadline, freed).await;
            drop(waiting);
            if told.is_err() {
                return look(&mut self.slots());
            }
        }
    }

    /// A fresh instance, through its `init`.
    async fn fresh(&self) -> Result<Pooled> {
        let mut i = Instance::new(&self.spec).await?;
        i.init(&self.spec).await?;
        Ok(Box::new(i))
    }

    /// Gives the slot back with its instance, kept for the next call when it
    /// may be.
    fn give_back(&self, lease: Lease<'_>) {
        let Lease { instance, slot } = lease;
        slot.give_back(self.keeps(&instance).then_some(instance));
    }

    /// Runs `call(function, input)` under `limits` on an instance of the pool;
    /// with `record`, the instance's history when the call is one to record.
    /// Puts what the guest did into `clock`.
    pub(crate) async fn call(
        &self,
        limits: &Limits,
        function: &str,
        input: &[u8],
        record: Option<RecordWhen>,
        clock: &mut CallTally,
    ) -> (Result<Vec<u8>>, Option<History>) {
        let (mut lease, armed) = match self.lease(clock).await {
            Ok(l) => l,
            Err(e) => return (Err(e), None),
        };
        let outcome = lease.instance.call(limits, function, input, armed).await;
        lease.instance.tally(clock);
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
        clock: &mut CallTally,
    ) -> Option<(BatchResult, Option<History>)> {
        let (mut lease, armed) = match self.lease(clock).await {
            Ok(l) => l,
            Err(e) => return Some((Err(e), None)),
        };
        let Some(outcome) = lease
            .instance
            .call_batch(limits, function, inputs, armed)
            .await
        else {
            self.give_back(lease);
            return None;
        };
        lease.instance.tally(clock);
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

    /// Unloads: refuses new calls, waits for the calls in flight (each is bounded
    /// by the timeout), calls `shutdown` on every idle instance (under the limits)
    /// and drops them. Calls that were dropped hold nothing, so they are not
    /// waited for.
    pub(crate) async fn close(&self) {
        self.slots().closed = true;
        // Waiting callers learn that the pool closed.
        self.freed.notify_waiters();
        self.queue.close();
        let deadline = tokio::time::Instant::now()
            + self.spec.limits.timeout
            + std::time::Duration::from_secs(1);
        let drained = self
            .wait_for(deadline, |s| Ok((s.running == 0).then_some(())))
            .await;
        if !matches!(drained, Ok(Some(()))) {
            tracing::warn!(target: "wasp::registry", plugin = %self.spec.name, "calls still running after the timeout; unloading anyway");
        }
        let idle = std::mem::take(&mut self.slots().idle);
        for instance in idle {
            instance.shutdown(&self.spec).await;
        }
    }
}
