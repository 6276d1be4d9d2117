//! Named plugins.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::plugin::Plugin;

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

    /// Removes a plugin: its idle instances get `shutdown` (0.2.0 plugins, under
    /// the plugin's timeout) and are dropped; calls in flight finish first, and
    /// their instances are dropped after them.
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
