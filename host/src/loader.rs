//! The one load path: bytes → verified (sha256 pin) → core module or component →
//! adapted → compiled (or taken from the cache) → **prepared**: linked against
//! the host's imports, grants checked, API version known, `info` read. Nothing of
//! the plugin's own code runs but `info` (within its limits); `init` never.
//!
//! Everything that can be wrong with a plugin is found here, before it serves a
//! call; a call never finds a load problem. Loading (`crate::Runtime`) is
//! `prepare` + `init` on the instance `info` ran on.

mod adapt;
pub(crate) mod cache;
mod detect;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use adapt::componentize;
pub use detect::{BinaryKind, detect};

use crate::capability::{HostFns, Resolved, check_nesting};
use crate::error::{Error, InfoProblem, LoadError, Result};
use crate::instance::{Instance, InstanceSpec, TapeSpec};
use crate::kv::KvStore;
use crate::kv::Scratch;
use crate::metrics::Metrics;
use crate::spec::api::ApiVersion;
use crate::spec::info::PluginInfo;
use crate::spec::keys::TrustedKey;
use crate::spec::options::PluginOptions;
use crate::state::{KvAccess, SharedState, StoreState};
use crate::version::{ComponentShape, Pre};

/// `kv-quota` of a plugin granted `kv = true` without one: 10 MiB.
pub const DEFAULT_KV_QUOTA: u64 = 10 << 20;

/// What the runtime gives every load: the engine, the linker of every supported
/// version, the registered host functions, the compile cache and the kv store.
pub(crate) struct Env {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) host_fns: HostFns,
    pub(crate) cache: Option<cache::Cache>,
    pub(crate) kv: KvStore,
    pub(crate) code: SharedCode,
    pub(crate) trust: Trust,
    /// How often the epoch ticks (a profile's sampling interval).
    pub(crate) epoch_tick: std::time::Duration,
    /// Every plugin is profiled ([`crate::RuntimeBuilder::profile_all`]).
    pub(crate) profile_all: bool,
    /// Every plugin is recorded ([`crate::RuntimeBuilder::record_all`]).
    pub(crate) record_all: Option<crate::recording::RecordWindow>,
}

/// Who may sign the plugins a runtime loads: its default key list, and whether
/// a plugin without a key list (its own [`PluginOptions::signed_by`] or this one)
/// is refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    pub(crate) keys: Vec<TrustedKey>,
    pub(crate) require: bool,
}

impl Trust {
    /// The keys `options` must be signed by, or `None` when any file loads.
    pub(crate) fn keys_for<'a>(&'a self, options: &'a PluginOptions) -> Option<&'a [TrustedKey]> {
        match &options.signed_by {
            Some(keys) => Some(keys),
            None if !self.keys.is_empty() => Some(&self.keys),
            // Required but none apply: an empty list, which refuses every file.
            None if self.require => Some(&[]),
            None => None,
        }
    }
}

/// A plugin file to load: its bytes, where they came from, the keys one of
/// which must have signed it (see [`Trust::keys_for`]), and the detached
/// signature beside it (`PATH.sig`), if any.
pub(crate) struct File {
    pub(crate) bytes: Vec<u8>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) keys: Option<Vec<TrustedKey>>,
    pub(crate) detached: Option<Vec<u8>>,
}

/// Compiled code by the sha256 of its file, while some plugin loaded from those
/// bytes is alive: a thousand plugins of one file share one copy of machine code
/// (memory, and the CPU's instruction caches), and loading the same file again
/// costs no compile and no deserialize.
#[derive(Clone, Default)]
pub(crate) struct SharedCode(Arc<Mutex<HashMap<[u8; 32], Weak<Code>>>>);

/// One compiled file, held by every plugin loaded from it.
pub(crate) struct Code {
    component: Component,
    shape: ComponentShape,
    adapted: bool,
}

