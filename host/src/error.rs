//! Typed errors: what went wrong, in which plugin and function, and what to do.
//!
//! Every error a user can get is a variant with fields; `Display` says what to do
//! next. Code matches on variants, never on message text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::spec::api::ApiVersion;
use crate::spec::units::{Dur, Size};

/// Shorthand for `Result<T, wasp_host::Error>`.
///
/// ```
/// fn load() -> wasp_host::Result<()> { Ok(()) }
/// assert!(load().is_ok());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when loading or calling a plugin.
///
/// Each variant names the plugin (and function, where there is one), says what
/// happened and, where the fix is not obvious, what to do. [`Error::exit_code`]
/// maps a variant to the exit codes of the `wasp` CLI.
///
/// ```
/// use wasp_host::{Error, Fault};
/// let e = Error::Fault {
///     plugin: "upper".into(),
///     function: "upper".into(),
///     fault: Fault::FuelExhausted { fuel: 1000 },
/// };
/// assert_eq!(e.exit_code(), 3);
/// assert!(e.to_string().contains("fuel"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin returned a `plugin-error` on purpose (bad input, a failed lookup).
    #[error("plugin '{plugin}' function '{function}': {code}: {message}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// The function that returned the error.
        function: String,
        /// The plugin's short error code.
        code: String,
        /// The plugin's message.
        message: String,
    },

    /// The plugin misbehaved and was stopped; its instance was discarded.
    #[error("{}", fault_message(plugin, function, fault))]
    Fault {
        /// The plugin's name.
        plugin: String,
        /// The function that was running (`init` while an instance was prepared).
        function: String,
        /// What the plugin did.
        fault: Fault,
    },

    /// A manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),

    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The plugin could not be loaded: its bytes, its world, its grants or its
    /// options are wrong. Nothing of it runs.
    #[error("cannot load plugin '{plugin}': {cause}")]
    Load {
        /// The plugin's name (or its file name).
        plugin: String,
        /// Why, and what to do about it (boxed: errors stay small, so results
        /// on the call path stay cheap to move).
        #[source]
        cause: Box<LoadError>,
    },

    /// The plugin targets a `wasp:plugin` version this host does not support.
    #[error(
        "cannot load plugin '{plugin}': it targets wasp:plugin@{found}, but this host supports {}; {}",
        join(supported),
        version_hint(found, supported)
    )]
    UnsupportedVersion {
        /// The plugin's name.
        plugin: String,
        /// The version the plugin was built for, as written in the component.
        found: String,
        /// The versions this host supports.
        supported: Vec<ApiVersion>,
    },

    /// A guest profile could not be written.
    #[error("cannot write the profile of plugin '{plugin}': {reason}")]
    Profile {
        /// The plugin's name.
        plugin: String,
        /// Why: not profiled, written already, or the writer's error.
        reason: String,
    },

    /// No plugin of that name is loaded.
    #[error("no plugin named '{name}' is loaded (loaded: {})", or_none(loaded))]
    NoSuchPlugin {
        /// The name asked for.
        name: String,
        /// The names that are loaded.
        loaded: Vec<String>,
    },

    /// The plugin does not list the function in its `info().functions`.
    #[error(
        "plugin '{plugin}' has no function '{function}' (it has: {})",
        join(available)
    )]
    NoSuchFunction {
        /// The plugin's name.
        plugin: String,
        /// The function asked for.
        function: String,
        /// The functions the plugin lists.
        available: Vec<String>,
    },

    /// The input is larger than the plugin's `max-input` limit; nothing was called.
    #[error(
        "plugin '{plugin}' function '{function}': input of {size} bytes exceeds max-input of {limit} bytes"
    )]
    InputTooLarge {
        /// The plugin's name.
        plugin: String,
        /// The function.
        function: String,
        /// The input's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: u64,
    },

    /// A typed input could not be encoded, or an output decoded.
    #[error("plugin '{plugin}' function '{function}': {what} as {expected}: {source}")]
    Codec {
        /// The plugin's name.
        plugin: String,
        /// The function.
        function: String,
        /// `"encoding the input"` or `"decoding the output"`.
        what: &'static str,
        /// The Rust type that was expected.
        expected: &'static str,
        /// The codec's error.
        #[source]
        source: wasp_codec::CodecError,
    },

    /// The plugin faulted `max-faults` times in a row and is quarantined until it
    /// is reloaded.
    #[error(
        "plugin '{plugin}' is quarantined after {faults} consecutive faults (last: {last}); reload it to try again"
    )]
    Quarantined {
        /// The plugin's name.
        plugin: String,
        /// Consecutive faults.
        faults: u32,
        /// The last fault.
        last: Fault,
    },

    /// Every instance of the plugin is busy and its wait queue is full, or no
    /// instance became free within the plugin's timeout. Nothing was called.
    #[error(
        "plugin '{plugin}' is busy: {max_instances} call(s) running and the queue is full or did not move within {}; retry later, or raise max-instances / max-queue",
        Dur(*waited)
    )]
    Busy {
        /// The plugin's name.
        plugin: String,
        /// Its `max-instances`.
        max_instances: u32,
        /// How long the call waited for an instance.
        waited: Duration,
    },

    /// The runtime's instance pool has no free slot: as many instances as it
    /// holds are alive across all plugins (the pooling allocator's size, set with
    /// [`crate::RuntimeBuilder::instance_pool`]). Nothing ran; retry later.
    #[error(
        "plugin '{plugin}': the runtime's pool of {size} instances is full (instances of all plugins count); retry later, or build the runtime with a larger instance_pool"
    )]
    PoolFull {
        /// The plugin that wanted an instance.
        plugin: String,
        /// The pool's size.
        size: u32,
    },

    /// The plugin was unloaded (or replaced by a reload) before the call got an
    /// instance.
    #[error("plugin '{plugin}' was unloaded")]
    Unloaded {
        /// The plugin's name.
        plugin: String,
    },

    /// The runtime could not be built.
    #[error("cannot set up the runtime: {0}")]
    Setup(Box<SetupError>),

    /// A plugin crate could not be built ([`crate::testing::build_crate`]).
    #[error(transparent)]
    Build(Box<BuildError>),

    /// Waiting for kv writes to become durable failed ([`crate::Runtime::kv_sync`]).
    #[error("{source}")]
    KvSync {
        /// The store's error.
        #[source]
        source: Box<KvError>,
    },

    /// The kv store failed on the host's side (I/O, a damaged file).
    #[error("plugin '{plugin}': {source}")]
    Kv {
        /// The plugin whose namespace was read.
        plugin: String,
        /// The store's error.
        #[source]
        source: Box<KvError>,
    },

    /// The operating system's file watcher failed.
    #[error("cannot watch {}: {source}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "plugin files".into()))]
    Watch {
        /// The directory, if the failure was about one.
        path: Option<PathBuf>,
        /// notify's error.
        #[source]
        source: notify::Error,
    },

    /// A recording could not be read, or does not fit the plugin file.
    #[error(transparent)]
    Recording(#[from] RecordingError),

    /// A task of the host (compiling, a kv operation) panicked or was cancelled.
    #[error("internal: the task {what} failed: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// tokio's error.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Self {
        Error::Setup(Box::new(e))
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn version_hint(found: &str, supported: &[ApiVersion]) -> String {
    let newest = supported.iter().max().copied();
    let newer = match (found.parse::<ApiVersion>(), newest) {
        (Ok(f), Some(n)) => f > n,
        _ => false,
    };
    let newest = newest.map(|v| v.to_string()).unwrap_or_default();
    if newer {
        format!(
            "upgrade the host (wasp) to a release that supports it, or rebuild the plugin against wit/v{newest} (wasp-sdk)"
        )
    } else {
        format!(
            "rebuild the plugin with wasp-sdk (or wit-bindgen against wit/v{newest}/plugin.wit)"
        )
    }
}

impl Error {
    /// The `wasp` CLI's exit code for this error: 1 for a `plugin-error` of a
    /// call, 3 for a fault, 2 for everything else (usage, manifest, load — a
    /// `plugin-error` from `init` is a failed load).
    ///
    /// ```
    /// let e = wasp_host::Error::Unloaded { plugin: "p".into() };
    /// assert_eq!(e.exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plugin { function, .. } if function == "init" => 2,
            Error::Plugin { .. } => 1,
            Error::Fault { .. } => 3,
            _ => 2,
        }
    }

    /// The fault, if this error is one.
    ///
    /// ```
    /// let e = wasp_host::Error::Unloaded { plugin: "p".into() };
    /// assert!(e.fault().is_none());
    /// ```
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Error::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// Why the plugin could not be loaded, if this error is a load error.
    ///
    /// ```
    /// # async fn f(rt: wasp_host::Runtime) {
    /// let opts = wasp_host::PluginOptions::default().max_instances(0);
    /// let err = rt.load_bytes("p", vec![], opts).await.unwrap_err();
    /// assert!(matches!(err.load_error(), Some(wasp_host::LoadError::InvalidOption { .. })));
    /// # }
    /// ```
    pub fn load_error(&self) -> Option<&LoadError> {
        match self {
            Error::Load { cause, .. } => Some(cause),
            _ => None,
        }
    }

    pub(crate) fn load(plugin: &str, cause: impl Into<LoadError>) -> Self {
        Error::Load {
            plugin: plugin.to_string(),
            cause: Box::new(cause.into()),
        }
    }
}

