//! The manifest: the operator's TOML file that says which plugins to load, what
//! each may reach and how much it may use (see `docs/contracts.md`).
//!
//! Parsing is pure and strict: text in, a [`Manifest`] out, and an unknown key, a
//! bad size or duration, or a malformed grant is a [`ManifestError`] naming the
//! file, line, column and key. Nothing here touches the file system: whether the
//! plugin files and granted directories exist is checked when the manifest is
//! loaded ([`crate::Runtime::load`]), and reported at the same file, line and key.
//!
//! ```
//! use wasp_host::manifest::Manifest;
//! let m = Manifest::parse(r#"
//! [defaults.limits]
//! timeout = "1s"
//!
//! [plugins.upper]
//! path = "upper.wasm"       # relative to the manifest
//! limits = { fuel = 5_000 }
//! "#, "conf/wasp.toml")?;
//! let upper = m.plugin("upper").unwrap();
//! assert_eq!(upper.options().limits.fuel, 5_000);
//! assert_eq!(upper.options().limits.timeout, std::time::Duration::from_secs(1));
//! assert_eq!(upper.path(), std::path::Path::new("conf/upper.wasm"));
//! # Ok::<(), wasp_host::manifest::ManifestError>(())
//! ```

mod span;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

pub use crate::error::ManifestError;
use crate::spec::grants::{FileGrant, FileMode, Grants};
use crate::spec::limits::Limits;
use crate::spec::options::{InstanceMode, PluginOptions};
pub use crate::spec::pipeline::{DEFAULT_ACK_WAIT, NatsServer, NatsSink, NatsSource, Sink, Source};
use crate::spec::pipeline::{name_problem, subject_problem, url_problem};
use crate::spec::units::{Dur, Size};

// ---- the TOML schema -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawManifest {
    runtime: Option<RawRuntime>,
    defaults: Option<RawDefaults>,
    #[serde(default)]
    plugins: BTreeMap<String, Spanned<RawPlugin>>,
    pipeline: Option<RawPipeline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawRuntime {
    state: Option<Spanned<String>>,
    watch: Option<bool>,
    kv_commit: Option<Spanned<Dur>>,
    trusted_keys: Option<Vec<Spanned<String>>>,
    require_signatures: Option<bool>,
    metrics: Option<Spanned<String>>,
    record_window: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawDefaults {
    limits: Option<RawLimits>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawLimits {
    fuel: Option<Spanned<u64>>,
    memory: Option<Spanned<Size>>,
    timeout: Option<Spanned<Dur>>,
    max_input: Option<Size>,
    max_output: Option<Size>,
    max_faults: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawPlugin {
    path: Spanned<String>,
    sha256: Option<Spanned<String>>,
    signed_by: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    config: BTreeMap<String, Spanned<toml::Value>>,
    instance: Option<Spanned<String>>,
    max_instances: Option<Spanned<u32>>,
    max_queue: Option<Spanned<u32>>,
    limits: Option<RawLimits>,
    grants: Option<RawGrants>,
    rollout: Option<RawRollout>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawRollout {
    shadow_events: Option<Spanned<u64>>,
    max_faults: Option<Spanned<u64>>,
    max_diff: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawGrants {
    #[serde(default)]
    files: Vec<Spanned<RawFileGrant>>,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default)]
    stdout: bool,
    #[serde(default)]
    stderr: bool,
    #[serde(default)]
    network: Vec<Spanned<String>>,
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    #[serde(default)]
    host_functions: Vec<Spanned<String>>,
    kv: Option<Spanned<bool>>,
    kv_quota: Option<Spanned<Size>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table such as { host = \"data\", guest = \"/data\", mode = \"ro\" }"
)]
struct RawFileGrant {
    host: Spanned<String>,
    guest: Spanned<String>,
    mode: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawPipeline {
    stages: Spanned<Vec<Spanned<String>>>,
    batch: Option<Spanned<u32>>,
    source: Option<Spanned<RawSource>>,
    sink: Option<Spanned<RawSink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawSource {
    nats: Option<Spanned<String>>,
    stream: Option<Spanned<String>>,
    consumer: Option<Spanned<String>>,
    subject: Option<Spanned<String>>,
    ack_wait: Option<Spanned<Dur>>,
    creds: Option<Spanned<String>>,
    tls: Option<bool>,
    ordered: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", expecting = "a table")]
struct RawSink {
    nats: Option<Spanned<String>>,
    subject: Option<Spanned<String>>,
    dead_letter: Option<Spanned<String>>,
    creds: Option<Spanned<String>>,
    tls: Option<bool>,
}

// ---- the validated manifest ------------------------------------------------

/// A parsed and validated manifest.
///
/// ```no_run
/// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
/// for (name, plugin) in m.plugins() {
///     println!("{name}: {}", plugin.path().display());
/// }
/// # Ok::<(), wasp_host::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Manifest {
    file: PathBuf,
    state: Option<PathBuf>,
    watch: bool,
    kv_commit: Duration,
    trusted_keys: Vec<KeyFile>,
    require_signatures: bool,
    metrics: Option<std::net::SocketAddr>,
    record_window: u32,
    plugins: BTreeMap<String, PluginEntry>,
    pipeline: Option<Vec<String>>,
    batch: u32,
    source: Option<Source>,
    sink: Option<Sink>,
}

/// `[pipeline] batch` when not given: events per `call-batch` to a 0.3.0 stage.
pub const DEFAULT_BATCH: u32 = 256;
/// Largest `[pipeline] batch` accepted.
pub const MAX_BATCH: u32 = 65_536;
/// `[runtime] kv-commit` when not given: the longest a kv write waits for the
/// group commit that makes it durable.
pub const DEFAULT_KV_COMMIT: Duration = Duration::from_millis(5);
/// Largest `[runtime] kv-commit` accepted.
pub const MAX_KV_COMMIT: Duration = Duration::from_secs(1);

/// Where a value was written in the manifest: 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Position {
    line: usize,
    column: usize,
}

/// A public key file named in the manifest (`trusted-keys`, `signed-by`), relative
/// to the manifest, and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct KeyFile {
    pub(crate) path: PathBuf,
    pub(crate) at: Position,
}

/// One `[plugins.NAME]` table: its file and its options.
///
/// ```no_run
/// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
/// let p = m.plugin("upper").expect("declared");
/// println!("{} with {:?}", p.path().display(), p.options().limits);
/// # Ok::<(), wasp_host::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PluginEntry {
    name: String,
    path: PathBuf,
    options: PluginOptions,
    signed_by: Option<Vec<KeyFile>>,
    path_at: Position,
    /// Where each `grants.files` entry's `host` was written, in order.
    files_at: Vec<Position>,
}

impl PluginEntry {
    /// The `.wasm` file, relative to the manifest's directory (as joined, not
    /// checked).
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[plugins.a]\npath = \"a.wasm\"", "d/wasp.toml")?;
    /// assert_eq!(m.plugin("a").unwrap().path(), std::path::Path::new("d/a.wasm"));
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Limits, grants, config and pool settings.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[plugins.a]\npath = \"a.wasm\"", "wasp.toml")?;
    /// assert_eq!(m.plugin("a").unwrap().options().max_instances, 4);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn options(&self) -> &PluginOptions {
        &self.options
    }
    /// `signed-by`: the public key files (relative to the manifest's directory) one
    /// of which must have signed the plugin; `None` when the entry has none (then
    /// `[runtime] trusted-keys` applies). The keys are read when the manifest is
    /// loaded.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse(
    ///     "[plugins.a]\npath = \"a.wasm\"\nsigned-by = [\"keys/acme.pub\"]", "d/wasp.toml")?;
    /// assert_eq!(m.plugin("a").unwrap().signed_by().unwrap(), [std::path::Path::new("d/keys/acme.pub")]);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn signed_by(&self) -> Option<Vec<&Path>> {
        self.signed_by
            .as_ref()
            .map(|keys| keys.iter().map(|k| k.path.as_path()).collect())
    }

    /// The name it is declared under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its own `signed-by` list, with where each key was written.
    pub(crate) fn signed_by_files(&self) -> Option<&[KeyFile]> {
        self.signed_by.as_deref()
    }
}

