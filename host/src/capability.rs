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

pub(crate) use files::check_nesting;
pub(crate) use host_fn::HostFns;
pub use host_fn::{HostFn, HostFnContext};
pub(crate) use stdio::OutputBudget;

use crate::error::GrantError;
use crate::recording::InstanceContext;
use crate::spec::grants::Grants;
use crate::tape::Tape;

/// A plugin's grants, checked against the host: every granted directory exists,
/// is canonical and its identity recorded; every host function is registered.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) grants: Grants,
    identities: Vec<Option<files::DirIdentity>>,
}

impl Resolved {
    /// Checks `grants` before a plugin is loaded. The nesting rule across grants
    /// is [`check_nesting`], which every way of loading calls as well.
    pub(crate) fn new(grants: &Grants, host_fns: &HostFns) -> Result<Self, GrantError> {
        let mut grants = grants.clone();
        let identities = files::resolve(&mut grants.files)?;
        for name in &grants.host_functions {
            if !host_fns.contains(name) {
                return Err(GrantError::UnknownHostFunction {
                    name: name.clone(),
                    registered: host_fns.names(),
                });
            }
        }
        Ok(Resolved { grants, identities })
    }

    /// Builds the WASI context of one instance from these grants.
    ///
    /// On a tape, the clocks and random generators are the tape's; a replay's
    /// environment and insecure seed are the recording's, a recording's are
    /// kept in its history.
    pub(crate) fn wasi_ctx(
        &self,
        plugin: &Arc<str>,
        budget: &OutputBudget,
        tape: Option<&Tape>,
    ) -> Result<WasiCtx, GrantError> {
        let g = &self.grants;
        let mut b = WasiCtxBuilder::new();
        // stdin: WasiCtxBuilder's default is an empty stream; never the host's.
        if g.stdout {
            b.inherit_stdout();
        } else {
            b.stdout(stdio::LogStream::new(
                plugin.clone(),
                "stdout",
                budget.clone(),
            ));
        }
        if g.stderr {
            b.inherit_stderr();
        } else {
            b.stderr(stdio::LogStream::new(
                plugin.clone(),
                "stderr",
                budget.clone(),
            ));
        }
        let env: Vec<(String, String)> = match tape {
            Some(Tape::Replay(p)) => p.recording().plugin.env.clone(),
            _ => g
                .env
                .iter()
                .filter_map(|name| {
                    let value = std::env::var_os(name)?.into_string().ok()?;
                    Some((name.clone(), value))
                })
                .collect(),
        };
        for (name, value) in &env {
            b.env(name, value);
        }
        if let Some(tape) = tape {
            let (wall, monotonic, secure, insecure) = tape.wasi();
            b.wall_clock(wall)
                .monotonic_clock(monotonic)
                .secure_random(secure)
                .insecure_random(insecure);
            let seed = match tape {
                Tape::Replay(p) => p.recording().plugin.insecure_seed,
                Tape::Record(_) => {
                    let mut rng = wasmtime_wasi::thread_rng();
                    [rng.next_u64(), rng.next_u64()]
                }
            };
            b.insecure_random_seed(u128::from(seed[0]) << 64 | u128::from(seed[1]));
            if let Tape::Record(r) = tape {
                r.set_context(InstanceContext {
                    env,
                    insecure_seed: seed,
                });
            }
        }
        for (index, f) in g.files.iter().enumerate() {
            let identity = self.identities.get(index).copied().flatten();
            files::preopen(&mut b, index, f, identity)?;
        }
        network::configure(&mut b, &g.network, &g.listen);
        Ok(b.build())
    }
}
