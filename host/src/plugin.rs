//! A loaded plugin: its metadata, typed and raw calls, and its statistics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tracing::Instrument;
use wasp_codec::{FromBytes, IntoBytes};

use crate::error::{Error, Result};
use crate::loader::Prepared;
use crate::metrics::{CallGuard, PluginStats};
use crate::pool::{History, Pool};
use crate::recording::{LiveGrants, RecordWhen, Recorded, RecordedPlugin, Recording};
use crate::rollout::{Compared, Decision, RolloutOutcome, RolloutReport, Trial, shorten};
use crate::spec::api::ApiVersion;
use crate::spec::info::PluginInfo;
use crate::spec::limits::Limits;
use crate::spec::options::{CallOptions, PluginOptions};

/// A loaded plugin. Cheap to clone; clones share instances and statistics.
///
/// ```no_run
/// # async fn f() -> wasp_host::Result<()> {
/// let runtime = wasp_host::Runtime::builder().build()?;
/// let plugin = runtime.load_file("upper.wasm", Default::default()).await?;
/// let out: String = plugin.call("upper", "hello").await?;
/// assert_eq!(out, "HELLO");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: Arc<str>,
    info: PluginInfo,
    version: ApiVersion,
    sha256: [u8; 32],
    adapted: bool,
    cached: bool,
    imports: Vec<String>,
    sdk_version: Option<String>,
    /// The compiled code, shared with every plugin loaded from the same bytes.
    _code: Arc<crate::loader::Code>,
    /// The file it was loaded from (for reload).
    source: Option<PathBuf>,
    options: PluginOptions,
    pool: Pool,
    /// A new version running in shadow of this one, while its rollout lasts.
    shadow: ShadowSlot,
}

/// What the registry does with a rollout's decision: given the version that
/// was serving, the new one, and the report.
pub(crate) type Decide = Box<dyn FnOnce(&Plugin, &Plugin, RolloutReport) + Send>;

/// A new version of a plugin, run in shadow of the one serving: each shadowed
/// call runs on it first (so its kv scratch sees its own writes in event
/// order), then on the serving version, whose result is the one returned.
pub(crate) struct Shadow {
    new: Plugin,
    trial: Trial,
    decide: Mutex<Option<Decide>>,
    /// Held by each call on the serving version while the rollout lasts: the
    /// calls run one at a time, so both versions see kv (and their instances'
    /// memory) change in the same order, and a difference is the new version's.
    turn: tokio::sync::Mutex<()>,
}

