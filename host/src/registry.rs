//! Named plugins: load, unload and reload while calls are in flight.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::plugin::{Plugin, PluginOptions};
use crate::runtime::Runtime;

/// The plugins loaded from a manifest, by name. Cheap to clone.
///
/// ```no_run
/// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
/// let plugins = rt.load_manifest("wasp.toml").await?;
/// let upper = plugins.get("upper")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Plugins {
    map: Arc<RwLock<BTreeMap<String, Plugin>>>,
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Plugins {
    /// An empty set.
    ///
    /// ```
    /// assert!(wasp_host::Plugins::new().names().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set that can [`load`](Plugins::load) and
    /// [`reload`](Plugins::reload) plugins on `runtime` (what
    /// [`Runtime::load_manifest`] returns).
    ///
    /// ```
    /// let rt = wasp_host::Runtime::builder().build()?;
    /// let plugins = wasp_host::Plugins::with_runtime(rt);
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn with_runtime(runtime: Runtime) -> Self {
        Plugins {
            map: Arc::default(),
            runtime: Some(runtime),
        }
    }

    fn runtime(&self) -> Result<&Runtime> {
        self.runtime.as_ref().ok_or_else(|| {
            Error::Runtime(
                "this plugin set has no runtime; make it with Plugins::with_runtime".into(),
            )
        })
    }

    /// Loads a plugin file under `name` while the others keep serving; a plugin
    /// already loaded under that name is replaced as by [`Plugins::reload`].
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
        let new = self.runtime()?.load_file_as(name, path, options).await?;
        self.swap(new.clone());
        Ok(new)
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
            return Err(Error::load(
                name,
                "it was loaded from bytes, so there is no file to reload; load the new bytes instead",
            ));
        };
        let new = self
            .runtime()?
            .load_file_as(name, &path, old.options().clone())
            .await?;
        self.swap(new.clone());
        tracing::info!(target: "wasp::registry", plugin = name, version = %new.info().version, "reloaded");
        Ok(new)
    }

    /// Puts `new` in place and retires what it replaced.
    fn swap(&self, new: Plugin) {
        if let Some(old) = self.insert(new) {
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
    ///
    /// ```no_run
    /// # fn f(set: wasp_host::Plugins, p: wasp_host::Plugin) { set.insert(p); }
    /// ```
    pub fn insert(&self, plugin: Plugin) -> Option<Plugin> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.insert(plugin.name().to_string(), plugin)
    }

    /// The plugin named `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchPlugin`] listing the loaded names.
    ///
    /// ```
    /// let err = wasp_host::Plugins::new().get("x").unwrap_err();
    /// assert!(err.to_string().contains("no plugin named 'x'"));
    /// ```
    pub fn get(&self, name: &str) -> Result<Plugin> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).cloned().ok_or_else(|| Error::NoSuchPlugin {
            name: name.to_string(),
            loaded: if map.is_empty() {
                "none".into()
            } else {
                map.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        })
    }

    /// Removes a plugin: new calls get [`Error::Unloaded`], calls in flight finish
    /// (each bounded by the timeout), then every instance gets `shutdown` (0.2.0
    /// plugins, under the plugin's limits) and is freed.
    ///
    /// ```
    /// # async fn f() {
    /// assert!(wasp_host::Plugins::new().unload("x").await.is_none());
    /// # }
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
    /// assert!(wasp_host::Plugins::new().names().is_empty());
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
