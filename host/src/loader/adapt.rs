//! A wasm32-wasip1 core module → a component, with the WASI preview1 reactor
//! adapter of the wasmtime release we run on.

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// Turns a core module built with wit-bindgen (which embeds the world in a
/// `component-type` custom section) into a component. Its WASI preview1 imports
/// are adapted to WASI preview2 with the reactor adapter.
///
/// # Errors
/// When the module is malformed or its imports cannot be adapted; the text says
/// which.
///
/// ```
/// let err = wasp_host::loader::componentize(b"\0asm\x01\0\0\0\x01").unwrap_err();
/// assert!(!err.is_empty());
/// ```
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    // Validate first: wit-component assumes a well-formed module.
    wasmparser::Validator::new()
        .validate_all(module)
        .map_err(|e| format!("it is not a valid core module: {e}"))?;
    let encode = || {
        wit_component::ComponentEncoder::default()
            .validate(true)
            .module(module)
            .and_then(|e| {
                e.adapter(
                    "wasi_snapshot_preview1",
                    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
                )
            })
            .and_then(|mut e| e.encode())
            .map_err(|e| format!("cannot turn the core module into a component: {e:#}"))
    };
    // wit-component decodes the module's component-type section, which a hostile
    // file controls; a panic there is this file's error, not the host's end.
    std::panic::catch_unwind(encode).unwrap_or_else(|_| {
        Err(
            "cannot turn the core module into a component: its component-type section is malformed"
                .into(),
        )
    })
}
