//! One instance of a plugin: its `Store` and its version's bindings, and the guard
//! every entry into wasm runs under — fuel, an epoch deadline that yields to tokio
//! and then traps, a tokio timeout for time spent in blocking WASI calls — and the
//! classification of what went wrong. An instance that faulted (or whose call was
//! dropped) is dropped, never re-entered.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::capability::{OutputBudget, Resolved};
use crate::error::{Error, Fault, Result};
use crate::limits::{Limiter, TrapContext, classify};
use crate::metrics::{CallTally, LiveInstance, Metrics};
use crate::profile::Profiler;
use crate::recording::{Bytes, EntryKind, InstanceContext, RecordWindow, RecordedOutcome};
use crate::spec::info::{GuestError, PluginInfo};
use crate::spec::limits::Limits;
use crate::state::{SharedState, StoreState};
use crate::tape::{Player, Recorder, Tape};
use crate::version::{Bindings, Pre};

/// Bytes of stdout + stderr + log one call may produce before the rest is dropped.
const OUTPUT_BUDGET: u64 = 1 << 20;

/// What every instance of one plugin is made from.
pub(crate) struct InstanceSpec {
    pub(crate) name: Arc<str>,
    pub(crate) engine: Engine,
    pub(crate) pre: Pre<StoreState>,
    pub(crate) limits: Limits,
    pub(crate) grants: Resolved,
    pub(crate) shared: Arc<SharedState>,
    pub(crate) metrics: Arc<Metrics>,
    /// The plugin's guest profile, when it is profiled.
    pub(crate) profiler: Option<Arc<Profiler>>,
    /// Whether its instances are recorded, or one replays a recording.
    pub(crate) tape: TapeSpec,
}

/// What tape the instances of a plugin are on.
#[derive(Clone)]
pub(crate) enum TapeSpec {
    /// None: nothing is recorded.
    Off,
    /// Each instance keeps its history, within the window.
    Record(RecordWindow),
    /// The one instance of a replay, answered from the recording.
    Replay(Player),
}

/// A fault as a recording keeps it.
pub(crate) fn recorded_fault(fault: &Fault) -> RecordedOutcome {
    RecordedOutcome::Fault {
        kind: fault.kind().to_string(),
        message: fault.to_string(),
    }
}

impl InstanceSpec {
    pub(crate) fn fault(&self, function: &str, fault: Fault) -> Error {
        Error::Fault {
            plugin: self.name.to_string(),
            function: function.to_string(),
            fault,
        }
    }

    pub(crate) fn plugin_error(&self, function: &str, e: GuestError) -> Error {
        Error::Plugin {
            plugin: self.name.to_string(),
            function: function.to_string(),
            code: e.code,
            message: e.message,
        }
    }
}

/// How one export call ended.
pub(crate) enum Outcome<T> {
    /// It returned; the instance is healthy.
    Done(T),
    /// It returned a `plugin-error`; the instance is healthy.
    Refused(GuestError),
    /// It faulted; the instance must be dropped.
    Faulted(Fault),
}

impl<T> Outcome<T> {
    /// As a recording keeps it, with `done` for a result.
    fn recorded_with(&self, done: impl FnOnce(&T) -> RecordedOutcome) -> RecordedOutcome {
        match self {
            Outcome::Done(v) => done(v),
            Outcome::Refused(e) => RecordedOutcome::PluginError {
                code: e.code.clone(),
                message: e.message.clone(),
            },
            Outcome::Faulted(f) => recorded_fault(f),
        }
    }
}

impl Outcome<Vec<u8>> {
    /// As a recording keeps it.
    pub(crate) fn recorded(&self) -> RecordedOutcome {
        self.recorded_with(|out| RecordedOutcome::Output {
            output: Bytes(out.clone()),
        })
    }
}

impl Outcome<Vec<std::result::Result<Vec<u8>, GuestError>>> {
    /// As a recording keeps it.
    pub(crate) fn recorded(&self) -> RecordedOutcome {
        self.recorded_with(|results| RecordedOutcome::Batch {
            results: results
                .iter()
                .map(|r| match r {
                    Ok(out) => Ok(Bytes(out.clone())),
                    Err(e) => Err((e.code.clone(), e.message.clone())),
                })
                .collect(),
        })
    }
}

/// One instance of a plugin and its store.
pub(crate) struct Instance {
    store: Store<StoreState>,
    bindings: Bindings,
    live: LiveInstance,
    /// Fuel the last entry consumed.
    fuel: u64,
    /// Time the last entry ran on a thread.
    cpu: std::time::Duration,
    /// When the last entry's last poll ended.
    ended: Instant,
}

