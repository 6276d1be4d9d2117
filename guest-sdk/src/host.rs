//! Calling functions that the host application registered.
//!
//! The application registers named functions (e.g. `kv.get`); the operator grants a
//! plugin the ones it may call (`host-functions = ["kv.get"]` in the manifest). A call
//! to a function that is not granted, or not registered, fails with an error message;
//! it never traps.
//!
//! ```no_run
//! match wasp_sdk::host::call("kv.get", b"user:42") {
//!     Ok(value) => wasp_sdk::info!("got {} bytes", value.len()),
//!     Err(message) => wasp_sdk::warn!("kv.get failed: {message}"),
//! }
//! ```

use crate::bindings::wasp::plugin::host;

/// Calls the host function `name` with `input` and returns its output bytes.
///
/// Encode structured input yourself, e.g. with [`Json`](crate::Json) and
/// [`IntoBytes`](crate::IntoBytes).
///
/// ```no_run
/// use wasp_sdk::{FromBytes, IntoBytes, Json};
///
/// fn lookup(key: &str) -> Result<Option<String>, wasp_sdk::Error> {
///     let input = Json(key).into_bytes()?;
///     let output = wasp_sdk::host::call("kv.get", &input)
///         .map_err(|message| wasp_sdk::Error::new("host-error", message))?;
///     let Json(value) = Json::<Option<String>>::from_bytes(output)?;
///     Ok(value)
/// }
/// # let _ = lookup;
/// ```
///
/// # Errors
/// The host's message when the function is not granted or not registered, or when
/// the host function itself failed.
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn call(name: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    host::call_host(name, input)
}
