//! Named plugins: load, unload and reload while calls are in flight.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sha2::{Digest, Sha256};

use crate::capability::{Resolved, check_nesting};
use crate::error::{Error, GrantError, LoadError, Result};
use crate::loader::{self, Inspection};
use crate::manifest::{Manifest, PluginEntry};
use crate::plugin::{Decide, Plugin, Shadow};
use crate::rollout::{RolloutOutcome, RolloutReport};
use crate::runtime::Runtime;
use crate::spec::grants::FileGrant;
use crate::spec::keys::TrustedKey;
use crate::spec::options::{PluginOptions, Rollout};

/// A set of plugins by name, on one runtime: what [`Runtime::load_manifest`]
/// returns, or [`Runtime::plugins`] makes empty. Cheap to clone; clones share the
/// set.
///
/// ```no_run
/// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
/// let plugins = rt.load_manifest("wasp.toml").await?;
/// let upper = plugins.get("upper")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Plugins {
    shared: Arc<Shared>,
}

struct Shared {
    map: RwLock<BTreeMap<String, Plugin>>,
    /// Swaps per name: a counter that outlives the versions it counts.
    reloads: Mutex<BTreeMap<String, u64>>,
    rollouts: Rollouts,
    runtime: Runtime,
}

/// What the set remembers of its rollouts.
struct Rollouts {
    /// Per name, the SHA-256 of the version rejected last and why.
    rejected: Mutex<BTreeMap<String, (String, String)>>,
    /// Decisions by outcome: promoted, rejected, abandoned.
    decided: [AtomicU64; 3],
    /// Every decision, to whoever listens.
    news: tokio::sync::broadcast::Sender<RolloutReport>,
}

/// How [`Plugins::reload_with`] brings in the new version.
///
/// ```
/// use wasp_host::{ReloadOptions, Rollout};
/// let o = ReloadOptions::default().rollout(Rollout::shadow(100).max_diff(0.01));
/// assert_eq!(o.rollout.map(|r| r.shadow_events), Some(100));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadOptions {
    /// The shadow policy of this reload; `None`: the plugin's own
    /// ([`PluginOptions::rollout`], the manifest's `rollout`).
    pub rollout: Option<Rollout>,
}

impl ReloadOptions {
    /// Sets [`ReloadOptions::rollout`].
    pub fn rollout(mut self, rollout: Rollout) -> Self {
        self.rollout = Some(rollout);
        self
    }
}

/// What a reload did: the new version serves now, or runs in shadow until its
/// rollout is decided.
///
/// ```no_run
/// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
/// let reload = plugins.reload("upper").await?;
/// if let Some(report) = reload.decided().await {
///     println!("rollout: {report}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reload {
    new: Plugin,
    decided: Option<tokio::sync::watch::Receiver<Option<RolloutReport>>>,
}

impl Reload {
    /// The new version (serving, or in shadow).
    pub fn plugin(&self) -> &Plugin {
        &self.new
    }

    /// Whether the new version runs in shadow (its rollout is not decided yet,
    /// or was decided since).
    pub fn in_shadow(&self) -> bool {
        self.decided.is_some()
    }

