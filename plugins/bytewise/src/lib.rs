//! `bytewise`: byte loops over the input, the kind of code SIMD speeds up. Built
//! with `-C target-feature=+simd128` (what `wasp build` and this repository's
//! builds use), the compiler turns these loops into 16-bytes-at-a-time wasm SIMD,
//! which wasmtime compiles to the CPU's vector instructions; `make bench` compares
//! the same plugin built without it (`simd/…` in the README's table).
//!
//! | function | input | output |
//! |---|---|---|
//! | `upper` | bytes | the bytes with ASCII letters in upper case |
//! | `count` | bytes; the first byte is the one to count | how many of the rest equal it, as decimal text |
#![forbid(unsafe_code)]

use wasp_sdk::{plugin, plugin_fn};

plugin!(functions = [upper, count]);

/// ASCII upper case, in place.
#[plugin_fn]
fn upper(mut data: Vec<u8>) -> Vec<u8> {
    data.make_ascii_uppercase();
    data
}

/// How many bytes after the first equal the first.
#[plugin_fn]
fn count(data: Vec<u8>) -> String {
    match data.split_first() {
        Some((needle, rest)) => count_of(*needle, rest).to_string(),
        None => "0".to_string(),
    }
}

fn count_of(needle: u8, haystack: &[u8]) -> usize {
    haystack.iter().filter(|&&b| b == needle).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_and_count() {
        assert_eq!(upper(b"abc-1".to_vec()), b"ABC-1");
        assert_eq!(count(b"aabca".to_vec()), "2");
        assert_eq!(count(Vec::new()), "0");
    }
}
