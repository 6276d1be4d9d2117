//! Tells a component from a core module from anything else.

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
    /// Something else; the text says what it looks like.
    Other(String),
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
        "the file is empty, not a WebAssembly binary".to_string()
    } else if bytes.starts_with(b"\0asm") {
        "it is a WebAssembly binary of an unsupported version or layer".to_string()
    } else if bytes.trim_ascii_start().starts_with(b"(") {
        "it looks like WebAssembly text (WAT); compile it to a binary first".to_string()
    } else {
        let head: String = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        format!("it is not a WebAssembly binary (it starts with {head}, not 00 61 73 6d)")
    };
    BinaryKind::Other(why)
}
