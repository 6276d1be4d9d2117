//! Bindings of `wasp:plugin@0.2.0` (wit/v0.2.0/plugin.wit), and their conversion
//! to the host's internal types.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

super::edge_conversions!();
