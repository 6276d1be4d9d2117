//! Bindings of `wasp:plugin@0.1.0` (wit/plugin.wit), and their conversion to the
//! host's internal types.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

super::edge_conversions!();
