//! The `host` interface that every plugin may import: log, get-config, call-host.

use crate::capability::HostFnContext;
use crate::state::{KvAccess, StoreState};
use crate::version::{since_v0_1_0 as v0_1_0, since_v0_2_0 as v0_2_0};

/// At most this many keys come back from one `list-keys`.
const MAX_LIST_KEYS: usize = 10_000;

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
    pub(crate) fn log(
        &mut self,
        level: tracing::Level,
        mut message: String,
        fields: Vec<(String, String)>,
    ) {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let (allowed, ran_out) = self.budget_take(size);
        if !allowed {
            if ran_out {
                tracing::warn!(target: "wasp::plugin", plugin = %self.plugin, "log output of this call exceeds the capture budget; the rest is dropped");
            }
            return;
        }
        truncate(&mut message, MAX_LOG_MESSAGE);
        let plugin = &*self.plugin;
        // tracing's field names are static; a plugin's own fields travel as one
        // `fields` map (empty maps are omitted).
        let fields = LogFields(fields);
        let fields = (!fields.0.is_empty()).then(|| tracing::field::debug(&fields));
        match level {
            tracing::Level::TRACE => {
                tracing::trace!(target: "wasp::plugin", plugin, fields, "{message}")
            }
            tracing::Level::DEBUG => {
                tracing::debug!(target: "wasp::plugin", plugin, fields, "{message}")
            }
            tracing::Level::INFO => {
                tracing::info!(target: "wasp::plugin", plugin, fields, "{message}")
            }
            tracing::Level::WARN => {
                tracing::warn!(target: "wasp::plugin", plugin, fields, "{message}")
            }
            tracing::Level::ERROR => {
                tracing::error!(target: "wasp::plugin", plugin, fields, "{message}");
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

/// A plugin's structured log fields, shown as `{key="value", …}`.
struct LogFields(Vec<(String, String)>);

impl std::fmt::Debug for LogFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.0 {
            m.entry(k, v);
        }
        m.finish()
    }
}

impl StoreState {
    /// The plugin's kv namespace, or the error a plugin sees without the grant.
    fn kv(&self) -> Result<KvAccess, String> {
        self.shared.kv.clone().ok_or_else(|| {
            format!(
                "kv is not granted to plugin '{p}'; the operator can add `kv = true` to [plugins.{p}.grants]",
                p = self.plugin
            )
        })
    }

    /// Runs a blocking store operation on tokio's blocking pool. The access is
    /// looked up before the first await, so the future does not borrow the store.
    fn kv_op<T: Send + 'static>(
        &self,
        op: impl FnOnce(KvAccess) -> Result<T, crate::kv::KvError> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, String>> + Send + 'static {
        let kv = self.kv();
        async move {
            let kv = kv?;
            tokio::task::spawn_blocking(move || op(kv).map_err(|e| e.to_string()))
                .await
                .map_err(|e| format!("kv: the store task failed: {e}"))?
        }
    }
}

impl v0_1_0::wasp::plugin::types::Host for StoreState {}
impl v0_2_0::wasp::plugin::types::Host for StoreState {}

impl v0_2_0::wasp::plugin::host::Host for StoreState {
    async fn log(
        &mut self,
        level: v0_2_0::LogLevel,
        message: String,
        fields: Vec<(String, String)>,
    ) {
        StoreState::log(self, level.into(), message, fields)
    }

    async fn get_config(&mut self, key: String) -> Option<String> {
        StoreState::get_config(self, &key)
    }

    async fn call_host(&mut self, name: String, input: Vec<u8>) -> Result<Vec<u8>, String> {
        StoreState::call_host(self, name, input).await
    }
}

impl v0_2_0::wasp::plugin::kv::Host for StoreState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        self.kv_op(move |kv| kv.store.get(&kv.namespace, &key))
            .await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.kv_op(move |kv| kv.store.set(&kv.namespace, &key, &value, kv.quota))
            .await
    }

    async fn delete(&mut self, key: String) -> Result<(), String> {
        self.kv_op(move |kv| kv.store.delete(&kv.namespace, &key))
            .await
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, String> {
        self.kv_op(move |kv| kv.store.list_keys(&kv.namespace, &prefix, MAX_LIST_KEYS))
            .await
    }
}

impl v0_1_0::wasp::plugin::host::Host for StoreState {
    async fn log(&mut self, level: v0_1_0::LogLevel, message: String) {
        StoreState::log(self, level.into(), message, Vec::new())
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
