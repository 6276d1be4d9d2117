//! Which `wasp:plugin` version a component targets, read from its import and export
//! names before anything is instantiated, and the bindings of each supported
//! version.
//!
//! One bindings module per supported version (`since_v0_1_0`); each converts to
//! the crate's one internal type set at its edge, so the rest of the host never
//! matches on versions.

/// The conversions every bindings module makes at its edge, from its generated
/// types to the crate's one internal type set. Used inside each `since_*` module,
/// after its `bindgen!`.
macro_rules! edge_conversions {
    () => {
        pub(crate) use exports::wasp::plugin::guest::{PluginError, PluginInfo as RawInfo};
        pub(crate) use wasp::plugin::types::LogLevel;

        impl From<RawInfo> for crate::plugin::PluginInfo {
            fn from(i: RawInfo) -> Self {
                crate::plugin::PluginInfo {
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
    };
}
use edge_conversions;

pub(crate) mod since_v0_1_0;
pub(crate) mod since_v0_2_0;

use std::fmt;

/// The custom section in which wasp-sdk records its version.
pub const SDK_SECTION: &str = "wasp-sdk";

/// The `wasp:plugin` versions this host can load.
///
/// ```
/// assert!(wasp_host::SUPPORTED_VERSIONS.contains(&"0.1.0"));
/// ```
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// A supported `wasp:plugin` API version.
///
/// ```
/// assert_eq!(wasp_host::ApiVersion::V0_1_0.to_string(), "0.1.0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `wasp:plugin@0.1.0`.
    V0_1_0,
    /// `wasp:plugin@0.2.0`: adds `kv`, `shutdown` and structured log fields.
    V0_2_0,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiVersion::V0_1_0 => f.write_str("0.1.0"),
            ApiVersion::V0_2_0 => f.write_str("0.2.0"),
        }
    }
}

/// The top-level import and export names of a component, and its custom sections'
/// names: what `wasp inspect` shows without instantiating anything.
///
/// ```
/// let shape = wasp_host::ComponentShape::read(b"not wasm");
/// assert!(shape.is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentShape {
    /// Top-level import names (`wasi:cli/environment@0.2.6`, `wasp:plugin/host@0.1.0`).
    pub imports: Vec<String>,
    /// Top-level export names (`wasp:plugin/guest@0.1.0`).
    pub exports: Vec<String>,
    /// The wasp-sdk version the plugin was built with (its `wasp-sdk` custom
    /// section, at any depth), if it was built with wasp-sdk 0.2 or later.
    pub sdk_version: Option<String>,
}

impl ComponentShape {
    /// Reads the top-level imports and exports of a component binary.
    ///
    /// # Errors
    /// When the bytes are not a well-formed component (the message says where).
    ///
    /// ```
    /// assert!(wasp_host::ComponentShape::read(&[0, b'a', b's', b'm']).is_err());
    /// ```
    pub fn read(component: &[u8]) -> Result<Self, String> {
        use wasmparser::{Parser, Payload};
        let mut shape = ComponentShape::default();
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(component) {
            let payload = payload.map_err(|e| e.to_string())?;
            match payload {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(reader) if depth == 0 => {
                    for import in reader {
                        let import = import.map_err(|e| e.to_string())?;
                        shape.imports.push(import.name.name.to_string());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 0 => {
                    for export in reader {
                        let export = export.map_err(|e| e.to_string())?;
                        shape.exports.push(export.name.name.to_string());
                    }
                }
                Payload::CustomSection(c)
                    if c.name() == SDK_SECTION && shape.sdk_version.is_none() =>
                {
                    let text = String::from_utf8_lossy(c.data());
                    let text: String = text.trim().chars().take(64).collect();
                    shape.sdk_version = Some(text);
                }
                _ => {}
            }
        }
        Ok(shape)
    }

    /// The WASI interfaces the component imports (`wasi:…`), sorted.
    ///
    /// ```
    /// let shape = wasp_host::ComponentShape {
    ///     imports: vec!["wasi:cli/stdout@0.2.6".into(), "wasp:plugin/host@0.1.0".into()],
    ///     ..Default::default()
    /// };
    /// assert_eq!(shape.wasi_imports(), ["wasi:cli/stdout@0.2.6"]);
    /// ```
    pub fn wasi_imports(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .imports
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with("wasi:"))
            .collect();
        v.sort_unstable();
        v
    }

    /// The `wasp:plugin` version the component exports `guest` for, as written.
    ///
    /// ```
    /// let shape = wasp_host::ComponentShape {
    ///     exports: vec!["wasp:plugin/guest@0.1.0".into()],
    ///     ..Default::default()
    /// };
    /// assert_eq!(shape.declared_version(), Some("0.1.0"));
    /// ```
    pub fn declared_version(&self) -> Option<&str> {
        self.exports
            .iter()
            .find_map(|e| e.strip_prefix("wasp:plugin/guest@"))
    }

    /// Checks the component's version against [`SUPPORTED_VERSIONS`].
    pub(crate) fn api_version(&self, plugin: &str) -> crate::Result<ApiVersion> {
        let Some(found) = self.declared_version() else {
            let unversioned = self.exports.iter().any(|e| e == "wasp:plugin/guest");
            let reason = if unversioned {
                "it exports wasp:plugin/guest without a version; build it against wit/v0.2.0/plugin.wit, which declares `package wasp:plugin@0.2.0`".to_string()
            } else {
                format!(
                    "it is not a wasp plugin: it exports no `wasp:plugin/guest` interface (exports: {}); build it with wasp-sdk, or with wit-bindgen against wit/v0.2.0/plugin.wit",
                    if self.exports.is_empty() {
                        "none".to_string()
                    } else {
                        self.exports.join(", ")
                    }
                )
            };
            return Err(crate::Error::load(plugin, reason));
        };
        let version = match found {
            "0.1.0" => ApiVersion::V0_1_0,
            "0.2.0" => ApiVersion::V0_2_0,
            other => {
                let newer = semver::Version::parse(other)
                    .map(|v| v > semver::Version::new(0, 2, 0))
                    .unwrap_or(false);
                return Err(crate::Error::UnsupportedVersion {
                    plugin: plugin.to_string(),
                    found: other.to_string(),
                    supported: SUPPORTED_VERSIONS.join(", "),
                    hint: if newer {
                        "upgrade the host (wasp) to a release that supports it, or rebuild the plugin with wasp-sdk 0.2 (wit/v0.2.0)"
                    } else {
                        "rebuild the plugin with wasp-sdk 0.2 (or wit-bindgen against wit/v0.2.0/plugin.wit)"
                    },
                });
            }
        };
        // A plugin must import the host interface of the same version, if it imports it at all.
        if let Some(host) = self
            .imports
            .iter()
            .find_map(|i| i.strip_prefix("wasp:plugin/host@"))
            && host != found
        {
            return Err(crate::Error::load(
                plugin,
                format!(
                    "it exports wasp:plugin/guest@{found} but imports wasp:plugin/host@{host}; both must be the same version"
                ),
            ));
        }
        Ok(version)
    }
}
