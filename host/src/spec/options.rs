//! How a plugin is loaded (its options) and how one call may differ (call options).

use std::collections::BTreeMap;
use std::time::Duration;

use super::grants::Grants;
use super::keys::TrustedKey;
use super::limits::Limits;

/// Calls served at once by default, each on its own instance.
pub const DEFAULT_MAX_INSTANCES: u32 = 4;
/// Calls that may wait for a free instance by default.
pub const DEFAULT_MAX_QUEUE: u32 = 64;

/// Calls an instance keeps in its history while recording is on, by default
/// (`[runtime] record-window`).
pub const DEFAULT_WINDOW_CALLS: u32 = 10_000;
/// Bytes of history an instance keeps while recording is on.
pub const DEFAULT_WINDOW_BYTES: u64 = 64 << 20;

/// How much history each instance keeps while recording is on: an instance whose
/// history reaches either bound is replaced by a fresh one at its next call, so
/// every recording starts at an instance's creation.
///
/// ```
/// let w = wasp_host::recording::RecordWindow::default();
/// assert_eq!((w.calls, w.bytes), (10_000, 64 << 20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordWindow {
    /// Calls (`call` and `call-batch` entries).
    pub calls: u32,
    /// Bytes of inputs, outputs and host-import answers.
    pub bytes: u64,
}

impl Default for RecordWindow {
    fn default() -> Self {
        RecordWindow {
            calls: DEFAULT_WINDOW_CALLS,
            bytes: DEFAULT_WINDOW_BYTES,
        }
    }
}

/// How a reloaded plugin's new version takes over (manifest: `rollout = {
/// shadow-events, max-faults, max-diff }`). With `shadow_events = 0` (the
/// default) it takes over at once. Otherwise it first runs **in shadow**: the
/// next `shadow_events` events the plugin serves go to both versions, the old
/// version's results are the ones returned, and the new version's are compared
/// with them byte for byte. It is rejected (the old version keeps serving) when
/// it faulted more than `max_faults` times or differed on more than `max_diff`
/// (a fraction) of the shadowed events; otherwise it takes over after the last
/// one.
///
/// ```
/// use wasp_host::Rollout;
/// let r = Rollout::shadow(1000).max_faults(1).max_diff(0.01);
/// assert_eq!((r.shadow_events, r.max_faults, r.max_diff), (1000, 1, 0.01));
/// assert!(Rollout::default().is_immediate());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Rollout {
    /// Events the new version runs in shadow before it may take over (0: none).
    pub shadow_events: u64,
    /// Faults of the new version in shadow that are tolerated.
    pub max_faults: u64,
    /// Fraction (0.0 to 1.0) of shadowed events whose result may differ.
    pub max_diff: f64,
}

impl Rollout {
    /// A shadow of `events` events that tolerates no fault and no difference.
    ///
    /// ```
    /// assert_eq!(wasp_host::Rollout::shadow(5).max_diff, 0.0);
    /// ```
    pub fn shadow(events: u64) -> Self {
        Rollout {
            shadow_events: events,
            ..Rollout::default()
        }
    }
    /// Sets [`Rollout::max_faults`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Rollout::shadow(5).max_faults(2).max_faults, 2);
    /// ```
    pub fn max_faults(mut self, n: u64) -> Self {
        self.max_faults = n;
        self
    }
    /// Sets [`Rollout::max_diff`] (outside 0.0 to 1.0 is refused at load).
    ///
    /// ```
    /// assert_eq!(wasp_host::Rollout::shadow(5).max_diff(0.2).max_diff, 0.2);
    /// ```
    pub fn max_diff(mut self, fraction: f64) -> Self {
        self.max_diff = fraction;
        self
    }
    /// Whether a new version takes over at once (no shadow).
    ///
    /// ```
    /// assert!(!wasp_host::Rollout::shadow(1).is_immediate());
    /// ```
    pub fn is_immediate(&self) -> bool {
        self.shadow_events == 0
    }
    /// Whether `max_diff` is a fraction from 0.0 to 1.0.
    pub(crate) fn is_valid(&self) -> bool {
        (0.0..=1.0).contains(&self.max_diff)
    }
}

