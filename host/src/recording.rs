//! Recordings: everything one instance of a plugin did, from its creation up to
//! and including one call, with the answer to every host import it made — what
//! [`crate::Runtime::replay`] runs again, exactly, offline. The file format is
//! CBOR (RFC 8949), described field by field in `docs/replay.md`; inputs, outputs
//! and random bytes are CBOR byte strings, never re-encoded text.
//!
//! ```no_run
//! # async fn f(rt: wasp_host::Runtime, p: wasp_host::Plugin) -> wasp_host::Result<()> {
//! use wasp_host::recording::{Recording, RecordWhen};
//! let recorded = p.call_recorded("process", b"{}", RecordWhen::Failures).await;
//! if let Some(r) = &recorded.recording {
//!     r.write_file("fault.wasprec").unwrap();
//! }
//! let r = Recording::read_file("fault.wasprec").unwrap();
//! let report = rt.replay(&r, None).await?;
//! println!("{:?}", report.divergence);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RecordingError;
use crate::spec::grants::{FileGrant, FileMode, NetGrant};

/// The value of a recording's `format` field.
pub const FORMAT: &str = "wasp-recording";
/// The version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
pub use crate::spec::options::{DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_CALLS, RecordWindow};

/// Which calls [`crate::Plugin::call_recorded`] returns a recording of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordWhen {
    /// Every call.
    Always,
    /// Calls that fault or return a `plugin-error` (a batch: that faults, or in
    /// which any input returned a `plugin-error`).
    Failures,
}

/// The result of a recorded call, and its recording when it is one to keep
/// (`None` also when the plugin is not recorded, or the call never reached an
/// instance: refused before, busy, unloaded).
#[derive(Debug)]
#[non_exhaustive]
pub struct Recorded<T> {
    /// What the call returned.
    pub result: crate::Result<T>,
    /// Its recording.
    pub recording: Option<Recording>,
}

/// Bytes, written as a CBOR byte string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Bytes(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) if s.len() <= 80 => write!(f, "{s:?}"),
            Ok(s) => write!(
                f,
                "{:?}… ({} bytes)",
                &s[..s.floor_char_boundary(80)],
                s.len()
            ),
            Err(_) => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

/// One recording: the plugin, and its instance's history up to the recorded call
/// (the last entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Recording {
    /// Always [`FORMAT`].
    pub format: String,
    /// The file format's version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The wasp that wrote it (`wasp-host` version).
    pub host: String,
    /// Seconds since the Unix epoch when it was written.
    pub recorded_at: u64,
    /// What was loaded, and the instance's context.
    pub plugin: RecordedPlugin,
    /// `instantiate`, then every entry into the instance, in order.
    pub entries: Vec<Entry>,
}

/// The plugin a recording ran, and what its instance was given when created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct RecordedPlugin {
    /// The name it was loaded under.
    pub name: String,
    /// The file it was loaded from (`None` for bytes).
    pub source: Option<PathBuf>,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Its `wasp:plugin` version, e.g. `0.3.0`.
    pub api: String,
    /// What `info` said its version is.
    pub plugin_version: String,
    /// The environment the instance was given (its `env` grant's variables).
    pub env: Vec<(String, String)>,
    /// `wasi:random/insecure-seed` of the instance.
    pub insecure_seed: [u64; 2],
    /// The grants that reach the live world, which a replay uses as they are.
    pub live: LiveGrants,
}

/// The grants whose reads are not recorded: files and sockets, and where stdout
/// and stderr went.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct LiveGrants {
    /// `[host, guest, "ro"|"rw"]` per granted directory.
    pub files: Vec<(PathBuf, String, String)>,
    /// `host:port` the plugin may connect to.
    pub network: Vec<String>,
    /// `host:port` the plugin may listen on.
    pub listen: Vec<String>,
    /// stdout is the host's own.
    pub stdout: bool,
    /// stderr is the host's own.
    pub stderr: bool,
}

