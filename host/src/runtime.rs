//! The [`Runtime`]: one wasmtime `Engine` (fuel, epochs, no component-model
//! concurrency), the epoch ticker, the linker of every supported API version, the
//! host functions the application registered, the kv store and the compile cache;
//! and every way to load a plugin, which all go through [`crate::loader`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasp_codec::{FromBytes, IntoBytes};

use crate::capability::{HostFn, HostFnContext, HostFns};
use crate::error::{Error, KvError, Result, SetupError};
use crate::kv::KvStore;
use crate::loader::Trust;
use crate::loader::{self, Env, Inspection};
use crate::plugin::Plugin;
use crate::recording::RecordWindow;
use crate::spec::keys::TrustedKey;
use crate::spec::options::PluginOptions;
use crate::state::StoreState;

/// How often the epoch ticks: the granularity of timeouts, and how often a
/// spinning plugin yields to other tasks.
pub const DEFAULT_EPOCH_TICK: Duration = Duration::from_millis(10);

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
    state: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    epoch_tick: Duration,
    kv_commit: Duration,
    instance_pool: u32,
    trust: Trust,
    profile_all: bool,
    record_all: Option<RecordWindow>,
    duplicate: Option<String>,
}

/// Instances the pooling allocator holds by default ([`RuntimeBuilder::instance_pool`]).
pub const DEFAULT_INSTANCE_POOL: u32 = 1000;

impl RuntimeBuilder {
    /// Registers a host function over bytes that plugins granted `name` (manifest
    /// `host-functions`) can call with `call-host`. An `Err(String)` reaches the
    /// plugin as the error of `call-host`.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder()
    ///     .host_fn("echo", |_ctx, input| async move { Ok(input) })
    ///     .build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn host_fn<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(HostFnContext, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
    {
        self.register(name.into(), HostFn::new(f))
    }

    /// Registers a host function over typed values (see [`HostFn::typed`]): the
    /// plugin's bytes decode into `I`, the result encodes from `O`.
    ///
    /// ```
    /// use wasp_host::Json;
    /// #[derive(serde::Deserialize)]
    /// struct Lookup { id: u32 }
    /// let rt = wasp_host::Runtime::builder()
    ///     .host_fn_typed("user.name", |_ctx, Json(q): Json<Lookup>| async move {
    ///         Ok::<_, String>(format!("user {}", q.id))
    ///     })
    ///     .build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn host_fn_typed<I, O, F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        I: FromBytes + Send + 'static,
        O: IntoBytes + Send + 'static,
        F: Fn(HostFnContext, I) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::result::Result<O, String>> + Send + 'static,
    {
        self.register(name.into(), HostFn::typed(f))
    }