/// Why a plugin could not be loaded. Each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file is not a WebAssembly binary at all.
    #[error("{0}")]
    NotWasm(NotWasm),
    /// A core module that does not validate.
    #[error("it is not a valid core module: {source}")]
    InvalidModule {
        /// The validator's error.
        #[source]
        source: wasmparser::BinaryReaderError,
    },
    /// A `component-type` section of a core module is malformed.
    #[error("its {section} section is malformed: {detail}")]
    MalformedWorldSection {
        /// The section's name.
        section: String,
        /// What the decoder said (its packages may form a cycle, say).
        detail: String,
    },
    /// A library decoding the file panicked on it (a bug of theirs, caught).
    #[error("the file is malformed (a decoder failed on it: {message})")]
    DecoderPanicked {
        /// The panic's message.
        message: String,
    },
    /// wit-component could not turn the core module into a component.
    #[error("cannot turn the core module into a component: {source:#}")]
    Adapt {
        /// wit-component's error.
        #[source]
        source: anyhow::Error,
    },
    /// The component does not parse.
    #[error("it is not a valid component: {source}")]
    InvalidComponent {
        /// The parser's error.
        #[source]
        source: wasmparser::BinaryReaderError,
    },
    /// The component exports no `wasp:plugin/guest` interface.
    #[error(
        "it is not a wasp plugin: it exports no `wasp:plugin/guest` interface (exports: {}); build it with wasp-sdk, or with wit-bindgen against wit/v{newest}/plugin.wit{}",
        if exports.is_empty() { "none".to_string() } else { exports.join(", ") },
        if *adapted_without_world { " (this core module carries no component-type section: wit-bindgen, which wasp-sdk uses, adds it)" } else { "" }
    )]
    NotAPlugin {
        /// The component's exports.
        exports: Vec<String>,
        /// The newest version this host supports, for the hint.
        newest: ApiVersion,
        /// A core module without a world section was adapted into an empty component.
        adapted_without_world: bool,
    },
    /// The component exports `wasp:plugin/guest` without a version.
    #[error(
        "it exports wasp:plugin/guest without a version; build it against wit/v{newest}/plugin.wit, which declares `package wasp:plugin@{newest}`"
    )]
    Unversioned {
        /// The newest version this host supports.
        newest: ApiVersion,
    },
    /// The component exports `guest` of one version and imports `host` of another.
    #[error(
        "it exports wasp:plugin/guest@{guest} but imports wasp:plugin/host@{host}; both must be the same version"
    )]
    MixedVersions {
        /// The version of the exported `guest`.
        guest: String,
        /// The version of the imported `host`.
        host: String,
    },
    /// The file's SHA-256 is not the pinned one.
    #[error(
        "its sha256 is {} but the manifest pins {}; if the new file is trusted, update the pin",
        hex::encode(actual),
        hex::encode(expected)
    )]
    PinMismatch {
        /// The file's digest.
        actual: [u8; 32],
        /// The pinned digest.
        expected: [u8; 32],
    },
    /// Cranelift could not compile the component.
    #[error("it does not compile: {source:#}")]
    Compile {
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The component imports something the host does not provide.
    #[error("it imports something this host does not provide: {source:#}")]
    Link {
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The component's exports do not match its world.
    #[error("its exports do not match wasp:plugin@{version}: {source:#}")]
    Exports {
        /// The version it claims.
        version: ApiVersion,
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// `info()` returned something invalid.
    #[error("its info() is invalid: {0}")]
    InvalidInfo(InfoProblem),
    /// A grant cannot be given.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// An option contradicts itself.
    #[error("{key}: {problem}")]
    InvalidOption {
        /// The option's manifest key (`max-instances`).
        key: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The plugin has a trusted key list (its `signed-by`, or the runtime's
    /// `trusted-keys`), and no listed key signed exactly these bytes.
    #[error("{}{problem}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Signature {
        /// The plugin file, when it was loaded from one.
        file: Option<PathBuf>,
        /// Why the signature check failed.
        problem: SignatureProblem,
    },
    /// The guest profiler could not be set up for the component.
    #[error("cannot profile it: {source:#}")]
    Profile {
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// A plugin loaded from bytes has no file to reload.
    #[error("it was loaded from bytes, so there is no file to reload; load the new bytes instead")]
    NoSource,
    /// The file is the version a shadow rollout rejected; it is not tried again
    /// until it changes.
    #[error(
        "version {} was rejected in its shadow rollout ({reason}); it is not tried again until the file changes",
        &sha256[..sha256.len().min(12)]
    )]
    RolloutRejected {
        /// SHA-256 of the rejected file, in hex.
        sha256: String,
        /// The rejection, as reported.
        reason: String,
    },
}

/// Why a plugin's signatures do not let it load (see [`crate::signing::verify`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// `require-signatures` is on and no trusted key list applies to the plugin.
    #[error(
        "signatures are required (require-signatures = true) but no trusted key list applies to it; give it `signed-by = [\"KEY.pub\"]` or set [runtime] trusted-keys"
    )]
    NoTrustedKeys,
    /// Neither an embedded signature nor a `FILE.wasm.sig`.
    #[error(
        "it is unsigned, but it must be signed by a trusted key; sign it with `wasp sign --key KEY FILE.wasm`"
    )]
    Unsigned,
    /// Signed, but by none of the trusted keys.
    #[error(
        "it is signed by {}, which is not a trusted key; compare with `ssh-keygen -lf KEY.pub` and add the key to signed-by or trusted-keys if you trust it",
        fingerprints.join(", ")
    )]
    UnlistedKey {
        /// The signers' fingerprints (`SHA256:…`), as recorded in the signatures.
        fingerprints: Vec<String>,
    },
    /// A trusted key's signature is there but does not match the bytes: the file
    /// (or the signature) was changed after signing.
    #[error(
        "its signature by {fingerprint} does not match its bytes: the file was changed after it was signed"
    )]
    Tampered {
        /// The trusted key whose signature does not hold.
        fingerprint: String,
    },
    /// The file or its signature does not parse.
    #[error("its signature cannot be read: {message}")]
    Malformed {
        /// What the parser said.
        message: String,
    },
}