impl LiveGrants {
    /// Whether the plugin reads from files or sockets (not recorded).
    pub fn reaches_live_world(&self) -> bool {
        !self.files.is_empty() || !self.network.is_empty() || !self.listen.is_empty()
    }

    pub(crate) fn of(g: &crate::spec::grants::Grants) -> Self {
        LiveGrants {
            files: g
                .files
                .iter()
                .map(|f| {
                    let mode = match f.mode {
                        FileMode::ReadOnly => "ro",
                        FileMode::ReadWrite => "rw",
                    };
                    (f.host.clone(), f.guest.clone(), mode.to_string())
                })
                .collect(),
            network: g.network.iter().map(ToString::to_string).collect(),
            listen: g.listen.iter().map(ToString::to_string).collect(),
            stdout: g.stdout,
            stderr: g.stderr,
        }
    }

    /// These grants as a plugin's [`crate::Grants`] (nothing else granted).
    pub(crate) fn grants(&self) -> Result<crate::spec::grants::Grants, RecordingError> {
        let bad = |what: String| RecordingError::Malformed { reason: what };
        let mut g = crate::spec::grants::Grants::default();
        for (host, guest, mode) in &self.files {
            let mode: FileMode = mode
                .parse()
                .map_err(|_| bad(format!("file grant mode {mode:?}")))?;
            g.files
                .push(FileGrant::new(host.clone(), guest.clone(), mode));
        }
        for n in &self.network {
            g.network
                .push(n.parse::<NetGrant>().map_err(|e| bad(e.to_string()))?);
        }
        for n in &self.listen {
            g.listen
                .push(n.parse::<NetGrant>().map_err(|e| bad(e.to_string()))?);
        }
        g.stdout = self.stdout;
        g.stderr = self.stderr;
        Ok(g)
    }
}

/// What an entry into the instance was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Instantiation (start functions).
    Instantiate,
    /// `info`.
    Info,
    /// `init`.
    Init,
    /// `call(function, input)`.
    Call,
    /// `call-batch(function, inputs)`.
    CallBatch,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Instantiate => "instantiate",
            EntryKind::Info => "info",
            EntryKind::Init => "init",
            EntryKind::Call => "call",
            EntryKind::CallBatch => "call-batch",
        })
    }
}

/// The limits an entry ran under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecordedLimits {
    /// Fuel.
    pub fuel: u64,
    /// Memory, bytes.
    pub memory: u64,
    /// Wall-clock limit, nanoseconds.
    pub timeout_ns: u64,
    /// Largest output, bytes.
    pub max_output: u64,
}

impl RecordedLimits {
    pub(crate) fn of(l: &crate::spec::limits::Limits) -> Self {
        RecordedLimits {
            fuel: l.fuel,
            memory: l.memory,
            timeout_ns: u64::try_from(l.timeout.as_nanos()).unwrap_or(u64::MAX),
            max_output: l.max_output,
        }
    }

    pub(crate) fn apply(&self, base: &crate::spec::limits::Limits) -> crate::spec::limits::Limits {
        let mut l = base.clone();
        l.fuel = self.fuel.max(1);
        l.memory = self.memory;
        l.timeout = std::time::Duration::from_nanos(self.timeout_ns.max(1));
        l.max_output = self.max_output;
        l
    }
}

/// One entry into the instance: what went in, what came out, the fuel it used and
/// the host imports it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Entry {
    /// What it was.
    pub kind: EntryKind,
    /// The function called (`call`, `call-batch`).
    pub function: Option<String>,
    /// The input (`call`: one; `call-batch`: each).
    pub inputs: Vec<Bytes>,
    /// The limits it ran under.
    pub limits: RecordedLimits,
    /// How it ended.
    pub outcome: RecordedOutcome,
    /// Fuel it consumed.
    pub fuel: u64,
    /// Every host import it made, in order, with its answer.
    pub imports: Vec<Import>,
}

