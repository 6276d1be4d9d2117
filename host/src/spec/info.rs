//! What a plugin says about itself.

/// What a plugin says about itself (`info()`), checked at load.
///
/// ```no_run
/// # async fn f(plugin: wasp_host::Plugin) {
/// let info = plugin.info();
/// println!("{} {}: {}", info.name, info.version, info.functions.join(", "));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's own name.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// One line for people.
    pub description: String,
    /// The functions `call` accepts.
    pub functions: Vec<String>,
}

/// A log level of the `wasp:plugin` world, in the host's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// What a plugin's export returned on purpose: a `plugin-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuestError {
    pub(crate) code: String,
    pub(crate) message: String,
}
