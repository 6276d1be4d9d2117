//! The bindings that wit-bindgen generates for `wit/plugin.wit`.
//!
//! This is the only module of the SDK with `unsafe` code, all of it generated: the
//! canonical ABI glue that moves strings and lists across the component boundary.
//! The crate denies `unsafe_code` (it cannot `forbid` it, because `forbid` cannot be
//! lifted for one module, see STYLE §9) and allows it here alone. Plugin authors
//! never see this module; they use `plugin!`, `#[plugin_fn]` and the helper modules.
//!
//! On targets other than `wasm32`, wit-bindgen makes every imported function panic:
//! the SDK builds natively (for tests and docs), but only a plugin running in the
//! wasp host can log, read config or call the host.
#![allow(unsafe_code, missing_docs, unreachable_pub)]
// wit-bindgen documents its export macro with an example that declares unused items.
#![doc(test(attr(allow(dead_code))))]

wit_bindgen::generate!({
    // Relative to this crate's manifest directory: the workspace's `wit/`.
    path: "../wit",
    world: "plugin",
    // Plugins invoke the export macro (through `plugin!`), so it must be public, and it
    // must find these bindings and wit-bindgen's runtime through `wasp_sdk`: plugins
    // never depend on wit-bindgen themselves.
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "::wasp_sdk::__private::bindings",
    runtime_path: "::wasp_sdk::__private::wit_bindgen::rt",
});