/// How an entry ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RecordedOutcome {
    /// `instantiate`, `info` or `init` succeeded.
    Ok,
    /// A call returned this output.
    Output {
        /// The output.
        output: Bytes,
    },
    /// It returned a `plugin-error`.
    PluginError {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// It faulted.
    Fault {
        /// [`crate::Fault::kind`].
        kind: String,
        /// What the host reported.
        message: String,
    },
    /// A `call-batch` returned: per input, an output or a `plugin-error`.
    Batch {
        /// The results, in input order.
        results: Vec<std::result::Result<Bytes, (String, String)>>,
    },
}

impl RecordedOutcome {
    /// `ok`, `output`, `plugin-error`, `fault:KIND` or `batch`.
    pub fn label(&self) -> String {
        match self {
            RecordedOutcome::Ok => "ok".into(),
            RecordedOutcome::Output { .. } => "output".into(),
            RecordedOutcome::PluginError { code, .. } => format!("plugin-error {code}"),
            RecordedOutcome::Fault { kind, .. } => format!("fault:{kind}"),
            RecordedOutcome::Batch { results } => format!(
                "batch of {} ({} plugin-errors)",
                results.len(),
                results.iter().filter(|r| r.is_err()).count()
            ),
        }
    }

    /// The exit code `wasp` gives this outcome: 0, 1 (a plugin-error, in a batch
    /// too) or 3 (a fault).
    pub fn exit_code(&self) -> u8 {
        match self {
            RecordedOutcome::Fault { .. } => 3,
            RecordedOutcome::PluginError { .. } => 1,
            RecordedOutcome::Batch { results } if results.iter().any(|r| r.is_err()) => 1,
            _ => 0,
        }
    }

    /// Whether it is a failure in the sense of [`RecordWhen::Failures`].
    pub fn is_failure(&self) -> bool {
        self.exit_code() != 0
    }

    /// Whether this outcome depends on time rather than on the inputs (a timeout:
    /// its fuel is not comparable).
    pub(crate) fn timed_out(&self) -> bool {
        matches!(self, RecordedOutcome::Fault { kind, .. } if kind == "timeout")
    }

    fn size(&self) -> u64 {
        match self {
            RecordedOutcome::Output { output } => output.0.len() as u64,
            RecordedOutcome::PluginError { code, message }
            | RecordedOutcome::Fault {
                kind: code,
                message,
            } => (code.len() + message.len()) as u64,
            RecordedOutcome::Batch { results } => results
                .iter()
                .map(|r| match r {
                    Ok(b) => b.0.len() as u64,
                    Err((c, m)) => (c.len() + m.len()) as u64,
                })
                .sum(),
            RecordedOutcome::Ok => 0,
        }
    }
}

/// One host import the guest made, with the answer it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "import", rename_all = "kebab-case")]
pub enum Import {
    /// `get-config(key)`.
    GetConfig {
        /// The key.
        key: String,
        /// The answer.
        value: Option<String>,
    },
    /// `call-host(name, input)`.
    CallHost {
        /// The host function.
        name: String,
        /// Its input.
        input: Bytes,
        /// The answer.
        result: std::result::Result<Bytes, String>,
    },
    /// `kv-get(key)`.
    KvGet {
        /// The key.
        key: String,
        /// The answer.
        result: std::result::Result<Option<Bytes>, String>,
    },
    /// `kv-set(key, value)`.
    KvSet {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
        /// The answer: `None` for done, else the error.
        error: Option<String>,
    },
    /// `kv-delete(key)`.
    KvDelete {
        /// The key.
        key: String,
        /// The answer: `None` for done, else the error.
        error: Option<String>,
    },
    /// `kv-list-keys(prefix)`.
    KvListKeys {
        /// The prefix.
        prefix: String,
        /// The answer.
        result: std::result::Result<Vec<String>, String>,
    },
    /// `wasi:clocks/wall-clock.now`: since the Unix epoch.
    WallClock {
        /// Seconds.
        seconds: u64,
        /// Nanoseconds.
        nanos: u32,
    },
    /// `wasi:clocks/wall-clock.resolution`, nanoseconds.
    WallResolution {
        /// The answer.
        nanos: u64,
    },
    /// `wasi:clocks/monotonic-clock.now` (also read by `subscribe-instant`).
    MonotonicClock {
        /// Nanoseconds.
        nanos: u64,
    },
    /// `wasi:clocks/monotonic-clock.resolution`, nanoseconds.
    MonotonicResolution {
        /// The answer.
        nanos: u64,
    },
    /// Draws from `wasi:random/random`'s generator: consecutive draws are one
    /// import, their output words concatenated little-endian.
    Random {
        /// The generator's output.
        bytes: Bytes,
    },
    /// Draws from `wasi:random/insecure`'s generator, as [`Import::Random`].
    InsecureRandom {
        /// The generator's output.
        bytes: Bytes,
    },
}