impl SharedCode {
    fn get(&self, sha256: &[u8; 32]) -> Option<Arc<Code>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(sha256).and_then(Weak::upgrade)
    }

    fn put(&self, sha256: [u8; 32], code: &Arc<Code>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(sha256, Arc::downgrade(code));
    }
}

/// What loading learned about a plugin file, without running its `init`: what
/// `wasp inspect` and `wasp check` show.
///
/// ```no_run
/// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
/// let bytes = std::fs::read("upper.wasm").unwrap();
/// let i = rt.inspect("upper", bytes).await?;
/// println!("wasp:plugin@{:?}, {:?}", i.api_version, i.info.map(|i| i.functions));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Inspection {
    /// A component, or a core module the host adapts.
    pub kind: BinaryKind,
    /// Size of the component (after adapting a core module), in bytes.
    pub component_size: usize,
    /// SHA-256 of the file, in hex (what a manifest `sha256` pin holds).
    pub sha256: String,
    /// Its imports, exports and SDK version.
    pub shape: ComponentShape,
    /// Its API version, when this host supports it.
    pub api_version: Option<ApiVersion>,
    /// What `info()` returned, when the plugin prepared.
    pub info: Option<PluginInfo>,
    /// Why it did not prepare (it would not load).
    pub problem: Option<Error>,
}

/// A plugin file, checked and compiled.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) shape: ComponentShape,
    pub(crate) version: ApiVersion,
    pub(crate) sha256: [u8; 32],
    pub(crate) adapted: bool,
    /// Whether the compiled code came from the disk cache.
    pub(crate) cached: bool,
    /// The shared code; the plugin holds it so that later loads find it.
    pub(crate) code: Arc<Code>,
}

/// A plugin ready to be started: linked, checked, `info` read on `first`, whose
/// `init` has not run.
pub(crate) struct Prepared {
    pub(crate) spec: Arc<InstanceSpec>,
    pub(crate) info: PluginInfo,
    pub(crate) compiled: Compiled,
    pub(crate) first: Instance,
}

/// A decoded file: the component's bytes (adapted from a core module if need be)
/// and its shape.
pub(crate) struct Decoded {
    pub(crate) kind: BinaryKind,
    pub(crate) component: Vec<u8>,
    pub(crate) shape: ComponentShape,
}

/// Detects and adapts, and reads the component's shape. No compiling.
pub(crate) fn decode(plugin: &str, bytes: &[u8]) -> Result<Decoded> {
    guard_panics(plugin, || {
        let kind = detect(bytes);
        let component = match &kind {
            BinaryKind::Component => bytes.to_vec(),
            BinaryKind::CoreModule => componentize(bytes).map_err(|e| Error::load(plugin, e))?,
            BinaryKind::Other(why) => return Err(Error::load(plugin, why.clone())),
        };
        let shape = ComponentShape::read(&component)
            .map_err(|source| Error::load(plugin, LoadError::InvalidComponent { source }))?;
        Ok(Decoded {
            kind,
            component,
            shape,
        })
    })
}

/// Defence in depth: the libraries that decode a file must not panic on hostile
/// input, but if one does, it is this plugin's load error, not the host's end.
fn guard_panics<T>(plugin: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown".into());
        Err(Error::load(plugin, LoadError::DecoderPanicked { message }))
    })
}

/// Checks, adapts and compiles a plugin's bytes (or takes them from the cache).
/// CPU-heavy: runs on tokio's blocking pool.
pub(crate) async fn compile(
    env: &Env,
    plugin: &str,
    file: File,
    options: &PluginOptions,
) -> Result<Compiled> {
    let engine = env.engine.clone();
    let cache = env.cache.clone();
    let code = env.code.clone();
    let name = plugin.to_string();
    let pin = options.sha256;
    tokio::task::spawn_blocking(move || {
        guard_panics(&name, || {
            compile_blocking(&engine, cache.as_ref(), &code, &name, &file, pin)
        })
    })
    .await
    .map_err(|source| Error::Task {
        what: "compiling a plugin",
        source,
    })?
}

