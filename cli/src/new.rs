//! `wasp new NAME`: a plugin crate that builds as is.

use std::path::{Path, PathBuf};

use crate::{CliResult, Failure};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The plugin's name (also the directory and crate name).
    name: String,
    /// Where wasp-sdk lives (default: the guest-sdk of the wasp source tree this
    /// binary was built from).
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
    /// Create the crate in DIR instead of ./NAME.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn valid_crate_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn run(a: Args) -> CliResult {
    if !valid_crate_name(&a.name) {
        return Err(Failure::usage(format!(
            "invalid plugin name `{}`: start with a letter, then letters, digits, '-' or '_'",
            a.name
        )));
    }
    let dir = a.dir.unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; choose another name or --dir",
            dir.display()
        )));
    }
    let sdk = match a.sdk_path {
        Some(p) => p,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"),
    };
    let sdk = sdk.canonicalize().map_err(|e| {
        Failure::usage(format!(
            "cannot find wasp-sdk at {} ({e}); pass --sdk-path",
            sdk.display()
        ))
    })?;
    let crate_ident = a.name.replace('-', "_");
    let files: [(&str, String); 5] = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "A wasp plugin."

[lib]
crate-type = ["cdylib"]

[dependencies]
wasp-sdk = {{ path = "{sdk}" }}

[profile.release]
opt-level = "s"
strip = "debuginfo"

# Its own workspace, so it builds wherever it is created.
[workspace]
"#,
                name = a.name,
                sdk = sdk.display().to_string().replace('\\', "/"),
            ),
        ),
        (
            ".cargo/config.toml",
            "[build]\n# Plugins are wasm32-wasip1 modules; wasp adapts them into components.\ntarget = \"wasm32-wasip1\"\n\n# SIMD: wasmtime runs it on every platform wasp does; byte loops get much faster.\n[target.wasm32-wasip1]\nrustflags = [\"-C\", \"target-feature=+simd128\"]\n".to_string(),
        ),
        (".gitignore", "/target\n".to_string()),
        (
            "src/lib.rs",
            format!(
                r#"//! The `{name}` wasp plugin.
#![forbid(unsafe_code)]

use wasp_sdk::{{Error, plugin, plugin_fn}};

// Name, version and description come from Cargo.toml.
plugin!(functions = [greet]);

/// Greets someone: `wasp call target/wasm32-wasip1/release/{ident}.wasm greet world`.
#[plugin_fn]
fn greet(name: String) -> Result<String, Error> {{
    if name.trim().is_empty() {{
        return Err(Error::new("empty", "give a name to greet"));
    }}
    let greeting = wasp_sdk::config::get("greeting").unwrap_or_else(|| "Hello".to_string());
    wasp_sdk::info!("greeting {{name}}");
    Ok(format!("{{greeting}}, {{name}}!"))
}}
"#,
                name = a.name,
                ident = crate_ident,
            ),
        ),
        (
            "README.md",
            format!(
                "# {name}\n\nA wasp plugin.\n\n```sh\nwasp build                 # cargo build --release for wasm32-wasip1, then {ident}.wasm\nwasp call {ident}.wasm greet world\n```\n\n`wasp build` prints the plugin's size, API version and sha256 (to pin in a\nmanifest). If the target is missing: `rustup target add wasm32-wasip1`.\n",
                name = a.name,
                ident = crate_ident
            ),
        ),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    println!(
        "created {}: build it with `cd {} && wasp build`, then `wasp call {crate_ident}.wasm greet world`",
        dir.display(),
        dir.display()
    );
    Ok(())
}
