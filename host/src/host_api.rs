//! The host imports every plugin may use — log, get-config, call-host, kv — in
//! one place: [`HostImports`] for the store's data. The bindings of every
//! `wasp:plugin` version answer their imports through it.

use crate::capability::HostFnContext;
use crate::error::KvError;
use crate::limits::PanicRecord;
use crate::recording::{Bytes, Import};
use crate::spec::info::LogLevel;
use crate::state::{KvAccess, StoreState};
use crate::tape::Tape;
use crate::version::HostImports;

/// At most this many keys come back from one `list-keys`.
const MAX_LIST_KEYS: usize = 10_000;

/// Longest log message kept; longer ones are cut (and say so).
const MAX_LOG_MESSAGE: usize = 16 * 1024;
/// Longest `last_error` and panic message kept for fault reports.
const MAX_LAST_ERROR: usize = 2 * 1024;

/// The log field with which a plugin reports that it is panicking (its message).
pub(crate) const PANIC_FIELD: &str = "wasp.panic";
/// The log field with the panic's location, `file:line:column`.
pub(crate) const PANIC_LOCATION_FIELD: &str = "wasp.panic.location";

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
    fn kv(&self) -> Result<KvAccess, KvError> {
        self.shared.kv.clone().ok_or_else(|| KvError::NotGranted {
            plugin: self.plugin.to_string(),
        })
    }

    /// Runs a store operation: in place when writes are group-committed (no fsync
    /// on this thread: a read or write of redb's page cache, microseconds), else on
    /// tokio's blocking pool, since each write fsyncs. The access is looked up
    /// before the first await, so the future does not borrow the store.
    fn kv_op<T: Send + 'static>(
        &self,
        op: impl FnOnce(KvAccess) -> Result<T, KvError> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, String>> + Send + 'static {
        let kv = self.kv();
        async move {
            let kv = kv.map_err(|e| e.to_string())?;
            if kv.store.group_commit() {
                return op(kv).map_err(|e| e.to_string());
            }
            tokio::task::spawn_blocking(move || op(kv).map_err(|e| e.to_string()))
                .await
                .map_err(|e| format!("kv: the store task failed: {e}"))?
        }
    }
}

/// A host import with an answer: live (off the tape), live and recorded, or
/// answered from the replayed recording (`live` is then never polled).
/// `request` is the import with its arguments (its answer is filled in by
/// `fill` when recording, read out by `read` when replaying).
async fn on_tape<T: Send + 'static>(
    tape: Option<(Tape, Import)>,
    live: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
    fill: impl FnOnce(Import, &Result<T, String>) -> Import + Send + 'static,
    read: impl FnOnce(Import) -> Option<Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    match tape {
        None => live.await,
        Some((Tape::Record(r), request)) => {
            let v = live.await;
            r.push(fill(request, &v));
            v
        }
        Some((Tape::Replay(p), request)) => {
            p.answer(&request).and_then(read).unwrap_or_else(|| {
                Err("replay: the plugin left the recorded path here (see the replay report)".into())
            })
        }
    }
}

impl StoreState {
    /// The tape and the import as asked now, when the instance is on a tape.
    fn request(&self, import: impl FnOnce() -> Import) -> Option<(Tape, Import)> {
        self.tape.as_ref().map(|t| (t.clone(), import()))
    }
}