// Compared bit for bit, so that equality is an equivalence (a NaN fraction is
// refused at load anyway).
impl PartialEq for Rollout {
    fn eq(&self, other: &Self) -> bool {
        self.shadow_events == other.shadow_events
            && self.max_faults == other.max_faults
            && self.max_diff.to_bits() == other.max_diff.to_bits()
    }
}

impl Eq for Rollout {}

/// Whether a plugin's instances are kept between calls.
///
/// ```
/// assert_eq!(wasp_host::InstanceMode::default(), wasp_host::InstanceMode::Reuse);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceMode {
    /// `"reuse"` (default): an instance serves call after call and keeps its state
    /// (a running count, a cache) until it faults or the plugin is unloaded. Cheapest.
    #[default]
    Reuse,
    /// `"per-call"`: a fresh instance (and `init`) for every call; nothing leaks
    /// from one call to the next, at the cost of an instantiation per call.
    PerCall,
}

/// How a plugin is loaded: limits, grants, config, instances. The default is what
/// a `.wasm` path gets on the command line: default limits, nothing granted.
///
/// Read an option from its public field; set one with the method of the same
/// name, which chains. Contradictions (`max_instances = 0`) are refused when the
/// plugin is loaded, with an error naming the key.
///
/// ```
/// use wasp_host::{InstanceMode, Limits, PluginOptions};
/// let o = PluginOptions::default()
///     .limits(Limits::default().fuel(9))
///     .config("greeting", "hi")
///     .instance(InstanceMode::PerCall);
/// assert_eq!(o.limits.fuel, 9);
/// assert_eq!(o.config["greeting"], "hi");
/// assert_eq!(PluginOptions::default().max_instances, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginOptions {
    /// The plugin's limits (default: [`Limits::default`]).
    pub limits: Limits,
    /// What the plugin may reach (default: nothing).
    pub grants: Grants,
    /// What the plugin reads with `get-config`.
    pub config: BTreeMap<String, String>,
    /// Reuse instances or use a fresh one per call (default: reuse).
    pub instance: InstanceMode,
    /// Calls served at once, each on its own instance (default
    /// [`DEFAULT_MAX_INSTANCES`]; at least 1).
    pub max_instances: u32,
    /// Calls that may wait for a free instance (default [`DEFAULT_MAX_QUEUE`];
    /// 0: none waits); past it, or after waiting `limits.timeout`, a call fails with
    /// [`crate::Error::Busy`].
    pub max_queue: u32,
    /// Refuse to load unless the file's SHA-256 is this.
    pub sha256: Option<[u8; 32]>,
    /// Refuse to load unless one of these keys signed exactly the file's bytes
    /// (an embedded signature, or `FILE.wasm.sig` beside a file); replaces the
    /// runtime's [`crate::RuntimeBuilder::trusted_keys`] for this plugin. `None`:
    /// the runtime's list applies. An empty list refuses every file.
    pub signed_by: Option<Vec<TrustedKey>>,
    /// Record a guest profile of every call, sampled at each epoch tick, to be
    /// written with [`crate::Plugin::write_profile`] (default: off; costs one
    /// stack walk per tick while the plugin runs).
    pub profile: bool,
    /// Keep each instance's history, within this window, so that
    /// [`crate::Plugin::call_recorded`] can return a recording of a call
    /// (default: off, which costs nothing).
    pub record: Option<RecordWindow>,
    /// How a new version of this plugin takes over when it is reloaded
    /// (default: at once, [`Rollout::default`]).
    pub rollout: Rollout,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions {
            limits: Limits::default(),
            grants: Grants::default(),
            config: BTreeMap::new(),
            instance: InstanceMode::Reuse,
            max_instances: DEFAULT_MAX_INSTANCES,
            max_queue: DEFAULT_MAX_QUEUE,
            sha256: None,
            signed_by: None,
            profile: false,
            record: None,
            rollout: Rollout::default(),
        }
    }
}

