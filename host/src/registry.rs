//! Named plugins: load, unload and reload while calls are in flight.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use crate::capability::{Resolved, check_nesting};
use crate::error::{Error, GrantError, LoadError, Result};
use crate::loader::{self, Inspection};
use crate::manifest::{Manifest, PluginEntry};
use crate::plugin::Plugin;
use crate::runtime::Runtime;
use crate::spec::grants::FileGrant;
use crate::spec::keys::TrustedKey;
use crate::spec::options::PluginOptions;

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
    map: Arc<RwLock<BTreeMap<String, Plugin>>>,
    /// Swaps per name: a counter that outlives the versions it counts.
    reloads: Arc<Mutex<BTreeMap<String, u64>>>,
    runtime: Runtime,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Plugins {
    pub(crate) fn new(runtime: Runtime) -> Self {
        Plugins {
            map: Arc::default(),
            reloads: Arc::default(),
            runtime,
        }
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
        let new = self.runtime.load_file_as(name, path, options).await?;
        self.swap(new.clone());
        Ok(new)
    }

    /// The nesting rule over this set with `name`'s grants replaced by `files`.
    fn check_nesting_with(&self, name: &str, files: &[FileGrant]) -> Result<()> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
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

    /// Reloads a plugin from its file with its options: the new version is built
    /// and checked first; if that fails, the old one keeps serving and the error
    /// is returned. Otherwise the swap is atomic: new calls go to the new version,
    /// calls in flight finish on the old one, which is then shut down and freed
    /// (in the background). A reload also lifts a quarantine.
    ///
    /// # Errors
    /// [`Error::NoSuchPlugin`], a plugin loaded from bytes (no file to reload),
    /// or the new version's load error.
    ///
    /// ```no_run
    /// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
    /// let new = plugins.reload("upper").await?;
    /// println!("now serving {} {}", new.info().name, new.info().version);
    /// # Ok(()) }
    /// ```
    pub async fn reload(&self, name: &str) -> Result<Plugin> {
        let old = self.get(name)?;
        let Some(path) = old.source().map(Path::to_path_buf) else {
            return Err(Error::load(name, LoadError::NoSource));
        };
        self.check_nesting_with(name, &old.options().grants.files)?;
        let new = self
            .runtime
            .load_file_as(name, &path, old.options().clone())
            .await?;
        self.swap(new.clone());
        tracing::info!(target: "wasp::registry", plugin = name, version = %new.info().version, "reloaded");
        Ok(new)
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
        let map = self.reloads.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).copied().unwrap_or(0)
    }

    /// Puts `new` in place and retires what it replaced.
    fn swap(&self, new: Plugin) {
        let name = new.name().to_string();
        if let Some(old) = self.insert(new) {
            *self
                .reloads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(name)
                .or_default() += 1;
            // Its calls in flight finish first; nothing waits for that here.
            let retire = async move { old.close().await };
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(retire);
                }
                Err(_) => drop(retire),
            }
        }
    }

    /// Adds (or replaces) a plugin under its name; returns the one it replaced.
    pub(crate) fn insert(&self, plugin: Plugin) -> Option<Plugin> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.insert(plugin.name().to_string(), plugin)
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
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
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
        let removed = self
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
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
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
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
                .start(name, bytes, options, Some(entry.path().to_path_buf()))
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
        self.start(name, bytes, options, Some(entry.path().to_path_buf()))
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
