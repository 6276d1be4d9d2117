//! What one plugin is granted outside its sandbox, as written. Deny by default.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use super::ParseError;

/// What one plugin is granted. The default grants nothing.
///
/// Read a grant from its public field; add one with the method of the same name,
/// which chains:
///
/// ```
/// use wasp_host::{FileGrant, FileMode, Grants};
/// let g = Grants::default()
///     .env(["LANG"])
///     .file(FileGrant::new(".", "/data", FileMode::ReadOnly));
/// assert_eq!(g.env, ["LANG"]);
/// assert!(Grants::default().env.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grants {
    /// Host directories preopened at guest paths.
    pub files: Vec<FileGrant>,
    /// Host environment variables passed through by name (a missing one is absent).
    pub env: Vec<String>,
    /// Pass the plugin's stdout through to the host's (default: captured into the log).
    pub stdout: bool,
    /// Pass the plugin's stderr through to the host's (default: captured into the log).
    pub stderr: bool,
    /// Outgoing TCP/UDP destinations.
    pub network: Vec<NetGrant>,
    /// Local addresses the plugin may bind and listen on.
    pub listen: Vec<NetGrant>,
    /// Host functions (registered on the runtime) the plugin may call.
    pub host_functions: Vec<String>,
    /// The plugin's own kv namespace (plugins of `wasp:plugin@0.2.0` and later).
    pub kv: bool,
    /// Bytes the kv namespace may hold (`None`: [`crate::DEFAULT_KV_QUOTA`]).
    pub kv_quota: Option<u64>,
}

impl Grants {
    /// Adds a directory the plugin may open (a WASI preopen).
    ///
    /// ```
    /// use wasp_host::{FileGrant, FileMode, Grants};
    /// let g = Grants::default().file(FileGrant::new("data", "/data", FileMode::ReadWrite));
    /// assert_eq!(g.files.len(), 1);
    /// ```
    pub fn file(mut self, grant: FileGrant) -> Self {
        self.files.push(grant);
        self
    }
    /// Adds host environment variables, by name.
    ///
    /// ```
    /// let g = wasp_host::Grants::default().env(["HOME", "LANG"]);
    /// assert_eq!(g.env.len(), 2);
    /// ```
    pub fn env<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.env.extend(names.into_iter().map(Into::into));
        self
    }
    /// Sets [`Grants::stdout`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().stdout(true).stdout);
    /// ```
    pub fn stdout(mut self, pass: bool) -> Self {
        self.stdout = pass;
        self
    }
    /// Sets [`Grants::stderr`].
    ///
    /// ```
    /// assert!(wasp_host::Grants::default().stderr(true).stderr);
    /// ```
    pub fn stderr(mut self, pass: bool) -> Self {
        self.stderr = pass;
        self
    }
    /// Adds outgoing destinations, `host:port` (port may be `*`).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().network(["127.0.0.1:8080"])?;
    /// assert_eq!(g.network[0].to_string(), "127.0.0.1:8080");
    /// # Ok::<(), wasp_host::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// When an entry is not `host:port`.
    pub fn network<S: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = S>,
    ) -> Result<Self, ParseError> {
        for e in entries {
            self.network.push(e.as_ref().parse()?);
        }
        Ok(self)
    }
    /// Adds local addresses the plugin may listen on, `ip:port` (`0` or `*`: any port).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().listen(["127.0.0.1:0"])?;
    /// assert_eq!(g.listen.len(), 1);
    /// # Ok::<(), wasp_host::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// When an entry is not `ip:port`.
    pub fn listen<S: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = S>,
    ) -> Result<Self, ParseError> {
        for e in entries {
            self.listen.push(e.as_ref().parse()?);
        }
        Ok(self)
    }
    /// Adds host functions the plugin may call.
    ///
    /// ```
    /// let g = wasp_host::Grants::default().host_functions(["kv.get"]);
    /// assert_eq!(g.host_functions, ["kv.get"]);
    /// ```
    pub fn host_functions<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.host_functions
            .extend(names.into_iter().map(Into::into));
        self
    }
    /// Grants the plugin its own kv namespace, bounded by `quota` bytes (`None`:
    /// [`crate::DEFAULT_KV_QUOTA`]).
    ///
    /// ```
    /// let g = wasp_host::Grants::default().kv(true, Some(1 << 20));
    /// assert!(g.kv);
    /// ```
    pub fn kv(mut self, granted: bool, quota: Option<u64>) -> Self {
        self.kv = granted;
        self.kv_quota = quota;
        self
    }
}

/// A host directory made visible to the plugin at a guest path.
///
/// ```
/// use wasp_host::{FileGrant, FileMode};
/// let g = FileGrant::new("data", "/data", FileMode::ReadOnly);
/// assert_eq!(g.guest, "/data");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileGrant {
    /// The directory on the host (canonicalised and checked at load).
    pub host: PathBuf,
    /// The path the plugin opens it by.
    pub guest: String,
    /// Read-only or read-write.
    pub mode: FileMode,
}

impl FileGrant {
    /// `host` is a directory on the host, `guest` the path the plugin opens it by.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/tmp", wasp_host::FileMode::ReadWrite);
    /// assert_eq!(g.mode, wasp_host::FileMode::ReadWrite);
    /// ```
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>, mode: FileMode) -> Self {
        FileGrant {
            host: host.into(),
            guest: guest.into(),
            mode,
        }
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
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "ro" => Ok(FileMode::ReadOnly),
            "rw" => Ok(FileMode::ReadWrite),
            _ => Err(ParseError::new("mode", s, "", "use \"ro\" or \"rw\"")),
        }
    }
}

/// One `host:port` entry of `network` or `listen`. The port may be `*` (any).
///
/// ```
/// let g: wasp_host::NetGrant = "example.com:443".parse()?;
/// assert_eq!(g.to_string(), "example.com:443");
/// assert!("no-port".parse::<wasp_host::NetGrant>().is_err());
/// # Ok::<(), wasp_host::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetGrant {
    pub(crate) host: NetHost,
    /// `None` = any port.
    pub(crate) port: Option<u16>,
}

/// The host part of a [`NetGrant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetHost {
    Ip(IpAddr),
    Name(String),
}

const ADDRESS_EXPECTED: &str = "write host:port, e.g. \"127.0.0.1:8080\" or \"example.com:*\"";

impl std::str::FromStr for NetGrant {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = |why: &'static str| ParseError::new("address", s, why, ADDRESS_EXPECTED);
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port = match port {
            "*" => None,
            p => Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number from 0 to 65535"))?,
            ),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => NetHost::Ip(ip),
            Err(_) => {
                let valid = host.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if !valid || host.len() > 253 {
                    return Err(bad("the host is neither an IP address nor a DNS name"));
                }
                NetHost::Name(host.to_ascii_lowercase())
            }
        };
        Ok(NetGrant { host, port })
    }
}

impl fmt::Display for NetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            NetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            NetHost::Ip(ip) => write!(f, "{ip}")?,
            NetHost::Name(n) => write!(f, "{n}")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => write!(f, ":*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_reject() {
        assert!("127.0.0.1:80".parse::<NetGrant>().is_ok());
        assert!("[::1]:80".parse::<NetGrant>().is_ok());
        assert!("example.com:*".parse::<NetGrant>().is_ok());
        for bad in ["", ":80", "127.0.0.1", "127.0.0.1:99999", "a b:80", "x:y"] {
            assert!(bad.parse::<NetGrant>().is_err(), "{bad}");
        }
    }
}
