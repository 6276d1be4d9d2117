//! `wasp sign`, `wasp verify` and a manifest's `trusted-keys`, `signed-by` and
//! `require-signatures`, with keys made by `ssh-keygen` as an operator makes them.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use predicates::prelude::*;
use wasp_tests::fixtures;

mod common;
use common::{wasp, write_manifest};

/// `ssh-keygen -t ed25519 -N '' -f DIR/NAME`: returns the private key's path
/// (the public one is beside it, `.pub`).
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let out = Std::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs (make test installs openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// The fingerprint `ssh-keygen -lf KEY.pub` prints (`SHA256:…`).
fn fingerprint(key: &Path) -> String {
    let out = Std::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

fn pubkey(key: &Path) -> String {
    key.with_extension("pub").display().to_string()
}

struct Setup {
    dir: tempfile::TempDir,
    acme: PathBuf,
    other: PathBuf,
    plugin: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let acme = keygen(dir.path(), "acme");
        let other = keygen(dir.path(), "other");
        let plugin = dir.path().join("upper.wasm");
        std::fs::copy(fixtures::UPPER, &plugin).unwrap();
        Setup {
            dir,
            acme,
            other,
            plugin,
        }
    }

    fn sign(&self, key: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
        wasp()
            .arg("sign")
            .arg("--key")
            .arg(key)
            .args(extra)
            .arg(&self.plugin)
            .assert()
    }

    fn verify(&self, keys: &[&Path]) -> assert_cmd::assert::Assert {
        let mut c = wasp();
        c.arg("verify");
        for k in keys {
            c.arg("--key").arg(k.with_extension("pub"));
        }
        c.arg(&self.plugin).assert()
    }

    /// `wasp call -m` on a manifest with `runtime` and `plugin` table bodies.
    fn call(&self, runtime: &str, plugin: &str) -> assert_cmd::assert::Assert {
        let m = write_manifest(
            self.dir.path(),
            &format!("[runtime]\n{runtime}\n[plugins.upper]\npath = \"upper.wasm\"\n{plugin}\n"),
        );
        wasp()
            .args(["--no-cache", "call", "-m"])
            .arg(m)
            .args(["upper", "upper", "signed"])
            .assert()
    }
}

#[test]
fn sign_then_verify_embedded_with_two_keys() {
    let s = Setup::new();
    s.verify(&[&s.acme])
        .code(2)
        .stdout(predicate::str::contains("no signatures"))
        .stderr(predicate::str::contains("unsigned"));
    s.sign(&s.acme, &[])
        .success()
        .stdout(predicate::str::contains(fingerprint(&s.acme)));
    s.verify(&[&s.acme])
        .success()
        .stdout(predicate::str::contains(format!(
            "signed by {} ({}): valid",
            fingerprint(&s.acme),
            pubkey(&s.acme)
        )));
    // Not signed by `other` (yet): exit 2, and the signer is shown.
    s.verify(&[&s.other])
        .code(2)
        .stdout(predicate::str::contains(format!(
            "signed by {}: not one of the given keys",
            fingerprint(&s.acme)
        )))
        .stderr(predicate::str::contains(fingerprint(&s.acme)));
    // A second key adds a signature.
    s.sign(&s.other, &[]).success();
    s.verify(&[&s.other]).success();
    s.verify(&[&s.acme]).success();
    s.verify(&[&s.other, &s.acme])
        .success()
        .stdout(predicate::str::contains(fingerprint(&s.acme)))
        .stdout(predicate::str::contains(fingerprint(&s.other)));
    // The signed file is still a plugin that loads without any key list.
    wasp()
        .args(["call"])
        .arg(&s.plugin)
        .args(["upper", "still a plugin"])
        .assert()
        .success()
        .stdout("STILL A PLUGIN");
    // No key given: nothing verified.
    s.verify(&[]).code(2);
}

#[test]
fn sign_detached_writes_a_sig_file_and_leaves_the_plugin_alone() {
    let s = Setup::new();
    let before = std::fs::read(&s.plugin).unwrap();
    s.sign(&s.acme, &["--detached"]).success();
    s.sign(&s.other, &["--detached"]).success();
    assert_eq!(std::fs::read(&s.plugin).unwrap(), before);
    let mut sig = s.plugin.clone().into_os_string();
    sig.push(".sig");
    assert!(Path::new(&sig).is_file());
    s.verify(&[&s.acme]).success();
    s.verify(&[&s.other]).success();
    s.call("", &format!("signed-by = [\"{}\"]", pubkey(&s.other)))
        .success()
        .stdout("SIGNED");
}

#[test]
fn sign_to_another_file_with_o() {
    let s = Setup::new();
    let out = s.dir.path().join("signed.wasm");
    s.sign(&s.acme, &["-o", out.to_str().unwrap()]).success();
    assert_eq!(
        std::fs::read(&s.plugin).unwrap(),
        std::fs::read(fixtures::UPPER).unwrap()
    );
    wasp()
        .arg("verify")
        .arg("--key")
        .arg(s.acme.with_extension("pub"))
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn manifest_trusted_keys_and_signed_by_decide_what_loads() {
    let s = Setup::new();
    let trusted = format!("trusted-keys = [\"{}\"]", pubkey(&s.acme));
    // Unsigned, with a key list: exit 2, naming the plugin, the file and why.
    s.call(&trusted, "")
        .code(2)
        .stderr(predicate::str::contains("'upper'"))
        .stderr(predicate::str::contains("upper.wasm"))
        .stderr(predicate::str::contains("unsigned"));
    // require-signatures without any list refuses even an unsigned plugin that
    // would otherwise load.
    s.call("", "").success();
    s.call("require-signatures = true", "")
        .code(2)
        .stderr(predicate::str::contains("require-signatures"));
    s.sign(&s.acme, &[]).success();
    s.call(&trusted, "").success().stdout("SIGNED");
    s.call(&format!("{trusted}\nrequire-signatures = true"), "")
        .success();
    // A plugin's signed-by replaces the runtime's list: signed by acme, but only
    // `other` is listed for it. The error shows acme's fingerprint.
    s.call(&trusted, &format!("signed-by = [\"{}\"]", pubkey(&s.other)))
        .code(2)
        .stderr(predicate::str::contains(fingerprint(&s.acme)))
        .stderr(predicate::str::contains("not a trusted key"));
    // One byte changed after signing: refused as tampered.
    let mut bytes = std::fs::read(&s.plugin).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&s.plugin, &bytes).unwrap();
    s.call(&trusted, "")
        .code(2)
        .stderr(predicate::str::contains("changed after it was signed"));
    // `wasp check` refuses it too.
    wasp()
        .args(["--no-cache", "check", "-m"])
        .arg(s.dir.path().join("wasp.toml"))
        .assert()
        .code(2);
}

#[test]
fn key_file_problems_point_at_the_manifest_line() {
    let s = Setup::new();
    s.call("trusted-keys = [\"missing.pub\"]", "")
        .code(2)
        .stderr(predicate::str::contains("wasp.toml:2"))
        .stderr(predicate::str::contains("runtime.trusted-keys"))
        .stderr(predicate::str::contains("missing.pub"));
    // A private key where a public one belongs.
    s.call("", &format!("signed-by = [\"{}\"]", s.acme.display()))
        .code(2)
        .stderr(predicate::str::contains("plugins.upper.signed-by"))
        .stderr(predicate::str::contains("private key"));
    // And `wasp sign` with a public key where the private one belongs.
    s.sign(&s.acme.with_extension("pub"), &[])
        .code(2)
        .stderr(predicate::str::contains("private key"));
}