/// Why `wasp sign` (or [`crate::signing::sign_embedded`]) could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The key file is not an unencrypted OpenSSH Ed25519 private key.
    #[error("cannot use the key: {problem}")]
    Key {
        /// What is wrong with it.
        problem: String,
    },
    /// The file to sign is not a WebAssembly module or component.
    #[error("cannot sign it: {message}")]
    NotWasm {
        /// The parser's message.
        message: String,
    },
    /// This key signed these bytes already.
    #[error("it is already signed by {fingerprint}")]
    AlreadySigned {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// `--detached` on a file that carries embedded signatures.
    #[error(
        "it carries embedded signatures; sign it embedded (without --detached), or sign the unsigned file"
    )]
    HasEmbedded,
}

/// Why a file is not WebAssembly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotWasm {
    /// The file is empty.
    Empty,
    /// It starts with `\0asm` but has another version or layer.
    UnsupportedBinary,
    /// It looks like WebAssembly text.
    Text,
    /// Anything else; the first bytes.
    Other {
        /// Up to 8 first bytes.
        head: Vec<u8>,
    },
}

impl fmt::Display for NotWasm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotWasm::Empty => f.write_str("the file is empty, not a WebAssembly binary"),
            NotWasm::UnsupportedBinary => {
                f.write_str("it is a WebAssembly binary of an unsupported version or layer")
            }
            NotWasm::Text => {
                f.write_str("it looks like WebAssembly text (WAT); compile it to a binary first")
            }
            NotWasm::Other { head } => {
                let head: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
                write!(
                    f,
                    "it is not a WebAssembly binary (it starts with {}, not 00 61 73 6d)",
                    head.join(" ")
                )
            }
        }
    }
}

