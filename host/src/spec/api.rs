//! `wasp:plugin` API versions as plain data. Which of them this host supports is
//! decided in `version`, the only module that knows the bindings.

use std::fmt;

/// A `wasp:plugin` API version (the `X.Y.Z` of `wasp:plugin/guest@X.Y.Z`).
///
/// [`ApiVersion::SUPPORTED`] lists the versions this host serves; each has a
/// constant such as [`ApiVersion::V0_2_0`].
///
/// ```
/// use wasp_host::ApiVersion;
/// assert_eq!(ApiVersion::V0_1_0.to_string(), "0.1.0");
/// assert_eq!("0.2.0".parse::<ApiVersion>(), Ok(ApiVersion::V0_2_0));
/// assert!(ApiVersion::SUPPORTED.contains(&ApiVersion::V0_2_0));
/// assert!(ApiVersion::new(9, 9, 0) > ApiVersion::V0_2_0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl ApiVersion {
    /// The version `major.minor.patch` (supported or not).
    ///
    /// ```
    /// assert_eq!(wasp_host::ApiVersion::new(0, 1, 0), wasp_host::ApiVersion::V0_1_0);
    /// ```
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        ApiVersion {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = super::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || super::ParseError::new("API version", s, "", "write X.Y.Z, e.g. 0.2.0");
        let mut parts = s.split('.').map(|p| p.parse::<u32>().map_err(|_| bad()));
        let (Some(a), Some(b), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(ApiVersion::new(a?, b?, c?))
    }
}