    fn register(mut self, name: String, f: HostFn) -> Self {
        if self.host_fns.insert(name.clone(), f).is_some() {
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
    pub fn state(mut self, path: impl Into<PathBuf>) -> Self {
        self.state = Some(path.into());
        self
    }

    /// The group commit of the kv store ([`Self::state`]): writes from all calls
    /// gather for at most `delay` and are made durable with one fsync; until then
    /// they are visible but would not survive a crash. [`Runtime::kv_sync`] waits for
    /// them (`wasp run` does, before it releases outputs). Zero makes every write
    /// durable before it returns (one fsync each). Default: 5 ms.
    ///
    /// ```no_run
    /// let rt = wasp_host::Runtime::builder()
    ///     .state("wasp-state.db")
    ///     .kv_commit(std::time::Duration::ZERO)
    ///     .build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn kv_commit(mut self, delay: Duration) -> Self {
        self.kv_commit = delay;
        self
    }

    /// How many instances, across all plugins, may be alive at once: the size of
    /// wasmtime's pooling allocator, which keeps memories, tables and stacks in
    /// slots reserved once (virtual address space, touched only as used) and
    /// reuses them, so creating an instance costs no `mmap`. An instance beyond
    /// the pool is refused with [`Error::PoolFull`]. Each slot reserves a 4 GiB
    /// window of address space per linear memory (the guard that lets compiled
    /// code skip bounds checks), so 1000 slots reserve a few TiB of the 128 TiB a
    /// 64-bit process has. When the system refuses the reservation (`ulimit -v`,
    /// some containers), the runtime falls back to allocating on demand and logs
    /// why ([`Runtime::instance_pool`] is then `None`). 0 allocates on demand.
    /// Default: [`DEFAULT_INSTANCE_POOL`].
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().instance_pool(64).build()?;
    /// assert!(matches!(rt.instance_pool(), Some(64) | None));
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn instance_pool(mut self, instances: u32) -> Self {
        self.instance_pool = instances;
        self
    }

    /// The keys a plugin must be signed by when its options name none
    /// ([`PluginOptions::signed_by`]); the manifest's `[runtime] trusted-keys`.
    /// Default: none (unsigned plugins load).
    ///
    /// ```
    /// let key = wasp_host::TrustedKey::from_raw([7; 32]);
    /// let rt = wasp_host::Runtime::builder().trusted_keys([key]).build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn trusted_keys(mut self, keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        self.trust.keys = keys.into_iter().collect();
        self
    }

    /// Refuses every plugin that has no trusted key list (its own `signed_by` or
    /// [`RuntimeBuilder::trusted_keys`]); the manifest's `[runtime]
    /// require-signatures`. Default: false.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().require_signatures(true).build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn require_signatures(mut self, on: bool) -> Self {
        self.trust.require = on;
        self
    }

    /// Profiles every plugin this runtime loads, as if each were loaded with
    /// [`PluginOptions::profile`] (what `wasp run --profile` does). Samples are
    /// taken at each epoch tick: a shorter [`RuntimeBuilder::epoch_tick`] gives
    /// finer profiles. Default: off.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().profile_all(true).build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn profile_all(mut self, on: bool) -> Self {
        self.profile_all = on;
        self
    }

    /// Records every plugin this runtime loads, as if each were loaded with
    /// [`PluginOptions::record`] (what `wasp run --record` does). Default: off.
    ///
    /// ```
    /// use wasp_host::recording::RecordWindow;
    /// let rt = wasp_host::Runtime::builder().record_all(Some(RecordWindow::default())).build()?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn record_all(mut self, window: Option<RecordWindow>) -> Self {
        self.record_all = window;
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
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Builds the engine, links every supported version, opens the kv store and
    /// the compile cache, and starts the epoch ticker.
    ///
    /// # Errors
    /// [`Error::Setup`]: a host function registered twice, a zero epoch tick, a
    /// state file or cache directory that cannot be used.
    ///
    /// ```
    /// use wasp_host::{Error, SetupError};
    /// let err = wasp_host::Runtime::builder()
    ///     .host_fn("a", |_c, i| async move { Ok(i) })
    ///     .host_fn("a", |_c, i| async move { Ok(i) })
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Setup(ref e) if matches!(**e, SetupError::DuplicateHostFn { .. })));
    /// ```
    pub fn build(self) -> Result<Runtime> {
        if let Some(name) = self.duplicate {
            return Err(SetupError::DuplicateHostFn { name }.into());
        }
        if self.epoch_tick.is_zero() {
            return Err(SetupError::InvalidSetting {
                setting: "epoch_tick",
                problem: "must be more than zero",
            }
            .into());
        }
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        // We do not use component-model async; this halves the cost of a call.
        config.concurrency_support(false);
        let engine = engine_with_pool(&mut config, self.instance_pool)?;

        let mut linker = Linker::<StoreState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|source| SetupError::Link {
            interface: "WASI".into(),
            source,
        })?;
        crate::version::add_to_linker(&mut linker)?;

        let kv = match &self.state {
            Some(path) => KvStore::open(path, self.kv_commit),
            None => KvStore::in_memory(),
        }
        .map_err(|source| SetupError::State {
            path: self.state.clone(),
            source,
        })?;

        let cache = match &self.cache_dir {
            Some(dir) => Some(loader::cache::Cache::new(dir, &engine).map_err(|problem| {
                SetupError::Cache {
                    dir: dir.clone(),
                    problem,
                }
            })?),
            None => None,
        };

        start_ticker(&engine, self.epoch_tick);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                env: Env {
                    engine,
                    linker,
                    host_fns: HostFns(Arc::new(self.host_fns)),
                    cache,
                    kv,
                    code: loader::SharedCode::default(),
                    trust: self.trust,
                    epoch_tick: self.epoch_tick,
                    profile_all: self.profile_all,
                    record_all: self.record_all,
                },
                state: self.state,
            }),
        })
    }
}