impl From<NotWasm> for LoadError {
    fn from(n: NotWasm) -> Self {
        LoadError::NotWasm(n)
    }
}

/// What is wrong with a plugin's `info()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoProblem {
    /// The name is empty.
    #[error("the name is empty")]
    EmptyName,
    /// The version is not semver.
    #[error("the version `{version}` is not semver (e.g. 1.0.0)")]
    NotSemver {
        /// The version as returned.
        version: String,
    },
    /// No functions are listed.
    #[error("it lists no functions")]
    NoFunctions,
    /// A function name is empty.
    #[error("it lists an empty function name")]
    EmptyFunction,
    /// A function is listed twice.
    #[error("it lists function `{name}` twice")]
    DuplicateFunction {
        /// The name.
        name: String,
    },
}

/// Why a grant cannot be given. `index` is the position of the file grant in the
/// plugin's `grants.files`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// A granted host directory cannot be opened.
    #[error("grants.files: host directory {} cannot be opened: {source}", path.display())]
    DirUnavailable {
        /// Which grant.
        index: usize,
        /// The host path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A granted host path is not a directory.
    #[error("grants.files: host path {} is not a directory", path.display())]
    NotADirectory {
        /// Which grant.
        index: usize,
        /// The host path.
        path: PathBuf,
    },
    /// A granted directory lies inside a read-write grant (of this plugin, or of
    /// `holder`), which could swap it for a symlink.
    #[error(
        "grants.files: host directory {} (guest {guest}) is inside the read-write grant {} of {}, which could replace it with a symlink to any directory; grant the two side by side{}",
        path.display(),
        outer.display(),
        match holder { Some(h) => format!("plugin '{h}'"), None => "the same plugin".to_string() },
        if holder.is_none() { ", or only the outer one" } else { "" }
    )]
    NestedInReadWrite {
        /// Which grant.
        index: usize,
        /// Its host path.
        path: PathBuf,
        /// Its guest path.
        guest: String,
        /// The read-write directory around it.
        outer: PathBuf,
        /// The plugin holding that read-write grant (`None`: this one).
        holder: Option<String>,
    },
    /// A granted directory is no longer the one resolved at load.
    #[error(
        "grants.files: host directory {} (guest {guest}) changed since the plugin was loaded (replaced, moved or removed); it is not opened — reload the plugin",
        path.display()
    )]
    DirChanged {
        /// Which grant.
        index: usize,
        /// The host path.
        path: PathBuf,
        /// The guest path.
        guest: String,
    },
    /// WASI could not preopen the directory.
    #[error("grants.files: cannot open {}: {source:#}", path.display())]
    Preopen {
        /// Which grant.
        index: usize,
        /// The host path.
        path: PathBuf,
        /// wasmtime-wasi's error.
        #[source]
        source: wasmtime::Error,
    },
    /// A granted host function is not registered on the runtime.
    #[error(
        "grants.host-functions: no host function named '{name}' is registered on this runtime (registered: {})",
        or_none(registered)
    )]
    UnknownHostFunction {
        /// The name granted.
        name: String,
        /// What is registered.
        registered: Vec<String>,
    },
}

