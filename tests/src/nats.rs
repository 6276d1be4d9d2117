//! A `nats-server` with JetStream of a test's (or benchmark's) own, on a free
//! loopback port with a temporary store, stopped and removed on drop.
//!
//! `make test` installs `nats-server` when it is missing
//! (`scripts/test-tools.sh`); when it cannot be started, [`NatsServer::start`]
//! panics with the reason: a test that needs it fails, it does not skip.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nats-server -js`.
pub struct NatsServer {
    child: Child,
    port: u16,
    url: String,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one and waits until it is ready (at most 30 s).
    ///
    /// # Panics
    /// When `nats-server` is missing, exits, or is not ready in time (with its log).
    pub fn start() -> NatsServer {
        Self::start_with_config("")
    }

    /// [`NatsServer::start`] with `config` in its configuration file (e.g.
    /// `max_payload: 4096`).
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn start_with_config(config: &str) -> NatsServer {
        let store = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(store.path().join("server.conf"), config).expect("the server's config");
        let port = free_port();
        let child = spawn(port, store.path(), "server.log");
        let mut server = NatsServer {
            child,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        };
        server.wait_ready(&server.store.path().join("server.log"));
        server
    }

    /// Kills the server (SIGKILL), leaves it down for `down`, and starts it
    /// again on the same port and store, as after a crash; waits until it is
    /// ready.
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child = spawn(self.port, self.store.path(), "restarted.log");
        self.wait_ready(&self.store.path().join("restarted.log"));
    }

    fn wait_ready(&mut self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("Server is ready") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nats-server exited ({status}) before it was ready:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server not ready after 30 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nats-server -js` on `port`, its configuration, store and `log` in `dir`.
fn spawn(port: u16, dir: &Path, log: &str) -> Child {
    Command::new("nats-server")
        .arg("-c")
        .arg(dir.join("server.conf"))
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("js"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).expect("the server's log file"))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start nats-server ({e}); `make test` installs it (scripts/test-tools.sh)"
            )
        })
}

/// A loopback port nothing listens on (bound, then released).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