fn compile_blocking(
    engine: &Engine,
    cache: Option<&cache::Cache>,
    shared: &SharedCode,
    plugin: &str,
    file: &File,
    pin: Option<[u8; 32]>,
) -> Result<Compiled> {
    let bytes = &file.bytes;
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    if let Some(expected) = pin
        && expected != sha256
    {
        return Err(Error::load(
            plugin,
            LoadError::PinMismatch {
                actual: sha256,
                expected,
            },
        ));
    }
    // Before the shared code and the cache: compiled code is used only for bytes
    // verified on this load.
    if let Some(keys) = &file.keys {
        let signers =
            crate::signing::verify(bytes, file.detached.as_deref(), keys).map_err(|problem| {
                Error::load(
                    plugin,
                    LoadError::Signature {
                        file: file.path.clone(),
                        problem,
                    },
                )
            })?;
        let signed_by: Vec<String> = signers.iter().map(TrustedKey::fingerprint).collect();
        tracing::debug!(target: "wasp::load", plugin, signed_by = %signed_by.join(", "), "signature verified");
    }
    if let Some(code) = shared.get(&sha256) {
        let version = code.shape.api_version(plugin, code.adapted)?;
        tracing::debug!(target: "wasp::cache", plugin, "compiled code shared with a loaded plugin");
        return Ok(Compiled {
            component: code.component.clone(),
            shape: code.shape.clone(),
            version,
            sha256,
            adapted: code.adapted,
            cached: false,
            code,
        });
    }
    if let Some(hit) = cache.and_then(|c| c.get(engine, &sha256)) {
        let version = hit.shape.api_version(plugin, hit.adapted)?;
        tracing::debug!(target: "wasp::cache", plugin, "compiled code from the cache");
        let code = Arc::new(Code {
            component: hit.component.clone(),
            shape: hit.shape.clone(),
            adapted: hit.adapted,
        });
        shared.put(sha256, &code);
        return Ok(Compiled {
            component: hit.component,
            shape: hit.shape,
            version,
            sha256,
            adapted: hit.adapted,
            cached: true,
            code,
        });
    }
    let decoded = decode(plugin, bytes)?;
    let adapted = decoded.kind == BinaryKind::CoreModule;
    let version = decoded.shape.api_version(plugin, adapted)?;
    let component = Component::from_binary(engine, &decoded.component)
        .map_err(|source| Error::load(plugin, LoadError::Compile { source }))?;
    if let Some(c) = cache {
        c.put(&sha256, &component, &decoded.shape, adapted);
    }
    let code = Arc::new(Code {
        component: component.clone(),
        shape: decoded.shape.clone(),
        adapted,
    });
    shared.put(sha256, &code);
    Ok(Compiled {
        component,
        shape: decoded.shape,
        version,
        sha256,
        adapted,
        cached: false,
        code,
    })
}

/// Checks the options for contradictions a builder cannot catch.
fn check_options(plugin: &str, options: &PluginOptions) -> Result<()> {
    if options.max_instances == 0 {
        return Err(Error::load(
            plugin,
            LoadError::InvalidOption {
                key: "max-instances",
                problem: "must be at least 1",
            },
        ));
    }
    if options.limits.fuel == 0 {
        return Err(Error::load(
            plugin,
            LoadError::InvalidOption {
                key: "limits.fuel",
                problem: "must be more than 0",
            },
        ));
    }
    if options.limits.timeout.is_zero() {
        return Err(Error::load(
            plugin,
            LoadError::InvalidOption {
                key: "limits.timeout",
                problem: "must be more than zero",
            },
        ));
    }
    if !options.rollout.is_valid() {
        return Err(Error::load(
            plugin,
            LoadError::InvalidOption {
                key: "rollout.max-diff",
                problem: "must be a fraction from 0.0 to 1.0",
            },
        ));
    }
    Ok(())
}

