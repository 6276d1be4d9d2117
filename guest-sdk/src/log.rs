//! Writing to the host's log.
//!
//! Each line goes to the host's `log` import, which tags it with the plugin's name and
//! forwards it to the host application's `tracing` subscriber at the matching level.
//! Most code uses the macros [`trace!`](crate::trace), [`debug!`](crate::debug),
//! [`info!`](crate::info), [`warn!`](crate::warn) and [`error!`](crate::error), which
//! take `format!` arguments, optionally after structured fields; [`log()`] and
//! [`log_with`] take a level chosen at run time.
//!
//! # Fields
//!
//! A line may carry `key = value` fields, which the host records as fields of the
//! `tracing` event (so a subscriber can filter or index on them) instead of text in
//! the message. In the macros they come first, separated by commas and ended by `;`:
//!
//! ```no_run
//! let (user, ip) = ("ada", "10.0.0.5");
//! wasp_sdk::info!(user = user, count = 3; "signed in from {ip}");
//! wasp_sdk::info!("signed in from {ip}"); // no fields: as before
//! ```
//!
//! A key is an identifier (keywords work: `type = "click"`); for other keys, such as
//! `user-id`, use [`log_with`]. A value is any expression whose type implements
//! [`Display`](std::fmt::Display) (more exactly [`ToString`]); it is formatted in
//! the plugin and travels as text.
//!
//! ```no_run
//! use wasp_sdk::log::{log, log_with, Level};
//!
//! log(Level::Warn, "disk almost full");
//! log_with(Level::Info, "signed in", &[("user-id", "42"), ("method", "password")]);
//! ```
//!
//! A line is formatted in the plugin even if the host then filters its level out:
//! keep `trace!` out of hot loops.

#[cfg(not(test))]
use crate::bindings::wasp::plugin::host;
use crate::bindings::wasp::plugin::types::LogLevel;

/// The severity of a log line, from least ([`Level::Trace`]) to most
/// ([`Level::Error`]) severe.
///
/// ```
/// use wasp_sdk::log::Level;
/// assert!(Level::Trace < Level::Error);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed steps, usually off.
    Trace,
    /// Details for whoever debugs the plugin.
    Debug,
    /// Normal events worth recording.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Writes `message` to the host's log at `level`, without fields.
///
/// ```no_run
/// use wasp_sdk::log::{log, Level};
/// let level = if cfg!(debug_assertions) { Level::Debug } else { Level::Info };
/// log(level, "starting");
/// ```
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn log(level: Level, message: &str) {
    send(level, message, Vec::new());
}

/// Writes `message` to the host's log at `level`, with `(key, value)` fields that the
/// host records as fields of the log event, in this order.
///
/// The macros ([`info!`](crate::info) and the others) call this when given fields;
/// call it yourself for keys that are not Rust identifiers or fields built at run time.
///
/// ```no_run
/// use wasp_sdk::log::{log_with, Level};
///
/// let bytes = 512.to_string();
/// log_with(Level::Debug, "read the input", &[("input-bytes", &bytes), ("codec", "json")]);
/// ```
///
/// # Panics
/// Outside a wasm plugin (natively, e.g. in unit tests), because there is no host.
pub fn log_with(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields = fields
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect();
    send(level, message, fields);
}

/// Calls the host's `log` import (which takes the fields as owned pairs).
#[cfg(not(test))]
fn send(level: Level, message: &str, fields: Vec<(String, String)>) {
    host::log(level.into(), message, &fields);
}

/// In this crate's unit tests there is no host: lines are recorded for the tests.
#[cfg(test)]
fn send(level: Level, message: &str, fields: Vec<(String, String)>) {
    tests::SENT.with(|sent| sent.borrow_mut().push((level, message.to_string(), fields)));
}

/// The field name for the macro key `key`: its text without a raw identifier's `r#`.
/// Used by the log macros; not a public API.
#[doc(hidden)]
pub fn __field_key(key: &'static str) -> &'static str {
    key.strip_prefix("r#").unwrap_or(key)
}

/// What the level macros expand to: with fields, [`log_with`]; without, [`log()`].
/// Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($level:expr; $($key:ident = $value:expr),+ $(,)? ; $($arg:tt)+) => {
        $crate::log::log_with(
            $level,
            &::std::format!($($arg)+),
            &[$((
                $crate::log::__field_key(::core::stringify!($key)),
                &*::std::string::ToString::to_string(&$value),
            )),+],
        )
    };
    ($level:expr; $($arg:tt)+) => {
        $crate::log::log($level, &::std::format!($($arg)+))
    };
}

/// Logs a `format!` message at level trace, optionally with fields first
/// (`key = value, …;`, see [the module docs](crate::log#fields)).
///
/// ```no_run
/// let step = 3;
/// wasp_sdk::trace!("step {step}");
/// wasp_sdk::trace!(step = step; "step done");
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::__log!($crate::log::Level::Trace; $($arg)+)
    };
}

/// Logs a `format!` message at level debug, optionally with fields first
/// (`key = value, …;`, see [the module docs](crate::log#fields)).
///
/// ```no_run
/// let input = "abc";
/// wasp_sdk::debug!("input has {} bytes", input.len());
/// wasp_sdk::debug!(bytes = input.len(); "got input");
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::__log!($crate::log::Level::Debug; $($arg)+)
    };
}

