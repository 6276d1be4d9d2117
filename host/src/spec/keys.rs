//! Public keys an operator trusts to sign plugins: OpenSSH Ed25519 keys, as
//! `ssh-keygen -t ed25519` writes them (`KEY.pub`).

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::ParseError;

/// An Ed25519 public key that may sign plugins, read from the one line of an
/// OpenSSH `.pub` file (`ssh-ed25519 AAAA… comment`).
///
/// Its [fingerprint](TrustedKey::fingerprint) is the one `ssh-keygen -lf KEY.pub`
/// prints, so an operator can match a key named in an error to a file.
///
/// ```
/// let key = wasp_host::TrustedKey::from_openssh(
///     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKRXupHbPvkYSjqBIpBtwxB1ljR98GtYV9K3NF2GjOtd acme",
/// )?;
/// assert_eq!(key.fingerprint(), "SHA256:ARiiBehFlLO9WQAQvfUiUhRR1qMLAR5xzjcZVxjjbeo");
/// assert_eq!(key.comment(), "acme");
/// # Ok::<(), wasp_host::ParseError>(())
/// ```
/// Two keys are equal when their key bytes are: the comment is not part of a
/// key's identity.
#[derive(Clone)]
pub struct TrustedKey {
    key: [u8; 32],
    fingerprint: [u8; 32],
    comment: String,
}

const KEY_TYPE: &str = "ssh-ed25519";
const EXPECTED: &str = "an OpenSSH Ed25519 public key line, `ssh-ed25519 AAAA… comment` (what `ssh-keygen -t ed25519` writes to KEY.pub)";

impl TrustedKey {
    /// Parses the text of an OpenSSH public key file: the first `ssh-ed25519`
    /// line (blank lines and `#` comments are skipped).
    ///
    /// # Errors
    /// A [`ParseError`] (`what() == "public key"`) for another key type, a private
    /// key, or a line that does not decode.
    pub fn from_openssh(text: &str) -> Result<Self, ParseError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let bad = |problem| ParseError::new("public key", short(line), problem, EXPECTED);
        if line.starts_with("-----BEGIN") {
            return Err(bad("this is a private key; give the .pub file"));
        }
        let mut parts = line.split_whitespace();
        let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
            return Err(bad("not a key line"));
        };
        if kind != KEY_TYPE {
            return Err(bad("only ssh-ed25519 keys are supported"));
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad("its key is not base64"))?;
        let key = parse_blob(&blob).ok_or_else(|| bad("its key is not an Ed25519 key blob"))?;
        Ok(TrustedKey {
            key,
            fingerprint: Sha256::digest(&blob).into(),
            comment: parts.collect::<Vec<_>>().join(" "),
        })
    }

    /// A key from its 32 raw Ed25519 bytes (no comment).
    ///
    /// ```
    /// let k = wasp_host::TrustedKey::from_raw([7; 32]);
    /// assert_eq!(k.raw(), &[7; 32]);
    /// assert!(k.fingerprint().starts_with("SHA256:"));
    /// ```
    pub fn from_raw(key: [u8; 32]) -> Self {
        TrustedKey {
            key,
            fingerprint: Sha256::digest(ssh_blob(&key)).into(),
            comment: String::new(),
        }
    }

    /// `SHA256:…`, as `ssh-keygen -lf KEY.pub` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint_text(&self.fingerprint)
    }

    /// The fingerprint's 32 bytes (what signatures made by `wasp sign` carry as
    /// their key id).
    pub fn fingerprint_bytes(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The key's 32 raw bytes.
    pub fn raw(&self) -> &[u8; 32] {
        &self.key
    }

    /// The comment after the key (often `user@host`), or empty.
    pub fn comment(&self) -> &str {
        &self.comment
    }
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for TrustedKey {}

impl std::hash::Hash for TrustedKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({})", self.fingerprint())
    }
}

impl fmt::Display for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint())?;
        if !self.comment.is_empty() {
            write!(f, " ({})", self.comment)?;
        }
        Ok(())
    }
}

/// `SHA256:` and the digest in unpadded base64, as OpenSSH shows fingerprints.
pub(crate) fn fingerprint_text(digest: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The SSH wire form of an Ed25519 public key: string "ssh-ed25519", string key.
pub(crate) fn ssh_blob(key: &[u8; 32]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(51);
    blob.extend_from_slice(&(KEY_TYPE.len() as u32).to_be_bytes());
    blob.extend_from_slice(KEY_TYPE.as_bytes());
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(key);
    blob
}

fn parse_blob(blob: &[u8]) -> Option<[u8; 32]> {
    let (kind, rest) = take_string(blob)?;
    let (key, rest) = take_string(rest)?;
    (kind == KEY_TYPE.as_bytes() && rest.is_empty())
        .then(|| key.try_into().ok())
        .flatten()
}

fn take_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let s = b.get(4..4 + len)?;
    Some((s, &b[4 + len..]))
}

fn short(line: &str) -> &str {
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_ed25519_public_key() {
        for bad in [
            "",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ comment",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "ssh-ed25519 !!!",
            "ssh-ed25519 AAAA",
        ] {
            let e = TrustedKey::from_openssh(bad).unwrap_err();
            assert_eq!(e.what(), "public key", "{bad}");
        }
    }

    #[test]
    fn raw_and_parsed_keys_agree() {
        let k = TrustedKey::from_raw([1; 32]);
        let line = format!(
            "ssh-ed25519 {} me",
            base64::engine::general_purpose::STANDARD.encode(ssh_blob(&[1; 32]))
        );
        let p = TrustedKey::from_openssh(&line).unwrap();
        assert_eq!(p.raw(), k.raw());
        assert_eq!(p.fingerprint(), k.fingerprint());
        assert_eq!(p.comment(), "me");
    }
}
