//! Signed plugins: a plugin with a trusted key list loads only if a listed key
//! signed exactly its bytes (embedded, or `FILE.wasm.sig`); the compile cache
//! and the shared code never stand in for that check.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasp_host::signing::{self, SigningKey};
use wasp_host::{Error, LoadError, PluginOptions, Runtime, SignatureProblem, TrustedKey};
use wasp_tests::{fixtures, wasm_bytes};

fn problem(e: &Error) -> &SignatureProblem {
    match e.load_error() {
        Some(LoadError::Signature { problem, .. }) => problem,
        _ => panic!("not a signature error: {e}"),
    }
}

fn trust(keys: &[&SigningKey]) -> PluginOptions {
    PluginOptions::default().signed_by(keys.iter().map(|k| k.public().clone()))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

async fn upper(rt: &Runtime, path: &Path, options: PluginOptions) -> wasp_host::Result<String> {
    let p = rt.load_file(path, options).await?;
    p.call("upper", "signed").await
}

#[tokio::test]
async fn embedded_signature_loads_and_unsigned_or_foreign_ones_are_refused() {
    let rt = Runtime::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (acme, other) = (SigningKey::generate(), SigningKey::generate());
    let plain = wasm_bytes(fixtures::UPPER);
    let signed = signing::sign_embedded(&plain, &acme).unwrap();
    // Still a plugin any host loads, with or without a key list.
    let f = write(dir.path(), "upper.wasm", &signed);
    assert_eq!(
        upper(&rt, &f, PluginOptions::default()).await.unwrap(),
        "SIGNED"
    );
    assert_eq!(upper(&rt, &f, trust(&[&acme])).await.unwrap(), "SIGNED");
    assert_eq!(
        upper(&rt, &f, trust(&[&other, &acme])).await.unwrap(),
        "SIGNED"
    );

    let unsigned = write(dir.path(), "plain.wasm", &plain);
    let e = upper(&rt, &unsigned, trust(&[&acme])).await.unwrap_err();
    assert_eq!(problem(&e), &SignatureProblem::Unsigned);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("'plain'") && msg.contains("plain.wasm") && msg.contains("unsigned"),
        "{msg}"
    );

    // Signed, but by a key not on the list: the error names the signer the way
    // `ssh-keygen -lf` does.
    let e = upper(&rt, &f, trust(&[&other])).await.unwrap_err();
    assert_eq!(
        problem(&e),
        &SignatureProblem::UnlistedKey {
            fingerprints: vec![acme.public().fingerprint()]
        }
    );
    assert!(e.to_string().contains(&acme.public().fingerprint()), "{e}");
}

#[tokio::test]
async fn a_second_key_adds_a_signature_and_either_key_verifies() {
    let rt = Runtime::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    let once = signing::sign_embedded(&wasm_bytes(fixtures::UPPER), &a).unwrap();
    let twice = signing::sign_embedded(&once, &b).unwrap();
    let f = write(dir.path(), "upper.wasm", &twice);
    for k in [&a, &b] {
        assert_eq!(upper(&rt, &f, trust(&[k])).await.unwrap(), "SIGNED");
    }
    let mut signers = signing::signers(&twice, None).unwrap();
    signers.sort();
    let mut want = vec![
        Some(a.public().fingerprint()),
        Some(b.public().fingerprint()),
    ];
    want.sort();
    assert_eq!(signers, want);
    // The same key again adds nothing.
    assert!(matches!(
        signing::sign_embedded(&twice, &a),
        Err(wasp_host::SigningError::AlreadySigned { .. })
    ));
}

#[tokio::test]
async fn detached_signatures_beside_the_file_and_components_too() {
    let rt = Runtime::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    // A component this time (the fixtures are core modules the host adapts).
    let component = wasp_host::loader::componentize(&wasm_bytes(fixtures::UPPER)).unwrap();
    let f = write(dir.path(), "upper.wasm", &component);
    let e = upper(&rt, &f, trust(&[&a])).await.unwrap_err();
    assert_eq!(problem(&e), &SignatureProblem::Unsigned);

    let sig = signing::sign_detached(&component, None, &a).unwrap();
    let sig2 = signing::sign_detached(&component, Some(&sig), &b).unwrap();
    write(dir.path(), "upper.wasm.sig", &sig2);
    assert_eq!(
        std::fs::read(&f).unwrap(),
        component,
        "the plugin's bytes are untouched"
    );
    assert_eq!(upper(&rt, &f, trust(&[&a])).await.unwrap(), "SIGNED");
    assert_eq!(upper(&rt, &f, trust(&[&b])).await.unwrap(), "SIGNED");

    // The signature belongs to those bytes: another file beside it is refused.
    let mut other = component.clone();
    let last = other.len() - 1;
    other[last] ^= 0x01;
    std::fs::write(&f, &other).unwrap();
    let e = upper(&rt, &f, trust(&[&a])).await.unwrap_err();
    assert!(
        matches!(
            problem(&e),
            SignatureProblem::Tampered { .. } | SignatureProblem::Malformed { .. }
        ),
        "{e}"
    );
}