impl Instance {
    /// A fresh instance, instantiated under the limits (its `init` is not run).
    ///
    /// # Errors
    /// A grant that no longer holds (a directory replaced since load), or a fault
    /// while instantiating (reported as function `instantiate`).
    pub(crate) async fn new(spec: &InstanceSpec) -> Result<Instance> {
        let budget = OutputBudget::new(OUTPUT_BUDGET);
        let tape = match &spec.tape {
            TapeSpec::Off => None,
            TapeSpec::Record(window) => Some(Tape::Record(Recorder::new(*window))),
            TapeSpec::Replay(p) => Some(Tape::Replay(p.clone())),
        };
        let wasi = spec
            .grants
            .wasi_ctx(&spec.name, &budget, tape.as_ref())
            .map_err(|e| Error::load(&spec.name, e))?;
        let recorder = match &tape {
            Some(Tape::Record(r)) => {
                r.begin(EntryKind::Instantiate, None, Vec::new(), &spec.limits);
                Some(r.clone())
            }
            _ => None,
        };
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(spec.limits.memory),
            plugin: spec.name.clone(),
            shared: spec.shared.clone(),
            budget,
            last_error: None,
            panic: None,
            deadline: Instant::now() + spec.limits.timeout,
            tape,
        };
        let mut store = Store::new(&spec.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every epoch tick: past the deadline, trap; otherwise yield to the
        // other tasks of this tokio worker and go on.
        let profiler = spec.profiler.clone();
        store.epoch_deadline_callback(move |ctx| {
            if let Some(p) = &profiler {
                p.sample(&ctx);
            }
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
        // Cannot fail: the engine is built with consume_fuel.
        let _ = store.set_fuel(spec.limits.fuel);
        store.set_epoch_deadline(1);
        let deadline = store.data().deadline;
        let instantiated =
            tokio::time::timeout_at(deadline.into(), spec.pre.instantiate(&mut store)).await;
        let fuel = spec
            .limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(0));
        let bindings = instantiate_outcome(spec, &mut store, instantiated);
        if let Some(r) = &recorder {
            let outcome = match &bindings {
                Ok(_) => RecordedOutcome::Ok,
                Err(Error::Fault { fault, .. }) => recorded_fault(fault),
                Err(e) => RecordedOutcome::Fault {
                    kind: "instantiate".into(),
                    message: e.to_string(),
                },
            };
            r.end(outcome, fuel);
        }
        Ok(Instance {
            store,
            bindings: bindings?,
            live: LiveInstance::new(spec.metrics.clone()),
            fuel,
            cpu: std::time::Duration::ZERO,
            ended: Instant::now(),
        })
    }

    /// The instance's recorder, while it is recorded.
    fn recorder(&self) -> Option<&Recorder> {
        match &self.store.data().tape {
            Some(Tape::Record(r)) => Some(r),
            _ => None,
        }
    }

    /// Fuel the last entry (instantiation or call) consumed.
    pub(crate) fn fuel(&self) -> u64 {
        self.fuel
    }

    /// Puts what the last entry did into `tally`: when the guest's work
    /// ended (its last poll), the fuel it burned and the time it ran.
    pub(crate) fn tally(&self, tally: &mut CallTally) {
        tally.end = Some(self.ended);
        tally.fuel = self.fuel;
        tally.cpu = self.cpu;
    }

    /// Counts the last entry's fuel and time, for one that is not a call.
    fn record_work(&self) {
        self.live.metrics().record_work(self.fuel, self.cpu);
    }

    /// The instance's context and history, while it is recorded.
    pub(crate) fn history(&self) -> Option<(InstanceContext, Vec<crate::recording::Entry>)> {
        self.recorder().map(Recorder::snapshot)
    }

    /// Whether its last entry failed (recorded instances only).
    pub(crate) fn last_failed(&self) -> bool {
        self.recorder().is_some_and(Recorder::last_failed)
    }

    /// Whether it must not be reused: its history reached the record window.
    pub(crate) fn history_full(&self) -> bool {
        self.recorder().is_some_and(Recorder::full)
    }

    /// Opens a recorded entry (nothing when not recorded).
    fn begin(
        &self,
        kind: EntryKind,
        function: Option<&str>,
        inputs: impl FnOnce() -> Vec<Bytes>,
        limits: &Limits,
    ) {
        if let Some(r) = self.recorder() {
            r.begin(kind, function, inputs(), limits);
        }
    }

    /// Closes the recorded entry with its outcome.
    fn end(&self, outcome: impl FnOnce() -> RecordedOutcome) {
        if let Some(r) = self.recorder() {
            r.end(outcome(), self.fuel);
        }
    }
}

/// The bindings of a fresh instance, or why it did not instantiate.
fn instantiate_outcome(
    spec: &InstanceSpec,
    store: &mut Store<StoreState>,
    instantiated: std::result::Result<wasmtime::Result<Bindings>, tokio::time::error::Elapsed>,
) -> Result<Bindings> {
    match instantiated {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e))
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some() =>
        {
            Err(Error::PoolFull {
                plugin: spec.name.to_string(),
                size: spec
                    .engine
                    .get_pooling_config()
                    .map_or(0, |c| c.get_total_component_instances()),
            })
        }
        Ok(Err(e)) => {
            let ctx = TrapContext {
                memory_refused: store.data().limiter.refused,
                ..TrapContext::default()
            };
            Err(spec.fault("instantiate", classify(&e, &spec.limits, ctx)))
        }
        Err(_) => Err(spec.fault(
            "instantiate",
            Fault::Timeout {
                limit: spec.limits.timeout,
            },
        )),
    }
}