/// Bytes of a linear memory kept resident when its slot is given back (a Rust
/// plugin's stack is its first MiB, its heap follows).
const KEEP_RESIDENT: usize = 2 << 20;
/// Bytes of a table kept resident when its slot is given back.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The engine, with a pooling allocator of `instances` slots when the system grants
/// the reservation, else allocating on demand (logged).
fn engine_with_pool(config: &mut Config, instances: u32) -> Result<Engine> {
    if instances > 0 {
        let mut pool = PoolingAllocationConfig::new();
        // A plugin is an adapted component: the module, WASI's adapter and the
        // shims of wit-component are core instances of one component instance.
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(8))
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(4))
            // One fiber stack per running call: calls never outnumber instances.
            .total_stacks(instances)
            .max_memories_per_module(2)
            // The limiter enforces each plugin's `memory`; the pool allows all of
            // wasm32's 4 GiB.
            .max_memory_size(1 << 32)
            // A slot given back is reset by zeroing the pages the instance
            // wrote (found with Linux's PAGEMAP_SCAN, where the kernel has it),
            // up to these sizes, instead of unmapping them: the next instance
            // in the slot takes no page faults, and the process no TLB
            // shootdown. Elsewhere the pages are unmapped as before.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(config) {
            Ok(engine) => return Ok(engine),
            Err(e) => {
                tracing::warn!(
                    target: "wasp::runtime",
                    "the pooling allocator ({instances} instances) is unavailable, so instances are allocated on demand: {e:#}"
                );
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            }
        }
    }
    Engine::new(config).map_err(|source| SetupError::Engine { source }.into())
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
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) env: Env,
    pub(crate) state: Option<PathBuf>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("host_fns", &self.inner.env.host_fns.names())
            .finish_non_exhaustive()
    }
}

/// A file name's stem, the default name of a plugin loaded from it.
fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

pub(crate) async fn read(path: &Path) -> Result<Vec<u8>> {
    tokio::fs::read(path).await.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `PATH.sig`, a detached signature, when it exists.
async fn read_detached(path: &Path) -> Result<Option<Vec<u8>>> {
    let sig = crate::signing::detached_path(path);
    match tokio::fs::read(&sig).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: sig, source }),
    }
}

