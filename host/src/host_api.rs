//! The `host` interface that every plugin may import: log, get-config, call-host.

use crate::capability::HostFnContext;
use crate::state::StoreState;
use crate::version::since_v0_1_0 as v0_1_0;

/// Longest log message kept; longer ones are cut (and say so).
const MAX_LOG_MESSAGE: usize = 16 * 1024;
/// Longest `last_error` kept for fault reports.
const MAX_LAST_ERROR: usize = 2 * 1024;

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("… (truncated)");
    }
}

impl StoreState {
    pub(crate) fn log(&mut self, level: tracing::Level, mut message: String) {
        let (allowed, ran_out) = self.budget_take(message.len());
        if !allowed {
            if ran_out {
                tracing::warn!(target: "wasp::plugin", plugin = %self.plugin, "log output of this call exceeds the capture budget; the rest is dropped");
            }
            return;
        }
        truncate(&mut message, MAX_LOG_MESSAGE);
        let plugin = &*self.plugin;
        match level {
            tracing::Level::TRACE => tracing::trace!(target: "wasp::plugin", plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(target: "wasp::plugin", plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(target: "wasp::plugin", plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(target: "wasp::plugin", plugin, "{message}"),
            tracing::Level::ERROR => {
                tracing::error!(target: "wasp::plugin", plugin, "{message}");
                truncate(&mut message, MAX_LAST_ERROR);
                self.last_error = Some(message);
            }
        }
    }

    fn budget_take(&self, n: usize) -> (bool, bool) {
        self.budget.take_all(n as u64)
    }

    pub(crate) fn get_config(&self, key: &str) -> Option<String> {
        self.shared.config.get(key).cloned()
    }

    pub(crate) async fn call_host(
        &mut self,
        name: String,
        input: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let plugin = self.plugin.clone();
        if !self.shared.granted_host_fns.contains(&name) {
            tracing::debug!(target: "wasp::plugin", plugin = %plugin, host_fn = %name, "call-host denied: not granted");
            return Err(format!(
                "host function '{name}' is not granted to plugin '{plugin}'; the operator can add it to [plugins.{plugin}.grants] host-functions"
            ));
        }
        let Some(f) = self.shared.host_fns.get(&name).cloned() else {
            return Err(format!(
                "host function '{name}' is not registered on this runtime"
            ));
        };
        f.call(HostFnContext { plugin }, input).await
    }
}

impl v0_1_0::wasp::plugin::types::Host for StoreState {}

impl v0_1_0::wasp::plugin::host::Host for StoreState {
    async fn log(&mut self, level: v0_1_0::LogLevel, message: String) {
        StoreState::log(self, level.into(), message)
    }

    async fn get_config(&mut self, key: String) -> Option<String> {
        StoreState::get_config(self, &key)
    }

    async fn call_host(&mut self, name: String, input: Vec<u8>) -> Result<Vec<u8>, String> {
        StoreState::call_host(self, name, input).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "é".repeat(10);
        super::truncate(&mut s, 5);
        assert!(s.starts_with("éé"));
        assert!(s.ends_with("(truncated)"));
    }
}
