//! # wasp-host: run untrusted WebAssembly plugins
//!
//! An application embeds this crate to load third-party plugins — WebAssembly
//! components of the `wasp:plugin` world (see `wit/plugin.wit`), or
//! `wasm32-wasip1` core modules that it adapts itself — and call them safely:
//!
//! - **Sandboxed**: a plugin reaches only what the operator granted in the
//!   manifest ([`Grants`]: directories, environment variables, network
//!   addresses, host functions). Nothing is granted by default.
//! - **Limited**: every call runs under [`Limits`] — fuel, memory, wall-clock
//!   time, input/output size. A plugin that loops, sleeps, allocates without end,
//!   recurses, panics or exits becomes a typed [`Fault`]; its instance is
//!   discarded and the next call gets a fresh one. The host keeps serving.
//! - **Versioned**: the `wasp:plugin` version is read from the component before
//!   it is instantiated; an unsupported one is refused with an error naming both.
//!
//! Main types: [`Runtime`] (built with [`Runtime::builder`]) loads plugins from
//! a file, bytes or a [manifest](manifest); a [`Plugin`] is called with typed
//! ([`Plugin::call`]) or raw ([`Plugin::call_raw`]) input; [`Plugins`] holds a
//! manifest's plugins by name; [`Error`] says what went wrong, where, and what to do.
//!
//! ```no_run
//! use wasp_host::{Json, Runtime};
//!
//! # async fn run() -> wasp_host::Result<()> {
//! let runtime = Runtime::builder()
//!     .host_fn("greeting", |_ctx, _input| async move { Ok(b"hello".to_vec()) })
//!     .build()?;
//! let plugins = runtime.load_manifest("wasp.toml").await?;
//! let upper = plugins.get("upper")?;
//! let out: String = upper.call("upper", "hello").await?;
//! assert_eq!(out, "HELLO");
//! let event: Json<serde_json::Value> = upper.call("process", Json(serde_json::json!({"message": "hi"}))).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// No unsafe code, except in `loader::cache` (deserializing compiled plugins).
#![deny(unsafe_code)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

// Layers, bottom up; a module uses only those above it in this list (see the
// README's architecture section; `module-cycles host/src` checks it).
mod capability;
mod error;
mod host_api;
mod instance;
mod kv;
mod limits;
pub mod loader;
pub mod manifest;
mod metrics;
mod plugin;
mod pool;
mod profile;
pub mod prometheus;
pub mod recording;
mod registry;
mod replay;
mod rollout;
mod runtime;
pub mod signing;
mod spec;
mod state;
mod tape;
pub mod testing;
mod version;
mod watch;

pub use capability::{HostFn, HostFnContext};
pub use error::{
    BuildError, CacheProblem, Error, Fault, GrantError, InfoProblem, KvError, LoadError, NotWasm,
    RecordingError, Result, SetupError, SignatureProblem, SigningError,
};
pub use loader::{DEFAULT_KV_QUOTA, Inspection};
pub use metrics::PluginStats;
pub use plugin::Plugin;
pub use registry::{Plugins, Reload, ReloadOptions};
pub use rollout::{RolloutDifference, RolloutOutcome, RolloutReport};
pub use runtime::{DEFAULT_EPOCH_TICK, DEFAULT_INSTANCE_POOL, Runtime, RuntimeBuilder};
pub use spec::ParseError;
pub use spec::api::ApiVersion;
pub use spec::grants::{FileGrant, FileMode, Grants, NetGrant};
pub use spec::info::PluginInfo;
pub use spec::keys::TrustedKey;
pub use spec::limits::Limits;
pub use spec::options::{
    CallOptions, DEFAULT_MAX_INSTANCES, DEFAULT_MAX_QUEUE, InstanceMode, PluginOptions, Rollout,
};
pub use spec::units::{Dur, Size};
pub use version::{ComponentShape, SDK_SECTION};
pub use wasp_codec::{Bincode, CodecError, FromBytes, IntoBytes, Json};
pub use watch::{DEBOUNCE, Watch};

/// The README's code blocks, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The rollout guide's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rollout.md")]
pub struct RolloutDoctests;