impl Import {
    /// Its name and arguments, as a report shows them: `kv-get "count"`.
    pub fn describe(&self) -> String {
        match self {
            Import::GetConfig { key, .. } => format!("get-config {key:?}"),
            Import::CallHost { name, input, .. } => {
                format!("call-host {name:?} ({} bytes in)", input.0.len())
            }
            Import::KvGet { key, .. } => format!("kv-get {key:?}"),
            Import::KvSet { key, value, .. } => {
                format!("kv-set {key:?} ({} bytes)", value.0.len())
            }
            Import::KvDelete { key, .. } => format!("kv-delete {key:?}"),
            Import::KvListKeys { prefix, .. } => format!("kv-list-keys {prefix:?}"),
            Import::WallClock { .. } => "wall-clock now".into(),
            Import::WallResolution { .. } => "wall-clock resolution".into(),
            Import::MonotonicClock { .. } => "monotonic-clock now".into(),
            Import::MonotonicResolution { .. } => "monotonic-clock resolution".into(),
            Import::Random { bytes } => format!("random ({} bytes)", bytes.0.len()),
            Import::InsecureRandom { bytes } => {
                format!("insecure random ({} bytes)", bytes.0.len())
            }
        }
    }

    pub(crate) fn size(&self) -> u64 {
        let r = |r: &std::result::Result<Bytes, String>| match r {
            Ok(b) => b.0.len(),
            Err(e) => e.len(),
        };
        (match self {
            Import::GetConfig { key, value } => key.len() + value.as_ref().map_or(0, String::len),
            Import::CallHost {
                name,
                input,
                result,
            } => name.len() + input.0.len() + r(result),
            Import::KvGet { key, result } => {
                key.len()
                    + match result {
                        Ok(v) => v.as_ref().map_or(0, |b| b.0.len()),
                        Err(e) => e.len(),
                    }
            }
            Import::KvSet { key, value, .. } => key.len() + value.0.len(),
            Import::KvDelete { key, .. } => key.len(),
            Import::KvListKeys { prefix, result } => {
                prefix.len()
                    + match result {
                        Ok(keys) => keys.iter().map(String::len).sum(),
                        Err(e) => e.len(),
                    }
            }
            Import::Random { bytes } | Import::InsecureRandom { bytes } => bytes.0.len(),
            _ => 8,
        }) as u64
            + 16
    }
}

impl Entry {
    /// Bytes this entry holds (for the record window).
    pub(crate) fn size(&self) -> u64 {
        self.inputs.iter().map(|i| i.0.len() as u64).sum::<u64>()
            + self.outcome.size()
            + self.imports.iter().map(Import::size).sum::<u64>()
            + 64
    }

    /// `call 'process'`, `init`, …
    pub fn describe(&self) -> String {
        match &self.function {
            Some(f) => format!("{} '{f}'", self.kind),
            None => self.kind.to_string(),
        }
    }
}

