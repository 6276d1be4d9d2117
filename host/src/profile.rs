//! Guest profiles: wasmtime's `GuestProfiler`, sampled at every epoch tick while
//! the plugin runs, written in the Firefox Profiler's format with the plugin's
//! own function names (from the component's name sections).
//!
//! One profile per loaded plugin (all its instances sample into it); a plugin is
//! profiled when loaded with [`crate::PluginOptions::profile`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{AsContext, Engine, GuestProfiler};

/// The profile of one plugin, shared by its instances.
pub(crate) struct Profiler {
    /// `None` once written.
    profiler: Mutex<Option<GuestProfiler>>,
    last: Mutex<Instant>,
}

impl Profiler {
    /// A profile of `component`, sampled every `interval` (the epoch tick).
    pub(crate) fn new(
        engine: &Engine,
        name: &str,
        component: &Component,
        interval: Duration,
    ) -> wasmtime::Result<Self> {
        let profiler = GuestProfiler::new_component(engine, name, interval, component.clone(), [])?;
        Ok(Profiler {
            profiler: Mutex::new(Some(profiler)),
            last: Mutex::new(Instant::now()),
        })
    }

    /// One sample of the guest stack on `store` (called from the epoch callback,
    /// with the guest on the stack).
    pub(crate) fn sample(&self, store: impl AsContext) {
        let now = Instant::now();
        let delta = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let d = now.saturating_duration_since(*last);
            *last = now;
            d
        };
        let mut p = self.profiler.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = p.as_mut() {
            p.sample(store, delta);
        }
    }

    /// Writes the profile (JSON, Firefox "processed profile format") and ends
    /// it: later samples are dropped. `false` when it was written already.
    pub(crate) fn finish(&self, out: impl std::io::Write) -> wasmtime::Result<bool> {
        let taken = self
            .profiler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match taken {
            Some(p) => p.finish(out).map(|()| true),
            None => Ok(false),
        }
    }
}
