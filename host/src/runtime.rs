//! The [`Runtime`]: one wasmtime `Engine` (fuel, epochs, no component-model
//! concurrency), the epoch ticker, the linker of every supported API version, and
//! the host functions the application registered.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use crate::capability::{HostFn, HostFnContext, HostFns};
use crate::error::{Error, Result};
use crate::kv::KvStore;
use crate::loader;
use crate::manifest::Manifest;
use crate::metrics::Metrics;
use crate::plugin::{Plugin, PluginInner, PluginOptions};
use crate::pool::{Pool, PoolSpec, Pre};
use crate::registry::Plugins;
use crate::state::{KvAccess, SharedState, StoreState};
use crate::version::{ApiVersion, since_v0_1_0 as v0_1_0, since_v0_2_0 as v0_2_0};

/// How often the epoch ticks: the granularity of timeouts, and how often a
/// spinning plugin yields to other tasks.
pub const DEFAULT_EPOCH_TICK: Duration = Duration::from_millis(10);

/// `kv-quota` of a plugin granted `kv = true` without one: 10 MiB.
pub const DEFAULT_KV_QUOTA: u64 = 10 << 20;

/// Builds a [`Runtime`]. [`RuntimeBuilder::build`] is its one fallible step.
///
/// ```
/// let runtime = wasp_host::Runtime::builder()
///     .host_fn("clock.now", |_ctx, _input| async move {
///         Ok(b"12:00".to_vec())
///     })
///     .build()?;
/// # Ok::<(), wasp_host::Error>(())
/// ```
#[derive(Debug)]
pub struct RuntimeBuilder {
    host_fns: BTreeMap<String, HostFn>,
    state: Option<std::path::PathBuf>,
    cache_dir: Option<std::path::PathBuf>,
    epoch_tick: Duration,
    duplicate: Option<String>,
}

impl RuntimeBuilder {
    /// Registers a host function that plugins granted `name` (manifest
    /// `host-functions`) can call with `call-host`. An `Err(String)` reaches the
    /// plugin as the error of `call-host`.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder()
    ///     .host_fn("echo", |_ctx, input| async move { Ok(input) })
    ///     .build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn host_fn<F, Fut>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(HostFnContext, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
    {
        let name = name.into();
        if self.host_fns.insert(name.clone(), HostFn::new(f)).is_some() {
            self.duplicate.get_or_insert(name);
        }
        self
    }

    /// Epoch tick (default [`DEFAULT_EPOCH_TICK`], 10 ms): timeouts are enforced
    /// to within about one tick, and a busy plugin yields once per tick.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().epoch_tick(std::time::Duration::from_millis(5)).build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick;
        self
    }

    /// The file of the key-value store that plugins granted `kv = true` use
    /// (a redb database, created if missing). Default: in memory, gone when the
    /// runtime is dropped.
    ///
    /// ```no_run
    /// let rt = wasp_host::Runtime::builder().state("wasp-state.db").build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn state(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.state = Some(path.into());
        self
    }

    /// Caches compiled plugins in `dir` (created with mode 0700; refused if other
    /// users may write to it). The second load of the same file skips adapting
    /// and compiling. Default: no disk cache.
    ///
    /// ```no_run
    /// let rt = wasp_host::Runtime::builder().cache_dir("/var/cache/wasp").build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Builds the engine, links every supported version, opens the kv store and
    /// the compile cache, and starts the epoch ticker.
    ///
    /// # Errors
    /// A host function registered twice, a zero epoch tick, or a wasmtime
    /// configuration error.
    ///
    /// ```
    /// let err = wasp_host::Runtime::builder()
    ///     .host_fn("a", |_c, i| async move { Ok(i) })
    ///     .host_fn("a", |_c, i| async move { Ok(i) })
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("twice"));
    /// ```
    pub fn build(self) -> Result<Runtime> {
        if let Some(name) = self.duplicate {
            return Err(Error::Runtime(format!(
                "host function '{name}' is registered twice"
            )));
        }
        if self.epoch_tick.is_zero() {
            return Err(Error::Runtime("epoch_tick must be more than zero".into()));
        }
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        // We do not use component-model async; this halves the cost of a call.
        config.concurrency_support(false);
        let engine = Engine::new(&config).map_err(|e| Error::Runtime(format!("engine: {e:#}")))?;

        let mut linker = Linker::<StoreState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Runtime(format!("linking WASI: {e:#}")))?;
        v0_1_0::Plugin::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| Error::Runtime(format!("linking wasp:plugin@0.1.0: {e:#}")))?;
        v0_2_0::Plugin::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| Error::Runtime(format!("linking wasp:plugin@0.2.0: {e:#}")))?;

        let kv = match &self.state {
            Some(path) => KvStore::open(path).map_err(|e| {
                Error::Runtime(format!(
                    "cannot open the state database {}: {e}",
                    path.display()
                ))
            })?,
            None => KvStore::in_memory()
                .map_err(|e| Error::Runtime(format!("cannot create the in-memory state: {e}")))?,
        };

        let cache = match &self.cache_dir {
            Some(dir) => Some(
                crate::loader::cache::Cache::new(dir, &engine)
                    .map_err(|e| Error::Runtime(format!("compile cache: {e}")))?,
            ),
            None => None,
        };

        start_ticker(&engine, self.epoch_tick);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                host_fns: HostFns(Arc::new(self.host_fns)),
                kv,
                state: self.state,
                cache,
            }),
        })
    }
}

