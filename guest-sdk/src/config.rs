//! Reading the plugin's configuration.
//!
//! The operator sets it in the manifest (`config = { field = "message" }` under
//! `[plugins.NAME]`); values are strings, parse them as you need. A plugin usually reads
//! it once in its `init` function, or on each call when it is cheap.
//!
//! ```no_run
//! let field = wasp_sdk::config::get("field").unwrap_or_else(|| "message".to_string());
//! let limit: usize = wasp_sdk::config::get("limit")
//!     .and_then(|v| v.parse().ok())
//!     .unwrap_or(10);
//! # let _ = (field, limit);
//! ```

use crate::bindings::wasp::plugin::host;

/// The value of config `key`, or `None` when the operator did not set it.
///
/// ```no_run
/// match wasp_sdk::config::get("greeting") {
///     Some(greeting) => wasp_sdk::info!("greeting is {greeting}"),
///     None => wasp_sdk::warn!("no greeting configured"),
/// }
/// ```
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn get(key: &str) -> Option<String> {
    host::get_config(key)
}
