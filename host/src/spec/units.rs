//! Sizes (`64MiB`) and durations (`500ms`) as operators write them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

use super::ParseError;

/// A size in bytes, written as an integer (bytes) or a string with a binary unit:
/// `"512B"`, `"64KiB"`, `"64MiB"`, `"1GiB"`.
///
/// ```
/// use wasp_host::Size;
/// assert_eq!("64MiB".parse::<Size>()?.bytes(), 64 << 20);
/// assert!("64MB".parse::<Size>().is_err());
/// # Ok::<(), wasp_host::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(wasp_host::Size(3).bytes(), 3);
    /// ```
    pub fn bytes(self) -> u64 {
        self.0
    }
}

const SIZE_EXPECTED: &str = "write a whole number with a unit B, KiB, MiB or GiB, e.g. \"64MiB\"";
const DURATION_EXPECTED: &str = "write a whole number with a unit ms, s or m, e.g. \"500ms\"";

/// Splits `"64 MiB"` into `(64, "MiB")`; `_` separates digits.
fn number_and_unit(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n = num.replace('_', "").parse().ok()?;
    Some((n, unit.trim()))
}

impl std::str::FromStr for Size {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("size", s, "", SIZE_EXPECTED);
        let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
        let mult: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| ParseError::new("size", s, "too large", SIZE_EXPECTED))
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"64MiB\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Size {
    /// The way the manifest writes it (`64MiB`, `1500B`).
    ///
    /// ```
    /// assert_eq!(wasp_host::Size(64 << 20).to_string(), "64MiB");
    /// assert_eq!(wasp_host::Size(1500).to_string(), "1500B");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", bytes >> shift);
            }
        }
        write!(f, "{bytes}B")
    }
}

/// A duration written as a string with a unit: `"250ms"`, `"2s"`, `"1m"`
/// (`"0ms"` is a valid duration; keys that need more than zero say so).
///
/// ```
/// use std::time::Duration;
/// use wasp_host::Dur;
/// assert_eq!("500ms".parse::<Dur>()?.0, Duration::from_millis(500));
/// assert!("5".parse::<Dur>().is_err());
/// # Ok::<(), wasp_host::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl std::str::FromStr for Dur {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("duration", s, "", DURATION_EXPECTED);
        let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        Ok(Dur(d))
    }
}

impl<'de> serde::Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"500ms\", \"2s\" or \"1m\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "invalid duration {v}: give a unit, e.g. \"{v}ms\" or \"{v}s\""
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Dur {
    /// The way the manifest writes it (`500ms`, `2s`).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(wasp_host::Dur(Duration::from_millis(2000)).to_string(), "2s");
    /// assert_eq!(wasp_host::Dur(Duration::from_millis(250)).to_string(), "250ms");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let ms = d.as_millis();
        if ms >= 1000 && ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else if ms > 0 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}µs", d.as_micros())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("1KiB".parse::<Size>().unwrap().0, 1024);
        assert_eq!("1_024".parse::<Size>().unwrap().0, 1024);
        assert_eq!(" 2 GiB ".parse::<Size>().unwrap().0, 2 << 30);
        for bad in [
            "",
            "MiB",
            "1.5MiB",
            "-1MiB",
            "64mb",
            "64MB",
            "1TiB",
            "99999999999999GiB",
        ] {
            assert!(bad.parse::<Size>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!("1m".parse::<Dur>().unwrap().0, Duration::from_secs(60));
        assert_eq!("2s".parse::<Dur>().unwrap().0, Duration::from_secs(2));
        assert_eq!("0ms".parse::<Dur>().unwrap().0, Duration::ZERO);
        for bad in ["", "5", "1h", "1.5s", "-1s", "s"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for s in ["64MiB", "1GiB", "3KiB", "1000B"] {
            assert_eq!(s.parse::<Size>().unwrap().to_string(), s);
        }
        for s in ["2s", "250ms"] {
            assert_eq!(s.parse::<Dur>().unwrap().to_string(), s);
        }
    }
}