impl Shadow {
    pub(crate) fn new(new: Plugin, policy: crate::spec::options::Rollout, decide: Decide) -> Self {
        Shadow {
            new,
            trial: Trial::new(policy),
            decide: Mutex::new(Some(decide)),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

/// The slot of a plugin's shadow: one flag read per call while there is none.
#[derive(Default)]
struct ShadowSlot {
    on: AtomicBool,
    current: Mutex<Option<Arc<Shadow>>>,
}

impl ShadowSlot {
    fn current(&self) -> std::sync::MutexGuard<'_, Option<Arc<Shadow>>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self) -> Option<Arc<Shadow>> {
        if !self.on.load(Ordering::Acquire) {
            return None;
        }
        self.current().clone()
    }

    fn replace(&self, shadow: Option<Arc<Shadow>>) -> Option<Arc<Shadow>> {
        let mut c = self.current();
        self.on.store(shadow.is_some(), Ordering::Release);
        std::mem::replace(&mut *c, shadow)
    }

    /// Empties the slot if it holds `shadow`.
    fn clear(&self, shadow: &Arc<Shadow>) {
        let mut c = self.current();
        if c.as_ref().is_some_and(|s| Arc::ptr_eq(s, shadow)) {
            *c = None;
            self.on.store(false, Ordering::Release);
        }
    }
}

/// What a shadowed event showed: `live` is the serving version's result, `new`
/// the shadow's; `None` when the serving version was refused (nothing to
/// compare with).
fn compare(input: &[u8], live: &Result<Vec<u8>>, new: &Result<Vec<u8>>) -> Option<Compared> {
    let describe = |r: &Result<Vec<u8>>| match r {
        Ok(out) => shorten(out),
        Err(e) => shorten(format!("error: {e}").as_bytes()),
    };
    match (live, new) {
        (_, Err(e @ Error::Fault { .. })) => Some(Compared::Fault(e.to_string())),
        (Err(e), _) if !matches!(e, Error::Plugin { .. } | Error::Fault { .. }) => None,
        (Ok(a), Ok(b)) if a == b => Some(Compared::Same),
        (
            Err(Error::Plugin {
                code: c1,
                message: m1,
                ..
            }),
            Err(Error::Plugin {
                code: c2,
                message: m2,
                ..
            }),
        ) if c1 == c2 && m1 == m2 => Some(Compared::Same),
        _ => Some(Compared::Differs(
            input.to_vec(),
            describe(live),
            describe(new),
        )),
    }
}

/// Two handles are equal when they are clones of one loaded plugin (a reload
/// makes a different one, even from the same file).
///
/// ```no_run
/// # fn f(p: wasp_host::Plugin) { assert_eq!(p.clone(), p); }
/// ```
impl PartialEq for Plugin {
    fn eq(&self, other: &Plugin) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Plugin {}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("info", &self.inner.info)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Starts a prepared plugin: runs `init` on the instance `info` ran on and
    /// makes it the first of the pool.
    pub(crate) async fn start(
        prepared: Prepared,
        options: PluginOptions,
        source: Option<PathBuf>,
    ) -> Result<Plugin> {
        let Prepared {
            spec,
            info,
            compiled,
            mut first,
        } = prepared;
        first.init(&spec).await?;
        let pool = Pool::new(spec.clone(), &options, first);
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: spec.name.clone(),
                info,
                version: compiled.version,
                sha256: compiled.sha256,
                adapted: compiled.adapted,
                cached: compiled.cached,
                imports: compiled.shape.imports,
                sdk_version: compiled.shape.sdk_version,
                _code: compiled.code,
                source,
                options,
                pool,
                shadow: ShadowSlot::default(),
            }),
        })
    }

    /// Starts running `shadow` in shadow of this plugin; a rollout that was
    /// running is abandoned.
    pub(crate) fn start_shadow(&self, shadow: Arc<Shadow>) {
        if let Some(previous) = self.inner.shadow.replace(Some(shadow)) {
            self.conclude(&previous, None);
        }
    }

    /// Waits for this call's turn while a rollout runs, at most `bound` (as a
    /// call waits for an instance): then [`Error::Busy`], nothing called.
    async fn turn<'s>(
        &self,
        shadow: &'s Shadow,
        bound: std::time::Duration,
    ) -> Result<tokio::sync::MutexGuard<'s, ()>> {
        tokio::time::timeout(bound, shadow.turn.lock())
            .await
            .map_err(|_| Error::Busy {
                plugin: self.name().to_string(),
                max_instances: 1,
                waited: bound,
            })
    }

    /// Ends a rollout: its decision (`None`: abandoned) goes to the registry, once.
    fn conclude(&self, shadow: &Arc<Shadow>, decision: Option<Decision>) {
        self.inner.shadow.clear(shadow);
        let outcome = match decision {
            Some(Decision::Promote) => RolloutOutcome::Promoted,
            Some(Decision::Reject) => RolloutOutcome::Rejected,
            None if shadow.trial.end() => RolloutOutcome::Abandoned,
            None => return, // decided already
        };
        let decide = shadow
            .decide
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(decide) = decide {
            let report = shadow
                .trial
                .report(self.name(), shadow.new.sha256(), outcome);
            decide(self, &shadow.new, report);
        }
    }

    /// The name the plugin was loaded under (its manifest key, or the file stem).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{}", p.name()); }
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What the plugin said about itself at load.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.info().functions); }
    /// ```
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// The `wasp:plugin` version the plugin was built for.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("wasp:plugin@{}", p.api_version()); }
    /// ```
    pub fn api_version(&self) -> ApiVersion {
        self.inner.version
    }

    /// SHA-256 of the file as loaded, in hex (what a manifest `sha256` pin holds).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("sha256 = \"{}\"", p.sha256()); }
    /// ```
    pub fn sha256(&self) -> String {
        hex::encode(self.inner.sha256)
    }

    /// Whether the file was a core wasm module that the host adapted into a
    /// component (rather than a component).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("adapted: {}", p.was_adapted()); }
    /// ```
    pub fn was_adapted(&self) -> bool {
        self.inner.adapted
    }

    /// Whether the compiled code came from the runtime's disk cache
    /// ([`crate::RuntimeBuilder::cache_dir`]) rather than being compiled now.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("cached: {}", p.was_cached()); }
    /// ```
    pub fn was_cached(&self) -> bool {
        self.inner.cached
    }

    /// The component's top-level imports (`wasi:…`, `wasp:plugin/host@…`).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { for i in p.imports() { println!("{i}"); } }
    /// ```
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// The wasp-sdk version the plugin was built with, if it says (wasp-sdk 0.2
    /// and later record it in a `wasp-sdk` custom section).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.sdk_version()); }
    /// ```
    pub fn sdk_version(&self) -> Option<&str> {
        self.inner.sdk_version.as_deref()
    }

    /// The file the plugin was loaded from (`None` for bytes).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.source()); }
    /// ```
    pub fn source(&self) -> Option<&Path> {
        self.inner.source.as_deref()
    }

    /// The options the plugin was loaded with.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.options().limits); }
    /// ```
    pub fn options(&self) -> &PluginOptions {
        &self.inner.options
    }

    /// The plugin's limits (its options' [`PluginOptions::limits`]).
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.limits().timeout); }
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.inner.options.limits
    }

    /// Calls `function` with a typed input and output (see [`wasp_codec`]:
    /// `String` and bytes as they are, [`crate::Json`] and [`crate::Bincode`] for
    /// serde types).
    ///
    /// # Errors
    /// [`Error::Plugin`] when the plugin returns an error, [`Error::Fault`] when it
    /// faults (the instance is discarded), [`Error::NoSuchFunction`],
    /// [`Error::InputTooLarge`], [`Error::Codec`], [`Error::Quarantined`],
    /// [`Error::Busy`], [`Error::Unloaded`].
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// use wasp_host::Json;
    /// let Json(sum): Json<i64> = p.call("json-sum", Json(vec![1, 2, 3])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call<I: IntoBytes, O: FromBytes>(&self, function: &str, input: I) -> Result<O> {
        self.call_with(function, input, CallOptions::default())
            .await
    }

    /// [`Plugin::call`] with limits of its own for this call (the rest are the
    /// plugin's).
    ///
    /// # Errors
    /// As [`Plugin::call`].
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// use std::time::Duration;
    /// use wasp_host::CallOptions;
    /// let quick = CallOptions { timeout: Some(Duration::from_millis(50)), ..Default::default() };
    /// let out: String = p.call_with("upper", "hi", quick).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_with<I: IntoBytes, O: FromBytes>(
        &self,
        function: &str,
        input: I,
        options: CallOptions,
    ) -> Result<O> {
        let bytes = input.into_bytes().map_err(|source| Error::Codec {
            plugin: self.name().to_string(),
            function: function.to_string(),
            what: "encoding the input",
            expected: std::any::type_name::<I>(),
            source,
        })?;
        let (out, _) = self
            .call_bytes_recorded(function, &bytes, &options, None)
            .await;
        let out = out?;
        O::from_bytes(out).map_err(|source| Error::Codec {
            plugin: self.name().to_string(),
            function: function.to_string(),
            what: "decoding the output",
            expected: std::any::type_name::<O>(),
            source,
        })
    }

    /// Calls `function` with raw bytes.
    ///
    /// # Errors
    /// As [`Plugin::call`], without the codec errors.
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// let out: Vec<u8> = p.call_raw("upper", b"hello").await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_raw(&self, function: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.call_bytes_recorded(function, input, &CallOptions::default(), None)
            .await
            .0
    }

    /// Calls `function` on many inputs at once: one `call-batch` for plugins of
    /// `wasp:plugin@0.3.0` and later (one crossing of the boundary for the whole
    /// batch, fuel and timeout `n` times a call's), one `call` per input for older
    /// plugins. The results are in input order; a `plugin-error` is per input.
    ///
    /// # Errors
    /// For the whole batch: a fault (the instance is discarded; retry the inputs
    /// one by one to find the one that faults), [`Error::NoSuchFunction`], an input
    /// over `max-input`, [`Error::Quarantined`], [`Error::Busy`].
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// let events = vec![b"{\"a\":1}".to_vec(), b"{\"a\":2}".to_vec()];
    /// for result in p.call_batch("process", &events).await? {
    ///     println!("{:?}", result.map(String::from_utf8));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn call_batch(
        &self,
        function: &str,
        inputs: &[Vec<u8>],
    ) -> Result<Vec<Result<Vec<u8>>>> {
        self.call_batch_inner(function, inputs, None).await.0
    }

    async fn call_batch_inner(
        &self,
        function: &str,
        inputs: &[Vec<u8>],
        record: Option<RecordWhen>,
    ) -> (Result<Vec<Result<Vec<u8>>>>, Option<History>) {
        if !self.api_version().has_call_batch() {
            let mut out = Vec::with_capacity(inputs.len());
            let mut kept = None;
            for input in inputs {
                let (result, history) = self
                    .call_bytes_recorded(function, input, &CallOptions::default(), record)
                    .await;
                if kept.is_none() || (record == Some(RecordWhen::Always) && history.is_some()) {
                    kept = history.or(kept);
                }
                match result {
                    Ok(v) => out.push(Ok(v)),
                    Err(e @ Error::Plugin { .. }) => out.push(Err(e)),
                    Err(e) => return (Err(e), kept),
                }
            }
            return (Ok(out), kept);
        }
        let inner = &*self.inner;
        let largest = inputs.iter().map(Vec::len).max().unwrap_or(0);
        if let Err(e) = self.admit(function, largest) {
            return (Err(e), None);
        }
        let m = &inner.pool.spec.metrics;
        // In shadow: the new version first (on the events still to shadow),
        // one call at a time.
        let shadow = inner.shadow.get();
        let mut shadowed = None;
        let mut _turn = None;
        if let Some(s) = &shadow {
            let bound = (inner.options.limits.timeout)
                .saturating_mul(u32::try_from(inputs.len().max(1)).unwrap_or(u32::MAX));
            match self.turn(s, bound).await {
                Ok(t) => _turn = Some(t),
                Err(e) => return (Err(e), None),
            }
            let claim = s.trial.claim(inputs.len() as u64);
            if claim.len() > 0 {
                let new = Box::pin(s.new.call_batch(function, &inputs[..claim.len()])).await;
                shadowed = Some((claim, new));
            }
        }
        let mut guard = CallGuard::batch(m, inputs.len());
        let in_bytes: u64 = inputs.iter().map(|i| i.len() as u64).sum();
        let limits = &inner.options.limits;
        let span = call_span(&inner.name, function, &inner.info.version, inputs.len());
        let (result, history) = match inner
            .pool
            .call_batch(limits, function, inputs, record, guard.tally())
            .instrument(span.clone())
            .await
        {
            Some(r) => r,
            None => (
                Err(Error::Unloaded {
                    plugin: self.name().to_string(),
                }),
                None,
            ),
        };
        span.record("outcome", outcome(&result));
        let result = match result {
            Ok(results) => {
                let out_bytes: usize = results.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum();
                guard.tally().bytes = (in_bytes, out_bytes as u64);
                let mut errors = 0;
                let out = results
                    .into_iter()
                    .map(|r| {
                        r.map_err(|e| {
                            errors += 1;
                            inner.pool.spec.plugin_error(function, e)
                        })
                    })
                    .collect();
                m.record_batch(errors);
                Ok(out)
            }
            Err(e) => {
                guard.tally().bytes = (in_bytes, 0);
                self.record_failure(function, &e);
                Err(e)
            }
        };
        guard.finish();
        if let (Some(s), Some((claim, new))) = (&shadow, shadowed) {
            let found = compare_batch(inputs, &result, new);
            if let Some(d) = s.trial.complete(claim, found) {
                self.conclude(s, Some(d));
            }
        }
        (result, history)
    }

    /// What every call must pass before it may wait for an instance.
    fn admit(&self, function: &str, input_len: usize) -> Result<()> {
        let inner = &*self.inner;
        let limits = &inner.options.limits;
        let m = &inner.pool.spec.metrics;
        let consecutive = m.consecutive_faults();
        if consecutive >= limits.max_faults
            && let Some(last) = m.last_fault()
        {
            return Err(Error::Quarantined {
                plugin: self.name().to_string(),
                faults: consecutive,
                last,
            });
        }
        if !inner.info.functions.iter().any(|f| f == function) {
            return Err(Error::NoSuchFunction {
                plugin: self.name().to_string(),
                function: function.to_string(),
                available: inner.info.functions.clone(),
            });
        }
        if input_len as u64 > limits.max_input {
            return Err(Error::InputTooLarge {
                plugin: self.name().to_string(),
                function: function.to_string(),
                size: input_len,
                limit: limits.max_input,
            });
        }
        Ok(())
    }

    /// Counts a failed call (a fault, or a plugin-error).
    fn record_failure(&self, function: &str, e: &Error) {
        let inner = &*self.inner;
        let m = &inner.pool.spec.metrics;
        match e {
            Error::Plugin { .. } => m.record_plugin_error(),
            Error::Fault { fault, .. } => {
                let n = m.record_fault(fault);
                tracing::warn!(target: "wasp::fault", plugin = %inner.name, function, kind = fault.kind(), consecutive = n, "{e}");
                if n == inner.options.limits.max_faults {
                    tracing::error!(target: "wasp::fault", plugin = %inner.name, "plugin quarantined after {n} consecutive faults; reload it to try again");
                }
            }
            _ => {}
        }
    }

    /// Calls `function` with raw bytes and returns, with the result, a recording
    /// of the call when `when` asks for it: everything the instance did since
    /// it was created, with every host import's answer, for
    /// [`crate::Runtime::replay`]. The plugin must be recorded
    /// ([`PluginOptions::record`] or [`crate::RuntimeBuilder::record_all`]);
    /// otherwise there is never a recording.
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) {
    /// use wasp_host::recording::RecordWhen;
    /// let r = p.call_recorded("process", b"{}", RecordWhen::Failures).await;
    /// if let (Err(e), Some(rec)) = (&r.result, &r.recording) {
    ///     eprintln!("{e}");
    ///     rec.write_file("fault.wasprec").unwrap();
    /// }
    /// # }
    /// ```
    pub async fn call_recorded(
        &self,
        function: &str,
        input: &[u8],
        when: RecordWhen,
    ) -> Recorded<Vec<u8>> {
        let (result, history) = self
            .call_bytes_recorded(function, input, &CallOptions::default(), Some(when))
            .await;
        Recorded {
            result,
            recording: history.map(|h| self.recording(h)),
        }
    }

    /// [`Plugin::call_batch`] with a recording, as [`Plugin::call_recorded`]
    /// (plugins without `call-batch`: the recording of the first input that
    /// failed, or with [`RecordWhen::Always`] of the last call).
    pub async fn call_batch_recorded(
        &self,
        function: &str,
        inputs: &[Vec<u8>],
        when: RecordWhen,
    ) -> Recorded<Vec<Result<Vec<u8>>>> {
        let (result, history) = self.call_batch_inner(function, inputs, Some(when)).await;
        Recorded {
            result,
            recording: history.map(|h| self.recording(h)),
        }
    }

    /// A recording of an instance's history.
    fn recording(&self, (context, entries): History) -> Recording {
        let inner = &*self.inner;
        Recording::new(
            RecordedPlugin {
                name: inner.name.to_string(),
                source: inner
                    .source
                    .as_ref()
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
                sha256: hex::encode(inner.sha256),
                api: inner.version.to_string(),
                plugin_version: inner.info.version.clone(),
                env: context.env,
                insecure_seed: context.insecure_seed,
                live: LiveGrants::of(&inner.options.grants),
            },
            entries,
        )
    }

    /// The one way into a call: checks, then the pool, then the bookkeeping.
    async fn call_bytes_recorded(
        &self,
        function: &str,
        input: &[u8],
        options: &CallOptions,
        record: Option<RecordWhen>,
    ) -> (Result<Vec<u8>>, Option<History>) {
        if let Err(e) = self.admit(function, input.len()) {
            return (Err(e), None);
        }
        let inner = &*self.inner;
        let limits = &inner.options.limits;
        let call_limits;
        let limits = if *options == CallOptions::default() {
            limits
        } else {
            call_limits = options.apply(limits);
            &call_limits
        };
        // In shadow: the new version first, then this one, one call at a time.
        // Boxed, so that the future of every other call stays small (it is moved
        // at each layer, and its size is the largest path's).
        if let Some(s) = inner.shadow.get() {
            return Box::pin(self.call_shadowed(s, function, input, options, limits, record)).await;
        }
        self.serve(function, input, limits, record).await
    }

    /// A call while a new version runs in shadow: the shadow first (if it still
    /// takes events), then the serving version, then the comparison.
    async fn call_shadowed(
        &self,
        s: Arc<Shadow>,
        function: &str,
        input: &[u8],
        options: &CallOptions,
        limits: &Limits,
        record: Option<RecordWhen>,
    ) -> (Result<Vec<u8>>, Option<History>) {
        let _turn = match self.turn(&s, limits.timeout).await {
            Ok(t) => t,
            Err(e) => return (Err(e), None),
        };
        let claim = s.trial.claim(1);
        let new = if claim.len() == 1 {
            Some(
                s.new
                    .call_bytes_recorded(function, input, options, None)
                    .await
                    .0,
            )
        } else {
            None
        };
        let (result, history) = self.serve(function, input, limits, record).await;
        if let Some(new) = new {
            let found = compare(input, &result, &new).into_iter().collect();
            if let Some(d) = s.trial.complete(claim, found) {
                self.conclude(&s, Some(d));
            }
        }
        (result, history)
    }

    /// Runs one call on the serving version's pool, and counts it.
    async fn serve(
        &self,
        function: &str,
        input: &[u8],
        limits: &Limits,
        record: Option<RecordWhen>,
    ) -> (Result<Vec<u8>>, Option<History>) {
        let inner = &*self.inner;
        let m = &inner.pool.spec.metrics;
        let mut guard = CallGuard::new(m);
        let span = call_span(&inner.name, function, &inner.info.version, 1);
        let call = inner
            .pool
            .call(limits, function, input, record, guard.tally());
        // Instrumented only when someone listens: the wrapper costs a move of
        // the whole call future and a span entry per poll.
        let (result, history) = if span.is_disabled() {
            call.await
        } else {
            call.instrument(span.clone()).await
        };
        span.record("outcome", outcome(&result));
        let out_bytes = match &result {
            Ok(out) => {
                m.record_success();
                out.len() as u64
            }
            Err(e) => {
                self.record_failure(function, e);
                0
            }
        };
        guard.tally().bytes = (input.len() as u64, out_bytes);
        guard.finish();
        (result, history)
    }

    /// Bytes the plugin holds in its kv namespace (keys plus values), or `None`
    /// when it is not granted `kv`.
    ///
    /// # Errors
    /// When the store cannot be read.
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// if let Some(bytes) = p.kv_usage().await? { println!("{bytes} bytes in kv"); }
    /// # Ok(()) }
    /// ```
    pub async fn kv_usage(&self) -> Result<Option<u64>> {
        let Some(kv) = self.inner.pool.spec.shared.kv.clone() else {
            return Ok(None);
        };
        let usage = tokio::task::spawn_blocking(move || kv.store.usage(&kv.namespace))
            .await
            .map_err(|source| Error::Task {
                what: "reading kv usage",
                source,
            })?;
        usage.map(Some).map_err(|source| Error::Kv {
            plugin: self.name().to_string(),
            source: Box::new(source),
        })
    }

    /// Writes the plugin's guest profile (loaded with
    /// [`PluginOptions::profile`]) to `out` as JSON in the Firefox Profiler's
    /// format (open it at <https://profiler.firefox.com>), and ends it: samples
    /// after this are dropped. Blocks while it writes.
    ///
    /// # Errors
    /// [`Error::Profile`]: the plugin is not profiled, its profile was written
    /// already, or `out` failed.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let opts = wasp_host::PluginOptions::default().profile(true);
    /// let p = rt.load_file("upper.wasm", opts).await?;
    /// let _: String = p.call("upper", "hello").await?;
    /// p.write_profile(std::fs::File::create("upper.profile.json").unwrap())?;
    /// # Ok(()) }
    /// ```
    pub fn write_profile(&self, out: impl std::io::Write) -> Result<()> {
        let failed = |reason: String| Error::Profile {
            plugin: self.name().to_string(),
            reason,
        };
        let Some(p) = &self.inner.pool.spec.profiler else {
            return Err(failed("it was not loaded with profiling on".into()));
        };
        match p.finish(out) {
            Ok(true) => Ok(()),
            Ok(false) => Err(failed("it was written already".into())),
            Err(e) => Err(failed(format!("{e:#}"))),
        }
    }

    /// [`Plugin::kv_usage`] for threads that may block (a metrics scrape).
    pub(crate) fn kv_usage_blocking(&self) -> Option<u64> {
        let kv = self.inner.pool.spec.shared.kv.as_ref()?;
        kv.store.usage(&kv.namespace).ok()
    }

    /// The plugin's counters, for an exporter.
    pub(crate) fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.pool.spec.metrics
    }

    /// A snapshot of the plugin's counters and latencies.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{} calls", p.stats().calls); }
    /// ```
    pub fn stats(&self) -> PluginStats {
        let m = &self.inner.pool.spec.metrics;
        let quarantined = m.consecutive_faults() >= self.inner.options.limits.max_faults;
        m.snapshot(quarantined)
    }

    /// Calls `shutdown` on the plugin's idle instances and drops them; calls in
    /// flight finish, and their instances are dropped after them.
    pub(crate) async fn close(&self) {
        if let Some(shadow) = self.inner.shadow.replace(None) {
            self.conclude(&shadow, None);
        }
        self.inner.pool.close().await;
    }
}

