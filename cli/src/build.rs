//! `wasp build [PATH]`: a plugin crate into a plugin ready to ship.
//!
//! Builds the crate with `wasp_host::testing::build_crate` (`cargo build --release
//! --target wasm32-wasip1`, with SIMD), adapts the module into a component with the
//! same code the host uses (`wasp_host::loader::componentize`), checks it as the
//! host would load it (`Runtime::inspect`: API version, `info`; `init` never runs),
//! and writes `NAME.wasm` into the crate's directory, printing its size, API
//! version and sha256 (the value to pin in a manifest).

use std::path::PathBuf;

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
    let module = wasp_host::testing::build_crate(&dir, a.target_dir.as_deref())
        .map_err(wasp_host::Error::from)?;
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
    // Checked as the host loads it: a plugin that would not load is not written.
    let runtime = build_runtime(None, std::time::Duration::ZERO, crate::pool_for(None))?;
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