    /// Waits for the rollout's decision; `None` at once when the new version
    /// took over without a shadow.
    pub async fn decided(&self) -> Option<RolloutReport> {
        let mut rx = self.decided.clone()?;
        let report = rx.wait_for(Option::is_some).await.ok()?;
        report.clone()
    }
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Plugins {
    pub(crate) fn new(runtime: Runtime) -> Self {
        Plugins {
            shared: Arc::new(Shared {
                map: RwLock::default(),
                reloads: Mutex::default(),
                rollouts: Rollouts {
                    rejected: Mutex::default(),
                    decided: Default::default(),
                    news: tokio::sync::broadcast::channel(64).0,
                },
                runtime,
            }),
        }
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Plugin>> {
        self.shared.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn map_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Plugin>> {
        self.shared.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads a plugin file under `name` while the others keep serving; a plugin
    /// already loaded under that name is replaced as by [`Plugins::reload`]. Its
    /// file grants must not lie inside another loaded plugin's read-write grant,
    /// nor contain one.
    ///
    /// # Errors
    /// As [`Runtime::load_file_as`]; the set is unchanged then.
    ///
    /// ```no_run
    /// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
    /// plugins.load("upper", "plugins/upper.wasm", Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn load(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: PluginOptions,
    ) -> Result<Plugin> {
        self.check_nesting_with(name, &options.grants.files)?;
        let new = self
            .shared
            .runtime
            .load_file_as(name, path, options)
            .await?;
        self.swap(new.clone());
        Ok(new)
    }

    /// The nesting rule over this set with `name`'s grants replaced by `files`.
    fn check_nesting_with(&self, name: &str, files: &[FileGrant]) -> Result<()> {
        let map = self.map();
        let mut all: Vec<(&str, &[FileGrant])> = map
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .map(|(n, p)| (n.as_str(), p.options().grants.files.as_slice()))
            .collect();
        all.push((name, files));
        check_nesting(&all).map_err(|b| {
            let (victim, e) = *b;
            Error::load(&victim, e)
        })
    }

    /// Reloads a plugin from its file with its options (and its rollout
    /// policy): [`Plugins::reload_with`] with the default [`ReloadOptions`].
    ///
    /// # Errors
    /// As [`Plugins::reload_with`].
    ///
    /// ```no_run
    /// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
    /// let reload = plugins.reload("upper").await?;
    /// println!("now serving {}", reload.plugin().info().version);
    /// # Ok(()) }
    /// ```
    pub async fn reload(&self, name: &str) -> Result<Reload> {
        self.reload_with(name, ReloadOptions::default()).await
    }

    /// Reloads a plugin from its file with its options: the new version is built
    /// and checked first; if that fails, the old one keeps serving and the error
    /// is returned. Then:
    ///
    /// - **without a shadow** (`shadow_events = 0`, or the old version is
    ///   quarantined, so there is nothing to compare with): the swap is atomic:
    ///   new calls go to the new version, calls in flight finish on the old one,
    ///   which is then shut down and freed (in the background). A reload also
    ///   lifts a quarantine.
    /// - **in shadow**: the next `shadow_events` events go to both versions
    ///   (the new one first, its kv writes kept in a scratch namespace that the
    ///   old one never sees); the old version's results are returned. The new
    ///   version is promoted (swapped in, as above) after the last shadowed event,
    ///   or rejected (shut down; the old one keeps serving, and the same file is
    ///   refused until it changes) as soon as it faulted more than `max_faults`
    ///   times or differed on more than `max_diff` of the shadowed events. A
    ///   reload during a rollout abandons it. [`Reload::decided`] and
    ///   [`Plugins::rollouts`] give the report.
    ///
    /// # Errors
    /// [`Error::NoSuchPlugin`], a plugin loaded from bytes (no file to reload),
    /// [`LoadError::RolloutRejected`] for the file a rollout rejected, or the new
    /// version's load error.
    ///
    /// ```no_run
    /// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
    /// use wasp_host::{ReloadOptions, Rollout};
    /// let policy = Rollout::shadow(1000).max_diff(0.01);
    /// let reload = plugins.reload_with("upper", ReloadOptions::default().rollout(policy)).await?;
    /// let report = reload.decided().await;
    /// # Ok(()) }
    /// ```
    pub async fn reload_with(&self, name: &str, options: ReloadOptions) -> Result<Reload> {
        let old = self.get(name)?;
        let Some(path) = old.source().map(Path::to_path_buf) else {
            return Err(Error::load(name, LoadError::NoSource));
        };
        self.check_nesting_with(name, &old.options().grants.files)?;
        let bytes = crate::runtime::read(&path).await?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let rejected = self.rollouts_rejected().get(name).cloned();
        if let Some((sha, reason)) = rejected
            && sha == sha256
        {
            return Err(Error::load(
                name,
                LoadError::RolloutRejected {
                    sha256: sha,
                    reason,
                },
            ));
        }
        let policy = options.rollout.unwrap_or(old.options().rollout);
        let runtime = &self.shared.runtime;
        if policy.is_immediate() || old.stats().quarantined {
            let new = runtime
                .start(name, bytes, old.options().clone(), Some(path), None)
                .await?;
            self.swap(new.clone());
            tracing::info!(target: "wasp::registry", plugin = name, version = %new.info().version, "reloaded");
            return Ok(Reload { new, decided: None });
        }
        let scratch = old
            .options()
            .grants
            .kv
            .then(|| Arc::new(crate::kv::Scratch::default()));
        let new = runtime
            .start(
                name,
                bytes,
                old.options().clone(),
                Some(path),
                scratch.clone(),
            )
            .await?;
        let (tx, rx) = tokio::sync::watch::channel(None);
        let shared = Arc::downgrade(&self.shared);
        let decide: Decide = Box::new(move |old, new, report| {
            if let Some(s) = &scratch {
                match report.outcome {
                    RolloutOutcome::Promoted => s.promote(),
                    _ => s.discard(),
                }
            }
            if let Some(shared) = shared.upgrade() {
                Plugins { shared }.decided(old, new, &report);
            } else {
                retire(new.clone());
            }
            tx.send_replace(Some(report));
        });
        old.start_shadow(Arc::new(Shadow::new(new.clone(), policy, decide)));
        tracing::info!(
            target: "wasp::registry",
            plugin = name,
            sha256 = %new.sha256(),
            events = policy.shadow_events,
            "a new version runs in shadow"
        );
        Ok(Reload {
            new,
            decided: Some(rx),
        })
    }

    fn rollouts_rejected(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, String)>> {
        self.shared
            .rollouts
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Acts on a rollout's decision about `new`, in shadow of `old`.
    fn decided(&self, old: &Plugin, new: &Plugin, report: &RolloutReport) {
        let name = old.name();
        match report.outcome {
            RolloutOutcome::Promoted => {
                let replaced = {
                    let mut map = self.map_mut();
                    match map.get(name) {
                        Some(serving) if serving == old => {
                            map.insert(name.to_string(), new.clone())
                        }
                        _ => None,
                    }
                };
                match replaced {
                    Some(old) => {
                        self.count_swap(name);
                        retire(old);
                        tracing::info!(target: "wasp::rollout", plugin = name, "{report}");
                    }
                    // The old version was replaced or unloaded meanwhile.
                    None => retire(new.clone()),
                }
            }
            RolloutOutcome::Rejected => {
                self.rollouts_rejected().insert(
                    name.to_string(),
                    (report.sha256.clone(), report.to_string()),
                );
                retire(new.clone());
                tracing::warn!(target: "wasp::rollout", plugin = name, "{report}");
            }
            RolloutOutcome::Abandoned => {
                retire(new.clone());
                tracing::info!(target: "wasp::rollout", plugin = name, "{report}");
            }
        }
        let i = match report.outcome {
            RolloutOutcome::Promoted => 0,
            RolloutOutcome::Rejected => 1,
            RolloutOutcome::Abandoned => 2,
        };
        self.shared.rollouts.decided[i].fetch_add(1, Ordering::Relaxed);
        // No receiver is not an error.
        let _ = self.shared.rollouts.news.send(report.clone());
    }

    /// Every rollout decision made from now on (a receiver that falls more than
    /// 64 decisions behind skips the oldest).
    ///
    /// ```
    /// # async fn f() -> wasp_host::Result<()> {
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// let mut decisions = rt.plugins().rollouts();
    /// assert!(decisions.try_recv().is_err(), "nothing decided yet");
    /// # Ok(()) }
    /// ```
    pub fn rollouts(&self) -> tokio::sync::broadcast::Receiver<RolloutReport> {
        self.shared.rollouts.news.subscribe()
    }

    /// Rollouts decided with `outcome` since this set was made.
    ///
    /// ```
    /// use wasp_host::RolloutOutcome;
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// assert_eq!(rt.plugins().rollouts_total(RolloutOutcome::Rejected), 0);
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn rollouts_total(&self, outcome: RolloutOutcome) -> u64 {
        let i = match outcome {
            RolloutOutcome::Promoted => 0,
            RolloutOutcome::Rejected => 1,
            RolloutOutcome::Abandoned => 2,
        };
        self.shared.rollouts.decided[i].load(Ordering::Relaxed)
    }

    /// Times the plugin named `name` was replaced by a new version (a reload, or
    /// a load under a name in use) since this set was made.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// assert_eq!(rt.plugins().reloads("upper"), 0);
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn reloads(&self, name: &str) -> u64 {
        let map = self
            .shared
            .reloads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.get(name).copied().unwrap_or(0)
    }

    /// Puts `new` in place and retires what it replaced.
    fn swap(&self, new: Plugin) {
        let name = new.name().to_string();
        if let Some(old) = self.insert(new) {
            self.count_swap(&name);
            retire(old);
        }
    }

    /// Counts a new version in place of another, which also ends any memory of
    /// a rejected version.
    fn count_swap(&self, name: &str) {
        *self
            .shared
            .reloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_default() += 1;
        self.rollouts_rejected().remove(name);
    }

    /// Adds (or replaces) a plugin under its name; returns the one it replaced.
    pub(crate) fn insert(&self, plugin: Plugin) -> Option<Plugin> {
        self.map_mut().insert(plugin.name().to_string(), plugin)
    }

    /// The plugin named `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchPlugin`] listing the loaded names.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// let err = rt.plugins().get("x").unwrap_err();
    /// assert!(err.to_string().contains("no plugin named 'x'"));
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Result<Plugin> {
        let map = self.map();
        map.get(name).cloned().ok_or_else(|| Error::NoSuchPlugin {
            name: name.to_string(),
            loaded: map.keys().cloned().collect(),
        })
    }

    /// Removes a plugin: new calls get [`Error::Unloaded`], calls in flight finish
    /// (each bounded by the timeout), then every instance gets `shutdown` (0.2.0
    /// plugins, under the plugin's limits) and is freed.
    ///
    /// ```
    /// # async fn f() -> wasp_host::Result<()> {
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// assert!(rt.plugins().unload("x").await.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn unload(&self, name: &str) -> Option<Plugin> {
        let removed = self.map_mut().remove(name);
        if let Some(p) = &removed {
            p.close().await;
        }
        removed
    }

    /// The loaded names, sorted.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// assert!(rt.plugins().names().is_empty());
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}

/// Shuts a version down once its calls in flight are done, in the background
/// (at once when there is no tokio runtime to wait on).
fn retire(old: Plugin) {
    let retire = async move { old.close().await };
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(retire);
        }
        Err(_) => drop(retire),
    }
}

/// Loading plugin sets: a manifest's, or an empty one.
impl Runtime {
    /// An empty set of plugins on this runtime, to [`Plugins::load`] into.
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// assert!(rt.plugins().names().is_empty());
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn plugins(&self) -> Plugins {
        Plugins::new(self.clone())
    }