impl Recording {
    /// The recorded call: the last entry.
    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing CBOR into a Vec cannot fail: every value here has a CBOR form.
        let _ = ciborium::into_writer(self, &mut out);
        out
    }

    /// Reads a recording from its file's bytes.
    ///
    /// # Errors
    /// [`RecordingError::Malformed`] when the bytes are not a recording,
    /// [`RecordingError::Version`] when it is of a format version this build
    /// does not read.
    ///
    /// ```
    /// use wasp_host::RecordingError;
    /// let e = wasp_host::recording::Recording::from_bytes(b"nonsense").unwrap_err();
    /// assert!(matches!(e, RecordingError::Malformed { .. }));
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, RecordingError> {
        // The format and version first, so a newer file says so rather than
        // failing on a field it does not know.
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head = ciborium::from_reader(bytes).map_err(|e| RecordingError::Malformed {
            reason: cbor_error(&e),
        })?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(RecordingError::Malformed {
                reason: format!("its format is {:?}, not {FORMAT:?}", head.format),
            });
        }
        match head.version {
            Some(FORMAT_VERSION) => {}
            found => {
                return Err(RecordingError::Version {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
        let r: Recording = ciborium::from_reader(bytes).map_err(|e| RecordingError::Malformed {
            reason: cbor_error(&e),
        })?;
        if r.entries.first().map(|e| e.kind) != Some(EntryKind::Instantiate) {
            return Err(RecordingError::Malformed {
                reason: "its first entry is not `instantiate`".into(),
            });
        }
        Ok(r)
    }

    /// Writes the recording to `path`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_file(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }

    /// Reads a recording from `path`.
    ///
    /// # Errors
    /// [`RecordingError::Io`], or as [`Recording::from_bytes`].
    pub fn read_file(path: impl AsRef<Path>) -> Result<Recording, RecordingError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Recording::from_bytes(&bytes)
    }

    pub(crate) fn new(plugin: RecordedPlugin, entries: Vec<Entry>) -> Self {
        Recording {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            host: env!("CARGO_PKG_VERSION").into(),
            recorded_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            plugin,
            entries,
        }
    }
}

/// Where a replay first differed from its recording.
///
/// ```no_run
/// # fn f(d: wasp_host::recording::Divergence) {
/// eprintln!("entry {} ({}): {}", d.entry, d.during, d.what);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Divergence {
    /// The index of the entry (0 is `instantiate`).
    pub entry: usize,
    /// That entry: `call 'process'`.
    pub during: String,
    /// The index of the host import within the entry, when it was one.
    pub import: Option<usize>,
    /// The recorded host import there (its name and arguments).
    pub recorded: Option<String>,
    /// What the replay did there instead.
    pub replayed: Option<String>,
    /// What differed, in words.
    pub what: String,
}

/// What [`crate::Runtime::replay`] found: the replayed outcome of the recorded
/// call beside the recorded one, and the first divergence, if any.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The plugin's name.
    pub plugin: String,
    /// SHA-256 of the file replayed, hex.
    pub sha256: String,
    /// SHA-256 of the file recorded, hex.
    pub recorded_sha256: String,
    /// Another build than the recorded one ran (`--plugin`): outcomes and fuel
    /// are reported, not compared.
    pub different_build: bool,
    /// The plugin has file or network grants: its reads from files and sockets
    /// were not recorded, and the replay used the live grants.
    pub live_grants: bool,
    /// Entries run (of the recording's).
    pub entries_run: usize,
    /// Entries in the recording.
    pub entries: usize,
    /// Host imports answered from the recording.
    pub imports: usize,
    /// The recorded call: `call 'process'`.
    pub call: String,
    /// How the recorded call ended when recorded.
    pub recorded: RecordedOutcome,
    /// How it ended now (of the last entry run, after a divergence).
    pub outcome: RecordedOutcome,
    /// Fuel it consumed when recorded.
    pub recorded_fuel: u64,
    /// Fuel it consumed now.
    pub fuel: u64,
    /// Where the replay first differed from the recording.
    pub divergence: Option<Divergence>,
}