/// Logs a `format!` message at level info, optionally with fields first
/// (`key = value, …;`, see [the module docs](crate::log#fields)).
///
/// ```no_run
/// let (name, ip) = ("ada", "10.0.0.5");
/// wasp_sdk::info!("ready");
/// wasp_sdk::info!(user = name, count = 3; "signed in from {}", ip);
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::__log!($crate::log::Level::Info; $($arg)+)
    };
}

/// Logs a `format!` message at level warn, optionally with fields first
/// (`key = value, …;`, see [the module docs](crate::log#fields)).
///
/// ```no_run
/// let field = "message";
/// wasp_sdk::warn!("event has no string field `{field}`");
/// wasp_sdk::warn!(field = field; "event skipped");
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::__log!($crate::log::Level::Warn; $($arg)+)
    };
}

/// Logs a `format!` message at level error, optionally with fields first
/// (`key = value, …;`, see [the module docs](crate::log#fields)).
///
/// ```no_run
/// let e = "timeout";
/// wasp_sdk::error!("lookup failed: {e}");
/// wasp_sdk::error!(cause = e, attempt = 2; "lookup failed");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::__log!($crate::log::Level::Error; $($arg)+)
    };
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A line as the host would receive it.
    type Line = (Level, String, Vec<(String, String)>);

    thread_local! {
        /// What `send` got on this thread (each test runs on its own thread).
        pub(crate) static SENT: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    }

    /// The lines sent so far on this thread, forgetting them.
    pub(crate) fn take() -> Vec<Line> {
        SENT.with(|sent| sent.take())
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn levels_map_one_to_one() {
        let pairs = [
            (Level::Trace, LogLevel::Trace),
            (Level::Debug, LogLevel::Debug),
            (Level::Info, LogLevel::Info),
            (Level::Warn, LogLevel::Warn),
            (Level::Error, LogLevel::Error),
        ];
        for (level, wit) in pairs {
            assert_eq!(LogLevel::from(level) as u8, wit as u8);
        }
    }

    #[test]
    fn plain_macros_send_no_fields() {
        let (name, n) = ("ada", 3);
        crate::trace!("t");
        crate::debug!("d {n}");
        crate::info!("hello, {}", name);
        crate::warn!("w {name:>5}");
        crate::error!("e {0} {0}", n);
        assert_eq!(
            take(),
            [
                (Level::Trace, "t".to_string(), vec![]),
                (Level::Debug, "d 3".to_string(), vec![]),
                (Level::Info, "hello, ada".to_string(), vec![]),
                (Level::Warn, "w   ada".to_string(), vec![]),
                (Level::Error, "e 3 3".to_string(), vec![]),
            ]
        );
    }

    #[test]
    fn fields_come_before_the_semicolon_in_order() {
        let name = String::from("ada");
        let ip = "10.0.0.5";
        crate::info!(user = name, count = 3; "signed in from {}", ip);
        // Values are borrowed, not moved: `name` is still usable.
        crate::warn!(user = name, ok = false, ratio = 0.5,; "done");
        crate::error!(r#type = "click", loop = 'x'; "keys may be keywords");
        assert_eq!(
            take(),
            [
                (
                    Level::Info,
                    "signed in from 10.0.0.5".to_string(),
                    fields(&[("user", "ada"), ("count", "3")]),
                ),
                (
                    Level::Warn,
                    "done".to_string(),
                    fields(&[("user", "ada"), ("ok", "false"), ("ratio", "0.5")]),
                ),
                (
                    Level::Error,
                    "keys may be keywords".to_string(),
                    fields(&[("type", "click"), ("loop", "x")]),
                ),
            ]
        );
    }

    #[test]
    fn field_values_use_display() {
        struct Celsius(f32);
        impl std::fmt::Display for Celsius {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}°C", self.0)
            }
        }
        let t = Celsius(21.5);
        crate::debug!(temperature = t, doubled = t.0 * 2.0; "measured");
        crate::trace!(n = 1 + 2; "no format arguments {}", "but these");
        assert_eq!(
            take(),
            [
                (
                    Level::Debug,
                    "measured".to_string(),
                    fields(&[("temperature", "21.5°C"), ("doubled", "43")]),
                ),
                (
                    Level::Trace,
                    "no format arguments but these".to_string(),
                    fields(&[("n", "3")]),
                ),
            ]
        );
    }

    #[test]
    fn log_and_log_with() {
        log(Level::Info, "plain");
        log_with(Level::Warn, "with", &[("user-id", "42"), ("a", "")]);
        log_with(Level::Error, "none", &[]);
        assert_eq!(
            take(),
            [
                (Level::Info, "plain".to_string(), vec![]),
                (
                    Level::Warn,
                    "with".to_string(),
                    fields(&[("user-id", "42"), ("a", "")]),
                ),
                (Level::Error, "none".to_string(), vec![]),
            ]
        );
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        assert_eq!(__field_key("r#type"), "type");
        assert_eq!(__field_key("user"), "user");
    }
}