impl GrantError {
    /// The position of the file grant this is about, if it is about one.
    pub(crate) fn file_index(&self) -> Option<usize> {
        match self {
            GrantError::DirUnavailable { index, .. }
            | GrantError::NotADirectory { index, .. }
            | GrantError::NestedInReadWrite { index, .. }
            | GrantError::DirChanged { index, .. }
            | GrantError::Preopen { index, .. } => Some(*index),
            GrantError::UnknownHostFunction { .. } => None,
        }
    }
}

/// Why the runtime could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Two host functions share a name.
    #[error("host function '{name}' is registered twice")]
    DuplicateHostFn {
        /// The name.
        name: String,
    },
    /// A setting is out of range.
    #[error("{setting}: {problem}")]
    InvalidSetting {
        /// The builder method / manifest key.
        setting: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// wasmtime refused the engine configuration.
    #[error("engine: {source:#}")]
    Engine {
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// An interface could not be added to the linker.
    #[error("linking {interface}: {source:#}")]
    Link {
        /// The interface (`WASI`, `wasp:plugin@0.2.0`).
        interface: String,
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The kv database could not be opened.
    #[error("cannot open the state database{}: {source}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    State {
        /// The file (`None`: in memory).
        path: Option<PathBuf>,
        /// The store's error.
        #[source]
        source: KvError,
    },
    /// The compile cache directory cannot be used.
    #[error("compile cache {}: {problem}", dir.display())]
    Cache {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        problem: CacheProblem,
    },
}

/// Why a compile-cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheProblem {
    /// It cannot be created or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Other users may write to it.
    #[error("it is writable by other users; a compile cache must not be (chmod 700 it)")]
    NotPrivate,
}