    /// Reads a manifest and loads every plugin in it.
    ///
    /// # Errors
    /// [`Error::Manifest`] for an invalid manifest (or a missing file, a granted
    /// directory that does not exist, a grant nested in another plugin's
    /// read-write grant: each at its file, line and key), otherwise the first
    /// plugin that fails to load.
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

    /// Loads every plugin of a parsed manifest: checks every file and grant of
    /// every plugin first, then loads them one by one (`init` included).
    ///
    /// # Errors
    /// As [`Runtime::load_manifest`].
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
        let files = self.verify(manifest).await?;
        let plugins = self.plugins();
        for ((name, entry), (bytes, options)) in manifest.plugins().zip(files) {
            let plugin = self
                .start(name, bytes, options, Some(entry.path().to_path_buf()), None)
                .await?;
            plugins.insert(plugin);
        }
        Ok(plugins)
    }

    /// Checks a manifest the way [`Runtime::load`] does — files, grants, bytes,
    /// versions, imports, `info` — without running any plugin's `init`. What
    /// `wasp check` does. Returns each plugin's [`Inspection`], in name order.
    ///
    /// # Errors
    /// As [`Runtime::load_manifest`], but `init` never runs.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
    /// for (name, i) in rt.check(&m).await? {
    ///     println!("{name}: {:?}", i.info.map(|i| i.functions));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, manifest: &Manifest) -> Result<Vec<(String, Inspection)>> {
        let files = self.verify(manifest).await?;
        let mut out = Vec::new();
        for ((name, entry), (bytes, options)) in manifest.plugins().zip(files) {
            let file = self
                .file(bytes, Some(entry.path().to_path_buf()), &options)
                .await?;
            let inspection = loader::inspect(&self.inner.env, name, file, &options).await?;
            if let Some(problem) = inspection.problem {
                return Err(problem);
            }
            out.push((name.to_string(), inspection));
        }
        Ok(out)
    }

    /// Loads one plugin of a manifest, as [`Runtime::load`] would (its file,
    /// grants and signature checked the same way), without the others: what
    /// `wasp call -m` does.
    ///
    /// # Errors
    /// [`Error::NoSuchPlugin`] when the manifest declares no `name`, else as
    /// [`Runtime::load_manifest`].
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
    /// let upper = rt.load_entry(&m, "upper").await?;
    /// # Ok(()) }
    /// ```
    pub async fn load_entry(&self, manifest: &Manifest, name: &str) -> Result<Plugin> {
        let entry = manifest.plugin(name).ok_or_else(|| Error::NoSuchPlugin {
            name: name.to_string(),
            loaded: manifest.plugins().map(|(n, _)| n.to_string()).collect(),
        })?;
        let (bytes, options) = self.entry(manifest, entry).await?;
        self.start(name, bytes, options, Some(entry.path().to_path_buf()), None)
            .await
    }

    /// One entry's file read, grants resolved and key files read: its bytes and
    /// the options it loads with. Errors point at the manifest's line and key.
    async fn entry(
        &self,
        manifest: &Manifest,
        entry: &PluginEntry,
    ) -> Result<(Vec<u8>, PluginOptions)> {
        let bytes = tokio::fs::read(entry.path()).await.map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                format!("{} does not exist", entry.path().display())
            } else {
                format!("{}: {e}", entry.path().display())
            };
            manifest.error_at_path(entry, message)
        })?;
        Resolved::new(&entry.options().grants, &self.inner.env.host_fns).map_err(|e| {
            let message = match &e {
                GrantError::DirUnavailable { path, source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    format!("{} does not exist", path.display())
                }
                _ => e.to_string(),
            };
            manifest.error_at_grant(entry, e.file_index(), message)
        })?;
        let mut options = entry.options().clone();
        options.signed_by = signed_by(manifest, entry).await?;
        Ok((bytes, options))
    }

    /// What must hold of a manifest before any of its plugins is prepared: every
    /// file readable, every grant resolvable, no grant nested in another's
    /// read-write grant, every key file a public key. Errors point at the
    /// manifest's line and key. Returns the plugins' bytes and options (with the
    /// keys that must have signed them), in name order.
    async fn verify(&self, manifest: &Manifest) -> Result<Vec<(Vec<u8>, PluginOptions)>> {
        let mut files = Vec::new();
        for (_, entry) in manifest.plugins() {
            files.push(self.entry(manifest, entry).await?);
        }
        let all: Vec<(&str, &[FileGrant])> = manifest
            .plugins()
            .map(|(n, e)| (n, e.options().grants.files.as_slice()))
            .collect();
        if let Err(b) = check_nesting(&all)
            && let (victim, e) = *b
            && let Some(entry) = manifest.plugin(&victim)
        {
            return Err(manifest
                .error_at_grant(entry, e.file_index(), e.to_string())
                .into());
        }
        Ok(files)
    }
}

