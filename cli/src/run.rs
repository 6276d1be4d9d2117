//! `wasp run`: the event pipeline. JSON lines in (streaming), each event through
//! the stages (`call("process", event)`), JSON lines out; failures go to the
//! dead-letter output and the pipeline goes on.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use wasp_host::manifest::Manifest;
use wasp_host::{Error, Plugins};

use crate::{CliResult, Failure, build_runtime, manifest_path};

/// Longest input line accepted; a longer one is dead-lettered unread.
const MAX_LINE: usize = 64 << 20;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest (default ./wasp.toml); it must have a [pipeline].
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Read events from FILE instead of stdin.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write failed events to FILE instead of stderr (one JSON line each).
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Reload a plugin when its file changes (a new file that does not load
    /// keeps the old version serving).
    #[arg(long)]
    watch: bool,
    /// Print the per-plugin table every DURATION (e.g. 10s) as well as at the end
    /// (and on SIGUSR1).
    #[arg(long, value_name = "DURATION")]
    stats_every: Option<wasp_host::Dur>,
}

#[derive(Default)]
struct Totals {
    events: u64,
    out: u64,
    dropped: u64,
    dead: u64,
}

pub(crate) async fn run(a: Args) -> CliResult {
    let manifest = Manifest::from_file(manifest_path(&a.manifest))?;
    let Some(stages) = manifest.pipeline().map(<[String]>::to_vec) else {
        return Err(Failure::usage(format!(
            "{}: no [pipeline] table; add one, e.g. [pipeline] stages = [\"{}\"]",
            manifest.file().display(),
            manifest
                .plugins()
                .next()
                .map(|(n, _)| n)
                .unwrap_or("my-plugin")
        )));
    };
    // kv state: [runtime] state, else wasp-state.db beside the manifest when some
    // plugin is granted kv (so counts survive between runs), else in memory.
    let wants_kv = manifest.plugins().any(|(_, e)| e.options().grants.kv);
    let state = manifest
        .state()
        .map(std::path::Path::to_path_buf)
        .or_else(|| {
            wants_kv.then(|| {
                manifest
                    .file()
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."))
                    .join("wasp-state.db")
            })
        });
    let runtime = build_runtime(state.as_deref())?;
    let plugins = runtime.load(&manifest).await?;
    // Stages are looked up per event, so a reload takes effect at the next event.
    for s in &stages {
        plugins.get(s)?;
    }
    let _watch = if a.watch || manifest.watch() {
        Some(plugins.watch()?)
    } else {
        None
    };
    let _stats = spawn_stats_reporter(&plugins, &stages, a.stats_every.map(|d| d.0));

    let mut dead: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &a.dead_letter {
        Some(p) => Box::new(tokio::fs::File::create(p).await.map_err(|e| {
            Failure::usage(format!(
                "cannot create the dead-letter file {}: {e}",
                p.display()
            ))
        })?),
        None => Box::new(tokio::io::stderr()),
    };
    let input: Box<dyn tokio::io::AsyncRead + Unpin + Send> =
        match &a.input {
            Some(p) => Box::new(tokio::fs::File::open(p).await.map_err(|e| {
                Failure::usage(format!("cannot open the input {}: {e}", p.display()))
            })?),
            None => Box::new(tokio::io::stdin()),
        };
    let mut lines = BufReader::new(input);
    let mut stdout = tokio::io::stdout();
    let mut totals = Totals::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut lines)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| Failure::usage(format!("cannot read the input: {e}")))?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE && !buf.ends_with(b"\n") {
            // Skip the rest of an over-long line.
            let mut sink = Vec::new();
            let _ = lines.read_until(b'\n', &mut sink).await;
            totals.events += 1;
            totals.dead += 1;
            let letter = json!({"event": null, "stage": null, "kind": "bad-input", "error": format!("input line longer than {MAX_LINE} bytes")});
            write_line(&mut dead, &letter).await?;
            continue;
        }
        let line = trim(&buf);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        totals.events += 1;
        match process(&plugins, &stages, line).await {
            Ok(Some(out)) => {
                totals.out += 1;
                let mut bytes = out;
                bytes.push(b'\n');
                stdout
                    .write_all(&bytes)
                    .await
                    .and(stdout.flush().await)
                    .map_err(|e| Failure::usage(format!("cannot write the output: {e}")))?;
            }
            Ok(None) => totals.dropped += 1,
            Err(letter) => {
                totals.dead += 1;
                write_line(&mut dead, &letter).await?;
            }
        }
    }
    dead.flush().await.ok();
    print_summary(&plugins, &stages);
    eprintln!(
        "summary: {} events, {} out, {} dropped by a stage, {} dead-lettered",
        totals.events, totals.out, totals.dropped, totals.dead
    );
    Ok(())
}

fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

async fn write_line(w: &mut (dyn tokio::io::AsyncWrite + Unpin + Send), v: &Value) -> CliResult {
    let mut s = v.to_string();
    s.push('\n');
    w.write_all(s.as_bytes())
        .await
        .and(w.flush().await)
        .map_err(|e| Failure::usage(format!("cannot write a dead letter: {e}")))
}

/// Runs one event through every stage. `Ok(None)`: a stage returned nothing,
/// which drops the event (a filter). `Err`: the dead letter.
async fn process(
    plugins: &Plugins,
    stages: &[String],
    line: &[u8],
) -> Result<Option<Vec<u8>>, Value> {
    let original: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Err(json!({
                "event": String::from_utf8_lossy(line),
                "stage": null,
                "kind": "bad-input",
                "error": format!("the input line is not JSON: {e}"),
            }));
        }
    };
    let mut event = line.to_vec();
    for stage in stages {
        let plugin = match plugins.get(stage) {
            Ok(p) => p,
            Err(e) => {
                return Err(
                    json!({"event": original, "stage": stage, "kind": "error", "error": e.to_string()}),
                );
            }
        };
        let letter = |error: String, kind: &str| json!({"event": original, "stage": plugin.name(), "kind": kind, "error": error});
        match plugin.call_raw("process", &event).await {
            Ok(out) if out.iter().all(u8::is_ascii_whitespace) => return Ok(None),
            Ok(out) => {
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&out) {
                    return Err(letter(
                        format!(
                            "stage '{}' returned something that is not JSON: {e}",
                            plugin.name()
                        ),
                        "bad-output",
                    ));
                }
                // Keep events on one line whatever the plugin returned.
                event = if out.contains(&b'\n') {
                    match serde_json::from_slice::<Value>(&out) {
                        Ok(v) => v.to_string().into_bytes(),
                        Err(_) => out,
                    }
                } else {
                    out
                };
            }
            Err(e) => {
                let kind = match &e {
                    Error::Plugin { .. } => "plugin-error".to_string(),
                    Error::Fault { fault, .. } => format!("fault:{}", fault.kind()),
                    Error::Quarantined { .. } => "quarantined".to_string(),
                    _ => "error".to_string(),
                };
                return Err(letter(e.to_string(), &kind));
            }
        }
    }
    Ok(Some(event))
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1e3)
}

/// Prints the per-plugin table (stderr).
fn print_summary(plugins: &Plugins, stages: &[String]) {
    eprintln!(
        "{:<16} {:>8} {:>8} {:>8} {:>10} {:>10}  faults by kind",
        "plugin", "calls", "errors", "faults", "p50", "p99"
    );
    let mut seen = std::collections::BTreeSet::new();
    for name in stages {
        if !seen.insert(name) {
            continue;
        }
        let Ok(p) = plugins.get(name) else { continue };
        let s = p.stats();
        let kinds: Vec<String> = s.faults.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "{:<16} {:>8} {:>8} {:>8} {:>10} {:>10}  {}{}",
            name,
            s.calls,
            s.errors,
            s.total_faults(),
            ms(s.p50),
            ms(s.p99),
            kinds.join(" "),
            if s.quarantined { " (quarantined)" } else { "" }
        );
    }
}

/// Prints the table every `every`, and on SIGUSR1 (Unix), until dropped.
fn spawn_stats_reporter(
    plugins: &Plugins,
    stages: &[String],
    every: Option<Duration>,
) -> AbortOnDrop {
    let plugins = plugins.clone();
    let stages = stages.to_vec();
    AbortOnDrop(tokio::spawn(async move {
        #[cfg(unix)]
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
        let mut tick = every.map(|d| {
            let mut i = tokio::time::interval(d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        if let Some(t) = tick.as_mut() {
            t.tick().await; // the first tick is immediate
        }
        loop {
            let ticked = async {
                match tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(unix)]
            let signalled = async {
                match usr1.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            tokio::select! {
                _ = ticked => {}
                _ = signalled => {}
            }
            print_summary(&plugins, &stages);
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
