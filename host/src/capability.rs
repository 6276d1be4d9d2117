//! Capability grants: what a plugin may reach outside its sandbox. Deny by default.
//!
//! This module is the only builder of a plugin's [`WasiCtx`]: a grant that is not
//! written in the manifest does not exist in the context, so the plugin sees a
//! normal WASI error (`EACCES`, `ENOENT`, "not permitted") that it can handle.
//!
//! Always available, because Rust's std needs them: the host's wall and monotonic
//! clocks (a plugin can learn the time of day and measure durations, which is
//! enough for timing side channels — out of scope, see the README) and a secure
//! random source. Arguments are always empty and stdin is always empty.

mod host_fn;
mod network;
mod stdio;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

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

    /// Checks the grants against the runtime before a plugin is loaded: every host
    /// directory exists (and is canonicalised), every host function is registered.
    pub(crate) fn resolve(mut self, plugin: &str, host_fns: &HostFns) -> Result<Self> {
        for f in &mut self.files {
            let canonical = std::fs::canonicalize(&f.host).map_err(|e| {
                Error::load(
                    plugin,
                    format!(
                        "grants.files: host directory {} cannot be opened: {e}",
                        f.host.display()
                    ),
                )
            })?;
            if !canonical.is_dir() {
                return Err(Error::load(
                    plugin,
                    format!(
                        "grants.files: host path {} is not a directory",
                        canonical.display()
                    ),
                ));
            }
            f.host = canonical;
        }
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
            let perms = match f.mode {
                FileMode::ReadOnly => FsPerms::ReadOnly,
                FileMode::ReadWrite => FsPerms::ReadWrite,
            };
            b.preopened_dir(&f.host, &f.guest, perms).map_err(|e| {
                Error::load(
                    plugin,
                    format!("grants.files: cannot open {}: {e}", f.host.display()),
                )
            })?;
        }
        network::configure(&mut b, &self.network, &self.listen);
        Ok(b.build())
    }
}

/// A host directory made visible to the plugin at a guest path.
///
/// ```
/// use wasp_host::{FileGrant, FileMode};
/// let g = FileGrant::new("data", "/data", FileMode::ReadOnly);
/// assert_eq!(g.guest(), "/data");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
    pub(crate) mode: FileMode,
}

impl FileGrant {
    /// `host` is a directory on the host (canonicalised at load), `guest` the path
    /// the plugin opens it by.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/tmp", wasp_host::FileMode::ReadWrite);
    /// assert_eq!(g.mode(), wasp_host::FileMode::ReadWrite);
    /// ```
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>, mode: FileMode) -> Self {
        FileGrant {
            host: host.into(),
            guest: guest.into(),
            mode,
        }
    }
    /// The host directory.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.host(), std::path::Path::new("/tmp"));
    /// ```
    pub fn host(&self) -> &std::path::Path {
        &self.host
    }
    /// The guest path.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.guest(), "/t");
    /// ```
    pub fn guest(&self) -> &str {
        &self.guest
    }
    /// Read-only or read-write.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.mode(), wasp_host::FileMode::ReadOnly);
    /// ```
    pub fn mode(&self) -> FileMode {
        self.mode
    }
}

/// What a plugin may do in a granted directory.
///
/// ```
/// assert_eq!("ro".parse::<wasp_host::FileMode>(), Ok(wasp_host::FileMode::ReadOnly));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// `"ro"`: read and list only.
    ReadOnly,
    /// `"rw"`: also create, write, rename and delete inside the directory.
    ReadWrite,
}

impl std::str::FromStr for FileMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ro" => Ok(FileMode::ReadOnly),
            "rw" => Ok(FileMode::ReadWrite),
            other => Err(format!("invalid mode `{other}`: use \"ro\" or \"rw\"")),
        }
    }
}
