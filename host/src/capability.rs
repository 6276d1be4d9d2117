//! Capability grants: what a plugin may reach outside its sandbox. Deny by default.
//!
//! This module is the only builder of a plugin's [`WasiCtx`]: a grant that is not
//! written in the manifest does not exist in the context, so the plugin sees a
//! normal WASI error (`EACCES`, `ENOENT`, "not permitted") that it can handle.
//!
//! | grant | without it | with it |
//! |---|---|---|
//! | `files` | no preopened directory: every path fails | the directory at its guest path, `ro` or `rw`; `..`, absolute host paths and symlinks cannot leave it (see `capability/files.rs` for the two extra rules on nested grants and directories replaced after load) |
//! | `env` | no variables at all | the named host variables that exist |
//! | `network` | no TCP, UDP or name lookup | connect/send to the listed `host:port`s; datagrams only from them; name lookups only if a name is listed |
//! | `listen` | no bind to a chosen address, no listen | bind and listen on the listed local addresses |
//! | `stdout`, `stderr` | captured into the host's log (bounded per call) | the host's own stdout/stderr |
//! | `host-functions` | `call-host` answers "not granted" for every name, registered or not | the listed functions |
//!
//! Always empty: arguments and stdin. The working directory is `/`.
//!
//! # What a plugin learns without any grant
//!
//! A choice made here, because Rust's std and most guest languages need them, and
//! pinned by the `clocks_and_randomness_work_without_any_grant` test:
//!
//! - **Clocks**: the host's real wall clock (the time of day, so roughly where and
//!   when it runs) and a monotonic clock with the host's resolution. Measuring
//!   its own durations lets a plugin build timing side channels (cache timing,
//!   how long a host function or a lookup takes); wasp does not coarsen or fake
//!   the clocks, so treat anything a host function does in secret-dependent time
//!   as observable.
//! - **Randomness**: `wasi:random/random` is the host's thread-local CSPRNG
//!   (rand's `ThreadRng`, seeded from the OS), so bytes never repeat across
//!   draws or instances and reveal nothing about the host or other plugins;
//!   `wasi:random/insecure` and its seed are fresh for every instance.
//!
//! # Known limit: name lookups
//!
//! wasmtime-wasi offers name resolution as one switch, so a `network` grant that
//! lists a DNS name lets the plugin resolve *any* name through the host's
//! resolver — a way to send data out in queries (`<secret>.attacker.example`)
//! even though it can connect only to granted addresses. Grant IP addresses when
//! that matters; a name filter needs wasp's own `ip-name-lookup` in the linker.

pub(crate) mod files;
mod host_fn;
mod network;
mod stdio;

use std::sync::Arc;

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

pub use files::{FileGrant, FileMode};
pub(crate) use host_fn::HostFns;
pub use host_fn::{HostFn, HostFnContext};
pub use network::NetGrant;
pub(crate) use stdio::OutputBudget;

use crate::error::{Error, Result};

/// What one plugin is granted. The default grants nothing.
///
/// ```
/// use wasp_host::{FileGrant, FileMode, Grants};
/// let g = Grants::default()
///     .env(["LANG"])
///     .file(FileGrant::new(".", "/data", FileMode::ReadOnly));
/// assert_eq!(g.env_value(), ["LANG"]);
/// assert!(Grants::default().env_value().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub(crate) files: Vec<FileGrant>,
    pub(crate) env: Vec<String>,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
    pub(crate) network: Vec<NetGrant>,
    pub(crate) listen: Vec<NetGrant>,
    pub(crate) host_functions: Vec<String>,
    pub(crate) kv: bool,
    pub(crate) kv_quota: Option<u64>,
}

