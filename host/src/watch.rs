//! Hot reload: watch the plugins' files and reload a plugin when its file changes.

use std::collections::{BTreeMap, BTreeSet};

use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

use notify::{RecursiveMode, Watcher};

use crate::error::{Error, LoadError, Result};
use crate::registry::Plugins;

/// How long a file must stay quiet before it is reloaded: a copy or a build
/// writes in several steps.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Watching the files of a [`Plugins`] set; dropping it stops watching.
///
/// ```no_run
/// # async fn f(plugins: wasp_host::Plugins) -> wasp_host::Result<()> {
/// let _watch = plugins.watch()?; // keep it alive as long as reloading is wanted
/// # Ok(()) }
/// ```
pub struct Watch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Plugins {
    /// Watches every plugin's file and its detached signature `FILE.sig` (the
    /// plugins loaded from files, when this is called): when one changes and then stays unchanged for [`DEBOUNCE`], the
    /// plugin is [reloaded](Plugins::reload). A new file that does not load keeps
    /// the old version serving, and the reason is logged (target
    /// `wasp::registry`).
    ///
    /// # Errors
    /// When the operating system's file watcher cannot be set up.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let plugins = rt.load_manifest("wasp.toml").await?;
    /// let _watch = plugins.watch()?;
    /// # Ok(()) }
    /// ```
    pub fn watch(&self) -> Result<Watch> {
        let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
        for name in self.names() {
            if let Ok(p) = self.get(&name)
                && let Some(src) = p.source()
            {
                let abs = std::path::absolute(src).unwrap_or_else(|_| src.to_path_buf());
                // Its detached signature too: a new signature is a new version.
                files.insert(crate::signing::detached_path(&abs), name.clone());
                files.insert(abs, name);
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Event>();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                let _ = tx.send(ev);
            }
        })
        .map_err(|source| Error::Watch { path: None, source })?;
        // Watch the directories: an editor or `cp` may replace the file itself.
        let dirs: BTreeSet<PathBuf> = files
            .keys()
            .filter_map(|f| f.parent().map(PathBuf::from))
            .collect();
        for d in &dirs {
            watcher
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|source| Error::Watch {
                    path: Some(d.clone()),
                    source,
                })?;
        }
        let plugins = self.clone();
        let task = tokio::spawn(async move {
            // Per plugin, when its file last changed. Only the watched files
            // count: the directory may hold files written all the time (a
            // pipeline's output, a kv store), which must not hold a reload back.
            let mut dirty: BTreeMap<String, Instant> = BTreeMap::new();
            loop {
                let next = match dirty.values().min() {
                    None => rx.recv().await.map(Some),
                    Some(&last) => {
                        match tokio::time::timeout_at(last + DEBOUNCE, rx.recv()).await {
                            Ok(ev) => ev.map(Some),
                            Err(_) => Some(None),
                        }
                    }
                };
                match next {
                    None => break,
                    Some(Some(ev)) => {
                        if matches!(ev.kind, notify::EventKind::Access(_)) {
                            continue;
                        }
                        for p in &ev.paths {
                            if let Some(name) = files.get(p) {
                                dirty.insert(name.clone(), Instant::now());
                            }
                        }
                    }
                    Some(None) => {
                        let now = Instant::now();
                        let quiet: Vec<String> = dirty
                            .iter()
                            .filter(|&(_, &last)| now >= last + DEBOUNCE)
                            .map(|(name, _)| name.clone())
                            .collect();
                        for name in quiet {
                            dirty.remove(&name);
                            match plugins.reload(&name).await {
                                Ok(_) => {}
                                Err(e)
                                    if matches!(
                                        e.load_error(),
                                        Some(LoadError::RolloutRejected { .. })
                                    ) =>
                                {
                                    tracing::debug!(target: "wasp::registry", plugin = %name, "{e}");
                                }
                                Err(e) => {
                                    tracing::warn!(target: "wasp::registry", plugin = %name, "the changed file does not load; the old version keeps serving: {e}");
                                }
                            }
                        }
                    }
                }
            }
        });
        Ok(Watch {
            _watcher: watcher,
            task,
        })
    }
}
