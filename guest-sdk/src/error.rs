//! [`Error`]: what a plugin function returns when it fails on purpose.

use std::fmt;

/// An error that a plugin function returns on purpose; the host receives it as the
/// WIT `plugin-error` record.
///
/// `code` is a short machine-readable word (`bad-input`, `not-found`); `message` is for
/// people. The SDK itself uses these codes:
///
/// | code | when |
/// |---|---|
/// | `bad-input` | the input bytes could not be decoded into the function's argument type |
/// | `bad-output` | the function's result could not be encoded |
/// | `unknown-function` | `call` named a function that the plugin does not export |
/// | `error` | any [`std::error::Error`] turned into an `Error` by `?` |
///
/// Like `anyhow::Error`, `Error` converts from every [`std::error::Error`] (code `error`,
/// message its `Display` text), so `?` works on I/O, parse and codec errors alike. For
/// that reason `Error` does not implement [`std::error::Error`] itself.
///
/// ```
/// use wasp_sdk::Error;
///
/// fn parse(input: &str) -> Result<u32, Error> {
///     if input.is_empty() {
///         return Err(Error::new("empty", "no number given"));
///     }
///     Ok(input.trim().parse::<u32>()?) // a ParseIntError becomes code "error"
/// }
///
/// assert_eq!(parse("").unwrap_err().code(), "empty");
/// let e = parse("x").unwrap_err();
/// assert_eq!((e.code(), e.message()), ("error", "invalid digit found in string"));
/// assert_eq!(parse(" 7 ").ok(), Some(7));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Error {
    code: String,
    message: String,
}

impl Error {
    /// Makes an error with a machine-readable `code` and a `message` for people.
    ///
    /// ```
    /// let e = wasp_sdk::Error::new("not-found", "no user 42");
    /// assert_eq!(e.to_string(), "not-found: no user 42");
    /// ```
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The machine-readable code, e.g. `bad-input`.
    ///
    /// ```
    /// assert_eq!(wasp_sdk::Error::new("bad-input", "x").code(), "bad-input");
    /// ```
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    ///
    /// ```
    /// assert_eq!(wasp_sdk::Error::new("bad-input", "no JSON").message(), "no JSON");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `code: message`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}

/// Any standard error becomes code `error` with its `Display` text as the message.
impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        Self::new("error", error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_converts_std_errors() {
        fn read() -> Result<(), Error> {
            std::fs::read("/definitely/not/here")?;
            Ok(())
        }
        let e = read().unwrap_err();
        assert_eq!(e.code(), "error");
        assert!(!e.message().is_empty());
    }

    #[test]
    fn codec_errors_convert_too() {
        let e: Error = wasp_codec::CodecError::new("json", "eof").into();
        assert_eq!(e.code(), "error");
        assert_eq!(e.message(), "invalid json: eof");
    }

    #[test]
    fn display_and_debug() {
        let e = Error::new("c", "m");
        assert_eq!(e.to_string(), "c: m");
        assert_eq!(format!("{e:?}"), r#"Error { code: "c", message: "m" }"#);
    }
}