impl ReplayReport {
    /// `wasp replay`'s exit code: 4 on a divergence, else the outcome's (0, 1,
    /// 3).
    pub fn exit_code(&self) -> u8 {
        if self.divergence.is_some() {
            4
        } else {
            self.outcome.exit_code()
        }
    }
}

/// What the instance context of a recording holds beyond the plugin: filled in
/// when the instance is created.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceContext {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) insecure_seed: [u64; 2],
}

/// A CBOR decoding error in words: ciborium's `Display` is its `Debug`.
fn cbor_error(e: &ciborium::de::Error<std::io::Error>) -> String {
    use ciborium::de::Error;
    match e {
        Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "it ends early (truncated?)".to_string()
        }
        Error::Io(io) => io.to_string(),
        Error::Syntax(at) => format!("bad CBOR at byte {at}"),
        Error::Semantic(Some(at), what) => format!("{what} (at byte {at})"),
        Error::Semantic(None, what) => what.clone(),
        Error::RecursionLimitExceeded => "nested too deeply".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Recording {
        Recording::new(
            RecordedPlugin {
                name: "p".into(),
                source: Some("/x/p.wasm".into()),
                sha256: "00".repeat(32),
                api: "0.3.0".into(),
                plugin_version: "1.0.0".into(),
                env: vec![("A".into(), "b".into())],
                insecure_seed: [1, 2],
                live: LiveGrants::default(),
            },
            vec![
                Entry {
                    kind: EntryKind::Instantiate,
                    function: None,
                    inputs: vec![],
                    limits: RecordedLimits::of(&crate::Limits::default()),
                    outcome: RecordedOutcome::Ok,
                    fuel: 0,
                    imports: vec![],
                },
                Entry {
                    kind: EntryKind::Call,
                    function: Some("f".into()),
                    inputs: vec![Bytes(vec![0, 255, 1])],
                    limits: RecordedLimits::of(&crate::Limits::default()),
                    outcome: RecordedOutcome::Batch {
                        results: vec![Ok(Bytes(b"x".to_vec())), Err(("c".into(), "m".into()))],
                    },
                    fuel: 77,
                    imports: vec![
                        Import::KvGet {
                            key: "k".into(),
                            result: Ok(Some(Bytes(vec![9; 3]))),
                        },
                        Import::Random {
                            bytes: Bytes(vec![1, 2, 3, 4]),
                        },
                        Import::CallHost {
                            name: "h".into(),
                            input: Bytes(vec![]),
                            result: Err("no".into()),
                        },
                        Import::WallClock {
                            seconds: 5,
                            nanos: 6,
                        },
                    ],
                },
            ],
        )
    }

    #[test]
    fn round_trips_and_keeps_bytes_as_bytes() {
        let r = sample();
        let bytes = r.to_bytes();
        assert_eq!(Recording::from_bytes(&bytes).expect("reads"), r);
        // The input [0, 255, 1] is a CBOR byte string (major type 2, length 3).
        assert!(bytes.windows(4).any(|w| w == [0x43, 0, 255, 1]));
    }

    #[test]
    fn refuses_other_versions_and_garbage() {
        let mut r = sample();
        r.version = 99;
        assert!(matches!(
            Recording::from_bytes(&r.to_bytes()),
            Err(RecordingError::Version {
                found: Some(99),
                ..
            })
        ));
        assert!(Recording::from_bytes(&[]).is_err());
        let mut cut = sample().to_bytes();
        cut.truncate(cut.len() / 2);
        // Said in words, not as ciborium's Debug.
        match Recording::from_bytes(&cut) {
            Err(RecordingError::Malformed { reason }) => {
                assert!(reason.contains("truncated"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
