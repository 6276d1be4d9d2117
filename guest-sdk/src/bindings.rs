//! The bindings that wit-bindgen generates for `wit/v0.3.0/plugin.wit`, and the
//! `wasp-sdk` custom section.
//!
//! This is the only module of the SDK with `unsafe` code: the canonical ABI glue that
//! wit-bindgen generates to move strings and lists across the component boundary, and
//! the `#[unsafe(link_section)]` static below. The crate denies `unsafe_code` (it
//! cannot `forbid` it, because `forbid` cannot be lifted for one module, see STYLE §9)
//! and allows it here alone. Plugin authors never see this module; they use
//! `plugin!`, `#[plugin_fn]` and the helper modules.
//!
//! On targets other than `wasm32`, wit-bindgen makes every imported function panic:
//! the SDK builds natively (for tests and docs), but only a plugin running in the
//! wasp host can log, read config, use kv or call the host.
#![allow(unsafe_code, missing_docs, unreachable_pub)]
// wit-bindgen documents its export macro with an example that declares unused items.
#![doc(test(attr(allow(dead_code))))]

wit_bindgen::generate!({
    // Relative to this crate's manifest directory: the frozen `wasp:plugin@0.3.0`.
    path: "../wit/v0.3.0",
    world: "wasp:plugin/plugin",
    // Plugins invoke the export macro (through `plugin!`), so it must be public, and it
    // must find these bindings and wit-bindgen's runtime through `wasp_sdk`: plugins
    // never depend on wit-bindgen themselves.
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "::wasp_sdk::__private::bindings",
    runtime_path: "::wasp_sdk::__private::wit_bindgen::rt",
});

/// The version of wasp-sdk that built the plugin, e.g. `0.3.0`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The contents of the `wasp-sdk` custom section: [`SDK_VERSION`] as UTF-8 bytes.
///
/// On wasm, rustc writes a `#[link_section]` static as a custom section of that name
/// in the object file of the codegen unit that holds the static, and `wasm-ld` copies
/// it into the plugin (`strip = "debuginfo"` removes only `.debug_*` sections).
/// `wasp inspect` and the host read it without instantiating the plugin
/// (`wasp_host::Plugin::sdk_version`).
///
/// A plugin never names this static, and a section in a *dependency* is only kept if
/// its object file is linked. With LTO (the plugins' release profile) every object is
/// merged and the section is always kept. Without LTO (a debug build), `wasm-ld` links
/// an rlib's object file only when it defines a symbol that something needs, and
/// `#[used]` does not count: measured with rustc 1.95, a static like this one in a
/// module of its own lost its section in a debug build, with or without `#[used]`.
/// So [`crate::export::export_info`], which every plugin exports, reads this static
/// (through `black_box`): a real reference that links its object file in every
/// profile. `tests/sdk_section.rs` builds a plugin and checks that the section is there.
///
/// It must be plain bytes: a custom section cannot hold relocations (pointers), so a
/// `&str` would not do; the array is built from the string at compile time.
#[cfg(target_arch = "wasm32")]
// SAFETY: `link_section` is unsafe because a static placed in an arbitrary section can
// break the platform's assumptions about that section. `wasp-sdk` is a custom section
// of our own name: wasm engines ignore custom sections, no code runs from it, nothing
// else is placed in it, and the static holds plain bytes (no relocations). Only wasp's
// loader reads it, as text.
#[unsafe(link_section = "wasp-sdk")]
pub static SDK_SECTION: [u8; SDK_VERSION.len()] = version_bytes();

/// The same bytes on native targets, as an ordinary static (tests compare them).
#[cfg(not(target_arch = "wasm32"))]
pub static SDK_SECTION: [u8; SDK_VERSION.len()] = version_bytes();

/// [`SDK_VERSION`] as a byte array of its own length.
const fn version_bytes<const N: usize>() -> [u8; N] {
    let version = SDK_VERSION.as_bytes();
    let mut bytes = [0; N];
    let mut i = 0;
    while i < N {
        bytes[i] = version[i];
        i += 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_holds_the_sdk_version() {
        assert_eq!(SDK_VERSION, env!("CARGO_PKG_VERSION"));
        assert!(SDK_VERSION.starts_with("0.3."), "{SDK_VERSION}");
        assert_eq!(std::str::from_utf8(&SDK_SECTION), Ok(SDK_VERSION));
    }
}
