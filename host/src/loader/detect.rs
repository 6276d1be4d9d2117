//! Tells a component from a core module from anything else.

use crate::error::NotWasm;

/// What a file holds.
///
/// ```
/// use wasp_host::loader::{detect, BinaryKind};
/// assert_eq!(detect(b"\0asm\x01\0\0\0"), BinaryKind::CoreModule);
/// assert!(matches!(detect(b"hello"), BinaryKind::Other(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryKind {
    /// A WebAssembly component.
    Component,
    /// A core WebAssembly module (e.g. `cargo build --target wasm32-wasip1`).
    CoreModule,
    /// Something else: what it looks like.
    Other(NotWasm),
}

/// Looks at the header of `bytes`.
///
/// ```
/// use wasp_host::loader::{detect, BinaryKind};
/// assert_eq!(detect(b"\0asm\x0d\0\x01\0"), BinaryKind::Component);
/// ```
pub fn detect(bytes: &[u8]) -> BinaryKind {
    if wasmparser::Parser::is_component(bytes) {
        return BinaryKind::Component;
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return BinaryKind::CoreModule;
    }
    let why = if bytes.is_empty() {
        NotWasm::Empty
    } else if bytes.starts_with(b"\0asm") {
        NotWasm::UnsupportedBinary
    } else if bytes.trim_ascii_start().starts_with(b"(") {
        NotWasm::Text
    } else {
        NotWasm::Other {
            head: bytes.iter().take(8).copied().collect(),
        }
    };
    BinaryKind::Other(why)
}