/// The one way a plugin becomes ready: options, grants, bytes, link, `info`.
pub(crate) async fn prepare(
    env: &Env,
    name: &str,
    file: File,
    options: &PluginOptions,
    scratch: Option<Arc<Scratch>>,
) -> Result<Prepared> {
    check_options(name, options)?;
    let grants = Resolved::new(&options.grants, &env.host_fns).map_err(|e| Error::load(name, e))?;
    check_nesting(&[(name, &options.grants.files)]).map_err(|b| Error::load(name, b.1))?;
    let compiled = compile(env, name, file, options).await?;
    let instance_pre = env
        .linker
        .instantiate_pre(&compiled.component)
        .map_err(|source| Error::load(name, LoadError::Link { source }))?;
    let pre = Pre::new(compiled.version, instance_pre).map_err(|e| Error::load(name, e))?;
    let g = &grants.grants;
    let shared = Arc::new(SharedState {
        config: options.config.clone(),
        host_fns: env.host_fns.clone(),
        granted_host_fns: g.host_functions.clone(),
        kv: g.kv.then(|| KvAccess {
            store: env.kv.clone(),
            namespace: name.to_string(),
            quota: g.kv_quota.unwrap_or(DEFAULT_KV_QUOTA),
            scratch,
        }),
    });
    let profiler = if options.profile || env.profile_all {
        let p =
            crate::profile::Profiler::new(&env.engine, name, &compiled.component, env.epoch_tick)
                .map_err(|source| Error::load(name, LoadError::Profile { source }))?;
        Some(Arc::new(p))
    } else {
        None
    };
    let spec = Arc::new(InstanceSpec {
        name: Arc::from(name),
        engine: env.engine.clone(),
        profiler,
        pre,
        limits: options.limits.clone(),
        grants,
        shared,
        metrics: Arc::new(Metrics::new()),
        tape: match options.record.or(env.record_all) {
            Some(window) => TapeSpec::Record(window),
            None => TapeSpec::Off,
        },
    });
    let mut first = Instance::new(&spec).await?;
    let info = first.info(&spec).await?;
    check_info(&info).map_err(|p| Error::load(name, LoadError::InvalidInfo(p)))?;
    Ok(Prepared {
        spec,
        info,
        compiled,
        first,
    })
}

/// What `info()` must satisfy.
fn check_info(info: &PluginInfo) -> std::result::Result<(), InfoProblem> {
    if info.name.trim().is_empty() {
        return Err(InfoProblem::EmptyName);
    }
    if semver::Version::parse(&info.version).is_err() {
        return Err(InfoProblem::NotSemver {
            version: info.version.clone(),
        });
    }
    if info.functions.is_empty() {
        return Err(InfoProblem::NoFunctions);
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in &info.functions {
        if f.is_empty() {
            return Err(InfoProblem::EmptyFunction);
        }
        if !seen.insert(f) {
            return Err(InfoProblem::DuplicateFunction { name: f.clone() });
        }
    }
    Ok(())
}

/// What `wasp inspect` shows: the file decoded, then prepared with `options`.
pub(crate) async fn inspect(
    env: &Env,
    name: &str,
    file: File,
    options: &PluginOptions,
) -> Result<Inspection> {
    let sha256 = hex::encode(Sha256::digest(&file.bytes));
    let decoded = {
        let name = name.to_string();
        let bytes = file.bytes.clone();
        tokio::task::spawn_blocking(move || decode(&name, &bytes))
            .await
            .map_err(|source| Error::Task {
                what: "decoding a plugin",
                source,
            })??
    };
    let (api_version, info, problem) = match prepare(env, name, file, options, None).await {
        Ok(p) => (Some(p.compiled.version), Some(p.info), None),
        Err(e) => {
            let adapted = decoded.kind == BinaryKind::CoreModule;
            (decoded.shape.api_version(name, adapted).ok(), None, Some(e))
        }
    };
    Ok(Inspection {
        kind: decoded.kind,
        component_size: decoded.component.len(),
        sha256,
        shape: decoded.shape,
        api_version,
        info,
        problem,
    })
}
