//! `upper` for Extism: ASCII-uppercases the input bytes and returns them.
use extism_pdk::{FnResult, plugin_fn};

/// The input bytes with `a`..=`z` turned into `A`..=`Z`.
#[plugin_fn]
pub fn upper(input: Vec<u8>) -> FnResult<Vec<u8>> {
    let mut bytes = input;
    bytes.make_ascii_uppercase();
    Ok(bytes)
}
