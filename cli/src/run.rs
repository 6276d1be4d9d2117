//! `wasp run`: the event pipeline. JSON lines in (streaming), each event through
//! the stages (`process`), JSON lines out in input order; failures go to the
//! dead-letter output and the pipeline goes on. The engine is [`crate::pipeline`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasp_host::Plugins;
use wasp_host::manifest::Manifest;

use crate::pipeline::lines::{Lines, LinesSink};
use crate::pipeline::{Pipeline, Sink, Source};
use crate::{CliResult, Failure, build_runtime, manifest_path};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest (default ./wasp.toml); it must have a [pipeline].
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Read events from FILE instead of the manifest's [pipeline.source] (or
    /// stdin); `-` is stdin.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write outputs to FILE instead of the manifest's [pipeline.sink] (or
    /// stdout); `-` is stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write failed events to FILE (one JSON line each) instead of stderr, or of
    /// the [pipeline.sink] dead-letter subject.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// With a NATS source: stop, as on SIGTERM, once the consumer has nothing
    /// left to deliver and nothing unacknowledged (the stream is drained).
    #[arg(long)]
    until_idle: bool,
    /// Reload a plugin when its file changes (a new file that does not load
    /// keeps the old version serving).
    #[arg(long)]
    watch: bool,
    /// Print the per-plugin table every DURATION (e.g. 10s) as well as at the end
    /// (and on SIGUSR1).
    #[arg(long, value_name = "DURATION")]
    stats_every: Option<wasp_host::Dur>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the pipeline runs
    /// (overrides [runtime] metrics), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Record a guest profile of every stage and write DIR/NAME.json at the end
    /// (Firefox Profiler JSON: open it at https://profiler.firefox.com).
    #[arg(long, value_name = "DIR")]
    profile: Option<PathBuf>,
    /// Record every call that faults or returns a plugin-error into DIR, one
    /// file each (STAGE-EVENT-OUTCOME.wasprec), for `wasp replay`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// With --record: record every call, not only failures.
    #[arg(long, requires = "record")]
    record_all: bool,
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
    let runtime = build_runtime(&crate::Settings {
        state: state.as_deref(),
        kv_commit: manifest.kv_commit(),
        instances: crate::pool_for(Some(&manifest)),
        profile: a.profile.is_some(),
        record: a.record.as_ref().map(|_| manifest.record_window()),
    })?;
    let record = match &a.record {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::usage(format!(
                    "cannot create the record directory {}: {e}",
                    dir.display()
                ))
            })?;
            Some(Arc::new(crate::pipeline::Record {
                dir: dir.clone(),
                when: if a.record_all {
                    wasp_host::recording::RecordWhen::Always
                } else {
                    wasp_host::recording::RecordWhen::Failures
                },
            }))
        }
        None => None,
    };
    let plugins = runtime.load(&manifest).await?;
    // Stages are looked up per chunk of events, so a reload takes effect at the next.
    for s in &stages {
        plugins.get(s)?;
    }
    let _watch = if a.watch || manifest.watch() {
        Some(plugins.watch()?)
    } else {
        None
    };
    let _stats = spawn_stats_reporter(&plugins, &stages, a.stats_every.map(|d| d.0));
    let rollouts = RolloutLines::spawn(&plugins);
    let totals = std::sync::Arc::new(crate::pipeline::Counters::default());
    let _metrics = match a.metrics.or(manifest.metrics()) {
        Some(addr) => Some(crate::metrics::serve(&plugins, &totals, addr)?),
        None => None,
    };

    let dead: Box<dyn std::io::Write + Send> = match &a.dead_letter {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| {
            Failure::usage(format!(
                "cannot create the dead-letter file {}: {e}",
                p.display()
            ))
        })?),
        None => Box::new(std::io::stderr()),
    };
    let stop = Stop::default();
    let (source, brokered) = source_of(&a, &manifest, &stop, &totals).await?;
    let sink = sink_of(&a, &manifest, dead).await?;
    let _signals = brokered.then(|| stop.on_signals());
    let pipeline = Pipeline {
        runtime: runtime.clone(),
        plugins: plugins.clone(),
        stages: stages.clone(),
        batch: manifest.batch() as usize,
        counters: totals.clone(),
        record,
    };
    pipeline
        .run(source, sink)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    rollouts.finish().await;
    print_summary(&plugins, &stages);
    if let Some(dir) = &a.profile {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
        for name in plugins.names() {
            let path = dir.join(format!("{name}.json"));
            crate::write_profile(&plugins.get(&name)?, &path)?;
            eprintln!("profile: {}", path.display());
        }
    }
    let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    // A broker source adds what it delivered again (an earlier delivery, to
    // this worker or another, was not acknowledged within the ack wait).
    let again = if totals.brokered.load(std::sync::atomic::Ordering::Relaxed) {
        format!(", {} delivered again", n(&totals.redelivered))
    } else {
        String::new()
    };
    eprintln!(
        "summary: {} events, {} out, {} dropped by a stage, {} dead-lettered{again}",
        n(&totals.events),
        n(&totals.out),
        n(&totals.dropped),
        n(&totals.dead)
    );
    Ok(())
}

/// Set when the pipeline should stop taking events in (SIGTERM, Ctrl-C,
/// `--until-idle`), finish what is in flight and end.
#[derive(Clone, Default)]
pub(crate) struct Stop(Arc<std::sync::atomic::AtomicBool>);