/// Why a recording cannot be replayed (`wasp replay` exits 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The file could not be read.
    #[error("cannot read the recording {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a wasp recording.
    #[error("not a wasp recording: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// A recording of a file format version this build does not read.
    #[error("the recording is of format version {}, this wasp reads version {supported}", found.map_or("(none)".to_string(), |v| v.to_string()))]
    Version {
        /// Its version.
        found: Option<u32>,
        /// The version this build reads.
        supported: u32,
    },
    /// The plugin file is not the one the recording was made with.
    #[error("{} has sha256 {actual}, but the recording was made with sha256 {recorded}; give --plugin to replay another build on purpose", file.display())]
    DigestMismatch {
        /// The plugin file.
        file: PathBuf,
        /// The digest in the recording.
        recorded: String,
        /// The file's digest.
        actual: String,
    },
    /// The recording names no plugin file (it was loaded from bytes).
    #[error("the recording names no plugin file (it was loaded from bytes); give --plugin")]
    NoSource,
}

/// Errors of the kv store. A plugin sees their text as the error of its kv call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The write would take the namespace over its quota; nothing was written.
    #[error(
        "kv quota exceeded for '{namespace}': this write needs {wanted} bytes in total \
         (keys + values), the quota is {quota} bytes and {used} are in use; \
         delete keys, or the operator can raise `kv-quota` in the plugin's grants"
    )]
    QuotaExceeded {
        /// The namespace (the plugin's name).
        namespace: String,
        /// Bytes in use before the write.
        used: u64,
        /// Bytes the namespace would use after the write.
        wanted: u64,
        /// The namespace's quota in bytes.
        quota: u64,
    },
    /// The key is longer than the limit.
    #[error("kv key of {len} bytes is too long; keys are at most {max} bytes")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key is the empty string.
    #[error("kv key is empty; keys are 1 to {max} bytes")]
    EmptyKey {
        /// The longest key allowed.
        max: usize,
    },
    /// kv is not granted to the plugin.
    #[error(
        "kv is not granted to plugin '{plugin}'; the operator can add `kv = true` to [plugins.{plugin}.grants]"
    )]
    NotGranted {
        /// The plugin.
        plugin: String,
    },
    /// The database failed: I/O, a corrupted or foreign file, a file already open.
    #[error("kv store: {action}{hint}: {source}")]
    Storage {
        /// What the store was doing, e.g. `"committing a set"`.
        action: &'static str,
        /// What to do about it, or empty.
        hint: &'static str,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// The group commit that makes writes durable failed (they are retried).
    #[error("kv store: the durable commit failed: {message}")]
    Commit {
        /// What redb reported.
        message: String,
    },
    /// The database file could not be opened or created.
    #[error("kv store: cannot open {}{hint}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What to do about it, or empty.
        hint: &'static str,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// The store's worker went away (the runtime is shutting down).
    #[error("kv store: the store is closed")]
    Closed,
}

