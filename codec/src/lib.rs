//! How values cross the wasp plugin boundary.
//!
//! A plugin's `call` takes and returns bytes. This crate says how typed values become
//! those bytes, and it is shared by the host (`wasp-host`) and the guest SDK
//! (`wasp-sdk`) so both sides always agree:
//!
//! | Rust type | bytes on the wire |
//! |---|---|
//! | `Vec<u8>`, `&[u8]` | as they are |
//! | `String`, `&str` | UTF-8, as they are (decoding checks UTF-8) |
//! | `()` | empty (decoding accepts anything and ignores it) |
//! | [`Json<T>`] | `serde_json` |
//! | [`Bincode<T>`] | `bincode` 1.x, default options |
//!
//! Encodings are explicit wrappers, never guessed from the type: a `String` is
//! always raw UTF-8, and a serde type says which format it travels in.
//!
//! ```
//! use wasp_codec::{FromBytes, IntoBytes, Json};
//! use std::collections::BTreeMap;
//!
//! let bytes = Json(BTreeMap::from([("n", 1)])).into_bytes()?;
//! assert_eq!(bytes, br#"{"n":1}"#);
//! let Json(back): Json<BTreeMap<String, i32>> = Json::from_bytes(bytes)?;
//! assert_eq!(back["n"], 1);
//! # Ok::<(), wasp_codec::CodecError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// A value could not be encoded to, or decoded from, bytes.
///
/// ```
/// use wasp_codec::FromBytes;
/// let err = String::from_bytes(vec![0xff]).unwrap_err();
/// assert!(err.to_string().contains("UTF-8"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    format: &'static str,
    message: String,
}

impl CodecError {
    /// Makes an error for `format` (`"json"`, `"bincode"`, `"utf-8"`).
    ///
    /// ```
    /// let e = wasp_codec::CodecError::new("json", "expected value");
    /// assert_eq!(e.format(), "json");
    /// ```
    pub fn new(format: &'static str, message: impl Into<String>) -> Self {
        Self {
            format,
            message: message.into(),
        }
    }

    /// The format that failed: `"json"`, `"bincode"` or `"utf-8"`.
    ///
    /// ```
    /// let e = wasp_codec::CodecError::new("bincode", "eof");
    /// assert_eq!(e.format(), "bincode");
    /// ```
    pub fn format(&self) -> &'static str {
        self.format
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            "utf-8" => write!(f, "not valid UTF-8: {}", self.message),
            other => write!(f, "invalid {other}: {}", self.message),
        }
    }
}

impl std::error::Error for CodecError {}

/// A value that can be turned into the bytes of a call's input or output.
///
/// ```
/// use wasp_codec::IntoBytes;
/// assert_eq!("hi".into_bytes()?, b"hi");
/// # Ok::<(), wasp_codec::CodecError>(())
/// ```
pub trait IntoBytes {
    /// Encodes `self`.
    ///
    /// # Errors
    /// When serde serialisation fails (e.g. a map with non-string keys as JSON).
    fn into_bytes(self) -> Result<Vec<u8>, CodecError>;
}

/// A value that can be read back from the bytes of a call's input or output.
///
/// ```
/// use wasp_codec::FromBytes;
/// assert_eq!(String::from_bytes(b"hi".to_vec())?, "hi");
/// # Ok::<(), wasp_codec::CodecError>(())
/// ```
pub trait FromBytes: Sized {
    /// Decodes a value.
    ///
    /// # Errors
    /// When the bytes are not a valid encoding of `Self`.
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError>;
}

impl IntoBytes for Vec<u8> {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self)
    }
}
impl IntoBytes for &Vec<u8> {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.clone())
    }
}
impl IntoBytes for &[u8] {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.to_vec())
    }
}
impl<const N: usize> IntoBytes for &[u8; N] {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.to_vec())
    }
}
impl IntoBytes for String {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.into_bytes())
    }
}
impl IntoBytes for &String {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.as_bytes().to_vec())
    }
}
impl IntoBytes for &str {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.as_bytes().to_vec())
    }
}
impl IntoBytes for () {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(Vec::new())
    }
}

impl FromBytes for Vec<u8> {
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        Ok(bytes)
    }
}
impl FromBytes for String {
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        String::from_utf8(bytes).map_err(|e| CodecError::new("utf-8", e.utf8_error().to_string()))
    }
}
impl FromBytes for () {
    fn from_bytes(_: Vec<u8>) -> Result<Self, CodecError> {
        Ok(())
    }
}

/// A serde value that travels as JSON.
///
/// ```
/// use wasp_codec::{IntoBytes, Json};
/// assert_eq!(Json(vec![1, 2]).into_bytes()?, b"[1,2]");
/// # Ok::<(), wasp_codec::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoBytes for Json<T> {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(&self.0).map_err(|e| CodecError::new("json", e.to_string()))
    }
}
impl<T: DeserializeOwned> FromBytes for Json<T> {
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| CodecError::new("json", e.to_string()))
    }
}

/// A serde value that travels as bincode (1.x, default options): compact and fast,
/// for plugins and hosts that are both Rust.
///
/// ```
/// use wasp_codec::{Bincode, FromBytes, IntoBytes};
/// let bytes = Bincode((1u8, "a".to_string())).into_bytes()?;
/// let Bincode(back): Bincode<(u8, String)> = Bincode::from_bytes(bytes)?;
/// assert_eq!(back, (1, "a".to_string()));
/// # Ok::<(), wasp_codec::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bincode<T>(pub T);

/// Decoding never allocates more than this for one value, whatever a length prefix
/// in the bytes claims, so hostile input cannot make the decoder exhaust memory.
const BINCODE_LIMIT: u64 = 1 << 30;

impl<T: Serialize> IntoBytes for Bincode<T> {
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        bincode::serialize(&self.0).map_err(|e| CodecError::new("bincode", e.to_string()))
    }
}
impl<T: DeserializeOwned> FromBytes for Bincode<T> {
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        use bincode::Options;
        // `bincode::deserialize` uses these same options (fixint, little endian,
        // trailing bytes allowed) plus an explicit allocation limit.
        bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .allow_trailing_bytes()
            .with_limit(BINCODE_LIMIT.min(bytes.len() as u64 * 8 + 1024))
            .deserialize(&bytes)
            .map(Bincode)
            .map_err(|e| CodecError::new("bincode", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_types_pass_unchanged() {
        assert_eq!(vec![0u8, 255].into_bytes().unwrap(), vec![0, 255]);
        assert_eq!(
            IntoBytes::into_bytes(String::from("é")).unwrap(),
            "é".as_bytes()
        );
        assert_eq!(().into_bytes().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let e = String::from_bytes(vec![b'a', 0xc3]).unwrap_err();
        assert_eq!(e.format(), "utf-8");
    }

    #[test]
    fn bincode_rejects_hostile_length_prefix() {
        // A Vec<u8> claiming 2^60 elements in 8 bytes of input.
        let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
        bytes.push(1);
        let e = Bincode::<Vec<u8>>::from_bytes(bytes).unwrap_err();
        assert_eq!(e.format(), "bincode");
    }

    #[test]
    fn json_round_trip_and_error() {
        let b = Json(("a", 1)).into_bytes().unwrap();
        let Json(v): Json<(String, i32)> = Json::from_bytes(b).unwrap();
        assert_eq!(v, ("a".into(), 1));
        assert!(Json::<u32>::from_bytes(b"nope".to_vec()).is_err());
    }
}