impl Instance {
    /// Prepares the store for one export call under `limits`, starting at
    /// `armed` (now, or as good as now: read by the caller just before);
    /// returns its deadline.
    fn arm(&mut self, limits: &Limits, armed: Instant) -> Instant {
        let deadline = armed + limits.timeout;
        let s = &mut self.store;
        let data = s.data_mut();
        data.last_error = None;
        data.panic = None;
        data.deadline = deadline;
        data.limiter.memory = limits.memory;
        data.budget.refill(OUTPUT_BUDGET);
        // Cannot fail: the engine is built with consume_fuel.
        let _ = s.set_fuel(limits.fuel);
        // What wasmtime may copy out of the guest in one lift. A `list<u8>` can
        // never be longer than the guest's memory, so this never stops a call's
        // output: `max-output` is checked on the length, as a typed fault. It
        // bounds what a crafted nested list may make the host allocate.
        s.set_hostcall_fuel(usize::try_from(limits.memory.saturating_mul(4)).unwrap_or(usize::MAX));
        s.set_epoch_deadline(1);
        deadline
    }

    fn trap_context(&mut self) -> TrapContext {
        let data = self.store.data_mut();
        TrapContext {
            memory_refused: std::mem::take(&mut data.limiter.refused),
            panic: data.panic.take(),
            last_error: data.last_error.take(),
        }
    }

