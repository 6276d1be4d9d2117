//! Replaying a recording: a fresh instance of the plugin runs the recorded
//! history again — `instantiate`, then each entry in order — with every host
//! import answered from the recording, and is checked against it: the same host
//! imports in the same order, the same outcome, the same fuel. What
//! `wasp replay` runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::capability::Resolved;
use crate::error::{Error, LoadError, RecordingError, Result};
use crate::instance::{Instance, InstanceSpec, TapeSpec, recorded_fault};
use crate::loader::{self, File};
use crate::metrics::Metrics;
use crate::recording::{EntryKind, RecordedOutcome, Recording, ReplayReport};
use crate::runtime::Runtime;
use crate::spec::limits::Limits;
use crate::spec::options::PluginOptions;
use crate::state::SharedState;
use crate::tape::Player;
use crate::version::Pre;

impl Runtime {
    /// Runs a recording again in a fresh instance of its plugin — the file the
    /// recording names, whose SHA-256 must be the recorded one, or `plugin`, a
    /// build of one's choice (a fix) — answering every host import from the
    /// recording, and reports on the recorded call (the last entry).
    ///
    /// The recording is checked as it runs: the first host import that is not
    /// the recorded one (another import, other arguments, more or fewer), an
    /// outcome or a fuel count that differs, is the report's `divergence`, and
    /// the replay stops after that entry. With `plugin`, a different build may
    /// end differently and use other fuel (that is reported, not compared), but
    /// its host imports must still be the recorded ones, as far as it makes them.
    ///
    /// # Errors
    /// [`Error::Recording`] ([`RecordingError::DigestMismatch`],
    /// [`RecordingError::NoSource`]), [`Error::Io`], or a load error of the file.
    ///
    /// ```no_run
    /// # async fn f(rt: wasp_host::Runtime) -> wasp_host::Result<()> {
    /// let r = wasp_host::recording::Recording::read_file("fault.wasprec")?;
    /// let report = rt.replay(&r, None).await?;
    /// assert!(report.divergence.is_none());
    /// std::process::exit(report.exit_code().into());
    /// # }
    /// ```
    pub async fn replay(
        &self,
        recording: &Recording,
        plugin: Option<&Path>,
    ) -> Result<ReplayReport> {
        let recorded = &recording.plugin;
        let path: PathBuf = match plugin {
            Some(p) => p.to_path_buf(),
            None => recorded.source.clone().ok_or(RecordingError::NoSource)?,
        };
        let bytes = tokio::fs::read(&path).await.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if plugin.is_none() && sha256 != recorded.sha256 {
            return Err(RecordingError::DigestMismatch {
                file: path,
                recorded: recorded.sha256.clone(),
                actual: sha256,
            }
            .into());
        }
        let different_build = sha256 != recorded.sha256;
        let name = recorded.name.as_str();
        let env = &self.inner.env;
        let base = Limits::default();
        let limits = recording
            .entries
            .first()
            .map_or(base.clone(), |e| e.limits.apply(&base));
        let grants = recorded.live.grants()?;
        let options = PluginOptions::default()
            .grants(grants.clone())
            .limits(limits.clone());
        let file = File {
            bytes,
            path: Some(path),
            keys: None,
            detached: None,
        };
        let compiled = loader::compile(env, name, file, &options).await?;
        let resolved = Resolved::new(&grants, &env.host_fns).map_err(|e| Error::load(name, e))?;
        let instance_pre = env
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(|source| Error::load(name, LoadError::Link { source }))?;
        let pre = Pre::new(compiled.version, instance_pre).map_err(|e| Error::load(name, e))?;
        let player = Player::new(Arc::new(recording.clone()), different_build);
        let spec = InstanceSpec {
            name: Arc::from(name),
            engine: env.engine.clone(),
            pre,
            limits,
            grants: resolved,
            shared: Arc::new(SharedState {
                config: Default::default(),
                host_fns: env.host_fns.clone(),
                granted_host_fns: Vec::new(),
                kv: None,
            }),
            metrics: Arc::new(Metrics::new()),
            profiler: None,
            tape: TapeSpec::Replay(player.clone()),
        };
        let mut run = Run {
            spec: &spec,
            player: &player,
            different_build,
            instance: None,
        };
        let mut last = (RecordedOutcome::Ok, 0, 0);
        for (i, entry) in recording.entries.iter().enumerate() {
            player.enter(i);
            let (outcome, fuel) = run.entry(entry).await?;
            player.leave();
            run.compare(entry, &outcome, fuel);
            last = (outcome, fuel, i);
            let dead = matches!(last.0, RecordedOutcome::Fault { .. });
            if player.divergence().is_some() || dead {
                break;
            }
        }
        let (outcome, fuel, index) = last;
        let call = recording.last().map_or_else(String::new, |e| e.describe());
        if index + 1 < recording.entries.len() && player.divergence().is_none() {
            player.diverge_outcome(
                outcome.label(),
                format!(
                    "the instance faulted at entry {index}, before the recorded call (entry {})",
                    recording.entries.len() - 1
                ),
            );
        }
        Ok(ReplayReport {
            plugin: name.to_string(),
            sha256,
            recorded_sha256: recorded.sha256.clone(),
            different_build,
            live_grants: recorded.live.reaches_live_world(),
            entries_run: index + 1,
            entries: recording.entries.len(),
            imports: player.answered(),
            call,
            recorded: recording
                .last()
                .map_or(RecordedOutcome::Ok, |e| e.outcome.clone()),
            outcome,
            recorded_fuel: recording.last().map_or(0, |e| e.fuel),
            fuel,
            divergence: player.divergence(),
        })
    }
}

