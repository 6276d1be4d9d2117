//! Typed errors: what went wrong, in which plugin and function, and what to do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::manifest::ManifestError;

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
    #[error("plugin '{plugin}' function '{function}' faulted: {fault}")]
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

    /// The plugin's bytes could not be loaded: not wasm, not a plugin, wrong API
    /// version, a failed sha256 pin, an import wasp does not provide.
    #[error("cannot load plugin '{plugin}': {reason}")]
    Load {
        /// The plugin's name (or its file name).
        plugin: String,
        /// Why, and what to do about it.
        reason: String,
    },

    /// The plugin targets a `wasp:plugin` version this host does not support.
    #[error(
        "cannot load plugin '{plugin}': it targets wasp:plugin@{found}, but this host supports {supported}; {hint}"
    )]
    UnsupportedVersion {
        /// The plugin's name.
        plugin: String,
        /// The version the plugin was built for.
        found: String,
        /// The versions this host supports, e.g. `0.1.0`.
        supported: String,
        /// What to do.
        hint: &'static str,
    },

    /// No plugin of that name is loaded.
    #[error("no plugin named '{name}' is loaded (loaded: {loaded})")]
    NoSuchPlugin {
        /// The name asked for.
        name: String,
        /// The names that are loaded, comma separated.
        loaded: String,
    },

    /// The plugin does not list the function in its `info().functions`.
    #[error("plugin '{plugin}' has no function '{function}' (it has: {available})")]
    NoSuchFunction {
        /// The plugin's name.
        plugin: String,
        /// The function asked for.
        function: String,
        /// The functions the plugin lists, comma separated.
        available: String,
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
    #[error("plugin '{plugin}' function '{function}': {what}: {source}")]
    Codec {
        /// The plugin's name.
        plugin: String,
        /// The function.
        function: String,
        /// `"encoding the input"` or `"decoding the output"`.
        what: &'static str,
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
        last: String,
    },

    /// Every instance of the plugin is busy and its wait queue is full, or no
    /// instance became free within the plugin's timeout. Nothing was called.
    #[error(
        "plugin '{plugin}' is busy: {max_instances} call(s) running and the queue is full or did not move within {waited:?}; retry later, or raise max-instances / max-queue"
    )]
    Busy {
        /// The plugin's name.
        plugin: String,
        /// Its `max-instances`.
        max_instances: u32,
        /// How long the call waited for an instance.
        waited: Duration,
    },

    /// The plugin was unloaded (or replaced by a reload) before the call got an
    /// instance.
    #[error("plugin '{plugin}' was unloaded")]
    Unloaded {
        /// The plugin's name.
        plugin: String,
    },

    /// The runtime could not be built, or an internal wasmtime operation failed.
    #[error("runtime: {0}")]
    Runtime(String),
}

impl Error {
    /// The `wasp` CLI's exit code for this error: 1 for a `plugin-error`, 3 for a
    /// fault, 2 for everything else (usage, manifest, load).
    ///
    /// ```
    /// let e = wasp_host::Error::Runtime("x".into());
    /// assert_eq!(e.exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plugin { .. } => 1,
            Error::Fault { .. } => 3,
            _ => 2,
        }
    }

    /// The fault, if this error is one.
    ///
    /// ```
    /// let e = wasp_host::Error::Runtime("x".into());
    /// assert!(e.fault().is_none());
    /// ```
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Error::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    pub(crate) fn load(plugin: &str, reason: impl fmt::Display) -> Self {
        Error::Load {
            plugin: plugin.to_string(),
            reason: reason.to_string(),
        }
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
    /// The plugin panicked; the message is what it logged.
    Panic {
        /// The panic message (`panicked at file:line:col: …`).
        message: String,
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
    /// Any other trap (`unreachable`, out-of-bounds access, abort…).
    Trap {
        /// wasmtime's description of the trap.
        message: String,
        /// The last error the plugin logged before it trapped, if any.
        last_error: Option<String>,
    },
}

impl Fault {
    /// A short stable name: `fuel-exhausted`, `timeout`, `memory-limit`,
    /// `stack-overflow`, `panic`, `exit`, `output-too-large`, `trap`.
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
            Fault::Timeout { limit } => write!(
                f,
                "timeout: did not finish within {}",
                crate::manifest::format_duration(*limit)
            ),
            Fault::MemoryLimit { limit } => write!(
                f,
                "memory limit of {} exceeded",
                crate::manifest::format_size(*limit)
            ),
            Fault::StackOverflow => write!(f, "stack overflow"),
            Fault::Panic { message } => write!(f, "panic: {message}"),
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
                crate::manifest::format_size(*limit)
            ),
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
