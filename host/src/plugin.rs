//! A loaded plugin: its metadata, typed and raw calls, and its statistics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use wasp_codec::{FromBytes, IntoBytes};

use crate::capability::Grants;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::metrics::{Metrics, PluginStats};
use crate::pool::Pool;
use crate::version::ApiVersion;

/// What a plugin says about itself (`info()`), checked at load.
///
/// ```no_run
/// # async fn f(plugin: wasp_host::Plugin) {
/// let info = plugin.info();
/// println!("{} {}: {}", info.name, info.version, info.functions.join(", "));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's own name.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// One line for people.
    pub description: String,
    /// The functions `call` accepts.
    pub functions: Vec<String>,
}

impl PluginInfo {
    fn check(&self, plugin: &str) -> Result<()> {
        let bad = |why: String| Err(Error::load(plugin, format!("its info() is invalid: {why}")));
        if self.name.trim().is_empty() {
            return bad("the name is empty".into());
        }
        if semver::Version::parse(&self.version).is_err() {
            return bad(format!(
                "the version `{}` is not semver (e.g. 1.0.0)",
                self.version
            ));
        }
        if self.functions.is_empty() {
            return bad("it lists no functions".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.functions {
            if f.is_empty() {
                return bad("it lists an empty function name".into());
            }
            if !seen.insert(f) {
                return bad(format!("it lists function `{f}` twice"));
            }
        }
        Ok(())
    }
}

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

/// How one plugin is loaded: limits, grants, config and pool settings. The
/// manifest makes these; an application can also build them in code.
///
/// ```
/// use std::time::Duration;
/// use wasp_host::{Grants, Limits, PluginOptions};
/// let opts = PluginOptions::default()
///     .limits(Limits::default().timeout(Duration::from_millis(500)))
///     .grants(Grants::default().env(["LANG"]))
///     .config("greeting", "hi");
/// assert_eq!(opts.config_value()["greeting"], "hi");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOptions {
    pub(crate) limits: Limits,
    pub(crate) grants: Grants,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) instance: InstanceMode,
    pub(crate) max_instances: u32,
    pub(crate) max_queue: u32,
    pub(crate) sha256: Option<[u8; 32]>,
}

/// Default `max-instances`: enough for a few concurrent calls per plugin while
/// bounding memory at 4 × `limits.memory`.
pub const DEFAULT_MAX_INSTANCES: u32 = 4;

/// Default `max-queue`: calls that may wait for a free instance before the
/// plugin answers `busy`.
pub const DEFAULT_MAX_QUEUE: u32 = 64;

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
        }
    }
}

