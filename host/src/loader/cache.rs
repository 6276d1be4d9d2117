//! The on-disk cache of compiled plugins: the crate's only `unsafe`, because
//! wasmtime's `Component::deserialize` trusts its input to be machine code that
//! wasmtime itself produced.
//!
//! An entry is keyed by the SHA-256 of the plugin file and of the engine's
//! compatibility hash (wasmtime version and every setting that affects code), so
//! another file, another wasmtime or another configuration never hits it. An entry
//! holds what loading learned (the component's imports, exports, SDK version,
//! whether it was adapted) and the serialized component, and ends with a SHA-256
//! of all of it: a truncated or corrupted entry is ignored and rebuilt, never
//! deserialized.
//!
//! Trust: entries are written only by this module, into a directory it creates
//! with mode 0700; a cache directory that other users may write to is refused.
//! Whoever can write there as our own user can also replace the host's binary, so
//! the cache is exactly as trusted as the host.
#![allow(unsafe_code)]

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::CacheProblem;
use crate::version::ComponentShape;

const MAGIC: &[u8; 10] = b"WASPCACHE\x01";

/// What a cache entry remembers besides the code.
pub(crate) struct Cached {
    pub(crate) component: Component,
    pub(crate) shape: ComponentShape,
    pub(crate) adapted: bool,
}

/// A directory of compiled plugins for one engine configuration.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    engine_key: [u8; 32],
}

/// Feeds `Hash` output into SHA-256 (stable, unlike `DefaultHasher`).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl Cache {
    /// Opens (creating) `dir` for `engine`.
    pub(crate) fn new(dir: &Path, engine: &Engine) -> Result<Self, CacheProblem> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir)?;
            if meta.permissions().mode() & 0o022 != 0 {
                // Our own fresh directory: tighten it. An existing one that others
                // may write to is not ours to trust.
                let mut perms = meta.permissions();
                perms.set_mode(0o700);
                std::fs::set_permissions(dir, perms).map_err(|_| CacheProblem::NotPrivate)?;
            }
        }
        let mut h = ShaHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
        h.0.update(b"wasp-cache-v1");
        Ok(Cache {
            dir: dir.to_path_buf(),
            engine_key: h.0.finalize().into(),
        })
    }

    fn path(&self, file_sha: &[u8; 32]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.engine_key);
        h.update(file_sha);
        self.dir
            .join(format!("{}.cwasm", hex::encode(h.finalize())))
    }

    /// The compiled component for the file with this SHA-256, if a valid entry
    /// exists. Any problem with the entry is a miss (and is logged).
    pub(crate) fn get(&self, engine: &Engine, file_sha: &[u8; 32]) -> Option<Cached> {
        let path = self.path(file_sha);
        let bytes = std::fs::read(&path).ok()?;
        match decode(&bytes) {
            Some((shape, adapted, artifact)) => {
                // SAFETY: `artifact` is exactly what `Component::serialize` wrote
                // into this entry: the magic and the SHA-256 over the whole entry
                // match, the entry lives in a directory only our user can write
                // (checked in `new`), and its name binds it to this engine's
                // compatibility hash. wasmtime additionally checks its version and
                // configuration header and returns an error (a miss) on mismatch.
                match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(component) => Some(Cached {
                        component,
                        shape,
                        adapted,
                    }),
                    Err(e) => {
                        tracing::warn!(target: "wasp::cache", path = %path.display(), "ignoring a cache entry wasmtime refused: {e}");
                        None
                    }
                }
            }
            None => {
                tracing::warn!(target: "wasp::cache", path = %path.display(), "ignoring a corrupted cache entry; it will be rebuilt");
                None
            }
        }
    }

    /// Stores a compiled component (best effort: failures are logged).
    pub(crate) fn put(
        &self,
        file_sha: &[u8; 32],
        component: &Component,
        shape: &ComponentShape,
        adapted: bool,
    ) {
        let artifact = match component.serialize() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(target: "wasp::cache", "cannot serialize a compiled plugin: {e}");
                return;
            }
        };
        let entry = encode(shape, adapted, &artifact);
        let path = self.path(file_sha);
        // Write to a temporary file, then rename: readers never see half an entry.
        let result = tempfile::NamedTempFile::new_in(&self.dir).and_then(|mut f| {
            f.write_all(&entry)?;
            f.persist(&path).map_err(|e| e.error)?;
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(target: "wasp::cache", path = %path.display(), "cannot write a cache entry: {e}");
        }
    }
}

fn encode(shape: &ComponentShape, adapted: bool, artifact: &[u8]) -> Vec<u8> {
    let mut meta = String::new();
    meta.push_str(if adapted { "a 1\n" } else { "a 0\n" });
    for i in &shape.imports {
        meta.push_str(&format!("i {i}\n"));
    }
    for e in &shape.exports {
        meta.push_str(&format!("e {e}\n"));
    }
    if let Some(s) = &shape.sdk_version {
        meta.push_str(&format!("s {s}\n"));
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + meta.len() + artifact.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(meta.as_bytes());
    out.extend_from_slice(artifact);
    let sum: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&sum);
    out
}

fn decode(bytes: &[u8]) -> Option<(ComponentShape, bool, &[u8])> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let rest = body.strip_prefix(MAGIC.as_slice())?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let meta = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
    let artifact = rest.get(4 + len..)?;
    let mut shape = ComponentShape::default();
    let mut adapted = false;
    for line in meta.lines() {
        match line.split_once(' ')? {
            ("a", v) => adapted = v == "1",
            ("i", v) => shape.imports.push(v.to_string()),
            ("e", v) => shape.exports.push(v.to_string()),
            ("s", v) => shape.sdk_version = Some(v.to_string()),
            _ => return None,
        }
    }
    Some((shape, adapted, artifact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_corruption_is_a_miss() {
        let shape = ComponentShape {
            imports: vec!["wasi:cli/stdout@0.2.6".into()],
            exports: vec!["wasp:plugin/guest@0.2.0".into()],
            sdk_version: Some("0.2.0".into()),
        };
        let entry = encode(&shape, true, b"code");
        let (s, adapted, artifact) = decode(&entry).unwrap();
        assert_eq!((s, adapted, artifact), (shape, true, &b"code"[..]));
        for i in [0, 5, 12, entry.len() / 2, entry.len() - 1] {
            let mut bad = entry.clone();
            bad[i] ^= 1;
            assert!(decode(&bad).is_none(), "flip at {i}");
        }
        assert!(decode(&entry[..entry.len() - 1]).is_none());
        assert!(decode(b"").is_none());
    }
}
