//! Signed plugins: [wasmsign2], the WebAssembly signatures proposal's
//! implementation, with OpenSSH Ed25519 keys.
//!
//! A signature covers every byte of the file after the signature itself: in a
//! custom section named `signature`, first in the file (embedded; the file stays
//! a plugin any host loads), or in `FILE.wasm.sig` beside it (detached). A file
//! may carry signatures of several keys; signing again with another key adds
//! one. Each signature made here carries its key's SHA-256 fingerprint as its key
//! id, so a refusal can name the key that signed (as `ssh-keygen -lf` shows it).
//!
//! ```
//! use wasp_host::signing::{self, SigningKey};
//! let key = SigningKey::generate(); // or SigningKey::from_openssh(&std::fs::read_to_string("KEY")?)
//! let plugin = b"\0asm\x01\0\0\0".to_vec(); // an empty core module
//! let signed = signing::sign_embedded(&plugin, &key)?;
//! let trusted = key.public().clone(); // or TrustedKey::from_openssh(KEY.pub's text)
//! assert_eq!(signing::verify(&signed, None, &[trusted.clone()])?, vec![trusted]);
//! // One byte changed anywhere, and the signature no longer holds.
//! let mut tampered = signed.clone();
//! *tampered.last_mut().unwrap() ^= 1;
//! assert!(signing::verify(&tampered, None, &[key.public().clone()]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Cursor;

use wasmsign2::{
    CustomSection, Module, PublicKey, PublicKeySet, SecretKey, Section, SignatureData, WSError,
};

use crate::error::{SignatureProblem, SigningError};
use crate::spec::keys::{TrustedKey, fingerprint_text};

/// The custom section that holds embedded signatures.
pub const SIGNATURE_SECTION: &str = "signature";

/// Where the detached signature of the plugin at `plugin` lives: `PATH.sig`.
///
/// ```
/// let p = wasp_host::signing::detached_path("plugins/upper.wasm".as_ref());
/// assert_eq!(p, std::path::Path::new("plugins/upper.wasm.sig"));
/// ```
pub fn detached_path(plugin: &std::path::Path) -> std::path::PathBuf {
    let mut p = plugin.as_os_str().to_owned();
    p.push(".sig");
    p.into()
}

/// An Ed25519 secret key that signs plugins, read from an OpenSSH private key
/// file (`KEY`, as `ssh-keygen -t ed25519 -N '' -f KEY` writes it; no passphrase).
#[derive(Clone)]
pub struct SigningKey {
    sk: SecretKey,
    public: TrustedKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public.fingerprint())
    }
}

impl SigningKey {
    /// Parses an OpenSSH private key.
    ///
    /// # Errors
    /// [`SigningError::Key`] for another key type, a passphrase-protected key, or
    /// text that is not a private key.
    pub fn from_openssh(text: &str) -> Result<Self, SigningError> {
        let sk = SecretKey::from_openssh(text).map_err(|e| SigningError::Key {
            problem: match e {
                WSError::UnsupportedKeyType => "it is not an Ed25519 key".into(),
                _ => "it is not an unencrypted OpenSSH private key (`ssh-keygen -t ed25519 -N '' -f KEY` writes one)".into(),
            },
        })?;
        let public =
            TrustedKey::from_raw(sk.sk.public_key().as_ref().try_into().map_err(|_| {
                SigningError::Key {
                    problem: "its public half is not 32 bytes".into(),
                }
            })?);
        Ok(SigningKey { sk, public })
    }

    /// A fresh random key (for tests; operators make theirs with `ssh-keygen`).
    pub fn generate() -> Self {
        let pair = wasmsign2::KeyPair::generate();
        let public = TrustedKey::from_raw(
            pair.pk
                .pk
                .as_ref()
                .try_into()
                .expect("an Ed25519 public key is 32 bytes"),
        );
        SigningKey {
            sk: pair.sk,
            public,
        }
    }

    /// The public half: what a manifest's `signed-by` lists.
    pub fn public(&self) -> &TrustedKey {
        &self.public
    }

    fn key_id(&self) -> Vec<u8> {
        self.public.fingerprint_bytes().to_vec()
    }
}

