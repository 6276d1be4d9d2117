//! Building and loading a plugin crate from Rust: what `wasp build` runs, and the
//! helper a plugin's own `cargo test` uses to call the plugin through the real host.
//!
//! ```no_run
//! // tests/plugin.rs of a plugin crate (wasp-host as a dev-dependency):
//! #[tokio::test]
//! async fn greets_through_the_host() {
//!     let plugin = wasp_host::testing::load_crate(env!("CARGO_MANIFEST_DIR")).await.unwrap();
//!     let out: String = plugin.call("greet", "world").await.unwrap();
//!     assert_eq!(out, "Hello, world!");
//! }
//! ```

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{BuildError, Result};
use crate::plugin::Plugin;
use crate::runtime::Runtime;
use crate::spec::options::PluginOptions;

/// What every plugin is built with: SIMD, which wasmtime runs on every platform
/// wasp does (a byte loop gets several times faster).
const RUSTFLAGS: &str = r#"target.wasm32-wasip1.rustflags=["-C", "target-feature=+simd128"]"#;

/// `cargo build --release --target wasm32-wasip1` of the crate in `dir` (its
/// messages go to stderr), into `target_dir` if given; returns the path of the
/// `.wasm` it made (a core module, which the host adapts when it loads it).
///
/// # Errors
/// [`BuildError`]: no `Cargo.toml`, cargo missing or failing, no `cdylib`.
pub fn build_crate(
    dir: impl AsRef<Path>,
    target_dir: Option<&Path>,
) -> std::result::Result<PathBuf, BuildError> {
    let dir = dir.as_ref();
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate {
            dir: dir.to_path_buf(),
        });
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip1"])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Cargo joins rustflags from all its configs: a crate that sets SIMD itself
    // (`wasp new`'s scaffold does) must not get it twice, or its build would not
    // match one with the flag once.
    let own = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap_or_default();
    if !own.contains("simd128") {
        cmd.args(["--config", RUSTFLAGS]);
    }
    if let Some(target) = target_dir {
        cmd.arg("--target-dir").arg(target);
    }
    let mut child = cmd.spawn().map_err(|source| BuildError::Spawn { source })?;
    let mut wasm = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
        {
            if let Some(path) = cdylib_wasm(&line) {
                wasm = Some(path);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|source| BuildError::Spawn { source })?;
    if !status.success() {
        return Err(BuildError::Failed { manifest });
    }
    wasm.ok_or(BuildError::NoArtifact { manifest })
}

/// The `.wasm` of a `cdylib` in one of cargo's JSON messages.
fn cdylib_wasm(line: &str) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    let is_cdylib = msg["reason"] == "compiler-artifact"
        && msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
    if !is_cdylib {
        return None;
    }
    msg["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// Builds the plugin crate in `dir` ([`build_crate`], blocking this task's thread
/// for the build) and loads it on a runtime of its own with default options:
/// nothing granted, default limits.
///
/// # Errors
/// [`crate::Error::Build`] when the build fails, else as [`Runtime::load_file`].
pub async fn load_crate(dir: impl AsRef<Path>) -> Result<Plugin> {
    load_crate_with(dir, PluginOptions::default()).await
}

/// [`load_crate`] with `options` (grants, limits, config).
///
/// # Errors
/// As [`load_crate`].
pub async fn load_crate_with(dir: impl AsRef<Path>, options: PluginOptions) -> Result<Plugin> {
    let dir = dir.as_ref().to_path_buf();
    let wasm = tokio::task::spawn_blocking(move || build_crate(&dir, None))
        .await
        .map_err(|source| crate::error::Error::Task {
            what: "building a plugin crate",
            source,
        })??;
    let runtime = Runtime::builder().instance_pool(16).build()?;
    runtime.load_file(wasm, options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wasm_of_a_cdylib_in_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/t/release/p.wasm"]}"#;
        assert_eq!(cdylib_wasm(line), Some(PathBuf::from("/t/release/p.wasm")));
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libx.rlib"]}"#;
        assert_eq!(cdylib_wasm(lib), None);
        assert_eq!(cdylib_wasm("not json"), None);
    }

    #[test]
    fn a_directory_without_cargo_toml_is_not_a_crate() {
        let dir = tempfile::tempdir().unwrap();
        let err = build_crate(dir.path(), None).unwrap_err();
        assert!(matches!(err, BuildError::NotACrate { .. }), "{err}");
    }
}
