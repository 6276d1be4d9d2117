//! Bindings of `wasp:plugin@0.1.0` (wit/v0.1.0/plugin.wit), converted at the edge.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

super::edge_conversions!();

super::no_call_batch!();

/// The prefix of the panic line that wasp-sdk 0.1 logs before it traps.
const PANIC_PREFIX: &str = "panicked at ";

impl<T: super::HostImports> wasp::plugin::host::Host for super::Imports<'_, T> {
    async fn log(&mut self, level: LogLevel, message: String) {
        // 0.1.0 has no log fields, so wasp-sdk 0.1 reported a panic as the text
        // `panicked at FILE:LINE:COL: MESSAGE`. This is the one place that reads
        // it: it becomes the same `wasp.panic` fields later SDKs send as data.
        let fields = match (level, message.strip_prefix(PANIC_PREFIX)) {
            (LogLevel::Error, Some(rest)) => match rest.split_once(": ") {
                Some((location, text)) => vec![
                    ("wasp.panic".to_string(), text.to_string()),
                    ("wasp.panic.location".to_string(), location.to_string()),
                ],
                None => vec![("wasp.panic".to_string(), rest.to_string())],
            },
            _ => Vec::new(),
        };
        self.0.log(level_of(level), message, fields)
    }
    async fn get_config(&mut self, key: String) -> Option<String> {
        self.0.get_config(key)
    }
    async fn call_host(&mut self, name: String, input: Vec<u8>) -> Result<Vec<u8>, String> {
        self.0.call_host(name, input).await
    }
}

/// 0.1.0 has no `shutdown`: nothing to do.
pub(crate) async fn shutdown<T: Send>(
    _b: &Plugin,
    _store: &mut wasmtime::Store<T>,
) -> wasmtime::Result<()> {
    Ok(())
}

