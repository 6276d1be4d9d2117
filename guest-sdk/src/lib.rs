//! Write [wasp] plugins in plain Rust.
//!
//! A wasp plugin is a WebAssembly component of the `wasp:plugin@0.3.0` world
//! (`wit/v0.3.0/plugin.wit`): it exports `info`, `init`, `call(function, input)`,
//! `call-batch(function, inputs)` and `shutdown`, and may import the host's `log` (with structured fields),
//! `get-config`, `call-host` and a key-value store, `kv`. This crate hides that
//! plumbing (it owns wit-bindgen;
//! a plugin depends on `wasp-sdk` alone and needs no `unsafe`): you write ordinary
//! functions, mark them, list them once, and build with
//! `cargo build --release --target wasm32-wasip1`.
//!
//! # Main items
//!
//! - [`#[plugin_fn]`](macro@plugin_fn) marks a function that the host may call. Its
//!   argument is decoded from the input bytes with [`FromBytes`], its result encoded
//!   with [`IntoBytes`]: `String` and `Vec<u8>` pass as they are, serde types in an
//!   explicit [`Json`] or [`Bincode`] wrapper. It may return `Result<T, Error>`.
//! - [`plugin!`] declares the plugin (name, version, description, optional `init` and
//!   `shutdown` functions) and the functions it exports, and generates the
//!   component's exports, which route `call` by name and log panics to the host.
//!   `call-batch` needs no work: it runs the same dispatch over each input.
//! - [`Error`] is what a function returns when it fails on purpose: a `code` for
//!   machines and a `message` for people. `?` converts any standard error into one.
//! - [`log`] and the macros [`trace!`], [`debug!`], [`info!`], [`warn!`], [`error!`]
//!   write to the host's log, optionally with fields (`info!(user = name; "signed
//!   in")`); [`config::get`] reads the operator's configuration; [`kv`] keeps the
//!   plugin's own keys and values across calls and restarts, when granted;
//!   [`host::call`] calls a function that the host application registered and
//!   granted.
//! - [`_generated`] shows what the macros expand to.
//!
//! # Behaviour the host can rely on
//!
//! - `call-batch(function, inputs)` returns one result per input, in input order,
//!   each exactly what `call(function, input)` would have returned.
//! - An unknown function name in `call` returns the error `unknown-function`, whose
//!   message lists the available functions; undecodable input returns `bad-input`,
//!   an unencodable result `bad-output`.
//! - A panic logs `panicked at {file}:{line}:{column}: {message}` at level error,
//!   with the fields `wasp.panic` (the message) and `wasp.panic.location`
//!   (`file:line:column`), which the host reads as data; then the plugin traps (wasm32-wasip1 aborts on panic): the
//!   host drops the instance and reports a fault.
//! - `shutdown` runs the plugin's `shutdown` function, if any; its error is logged at
//!   level error as `shutdown failed: {code}: {message}`.
//! - Every plugin carries a custom section named `wasp-sdk` holding the SDK's version
//!   as UTF-8 text (e.g. `0.3.0`), which `wasp inspect` shows without running the
//!   plugin.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "upper"
//! version = "0.1.0"
//! edition = "2024"
//! description = "Uppercases text."
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! wasp-sdk = "0.3"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```standalone_crate
//! #![forbid(unsafe_code)]
//! use wasp_sdk::{plugin, plugin_fn, Error, Json};
//!
//! // name, version and description default to the crate's own.
//! plugin!(shutdown = goodbye, functions = [upper, shout, sum, total]);
//!
//! #[plugin_fn]
//! fn upper(input: String) -> String {
//!     input.to_uppercase()
//! }
//!
//! #[plugin_fn]
//! fn shout(input: String) -> Result<String, Error> {
//!     if input.is_empty() {
//!         return Err(Error::new("empty", "nothing to shout"));
//!     }
//!     wasp_sdk::debug!("shouting {} bytes", input.len());
//!     Ok(format!("{}!", input.to_uppercase()))
//! }
//!
//! /// Typed input and output travel as JSON when wrapped in `Json`.
//! #[plugin_fn]
//! fn sum(Json(numbers): Json<Vec<i64>>) -> Json<i64> {
//!     Json(numbers.iter().sum())
//! }
//!
//! /// Adds to a running total kept by the host (when the operator granted `kv`).
//! #[plugin_fn]
//! fn total(Json(n): Json<i64>) -> Result<Json<i64>, Error> {
//!     let Json(before) = wasp_sdk::kv::get_as::<Json<i64>>("total")?.unwrap_or(Json(0));
//!     let after = before + n;
//!     wasp_sdk::kv::set_as("total", Json(after))?;
//!     wasp_sdk::info!(added = n, total = after; "total updated");
//!     Ok(Json(after))
//! }
//!
//! /// Called before the host drops the instance (unload, reload).
//! fn goodbye() {
//!     wasp_sdk::info!("bye");
//! }
//! ```
//!
//! Then `cargo build --release --target wasm32-wasip1` makes
//! `target/wasm32-wasip1/release/upper.wasm`, which the host loads as it is, and
//! `wasp call upper.wasm shout hello` prints `HELLO!`.
//!
//! Keep the logic in plain functions and test them natively with `cargo test`: the
//! SDK builds on every target, only the host imports (log, config, kv, host calls)
//! panic outside wasm.
//!
//! [wasp]: https://example.invalid/wasp
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
// The crate denies `unsafe_code` (Cargo.toml) and allows it in `bindings` alone, for
// the code that wit-bindgen generates; the rest of the SDK is safe Rust.

