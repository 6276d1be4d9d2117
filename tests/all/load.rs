//! Loading: core modules and components, versions, corrupt bytes, pins.

use wasp_host::loader::componentize;
use wasp_host::{ApiVersion, Error, PluginOptions};
use wasp_tests::{fixtures, wasm_bytes};

use crate::{load_as, runtime};

#[tokio::test]
async fn core_module_is_adapted_and_reports_info() {
    let p = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    assert!(p.was_adapted());
    // The example plugins are built with the current SDK (0.3.0); the golden
    // binaries cover 0.1.0.
    assert_eq!(p.api_version(), ApiVersion::V0_3_0);
    assert_eq!(p.info().name, "upper");
    assert!(p.info().functions.iter().any(|f| f == "upper"));
    assert!(p.imports().iter().any(|i| i.starts_with("wasi:")));
    assert_eq!(p.sha256().len(), 64);
}

#[tokio::test]
async fn component_loads_directly() {
    let component = componentize(&wasm_bytes(fixtures::UPPER)).unwrap();
    let p = runtime()
        .load_bytes("upper-c", component, PluginOptions::default())
        .await
        .unwrap();
    assert!(!p.was_adapted());
    let out: String = p.call("upper", "component").await.unwrap();
    assert_eq!(out, "COMPONENT");
}

#[tokio::test]
async fn plugin_built_without_the_sdk_works() {
    let p = load_as("wordcount", fixtures::WORDCOUNT, PluginOptions::default())
        .await
        .unwrap();
    let wasp_host::Json(v): wasp_host::Json<serde_json::Value> =
        p.call("count", "one two\nthree").await.unwrap();
    assert_eq!(v["words"], 3);
    assert_eq!(v["lines"], 2);
}

#[tokio::test]
async fn corrupt_bytes_are_a_clear_load_error() {
    let upper = wasm_bytes(fixtures::UPPER);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty"),
        (
            "garbage",
            b"MZ\x90\0 definitely not wasm".to_vec(),
            "not a WebAssembly binary",
        ),
        ("wat", b"(module)".to_vec(), "WebAssembly text"),
        (
            "truncated",
            upper[..upper.len() / 2].to_vec(),
            "core module",
        ),
    ];
    for (name, bytes, expect) in cases {
        let err = runtime()
            .load_bytes(name, bytes, PluginOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Load { .. }), "{name}: {err:?}");
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains(expect), "{name}: {text}");
        assert!(text.contains(&format!("plugin '{name}'")), "{name}: {text}");
    }
}

/// Never-panic property: flipped bytes give Ok or a typed error, nothing else.
#[tokio::test]
async fn mutated_bytes_never_panic() {
    let upper = wasm_bytes(fixtures::UPPER);
    let component = componentize(&upper).unwrap();
    // `make test` runs a bounded number; WASP_FUZZ_ROUNDS=N runs more (and
    // WASP_FUZZ_SEED another sequence) when hunting.
    let rounds: u64 = std::env::var("WASP_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15
        ^ std::env::var("WASP_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..rounds {
        let mut bytes = if round % 2 == 0 {
            upper.clone()
        } else {
            component.clone()
        };
        for _ in 0..(1 + next() % 4) {
            let i = (next() as usize) % bytes.len();
            bytes[i] ^= 1 << (next() % 8);
        }
        let r = runtime()
            .load_bytes("mutant", bytes, PluginOptions::default())
            .await;
        if let Err(e) = r {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[tokio::test]
async fn core_module_without_a_world_is_refused() {
    let err = load_as("noworld", fixtures::NOWORLD, PluginOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not a wasp plugin"), "{text}");
    assert!(text.contains("component-type"), "{text}");
}

#[tokio::test]
async fn other_api_version_is_refused_naming_both() {
    let err = load_as("version9", fixtures::VERSION9, PluginOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::UnsupportedVersion {
            found, supported, ..
        } => {
            assert_eq!(found, "9.9.0");
            assert_eq!(supported, wasp_host::ApiVersion::SUPPORTED);
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert!(err.to_string().contains("9.9.0") && err.to_string().contains("0.1.0"));
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn sha256_pin_is_enforced() {
    let p = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let mut pin = [0u8; 32];
    hex_decode(&p.sha256(), &mut pin);
    load_as(
        "upper",
        fixtures::UPPER,
        PluginOptions::default().sha256(pin),
    )
    .await
    .unwrap();
    pin[0] ^= 1;
    let err = load_as(
        "upper",
        fixtures::UPPER,
        PluginOptions::default().sha256(pin),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("sha256"), "{err}");
}

fn hex_decode(s: &str, out: &mut [u8; 32]) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
}

#[tokio::test]
async fn missing_file_is_an_io_error() {
    let err = load_as("nope", "/nonexistent/nope.wasm", PluginOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn init_error_fails_the_load() {
    let err = load_as(
        "hostile",
        fixtures::HOSTILE,
        PluginOptions::default().config("fail-init", "yes"),
    )
    .await
    .unwrap_err();
    match err {
        Error::Plugin { function, code, .. } => {
            assert_eq!(function, "init");
            assert_eq!(code, "init-failed");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_plugin_crate_builds_and_loads_through_the_testing_helpers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The shared guest target dir: the fixture is already built, cargo checks it.
    let wasm = wasp_host::testing::build_crate(
        root.join("fixtures/pass"),
        Some(&root.join("../target/wasm")),
    )
    .unwrap();
    assert!(wasm.ends_with("pass.wasm"), "{}", wasm.display());
    let p = crate::runtime()
        .load_file_as("built-pass", &wasm, wasp_host::PluginOptions::default())
        .await
        .unwrap();
    assert_eq!(p.call_raw("process", b"{}").await.unwrap(), b"{}");
    // Not a crate: a typed error, no build.
    let err = wasp_host::testing::load_crate(root.join("golden"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, wasp_host::Error::Build(b) if matches!(**b, wasp_host::BuildError::NotACrate { .. })),
        "{err:?}"
    );
}