/// Why `cargo build` of a plugin crate did not give a plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The directory has no `Cargo.toml`.
    #[error("{} is not a plugin crate: no Cargo.toml (create one with `wasp new NAME`)", dir.display())]
    NotACrate {
        /// The directory.
        dir: PathBuf,
    },
    /// cargo could not be started.
    #[error("cannot run cargo: {source}")]
    Spawn {
        /// The error of the spawn.
        #[source]
        source: std::io::Error,
    },
    /// cargo failed (its messages went to stderr).
    #[error("cargo build failed for {} (see its messages above; if the target is missing: `rustup target add wasm32-wasip1`)", manifest.display())]
    Failed {
        /// The crate's Cargo.toml.
        manifest: PathBuf,
    },
    /// cargo built no `.wasm`.
    #[error("cargo built no .wasm for {}: a plugin crate needs `[lib] crate-type = [\"cdylib\"]`", manifest.display())]
    NoArtifact {
        /// The crate's Cargo.toml.
        manifest: PathBuf,
    },
}

impl From<BuildError> for Error {
    fn from(e: BuildError) -> Self {
        Error::Build(Box::new(e))
    }
}

/// The text of [`Error::Fault`]: `plugin 'P' function 'F' faulted: …`, except a
/// wrong-length batch, told as `plugin 'P' returned 63 results for 64 inputs`.
fn fault_message(plugin: &str, function: &str, fault: &Fault) -> String {
    match fault {
        Fault::BatchLength { .. } => {
            format!("plugin '{plugin}' {fault} (call-batch of function '{function}')")
        }
        _ => format!("plugin '{plugin}' function '{function}' faulted: {fault}"),
    }
}

/// How a plugin misbehaved. The instance that faulted is always discarded; the
/// next call gets a fresh one.
///
/// ```
/// use wasp_host::Fault;
/// assert_eq!(Fault::StackOverflow.kind(), "stack-overflow");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The call used up its fuel (`limits.fuel`).
    FuelExhausted {
        /// The fuel the call had.
        fuel: u64,
    },
    /// The call ran past its wall-clock limit (`limits.timeout`).
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The plugin asked for more memory than `limits.memory` allows.
    MemoryLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// The plugin recursed past the wasm stack limit.
    StackOverflow,
    /// The plugin panicked (reported by the plugin as data before it trapped).
    Panic {
        /// The panic's message.
        message: String,
        /// Where it panicked (`src/lib.rs:12:5`), if the plugin said.
        location: Option<String>,
    },
    /// The plugin called `exit` (WASI `proc_exit`).
    Exit {
        /// The exit status: 0, or 1 for any failure (WASI 0.2 carries no other
        /// code).
        code: i32,
    },
    /// The plugin returned more than `limits.max-output`.
    OutputTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A batch call returned a different number of results than it got inputs.
    BatchLength {
        /// Inputs sent.
        inputs: usize,
        /// Results returned.
        results: usize,
    },
    /// Any other trap (`unreachable`, out-of-bounds access, abort, a malformed
    /// result…).
    Trap {
        /// wasmtime's description of the trap.
        message: String,
        /// The last error the plugin logged before it trapped, if any.
        last_error: Option<String>,
    },
}