impl Manifest {
    /// Reads and validates a manifest file.
    ///
    /// # Errors
    /// [`crate::Error::Manifest`] with the file, line, column and key.
    ///
    /// ```no_run
    /// let m = wasp_host::manifest::Manifest::from_file("wasp.toml")?;
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> crate::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the manifest: {e}"),
        })?;
        Ok(Self::parse(&text, path)?)
    }

    /// Parses manifest text; relative paths in it are taken against the
    /// directory of `file`. Pure: nothing is read from disk.
    ///
    /// # Errors
    /// A [`ManifestError`] naming `file`, line, column and key.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert_eq!(m.plugins().count(), 0);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let file = file.as_ref();
        let raw: RawManifest = {
            let de = toml::de::Deserializer::parse(text)
                .map_err(|e| at(file, text, e.span(), "", clean(e.message())))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let key = clean_path(&e.path().to_string());
                let inner = e.into_inner();
                at(file, text, inner.span(), &key, clean(inner.message()))
            })?
        };
        Validator {
            file,
            text,
            dir: base_dir(file),
        }
        .manifest(raw)
    }

    /// The file this manifest was read from.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "conf/wasp.toml")?;
    /// assert_eq!(m.file(), std::path::Path::new("conf/wasp.toml"));
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The plugins, by name, in name order.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert!(m.plugins().next().is_none());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn plugins(&self) -> impl Iterator<Item = (&str, &PluginEntry)> {
        self.plugins.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One plugin's entry.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert!(m.plugin("nope").is_none());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn plugin(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.get(name)
    }

    /// The `[pipeline] stages`, if the manifest has a pipeline.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert!(m.pipeline().is_none());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn pipeline(&self) -> Option<&[String]> {
        self.pipeline.as_deref()
    }

    /// `[runtime] state`: the key-value database file, relative to the manifest.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert!(m.state().is_none());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn state(&self) -> Option<&Path> {
        self.state.as_deref()
    }

    /// `[runtime] watch`.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[runtime]\nwatch = true", "wasp.toml")?;
    /// assert!(m.watch());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn watch(&self) -> bool {
        self.watch
    }

    /// `[runtime] kv-commit`: how long kv writes may gather before one durable commit
    /// (default [`DEFAULT_KV_COMMIT`]; zero commits every write on its own).
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[runtime]\nkv-commit = \"0ms\"", "wasp.toml")?;
    /// assert!(m.kv_commit().is_zero());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn kv_commit(&self) -> Duration {
        self.kv_commit
    }

    /// `[runtime] trusted-keys`: the public key files (relative to the manifest's
    /// directory) that may sign plugins without a `signed-by` of their own.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[runtime]\ntrusted-keys = [\"k.pub\"]", "wasp.toml")?;
    /// assert_eq!(m.trusted_keys().count(), 1);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn trusted_keys(&self) -> impl Iterator<Item = &Path> {
        self.trusted_keys.iter().map(|k| k.path.as_path())
    }

    /// `[runtime] require-signatures`: refuse plugins that no trusted key list
    /// covers (default false).
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert!(!m.require_signatures());
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn require_signatures(&self) -> bool {
        self.require_signatures
    }

    /// `[runtime] record-window`: the calls each instance keeps in its history
    /// while recording is on (`wasp run --record`), default 10000; with 64 MiB,
    /// the window of [`crate::recording::RecordWindow`].
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[runtime]\nrecord-window = 50", "wasp.toml")?;
    /// assert_eq!(m.record_window().calls, 50);
    /// # Ok::<(), wasp_host::Error>(())
    /// ```
    pub fn record_window(&self) -> crate::recording::RecordWindow {
        crate::recording::RecordWindow {
            calls: self.record_window,
            ..Default::default()
        }
    }

    /// `[runtime] metrics`: where `wasp run` serves `/metrics` for Prometheus.
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("[runtime]\nmetrics = \"127.0.0.1:9464\"", "wasp.toml")?;
    /// assert_eq!(m.metrics().unwrap().port(), 9464);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn metrics(&self) -> Option<std::net::SocketAddr> {
        self.metrics
    }

    /// `[runtime] trusted-keys`, with where each key was written.
    pub(crate) fn trusted_key_files(&self) -> &[KeyFile] {
        &self.trusted_keys
    }

    /// An error about a key file: where it was written, under `key`.
    pub(crate) fn error_at_key(&self, at: Position, key: String, message: String) -> ManifestError {
        self.error(at, key, message)
    }

    /// `[pipeline] batch`: the most events `wasp run` sends a `wasp:plugin@0.3.0`
    /// stage in one `call-batch` (default [`DEFAULT_BATCH`]; 1 disables batching).
    ///
    /// ```
    /// let m = wasp_host::manifest::Manifest::parse("", "wasp.toml")?;
    /// assert_eq!(m.batch(), 256);
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// `[pipeline.source]`: where `wasp run` reads events when no `--input` is
    /// given (`None`: stdin).
    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    /// `[pipeline.sink]`: where `wasp run` writes outputs when no `--output` is
    /// given (`None`: stdout).
    ///
    /// ```
    /// use wasp_host::manifest::{Manifest, Sink};
    /// let m = Manifest::parse(r#"
    /// [plugins.a]
    /// path = "a.wasm"
    /// [pipeline]
    /// stages = ["a"]
    /// [pipeline.sink]
    /// nats = "nats://127.0.0.1:4222"
    /// subject = "results"
    /// dead-letter = "dead"
    /// "#, "wasp.toml")?;
    /// let Some(Sink::Nats(s)) = m.sink() else { panic!() };
    /// assert_eq!((s.subject.as_str(), s.dead_letter.as_deref()), ("results", Some("dead")));
    /// # Ok::<(), wasp_host::manifest::ManifestError>(())
    /// ```
    pub fn sink(&self) -> Option<&Sink> {
        self.sink.as_ref()
    }

    /// An error found after parsing (at load), placed where `entry`'s `path`
    /// was written.
    pub(crate) fn error_at_path(&self, entry: &PluginEntry, message: String) -> ManifestError {
        self.error(
            entry.path_at,
            format!("plugins.{}.path", entry.name),
            message,
        )
    }

    /// An error about `entry`'s file grant `index` (or its grants as a whole).
    pub(crate) fn error_at_grant(
        &self,
        entry: &PluginEntry,
        index: Option<usize>,
        message: String,
    ) -> ManifestError {
        match index.and_then(|i| entry.files_at.get(i)) {
            Some(pos) => self.error(
                *pos,
                format!("plugins.{}.grants.files.host", entry.name),
                message,
            ),
            None => self.error(
                entry.path_at,
                format!("plugins.{}.grants", entry.name),
                message,
            ),
        }
    }

    fn error(&self, pos: Position, key: String, message: String) -> ManifestError {
        ManifestError {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            key,
            message,
        }
    }
}

