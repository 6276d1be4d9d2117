//! `wasp replay`: a recorded call run again, offline, answered from its
//! recording and checked against it (docs/replay.md).

use std::io::Write;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::json;
use wasp_host::recording::{RecordedOutcome, Recording, ReplayReport};

use crate::{CliResult, Failure, build_runtime};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The recording (`wasp call --record`, `wasp run --record`).
    file: PathBuf,
    /// Replay this build instead of the recorded file (a fix): its outcome and
    /// fuel are reported, not compared.
    #[arg(long, value_name = "PATH.wasm")]
    plugin: Option<PathBuf>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let recording = Recording::read_file(&a.file).map_err(wasp_host::Error::from)?;
    let runtime = build_runtime(&crate::Settings::default())?;
    let report = runtime.replay(&recording, a.plugin.as_deref()).await?;
    if report.live_grants {
        eprintln!(
            "note: plugin '{}' has file or network grants: its reads from files and sockets are not recorded, and this replay used the live grants",
            report.plugin
        );
    }
    if a.json {
        print_json(&report)?;
    } else {
        print_human(&report)?;
    }
    match report.exit_code() {
        0 => Ok(()),
        code => Err(Failure::silent(code)),
    }
}

fn write_stdout(bytes: &[u8]) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write the output: {e}")))
}

fn print_human(r: &ReplayReport) -> CliResult {
    let build = if r.different_build {
        format!(
            " with another build (sha256 {}…, recorded {}…)",
            &r.sha256[..12.min(r.sha256.len())],
            &r.recorded_sha256[..12.min(r.recorded_sha256.len())]
        )
    } else {
        String::new()
    };
    eprintln!(
        "replay: {} of {} entries of plugin '{}'{build}, {} host imports answered from the recording",
        r.entries_run, r.entries, r.plugin, r.imports
    );
    if let Some(d) = &r.divergence {
        let at = match d.import {
            Some(i) => format!(", host import #{i}"),
            None => String::new(),
        };
        eprintln!(
            "replay: diverged at entry {} ({}){at}: {}",
            d.entry, d.during, d.what
        );
        if let Some(rec) = &d.recorded {
            eprintln!("  recorded: {rec}");
        }
        if let Some(now) = &d.replayed {
            eprintln!("  replayed: {now}");
        }
        return Ok(());
    }
    let same = if r.different_build {
        format!("recorded: {}", r.recorded.label())
    } else {
        "as recorded".to_string()
    };
    eprintln!(
        "replay: {}: {} ({same}); fuel {} (recorded {})",
        r.call,
        r.outcome.label(),
        r.fuel,
        r.recorded_fuel
    );
    match &r.outcome {
        RecordedOutcome::Output { output } => write_stdout(&output.0)?,
        RecordedOutcome::PluginError { code, message } => {
            eprintln!("error: plugin '{}' {}: {code}: {message}", r.plugin, r.call);
        }
        RecordedOutcome::Fault { kind, message } => {
            eprintln!(
                "error: plugin '{}' {} faulted ({kind}): {message}",
                r.plugin, r.call
            );
        }
        RecordedOutcome::Batch { results } => {
            for result in results {
                match result {
                    Ok(out) => write_stdout(&[out.0.as_slice(), b"\n"].concat())?,
                    Err((code, message)) => eprintln!("error: {code}: {message}"),
                }
            }
        }
        RecordedOutcome::Ok => {}
    }
    Ok(())
}

/// Bytes as JSON: a string when they are UTF-8, else `{"base64": …}`.
fn bytes_json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
    }
}

fn outcome_json(o: &RecordedOutcome) -> serde_json::Value {
    match o {
        RecordedOutcome::Ok => json!({"outcome": "ok"}),
        RecordedOutcome::Output { output } => {
            json!({"outcome": "output", "output": bytes_json(&output.0)})
        }
        RecordedOutcome::PluginError { code, message } => {
            json!({"outcome": "plugin-error", "code": code, "message": message})
        }
        RecordedOutcome::Fault { kind, message } => {
            json!({"outcome": "fault", "kind": kind, "message": message})
        }
        RecordedOutcome::Batch { results } => json!({
            "outcome": "batch",
            "results": results.iter().map(|r| match r {
                Ok(out) => json!({"output": bytes_json(&out.0)}),
                Err((code, message)) => json!({"code": code, "message": message}),
            }).collect::<Vec<_>>(),
        }),
    }
}

fn print_json(r: &ReplayReport) -> CliResult {
    let divergence = r.divergence.as_ref().map(|d| {
        json!({
            "entry": d.entry,
            "during": d.during,
            "import": d.import,
            "recorded": d.recorded,
            "replayed": d.replayed,
            "what": d.what,
        })
    });
    let v = json!({
        "plugin": r.plugin,
        "sha256": r.sha256,
        "recorded-sha256": r.recorded_sha256,
        "different-build": r.different_build,
        "live-grants": r.live_grants,
        "call": r.call,
        "entries": r.entries,
        "entries-run": r.entries_run,
        "imports": r.imports,
        "outcome": outcome_json(&r.outcome),
        "recorded": outcome_json(&r.recorded),
        "fuel": r.fuel,
        "recorded-fuel": r.recorded_fuel,
        "divergence": divergence,
        "exit": r.exit_code(),
    });
    write_stdout(format!("{v}\n").as_bytes())
}
