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

/// A live `wasp run`: its stdin, and its stdout and stderr as channels of
/// lines (read by threads of their own, so neither pipe fills up).
#[allow(dead_code)] // not every test file keeps a run alive
pub struct LiveRun {
    pub child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    pub out: std::sync::mpsc::Receiver<String>,
    pub err: std::sync::mpsc::Receiver<String>,
}

#[allow(dead_code)]
impl LiveRun {
    /// `wasp ARGS`, started.
    pub fn start<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        use std::io::{BufRead, BufReader};
        let mut child = spawn_wasp(args);
        let stdin = child.stdin.take().unwrap();
        let lines = |from: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            std::thread::spawn(move || {
                for line in BufReader::new(from).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            rx
        };
        let out = lines(Box::new(child.stdout.take().unwrap()));
        let err = lines(Box::new(child.stderr.take().unwrap()));
        LiveRun {
            child,
            stdin,
            out,
            err,
        }
    }

    /// Writes one input line and returns the next output line as JSON.
    pub fn event(&mut self, line: &str) -> serde_json::Value {
        use std::io::Write;
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let out = self.out.recv_timeout(LIMIT).expect("an output line");
        serde_json::from_str(&out).unwrap()
    }

    /// The first stderr line from now on that contains `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .err
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("no '{needle}' on stderr"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Closes stdin and waits for a successful exit.
    pub fn finish(self) {
        let LiveRun {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        assert!(child.wait().unwrap().success());
    }
}

/// How long a live run may take to answer.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);
