//! What the CLI's test files share: the binary, a manifest on disk, a run.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `wasp` binary, with the caller's log settings removed.
pub fn wasp() -> Command {
    let mut c = Command::cargo_bin("wasp").unwrap();
    c.env_remove("WASP_LOG").env_remove("RUST_LOG");
    c
}

/// Writes `body` as `dir/wasp.toml`.
#[allow(dead_code)] // not every test file writes manifests
pub fn write_manifest(dir: &Path, body: &str) -> PathBuf {
    let f = dir.join("wasp.toml");
    std::fs::write(&f, body).unwrap();
    f
}

/// `wasp run -m M --dead-letter D` over `input`, which must succeed.
#[allow(dead_code)] // not every test file runs pipelines
pub fn run_ok(m: &Path, dead: &Path, input: impl Into<Vec<u8>>) -> std::process::Output {
    wasp()
        .args([
            "run",
            "-m",
            m.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .clone()
}

/// `wasp ARGS` as a child process with stdin, stdout and stderr piped (for tests
/// that talk to a run while it is alive), the caller's log settings removed.
#[allow(dead_code)] // not every test file keeps a run alive
pub fn spawn_wasp<I, S>(args: I) -> std::process::Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::process::Stdio;
    std::process::Command::new(assert_cmd::cargo::cargo_bin("wasp"))
        .args(args)
        .env_remove("WASP_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
