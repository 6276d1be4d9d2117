//! `wasp build [PATH]`: a plugin crate into a plugin ready to ship.
//!
//! Builds the crate with `wasp_host::testing::build_crate` (`cargo build --release
//! --target wasm32-wasip1`, with SIMD), adapts the module into a component with the
//! same code the host uses (`wasp_host::loader::componentize`), checks it as the
//! host would load it (`Runtime::inspect`: API version, `info`; `init` never runs),
//! and writes `NAME.wasm` into the crate's directory, printing its size, API
//! version and sha256 (the value to pin in a manifest).
//!
//! A directory with `app.py` and `wit/` and no `Cargo.toml` is a Python plugin
//! (`wasp new --lang python`): it is built with componentize-py (the program in
//! `$WASP_COMPONENTIZE_PY`, else `componentize-py` on the `PATH`) and checked the
//! same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{CliResult, Failure, build_runtime};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The plugin crate (a directory with Cargo.toml); default: the current one.
    path: Option<PathBuf>,
    /// Write the plugin to FILE instead of PATH/NAME.wasm.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Cargo's target directory (default: the crate's own).
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let dir = a.path.unwrap_or_else(|| PathBuf::from("."));
    let (name, component) = if !dir.join("Cargo.toml").exists() && dir.join("app.py").is_file() {
        python(&dir)?
    } else {
        rust(&dir, a.target_dir.as_deref())?
    };
    // Checked as the host loads it: a plugin that would not load is not written.
    let runtime = build_runtime(&crate::Settings::default())?;
    let inspection = runtime.inspect(&name, component.clone()).await?;
    if let Some(problem) = inspection.problem {
        return Err(problem.into());
    }
    let out = a.output.unwrap_or_else(|| dir.join(format!("{name}.wasm")));
    std::fs::write(&out, &component)
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
    let version = inspection
        .api_version
        .map_or_else(|| "unknown".to_string(), |v| v.to_string());
    println!("built {}", out.display());
    println!("size:    {} bytes", component.len());
    println!("api:     wasp:plugin@{version}");
    println!("sha256:  {}", inspection.sha256);
    Ok(())
}

/// A Rust crate: built, then adapted into a component.
fn rust(dir: &Path, target_dir: Option<&Path>) -> Result<(String, Vec<u8>), Failure> {
    let module =
        wasp_host::testing::build_crate(dir, target_dir).map_err(wasp_host::Error::from)?;
    let bytes = std::fs::read(&module)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", module.display())))?;
    let component = wasp_host::loader::componentize(&bytes).map_err(|e| {
        Failure::usage(format!(
            "{} is not a wasp plugin: {e} (does the crate use `wasp_sdk::plugin!`?)",
            module.display()
        ))
    })?;
    let name = module
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    Ok((name, component))
}

/// A Python project: `componentize-py -d wit -w plugin componentize app`.
fn python(dir: &Path) -> Result<(String, Vec<u8>), Failure> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", dir.display())))?;
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().replace('-', "_"))
        .unwrap_or_else(|| "plugin".into());
    let tool = std::env::var_os("WASP_COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into());
    let out = dir.join(format!("{name}.wasm.tmp"));
    let status = Command::new(&tool)
        .current_dir(&dir)
        .args(["-d", "wit", "-w", "plugin", "componentize", "app", "-o"])
        .arg(&out)
        .status()
        .map_err(|e| {
            Failure::usage(format!(
                "cannot run {} ({e}): install it with `pip install componentize-py==0.25.1`, or point WASP_COMPONENTIZE_PY at it",
                tool.to_string_lossy()
            ))
        })?;
    if !status.success() {
        let _ = std::fs::remove_file(&out);
        return Err(Failure::usage(format!(
            "componentize-py failed on {} (see above)",
            dir.join("app.py").display()
        )));
    }
    let component = std::fs::read(&out)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", out.display())))?;
    let _ = std::fs::remove_file(&out);
    Ok((name, component))
}