impl PluginOptions {
    /// The plugin's limits (default: [`Limits::default`]).
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().limits(wasp_host::Limits::default().fuel(9));
    /// assert_eq!(o.limits_value().fuel_value(), 9);
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// The plugin's grants (default: nothing).
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().grants(wasp_host::Grants::default().stdout(true));
    /// assert!(o.grants_value().stdout_value());
    /// ```
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }
    /// Adds a `config` entry the plugin reads with `get-config`.
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().config("k", "v");
    /// assert_eq!(o.config_value().len(), 1);
    /// ```
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }
    /// Reuse instances or use a fresh one per call (default: reuse).
    ///
    /// ```
    /// use wasp_host::InstanceMode;
    /// let o = wasp_host::PluginOptions::default().instance(InstanceMode::PerCall);
    /// assert_eq!(o.instance_value(), InstanceMode::PerCall);
    /// ```
    pub fn instance(mut self, mode: InstanceMode) -> Self {
        self.instance = mode;
        self
    }
    /// Calls served at once, each on its own instance (default:
    /// [`DEFAULT_MAX_INSTANCES`]; at least 1).
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().max_instances(1);
    /// assert_eq!(o.max_instances_value(), 1);
    /// ```
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n.max(1);
        self
    }
    /// Calls that may wait for a free instance (default [`DEFAULT_MAX_QUEUE`]);
    /// past it, or after waiting `limits.timeout`, a call fails with
    /// [`Error::Busy`].
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().max_queue(0);
    /// assert_eq!(o.max_queue_value(), 0);
    /// ```
    pub fn max_queue(mut self, n: u32) -> Self {
        self.max_queue = n;
        self
    }
    /// See [`PluginOptions::max_queue`].
    ///
    /// ```
    /// assert_eq!(wasp_host::PluginOptions::default().max_queue_value(), 64);
    /// ```
    pub fn max_queue_value(&self) -> u32 {
        self.max_queue
    }

    /// Refuse to load unless the file's SHA-256 is this.
    ///
    /// ```
    /// let o = wasp_host::PluginOptions::default().sha256([0; 32]);
    /// assert!(o.sha256_value().is_some());
    /// ```
    pub fn sha256(mut self, digest: [u8; 32]) -> Self {
        self.sha256 = Some(digest);
        self
    }

    /// See [`PluginOptions::limits`].
    ///
    /// ```
    /// let _ = wasp_host::PluginOptions::default().limits_value();
    /// ```
    pub fn limits_value(&self) -> &Limits {
        &self.limits
    }
    /// See [`PluginOptions::grants`].
    ///
    /// ```
    /// let _ = wasp_host::PluginOptions::default().grants_value();
    /// ```
    pub fn grants_value(&self) -> &Grants {
        &self.grants
    }
    /// See [`PluginOptions::config`].
    ///
    /// ```
    /// assert!(wasp_host::PluginOptions::default().config_value().is_empty());
    /// ```
    pub fn config_value(&self) -> &BTreeMap<String, String> {
        &self.config
    }
    /// See [`PluginOptions::instance`].
    ///
    /// ```
    /// let _ = wasp_host::PluginOptions::default().instance_value();
    /// ```
    pub fn instance_value(&self) -> InstanceMode {
        self.instance
    }
    /// See [`PluginOptions::max_instances`].
    ///
    /// ```
    /// assert_eq!(wasp_host::PluginOptions::default().max_instances_value(), 4);
    /// ```
    pub fn max_instances_value(&self) -> u32 {
        self.max_instances
    }
    /// See [`PluginOptions::sha256`].
    ///
    /// ```
    /// assert!(wasp_host::PluginOptions::default().sha256_value().is_none());
    /// ```
    pub fn sha256_value(&self) -> Option<&[u8; 32]> {
        self.sha256.as_ref()
    }
}

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
    pub(crate) inner: Arc<PluginInner>,
}

