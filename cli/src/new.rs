//! `wasp new NAME [--lang rust|python]`: a plugin project that builds (with
//! `wasp build`) and passes its own test as generated.
//!
//! - **rust**: a crate depending on wasp-sdk (by path to the SDK of the wasp source
//!   tree this binary was built from, when that tree is on disk, else the published
//!   `wasp-sdk = "0.3"`), `.cargo/config.toml` with the wasm target's flags, an
//!   example function with a unit test that runs on the host target (`cargo test`),
//!   and a `wasp.toml` to try it.
//! - **python**: `app.py` implementing the world with componentize-py's bindings,
//!   the world itself in `wit/` (`wasp:plugin@0.3.0`), and a `wasp.toml`.

use std::path::{Path, PathBuf};

use crate::{CliResult, Failure};

/// The world new plugins target: the newest one.
const WORLD: &str = include_str!("../../wit/v0.3.0/plugin.wit");

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    Rust,
    Python,
}

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The plugin's name (also the directory and crate name).
    name: String,
    /// The plugin's language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// Where wasp-sdk lives (default: the guest-sdk of the wasp source tree this
    /// binary was built from if it is there, else the published wasp-sdk 0.3).
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
    /// Create the project in DIR instead of ./NAME.
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
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; choose another name or --dir",
            dir.display()
        )));
    }
    let ident = a.name.replace('-', "_");
    let files = match a.lang {
        Lang::Rust => rust_files(&a, &ident)?,
        Lang::Python => python_files(&a.name, &ident),
    };
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
        "created {}: build it with `cd {} && wasp build`, then `wasp call -m wasp.toml {} greet world`",
        dir.display(),
        dir.display(),
        a.name
    );
    Ok(())
}

/// The `wasp.toml` that tries the plugin: its file, and the config it reads.
fn manifest(name: &str, ident: &str) -> String {
    format!(
        "# Try the plugin: `wasp build`, then `wasp call -m wasp.toml {name} greet world`.\n\
         [plugins.{name}]\npath = \"{ident}.wasm\"\nconfig = {{ greeting = \"Hello\" }}\n"
    )
}

fn rust_files(a: &Args, ident: &str) -> Result<Vec<(&'static str, String)>, Failure> {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (sdk, host, lock) = match &a.sdk_path {
        Some(p) => {
            let p = p.canonicalize().map_err(|e| {
                Failure::usage(format!(
                    "cannot find wasp-sdk at {} ({e}); pass --sdk-path",
                    p.display()
                ))
            })?;
            // The host is the SDK's sibling in a wasp source tree.
            let host = p.join("../host").canonicalize().ok();
            (path_dep(&p), host.map(|h| path_dep(&h)), None)
        }
        None => match tree.join("guest-sdk").canonicalize() {
            Ok(p) => (
                path_dep(&p),
                tree.join("host").canonicalize().ok().map(|h| path_dep(&h)),
                std::fs::read_to_string(tree.join("Cargo.lock")).ok(),
            ),
            Err(_) => ("\"0.3\"".to_string(), None, None),
        },
    };
    let host = host.unwrap_or_else(|| "\"0.1\"".to_string());
    let mut files = vec![];
    // In a wasp source tree, the tree's lock: the host's dependencies resolve to
    // the versions already built there (cargo drops what this crate does not use).
    if let Some(lock) = lock {
        files.push(("Cargo.lock", lock));
    }
    files.extend([
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
wasp-sdk = {sdk}

# `cargo test` on this machine: tests/host.rs builds the plugin and calls it
# through the real wasp host.
[target.'cfg(not(target_family = "wasm"))'.dev-dependencies]
wasp-host = {host}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

[profile.release]
opt-level = "s"
# Not "symbols": the name section stays, so guest profiles (`wasp call --profile`)
# show the plugin's function names.
strip = "debuginfo"

# The host's compiler (Cranelift) optimised even in test builds: it compiles the
# plugin in tests/host.rs, and unoptimised it would crawl.
[profile.dev.package."*"]
opt-level = 2
debug = false

# Its own workspace, so it builds wherever it is created.
[workspace]
"#,
                name = a.name,
            ),
        ),
        (
            ".cargo/config.toml",
            "# Plugins are wasm32-wasip1 modules (`wasp build` builds for it and adapts the\n\
             # module into a component); `cargo test` runs the unit tests on this machine.\n\
             # SIMD: wasmtime runs it on every platform wasp does; byte loops get much faster.\n\
             [target.wasm32-wasip1]\nrustflags = [\"-C\", \"target-feature=+simd128\"]\n"
                .to_string(),
        ),
        (".gitignore", "/target\n/*.wasm\n".to_string()),
        (
            "tests/host.rs",
            r#"//! The plugin built for wasm32-wasip1 and called through the real wasp host,
//! as an application would: `cargo test` runs this next to the unit tests.
#![cfg(not(target_family = "wasm"))]

use wasp_host::PluginOptions;

#[tokio::test]
async fn greets_through_the_host() {
    let options = PluginOptions::default().config("greeting", "Hi");
    let plugin = wasp_host::testing::load_crate_with(env!("CARGO_MANIFEST_DIR"), options)
        .await
        .expect("the plugin builds and loads");
    let out: String = plugin.call("greet", "world").await.expect("greet");
    assert_eq!(out, "Hi, world!");
    // A plugin error reaches the caller with its code.
    let err = plugin.call::<_, String>("greet", " ").await.unwrap_err();
    assert!(
        matches!(&err, wasp_host::Error::Plugin { code, .. } if code == "empty"),
        "{err}"
    );
}
"#
            .to_string(),
        ),
        ("wasp.toml", manifest(&a.name, ident)),
        (
            "src/lib.rs",
            format!(
                r#"//! The `{name}` wasp plugin.
#![forbid(unsafe_code)]

use wasp_sdk::{{Error, plugin, plugin_fn}};

// Name, version and description come from Cargo.toml.
plugin!(functions = [greet]);

/// Greets someone: `wasp call -m wasp.toml {name} greet world`. The greeting
/// comes from the manifest's `config` (default "Hello").
#[plugin_fn]
fn greet(name: String) -> Result<String, Error> {{
    let greeting = wasp_sdk::config::get("greeting").unwrap_or_else(|| "Hello".to_string());
    let text = greeting_for(&greeting, &name)?;
    wasp_sdk::info!("greeted {{name}}");
    Ok(text)
}}

/// The plugin's logic, plain Rust: tested on the host target by `cargo test`.
fn greeting_for(greeting: &str, name: &str) -> Result<String, Error> {{
    if name.trim().is_empty() {{
        return Err(Error::new("empty", "give a name to greet"));
    }}
    Ok(format!("{{greeting}}, {{name}}!"))
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn greets_by_name_and_refuses_no_name() {{
        assert_eq!(greeting_for("Hello", "world").unwrap(), "Hello, world!");
        assert_eq!(greeting_for("Hi", " ").unwrap_err().code(), "empty");
    }}
}}
"#,
                name = a.name,
            ),
        ),
        (
            "README.md",
            format!(
                "# {name}\n\nA wasp plugin.\n\n```sh\ncargo test                 # unit tests, on this machine\nwasp build                 # cargo build --release for wasm32-wasip1, then {ident}.wasm\nwasp call -m wasp.toml {name} greet world\n```\n\n`wasp build` prints the plugin's size, API version and sha256 (to pin in a\nmanifest). If the target is missing: `rustup target add wasm32-wasip1`.\n",
                name = a.name,
            ),
        ),
    ]);
    Ok(files)
}