// Lets the generated code name `::wasp_sdk::…` both here and in plugins.
extern crate self as wasp_sdk;

#[doc(hidden)]
pub mod bindings;
pub mod config;
mod error;
mod export;
pub mod host;
pub mod kv;
pub mod log;

pub mod _generated;

pub use error::Error;
pub use wasp_codec::{Bincode, CodecError, FromBytes, IntoBytes, Json};

/// Marks a function that the host may call by name.
///
/// The function stays as it is (you can still call and test it natively); the
/// attribute adds a hidden constant beside it that [`plugin!`] lists, holding the
/// function's name and a wrapper from input bytes to output bytes:
///
/// - The argument, if any, is decoded with [`FromBytes`]: `String`, `Vec<u8>`, `()`,
///   [`Json<T>`](Json), [`Bincode<T>`](Bincode). Patterns work:
///   `Json(event): Json<Event>`. A function without an argument ignores the input.
///   Undecodable input returns the error `bad-input`, naming the function and the
///   codec error, without calling the function.
/// - The result is encoded with [`IntoBytes`]; a failure returns `bad-output`. No
///   return type means empty output.
/// - A return type whose last path segment is `Result` (`Result<T, Error>`,
///   `std::io::Result<T>`) is fallible: `Ok` is encoded, `Err(e)` goes to the host as
///   the plugin error `e.into()`, so `E` is [`Error`] or any [`std::error::Error`].
///
/// Options: `#[plugin_fn(name = "big-output")]` sets the name the host calls
/// (default: the function's identifier, e.g. `big_output`).
///
/// ```standalone_crate
/// use wasp_sdk::{plugin, plugin_fn, Error, Json};
/// use std::collections::BTreeMap;
///
/// plugin!(functions = [upper, word_counts, ping]);
///
/// #[plugin_fn]
/// fn upper(input: String) -> String {
///     input.to_uppercase()
/// }
///
/// #[plugin_fn(name = "word-counts")]
/// fn word_counts(text: String) -> Result<Json<BTreeMap<String, u32>>, Error> {
///     let mut counts = BTreeMap::new();
///     for word in text.split_whitespace() {
///         *counts.entry(word.to_lowercase()).or_insert(0) += 1;
///     }
///     Ok(Json(counts))
/// }
///
/// #[plugin_fn]
/// fn ping() -> &'static str {
///     "pong"
/// }
///
/// // Plain functions: test them natively.
/// assert_eq!(upper("a".into()), "A");
/// assert_eq!(ping(), "pong");
/// ```
///
/// A plugin function is a free, synchronous, non-generic function of at most one
/// argument; anything else is a compile error that says what to write instead:
///
/// ```compile_fail
/// #[wasp_sdk::plugin_fn]
/// fn join(a: String, b: String) -> String { a + &b } // error: at most one argument
/// ```
///
/// ```compile_fail
/// #[wasp_sdk::plugin_fn]
/// async fn later(input: String) -> String { input } // error: cannot be `async`
/// ```
///
/// What it returns decides, by type, whether it can fail: `T` or `Result<T, E>`
/// (any alias or path of it) where the codec encodes `T` and `E: Into<Error>`.
/// A type that is only *named* `Result` is not taken for one:
///
/// ```compile_fail
/// struct Result(u8);
/// #[wasp_sdk::plugin_fn]
/// fn odd(input: String) -> Result { Result(1) } // error: not a value wasp can encode
/// ```
pub use wasp_sdk_macros::plugin_fn;

