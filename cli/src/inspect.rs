//! `wasp inspect`: what a plugin file is, without running its code (only its
//! `info` export, within the default limits and with nothing granted; `init`
//! never).

use std::path::PathBuf;

use serde_json::json;
use wasp_host::ApiVersion;
use wasp_host::loader::BinaryKind;

use crate::{CliResult, Failure, build_runtime};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The plugin file (.wasm: a component or a wasm32-wasip1 core module).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn supported_list() -> String {
    ApiVersion::SUPPORTED
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn run(a: Args) -> CliResult {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", a.file.display())))?;
    let name = a
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let runtime = build_runtime(&crate::Settings::default())?;
    let i = runtime.inspect(&name, bytes).await?;
    let declared = i.shape.declared_version().map(str::to_string);
    let supported = i.api_version.is_some();
    let kind = match i.kind {
        BinaryKind::Component => "component",
        _ => "core module (adapted to a component by the host)",
    };
    if a.json {
        let info = i.info.as_ref().map(|i| {
            json!({
                "name": i.name,
                "version": i.version,
                "description": i.description,
                "functions": i.functions,
            })
        });
        let doc = json!({
            "file": a.file.display().to_string(),
            "kind": if i.kind == BinaryKind::Component { "component" } else { "core-module" },
            "sha256": i.sha256,
            "api_version": declared,
            "sdk_version": i.shape.sdk_version,
            "supported": supported,
            "supported_versions": ApiVersion::SUPPORTED.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "call_batch": i.api_version.is_some_and(ApiVersion::has_call_batch),
            "info": info,
            "wasi_imports": i.shape.wasi_imports(),
            "imports": i.shape.imports,
            "exports": i.shape.exports,
            "error": i.problem.as_ref().map(ToString::to_string),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "file:         {} ({kind}, {} bytes)",
            a.file.display(),
            i.component_size
        );
        println!("sha256:       {}", i.sha256);
        match &declared {
            Some(v) => println!(
                "api:          wasp:plugin@{v} ({})",
                if supported {
                    "supported by this host".to_string()
                } else {
                    format!(
                        "NOT supported by this host, which supports {}",
                        supported_list()
                    )
                }
            ),
            None => println!("api:          none (not a wasp plugin)"),
        }
        if let Some(v) = i.api_version {
            println!(
                "call-batch:   {}",
                if v.has_call_batch() {
                    "yes (pipelines send it batches of events)"
                } else {
                    "no (called one event at a time)"
                }
            );
        }
        println!(
            "sdk:          {}",
            match &i.shape.sdk_version {
                Some(v) => format!("wasp-sdk {v}"),
                None => "not recorded (built without wasp-sdk, or with wasp-sdk 0.1)".to_string(),
            }
        );
        if let Some(info) = &i.info {
            println!("name:         {}", info.name);
            println!("version:      {}", info.version);
            println!("description:  {}", info.description);
            println!("functions:    {}", info.functions.join(", "));
        }
        let wasi = i.shape.wasi_imports();
        println!(
            "wasi imports: {}",
            if wasi.is_empty() { "none" } else { "" }
        );
        for w in wasi {
            println!("  {w}");
        }
    }
    match i.problem {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