impl Runtime {
    /// A builder with the defaults: no host functions, 10 ms epoch tick, kv in
    /// memory, no compile cache.
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
            kv_commit: crate::manifest::DEFAULT_KV_COMMIT,
            instance_pool: DEFAULT_INSTANCE_POOL,
            trust: Trust::default(),
            profile_all: false,
            record_all: None,
        }
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
        self.load_file_as(&stem(path), path, options).await
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
        let bytes = read(path).await?;
        self.start(name, bytes, options, Some(path.to_path_buf()), None)
            .await
    }

    /// Loads a plugin from bytes (a component, or a wasm32-wasip1 core module that
    /// is adapted here): checks the options, the grants, the sha256 pin, the API
    /// version and every import, reads `info`, runs `init`.
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
        self.start(name, bytes, options, None, None).await
    }

    /// The one way a plugin is loaded: prepare, then `init`. With `scratch`, its
    /// kv writes stay there (a version in shadow).
    pub(crate) async fn start(
        &self,
        name: &str,
        bytes: Vec<u8>,
        options: PluginOptions,
        source: Option<PathBuf>,
        scratch: Option<Arc<crate::kv::Scratch>>,
    ) -> Result<Plugin> {
        let file = self.file(bytes, source.clone(), &options).await?;
        let prepared = loader::prepare(&self.inner.env, name, file, &options, scratch).await?;
        let plugin = Plugin::start(prepared, options, source).await?;
        tracing::info!(
            target: "wasp::load",
            plugin = name,
            api = %plugin.api_version(),
            version = %plugin.info().version,
            "loaded"
        );
        Ok(plugin)
    }

    /// A file to load: with its detached signature (`PATH.sig`) when a key list
    /// applies to it.
    pub(crate) async fn file(
        &self,
        bytes: Vec<u8>,
        path: Option<PathBuf>,
        options: &PluginOptions,
    ) -> Result<loader::File> {
        let keys = self.inner.env.trust.keys_for(options).map(<[_]>::to_vec);
        let detached = match (&path, &keys) {
            (Some(path), Some(_)) => read_detached(path).await?,
            _ => None,
        };
        Ok(loader::File {
            bytes,
            path,
            keys,
            detached,
        })
    }

    /// What a plugin file is — its shape, API version and `info` — without
    /// running its `init` (only `info`, within the default limits, nothing
    /// granted). What `wasp inspect` shows.
    ///
    /// # Errors
    /// When the bytes cannot be decoded at all (not WebAssembly, not a valid
    /// module or component); a plugin that decodes but would not load is an
    /// `Ok` whose [`Inspection::problem`] says why.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let i = rt.inspect("upper", std::fs::read("upper.wasm").unwrap()).await?;
    /// assert!(i.problem.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn inspect(&self, name: &str, bytes: Vec<u8>) -> Result<Inspection> {
        let options = PluginOptions::default();
        let file = self.file(bytes, None, &options).await?;
        loader::inspect(&self.inner.env, name, file, &options).await
    }

    /// Waits until every kv write made so far, by any plugin of this runtime, is on
    /// disk (see [`RuntimeBuilder::kv_commit`]). Returns at once when nothing is
    /// pending, the store is in memory, or the group commit is off.
    ///
    /// # Errors
    /// [`Error::Kv`] when the durable commit failed.
    ///
    /// ```
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// rt.kv_sync().await?; // what plugins wrote will survive a crash
    /// # Ok(()) }
    /// ```
    pub async fn kv_sync(&self) -> Result<()> {
        let kv = self.inner.env.kv.clone();
        if !kv.group_commit() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || kv.wait_durable())
            .await
            .map_err(|e| Error::KvSync {
                source: Box::new(KvError::Commit {
                    message: format!("the waiting task failed: {e}"),
                }),
            })?
            .map_err(|source| Error::KvSync {
                source: Box::new(source),
            })
    }

    /// [`Runtime::kv_sync`] for threads that are not async: blocks the caller.
    ///
    /// # Errors
    /// As [`Runtime::kv_sync`].
    pub fn kv_sync_blocking(&self) -> Result<()> {
        self.inner
            .env
            .kv
            .wait_durable()
            .map_err(|source| Error::KvSync {
                source: Box::new(source),
            })
    }

    /// The size of the pooling allocator, or `None` when instances are allocated
    /// on demand (see [`RuntimeBuilder::instance_pool`]).
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().instance_pool(0).build()?;
    /// assert_eq!(rt.instance_pool(), None);
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn instance_pool(&self) -> Option<u32> {
        self.inner
            .env
            .engine
            .get_pooling_config()
            .map(|c| c.get_total_component_instances())
    }
}
