//! `wasp inspect`: what a plugin file is, without calling any of its functions
//! (it is instantiated, with nothing granted, to read `info`).

use std::path::PathBuf;

use serde_json::json;
use wasp_host::loader::{BinaryKind, componentize, detect};
use wasp_host::{ComponentShape, PluginOptions, SUPPORTED_VERSIONS};

use crate::{CliResult, Failure, build_runtime};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The plugin file (.wasm: a component or a wasm32-wasip1 core module).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", a.file.display())))?;
    let name = a
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let (kind, component) = match detect(&bytes) {
        BinaryKind::Component => ("component", bytes.clone()),
        BinaryKind::CoreModule => (
            "core module (adapted to a component by the host)",
            componentize(&bytes)
                .map_err(|e| Failure::usage(format!("cannot load plugin '{name}': {e}")))?,
        ),
        BinaryKind::Other(why) => {
            return Err(Failure::usage(format!(
                "cannot load plugin '{name}': {why}"
            )));
        }
    };
    let shape = ComponentShape::read(&component).map_err(|e| {
        Failure::usage(format!(
            "cannot load plugin '{name}': it is not a valid component: {e}"
        ))
    })?;
    let declared = shape.declared_version().map(str::to_string);
    let supported = declared
        .as_deref()
        .is_some_and(|v| SUPPORTED_VERSIONS.contains(&v));

    let runtime = build_runtime(None)?;
    let loaded = runtime
        .load_bytes(&name, bytes, PluginOptions::default())
        .await;
    let (plugin, load_error) = match loaded {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };

    if a.json {
        let info = plugin.as_ref().map(|p| {
            let i = p.info();
            json!({
                "name": i.name,
                "version": i.version,
                "description": i.description,
                "functions": i.functions,
            })
        });
        let doc = json!({
            "file": a.file.display().to_string(),
            "kind": if kind == "component" { "component" } else { "core-module" },
            "sha256": plugin.as_ref().map(|p| p.sha256()),
            "api_version": declared,
            "sdk_version": shape.sdk_version,
            "supported": supported,
            "supported_versions": SUPPORTED_VERSIONS,
            "info": info,
            "wasi_imports": shape.wasi_imports(),
            "imports": shape.imports,
            "exports": shape.exports,
            "error": load_error.as_ref().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "file:         {} ({kind}, {} bytes)",
            a.file.display(),
            component.len()
        );
        if let Some(p) = &plugin {
            println!("sha256:       {}", p.sha256());
        }
        match &declared {
            Some(v) => println!(
                "api:          wasp:plugin@{v} ({})",
                if supported {
                    "supported by this host".to_string()
                } else {
                    format!(
                        "NOT supported by this host, which supports {}",
                        SUPPORTED_VERSIONS.join(", ")
                    )
                }
            ),
            None => println!("api:          none (not a wasp plugin)"),
        }
        println!(
            "sdk:          {}",
            match &shape.sdk_version {
                Some(v) => format!("wasp-sdk {v}"),
                None => "not recorded (built without wasp-sdk, or with wasp-sdk 0.1)".to_string(),
            }
        );
        if let Some(p) = &plugin {
            let i = p.info();
            println!("name:         {}", i.name);
            println!("version:      {}", i.version);
            println!("description:  {}", i.description);
            println!("functions:    {}", i.functions.join(", "));
        }
        println!(
            "wasi imports: {}",
            if shape.wasi_imports().is_empty() {
                "none"
            } else {
                ""
            }
        );
        for i in shape.wasi_imports() {
            println!("  {i}");
        }
    }
    match load_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
