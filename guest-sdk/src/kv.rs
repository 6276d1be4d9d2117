//! The plugin's own key-value store, kept by the host across calls, instances and
//! restarts (`wasp:plugin@0.2.0` and later).
//!
//! Keys are non-empty strings of at most 1 KiB; values are bytes. Each plugin sees
//! only its own keys. The operator grants the store with `kv = true` in the plugin's
//! `[grants]` and bounds it with `kv-quota` (keys + values, in bytes); without the
//! grant every function returns an error, which a plugin can handle like any other
//! (e.g. by keeping its state in memory instead).
//!
//! Every error of this module has the code `kv` and the host's message, which says
//! what went wrong and what to do (a missing grant, the quota, a key too long).
//!
//! ```no_run
//! use wasp_sdk::{kv, Error};
//!
//! /// Counts visits across runs.
//! fn visit(page: &str) -> Result<u64, Error> {
//!     let key = format!("visits/{page}");
//!     let n: u64 = kv::get_as::<String>(&key)?
//!         .and_then(|text| text.parse().ok())
//!         .unwrap_or(0)
//!         + 1;
//!     kv::set(&key, n.to_string().as_bytes())?;
//!     Ok(n)
//! }
//! # let _ = visit;
//! ```
//!
//! Each call goes to the host and each `set` or `delete` is durable when it returns,
//! so they cost far more than a memory access: batch what you can, e.g. keep a
//! counter in memory and write it every hundred events. A read-modify-write (`get`,
//! then `set`) is not atomic: two instances of the plugin running at once
//! (`max-instances` above 1) may both read the old value.

use crate::Error;
use crate::bindings::wasp::plugin::kv;
use wasp_codec::{FromBytes, IntoBytes};

/// The value of `key`, or `None` when it is not set.
///
/// ```no_run
/// match wasp_sdk::kv::get("greeting")? {
///     Some(bytes) => wasp_sdk::info!("greeting has {} bytes", bytes.len()),
///     None => wasp_sdk::info!("no greeting yet"),
/// }
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// Code `kv`: kv is not granted, the key is empty or too long, or the host's store
/// failed.
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    kv::get(key).map_err(kv_error)
}

/// Sets `key` to `value`; the value is stored durably when this returns.
///
/// ```no_run
/// wasp_sdk::kv::set("last-run", b"2024-05-01")?;
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// Code `kv`: kv is not granted, the key is empty or too long, the write would exceed
/// the plugin's `kv-quota` (nothing is written then), or the host's store failed.
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    kv::set(key, value).map_err(kv_error)
}

/// Removes `key`; removing a key that is not set succeeds.
///
/// ```no_run
/// wasp_sdk::kv::delete("session/42")?;
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// Code `kv`: kv is not granted, the key is empty or too long, or the host's store
/// failed.
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn delete(key: &str) -> Result<(), Error> {
    kv::delete(key).map_err(kv_error)
}

/// The keys that start with `prefix`, sorted (byte order); `""` lists every key. The
/// host returns at most 10 000 keys per call: use narrower prefixes for more.
///
/// ```no_run
/// for key in wasp_sdk::kv::list_keys("session/")? {
///     wasp_sdk::kv::delete(&key)?;
/// }
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// Code `kv`: kv is not granted, or the host's store failed.
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn list_keys(prefix: &str) -> Result<Vec<String>, Error> {
    kv::list_keys(prefix).map_err(kv_error)
}

/// The value of `key` decoded as `T` with [`FromBytes`] (`String`, `Vec<u8>`,
/// [`Json<T>`](crate::Json), [`Bincode<T>`](crate::Bincode)), or `None` when it is not
/// set.
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use wasp_sdk::{kv, Json};
///
/// #[derive(Serialize, Deserialize, Default)]
/// struct Settings { threshold: u32 }
///
/// let Json(settings) = kv::get_as::<Json<Settings>>("settings")?.unwrap_or_default();
/// kv::set_as("settings", Json(&Settings { threshold: settings.threshold + 1 }))?;
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// As [`get`]; also code `kv` when the stored bytes do not decode as `T` (the message
/// names the key and the codec error).
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn get_as<T: FromBytes>(key: &str) -> Result<Option<T>, Error> {
    get(key)?.map(|bytes| decode(key, bytes)).transpose()
}

/// Sets `key` to `value` encoded with [`IntoBytes`] (`&str`, `&[u8]`,
/// [`Json<T>`](crate::Json), [`Bincode<T>`](crate::Bincode)…); see [`get_as`].
///
/// ```no_run
/// wasp_sdk::kv::set_as("greeting", "hello")?;
/// wasp_sdk::kv::set_as("limits", wasp_sdk::Json([1, 10, 100]))?;
/// # Ok::<(), wasp_sdk::Error>(())
/// ```
///
/// # Errors
/// As [`set`]; also code `kv` when `value` cannot be encoded (nothing is written then).
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn set_as<T: IntoBytes>(key: &str, value: T) -> Result<(), Error> {
    set(key, &encode(key, value)?)
}

/// The host's message as an [`Error`] of code `kv`.
fn kv_error(message: String) -> Error {
    Error::new("kv", message)
}

fn decode<T: FromBytes>(key: &str, bytes: Vec<u8>) -> Result<T, Error> {
    T::from_bytes(bytes)
        .map_err(|e| kv_error(format!("the value of key `{key}` cannot be decoded: {e}")))
}

fn encode<T: IntoBytes>(key: &str, value: T) -> Result<Vec<u8>, Error> {
    value
        .into_bytes()
        .map_err(|e| kv_error(format!("the value for key `{key}` cannot be encoded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Json;
    use std::collections::HashMap;

    #[test]
    fn host_errors_have_code_kv_and_the_hosts_message() {
        let e = kv_error("kv is not granted to plugin 'p'".to_string());
        assert_eq!(
            (e.code(), e.message()),
            ("kv", "kv is not granted to plugin 'p'")
        );
    }

    #[test]
    fn typed_values_round_trip() {
        let bytes = encode("k", Json(vec![1, 2])).unwrap();
        assert_eq!(bytes, b"[1,2]");
        let Json(back): Json<Vec<i32>> = decode("k", bytes).unwrap();
        assert_eq!(back, [1, 2]);
        assert_eq!(encode("k", "text").unwrap(), b"text");
        assert_eq!(decode::<String>("k", b"text".to_vec()).unwrap(), "text");
    }

    #[test]
    fn codec_failures_name_the_key() {
        let e = decode::<String>("name", vec![0xff]).unwrap_err();
        assert_eq!(e.code(), "kv");
        assert!(
            e.message()
                .starts_with("the value of key `name` cannot be decoded: not valid UTF-8"),
            "{e}"
        );
        // JSON maps need string keys: encoding a map keyed by tuples fails.
        let e = encode("m", Json(HashMap::from([((1, 2), 3)]))).unwrap_err();
        assert_eq!(e.code(), "kv");
        assert!(
            e.message()
                .starts_with("the value for key `m` cannot be encoded: invalid json"),
            "{e}"
        );
    }
}
