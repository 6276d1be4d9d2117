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
    url: String,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one and waits until it is ready (at most 30 s).
    ///
    /// # Panics
    /// When `nats-server` is missing, exits, or is not ready in time (with its log).
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let log = store.path().join("server.log");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path().join("js"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the server's log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nats-server ({e}); `make test` installs it (scripts/test-tools.sh)"
                )
            });
        let mut server = NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        };
        server.wait_ready(&log);
        server
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
