//! Bindings of `wasp:plugin@0.3.0` (wit/v0.3.0/plugin.wit), converted at the edge:
//! exactly 0.2.0 plus `guest.call-batch`.

wasmtime::component::bindgen!({
    path: "../wit/v0.3.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

super::edge_conversions!();
super::imports_since_v0_2_0!();

/// 0.3.0 exports `call-batch`.
pub(crate) const HAS_CALL_BATCH: bool = true;

/// `call-batch(function, inputs)`.
pub(crate) async fn call_batch<T: Send>(
    b: &Plugin,
    store: &mut wasmtime::Store<T>,
    function: &str,
    inputs: &[Vec<u8>],
) -> wasmtime::Result<Option<Vec<Result<Vec<u8>, GuestError>>>> {
    let results = b
        .wasp_plugin_guest()
        .call_call_batch(store, function, inputs)
        .await?;
    Ok(Some(
        results
            .into_iter()
            .map(|r| r.map_err(guest_error))
            .collect(),
    ))
}