impl Grants {
    /// Adds a directory the plugin may open (a WASI preopen).
    ///
    /// ```
    /// use wasp_host::{FileGrant, FileMode, Grants};
    /// let g = Grants::default().file(FileGrant::new("data", "/data", FileMode::ReadWrite));
    /// assert_eq!(g.files_value().len(), 1);
    /// ```
    pub fn file(mut self, grant: FileGrant) -> Self {
        self.files.push(grant);
        self
    }
    /// Host environment variables passed through by name (a missing one is absent).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().env(["HOME", "LANG"]);
    /// assert_eq!(g.env_value().len(), 2);
    /// ```
    pub fn env<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.env.extend(names.into_iter().map(Into::into));
        self
    }
    /// Pass the plugin's stdout through to the host's stdout (default: captured
    /// into the log).
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().stdout(true).stdout_value());
    /// ```
    pub fn stdout(mut self, pass: bool) -> Self {
        self.stdout = pass;
        self
    }
    /// Pass the plugin's stderr through to the host's stderr (default: captured
    /// into the log).
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().stderr(true).stderr_value());
    /// ```
    pub fn stderr(mut self, pass: bool) -> Self {
        self.stderr = pass;
        self
    }
    /// Outgoing TCP/UDP destinations, `host:port` (port may be `*`).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().network(["127.0.0.1:8080"])?;
    /// assert_eq!(g.network_value()[0].to_string(), "127.0.0.1:8080");
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// When an entry is not `host:port`.
    pub fn network<S: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = S>,
    ) -> std::result::Result<Self, String> {
        for e in entries {
            self.network.push(e.as_ref().parse()?);
        }
        Ok(self)
    }
    /// Local addresses the plugin may listen on, `ip:port` (`0` or `*`: any port).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().listen(["127.0.0.1:0"])?;
    /// assert_eq!(g.listen_value().len(), 1);
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// When an entry is not `ip:port`.
    pub fn listen<S: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = S>,
    ) -> std::result::Result<Self, String> {
        for e in entries {
            self.listen.push(e.as_ref().parse()?);
        }
        Ok(self)
    }
    /// Host functions (registered on the runtime) the plugin may call.
    ///
    /// ```
    /// let g = wasp_host::Grants::default().host_functions(["kv.get"]);
    /// assert_eq!(g.host_functions_value(), ["kv.get"]);
    /// ```
    pub fn host_functions<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.host_functions
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// See [`Grants::file`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().files_value().is_empty());
    /// ```
    pub fn files_value(&self) -> &[FileGrant] {
        &self.files
    }
    /// See [`Grants::env`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().env_value().is_empty());
    /// ```
    pub fn env_value(&self) -> &[String] {
        &self.env
    }
    /// See [`Grants::stdout`].
    ///
    /// ```
    /// assert!(!wasp_host::Grants::default().stdout_value());
    /// ```
    pub fn stdout_value(&self) -> bool {
        self.stdout
    }
    /// See [`Grants::stderr`].
    ///
    /// ```
    /// assert!(!wasp_host::Grants::default().stderr_value());
    /// ```
    pub fn stderr_value(&self) -> bool {
        self.stderr
    }
    /// See [`Grants::network`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().network_value().is_empty());
    /// ```
    pub fn network_value(&self) -> &[NetGrant] {
        &self.network
    }
    /// See [`Grants::listen`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().listen_value().is_empty());
    /// ```
    pub fn listen_value(&self) -> &[NetGrant] {
        &self.listen
    }
    /// See [`Grants::host_functions`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().host_functions_value().is_empty());
    /// ```
    pub fn host_functions_value(&self) -> &[String] {
        &self.host_functions
    }
    /// Grants the plugin its own kv namespace (0.2.0 plugins), bounded by `quota`
    /// bytes (`None`: [`crate::DEFAULT_KV_QUOTA`]).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().kv(true, Some(1 << 20));
    /// assert!(g.kv_value());
    /// ```
    pub fn kv(mut self, granted: bool, quota: Option<u64>) -> Self {
        self.kv = granted;
        self.kv_quota = quota;
        self
    }
    /// See [`Grants::kv`].
    ///
    /// ```
    /// assert!(!wasp_host::Grants::default().kv_value());
    /// ```
    pub fn kv_value(&self) -> bool {
        self.kv
    }

    /// Checks the grants against the runtime before a plugin is loaded: every host
    /// directory exists (and is canonicalised, its identity recorded) and is not
    /// reached through another read-write grant, every host function is
    /// registered.
    pub(crate) fn resolve(mut self, plugin: &str, host_fns: &HostFns) -> Result<Self> {
        files::resolve(plugin, &mut self.files)?;
        for name in &self.host_functions {
            if !host_fns.contains(name) {
                return Err(Error::load(
                    plugin,
                    format!(
                        "grants.host-functions: no host function named '{name}' is registered on this runtime (registered: {})",
                        host_fns.names()
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// Builds the WASI context of one instance from these grants.
    pub(crate) fn wasi_ctx(&self, plugin: &Arc<str>, budget: &OutputBudget) -> Result<WasiCtx> {
        let mut b = WasiCtxBuilder::new();
        // stdin: WasiCtxBuilder's default is an empty stream; never the host's.
        if self.stdout {
            b.inherit_stdout();
        } else {
            b.stdout(stdio::LogStream::new(
                plugin.clone(),
                "stdout",
                budget.clone(),
            ));
        }
        if self.stderr {
            b.inherit_stderr();
        } else {
            b.stderr(stdio::LogStream::new(
                plugin.clone(),
                "stderr",
                budget.clone(),
            ));
        }
        for name in &self.env {
            if let Some(value) = std::env::var_os(name).and_then(|v| v.into_string().ok()) {
                b.env(name, value);
            }
        }
        for f in &self.files {
            files::preopen(&mut b, plugin, f)?;
        }
        network::configure(&mut b, &self.network, &self.listen);
        Ok(b.build())
    }
}