/// What each shadowed event of a batch showed (the first of `inputs`, as many
/// as the shadow ran on). A batch the serving version failed as a whole is not
/// compared (its events are shadowed again when retried); one the new version
/// faulted on as a whole is one fault.
fn compare_batch(
    inputs: &[Vec<u8>],
    live: &Result<Vec<Result<Vec<u8>>>>,
    new: Result<Vec<Result<Vec<u8>>>>,
) -> Vec<Compared> {
    let Ok(live) = live else {
        return Vec::new();
    };
    match new {
        Ok(new) => inputs
            .iter()
            .zip(live)
            .zip(&new)
            .filter_map(|((input, live), new)| compare(input, live, new))
            .collect(),
        Err(e @ Error::Fault { .. }) => {
            let mut found = vec![Compared::Fault(e.to_string())];
            found.extend(inputs.iter().skip(1).map(|_| Compared::Uncompared));
            found
        }
        Err(e) => {
            let new = Err(e);
            inputs
                .iter()
                .zip(live)
                .filter_map(|(input, live)| compare(input, live, &new))
                .collect()
        }
    }
}

/// The span of one call (or batch of `inputs` calls): target `wasp::call`, level
/// debug, with `fuel` (recorded by the instance) and `outcome` filled in at the end.
fn call_span(plugin: &str, function: &str, version: &str, inputs: usize) -> tracing::Span {
    tracing::debug_span!(
        target: "wasp::call",
        "call",
        plugin,
        function,
        version,
        inputs,
        fuel = tracing::field::Empty,
        outcome = tracing::field::Empty,
    )
}

/// A call's outcome, as the span's `outcome` field.
fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Plugin { .. }) => "plugin-error",
        Err(Error::Fault { .. }) => "fault",
        Err(_) => "refused",
    }
}
