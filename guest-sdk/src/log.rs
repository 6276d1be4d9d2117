//! Writing to the host's log.
//!
//! Each line goes to the host's `log` import, which tags it with the plugin's name and
//! forwards it to the host application's `tracing` subscriber at the matching level.
//! Most code uses the macros [`trace!`](crate::trace), [`debug!`](crate::debug),
//! [`info!`](crate::info), [`warn!`](crate::warn) and [`error!`](crate::error), which
//! take `format!` arguments; [`log()`] takes a level chosen at run time.
//!
//! ```no_run
//! use wasp_sdk::log::{log, Level};
//!
//! let user = "ada";
//! wasp_sdk::info!("hello, {user}");
//! log(Level::Warn, "disk almost full");
//! ```
//!
//! A line is formatted in the plugin even if the host then filters its level out:
//! keep `trace!` out of hot loops.

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

/// Writes `message` to the host's log at `level`.
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
    host::log(level.into(), message);
}

/// Logs a `format!` message at level trace.
///
/// ```no_run
/// let step = 3;
/// wasp_sdk::trace!("step {step}");
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Logs a `format!` message at level debug.
///
/// ```no_run
/// let input = "abc";
/// wasp_sdk::debug!("input has {} bytes", input.len());
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs a `format!` message at level info.
///
/// ```no_run
/// wasp_sdk::info!("ready");
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs a `format!` message at level warn.
///
/// ```no_run
/// let field = "message";
/// wasp_sdk::warn!("event has no string field `{field}`");
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs a `format!` message at level error.
///
/// ```no_run
/// let e = "timeout";
/// wasp_sdk::error!("lookup failed: {e}");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
