//! Plain data that every layer shares: units, limits, grants, plugin and call
//! options, API versions and plugin info.
//!
//! Nothing here depends on another module of this crate, does I/O or touches
//! wasmtime: a value of these types is what an operator or an embedder *asks for*.
//! Checking it against the world (files exist, host functions are registered) is
//! the loader's and the capability layer's job.

pub(crate) mod api;
pub(crate) mod grants;
pub(crate) mod info;
pub(crate) mod keys;
pub(crate) mod limits;
pub(crate) mod options;
pub(crate) mod pipeline;
pub(crate) mod units;

use std::fmt;

/// A value written by an operator or embedder that could not be parsed: what it
/// was meant to be, the text, and what is expected instead.
///
/// ```
/// let err = "64MB".parse::<wasp_host::Size>().unwrap_err();
/// assert_eq!(err.what(), "size");
/// assert!(err.to_string().contains("KiB"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    what: &'static str,
    input: String,
    problem: &'static str,
    expected: &'static str,
}

impl ParseError {
    pub(crate) fn new(
        what: &'static str,
        input: &str,
        problem: &'static str,
        expected: &'static str,
    ) -> Self {
        ParseError {
            what,
            input: input.to_string(),
            problem,
            expected,
        }
    }

    /// What the text was meant to be: `size`, `duration`, `address`, `mode`.
    ///
    /// ```
    /// let err = "ro-ish".parse::<wasp_host::FileMode>().unwrap_err();
    /// assert_eq!(err.what(), "mode");
    /// ```
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The text as written.
    ///
    /// ```
    /// let err = "5".parse::<wasp_host::Dur>().unwrap_err();
    /// assert_eq!(err.input(), "5");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} `{}`: ", self.what, self.input)?;
        if !self.problem.is_empty() {
            write!(f, "{}; ", self.problem)?;
        }
        f.write_str(self.expected)
    }
}

impl std::error::Error for ParseError {}
