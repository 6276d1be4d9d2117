//! Bytes → verified (sha256 pin) → core module or component → adapted → compiled.
//!
//! Everything that can be wrong with a plugin file is found here, before any
//! instance exists; a call never finds a load problem.

mod adapt;
pub(crate) mod cache;
mod detect;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub use adapt::componentize;
pub use detect::{BinaryKind, detect};

use crate::error::{Error, Result};
use crate::version::{ApiVersion, ComponentShape};

/// A plugin file, checked and compiled.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) shape: ComponentShape,
    pub(crate) version: ApiVersion,
    pub(crate) sha256: [u8; 32],
    pub(crate) adapted: bool,
    /// Whether the compiled code came from the disk cache.
    pub(crate) cached: bool,
}

/// Checks, adapts and compiles a plugin's bytes. CPU-heavy: runs on tokio's
/// blocking pool.
pub(crate) async fn compile(
    engine: &Engine,
    cache: Option<&cache::Cache>,
    plugin: &str,
    bytes: Vec<u8>,
    pin: Option<[u8; 32]>,
) -> Result<Compiled> {
    let engine = engine.clone();
    let cache = cache.cloned();
    let plugin = plugin.to_string();
    let name = plugin.clone();
    tokio::task::spawn_blocking(move || {
        // Defence in depth: the libraries below must not panic on hostile input,
        // but if one does, it is this plugin's load error, not the host's end.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compile_blocking(&engine, cache.as_ref(), &plugin, &bytes, pin)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            Err(Error::load(
                &plugin,
                format!("the file is malformed (a decoder failed on it: {what})"),
            ))
        })
    })
    .await
    .map_err(|e| Error::load(&name, format!("the load task failed: {e}")))?
}

fn compile_blocking(
    engine: &Engine,
    cache: Option<&cache::Cache>,
    plugin: &str,
    bytes: &[u8],
    pin: Option<[u8; 32]>,
) -> Result<Compiled> {
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    if let Some(expected) = pin
        && expected != sha256
    {
        return Err(Error::load(
            plugin,
            format!(
                "its sha256 is {} but the manifest pins {}; if the new file is trusted, update the pin",
                hex::encode(sha256),
                hex::encode(expected)
            ),
        ));
    }
    if let Some(hit) = cache.and_then(|c| c.get(engine, &sha256)) {
        let version = hit.shape.api_version(plugin)?;
        tracing::debug!(target: "wasp::cache", plugin, "compiled code from the cache");
        return Ok(Compiled {
            component: hit.component,
            shape: hit.shape,
            version,
            sha256,
            adapted: hit.adapted,
            cached: true,
        });
    }
    let (component_bytes, adapted) = match detect(bytes) {
        BinaryKind::Component => (std::borrow::Cow::Borrowed(bytes), false),
        BinaryKind::CoreModule => {
            let c = componentize(bytes).map_err(|e| Error::load(plugin, e))?;
            (std::borrow::Cow::Owned(c), true)
        }
        BinaryKind::Other(why) => return Err(Error::load(plugin, why)),
    };
    let shape = ComponentShape::read(&component_bytes)
        .map_err(|e| Error::load(plugin, format!("it is not a valid component: {e}")))?;
    let version = shape.api_version(plugin).map_err(|e| match e {
        Error::Load { plugin, reason } if adapted && shape.exports.is_empty() => Error::Load {
            plugin,
            reason: format!(
                "{reason} (this core module carries no component-type section: wit-bindgen, which wasp-sdk uses, adds it)"
            ),
        },
        other => other,
    })?;
    let component = Component::from_binary(engine, &component_bytes)
        .map_err(|e| Error::load(plugin, format!("it does not compile: {e:#}")))?;
    if let Some(c) = cache {
        c.put(&sha256, &component, &shape, adapted);
    }
    Ok(Compiled {
        component,
        shape,
        version,
        sha256,
        adapted,
        cached: false,
    })
}
