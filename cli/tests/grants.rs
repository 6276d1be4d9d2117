//! `wasp call` and `wasp check` with a manifest's grants, on the real `sandbox`
//! fixture: what the manifest grants is reachable, nothing else is (see "What
//! safe means" in docs/contracts.md).
//!
//! The sandbox probes report instead of failing: a denied read prints
//! `{"ok":false,…}` on stdout and exits 0. With `"strict": true` in the input, the
//! probe turns the denial into the plugin error `denied`, so the CLI exits 1 in
//! the contract format; both are tested.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};
use wasp_tests::fixtures;

mod common;
use common::wasp;

/// A temporary directory holding `data/hello.txt`, `secret.txt` beside `data/`,
/// and `wasp.toml` with the sandbox plugin and `grants` (a TOML table body).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(grants: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
        std::fs::write(dir.path().join("data/hello.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        let manifest = format!(
            "[plugins.sandbox]\npath = '{}'\n\n[plugins.sandbox.grants]\n{grants}\n",
            fixtures::SANDBOX
        );
        std::fs::write(dir.path().join("wasp.toml"), manifest).unwrap();
        Setup { dir }
    }

    fn manifest(&self) -> PathBuf {
        self.dir.path().join("wasp.toml")
    }

    /// `wasp call -m MANIFEST sandbox FUNCTION INPUT`.
    fn call(&self, function: &str, input: &Value) -> Command {
        let mut c = wasp();
        c.arg("call").arg("-m").arg(self.manifest()).args([
            "sandbox",
            function,
            &input.to_string(),
        ]);
        c
    }
}

/// Runs `cmd`, expects exit 0, and parses the probe's report from stdout.
fn report(mut cmd: Command) -> Value {
    let out = cmd.assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const DATA_RO: &str = r#"files = [{ host = "data", guest = "/data", mode = "ro" }]"#;

#[test]
fn a_granted_directory_is_readable() {
    let s = Setup::new(DATA_RO);
    let r = report(s.call("read-file", &json!({"path": "/data/hello.txt"})));
    assert_eq!(r, json!({"ok": true, "value": "hello"}));
}

#[test]
fn reads_outside_the_granted_directory_are_denied() {
    let s = Setup::new(DATA_RO);
    for path in [
        "/etc/passwd",
        "/data/../x",
        "/data/../secret.txt",
        "/data/sub/../../secret.txt",
    ] {
        let r = report(s.call("read-file", &json!({ "path": path })));
        assert_eq!(r["ok"], false, "{path}: {r}");
    }
    // The host path of the secret means nothing inside the sandbox either.
    let secret = s.dir.path().join("secret.txt");
    let r = report(s.call("read-file", &json!({ "path": secret })));
    assert_eq!(r["ok"], false, "{r}");
}

#[test]
fn a_strict_denial_is_a_plugin_error_exit_1() {
    let s = Setup::new(DATA_RO);
    let out = s
        .call("read-file", &json!({"path": "/etc/passwd", "strict": true}))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: plugin 'sandbox' function 'read-file': denied: "),
        "{stderr}"
    );
    // Positive control: the same strict probe succeeds inside the grant.
    let r = report(s.call(
        "read-file",
        &json!({"path": "/data/hello.txt", "strict": true}),
    ));
    assert_eq!(r["value"], "hello");
}

#[test]
fn a_read_only_grant_refuses_writes_and_read_write_allows_them() {
    let s = Setup::new(DATA_RO);
    let input = json!({"path": "/data/new.txt", "data": "x"});
    let r = report(s.call("write-file", &input));
    assert_eq!(r["ok"], false, "{r}");
    assert!(!s.dir.path().join("data/new.txt").exists());
    let s = Setup::new(r#"files = [{ host = "data", guest = "/data", mode = "rw" }]"#);
    let r = report(s.call("write-file", &input));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("data/new.txt")).unwrap(),
        "x"
    );
}

#[test]
fn only_the_env_vars_the_manifest_names_are_passed() {
    let s = Setup::new(r#"env = ["WASP_GRANTS_TEST_GRANTED", "WASP_GRANTS_TEST_MISSING"]"#);
    let mut cmd = s.call("env-all", &json!({}));
    cmd.env("WASP_GRANTS_TEST_GRANTED", "yes")
        .env("WASP_GRANTS_TEST_OTHER", "no")
        .env_remove("WASP_GRANTS_TEST_MISSING");
    let r = report(cmd);
    assert_eq!(
        r,
        json!({"ok": true, "value": {"WASP_GRANTS_TEST_GRANTED": "yes"}})
    );
}

#[test]
fn a_wasm_path_gets_no_grants() {
    // `wasp call FILE.wasm` runs with nothing granted, whatever the environment.
    let call = |function: &str, input: Value| {
        let mut c = wasp();
        c.args(["call", fixtures::SANDBOX, function, &input.to_string()])
            .env("WASP_GRANTS_TEST_OTHER", "no");
        report(c)
    };
    assert_eq!(
        call("preopens", json!({})),
        json!({"ok": true, "value": []})
    );
    assert_eq!(call("env-all", json!({})), json!({"ok": true, "value": {}}));
    assert_eq!(
        call("read-file", json!({"path": "/etc/passwd"}))["ok"],
        false
    );
}

#[test]
fn check_refuses_a_grant_inside_a_read_write_grant() {
    let s = Setup::new(
        r#"files = [{ host = ".", guest = "/all", mode = "rw" }, { host = "data", guest = "/data", mode = "ro" }]"#,
    );
    let out = wasp()
        .arg("check")
        .arg("-m")
        .arg(s.manifest())
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("inside the read-write grant") && stderr.contains("/data"),
        "{stderr}"
    );
    // Positive control: a read-write grant inside a read-only one passes (the
    // plugin cannot change the read-only tree).
    let ok = Setup::new(
        r#"files = [{ host = "data/sub", guest = "/sub", mode = "rw" }, { host = "data", guest = "/data", mode = "ro" }]"#,
    );
    wasp()
        .arg("check")
        .arg("-m")
        .arg(ok.manifest())
        .assert()
        .success();
}