impl Stop {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets it on the first SIGTERM or Ctrl-C; a second one ends the process at
    /// once (exit 130: what was not acknowledged is redelivered).
    fn on_signals(&self) -> AbortOnDrop {
        let stop = self.clone();
        AbortOnDrop(tokio::spawn(async move {
            let mut first = true;
            loop {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut term), Ok(mut int)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::interrupt()),
                    ) else {
                        return;
                    };
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if !first {
                    eprintln!("stopping now: what was not acknowledged will be redelivered");
                    std::process::exit(130);
                }
                first = false;
                eprintln!("stopping: finishing the events in flight (again to stop at once)");
                stop.set();
            }
        }))
    }
}

/// `--input`, else the manifest's `[pipeline.source]`, else stdin; and whether it
/// is a broker (which redelivers what was not acknowledged).
async fn source_of(
    a: &Args,
    manifest: &Manifest,
    stop: &Stop,
    counters: &Arc<crate::pipeline::Counters>,
) -> Result<(Box<dyn Source + Send>, bool), Failure> {
    if let Some(p) = &a.input {
        if p.as_os_str() == "-" {
            return Ok((Box::new(Lines(Box::new(std::io::stdin()))), false));
        }
        let f = std::fs::File::open(p)
            .map_err(|e| Failure::usage(format!("cannot open the input {}: {e}", p.display())))?;
        return Ok((Box::new(Lines(Box::new(f))), false));
    }
    match manifest.source() {
        None => {
            if a.until_idle {
                return Err(Failure::usage(
                    "--until-idle needs a NATS source ([pipeline.source] in the manifest)",
                ));
            }
            Ok((Box::new(Lines(Box::new(std::io::stdin()))), false))
        }
        #[cfg(feature = "nats")]
        Some(wasp_host::manifest::Source::Nats(spec)) => {
            let source = crate::nats::NatsSource::open(
                spec,
                manifest.batch() as usize,
                stop.clone(),
                a.until_idle,
                counters.clone(),
            )
            .await?;
            Ok((Box::new(source), true))
        }
        #[allow(unreachable_patterns)]
        Some(_) => {
            let _ = (stop, counters);
            Err(Failure::usage(format!(
                "{}: [pipeline.source] names NATS, but this wasp was built without the \
                 `nats` feature; rebuild with it, or give --input",
                manifest.file().display()
            )))
        }
    }
}

/// `--output`, else the manifest's `[pipeline.sink]`, else stdout.
async fn sink_of(
    a: &Args,
    manifest: &Manifest,
    dead: Box<dyn std::io::Write + Send>,
) -> Result<Box<dyn Sink + Send>, Failure> {
    let stdout = || -> Box<dyn std::io::Write + Send> { Box::new(std::io::stdout()) };
    if let Some(p) = &a.output {
        let out: Box<dyn std::io::Write + Send> = if p.as_os_str() == "-" {
            stdout()
        } else {
            Box::new(std::fs::File::create(p).map_err(|e| {
                Failure::usage(format!("cannot create the output {}: {e}", p.display()))
            })?)
        };
        return Ok(Box::new(LinesSink::new(out, dead)));
    }
    match manifest.sink() {
        None => Ok(Box::new(LinesSink::new(stdout(), dead))),
        #[cfg(feature = "nats")]
        Some(wasp_host::manifest::Sink::Nats(spec)) => {
            let source = match (&a.input, manifest.source()) {
                (None, Some(wasp_host::manifest::Source::Nats(s))) => Some(s),
                _ => None,
            };
            // --dead-letter FILE replaces the sink's dead-letter subject.
            let mut spec = spec.clone();
            if a.dead_letter.is_some() {
                spec.dead_letter = None;
            }
            Ok(Box::new(
                crate::nats::NatsSink::open(&spec, source, dead).await?,
            ))
        }
        #[allow(unreachable_patterns)]
        Some(_) => Err(Failure::usage(format!(
            "{}: [pipeline.sink] names NATS, but this wasp was built without the `nats` \
             feature; rebuild with it, or give --output",
            manifest.file().display()
        ))),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1e3)
}

/// Prints the per-plugin table (stderr): calls and outcomes, latency, and what
/// each plugin cost (fuel, CPU time inside the guest, bytes in and out).
fn print_summary(plugins: &Plugins, stages: &[String]) {
    eprintln!(
        "{:<16} {:>8} {:>7} {:>7} {:>10} {:>10} {:>12} {:>9} {:>10} {:>10}  faults by kind",
        "plugin", "calls", "errors", "faults", "p50", "p99", "fuel", "cpu", "bytes in", "bytes out"
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
            "{:<16} {:>8} {:>7} {:>7} {:>10} {:>10} {:>12} {:>9} {:>10} {:>10}  {}{}",
            name,
            s.calls,
            s.errors,
            s.total_faults(),
            ms(s.p50),
            ms(s.p99),
            s.fuel_consumed,
            format!("{:.3}s", s.cpu_time.as_secs_f64()),
            s.bytes_in,
            s.bytes_out,
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

/// Prints each rollout decision as one `rollout:` line on stderr as it is made.
struct RolloutLines {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RolloutLines {
    fn spawn(plugins: &Plugins) -> Self {
        let mut news = plugins.rollouts();
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            use tokio::sync::broadcast::error::{RecvError, TryRecvError};
            loop {
                tokio::select! {
                    next = news.recv() => match next {
                        Ok(report) => eprintln!("rollout: {report}"),
                        Err(RecvError::Lagged(n)) => eprintln!("rollout: {n} decisions not shown (too many at once)"),
                        Err(RecvError::Closed) => return,
                    },
                    _ = &mut stopped => break,
                }
            }
            // The decisions made before the pipeline ended.
            loop {
                match news.try_recv() {
                    Ok(report) => eprintln!("rollout: {report}"),
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
        RolloutLines { stop, task }
    }

    /// Prints what is still to print, and stops.
    async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