/// `bytes` with `key`'s signature added to the embedded ones (a first signature
/// puts the `signature` section first in the file).
///
/// # Errors
/// [`SigningError::NotWasm`], or [`SigningError::AlreadySigned`] when `key` has
/// signed these bytes already.
pub fn sign_embedded(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, SigningError> {
    let module = parse(bytes)?;
    let (signed, _) = key
        .sk
        .sign_multi(module, Some(&key.key_id()), false, false)
        .map_err(|e| signing_error(e, key))?;
    let mut out = Vec::with_capacity(bytes.len() + 128);
    signed
        .serialize(&mut out)
        .map_err(|e| SigningError::NotWasm {
            message: e.to_string(),
        })?;
    Ok(out)
}

/// A detached signature of `bytes` by `key`, added to `existing` (the current
/// `FILE.wasm.sig`, if any): what to write to `FILE.wasm.sig`.
///
/// # Errors
/// As [`sign_embedded`], and [`SigningError::HasEmbedded`] for a file that
/// carries embedded signatures (sign it embedded instead).
pub fn sign_detached(
    bytes: &[u8],
    existing: Option<&[u8]>,
    key: &SigningKey,
) -> Result<Vec<u8>, SigningError> {
    let mut module = parse(bytes)?;
    if module.sections.first().is_some_and(is_header) {
        return Err(SigningError::HasEmbedded);
    }
    if let Some(previous) = existing {
        // wasmsign2 adds to the signatures of a header section it finds first.
        module.sections.insert(
            0,
            Section::Custom(CustomSection::new(
                SIGNATURE_SECTION.to_string(),
                previous.to_vec(),
            )),
        );
    }
    let (_, signature) = key
        .sk
        .sign_multi(module, Some(&key.key_id()), true, false)
        .map_err(|e| signing_error(e, key))?;
    Ok(signature)
}

fn signing_error(e: WSError, key: &SigningKey) -> SigningError {
    match e {
        WSError::DuplicateSignature => SigningError::AlreadySigned {
            fingerprint: key.public.fingerprint(),
        },
        other => SigningError::NotWasm {
            message: other.to_string(),
        },
    }
}

/// Who signed a file: for each signature, the key's fingerprint as recorded in
/// it (`None`: the signature names no key), embedded ones first. Not a
/// verification: see [`verify`].
///
/// # Errors
/// [`SignatureProblem::Malformed`] for a file or signature that does not parse.
pub fn signers(
    bytes: &[u8],
    detached: Option<&[u8]>,
) -> Result<Vec<Option<String>>, SignatureProblem> {
    let mut out = vec![];
    for data in signature_data(bytes, detached)?.into_iter().flatten() {
        for set in &data.signed_hashes_set {
            for s in &set.signatures {
                let id = s.key_id.as_deref().map(key_id_text);
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    Ok(out)
}

/// The keys of `keys` that signed exactly `bytes` (an embedded signature, or
/// `detached`, the content of `FILE.wasm.sig`). At least one, or an error that
/// says why none did.
///
/// # Errors
/// [`SignatureProblem`]: `NoTrustedKeys` (an empty list), `Unsigned`,
/// `UnlistedKey` (with the signers' fingerprints), `Tampered` (a listed key's
/// signature does not match these bytes), `Malformed`.
pub fn verify(
    bytes: &[u8],
    detached: Option<&[u8]>,
    keys: &[TrustedKey],
) -> Result<Vec<TrustedKey>, SignatureProblem> {
    if keys.is_empty() {
        return Err(SignatureProblem::NoTrustedKeys);
    }
    let [embedded, detached_data] = signature_data(bytes, detached)?;
    if embedded.is_none() && detached_data.is_none() {
        return Err(SignatureProblem::Unsigned);
    }
    let set = PublicKeySet::new(keys.iter().map(public_key).collect());
    let candidates = [
        embedded.as_ref().map(|_| None),
        detached_data.as_ref().map(|_| detached),
    ];
    for candidate in candidates.into_iter().flatten() {
        match set.verify(&mut Cursor::new(bytes), candidate) {
            Ok(valid) => {
                return Ok(keys
                    .iter()
                    .filter(|k| valid.iter().any(|v| v.pk.as_ref() == k.raw()))
                    .cloned()
                    .collect());
            }
            Err(WSError::VerificationFailed | WSError::NoSignatures) => {}
            Err(e) => {
                return Err(SignatureProblem::Malformed {
                    message: e.to_string(),
                });
            }
        }
    }
    let ids: Vec<Option<Vec<u8>>> = [embedded, detached_data]
        .into_iter()
        .flatten()
        .flat_map(|d| d.signed_hashes_set)
        .flat_map(|s| s.signatures)
        .map(|s| s.key_id)
        .collect();
    if let Some(k) = keys.iter().find(|k| {
        ids.iter()
            .any(|id| id.as_deref() == Some(&k.fingerprint_bytes()[..]))
    }) {
        return Err(SignatureProblem::Tampered {
            fingerprint: k.fingerprint(),
        });
    }
    let mut fingerprints: Vec<String> = ids
        .iter()
        .map(|id| match id {
            Some(id) => key_id_text(id),
            None => "a key it does not name".to_string(),
        })
        .collect();
    fingerprints.dedup();
    Err(SignatureProblem::UnlistedKey { fingerprints })
}

fn public_key(k: &TrustedKey) -> PublicKey {
    let mut raw = vec![0x01]; // wasmsign2's tag for Ed25519
    raw.extend_from_slice(k.raw());
    let mut pk = PublicKey::from_bytes(&raw).expect("any 32 bytes are an Ed25519 public key");
    pk.key_id = Some(k.fingerprint_bytes().to_vec());
    pk
}

/// A key id as text: an OpenSSH fingerprint when it is one, else hex.
fn key_id_text(id: &[u8]) -> String {
    if id.len() == 32 {
        fingerprint_text(id)
    } else {
        format!("key id {}", hex::encode(id))
    }
}

/// The embedded signatures and the detached ones, parsed.
fn signature_data(
    bytes: &[u8],
    detached: Option<&[u8]>,
) -> Result<[Option<SignatureData>; 2], SignatureProblem> {
    check_framing(bytes)?;
    let malformed = |e: WSError| SignatureProblem::Malformed {
        message: e.to_string(),
    };
    let mut cursor = Cursor::new(bytes);
    let stream = Module::init_from_reader(&mut cursor).map_err(malformed)?;
    let first = Module::iterate(stream).map_err(malformed)?.next();
    let embedded = match first {
        Some(Ok(Section::Custom(c))) if c.is_signature_header() => {
            Some(c.signature_data().map_err(malformed)?)
        }
        Some(Err(e)) => return Err(malformed(e)),
        _ => None,
    };
    let detached = detached
        .map(|d| SignatureData::deserialize(d).map_err(malformed))
        .transpose()?;
    Ok([embedded, detached])
}

fn is_header(s: &Section) -> bool {
    matches!(s, Section::Custom(c) if c.is_signature_header())
}

/// Parses a whole file for signing.
fn parse(bytes: &[u8]) -> Result<Module, SigningError> {
    check_framing(bytes).map_err(|e| SigningError::NotWasm {
        message: e.to_string(),
    })?;
    Module::deserialize(&mut Cursor::new(bytes)).map_err(|e| SigningError::NotWasm {
        message: e.to_string(),
    })
}

/// The file's top level is a wasm header and sections that each fit in the
/// file: checked before wasmsign2 allocates a section's stated size.
fn check_framing(bytes: &[u8]) -> Result<(), SignatureProblem> {
    let bad = |message: &str| SignatureProblem::Malformed {
        message: message.to_string(),
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(bad("not a WebAssembly file"));
    }
    let mut at = 8;
    while at < bytes.len() {
        at += 1; // the section id
        let mut size: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = bytes.get(at) else {
                return Err(bad("a section header is cut short"));
            };
            at += 1;
            size |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(bad("a section size is not a valid LEB128 u32"));
            }
        }
        let end = (at as u64).saturating_add(size);
        if end > bytes.len() as u64 {
            return Err(bad("a section is larger than the file"));
        }
        at = end as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_refuses_sections_past_the_end() {
        let mut b = b"\0asm\x01\0\0\0".to_vec();
        assert!(check_framing(&b).is_ok());
        b.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(check_framing(&b).is_err());
        assert!(check_framing(b"\0as").is_err());
    }
}