    /// Runs one export call under `limits`, starting at `armed` (see
    /// [`Instance::arm`]). `Err` means the instance must be dropped.
    async fn guarded<T>(
        &mut self,
        limits: &Limits,
        armed: Instant,
        run: impl AsyncFnOnce(&Bindings, &mut Store<StoreState>) -> wasmtime::Result<T>,
    ) -> std::result::Result<T, Fault> {
        let deadline = self.arm(limits, armed);
        let Instance {
            store, bindings, ..
        } = self;
        // The wall-clock bound for calls that wait in the host (a blocking WASI
        // sleep or read, where no epoch deadline can fire). Most calls finish on
        // their first poll; the timer is only made when the call first waits, so a
        // call that never waits costs no timer at all.
        //
        // CPU time is the time spent inside each poll on the thread that ran it: a
        // call may move between threads at every await, and only the time it ran
        // counts. Measured with the monotonic clock (vDSO, ~25 ns), not the thread
        // CPU clock (a system call, ~1 µs here: half the cost of a small call);
        // the two differ only while the OS preempts the thread mid-poll. The
        // first poll follows `arm` at once, so it starts at `armed`; the end of
        // the last poll is the end of the call's work (`ended`): a call that
        // finishes on its first poll reads the clock once here.
        let mut cpu = std::time::Duration::ZERO;
        let mut first = Some(armed);
        let mut ended = armed;
        let outcome = {
            let mut call = std::pin::pin!(run(bindings, &mut *store));
            let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
            std::future::poll_fn(|cx| {
                let start = first.take().unwrap_or_else(Instant::now);
                let polled = call.as_mut().poll(cx);
                ended = Instant::now();
                cpu += ended.saturating_duration_since(start);
                if let std::task::Poll::Ready(v) = polled {
                    return std::task::Poll::Ready(Some(v));
                }
                let timer = timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
                timer.as_mut().poll(cx).map(|()| None)
            })
            .await
        };
        // Fuel is spent whatever the outcome; what is left is what was not.
        let fuel = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        self.fuel = fuel;
        self.cpu = cpu;
        self.ended = ended;
        if tracing::enabled!(target: "wasp::call", tracing::Level::DEBUG) {
            tracing::Span::current().record("fuel", fuel);
        }
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => {
                let ctx = self.trap_context();
                Err(classify(&e, limits, ctx))
            }
            // Dropping the future cancelled the call (e.g. a blocking WASI sleep).
            None => Err(Fault::Timeout {
                limit: limits.timeout,
            }),
        }
    }

    /// `info`, under the plugin's limits.
    pub(crate) async fn info(&mut self, spec: &InstanceSpec) -> Result<PluginInfo> {
        self.begin(EntryKind::Info, None, Vec::new, &spec.limits);
        let r = self
            .guarded(&spec.limits, Instant::now(), async |b, s| b.info(s).await)
            .await;
        self.record_work();
        self.end(|| match &r {
            Ok(_) => RecordedOutcome::Ok,
            Err(f) => recorded_fault(f),
        });
        r.map_err(|f| spec.fault("info", f))
    }

    /// `init`, under the plugin's limits.
    pub(crate) async fn init(&mut self, spec: &InstanceSpec) -> Result<()> {
        self.begin(EntryKind::Init, None, Vec::new, &spec.limits);
        let r = self
            .guarded(&spec.limits, Instant::now(), async |b, s| b.init(s).await)
            .await;
        self.record_work();
        self.end(|| match &r {
            Ok(Ok(())) => RecordedOutcome::Ok,
            Ok(Err(e)) => RecordedOutcome::PluginError {
                code: e.code.clone(),
                message: e.message.clone(),
            },
            Err(f) => recorded_fault(f),
        });
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(spec.plugin_error("init", e)),
            Err(fault) => Err(spec.fault("init", fault)),
        }
    }

    /// `call(function, input)` under `limits`, starting at `armed` (see
    /// [`Instance::arm`]).
    pub(crate) async fn call(
        &mut self,
        limits: &Limits,
        function: &str,
        input: &[u8],
        armed: Instant,
    ) -> Outcome<Vec<u8>> {
        self.begin(
            EntryKind::Call,
            Some(function),
            || vec![Bytes(input.to_vec())],
            limits,
        );
        let outcome = match self
            .guarded(limits, armed, async |b, s| b.call(s, function, input).await)
            .await
        {
            Ok(Ok(out)) if out.len() as u64 > limits.max_output => {
                Outcome::Faulted(Fault::OutputTooLarge {
                    limit: limits.max_output,
                })
            }
            Ok(Ok(out)) => Outcome::Done(out),
            Ok(Err(e)) => Outcome::Refused(e),
            Err(fault) => Outcome::Faulted(fault),
        };
        self.end(|| outcome.recorded());
        outcome
    }

    /// `call-batch(function, inputs)` under `limits` scaled by the batch: fuel and
    /// timeout are `n` times a call's, `max-output` applies to each result. `None`
    /// when the plugin's version has no `call-batch`.
    pub(crate) async fn call_batch(
        &mut self,
        limits: &Limits,
        function: &str,
        inputs: &[Vec<u8>],
        armed: Instant,
    ) -> Option<Outcome<Vec<std::result::Result<Vec<u8>, GuestError>>>> {
        let n = u32::try_from(inputs.len()).unwrap_or(u32::MAX).max(1);
        let mut batch = limits.clone();
        batch.fuel = limits.fuel.saturating_mul(u64::from(n));
        batch.timeout = limits.timeout.saturating_mul(n);
        self.begin(
            EntryKind::CallBatch,
            Some(function),
            || inputs.iter().map(|i| Bytes(i.clone())).collect(),
            limits,
        );
        let outcome = self
            .guarded(&batch, armed, async |b, s| {
                b.call_batch(s, function, inputs).await
            })
            .await;
        let outcome = match outcome {
            Ok(None) => return None,
            Ok(Some(results)) if results.len() != inputs.len() => {
                Outcome::Faulted(Fault::BatchLength {
                    inputs: inputs.len(),
                    results: results.len(),
                })
            }
            Ok(Some(results))
                if results.iter().any(|r| {
                    r.as_ref()
                        .is_ok_and(|out| out.len() as u64 > limits.max_output)
                }) =>
            {
                Outcome::Faulted(Fault::OutputTooLarge {
                    limit: limits.max_output,
                })
            }
            Ok(Some(results)) => Outcome::Done(results),
            Err(fault) => Outcome::Faulted(fault),
        };
        self.end(|| outcome.recorded());
        Some(outcome)
    }

    /// `shutdown`, under the plugin's limits; a fault is logged.
    pub(crate) async fn shutdown(mut self, spec: &InstanceSpec) {
        let r = self
            .guarded(&spec.limits, Instant::now(), async |b, s| {
                b.shutdown(s).await
            })
            .await;
        self.record_work();
        if let Err(fault) = r {
            tracing::warn!(target: "wasp::fault", plugin = %spec.name, "shutdown faulted: {fault}");
        }
    }
}
