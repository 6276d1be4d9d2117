//! `wasp check`: validate a manifest and load every plugin, without calling.

use std::path::PathBuf;

use wasp_host::manifest::Manifest;

use crate::{CliResult, build_runtime, manifest_path};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest (default ./wasp.toml).
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let manifest = Manifest::from_file(manifest_path(&a.manifest))?;
    let file = manifest.file().display().to_string();
    for key in manifest.not_enforced() {
        eprintln!("warning: {file}: `{key}` is checked but not enforced by this version of wasp");
    }
    // In memory: checking must not change the operator's state.
    let runtime = build_runtime(None)?;
    let mut count = 0;
    for (name, entry) in manifest.plugins() {
        let plugin = runtime
            .load_file_as(name, entry.path(), entry.options().clone())
            .await?;
        let grants = entry.options().grants_value();
        let no_network = grants.network_value().is_empty() && grants.listen_value().is_empty();
        for import in plugin
            .imports()
            .iter()
            .filter(|i| i.starts_with("wasi:sockets/"))
        {
            if no_network {
                eprintln!(
                    "warning: {file}: plugin '{name}' imports {import} but is granted no network or listen address: its socket calls will fail at run time"
                );
            }
        }
        let info = plugin.info();
        println!(
            "ok: {name}: {} {} (wasp:plugin@{}), functions: {}",
            info.name,
            info.version,
            plugin.api_version(),
            info.functions.join(", ")
        );
        count += 1;
    }
    if let Some(stages) = manifest.pipeline() {
        println!("ok: pipeline: {}", stages.join(" → "));
    }
    println!("{file}: {count} plugin(s) loaded, manifest valid");
    Ok(())
}
