//! Bindings of `wasp:plugin@0.2.0` (wit/v0.2.0/plugin.wit), and their conversion
//! to the host's internal types.

use crate::plugin::PluginInfo;

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

pub(crate) use exports::wasp::plugin::guest::{PluginError, PluginInfo as RawInfo};
pub(crate) use wasp::plugin::types::LogLevel;

impl From<RawInfo> for PluginInfo {
    fn from(i: RawInfo) -> Self {
        PluginInfo {
            name: i.name,
            version: i.version,
            description: i.description,
            functions: i.functions,
        }
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

pub(crate) fn plugin_error(e: PluginError) -> (String, String) {
    (e.code, e.message)
}
