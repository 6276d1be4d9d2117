//! The `wasp-sdk` custom section survives a plugin's release build (LTO,
//! `strip = "debuginfo"`): builds `plugins/upper` (SDK) and `plugins/wordcount` (no
//! SDK) for wasm32-wasip1 the way the host's tests do, and reads the custom sections
//! of the `.wasm` files without instantiating anything.
//!
//! Needs the `wasm32-wasip1` target (`make test` installs it). The build goes to
//! `target/wasm`, the guest target directory that `tests/build.rs` also uses, so it is
//! usually up to date.

use std::path::{Path, PathBuf};
use std::process::Command;
use wasmparser::{Parser, Payload};

/// The repository root (this crate is `guest-sdk/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("guest-sdk has a parent")
        .to_path_buf()
}

/// Builds the example plugins `packages` in release mode, returns the release directory.
fn build_plugins(packages: &[&str]) -> PathBuf {
    let target_dir = root().join("target/wasm");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(root().join("plugins"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(&target_dir);
    for package in packages {
        cargo.args(["-p", package]);
    }
    // Settings of the outer build must not leak into the guest build.
    for variable in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        cargo.env_remove(variable);
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building {packages:?} failed: {status}");
    target_dir.join("wasm32-wasip1/release")
}

/// The contents of every custom section named `name`, in order.
fn custom_sections(wasm: &Path, name: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        if let Payload::CustomSection(section) =
            payload.unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
            && section.name() == name
        {
            found.push(section.data().to_vec());
        }
    }
    found
}

#[test]
fn release_plugins_carry_the_sdk_version_and_others_do_not() {
    let release = build_plugins(&["upper", "wordcount"]);
    let sections = custom_sections(&release.join("upper.wasm"), "wasp-sdk");
    assert_eq!(
        sections,
        [env!("CARGO_PKG_VERSION").as_bytes()],
        "upper.wasm should hold one `wasp-sdk` section with the SDK's version"
    );
    // wordcount is written with plain wit-bindgen: no SDK, no section.
    assert!(custom_sections(&release.join("wordcount.wasm"), "wasp-sdk").is_empty());
}