/// A replay in progress: its one instance.
struct Run<'a> {
    spec: &'a InstanceSpec,
    player: &'a Player,
    different_build: bool,
    instance: Option<Instance>,
}

impl Run<'_> {
    /// Runs one entry: its outcome and the fuel it used.
    async fn entry(&mut self, entry: &crate::recording::Entry) -> Result<(RecordedOutcome, u64)> {
        let spec = self.spec;
        let limits = entry.limits.apply(&spec.limits);
        let function = entry.function.as_deref().unwrap_or_default();
        let instance = match (entry.kind, self.instance.as_mut()) {
            (EntryKind::Instantiate, _) => {
                return Ok(match Instance::new(spec).await {
                    Ok(i) => {
                        let fuel = i.fuel();
                        self.instance = Some(i);
                        (RecordedOutcome::Ok, fuel)
                    }
                    Err(Error::Fault { fault, .. }) => (recorded_fault(&fault), 0),
                    Err(e) => return Err(e),
                });
            }
            (_, Some(instance)) => instance,
            (_, None) => {
                let outcome = RecordedOutcome::Fault {
                    kind: "instantiate".into(),
                    message: "no instance: instantiation failed".into(),
                };
                return Ok((outcome, 0));
            }
        };
        let outcome = match entry.kind {
            EntryKind::Info => match instance.info(spec).await {
                Ok(_) => RecordedOutcome::Ok,
                Err(e) => error_outcome(&e),
            },
            EntryKind::Init => match instance.init(spec).await {
                Ok(()) => RecordedOutcome::Ok,
                Err(e) => error_outcome(&e),
            },
            EntryKind::Call => {
                let input = entry
                    .inputs
                    .first()
                    .map(|b| b.0.as_slice())
                    .unwrap_or_default();
                instance
                    .call(&limits, function, input, std::time::Instant::now())
                    .await
                    .recorded()
            }
            // `Instantiate` returned above.
            EntryKind::CallBatch | EntryKind::Instantiate => {
                let inputs: Vec<Vec<u8>> = entry.inputs.iter().map(|b| b.0.clone()).collect();
                match instance
                    .call_batch(&limits, function, &inputs, std::time::Instant::now())
                    .await
                {
                    Some(o) => o.recorded(),
                    None => RecordedOutcome::Fault {
                        kind: "no-call-batch".into(),
                        message: "this build has no call-batch".into(),
                    },
                }
            }
        };
        Ok((outcome, instance.fuel()))
    }

    /// Checks an entry's outcome and fuel against the recording (not for a
    /// different build).
    fn compare(&self, entry: &crate::recording::Entry, outcome: &RecordedOutcome, fuel: u64) {
        if self.different_build {
            return;
        }
        if !same_outcome(&entry.outcome, outcome) {
            self.player.diverge_outcome(
                outcome.label(),
                format!(
                    "it ended with {} where the recording ended with {}",
                    outcome.label(),
                    entry.outcome.label()
                ),
            );
        } else if fuel != entry.fuel && !entry.outcome.timed_out() {
            self.player.diverge_outcome(
                outcome.label(),
                format!(
                    "it consumed {fuel} fuel where the recording consumed {}",
                    entry.fuel
                ),
            );
        }
    }
}

/// An `info` or `init` error as a recorded outcome.
fn error_outcome(e: &Error) -> RecordedOutcome {
    match e {
        Error::Fault { fault, .. } => recorded_fault(fault),
        Error::Plugin { code, message, .. } => RecordedOutcome::PluginError {
            code: code.clone(),
            message: message.clone(),
        },
        e => RecordedOutcome::Fault {
            kind: "error".into(),
            message: e.to_string(),
        },
    }
}

/// Outputs byte for byte, plugin-errors by code and message, faults by kind (a
/// fault's message may carry addresses and timings).
fn same_outcome(recorded: &RecordedOutcome, now: &RecordedOutcome) -> bool {
    match (recorded, now) {
        (RecordedOutcome::Fault { kind: a, .. }, RecordedOutcome::Fault { kind: b, .. }) => a == b,
        (a, b) => a == b,
    }
}
