//! `wasp`: call, inspect, check and run WebAssembly plugins (see
//! `docs/contracts.md`).
//!
//! Exit codes: 0 success; 1 the plugin returned a `plugin-error`; 2 usage,
//! manifest or load error; 3 the plugin faulted. Errors are one line on stderr.
#![forbid(unsafe_code)]

mod build;
mod call;
mod check;
mod inspect;
mod metrics;
#[cfg(feature = "nats")]
mod nats;
mod new;
mod pipeline;
mod replay;
mod run;
mod sign;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WebAssembly Sandboxed Plugins: run untrusted plugins safely.
#[derive(Parser)]
#[command(name = "wasp", version, about, propagate_version = true)]
struct Cli {
    /// More logging on stderr (-v: info, -vv: debug, -vvv: trace). WASP_LOG
    /// (a tracing filter such as `wasp=debug`) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Where compiled plugins are cached (default: $XDG_CACHE_HOME/wasp or
    /// ~/.cache/wasp).
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,

    /// Compile plugins every time; use no disk cache.
    #[arg(long, global = true)]
    no_cache: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one function of a plugin and print its output.
    Call(call::Args),
    /// Run the manifest's pipeline over JSON lines.
    Run(run::Args),
    /// Show a plugin's API version, info, functions and WASI imports.
    Inspect(inspect::Args),
    /// Validate a manifest and load every plugin in it, without calling.
    Check(check::Args),
    /// Create a new plugin crate that builds as is.
    New(new::Args),
    /// Build a plugin crate into NAME.wasm, ready to ship (size, API version, sha256).
    Build(build::Args),
    /// Sign a plugin with an OpenSSH Ed25519 key (embedded, or FILE.wasm.sig).
    Sign(sign::SignArgs),
    /// Show who signed a plugin; exit 0 when one of the given keys did, else 2.
    Verify(sign::VerifyArgs),
    /// Run a recorded call again, offline, and check it against the recording.
    Replay(replay::Args),
    /// Publish JSON lines into the stream of the manifest's [pipeline.source].
    #[cfg(feature = "nats")]
    Publish(nats::PublishArgs),
}

/// The manifest used when `-m` is not given.
pub(crate) const DEFAULT_MANIFEST: &str = "wasp.toml";

/// An error with the exit code it maps to.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl From<wasp_host::Error> for Failure {
    fn from(e: wasp_host::Error) -> Self {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// Exit with `code`, having reported everything already.
    pub(crate) fn silent(code: u8) -> Self {
        Failure {
            code,
            message: String::new(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

pub(crate) type CliResult = Result<(), Failure>;

/// The instance pool a manifest needs: every plugin at `max-instances`, twice
/// (a reload starts the new version's instances while the old one's finish),
/// and some room for `check` and `inspect`.
pub(crate) fn pool_for(manifest: Option<&wasp_host::manifest::Manifest>) -> u32 {
    let declared: u32 = manifest.map_or(0, |m| {
        m.plugins()
            .map(|(_, e)| e.options().max_instances)
            .fold(0u32, u32::saturating_add)
    });
    declared.saturating_mul(2).saturating_add(16)
}

fn init_logging(verbose: u8, quiet_default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("WASP_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::new(f),
        _ => EnvFilter::new(match verbose {
            0 => quiet_default,
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

fn main() -> ExitCode {
    // wasp never panics on bad input; if it does anyway, say so in one line and
    // use the load-error exit code rather than Rust's 101.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in wasp (please report it): {info}");
        std::process::exit(2);
    }));
    let cli = Cli::parse();
    let quiet = match cli.command {
        // Faults become dead letters; plugin warnings and errors stay visible.
        // Rollout decisions are printed as `rollout:` lines of their own.
        Command::Run(_) => "warn,wasp::fault=off,wasp::rollout=off",
        _ => "error,wasp::fault=off,wasp::plugin=off",
    };
    init_logging(cli.verbose, quiet);
    let cache = if cli.no_cache {
        None
    } else {
        cli.cache_dir.clone().or_else(default_cache_dir)
    };
    if CACHE_DIR.set(cache).is_err() {
        eprintln!("error: internal error: cache directory set twice");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Call(a) => call::run(a).await,
            Command::Run(a) => run::run(a).await,
            Command::Inspect(a) => inspect::run(a).await,
            Command::Check(a) => check::run(a).await,
            Command::New(a) => new::run(a),
            Command::Build(a) => build::run(a).await,
            Command::Sign(a) => sign::sign(a),
            Command::Verify(a) => sign::verify(a),
            Command::Replay(a) => replay::run(a).await,
            #[cfg(feature = "nats")]
            Command::Publish(a) => nats::publish(a).await,
        }
    });
    // Do not wait for plugin calls that are still being cancelled.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // An empty message: the command has said what happened already.
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// Resolves `-m` (or the default) to a path.
pub(crate) fn manifest_path(m: &Option<PathBuf>) -> PathBuf {
    m.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_MANIFEST))
}

/// The compile cache chosen on the command line (set once in `main`).
static CACHE_DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("wasp"))
}

/// Writes `plugin`'s guest profile to `path`.
pub(crate) fn write_profile(plugin: &wasp_host::Plugin, path: &std::path::Path) -> CliResult {
    let file = std::fs::File::create(path)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", path.display())))?;
    plugin.write_profile(std::io::BufWriter::new(file))?;
    Ok(())
}

/// How a command's runtime is set up.
pub(crate) struct Settings<'a> {
    /// The kv store's file (else in memory).
    pub(crate) state: Option<&'a std::path::Path>,
    /// The kv group commit's delay (zero: every write durable on its own).
    pub(crate) kv_commit: std::time::Duration,
    /// The instance pool's size.
    pub(crate) instances: u32,
    /// Record a guest profile of every plugin (with a 1 ms epoch tick).
    pub(crate) profile: bool,
    /// Keep every instance's history for recordings, within this window.
    pub(crate) record: Option<wasp_host::recording::RecordWindow>,
}

impl Default for Settings<'_> {
    fn default() -> Self {
        Settings {
            state: None,
            kv_commit: std::time::Duration::ZERO,
            instances: pool_for(None),
            profile: false,
            record: None,
        }
    }
}

/// The runtime of a command, with the compile cache when there is one. A cache
/// that cannot be used is skipped with a warning: it only makes loading faster.
pub(crate) fn build_runtime(s: &Settings<'_>) -> Result<wasp_host::Runtime, Failure> {
    let build = |cache: Option<&std::path::Path>| {
        let mut b = wasp_host::Runtime::builder()
            .kv_commit(s.kv_commit)
            .instance_pool(s.instances)
            .profile_all(s.profile)
            .record_all(s.record);
        if s.profile {
            // Profiles are sampled at each tick: 1 ms gives a sample per ms of guest time.
            b = b.epoch_tick(std::time::Duration::from_millis(1));
        }
        if let Some(path) = s.state {
            b = b.state(path);
        }
        if let Some(dir) = cache {
            b = b.cache_dir(dir);
        }
        b.build()
    };
    let cache = CACHE_DIR.get().and_then(|c| c.as_deref());
    match build(cache) {
        Ok(rt) => Ok(rt),
        Err(wasp_host::Error::Setup(e)) if matches!(*e, wasp_host::SetupError::Cache { .. }) => {
            tracing::warn!("not caching compiled plugins: {e}");
            Ok(build(None)?)
        }
        Err(e) => Err(e.into()),
    }
}