fn at(
    file: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    key: &str,
    message: impl Into<String>,
) -> ManifestError {
    let (line, column) = span
        .map(|s| span::line_col(text, s.start))
        .unwrap_or((0, 0));
    ManifestError {
        file: file.to_path_buf(),
        line,
        column,
        key: key.to_string(),
        message: message.into(),
    }
}

/// toml's messages end with a newline and sometimes repeat the position.
fn clean(message: &str) -> String {
    message.trim().to_string()
}

/// serde's path through `Spanned` values shows private field names; drop them.
fn clean_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split('.')
        .filter(|seg| !seg.starts_with("$__"))
        .collect::<Vec<_>>()
        .join(".")
}

fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    dir: PathBuf,
}

impl Validator<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> Result<T, ManifestError> {
        Err(at(self.file, self.text, Some(span), key, message))
    }

    fn pos(&self, span: std::ops::Range<usize>) -> Position {
        let (line, column) = span::line_col(self.text, span.start);
        Position { line, column }
    }

    fn manifest(&self, raw: RawManifest) -> Result<Manifest, ManifestError> {
        let defaults = match raw.defaults.and_then(|d| d.limits) {
            Some(l) => self.limits(Limits::default(), &l, "defaults.limits")?,
            None => Limits::default(),
        };
        let mut trusted_keys = Vec::new();
        let mut require_signatures = false;
        let mut metrics = None;
        let mut record_window = crate::recording::DEFAULT_WINDOW_CALLS;
        let (state, watch, kv_commit) = match raw.runtime {
            Some(r) => {
                let kv_commit = match r.kv_commit {
                    Some(d) if d.get_ref().0 > MAX_KV_COMMIT => {
                        return self.err(
                            d.span(),
                            "runtime.kv-commit",
                            format!(
                                "kv-commit is the longest a write waits to become durable; \
                                 at most {}ms",
                                MAX_KV_COMMIT.as_millis()
                            ),
                        );
                    }
                    Some(d) => d.into_inner().0,
                    None => DEFAULT_KV_COMMIT,
                };
                trusted_keys = self.key_files(r.trusted_keys.unwrap_or_default());
                require_signatures = r.require_signatures.unwrap_or(false);
                if let Some(w) = r.record_window {
                    if *w.get_ref() == 0 {
                        return self.err(
                            w.span(),
                            "runtime.record-window",
                            "record-window is the calls an instance keeps while recording; at least 1",
                        );
                    }
                    record_window = w.into_inner();
                }
                if let Some(m) = r.metrics {
                    match m.get_ref().parse::<std::net::SocketAddr>() {
                        Ok(addr) => metrics = Some(addr),
                        Err(_) => {
                            return self.err(
                                m.span(),
                                "runtime.metrics",
                                format!(
                                    "invalid address `{}`: give IP:PORT, e.g. \"127.0.0.1:9464\"",
                                    m.get_ref()
                                ),
                            );
                        }
                    }
                }
                (
                    r.state.map(|s| self.dir.join(s.into_inner())),
                    r.watch.unwrap_or(false),
                    kv_commit,
                )
            }
            None => (None, false, DEFAULT_KV_COMMIT),
        };
        let mut plugins = BTreeMap::new();
        for (name, p) in raw.plugins {
            let key = format!("plugins.{name}");
            if !valid_name(&name) {
                return self.err(
                    p.span(),
                    &key,
                    format!("invalid plugin name `{name}`: use letters, digits, '-' and '_'"),
                );
            }
            let entry = self.plugin(&name, &defaults, p.into_inner())?;
            plugins.insert(name, entry);
        }
        let mut batch = DEFAULT_BATCH;
        let (mut source, mut sink) = (None, None);
        let pipeline = match raw.pipeline {
            Some(p) => {
                if let Some(s) = p.source {
                    source = Some(self.source(s)?);
                }
                if let Some(s) = p.sink {
                    sink = Some(self.sink(s)?);
                }
                if let Some(b) = p.batch {
                    let n = *b.get_ref();
                    if n == 0 || n > MAX_BATCH {
                        return self.err(
                            b.span(),
                            "pipeline.batch",
                            format!("batch must be from 1 (no batching) to {MAX_BATCH}, not {n}"),
                        );
                    }
                    batch = n;
                }
                let span = p.stages.span();
                let stages = p.stages.into_inner();
                if stages.is_empty() {
                    return self.err(
                        span,
                        "pipeline.stages",
                        "a pipeline needs at least one stage",
                    );
                }
                let mut out = Vec::new();
                for s in stages {
                    if !plugins.contains_key(s.get_ref()) {
                        let known = plugins.keys().cloned().collect::<Vec<_>>().join(", ");
                        return self.err(
                            s.span(),
                            "pipeline.stages",
                            format!(
                                "no plugin named `{}` is declared (declared: {known})",
                                s.get_ref()
                            ),
                        );
                    }
                    out.push(s.into_inner());
                }
                Some(out)
            }
            None => None,
        };
        Ok(Manifest {
            file: self.file.to_path_buf(),
            state,
            watch,
            kv_commit,
            trusted_keys,
            require_signatures,
            metrics,
            record_window,
            plugins,
            pipeline,
            batch,
            source,
            sink,
        })
    }

    /// A `[pipeline.source]` table.
    fn source(&self, raw: Spanned<RawSource>) -> Result<Source, ManifestError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let key = "pipeline.source";
        let server = self.server(span.clone(), key, raw.nats, raw.creds, raw.tls)?;
        let Some(stream) = raw.stream else {
            return self.err(
                span,
                &format!("{key}.stream"),
                "a NATS source needs the JetStream stream to read: stream = \"events\"",
            );
        };
        let stream = self.name(stream, &format!("{key}.stream"))?;
        let consumer = match raw.consumer {
            Some(c) => self.name(c, &format!("{key}.consumer"))?,
            None => "wasp".to_string(),
        };
        let filter = match raw.subject {
            Some(s) => Some(self.subject(s, &format!("{key}.subject"), true)?),
            None => None,
        };
        let ack_wait = match raw.ack_wait {
            Some(d) if d.get_ref().0.is_zero() => {
                return self.err(
                    d.span(),
                    &format!("{key}.ack-wait"),
                    "ack-wait is how long a delivered event waits for its acknowledgement; more than 0",
                );
            }
            Some(d) => d.into_inner().0,
            None => DEFAULT_ACK_WAIT,
        };
        Ok(Source::Nats(NatsSource {
            server,
            stream,
            consumer,
            filter,
            ack_wait,
            ordered: raw.ordered.unwrap_or(false),
        }))
    }

    /// A `[pipeline.sink]` table.
    fn sink(&self, raw: Spanned<RawSink>) -> Result<Sink, ManifestError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let key = "pipeline.sink";
        let server = self.server(span.clone(), key, raw.nats, raw.creds, raw.tls)?;
        let Some(subject) = raw.subject else {
            return self.err(
                span,
                &format!("{key}.subject"),
                "a NATS sink needs the subject outputs are published to: subject = \"results\"",
            );
        };
        let subject = self.subject(subject, &format!("{key}.subject"), false)?;
        let dead_letter = match raw.dead_letter {
            Some(s) => Some(self.subject(s, &format!("{key}.dead-letter"), false)?),
            None => None,
        };
        Ok(Sink::Nats(NatsSink {
            server,
            subject,
            dead_letter,
        }))
    }

    /// The `nats`, `creds` and `tls` keys of a source or sink table.
    fn server(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        nats: Option<Spanned<String>>,
        creds: Option<Spanned<String>>,
        tls: Option<bool>,
    ) -> Result<NatsServer, ManifestError> {
        let Some(url) = nats else {
            return self.err(
                span,
                &format!("{key}.nats"),
                "name the NATS server: nats = \"nats://127.0.0.1:4222\" (NATS JetStream is \
                 the engine a source or sink can use)",
            );
        };
        if let Some(problem) = url_problem(url.get_ref()) {
            return self.err(
                url.span(),
                &format!("{key}.nats"),
                format!("invalid NATS URL `{}`: {problem}", url.get_ref()),
            );
        }
        Ok(NatsServer {
            url: url.into_inner(),
            creds: creds.map(|c| self.dir.join(c.into_inner())),
            tls: tls.unwrap_or(false),
        })
    }

    /// A stream or consumer name.
    fn name(&self, name: Spanned<String>, key: &str) -> Result<String, ManifestError> {
        match name_problem(name.get_ref()) {
            Some(problem) => self.err(
                name.span(),
                key,
                format!("invalid name `{}`: {problem}", name.get_ref()),
            ),
            None => Ok(name.into_inner()),
        }
    }

    /// A subject (`wildcards`: a filter, which may have them).
    fn subject(
        &self,
        subject: Spanned<String>,
        key: &str,
        wildcards: bool,
    ) -> Result<String, ManifestError> {
        match subject_problem(subject.get_ref(), wildcards) {
            Some(problem) => self.err(
                subject.span(),
                key,
                format!("invalid subject `{}`: {problem}", subject.get_ref()),
            ),
            None => Ok(subject.into_inner()),
        }
    }

    fn key_files(&self, keys: Vec<Spanned<String>>) -> Vec<KeyFile> {
        keys.into_iter()
            .map(|k| KeyFile {
                at: self.pos(k.span()),
                path: self.dir.join(k.into_inner()),
            })
            .collect()
    }

    fn limits(&self, mut l: Limits, raw: &RawLimits, key: &str) -> Result<Limits, ManifestError> {
        if let Some(f) = &raw.fuel {
            if *f.get_ref() == 0 {
                return self.err(f.span(), &format!("{key}.fuel"), "fuel must be more than 0");
            }
            l.fuel = *f.get_ref();
        }
        if let Some(m) = &raw.memory {
            let bytes = m.get_ref().bytes();
            if !(64 << 10..=4 << 30).contains(&bytes) {
                return self.err(
                    m.span(),
                    &format!("{key}.memory"),
                    "memory must be between 64KiB (one wasm page) and 4GiB",
                );
            }
            l.memory = bytes;
        }
        if let Some(t) = &raw.timeout {
            if t.get_ref().0.is_zero() {
                return self.err(
                    t.span(),
                    &format!("{key}.timeout"),
                    "timeout must be more than zero",
                );
            }
            l.timeout = t.get_ref().0;
        }
        if let Some(s) = raw.max_input {
            l.max_input = s.bytes();
        }
        if let Some(s) = raw.max_output {
            l.max_output = s.bytes();
        }
        if let Some(n) = &raw.max_faults {
            if *n.get_ref() == 0 {
                return self.err(
                    n.span(),
                    &format!("{key}.max-faults"),
                    "max-faults must be at least 1",
                );
            }
            l.max_faults = *n.get_ref();
        }
        Ok(l)
    }

    fn plugin(
        &self,
        name: &str,
        defaults: &Limits,
        p: RawPlugin,
    ) -> Result<PluginEntry, ManifestError> {
        let key = format!("plugins.{name}");
        let path = self.dir.join(p.path.get_ref());
        let path_at = self.pos(p.path.span());
        let mut options = PluginOptions::default();
        if let Some(h) = &p.sha256 {
            let hex = h.get_ref().trim().to_ascii_lowercase();
            let mut pin = [0u8; 32];
            if hex::decode_to_slice(&hex, &mut pin).is_err() {
                return self.err(
                    h.span(),
                    &format!("{key}.sha256"),
                    "sha256 must be 64 hexadecimal digits",
                );
            }
            options = options.sha256(pin);
        }
        for (k, v) in p.config {
            let span = v.span();
            let value = match v.into_inner() {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    return self.err(
                        span,
                        &format!("{key}.config.{k}"),
                        "config values are strings, numbers or booleans (a plugin reads them as strings)",
                    );
                }
            };
            options = options.config(k, value);
        }
        if let Some(i) = &p.instance {
            let mode = match i.get_ref().as_str() {
                "reuse" => InstanceMode::Reuse,
                "per-call" => InstanceMode::PerCall,
                other => {
                    return self.err(
                        i.span(),
                        &format!("{key}.instance"),
                        format!("invalid instance mode `{other}`: use \"reuse\" or \"per-call\""),
                    );
                }
            };
            options = options.instance(mode);
        }
        if let Some(n) = &p.max_instances {
            if !(1..=1024).contains(n.get_ref()) {
                return self.err(
                    n.span(),
                    &format!("{key}.max-instances"),
                    "max-instances must be from 1 to 1024",
                );
            }
            options = options.max_instances(*n.get_ref());
        }
        if let Some(n) = &p.max_queue {
            if *n.get_ref() > 1_000_000 {
                return self.err(
                    n.span(),
                    &format!("{key}.max-queue"),
                    "max-queue must be at most 1000000",
                );
            }
            options = options.max_queue(*n.get_ref());
        }
        let limits = match &p.limits {
            Some(l) => self.limits(defaults.clone(), l, &format!("{key}.limits"))?,
            None => defaults.clone(),
        };
        options = options.limits(limits);
        let (grants, files_at) = self.grants(&key, p.grants.unwrap_or_default())?;
        options = options.grants(grants);
        if let Some(r) = &p.rollout {
            let mut rollout = crate::spec::options::Rollout::default();
            if let Some(n) = &r.shadow_events {
                rollout.shadow_events = *n.get_ref();
            }
            if let Some(n) = &r.max_faults {
                rollout.max_faults = *n.get_ref();
            }
            if let Some(d) = &r.max_diff {
                rollout.max_diff = *d.get_ref();
                if !rollout.is_valid() {
                    return self.err(
                        d.span(),
                        &format!("{key}.rollout.max-diff"),
                        "max-diff is the fraction of shadowed events that may differ: from 0.0 to 1.0",
                    );
                }
            }
            options = options.rollout(rollout);
        }
        Ok(PluginEntry {
            name: name.to_string(),
            path,
            options,
            signed_by: p.signed_by.map(|k| self.key_files(k)),
            path_at,
            files_at,
        })
    }

    fn grants(&self, key: &str, g: RawGrants) -> Result<(Grants, Vec<Position>), ManifestError> {
        let key = format!("{key}.grants");
        let mut out = Grants::default();
        let mut files_at = Vec::new();
        for f in g.files {
            let f = f.into_inner();
            let host = self.dir.join(f.host.get_ref());
            let guest = f.guest.get_ref();
            if guest.is_empty() || guest.contains('\0') {
                return self.err(
                    f.guest.span(),
                    &format!("{key}.files.guest"),
                    "guest path must be a non-empty path",
                );
            }
            let mode: FileMode = f.mode.get_ref().parse().or_else(|e: crate::ParseError| {
                self.err(f.mode.span(), &format!("{key}.files.mode"), e.to_string())
            })?;
            files_at.push(self.pos(f.host.span()));
            out.files.push(FileGrant::new(host, guest.clone(), mode));
        }
        for e in g.env {
            let name = e.get_ref();
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return self.err(
                    e.span(),
                    &format!("{key}.env"),
                    format!("invalid variable name `{name}`"),
                );
            }
            out.env.push(name.clone());
        }
        out.stdout = g.stdout;
        out.stderr = g.stderr;
        for (list, field, dest) in [
            (g.network, "network", &mut out.network),
            (g.listen, "listen", &mut out.listen),
        ] {
            for n in list {
                let grant = n.get_ref().parse().or_else(|e: crate::ParseError| {
                    self.err(n.span(), &format!("{key}.{field}"), e.to_string())
                })?;
                dest.push(grant);
            }
        }
        for h in g.host_functions {
            if h.get_ref().is_empty() {
                return self.err(
                    h.span(),
                    &format!("{key}.host-functions"),
                    "a host function name cannot be empty",
                );
            }
            out.host_functions.push(h.into_inner());
        }
        if let Some(kv) = &g.kv {
            out.kv = *kv.get_ref();
        }
        if let Some(q) = g.kv_quota {
            if !out.kv {
                return self.err(
                    q.span(),
                    &format!("{key}.kv-quota"),
                    "kv-quota is set but kv is not granted; add `kv = true`",
                );
            }
            out.kv_quota = Some(q.get_ref().bytes());
        }
        Ok((out, files_at))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(
            text,
            Path::new(env!("CARGO_MANIFEST_DIR")).join("wasp.toml"),
        )
    }

    #[test]
    fn full_example_parses() {
        let m = parse(
            r#"
[runtime]
state = "state.db"
watch = false

[defaults.limits]
fuel = 1_000_000_000
memory = "64MiB"
timeout = "2s"
max-input = "16MiB"
max-output = "16MiB"
max-faults = 5

[plugins.upper]
path = "Cargo.toml"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
config = { greeting = "hi", n = 3 }
instance = "reuse"
max-instances = 4

[plugins.upper.limits]
timeout = "500ms"

[plugins.upper.grants]
files = [{ host = "src", guest = "/data", mode = "ro" }]
env = ["LANG"]
stdout = false
stderr = false
network = ["127.0.0.1:8080"]
host-functions = ["kv.get"]
kv = true
kv-quota = "10MiB"

[pipeline]
stages = ["upper"]
"#,
        )
        .unwrap();
        let p = m.plugin("upper").unwrap();
        assert_eq!(
            p.options().limits.timeout,
            std::time::Duration::from_millis(500)
        );
        assert_eq!(p.options().limits.memory, 64 << 20);
        assert_eq!(p.options().config.get("n").map(String::as_str), Some("3"));
        assert_eq!(m.pipeline().unwrap(), ["upper"]);
        assert_eq!(p.options().grants.files[0].mode, FileMode::ReadOnly);
    }

    #[test]
    fn errors_name_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "[plugins.a]\npath = \"Cargo.toml\"\n[plugins.a.limits]\ntimout = \"1s\"\n",
                4,
                "plugins.a.limits.timout",
                "unknown field",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\nlimits = { memory = \"64MB\" }\n",
                3,
                "plugins.a.limits.memory",
                "invalid size",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\nlimits = { timeout = 5 }\n",
                3,
                "plugins.a.limits.timeout",
                "give a unit",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\ngrants = { files = [{ host = \"src\", guest = \"/d\", mode = \"rx\" }] }\n",
                3,
                "plugins.a.grants.files.mode",
                "invalid mode",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\ngrants = { network = [\"localhost\"] }\n",
                3,
                "plugins.a.grants.network",
                "no port",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\n[pipeline]\nstages = [\"b\"]\n",
                4,
                "pipeline.stages",
                "no plugin named `b`",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\nsha256 = \"xyz\"\n",
                3,
                "plugins.a.sha256",
                "64 hexadecimal",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\nconfig = { list = [1] }\n",
                3,
                "plugins.a.config.list",
                "strings, numbers",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\ninstance = \"always\"\n",
                3,
                "plugins.a.instance",
                "per-call",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\n[pipeline]\nstages = [\"a\"]\nbatch = 0\n",
                5,
                "pipeline.batch",
                "from 1 (no batching)",
            ),
            (
                "[plugins.a]\npath = \"Cargo.toml\"\n[pipeline]\nstages = [\"a\"]\nbatch = 100000\n",
                5,
                "pipeline.batch",
                "65536",
            ),
            (
                "[runtime]\nkv-commit = \"2s\"\n",
                2,
                "runtime.kv-commit",
                "at most 1000ms",
            ),
            (
                "[runtime]\nkv-comit = \"5ms\"\n",
                2,
                "runtime.kv-comit",
                "unknown field",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nnats = \"nats://h:1\"\nstream = \"ev.ents\"\n",
                7,
                "pipeline.source.stream",
                "invalid name",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nstream = \"events\"\n",
                5,
                "pipeline.source.nats",
                "name the NATS server",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nnats = \"127.0.0.1:4222\"\nstream = \"e\"\n",
                6,
                "pipeline.source.nats",
                "scheme",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nnats = \"nats://h:1\"\nstream = \"e\"\nack-wait = \"0s\"\n",
                8,
                "pipeline.source.ack-wait",
                "more than 0",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nnats = \"nats://h:1\"\nstream = \"e\"\nacks = 1\n",
                8,
                "pipeline.source.acks",
                "unknown field",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.sink]\nnats = \"nats://h:1\"\nsubject = \"results.>\"\n",
                7,
                "pipeline.sink.subject",
                "without '*' or '>'",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.sink]\nnats = \"nats://h:1\"\n",
                5,
                "pipeline.sink.subject",
                "needs the subject",
            ),
            // A scalar where a table belongs says so, not which Rust struct.
            (
                "[plugins.a]\npath = \"a.wasm\"\nlimits = \"1s\"\n",
                3,
                "plugins.a.limits",
                "expected a table",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\ngrants = { files = [\"data\"] }\n",
                3,
                "plugins.a.grants.files[0]",
                "expected a table such as { host = \"data\"",
            ),
            ("[plugins.a]\n", 1, "plugins.a", "missing field `path`"),
            ("[plugins.a\n", 1, "", ""),
        ];
        for (text, line, key, msg) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line(), *line, "{text}: {e}");
            assert_eq!(e.key(), *key, "{text}: {e}");
            assert!(e.message().contains(msg), "{text}: {e}");
        }
    }

    #[test]
    fn source_and_sink() {
        let m = parse(
            "[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n[pipeline.source]\nnats = \"nats://127.0.0.1:4222\"\nstream = \"events\"\n\
             consumer = \"w\"\nsubject = \"events.in.*\"\nack-wait = \"2s\"\ncreds = \"x.creds\"\n\
             tls = true\nordered = true\n\
             [pipeline.sink]\nnats = \"nats://127.0.0.1:4222\"\nsubject = \"results\"\n",
        )
        .unwrap();
        let Some(Source::Nats(s)) = m.source() else {
            panic!("a NATS source")
        };
        assert_eq!((s.stream.as_str(), s.consumer.as_str()), ("events", "w"));
        assert_eq!(s.subject(), "events.in.*");
        assert_eq!(s.ack_wait, Duration::from_secs(2));
        assert!(s.server.tls && s.ordered);
        assert!(s.server.creds.as_ref().unwrap().ends_with("x.creds"));
        let Some(Sink::Nats(k)) = m.sink() else {
            panic!("a NATS sink")
        };
        assert_eq!(
            (k.subject.as_str(), k.dead_letter.as_deref()),
            ("results", None)
        );
        assert!(
            parse("[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n")
                .unwrap()
                .source()
                .is_none()
        );
    }

    #[test]
    fn parsing_does_not_touch_the_file_system() {
        // Neither the plugin file nor the granted directory exists: parsing is
        // pure, and the load reports them (tests/ui).
        let m = parse(
            "[plugins.a]\npath = \"nope.wasm\"\ngrants = { files = [{ host = \"nope\", guest = \"/d\", mode = \"ro\" }] }\n",
        )
        .unwrap();
        let a = m.plugin("a").unwrap();
        assert!(a.path().ends_with("nope.wasm"));
        let e = m.error_at_grant(a, Some(0), "x".into());
        assert_eq!(
            (e.line(), e.column(), e.key()),
            (3, 30, "plugins.a.grants.files.host")
        );
        let e = m.error_at_path(a, "x".into());
        assert_eq!((e.line(), e.key()), (2, "plugins.a.path"));
    }

    #[test]
    fn batch_and_kv_commit_have_defaults_and_take_values() {
        let m = parse("[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\n").unwrap();
        assert_eq!(
            (m.batch(), m.kv_commit()),
            (DEFAULT_BATCH, DEFAULT_KV_COMMIT)
        );
        let m = parse(
            "[runtime]\nkv-commit = \"0ms\"\n[plugins.a]\npath = \"a.wasm\"\n[pipeline]\nstages = [\"a\"]\nbatch = 1\n",
        )
        .unwrap();
        assert_eq!((m.batch(), m.kv_commit()), (1, Duration::ZERO));
    }

    #[test]
    fn rollout_has_defaults_takes_values_and_refuses_a_fraction_out_of_range() {
        let m = parse("[plugins.a]\npath = \"a.wasm\"\n").unwrap();
        assert!(m.plugin("a").unwrap().options().rollout.is_immediate());
        let m = parse(
            "[plugins.a]\npath = \"a.wasm\"\nrollout = { shadow-events = 1000, max-faults = 2, max-diff = 0.05 }\n",
        )
        .unwrap();
        let r = m.plugin("a").unwrap().options().rollout;
        assert_eq!((r.shadow_events, r.max_faults, r.max_diff), (1000, 2, 0.05));
        let m = parse(
            "[plugins.a]\npath = \"a.wasm\"\nrollout = { shadow-events = 10, max-diff = 0 }\n",
        )
        .unwrap();
        assert_eq!(m.plugin("a").unwrap().options().rollout.max_diff, 0.0);
        let e = parse(
            "[plugins.a]\npath = \"a.wasm\"\nrollout = { shadow-events = 10, max-diff = 5.0 }\n",
        )
        .unwrap_err();
        assert_eq!((e.line(), e.key()), (3, "plugins.a.rollout.max-diff"));
        let e = parse("[plugins.a]\npath = \"a.wasm\"\nrollout = { shadow = 10 }\n").unwrap_err();
        assert_eq!(e.line(), 3, "{e}");
        assert!(e.message().contains("unknown field"), "{e}");
    }

    #[test]
    fn zero_timeout_is_refused() {
        let e =
            parse("[plugins.a]\npath = \"a.wasm\"\nlimits = { timeout = \"0ms\" }\n").unwrap_err();
        assert_eq!(e.key(), "plugins.a.limits.timeout");
    }
}