impl PluginOptions {
    /// Sets [`PluginOptions::limits`].
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().limits(wasp_host::Limits::default().fuel(9));
    /// assert_eq!(o.limits.fuel, 9);
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`PluginOptions::grants`].
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().grants(wasp_host::Grants::default().stdout(true));
    /// assert!(o.grants.stdout);
    /// ```
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }
    /// Adds a [`PluginOptions::config`] entry.
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().config("k", "v");
    /// assert_eq!(o.config.len(), 1);
    /// ```
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }
    /// Sets [`PluginOptions::instance`].
    ///
    /// ```
    /// use wasp_host::InstanceMode;
    /// let o = wasp_host::PluginOptions::default().instance(InstanceMode::PerCall);
    /// assert_eq!(o.instance, InstanceMode::PerCall);
    /// ```
    pub fn instance(mut self, mode: InstanceMode) -> Self {
        self.instance = mode;
        self
    }
    /// Sets [`PluginOptions::max_instances`] (0 is refused at load).
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().max_instances(1);
    /// assert_eq!(o.max_instances, 1);
    /// ```
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n;
        self
    }
    /// Sets [`PluginOptions::max_queue`].
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().max_queue(0);
    /// assert_eq!(o.max_queue, 0);
    /// ```
    pub fn max_queue(mut self, n: u32) -> Self {
        self.max_queue = n;
        self
    }
    /// Sets [`PluginOptions::sha256`].
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().sha256([0; 32]);
    /// assert!(o.sha256.is_some());
    /// ```
    pub fn sha256(mut self, digest: [u8; 32]) -> Self {
        self.sha256 = Some(digest);
        self
    }
    /// Sets [`PluginOptions::profile`].
    ///
    /// ```
    /// assert!(wasp_host::PluginOptions::default().profile(true).profile);
    /// ```
    pub fn profile(mut self, on: bool) -> Self {
        self.profile = on;
        self
    }
    /// Sets [`PluginOptions::record`].
    ///
    /// ```
    /// use wasp_host::recording::RecordWindow;
    /// let o = wasp_host::PluginOptions::default().record(Some(RecordWindow::default()));
    /// assert!(o.record.is_some());
    /// ```
    pub fn record(mut self, window: Option<RecordWindow>) -> Self {
        self.record = window;
        self
    }
    /// Sets [`PluginOptions::rollout`].
    ///
    /// ```
    /// use wasp_host::{PluginOptions, Rollout};
    /// let o = PluginOptions::default().rollout(Rollout::shadow(1000));
    /// assert_eq!(o.rollout.shadow_events, 1000);
    /// ```
    pub fn rollout(mut self, rollout: Rollout) -> Self {
        self.rollout = rollout;
        self
    }
    /// Sets [`PluginOptions::signed_by`].
    ///
    /// ```
    /// let key = wasp_host::TrustedKey::from_raw([7; 32]);
    /// let o = wasp_host::PluginOptions::default().signed_by([key]);
    /// assert_eq!(o.signed_by.map(|k| k.len()), Some(1));
    /// ```
    pub fn signed_by(mut self, keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        self.signed_by = Some(keys.into_iter().collect());
        self
    }
}

/// How one call differs from the plugin's limits: each `Some` replaces that limit
/// for this call only (`None`: the plugin's own).
///
/// ```
/// use std::time::Duration;
/// use wasp_host::CallOptions;
/// let o = CallOptions { timeout: Some(Duration::from_millis(50)), ..Default::default() };
/// assert_eq!(o, CallOptions::default().timeout(Duration::from_millis(50)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Wall-clock limit of this call.
    pub timeout: Option<Duration>,
    /// Fuel of this call.
    pub fuel: Option<u64>,
    /// Memory the instance may grow to during this call, in bytes (growth before
    /// it stays).
    pub memory: Option<u64>,
}

impl CallOptions {
    /// Sets [`CallOptions::timeout`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// let o = wasp_host::CallOptions::default().timeout(Duration::from_secs(1));
    /// assert_eq!(o.timeout, Some(Duration::from_secs(1)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Sets [`CallOptions::fuel`].
    ///
    /// ```
    /// assert_eq!(wasp_host::CallOptions::default().fuel(7).fuel, Some(7));
    /// ```
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }
    /// Sets [`CallOptions::memory`].
    ///
    /// ```
    /// assert_eq!(wasp_host::CallOptions::default().memory(1 << 20).memory, Some(1 << 20));
    /// ```
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// `limits` with this call's overrides applied.
    pub(crate) fn apply(&self, limits: &Limits) -> Limits {
        let mut l = limits.clone();
        if let Some(t) = self.timeout {
            l.timeout = t;
        }
        if let Some(f) = self.fuel {
            l.fuel = f;
        }
        if let Some(m) = self.memory {
            l.memory = m;
        }
        l
    }
}