impl HostImports for StoreState {
    fn log(&mut self, level: LogLevel, mut message: String, fields: Vec<(String, String)>) {
        if level == LogLevel::Error
            && let Some((_, text)) = fields.iter().find(|(k, _)| k == PANIC_FIELD)
        {
            let mut text = text.clone();
            truncate(&mut text, MAX_LAST_ERROR);
            let location = fields
                .iter()
                .find(|(k, _)| k == PANIC_LOCATION_FIELD)
                .map(|(_, v)| v.chars().take(512).collect());
            self.panic = Some(PanicRecord {
                message: text,
                location,
            });
        }
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let (allowed, ran_out) = self.budget.take_all(size as u64);
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
            LogLevel::Trace => tracing::trace!(target: "wasp::plugin", plugin, fields, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "wasp::plugin", plugin, fields, "{message}"),
            LogLevel::Info => tracing::info!(target: "wasp::plugin", plugin, fields, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "wasp::plugin", plugin, fields, "{message}"),
            LogLevel::Error => {
                tracing::error!(target: "wasp::plugin", plugin, fields, "{message}");
                truncate(&mut message, MAX_LAST_ERROR);
                self.last_error = Some(message);
            }
        }
    }

    fn get_config(&mut self, key: String) -> Option<String> {
        let live = || self.shared.config.get(&key).cloned();
        match &self.tape {
            None => live(),
            Some(t) => t.sync(
                live,
                |value| Import::GetConfig {
                    key: key.clone(),
                    value: value.clone(),
                },
                |i| match i {
                    Import::GetConfig { value, .. } => Some(value),
                    _ => None,
                },
            ),
        }
    }

    fn call_host(
        &mut self,
        name: String,
        input: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, String>> + Send {
        let plugin = self.plugin.clone();
        let granted = self.shared.granted_host_fns.contains(&name);
        let f = self.shared.host_fns.get(&name).cloned();
        let tape = self.request(|| Import::CallHost {
            name: name.clone(),
            input: Bytes(input.clone()),
            result: Ok(Bytes::default()),
        });
        let live = async move {
            if !granted {
                tracing::debug!(target: "wasp::plugin", plugin = %plugin, host_fn = %name, "call-host denied: not granted");
                return Err(format!(
                    "host function '{name}' is not granted to plugin '{plugin}'; the operator can add it to [plugins.{plugin}.grants] host-functions"
                ));
            }
            let Some(f) = f else {
                return Err(format!(
                    "host function '{name}' is not registered on this runtime"
                ));
            };
            f.call(HostFnContext { plugin }, input).await
        };
        on_tape(
            tape,
            live,
            |i, r| match i {
                Import::CallHost { name, input, .. } => Import::CallHost {
                    name,
                    input,
                    result: r.clone().map(Bytes),
                },
                i => i,
            },
            |i| match i {
                Import::CallHost { result, .. } => Some(result.map(|b| b.0)),
                _ => None,
            },
        )
    }

    fn kv_get(
        &mut self,
        key: String,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, String>> + Send {
        let tape = self.request(|| Import::KvGet {
            key: key.clone(),
            result: Ok(None),
        });
        on_tape(
            tape,
            self.kv_op(move |kv| kv.get(&key)),
            |i, r| match i {
                Import::KvGet { key, .. } => Import::KvGet {
                    key,
                    result: r.clone().map(|v| v.map(Bytes)),
                },
                i => i,
            },
            |i| match i {
                Import::KvGet { result, .. } => Some(result.map(|v| v.map(|b| b.0))),
                _ => None,
            },
        )
    }

    fn kv_set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        let tape = self.request(|| Import::KvSet {
            key: key.clone(),
            value: Bytes(value.clone()),
            error: None,
        });
        on_tape(
            tape,
            self.kv_op(move |kv| kv.set(&key, &value)),
            |i, r| match i {
                Import::KvSet { key, value, .. } => Import::KvSet {
                    key,
                    value,
                    error: r.clone().err(),
                },
                i => i,
            },
            |i| match i {
                Import::KvSet { error, .. } => Some(error.map_or(Ok(()), Err)),
                _ => None,
            },
        )
    }

    fn kv_delete(
        &mut self,
        key: String,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        let tape = self.request(|| Import::KvDelete {
            key: key.clone(),
            error: None,
        });
        on_tape(
            tape,
            self.kv_op(move |kv| kv.delete(&key)),
            |i, r| match i {
                Import::KvDelete { key, .. } => Import::KvDelete {
                    key,
                    error: r.clone().err(),
                },
                i => i,
            },
            |i| match i {
                Import::KvDelete { error, .. } => Some(error.map_or(Ok(()), Err)),
                _ => None,
            },
        )
    }

    fn kv_list_keys(
        &mut self,
        prefix: String,
    ) -> impl std::future::Future<Output = Result<Vec<String>, String>> + Send {
        let tape = self.request(|| Import::KvListKeys {
            prefix: prefix.clone(),
            result: Ok(Vec::new()),
        });
        on_tape(
            tape,
            self.kv_op(move |kv| kv.list_keys(&prefix, MAX_LIST_KEYS)),
            |i, r| match i {
                Import::KvListKeys { prefix, .. } => Import::KvListKeys {
                    prefix,
                    result: r.clone(),
                },
                i => i,
            },
            |i| match i {
                Import::KvListKeys { result, .. } => Some(result),
                _ => None,
            },
        )
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
