//! Support for wasp's integration tests (`tests/all/`): real plugins, built from
//! source.
//!
//! `build.rs` builds the two guest workspaces, `plugins/` (the example plugins) and
//! `tests/fixtures/` (test-only plugins), with `cargo build --release --target
//! wasm32-wasip1` into `target/wasm/`, and [`fixtures`] holds the absolute path of
//! each `.wasm` they make. Every one is a core wasm32-wasip1 module; all but
//! [`fixtures::NOWORLD`] carry the `component-type` custom section that describes
//! their world, so the host can turn them into components.
//!
//! | constant | crate | what it is |
//! |---|---|---|
//! | [`UPPER`](fixtures::UPPER) | `plugins/upper` | `upper`, `process`: uppercases text or one JSON field (config `field`) |
//! | [`REDACT`](fixtures::REDACT) | `plugins/redact` | `redact`, `process`: masks e-mail addresses and card numbers |
//! | [`STATS`](fixtures::STATS) | `plugins/stats` | `process`, `counts`, `reset`: state across calls (config `key`, read in `init`) |
//! | [`LOGPARSE`](fixtures::LOGPARSE) | `plugins/logparse` | `parse`, `process`: `key=value` log lines to JSON (the porting guide's example) |
//! | [`BYTEWISE`](fixtures::BYTEWISE) | `plugins/bytewise` | `upper`, `count`: byte loops that `+simd128` vectorizes |
//! | [`WORDCOUNT`](fixtures::WORDCOUNT) | `plugins/wordcount` | `count`, `process`: made with plain wit-bindgen, no SDK |
//! | [`HOSTILE`](fixtures::HOSTILE) | `tests/fixtures/hostile` | one function per misbehaviour: loops, panics, memory bombs, exits, I/O… |
//! | [`VERSION9`](fixtures::VERSION9) | `tests/fixtures/version9` | a plugin of `wasp:plugin@9.9.0`, a version no host supports |
//! | [`NOWORLD`](fixtures::NOWORLD) | `tests/fixtures/noworld` | a core module that is no plugin: exports `add` only |
//! | [`SANDBOX`](fixtures::SANDBOX) | `tests/fixtures/sandbox` | tries every way out of its sandbox and reports what happened |
//! | [`INIT_LOOP`](fixtures::INIT_LOOP) | `tests/fixtures/init-loop` | an `init` that never returns (`check` and `inspect` must not run it) |
//! | [`INIT_TRAP`](fixtures::INIT_TRAP) | `tests/fixtures/init-trap` | an `init` that panics |
//! | [`PASS`](fixtures::PASS) | `tests/fixtures/pass` | `process` returns the event unchanged (pass-through stage for benchmarks) |
//! | [`BATCH_LIAR`](fixtures::BATCH_LIAR) | `tests/fixtures/batch-liar` | a 0.3.0 plugin (plain wit-bindgen) whose `call-batch` returns too few (`process`) or too many (`long`) results |
//! | [`REPLAY`](fixtures::REPLAY), [`REPLAY_FIXED`](fixtures::REPLAY_FIXED) | `tests/fixtures/replay`, `replay-fixed` | seeds a generator once per instance and panics on an odd draw (the fix: an output); `world` reads clocks, random, config, a host function, kv |
//! | [`SHADOW`](fixtures::SHADOW), [`SHADOW_V2`](fixtures::SHADOW_V2) | `tests/fixtures/shadow`, `shadow-v2` | counts events in kv; version 2 also marks kv, panics or differs where an event asks (shadow rollout) |
//!
//! [`foreach_fixture!`] calls a macro once per fixture, with the fixture's snake-case
//! name and its constant's name, so that a test module can make an untested fixture
//! a compile error, in the manner of wasmtime's test-programs:
//!
//! ```
//! // In a test module: one test per fixture, named after it.
//! # #[allow(dead_code)]
//! mod fixture_tests {
//!     macro_rules! assert_tested {
//!         ($name:ident, $konst:ident) => {
//!             // Fails to compile when no item `$name` exists in this module.
//!             #[allow(unused_imports)]
//!             use self::$name as _;
//!             // The constant's value is the path of the `.wasm`.
//!             const _: &str = wasp_tests::fixtures::$konst;
//!         };
//!     }
//!     wasp_tests::foreach_fixture!(assert_tested);
//!
//!     fn upper() {}
//!     fn redact() {}
//!     fn stats() {}
//!     fn wordcount() {}
//!     fn logparse() {}
//!     fn bytewise() {}
//!     fn hostile() {}
//!     fn version9() {}
//!     fn noworld() {}
//!     fn sandbox() {}
//!     fn init_loop() {}
//!     fn init_trap() {}
//!     fn batch_liar() {}
//!     fn pass() {}
//!     fn replay() {}
//!     fn replay_fixed() {}
//!     fn shadow() {}
//!     fn shadow_v2() {}
//! }
//! ```
//!
//! The fixtures are rebuilt when their sources, the SDK, the codec or the WIT
//! change. Building them needs the `wasm32-wasip1` target
//! (`rustup target add wasm32-wasip1`).
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod nats;

/// The paths of the built `.wasm` files, one constant per guest crate (its name in
/// upper case, `-` as `_`), and [`ALL`](fixtures::ALL).
#[macro_use]
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// The bytes of the `.wasm` at `path`, usually a [`fixtures`] constant.
///
/// ```
/// let bytes = wasp_tests::wasm_bytes(wasp_tests::fixtures::UPPER);
/// assert_eq!(&bytes[..4], b"\0asm");
/// ```
///
/// # Panics
/// When the file cannot be read (e.g. `target/wasm` was deleted after the build:
/// touch `tests/build.rs` to rebuild the fixtures).
pub fn wasm_bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!("cannot read fixture {path}: {e} (touch tests/build.rs to rebuild the fixtures)")
    })
}

/// This process's resident memory in bytes (Linux; 0 elsewhere).
///
/// ```
/// assert!(wasp_tests::rss_bytes() > 0);
/// ```
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

#[cfg(test)]
mod tests {
    use super::fixtures;

    /// Every fixture is a core module, with the component type section for all but
    /// `noworld`; names and paths agree.
    #[test]
    fn fixtures_are_core_modules_with_a_world() {
        assert_eq!(fixtures::ALL.len(), 18);
        for &(name, path) in fixtures::ALL {
            let bytes = super::wasm_bytes(path);
            assert!(
                bytes.starts_with(b"\0asm\x01\0\0\0"),
                "{name}: not a core module"
            );
            let file = name.replace('-', "_");
            assert!(path.ends_with(&format!("/{file}.wasm")), "{name}: {path}");
            let has_world = bytes
                .windows(b"component-type".len())
                .any(|w| w == b"component-type");
            assert_eq!(
                has_world,
                name != "noworld",
                "{name}: component-type section"
            );
        }
    }

    #[test]
    fn foreach_fixture_names_every_fixture() {
        let mut names = Vec::new();
        macro_rules! collect {
            ($name:ident, $konst:ident) => {
                names.push((stringify!($name), fixtures::$konst));
            };
        }
        foreach_fixture!(collect);
        let all: Vec<(String, &str)> = fixtures::ALL
            .iter()
            .map(|(n, p)| (n.replace('-', "_"), *p))
            .collect();
        let names: Vec<(String, &str)> =
            names.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
        assert_eq!(names, all);
    }
}