#[test]
fn a_one_byte_change_anywhere_is_refused() {
    let key = SigningKey::generate();
    let signed = signing::sign_embedded(&wasm_bytes(fixtures::UPPER), &key).unwrap();
    let keys = [key.public().clone()];
    assert!(signing::verify(&signed, None, &keys).is_ok());
    // Every byte of the header and the signature section, then a spread over
    // the rest of the file (each check hashes the whole file).
    let sig_section_end = 8 + 200;
    let positions: Vec<usize> = (0..sig_section_end.min(signed.len()))
        .chain((sig_section_end..signed.len()).step_by(signed.len() / 500 + 1))
        .chain([signed.len() - 1])
        .collect();
    for i in positions {
        for flip in [0x01u8, 0x80] {
            let mut t = signed.clone();
            t[i] ^= flip;
            assert!(
                signing::verify(&t, None, &keys).is_err(),
                "byte {i} ^ {flip:#x} changed and the signature still held"
            );
        }
    }
}

#[tokio::test]
async fn require_signatures_refuses_a_plugin_without_a_key_list() {
    let key = SigningKey::generate();
    let signed = signing::sign_embedded(&wasm_bytes(fixtures::UPPER), &key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "upper.wasm", &signed);
    let strict = Runtime::builder().require_signatures(true).build().unwrap();
    let e = upper(&strict, &f, PluginOptions::default())
        .await
        .unwrap_err();
    assert_eq!(problem(&e), &SignatureProblem::NoTrustedKeys);
    // The runtime's list, or the plugin's own, satisfies it.
    assert_eq!(upper(&strict, &f, trust(&[&key])).await.unwrap(), "SIGNED");
    let listed = Runtime::builder()
        .require_signatures(true)
        .trusted_keys([key.public().clone()])
        .build()
        .unwrap();
    assert_eq!(
        upper(&listed, &f, PluginOptions::default()).await.unwrap(),
        "SIGNED"
    );
    // A plugin's own list replaces the runtime's.
    let other = SigningKey::generate();
    let e = upper(&listed, &f, trust(&[&other])).await.unwrap_err();
    assert!(
        matches!(problem(&e), SignatureProblem::UnlistedKey { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn neither_the_cache_nor_shared_code_stands_in_for_verification() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    let plain = wasm_bytes(fixtures::UPPER);
    let signed = signing::sign_embedded(&plain, &key).unwrap();
    let f = write(dir.path(), "upper.wasm", &signed);
    let rt = || Runtime::builder().cache_dir(cache.path()).build().unwrap();
    // Compiled and cached while verified; a later runtime takes it from the cache.
    let first = rt().load_file(&f, trust(&[&key])).await.unwrap();
    assert!(!first.was_cached());
    let again = rt().load_file(&f, trust(&[&key])).await.unwrap();
    assert!(again.was_cached());

    // The unsigned bytes, compiled and cached without a key list...
    let u = write(dir.path(), "plain.wasm", &plain);
    let warm = rt();
    let _alive = warm.load_file(&u, PluginOptions::default()).await.unwrap();
    // ... are refused with one, on the same runtime (shared code) and a new one
    // (disk cache).
    for r in [&warm, &rt()] {
        let e = r.load_file(&u, trust(&[&key])).await.unwrap_err();
        assert_eq!(problem(&e), &SignatureProblem::Unsigned);
    }
    // Tampered bytes are refused, not served from the cache entry of the original.
    let mut t = signed.clone();
    let mid = t.len() / 2;
    t[mid] ^= 0x20;
    std::fs::write(&f, &t).unwrap();
    let e = rt().load_file(&f, trust(&[&key])).await.unwrap_err();
    assert!(
        matches!(problem(&e), SignatureProblem::Tampered { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn a_watched_swap_to_a_tampered_file_keeps_the_old_version() {
    let rt = Runtime::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    let f = write(
        dir.path(),
        "p.wasm",
        &signing::sign_embedded(&wasm_bytes(fixtures::UPPER), &key).unwrap(),
    );
    let plugins = rt.plugins();
    let old = plugins.load("p", &f, trust(&[&key])).await.unwrap();
    let _watch = plugins.watch().unwrap();
    // A tampered version of another plugin: refused, the old one keeps serving.
    let mut evil = signing::sign_embedded(&wasm_bytes(fixtures::REDACT), &key).unwrap();
    let at = evil.len() - 10;
    evil[at] ^= 0x04;
    std::fs::write(&f, &evil).unwrap();
    tokio::time::sleep(wasp_host::DEBOUNCE * 4).await;
    let now = plugins.get("p").unwrap();
    assert_eq!(now.sha256(), old.sha256(), "a tampered file was swapped in");
    let out: String = now.call("upper", "still").await.unwrap();
    assert_eq!(out, "STILL");
    // A properly signed new version does swap in (the watcher is alive).
    let good = signing::sign_embedded(&wasm_bytes(fixtures::REDACT), &key).unwrap();
    std::fs::write(&f, &good).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while plugins.get("p").unwrap().sha256() == old.sha256() {
        assert!(
            std::time::Instant::now() < deadline,
            "the signed file was never loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(plugins.get("p").unwrap().info().name, "redact");
}

#[test]
fn trusted_keys_read_openssh_public_keys_only() {
    let key = SigningKey::generate();
    let line = format!("ssh-ed25519 {} someone@host", base64_blob(key.public()));
    let parsed = TrustedKey::from_openssh(&line).unwrap();
    assert_eq!(&parsed, key.public());
    assert_eq!(parsed.comment(), "someone@host");
}

fn base64_blob(k: &TrustedKey) -> String {
    use base64::Engine as _;
    // The SSH wire form: string "ssh-ed25519", string key.
    let mut blob = vec![0, 0, 0, 11];
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&[0, 0, 0, 32]);
    blob.extend_from_slice(k.raw());
    base64::engine::general_purpose::STANDARD.encode(blob)
}