/// A Cargo dependency on the crate at `dir`.
fn path_dep(dir: &Path) -> String {
    format!(
        "{{ path = \"{}\" }}",
        dir.display().to_string().replace('\\', "/")
    )
}

fn python_files(name: &str, ident: &str) -> Vec<(&'static str, String)> {
    vec![
        ("wit/plugin.wit", WORLD.to_string()),
        ("wasp.toml", manifest(name, ident)),
        (".gitignore", "/*.wasm\n__pycache__/\n".to_string()),
        (
            "app.py",
            format!(
                r#""""The `{name}` wasp plugin, in Python (componentize-py, wasp:plugin@0.3.0)."""

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import LogLevel, PluginError, PluginInfo


def greet(data: bytes) -> bytes:
    name = data.decode("utf-8", errors="replace").strip()
    if not name:
        raise Err(PluginError("empty", "give a name to greet"))
    greeting = host.get_config("greeting") or "Hello"
    host.log(LogLevel.INFO, "greeted", [("name", name)])
    return f"{{greeting}}, {{name}}!".encode()


FUNCTIONS = {{"greet": greet}}


class Guest(exports.Guest):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{name}",
            version="0.1.0",
            description="A wasp plugin in Python.",
            functions=list(FUNCTIONS),
        )

    def init(self) -> None:
        pass

    def call(self, function: str, input: bytes) -> bytes:
        f = FUNCTIONS.get(function)
        if f is None:
            available = ", ".join(FUNCTIONS)
            raise Err(PluginError("unknown-function", f"no function `{{function}}`; available: {{available}}"))
        return f(input)

    def call_batch(self, function: str, inputs: list[bytes]) -> list:
        results = []
        for data in inputs:
            try:
                results.append(Ok(self.call(function, data)))
            except Err as e:
                results.append(e)
        return results

    def shutdown(self) -> None:
        pass
"#
            ),
        ),
        (
            "README.md",
            format!(
                "# {name}\n\nA wasp plugin in Python.\n\n```sh\npip install componentize-py==0.25.1\nwasp build                 # componentize-py → {ident}.wasm\nwasp call -m wasp.toml {name} greet world\n```\n\n`wit/plugin.wit` is the world it implements (`wasp:plugin@0.3.0`).\n"
            ),
        ),
    ]
}
