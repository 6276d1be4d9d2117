//! Bindings of `wasp:plugin@0.2.0` (wit/v0.2.0/plugin.wit), converted at the edge:
//! 0.1.0 plus log fields, `kv` and `guest.shutdown`.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

super::edge_conversions!();
super::imports_since_v0_2_0!();

super::no_call_batch!();