/// Increments the engine's epoch every `tick` until the engine is dropped. The
/// thread holds only a weak reference, so it never keeps an engine alive.
fn start_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("wasp-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch ticker thread ({e}); timeouts only end blocking calls"
        );
    }
}

/// The wasp runtime: load plugins and call them. Cheap to clone.
///
/// ```no_run
/// # async fn f() -> wasp_host::Result<()> {
/// let runtime = wasp_host::Runtime::builder().build()?;
/// let plugins = runtime.load_manifest("wasp.toml").await?;
/// let out: String = plugins.get("upper")?.call("upper", "hello").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<StoreState>,
    host_fns: HostFns,
    kv: KvStore,
    state: Option<std::path::PathBuf>,
    cache: Option<crate::loader::cache::Cache>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("host_fns", &self.inner.host_fns.names())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder with the defaults: no host functions, 10 ms epoch tick.
    ///
    /// ```
    /// let runtime = wasp_host::Runtime::builder().build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            host_fns: BTreeMap::new(),
            epoch_tick: DEFAULT_EPOCH_TICK,
            duplicate: None,
            state: None,
            cache_dir: None,
        }
    }

    /// The wasmtime engine (for tools that want to precompile, say).
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// let _engine: &wasmtime::Engine = rt.engine();
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads a plugin file under its file stem as name.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, otherwise as [`Runtime::load_bytes`].
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let upper = rt.load_file("plugins/upper.wasm", Default::default()).await?;
    /// assert_eq!(upper.name(), "upper");
    /// # Ok(()) }
    /// ```
    pub async fn load_file(
        &self,
        path: impl AsRef<Path>,
        options: PluginOptions,
    ) -> Result<Plugin> {
        let path = path.as_ref();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into());
        self.load_file_as(&name, path, options).await
    }

    /// Loads a plugin file under `name` (a manifest key, say).
    ///
    /// # Errors
    /// As [`Runtime::load_file`].
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let p = rt.load_file_as("shout", "plugins/upper.wasm", Default::default()).await?;
    /// assert_eq!(p.name(), "shout");
    /// # Ok(()) }
    /// ```
    pub async fn load_file_as(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: PluginOptions,
    ) -> Result<Plugin> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path).await.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let plugin = self.load_bytes(name, bytes, options).await?;
        Ok(plugin.with_source(path))
    }

    /// Loads a plugin from bytes (a component, or a wasm32-wasip1 core module that
    /// is adapted here): checks the sha256 pin, the API version and every import,
    /// resolves the grants, instantiates it, reads `info`, runs `init`.
    ///
    /// # Errors
    /// [`Error::Load`], [`Error::UnsupportedVersion`], or the `init` error/fault.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let bytes = std::fs::read("upper.wasm").unwrap();
    /// let upper = rt.load_bytes("upper", bytes, Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        options: PluginOptions,
    ) -> Result<Plugin> {
        let rt = &*self.inner;
        let grants = options.grants.clone().resolve(name, &rt.host_fns)?;
        let compiled =
            loader::compile(&rt.engine, rt.cache.as_ref(), name, bytes, options.sha256).await?;
        let instance_pre = rt
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(|e| {
                Error::load(
                    name,
                    format!("it imports something this host does not provide: {e:#}"),
                )
            })?;
        let pre = match compiled.version {
            ApiVersion::V0_1_0 => {
                Pre::V0_1_0(v0_1_0::PluginPre::new(instance_pre).map_err(|e| {
                    Error::load(
                        name,
                        format!("its exports do not match wasp:plugin@0.1.0: {e:#}"),
                    )
                })?)
            }
            ApiVersion::V0_2_0 => {
                Pre::V0_2_0(v0_2_0::PluginPre::new(instance_pre).map_err(|e| {
                    Error::load(
                        name,
                        format!("its exports do not match wasp:plugin@0.2.0: {e:#}"),
                    )
                })?)
            }
        };
        let metrics = Arc::new(Metrics::new());
        let shared = Arc::new(SharedState {
            config: options.config.clone(),
            host_fns: rt.host_fns.clone(),
            granted_host_fns: grants.host_functions.clone(),
            kv: grants.kv.then(|| KvAccess {
                store: rt.kv.clone(),
                namespace: name.to_string(),
                quota: grants.kv_quota.unwrap_or(DEFAULT_KV_QUOTA),
            }),
        });
        let name_arc: Arc<str> = Arc::from(name);
        let pool = Pool::new(PoolSpec {
            engine: rt.engine.clone(),
            pre,
            name: name_arc.clone(),
            limits: options.limits.clone(),
            grants,
            shared,
            mode: options.instance,
            max_instances: options.max_instances,
            max_queue: options.max_queue,
            metrics: metrics.clone(),
        });
        let mut first = pool.instantiate().await?;
        let info = pool.info(&mut first).await?;
        pool.put_back(first);
        let plugin = Plugin::finish_load(PluginInner {
            name: name_arc,
            info,
            version: compiled.version,
            sha256: compiled.sha256,
            adapted: compiled.adapted,
            cached: compiled.cached,
            imports: compiled.shape.imports,
            sdk_version: compiled.shape.sdk_version,
            source: None,
            options: options.clone(),
            pool,
            metrics,
        })
        .await?;
        tracing::info!(
            target: "wasp::load",
            plugin = name,
            api = %plugin.api_version(),
            version = %plugin.info().version,
            "loaded"
        );
        Ok(plugin)
    }

    /// Reads a manifest and loads every plugin in it.
    ///
    /// # Errors
    /// [`Error::Manifest`] for an invalid manifest, otherwise the first plugin
    /// that fails to load.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let plugins = rt.load_manifest("wasp.toml").await?;
    /// for name in plugins.names() { println!("{name}"); }
    /// # Ok(()) }
    /// ```
    pub async fn load_manifest(&self, path: impl AsRef<Path>) -> Result<Plugins> {
        let manifest = Manifest::from_file(path)?;
        self.load(&manifest).await
    }

    /// Loads every plugin of an already parsed manifest.
    ///
    /// # Errors
    /// The first plugin that fails to load.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
    /// let plugins = rt.load(&m).await?;
    /// # Ok(()) }
    /// ```
    pub async fn load(&self, manifest: &Manifest) -> Result<Plugins> {
        if let Some(state) = manifest.state()
            && self.inner.state.as_deref() != Some(state)
        {
            tracing::warn!(
                target: "wasp::manifest",
                "{}: [runtime] state = {} is not the store of this runtime ({}); build the Runtime with RuntimeBuilder::state to use it",
                manifest.file().display(),
                state.display(),
                self.inner.state.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "in memory".into())
            );
        }
        for key in manifest.not_enforced() {
            tracing::warn!(
                target: "wasp::manifest",
                "{}: `{key}` is checked but not enforced by this version of wasp",
                manifest.file().display()
            );
        }
        let plugins = Plugins::with_runtime(self.clone());
        for (name, entry) in manifest.plugins() {
            let plugin = self
                .load_file_as(name, entry.path(), entry.options().clone())
                .await?;
            plugins.insert(plugin);
        }
        Ok(plugins)
    }
}