pub(crate) struct PluginInner {
    pub(crate) name: Arc<str>,
    pub(crate) info: PluginInfo,
    pub(crate) version: ApiVersion,
    pub(crate) sha256: [u8; 32],
    pub(crate) adapted: bool,
    pub(crate) cached: bool,
    pub(crate) imports: Vec<String>,
    pub(crate) sdk_version: Option<String>,
    /// The file it was loaded from (for reload), and how.
    pub(crate) source: Option<std::path::PathBuf>,
    pub(crate) options: PluginOptions,
    pub(crate) pool: Pool,
    pub(crate) metrics: Arc<Metrics>,
}

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
    pub(crate) fn with_source(self, path: &std::path::Path) -> Plugin {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.source = Some(path.to_path_buf());
                Plugin {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Plugin { inner },
        }
    }

    pub(crate) async fn finish_load(inner: PluginInner) -> Result<Plugin> {
        inner.info.check(&inner.name)?;
        Ok(Plugin {
            inner: Arc::new(inner),
        })
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
    pub fn source(&self) -> Option<&std::path::Path> {
        self.inner.source.as_deref()
    }

    /// The options the plugin was loaded with.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.options().limits_value()); }
    /// ```
    pub fn options(&self) -> &PluginOptions {
        &self.inner.options
    }

    /// The plugin's limits.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{:?}", p.limits().timeout_value()); }
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.inner.pool.spec.limits
    }

    /// Calls `function` with a typed input and output (see [`wasp_codec`]:
    /// `String` and bytes as they are, [`crate::Json`] and [`crate::Bincode`] for
    /// serde types).
    ///
    /// # Errors
    /// [`Error::Plugin`] when the plugin returns an error, [`Error::Fault`] when it
    /// faults (the instance is discarded), [`Error::NoSuchFunction`],
    /// [`Error::InputTooLarge`], [`Error::Codec`], [`Error::Quarantined`].
    ///
    /// ```no_run
    /// # async fn f(p: wasp_host::Plugin) -> wasp_host::Result<()> {
    /// use wasp_host::Json;
    /// let Json(sum): Json<i64> = p.call("json-sum", Json(vec![1, 2, 3])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call<I: IntoBytes, O: FromBytes>(&self, function: &str, input: I) -> Result<O> {
        let bytes = input.into_bytes().map_err(|source| Error::Codec {
            plugin: self.name().to_string(),
            function: function.to_string(),
            what: "encoding the input",
            source,
        })?;
        let out = self.call_raw(function, &bytes).await?;
        O::from_bytes(out).map_err(|source| Error::Codec {
            plugin: self.name().to_string(),
            function: function.to_string(),
            what: "decoding the output",
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
        let inner = &*self.inner;
        let m = &inner.metrics;
        let consecutive = m.consecutive_faults.load(Ordering::Relaxed);
        if consecutive >= inner.pool.spec.limits.max_faults {
            return Err(Error::Quarantined {
                plugin: self.name().to_string(),
                faults: consecutive,
                last: m.last_fault().unwrap_or_default(),
            });
        }
        if !inner.info.functions.iter().any(|f| f == function) {
            return Err(Error::NoSuchFunction {
                plugin: self.name().to_string(),
                function: function.to_string(),
                available: inner.info.functions.join(", "),
            });
        }
        if input.len() as u64 > inner.pool.spec.limits.max_input {
            return Err(Error::InputTooLarge {
                plugin: self.name().to_string(),
                function: function.to_string(),
                size: input.len(),
                limit: inner.pool.spec.limits.max_input,
            });
        }
        m.in_flight.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let result = match inner.pool.lease().await {
            Ok(lease) => inner.pool.call(lease, function, input).await,
            Err(e) => Err(e),
        };
        m.in_flight.fetch_sub(1, Ordering::Relaxed);
        m.record_call(start.elapsed());
        match &result {
            Ok(_) => m.consecutive_faults.store(0, Ordering::Relaxed),
            Err(Error::Plugin { .. }) => {
                m.errors.fetch_add(1, Ordering::Relaxed);
                m.consecutive_faults.store(0, Ordering::Relaxed);
            }
            Err(e @ Error::Fault { fault, .. }) => {
                let n = m.record_fault(fault.kind(), fault.to_string());
                tracing::warn!(target: "wasp::fault", plugin = %inner.name, function, kind = fault.kind(), consecutive = n, "{e}");
                if n == inner.pool.spec.limits.max_faults {
                    tracing::error!(target: "wasp::fault", plugin = %inner.name, "plugin quarantined after {n} consecutive faults; reload it to try again");
                }
            }
            Err(_) => {}
        }
        result
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
        tokio::task::spawn_blocking(move || kv.store.usage(&kv.namespace))
            .await
            .map_err(|e| Error::Runtime(format!("kv: the store task failed: {e}")))?
            .map(Some)
            .map_err(|e| Error::Runtime(format!("kv: {e}")))
    }

    /// A snapshot of the plugin's counters and latencies.
    ///
    /// ```no_run
    /// # fn f(p: wasp_host::Plugin) { println!("{} calls", p.stats().calls); }
    /// ```
    pub fn stats(&self) -> PluginStats {
        let quarantined = self
            .inner
            .metrics
            .consecutive_faults
            .load(Ordering::Relaxed)
            >= self.inner.pool.spec.limits.max_faults;
        self.inner.metrics.snapshot(quarantined)
    }

    /// Calls `shutdown` on the plugin's idle instances and drops them; calls in
    /// flight finish, and their instances are dropped after them.
    pub(crate) async fn close(&self) {
        self.inner.pool.close().await;
    }
}