/// The keys `entry` must be signed by: its `signed-by`, else `[runtime]
/// trusted-keys`, else none (an empty list when `require-signatures` is on, which
/// refuses it). A key file that cannot be read or parsed is an error at its line.
async fn signed_by(manifest: &Manifest, entry: &PluginEntry) -> Result<Option<Vec<TrustedKey>>> {
    let (files, key) = match entry.signed_by_files() {
        Some(files) => (files, format!("plugins.{}.signed-by", entry.name())),
        None if !manifest.trusted_key_files().is_empty() => (
            manifest.trusted_key_files(),
            "runtime.trusted-keys".to_string(),
        ),
        None if manifest.require_signatures() => return Ok(Some(Vec::new())),
        None => return Ok(None),
    };
    let mut keys = Vec::with_capacity(files.len());
    for f in files {
        let text = tokio::fs::read_to_string(&f.path).await.map_err(|e| {
            manifest.error_at_key(
                f.at,
                key.clone(),
                format!("cannot read the public key {}: {e}", f.path.display()),
            )
        })?;
        let k = TrustedKey::from_openssh(&text).map_err(|e| {
            manifest.error_at_key(f.at, key.clone(), format!("{}: {e}", f.path.display()))
        })?;
        keys.push(k);
    }
    Ok(Some(keys))
}