/// Declares the plugin and generates its exports; use it once per plugin crate.
///
/// ```text
/// plugin!(
///     name = "upper",                  // default: the crate's name (CARGO_PKG_NAME)
///     version = "1.0.0",               // default: CARGO_PKG_VERSION; must be semver
///     description = "Uppercases text", // default: CARGO_PKG_DESCRIPTION
///     init = setup,                    // optional: fn() -> Result<(), E>, E: Into<Error>
///     shutdown = flush,                // optional: fn(), or fn() -> Result<(), E>
///     functions = [upper, events::process], // required: #[plugin_fn] functions, in order
/// );
/// ```
///
/// The generated exports:
///
/// - `info` returns the name, version, description and the function names in the
///   order listed.
/// - `init` runs the `init` function (the host calls it once per instance, before any
///   `call`); without one it succeeds. Read configuration there.
/// - `call(function, input)` runs the function with that name. An unknown name returns
///   the error `unknown-function`, whose message lists the available functions.
/// - `shutdown` runs the `shutdown` function (the host calls it once before it drops
///   an instance on unload or reload, not after a fault); without one it does nothing.
///   The export returns nothing, so an error of the function is logged at level
///   error as `shutdown failed: {code}: {message}`. Flush state there, e.g. to
///   [`kv`].
/// - On the first entry into any of them, a panic hook is installed that reports a
///   panic to the host before the plugin traps: one log line at level error, the text
///   `panicked at {file}:{line}:{column}: {message}`, with the panic as data in the
///   fields `wasp.panic` (message) and `wasp.panic.location` (`file:line:column`).
///
/// A function listed without `#[plugin_fn]` fails to compile with "cannot find value
/// `__wasp_plugin_fn_NAME`"; two functions with the same name, an unknown key or a
/// key given twice are compile errors too. Invoking `plugin!` twice in one plugin
/// fails to link (duplicate exports).
///
/// ```standalone_crate
/// use wasp_sdk::{plugin, plugin_fn, Error};
/// use std::cell::RefCell;
///
/// plugin!(
///     name = "greeter",
///     version = "1.2.0",
///     description = "Greets people.",
///     init = setup,
///     shutdown = flush,
///     functions = [greet],
/// );
///
/// thread_local! {
///     static GREETING: RefCell<String> = RefCell::new(String::from("hello"));
/// }
///
/// fn setup() -> Result<(), Error> {
///     if let Some(greeting) = wasp_sdk::config::get("greeting") {
///         if greeting.is_empty() {
///             return Err(Error::new("bad-config", "`greeting` is empty"));
///         }
///         GREETING.with(|g| *g.borrow_mut() = greeting);
///     }
///     Ok(())
/// }
///
/// #[plugin_fn]
/// fn greet(name: String) -> String {
///     GREETS.with(|n| n.set(n.get() + 1));
///     GREETING.with(|g| format!("{}, {name}", g.borrow()))
/// }
///
/// thread_local! {
///     static GREETS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
/// }
///
/// /// Saves the count of this instance's greetings (an error here is logged).
/// fn flush() -> Result<(), Error> {
///     let greets = GREETS.with(|n| n.get());
///     wasp_sdk::kv::set("greets", greets.to_string().as_bytes())
/// }
/// # assert_eq!(greet("ada".into()), "hello, ada");
/// ```
///
/// ```compile_fail
/// wasp_sdk::plugin!(functions = [], colour = "red"); // error: unknown key `colour`
/// ```
///
/// ```compile_fail
/// fn stop() -> u32 { 0 }
/// wasp_sdk::plugin!(shutdown = stop, functions = []); // error: `stop` returns `u32`
/// ```
pub use wasp_sdk_macros::plugin;

/// What the code generated by [`plugin!`] and [`#[plugin_fn]`](macro@plugin_fn)
/// uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
}
