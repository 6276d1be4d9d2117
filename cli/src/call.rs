//! `wasp call`: one call, output bytes to stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wasp_host::manifest::Manifest;
use wasp_host::{CallOptions, Dur, PluginOptions, Size};

use crate::{CliResult, Failure, build_runtime, manifest_path};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest (default ./wasp.toml); used when PLUGIN is a name.
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Fuel for this call (overrides the manifest).
    #[arg(long)]
    fuel: Option<u64>,
    /// Memory limit, e.g. 64MiB (overrides the manifest).
    #[arg(long)]
    memory: Option<Size>,
    /// Wall-clock limit, e.g. 500ms or 2s (overrides the manifest).
    #[arg(long)]
    timeout: Option<Dur>,
    /// A plugin name from the manifest, or a path to a .wasm file (no grants,
    /// default limits).
    plugin: String,
    /// The function to call.
    function: String,
    /// The input; read from stdin when absent or `-`.
    input: Option<String>,
    /// Record a guest profile of the call and write it to FILE (Firefox
    /// Profiler JSON: open it at https://profiler.firefox.com).
    #[arg(long, value_name = "OUT.json")]
    profile: Option<PathBuf>,
    /// Record the call — everything its instance did, with every host import's
    /// answer — to FILE, for `wasp replay` (written whatever the call did).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

/// Where the plugin comes from: a file given on the command line, or a manifest
/// (boxed: a manifest is large, a path is not).
enum Source {
    File(PathBuf),
    Manifest(Box<Manifest>),
}

fn is_wasm_path(s: &str) -> bool {
    s.ends_with(".wasm") || Path::new(s).is_file()
}

pub(crate) async fn run(a: Args) -> CliResult {
    // The kv store: the manifest's [runtime] state if it names one, else in memory.
    let (source, options, state) = if is_wasm_path(&a.plugin) {
        let path = PathBuf::from(&a.plugin);
        (Source::File(path), PluginOptions::default(), None)
    } else {
        let manifest = Manifest::from_file(manifest_path(&a.manifest))?;
        let entry = manifest.plugin(&a.plugin).ok_or_else(|| {
            let names: Vec<&str> = manifest.plugins().map(|(n, _)| n).collect();
            Failure::usage(format!(
                "{}: no plugin named '{}' (declared: {}); to call a file, give its path ending in .wasm",
                manifest.file().display(),
                a.plugin,
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ))
        })?;
        let state = manifest.state().map(std::path::Path::to_path_buf);
        let options = entry.options().clone();
        (Source::Manifest(Box::new(manifest)), options, state)
    };
    // Overrides apply to this call only (the plugin loads with its own limits).
    let mut call = CallOptions::default();
    if let Some(f) = a.fuel {
        if f == 0 {
            return Err(Failure::usage("--fuel must be more than 0"));
        }
        call.fuel = Some(f);
    }
    if let Some(m) = a.memory {
        call.memory = Some(m.bytes());
    }
    if let Some(t) = a.timeout {
        if t.0.is_zero() {
            return Err(Failure::usage("--timeout must be more than zero"));
        }
        call.timeout = Some(t.0);
    }

    let input = match a.input.as_deref() {
        Some(s) if s != "-" => s.as_bytes().to_vec(),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::usage(format!("cannot read the input from stdin: {e}")))?;
            buf
        }
    };
    let runtime = build_runtime(&crate::Settings {
        state: state.as_deref(),
        // One call, then the process ends: each write durable before it returns.
        kv_commit: std::time::Duration::ZERO,
        instances: crate::pool_for(None).saturating_add(options.max_instances),
        profile: a.profile.is_some(),
        record: a
            .record
            .as_ref()
            .map(|_| wasp_host::recording::RecordWindow::default()),
    })?;
    let plugin = match source {
        Source::File(path) => runtime.load_file(&path, options).await?,
        Source::Manifest(m) => runtime.load_entry(&m, &a.plugin).await?,
    };
    let result: wasp_host::Result<Vec<u8>> = match &a.record {
        Some(path) => {
            if call != CallOptions::default() {
                return Err(Failure::usage(
                    "--record records a call under the plugin's own limits; drop --fuel, --memory and --timeout",
                ));
            }
            let recorded = plugin
                .call_recorded(
                    &a.function,
                    &input,
                    wasp_host::recording::RecordWhen::Always,
                )
                .await;
            if let Some(r) = &recorded.recording {
                r.write_file(path).map_err(|e| {
                    Failure::usage(format!(
                        "cannot write the recording {}: {e}",
                        path.display()
                    ))
                })?;
            }
            recorded.result
        }
        None => plugin.call_with(&a.function, input, call).await,
    };
    // The profile is written whatever the call did: a fault is what one profiles.
    if let Some(path) = &a.profile {
        crate::write_profile(&plugin, path)?;
    }
    let out = result?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|_| stdout.flush())
        .map_err(|e| Failure::usage(format!("cannot write the output: {e}")))?;
    Ok(())
}