impl Fault {
    /// A short stable name: `fuel-exhausted`, `timeout`, `memory-limit`,
    /// `stack-overflow`, `panic`, `exit`, `output-too-large`, `batch-length`, `trap`.
    ///
    /// ```
    /// assert_eq!(wasp_host::Fault::Exit { code: 3 }.kind(), "exit");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::FuelExhausted { .. } => "fuel-exhausted",
            Fault::Timeout { .. } => "timeout",
            Fault::MemoryLimit { .. } => "memory-limit",
            Fault::StackOverflow => "stack-overflow",
            Fault::Panic { .. } => "panic",
            Fault::Exit { .. } => "exit",
            Fault::OutputTooLarge { .. } => "output-too-large",
            Fault::BatchLength { .. } => "batch-length",
            Fault::Trap { .. } => "trap",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::FuelExhausted { fuel } => write!(
                f,
                "fuel exhausted (limit {fuel}); raise limits.fuel if the work is legitimate"
            ),
            Fault::Timeout { limit } => {
                write!(f, "timeout: did not finish within {}", Dur(*limit))
            }
            Fault::MemoryLimit { limit } => {
                write!(f, "memory limit of {} exceeded", Size(*limit))
            }
            Fault::StackOverflow => write!(f, "stack overflow"),
            Fault::Panic { message, location } => write!(
                f,
                "panic: panicked at {}: {message}",
                location.as_deref().unwrap_or("<unknown location>")
            ),
            Fault::Exit { code: 0 } => write!(
                f,
                "exit: the plugin called exit(0) in the middle of the call"
            ),
            Fault::Exit { .. } => write!(
                f,
                "exit: the plugin called exit with a failure status (WASI 0.2 reports every non-zero code as 1)"
            ),
            Fault::OutputTooLarge { limit } => write!(
                f,
                "output too large: more than max-output of {}",
                Size(*limit)
            ),
            Fault::BatchLength { inputs, results } => {
                write!(f, "returned {results} results for {inputs} inputs")
            }
            Fault::Trap {
                message,
                last_error,
            } => {
                write!(f, "trap: {message}")?;
                if let Some(last) = last_error {
                    write!(f, " (last error it logged: {last})")?;
                }
                Ok(())
            }
        }
    }
}

/// A manifest that could not be read or is invalid: where, which key, and why.
///
/// ```
/// use wasp_host::manifest::Manifest;
/// let err = Manifest::parse("[plugins.a]\npath = \"x.wasm\"\ntimout = 1\n", "wasp.toml").unwrap_err();
/// assert_eq!(err.line(), 3);
/// assert_eq!(err.key(), "plugins.a.timout");
/// assert!(err.to_string().starts_with("wasp.toml:3:1: plugins.a.timout: unknown field `timout`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) key: String,
    pub(crate) message: String,
}

impl ManifestError {
    /// The manifest file.
    ///
    /// ```
    /// # let err = wasp_host::manifest::Manifest::parse("x = 1", "m.toml").unwrap_err();
    /// assert_eq!(err.file(), std::path::Path::new("m.toml"));
    /// ```
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }
    /// 1-based line (0 when the error has no position, e.g. the file is missing).
    ///
    /// ```
    /// # let err = wasp_host::manifest::Manifest::parse("\nx = 1", "m.toml").unwrap_err();
    /// assert_eq!(err.line(), 2);
    /// ```
    pub fn line(&self) -> usize {
        self.line
    }
    /// 1-based column, in characters.
    ///
    /// ```
    /// # let err = wasp_host::manifest::Manifest::parse("x = 1", "m.toml").unwrap_err();
    /// assert_eq!(err.column(), 1);
    /// ```
    pub fn column(&self) -> usize {
        self.column
    }
    /// The dotted key the error is about (`plugins.upper.limits.timeout`), or empty.
    ///
    /// ```
    /// # let err = wasp_host::manifest::Manifest::parse("x = 1", "m.toml").unwrap_err();
    /// assert_eq!(err.key(), "x");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }
    /// What is wrong.
    ///
    /// ```
    /// # let err = wasp_host::manifest::Manifest::parse("x = 1", "m.toml").unwrap_err();
    /// assert!(err.message().contains("unknown field"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ManifestError {}
