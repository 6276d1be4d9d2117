//! What [`plugin!`](crate::plugin) and [`#[plugin_fn]`](macro@crate::plugin_fn)
//! expand to (documentation only; this module is empty).
//!
//! Knowing the expansion helps to read compile errors and to write a plugin without
//! the SDK (any component of the `wasp:plugin` world works, see
//! `plugins/wordcount` in the repository for one made with plain wit-bindgen).
//!
//! # Input
//!
//! ```text
//! use wasp_sdk::{plugin, plugin_fn, Error};
//!
//! plugin!(shutdown = goodbye, functions = [upper, shout]);
//!
//! #[plugin_fn]
//! fn upper(input: String) -> String { input.to_uppercase() }
//!
//! #[plugin_fn]
//! fn shout(input: String) -> Result<String, Error> {
//!     if input.is_empty() { return Err(Error::new("empty", "nothing to shout")); }
//!     Ok(format!("{}!", input.to_uppercase()))
//! }
//!
//! fn goodbye() { wasp_sdk::info!(reason = "unload"; "bye"); }
//! ```
//!
//! # Expansion
//!
//! The code below is that expansion, tidied up and compiled as a test; the items in
//! `wasp_sdk::__private` that it names are hidden from these docs and may change in
//! any release, so never write them by hand.
//!
//! ```standalone_crate
//! use wasp_sdk::Error;
//!
//! // ---- #[plugin_fn] fn upper ------------------------------------------------------
//! // The function, unchanged:
//! fn upper(input: String) -> String { input.to_uppercase() }
//!
//! // Beside it, a hidden constant named after it, with the same visibility. `plugin!`
//! // refers to it, which is why a listed function without `#[plugin_fn]` fails with
//! // "cannot find value `__wasp_plugin_fn_upper`".
//! #[doc(hidden)]
//! #[allow(non_upper_case_globals)]
//! const __wasp_plugin_fn_upper: ::wasp_sdk::__private::Function =
//!     ::wasp_sdk::__private::Function {
//!         name: "upper", // or the `name = "..."` option
//!         call: {
//!             fn __wasp_wrapper(
//!                 input: ::std::vec::Vec<u8>,
//!             ) -> ::core::result::Result<::std::vec::Vec<u8>, ::wasp_sdk::Error> {
//!                 // `decode` is `String::from_bytes`, its error turned into
//!                 // Error::new("bad-input", "function `upper`: cannot decode input as `String`: …");
//!                 // `PluginResult` encodes the output (error "bad-output") and, for
//!                 // a `Result`, passes its error on: the type decides, not its name.
//!                 ::wasp_sdk::__private::PluginResult::into_output(
//!                     upper(::wasp_sdk::__private::decode::<String>("upper", input)?),
//!                     "upper",
//!                 )
//!             }
//!             __wasp_wrapper
//!         },
//!     };
//!
//! // ---- #[plugin_fn] fn shout: the same expansion; `PluginResult` for `Result` -------
//! fn shout(input: String) -> Result<String, Error> {
//!     if input.is_empty() { return Err(Error::new("empty", "nothing to shout")); }
//!     Ok(format!("{}!", input.to_uppercase()))
//! }
//!
//! #[doc(hidden)]
//! #[allow(non_upper_case_globals)]
//! const __wasp_plugin_fn_shout: ::wasp_sdk::__private::Function =
//!     ::wasp_sdk::__private::Function {
//!         name: "shout",
//!         call: {
//!             fn __wasp_wrapper(
//!                 input: ::std::vec::Vec<u8>,
//!             ) -> ::core::result::Result<::std::vec::Vec<u8>, ::wasp_sdk::Error> {
//!                 ::wasp_sdk::__private::PluginResult::into_output(
//!                     shout(::wasp_sdk::__private::decode::<String>("shout", input)?),
//!                     "shout",
//!                 )
//!             }
//!             __wasp_wrapper
//!         },
//!     };
//!
//! fn goodbye() {
//!     // info!(reason = "unload"; "bye"), expanded: fields go to `log_with`, their
//!     // values formatted with `ToString`; without fields the macros call `log`.
//!     ::wasp_sdk::log::log_with(
//!         ::wasp_sdk::log::Level::Info,
//!         &::std::format!("bye"),
//!         &[("reason", &*::std::string::ToString::to_string(&"unload"))],
//!     )
//! }
//!
//! // ---- plugin!(shutdown = goodbye, functions = [upper, shout]) ------------------------
//! const _: () = {
//!     // With `init = setup`, this also holds
//!     // fn __wasp_init() -> Result<(), Error> { setup().map_err(Into::into) }
//!     // and `init` below is `Some(__wasp_init)`.
//!
//!     // `shutdown = goodbye`: `goodbye` may return `()` or `Result<(), E>`; the
//!     // `HookOutput` trait turns either into a `Result` (anything else fails to
//!     // compile with "a `shutdown` function must return `()` or `Result<(), E>` …").
//!     fn __wasp_shutdown() -> ::core::result::Result<(), ::wasp_sdk::Error> {
//!         ::wasp_sdk::__private::HookOutput::into_result(goodbye())
//!     }
//!
//!     const __WASP_FUNCTIONS: &[::wasp_sdk::__private::Function] =
//!         &[__wasp_plugin_fn_upper, __wasp_plugin_fn_shout];
//!     // Two functions with one name are a compile-time error.
//!     const _: () = ::core::assert!(
//!         ::wasp_sdk::__private::names_are_unique(__WASP_FUNCTIONS),
//!         "two functions listed in `plugin!` have the same name; rename one with \
//!                  `#[plugin_fn(name = \"...\")]`",
//!     );
//!
//!     static __WASP_PLUGIN: ::wasp_sdk::__private::Plugin = ::wasp_sdk::__private::Plugin {
//!         name: ::core::env!("CARGO_PKG_NAME"),
//!         version: ::core::env!("CARGO_PKG_VERSION"),
//!         description: ::core::env!("CARGO_PKG_DESCRIPTION"),
//!         init: ::core::option::Option::None,
//!         shutdown: ::core::option::Option::Some(__wasp_shutdown), // else `None`
//!         functions: __WASP_FUNCTIONS,
//!     };
//!
//!     // wit-bindgen's `Guest` trait for the `guest` interface of the world. Each
//!     // `export_*` first installs the panic hook (once), then:
//!     struct __WaspPlugin;
//!     impl ::wasp_sdk::__private::bindings::exports::wasp::plugin::guest::Guest for __WaspPlugin {
//!         // name, version, description, function names in listed order; also reads
//!         // the static behind the `wasp-sdk` custom section (see below)
//!         fn info() -> ::wasp_sdk::__private::bindings::exports::wasp::plugin::guest::PluginInfo {
//!             ::wasp_sdk::__private::export_info(&__WASP_PLUGIN)
//!         }
//!         // runs the `init` function, if any
//!         fn init() -> ::core::result::Result<
//!             (),
//!             ::wasp_sdk::__private::bindings::exports::wasp::plugin::guest::PluginError,
//!         > {
//!             ::wasp_sdk::__private::export_init(&__WASP_PLUGIN)
//!         }
//!         // finds the function by name (else "unknown-function") and runs its wrapper
//!         fn call(
//!             function: ::std::string::String,
//!             input: ::std::vec::Vec<u8>,
//!         ) -> ::core::result::Result<
//!             ::std::vec::Vec<u8>,
//!             ::wasp_sdk::__private::bindings::exports::wasp::plugin::guest::PluginError,
//!         > {
//!             ::wasp_sdk::__private::export_call(&__WASP_PLUGIN, &function, input)
//!         }
//!         // the same dispatch over each input, in order (`wasp:plugin@0.3.0`)
//!         fn call_batch(
//!             function: ::std::string::String,
//!             inputs: ::std::vec::Vec<::std::vec::Vec<u8>>,
//!         ) -> ::std::vec::Vec<
//!             ::core::result::Result<
//!                 ::std::vec::Vec<u8>,
//!                 ::wasp_sdk::__private::bindings::exports::wasp::plugin::guest::PluginError,
//!             >,
//!         > {
//!             ::wasp_sdk::__private::export_call_batch(&__WASP_PLUGIN, &function, inputs)
//!         }
//!         // runs the `shutdown` function, if any; logs its error
//!         // ("shutdown failed: {code}: {message}") since the export returns nothing
//!         fn shutdown() {
//!             ::wasp_sdk::__private::export_shutdown(&__WASP_PLUGIN)
//!         }
//!     }
//!
//!     // wit-bindgen's export macro: the `extern "C"` functions named
//!     // `wasp:plugin/guest@0.3.0#info` (…#init, …#call, …#call-batch, …#shutdown, and their
//!     // `cabi_post_` cleanups) that the component model calls, and the
//!     // `component-type` custom section that describes the world. Its `unsafe` stays
//!     // inside the macro: a plugin builds under `#![forbid(unsafe_code)]`.
//!     ::wasp_sdk::__private::bindings::export!(
//!         __WaspPlugin with_types_in ::wasp_sdk::__private::bindings
//!     );
//! };
//! # fn main() { assert_eq!(upper("a".into()), "A"); assert!(shout(String::new()).is_err()); }
//! ```
//!
//! # The `wasp-sdk` custom section
//!
//! Nothing in the plugin's source produces it: the SDK itself holds a static of the
//! SDK's version bytes placed in a custom section named `wasp-sdk`, so every plugin
//! linked with the SDK carries it (e.g. `0.3.0`). Plugin code never touches it; the
//! `#[unsafe(link_section)]` and its `// SAFETY:` comment live in the SDK's only
//! module that allows `unsafe`. `wasp inspect` and `wasp_host::Plugin::sdk_version`
//! read it without instantiating the plugin; a plugin built with wasp-sdk 0.1 or
//! without the SDK has none.
//!
//! # The panic hook
//!
//! Installed by the first `info`, `init` or `call`, it replaces Rust's default hook
//! (which would print to stderr) with one that calls the host's `log` at level error
//! with the text
//!
//! ```text
//! panicked at src/lib.rs:12:5: the message
//! ```
//!
//! and the fields `wasp.panic = "the message"` and `wasp.panic.location =
//! "src/lib.rs:12:5"`: the host reads the panic from the fields, as data, never from
//! the text. Plugins are built with `panic = "abort"` (wasm32-wasip1 cannot unwind
//! anyway), so the instance then traps; the host reports the fault `panic` with that
//! message and location and never reuses the instance.
