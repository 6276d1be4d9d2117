//! `wasp check`: validate a manifest and prepare every plugin — files, grants,
//! bytes, versions, imports, `info` — without running any plugin's `init`
//! (`--init` runs it too).

use std::path::PathBuf;

use wasp_host::manifest::Manifest;

use crate::{CliResult, build_runtime, manifest_path};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest (default ./wasp.toml).
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Also instantiate each plugin and run its `init`, within its limits.
    #[arg(long)]
    init: bool,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let manifest = Manifest::from_file(manifest_path(&a.manifest))?;
    let file = manifest.file().display().to_string();
    // In memory: checking must not change the operator's state.
    let runtime = build_runtime(&crate::Settings {
        instances: crate::pool_for(Some(&manifest)),
        ..Default::default()
    })?;
    let checked = runtime.check(&manifest).await?;
    for (name, i) in &checked {
        let Some(entry) = manifest.plugin(name) else {
            continue;
        };
        let grants = &entry.options().grants;
        let no_network = grants.network.is_empty() && grants.listen.is_empty();
        for import in i
            .shape
            .imports
            .iter()
            .filter(|i| i.starts_with("wasi:sockets/"))
        {
            if no_network {
                eprintln!(
                    "warning: {file}: plugin '{name}' imports {import} but is granted no network or listen address: its socket calls will fail at run time"
                );
            }
        }
        if let (Some(info), Some(v)) = (&i.info, i.api_version) {
            println!(
                "ok: {name}: {} {} (wasp:plugin@{v}), functions: {}",
                info.name,
                info.version,
                info.functions.join(", ")
            );
        }
    }
    if a.init {
        // Loading is prepare + init; the set is dropped (and shut down) after.
        let plugins = runtime.load(&manifest).await?;
        for name in plugins.names() {
            println!("ok: {name}: init succeeded");
            plugins.unload(&name).await;
        }
    }
    if let Some(stages) = manifest.pipeline() {
        println!("ok: pipeline: {}", stages.join(" → "));
    }
    println!(
        "{file}: {} plugin(s) checked{}, manifest valid",
        checked.len(),
        if a.init { " and initialised" } else { "" }
    );
    Ok(())
}
