//! The capability sandbox, attacked: the `sandbox` fixture tries every way out
//! (files, environment, process, network, host functions) and reports what
//! happened, and every test checks both sides of a grant on the same probe:
//! denied without it, allowed with it. The positive controls prove that no test
//! passes only because a probe is broken.
//!
//! Host-side trees are made with std in temporary directories; the network tests
//! use servers on 127.0.0.1 only, each answering at most one exchange, so nothing
//! waits without bound.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use wasp_host::{FileGrant, FileMode, Grants, InstanceMode, Json, Plugin, PluginOptions};
use wasp_tests::fixtures;

use crate::load_as;

/// A safety bound for host-side socket reads, so a broken test fails instead of
/// hanging; no assertion depends on it.
const SAFETY: Duration = Duration::from_secs(10);

/// The sandbox fixture, loaded with `grants`.
async fn sandbox(grants: Grants) -> Plugin {
    sandbox_with(PluginOptions::default().grants(grants)).await
}

async fn sandbox_with(options: PluginOptions) -> Plugin {
    load_as("sandbox", fixtures::SANDBOX, options)
        .await
        .expect("sandbox fixture loads")
}

/// Runs one probe and returns its report.
async fn probe(p: &Plugin, function: &str, params: Value) -> Value {
    let Json(report): Json<Value> = p
        .call(function, Json(params.clone()))
        .await
        .unwrap_or_else(|e| panic!("{function}({params}) failed: {e}"));
    report
}

/// The value of a report that must have succeeded.
#[track_caller]
fn allowed(report: &Value) -> Value {
    assert_eq!(report["ok"], true, "expected success, got {report}");
    report["value"].clone()
}

/// The error text of a report that must have failed.
#[track_caller]
fn denied(report: &Value) -> String {
    assert_eq!(report["ok"], false, "expected a denial, got {report}");
    report["error"]
        .as_str()
        .expect("a denial has an error text")
        .to_string()
}

/// `host` granted read-only at `guest`.
fn ro(host: &Path, guest: &str) -> Grants {
    Grants::default().file(FileGrant::new(host, guest, FileMode::ReadOnly))
}

/// `host` granted read-write at `guest`.
fn rw(host: &Path, guest: &str) -> Grants {
    Grants::default().file(FileGrant::new(host, guest, FileMode::ReadWrite))
}

/// A granted tree and a secret beside it:
///
/// ```text
/// root/data/hello.txt                  "hello"
/// root/data/sub/inner.txt              "inner"
/// root/data/in-link      -> hello.txt
/// root/data/abs-link     -> <root>/outside/secret.txt
/// root/data/rel-link     -> ../outside/secret.txt
/// root/data/sub/deep-link -> ../../outside/secret.txt
/// root/data/dir-link     -> ../outside
/// root/outside/secret.txt              "secret"
/// root/rw/mine.txt                     "mine"
/// ```
struct Tree {
    root: tempfile::TempDir,
    data: PathBuf,
    outside: PathBuf,
    rw: PathBuf,
}

impl Tree {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let rw = root.path().join("rw");
        std::fs::create_dir(&rw).unwrap();
        std::fs::write(rw.join("mine.txt"), "mine").unwrap();
        std::fs::write(data.join("hello.txt"), "hello").unwrap();
        std::fs::write(data.join("sub/inner.txt"), "inner").unwrap();
        std::fs::write(outside.join("secret.txt"), "secret").unwrap();
        let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, data.join(at));
        link(Path::new("hello.txt"), "in-link").unwrap();
        link(&outside.join("secret.txt"), "abs-link").unwrap();
        link(Path::new("../outside/secret.txt"), "rel-link").unwrap();
        link(Path::new("../../outside/secret.txt"), "sub/deep-link").unwrap();
        link(Path::new("../outside"), "dir-link").unwrap();
        Tree {
            root,
            data,
            outside,
            rw,
        }
    }

    /// The secret is still there, unchanged.
    #[track_caller]
    fn secret_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("secret.txt")).unwrap(),
            "secret"
        );
        let mut names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["secret.txt"], "something appeared outside");
    }
}

// ------------------------------------------------------------------ files

#[tokio::test]
async fn etc_passwd_is_unreadable_without_a_grant() {
    let p = sandbox(Grants::default()).await;
    denied(&probe(&p, "read-file", json!({"path": "/etc/passwd"})).await);
    denied(&probe(&p, "metadata", json!({"path": "/etc"})).await);
    denied(&probe(&p, "list-dir", json!({"path": "/"})).await);
    // Positive control: the same probe reads it once /etc is granted.
    let p = sandbox(ro(Path::new("/etc"), "/etc")).await;
    let text = allowed(&probe(&p, "read-file", json!({"path": "/etc/passwd"})).await);
    assert!(text.as_str().unwrap().contains("root:"), "{text}");
}

#[tokio::test]
async fn only_granted_directories_are_preopened() {
    let tree = Tree::new();
    let p = sandbox(Grants::default()).await;
    assert_eq!(allowed(&probe(&p, "preopens", json!({})).await), json!([]));
    let p = sandbox(ro(&tree.data, "/data")).await;
    assert_eq!(
        allowed(&probe(&p, "preopens", json!({})).await),
        json!(["/data"])
    );
    assert_eq!(
        allowed(&probe(&p, "list-dir", json!({"path": "/data"})).await),
        json!([
            "abs-link",
            "dir-link",
            "hello.txt",
            "in-link",
            "rel-link",
            "sub"
        ])
    );
}

#[tokio::test]
async fn dotdot_cannot_leave_a_preopen() {
    let tree = Tree::new();
    let p = sandbox(ro(&tree.data, "/data")).await;
    for path in [
        "/data/../outside/secret.txt",
        "/data/../../etc/passwd",
        "/data/sub/../../outside/secret.txt",
        "/data/./sub/../../outside/secret.txt",
        "../outside/secret.txt",
        "data/../outside/secret.txt",
        "/data/..",
    ] {
        let report = probe(&p, "read-file", json!({ "path": path })).await;
        denied(&report);
    }
    for path in ["/data/..", "/data/sub/../..", "/data/../outside"] {
        denied(&probe(&p, "list-dir", json!({ "path": path })).await);
    }
    // Positive controls: `..` that stays inside works, and so do relative paths
    // (the working directory is `/`).
    for (path, text) in [
        ("/data/sub/../hello.txt", "hello"),
        ("/data/sub/inner.txt", "inner"),
        ("data/sub/../hello.txt", "hello"),
    ] {
        let report = probe(&p, "read-file", json!({ "path": path })).await;
        assert_eq!(allowed(&report), text, "{path}");
    }
    tree.secret_untouched();
}

#[tokio::test]
async fn host_paths_mean_nothing_inside_the_sandbox() {
    let tree = Tree::new();
    let p = sandbox(ro(&tree.data, "/data")).await;
    // The host's absolute path of a file outside, and even of a granted file: the
    // plugin sees only guest paths.
    let secret = tree.outside.join("secret.txt");
    let hello = tree.data.join("hello.txt");
    for path in [&secret, &hello] {
        let report = probe(&p, "read-file", json!({ "path": path })).await;
        denied(&report);
    }
    assert_eq!(
        allowed(&probe(&p, "read-file", json!({"path": "/data/hello.txt"})).await),
        "hello"
    );
}

#[tokio::test]
async fn symlink_out_of_preopen_is_denied() {
    let tree = Tree::new();
    let p = sandbox(ro(&tree.data, "/data")).await;
    for path in [
        "/data/abs-link",
        "/data/rel-link",
        "/data/sub/deep-link",
        "/data/dir-link/secret.txt",
    ] {
        denied(&probe(&p, "read-file", json!({ "path": path })).await);
    }
    denied(&probe(&p, "list-dir", json!({"path": "/data/dir-link"})).await);
    // Positive control: a symlink that stays inside is followed.
    assert_eq!(
        allowed(&probe(&p, "read-file", json!({"path": "/data/in-link"})).await),
        "hello"
    );
    // The link itself is a visible entry: its text and metadata, not its target.
    assert_eq!(
        allowed(&probe(&p, "read-link", json!({"path": "/data/rel-link"})).await),
        "../outside/secret.txt"
    );
    let meta = probe(&p, "metadata", json!({"path": "/data/abs-link"})).await;
    assert_eq!(allowed(&meta)["is_symlink"], true);
}

#[tokio::test]
async fn symlink_made_by_the_plugin_cannot_lead_out() {
    let tree = Tree::new();
    let p = sandbox(rw(&tree.rw, "/rw")).await;
    let secret = tree.outside.join("secret.txt");
    let escapes = [
        ("/etc/passwd", "/rw/to-passwd"),
        (secret.to_str().unwrap(), "/rw/to-secret"),
        ("../outside/secret.txt", "/rw/rel-out"),
        ("../../../../../../../../etc/passwd", "/rw/far-out"),
    ];
    for (target, link) in escapes {
        let report = probe(&p, "symlink", json!({ "target": target, "link": link })).await;
        // Making it may be refused (absolute targets are) or allowed (a relative
        // link is just text), but reading through it never works.
        denied(&report["read"]);
        denied(&probe(&p, "read-file", json!({ "path": link })).await);
    }
    // Positive control: a link that stays inside is made and followed.
    let report = probe(
        &p,
        "symlink",
        json!({"target": "mine.txt", "link": "/rw/in"}),
    )
    .await;
    allowed(&report);
    assert_eq!(allowed(&report["read"]), "mine");
    assert_eq!(
        std::fs::read_link(tree.rw.join("in")).unwrap(),
        Path::new("mine.txt")
    );
    tree.secret_untouched();
}

#[tokio::test]
async fn hard_link_to_a_file_outside_is_denied() {
    let tree = Tree::new();
    let p = sandbox(rw(&tree.rw, "/rw")).await;
    let secret = tree.outside.join("secret.txt");
    for (from, to) in [
        ("/rw/../outside/secret.txt", "/rw/hl"),
        (secret.to_str().unwrap(), "/rw/hl"),
        ("/rw/mine.txt", "/rw/../outside/hl"),
        ("/rw/mine.txt", "/rw/../../tmp/hl"),
    ] {
        let report = probe(&p, "hard-link", json!({ "from": from, "to": to })).await;
        denied(&report);
    }
    assert!(!tree.rw.join("hl").exists());
    // Positive control: a hard link inside the tree works.
    allowed(
        &probe(
            &p,
            "hard-link",
            json!({"from": "/rw/mine.txt", "to": "/rw/hl"}),
        )
        .await,
    );
    assert_eq!(std::fs::read_to_string(tree.rw.join("hl")).unwrap(), "mine");
    tree.secret_untouched();
}

#[tokio::test]
async fn rename_out_of_or_into_the_tree_is_denied() {
    let tree = Tree::new();
    let rw_dir = &tree.rw;
    let p = sandbox(rw(rw_dir, "/rw")).await;
    let out = probe(
        &p,
        "rename",
        json!({"from": "/rw/mine.txt", "to": "/rw/../outside/mine.txt"}),
    )
    .await;
    denied(&out);
    let into = probe(
        &p,
        "rename",
        json!({"from": "/rw/../outside/secret.txt", "to": "/rw/secret.txt"}),
    )
    .await;
    denied(&into);
    assert!(rw_dir.join("mine.txt").exists() && !rw_dir.join("secret.txt").exists());
    tree.secret_untouched();
    // Positive control: a rename inside the tree works.
    allowed(
        &probe(
            &p,
            "rename",
            json!({"from": "/rw/mine.txt", "to": "/rw/moved.txt"}),
        )
        .await,
    );
    assert_eq!(
        std::fs::read_to_string(rw_dir.join("moved.txt")).unwrap(),
        "mine"
    );
}

/// Every change a plugin can make to a tree: probe and parameters, for the tree
/// that [`changeable_tree`] makes, granted at `/d`. Each one works on its own
/// file, so their order does not matter.
const CHANGES: &[(&str, &str)] = &[
    ("write-file", r#"{"path": "/d/new.txt", "data": "x"}"#),
    ("write-file", r#"{"path": "/d/w.txt", "data": "x"}"#),
    ("append", r#"{"path": "/d/a.txt", "data": "+"}"#),
    ("create-new", r#"{"path": "/d/c.txt"}"#),
    ("truncate", r#"{"path": "/d/t.txt"}"#),
    ("remove-file", r#"{"path": "/d/rm.txt"}"#),
    ("remove-dir", r#"{"path": "/d/rmdir"}"#),
    ("rename", r#"{"from": "/d/mv.txt", "to": "/d/moved.txt"}"#),
    ("mkdir", r#"{"path": "/d/newdir"}"#),
    ("set-times", r#"{"path": "/d/st.txt", "mtime": 1000000000}"#),
    ("hard-link", r#"{"from": "/d/ln.txt", "to": "/d/ln2.txt"}"#),
    ("symlink", r#"{"target": "ln.txt", "link": "/d/sym"}"#),
];

fn changeable_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "w.txt", "a.txt", "t.txt", "rm.txt", "mv.txt", "st.txt", "ln.txt",
    ] {
        std::fs::write(dir.path().join(f), "orig").unwrap();
    }
    std::fs::create_dir(dir.path().join("rmdir")).unwrap();
    dir
}

/// Every entry under `dir`: path, kind, content or link target, mtime.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mtime = meta.modified().unwrap();
        let what = if meta.is_symlink() {
            format!("link {:?}", std::fs::read_link(&path).unwrap())
        } else if meta.is_dir() {
            format!("dir {:?}", snapshot(&path))
        } else {
            format!("file {:?}", std::fs::read_to_string(&path).unwrap())
        };
        out.push(format!("{:?} {what} {mtime:?}", e.file_name()));
    }
    out
}

#[tokio::test]
async fn read_only_grant_denies_every_change() {
    let dir = changeable_tree();
    let before = snapshot(dir.path());
    let p = sandbox(ro(dir.path(), "/d")).await;
    for (function, params) in CHANGES {
        let params: Value = serde_json::from_str(params).unwrap();
        let report = probe(&p, function, params.clone()).await;
        assert_eq!(report["ok"], false, "{function}({params}) in ro: {report}");
    }
    assert_eq!(snapshot(dir.path()), before, "the ro tree changed");
    // Reading still works.
    assert_eq!(
        allowed(&probe(&p, "read-file", json!({"path": "/d/w.txt"})).await),
        "orig"
    );
}

#[tokio::test]
async fn read_write_grant_allows_every_change() {
    let dir = changeable_tree();
    let p = sandbox(rw(dir.path(), "/d")).await;
    for (function, params) in CHANGES {
        let params: Value = serde_json::from_str(params).unwrap();
        let report = probe(&p, function, params.clone()).await;
        assert_eq!(report["ok"], true, "{function}({params}) in rw: {report}");
    }
    let d = dir.path();
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read("new.txt"), "x");
    assert_eq!(read("w.txt"), "x");
    assert_eq!(read("a.txt"), "orig+");
    assert_eq!(read("c.txt"), "");
    assert_eq!(read("t.txt"), "");
    assert!(!d.join("rm.txt").exists() && !d.join("rmdir").exists());
    assert!(!d.join("mv.txt").exists() && read("moved.txt") == "orig");
    assert!(d.join("newdir").is_dir());
    let mtime = std::fs::metadata(d.join("st.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        mtime,
        std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000)
    );
    assert_eq!(read("ln2.txt"), "orig");
    assert_eq!(
        std::fs::read_link(d.join("sym")).unwrap(),
        Path::new("ln.txt")
    );
}

#[tokio::test]
async fn set_permissions_is_unsupported_even_read_write() {
    // WASI has no permission bits: std on wasm32-wasip1 always refuses, so a
    // plugin cannot make a host file executable or world-writable.
    let dir = changeable_tree();
    let p = sandbox(rw(dir.path(), "/d")).await;
    let report = probe(&p, "set-permissions", json!({"path": "/d/w.txt"})).await;
    denied(&report);
    assert_eq!(report["kind"], "Unsupported");
    // The same file is writable, so the refusal is not about the grant.
    allowed(&probe(&p, "write-file", json!({"path": "/d/w.txt", "data": "y"})).await);
}

/// A read-write grant whose tree holds another grant's directory could swap that
/// directory for a symlink to anywhere (`../outside`), and the next instance's
/// preopen would follow it. The host refuses such nested grants at load.
#[tokio::test]
async fn a_read_write_grant_cannot_hold_another_grant() {
    let tree = Tree::new();
    let grants = rw(tree.root.path(), "/all").file(FileGrant::new(
        tree.data.join("sub"),
        "/sub",
        FileMode::ReadOnly,
    ));
    let err = load_as(
        "sandbox",
        fixtures::SANDBOX,
        PluginOptions::default().grants(grants),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("grants.files") && text.contains("inside the read-write grant"),
        "{text}"
    );
    // Positive controls: the same two directories granted side by side, or a
    // read-write grant inside a read-only one, load and work.
    let p = sandbox(rw(&tree.outside, "/out").file(FileGrant::new(
        tree.data.join("sub"),
        "/sub",
        FileMode::ReadOnly,
    )))
    .await;
    assert_eq!(
        allowed(&probe(&p, "read-file", json!({"path": "/sub/inner.txt"})).await),
        "inner"
    );
    let p = sandbox(ro(&tree.data, "/data").file(FileGrant::new(
        tree.data.join("sub"),
        "/sub",
        FileMode::ReadWrite,
    )))
    .await;
    allowed(
        &probe(
            &p,
            "write-file",
            json!({"path": "/sub/new.txt", "data": "x"}),
        )
        .await,
    );
}

/// One plugin with a read-write grant swaps a directory that another plugin has
/// been granted for a symlink that leads out; the other plugin's next instance
/// is refused, instead of seeing the symlink's target.
#[tokio::test]
async fn a_grant_replaced_after_load_is_refused_not_followed() {
    let tree = Tree::new();
    let root = tree.root.path();
    let writer = sandbox(rw(root, "/all")).await;
    let reader = sandbox_with(
        PluginOptions::default()
            .instance(InstanceMode::PerCall)
            .grants(ro(&tree.data.join("sub"), "/sub")),
    )
    .await;
    // Positive control: before the swap the reader reads its grant.
    assert_eq!(
        allowed(&probe(&reader, "read-file", json!({"path": "/sub/inner.txt"})).await),
        "inner"
    );
    allowed(
        &probe(
            &writer,
            "rename",
            json!({"from": "/all/data/sub", "to": "/all/data/old"}),
        )
        .await,
    );
    let made = probe(
        &writer,
        "symlink",
        json!({"target": "../outside", "link": "/all/data/sub"}),
    )
    .await;
    allowed(&made);
    assert_eq!(
        std::fs::read_link(tree.data.join("sub")).unwrap(),
        Path::new("../outside")
    );
    let err = reader
        .call::<_, Json<Value>>("read-file", Json(json!({"path": "/sub/secret.txt"})))
        .await
        .expect_err("the swapped grant must not be preopened");
    let text = err.to_string();
    assert!(
        text.contains("changed since the plugin was loaded"),
        "{text}"
    );
    tree.secret_untouched();
}

// ------------------------------------------------------------------ process

#[tokio::test]
async fn env_is_empty_without_a_grant() {
    let path = std::env::var("PATH").expect("the test process has PATH");
    assert!(!path.is_empty());
    let p = sandbox(Grants::default()).await;
    assert_eq!(allowed(&probe(&p, "env-all", json!({})).await), json!({}));
    denied(&probe(&p, "env", json!({"name": "PATH"})).await);
}

#[tokio::test]
async fn only_granted_env_vars_are_visible() {
    // cargo sets CARGO_PKG_NAME for the test process; PATH is set everywhere.
    let name = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
    std::env::var("PATH").expect("the test process has PATH");
    let missing = "WASP_SANDBOX_TEST_UNSET_VARIABLE";
    assert!(std::env::var_os(missing).is_none());
    let p = sandbox(Grants::default().env(["CARGO_PKG_NAME", missing])).await;
    assert_eq!(
        allowed(&probe(&p, "env", json!({"name": "CARGO_PKG_NAME"})).await),
        name.as_str()
    );
    // Granted but missing on the host: simply absent. Not granted: absent too.
    denied(&probe(&p, "env", json!({ "name": missing })).await);
    denied(&probe(&p, "env", json!({"name": "PATH"})).await);
    assert_eq!(
        allowed(&probe(&p, "env-all", json!({})).await),
        json!({ "CARGO_PKG_NAME": name })
    );
}

#[tokio::test]
async fn args_and_stdin_are_empty() {
    let p = sandbox(Grants::default()).await;
    assert_eq!(allowed(&probe(&p, "args", json!({})).await), json!([]));
    assert_eq!(allowed(&probe(&p, "stdin", json!({})).await), 0);
    assert_eq!(allowed(&probe(&p, "cwd", json!({})).await), "/");
}

#[tokio::test]
async fn clocks_and_randomness_work_without_any_grant() {
    // A choice made in code (see wasp_host's capability docs): std needs them, and
    // they reveal only the time and fresh random bytes.
    let p = sandbox(Grants::default()).await;
    let clock = probe(&p, "clock", json!({})).await;
    let wall = allowed(&clock)["wall_secs"].as_u64().unwrap();
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The host's own wall clock, not a fake one (a day of slack: no timing here).
    assert!(wall.abs_diff(host) < 86_400, "{wall} vs {host}");
    assert!(allowed(&clock)["monotonic_nanos"].is_u64());
    let random = allowed(&probe(&p, "random", json!({})).await);
    let (first, second) = (
        random["first"].as_str().unwrap(),
        random["second"].as_str().unwrap(),
    );
    assert_eq!(first.len(), 64);
    assert_ne!(first, second);
    assert_ne!(first, "0".repeat(64));
    // Another instance draws other bytes: the seed is not shared.
    let other = sandbox(Grants::default()).await;
    let again = probe(&other, "random", json!({})).await;
    assert_ne!(allowed(&again)["first"], random["first"]);
}

#[tokio::test]
async fn call_host_names_each_function_it_may_call() {
    // calls.rs checks denied vs granted; here: the allowlist is per name.
    let p = sandbox(Grants::default().host_functions(["echo"])).await;
    let echo = probe(&p, "call-host", json!({"name": "echo", "input": "hi"})).await;
    assert_eq!(allowed(&echo), "sandbox says hi");
    // Registered on the runtime but not granted to this plugin.
    let refuse = probe(&p, "call-host", json!({"name": "refuse"})).await;
    let text = denied(&refuse);
    assert!(text.contains("not granted"), "{text}");
    // Not registered at all: the same answer, so a plugin cannot probe which
    // functions exist.
    let nope = probe(&p, "call-host", json!({"name": "nope"})).await;
    assert!(denied(&nope).contains("not granted"), "{nope}");
}

// ------------------------------------------------------------------ network

/// A TCP server on 127.0.0.1 that serves at most one connection: it reads until
/// the client stops sending, answers `pong:` and what it read, and closes.
struct TcpServer {
    addr: SocketAddr,
    thread: JoinHandle<Option<String>>,
}

/// What a [`TcpServer`]'s own wake-up connection sends, so it is told apart.
const WAKE: &[u8] = b"\0wake";

impl TcpServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().ok()?;
            stream.set_read_timeout(Some(SAFETY)).ok()?;
            let mut got = Vec::new();
            (&mut stream).take(4096).read_to_end(&mut got).ok()?;
            if got == WAKE {
                return None;
            }
            let mut reply = b"pong:".to_vec();
            reply.extend(&got);
            stream.write_all(&reply).ok()?;
            Some(String::from_utf8_lossy(&got).into_owned())
        });
        TcpServer { addr, thread }
    }

    fn grant(&self) -> String {
        self.addr.to_string()
    }

    /// What the server received, or `None` if nobody connected. Wakes the server
    /// with a connection of its own when it is still waiting.
    fn finish(self) -> Option<String> {
        if !self.thread.is_finished() {
            // Queued in the backlog if the server already served someone.
            if let Ok(mut s) = TcpStream::connect(self.addr) {
                let _ = s.write_all(WAKE);
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
        }
        self.thread.join().unwrap()
    }
}

#[tokio::test]
async fn tcp_connect_is_denied_without_a_grant() {
    let server = TcpServer::start();
    let p = sandbox(Grants::default()).await;
    let report = probe(&p, "tcp-connect", json!({"addr": server.grant()})).await;
    denied(&report);
    assert_eq!(server.finish(), None, "the server was reached");
    // A listen grant is not a connect grant.
    let server = TcpServer::start();
    let p = sandbox(Grants::default().listen(["127.0.0.1:0"]).unwrap()).await;
    denied(&probe(&p, "tcp-connect", json!({"addr": server.grant()})).await);
    assert_eq!(server.finish(), None, "the server was reached");
}

#[tokio::test]
async fn tcp_connect_reaches_exactly_the_granted_port() {
    let granted = TcpServer::start();
    let other = TcpServer::start();
    let p = sandbox(Grants::default().network([granted.grant()]).unwrap()).await;
    let report = probe(
        &p,
        "tcp-connect",
        json!({"addr": granted.grant(), "message": "ping"}),
    )
    .await;
    assert_eq!(allowed(&report), "pong:ping");
    assert_eq!(granted.finish().as_deref(), Some("ping"));
    // Same host, another port: denied. So is the IPv4-mapped IPv6 spelling.
    denied(&probe(&p, "tcp-connect", json!({"addr": other.grant()})).await);
    let mapped = format!("[::ffff:127.0.0.1]:{}", other.addr.port());
    denied(&probe(&p, "tcp-connect", json!({ "addr": mapped })).await);
    assert_eq!(other.finish(), None, "the other server was reached");
}

#[tokio::test]
async fn tcp_wildcard_port_grant_allows_every_port() {
    let (a, b) = (TcpServer::start(), TcpServer::start());
    let p = sandbox(Grants::default().network(["127.0.0.1:*"]).unwrap()).await;
    for (server, message) in [(&a, "to-a"), (&b, "to-b")] {
        let report = probe(
            &p,
            "tcp-connect",
            json!({"addr": server.grant(), "message": message}),
        )
        .await;
        assert_eq!(allowed(&report), format!("pong:{message}"));
    }
    assert_eq!(a.finish().as_deref(), Some("to-a"));
    assert_eq!(b.finish().as_deref(), Some("to-b"));
}

/// A UDP socket on 127.0.0.1 for the host side of a test.
fn udp_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(SAFETY)).unwrap();
    s
}

/// Nothing is queued on `socket` (loopback delivery is synchronous, so anything
/// the plugin sent during its call is already there).
#[track_caller]
fn nothing_received(socket: &UdpSocket) {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let got = socket.recv_from(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a datagram arrived: {got:?}"
    );
}

#[tokio::test]
async fn udp_send_is_denied_without_a_grant() {
    let server = udp_socket();
    let addr = server.local_addr().unwrap().to_string();
    let p = sandbox(Grants::default()).await;
    for connect in [true, false] {
        let report = probe(&p, "udp-send", json!({"addr": addr, "connect": connect})).await;
        denied(&report);
    }
    nothing_received(&server);
}

#[tokio::test]
async fn udp_send_reaches_exactly_the_granted_port() {
    let granted = udp_socket();
    let other = udp_socket();
    let addr = granted.local_addr().unwrap().to_string();
    let p = sandbox(Grants::default().network([addr.as_str()]).unwrap()).await;
    for (connect, message) in [(true, "connected"), (false, "unconnected")] {
        let report = probe(
            &p,
            "udp-send",
            json!({"addr": addr, "connect": connect, "message": message}),
        )
        .await;
        assert_eq!(allowed(&report)["sent"], 1);
        let mut buf = [0u8; 64];
        let (n, _) = granted.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], message.as_bytes());
    }
    let other_addr = other.local_addr().unwrap().to_string();
    for connect in [true, false] {
        let report = probe(
            &p,
            "udp-send",
            json!({"addr": other_addr, "connect": connect}),
        )
        .await;
        denied(&report);
    }
    nothing_received(&other);
}

/// The plugin sends to `granted` from an unconnected socket and waits for a
/// datagram; the host first sends `evil` from `intruder`, then `pong` from
/// `granted`. Returns the plugin's report.
async fn udp_reply_race(p: &Plugin, granted: UdpSocket, intruder: UdpSocket) -> Value {
    let addr = granted.local_addr().unwrap().to_string();
    let host = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (_, plugin_addr) = granted.recv_from(&mut buf).unwrap();
        intruder.send_to(b"evil", plugin_addr).unwrap();
        granted.send_to(b"pong", plugin_addr).unwrap();
    });
    let report = probe(
        p,
        "udp-send",
        json!({"addr": addr, "connect": false, "reply": true}),
    )
    .await;
    host.join().unwrap();
    report
}

#[tokio::test]
async fn udp_datagrams_from_ungranted_peers_are_dropped() {
    let (granted, intruder) = (udp_socket(), udp_socket());
    let granted_addr = granted.local_addr().unwrap().to_string();
    let p = sandbox(Grants::default().network([granted_addr.as_str()]).unwrap()).await;
    let report = udp_reply_race(&p, granted, intruder).await;
    assert_eq!(allowed(&report)["reply"], "pong", "{report}");
    assert_eq!(allowed(&report)["from"], granted_addr.as_str());
    // Positive control: with the intruder granted too, its datagram comes first.
    let (granted, intruder) = (udp_socket(), udp_socket());
    let p = sandbox(Grants::default().network(["127.0.0.1:*"]).unwrap()).await;
    let intruder_addr = intruder.local_addr().unwrap().to_string();
    let report = udp_reply_race(&p, granted, intruder).await;
    assert_eq!(allowed(&report)["reply"], "evil", "{report}");
    assert_eq!(allowed(&report)["from"], intruder_addr.as_str());
}

#[tokio::test]
async fn listen_needs_a_listen_grant() {
    // A network (connect) grant, even a wide one, does not allow listening.
    let p = sandbox(Grants::default().network(["127.0.0.1:*"]).unwrap()).await;
    denied(&probe(&p, "tcp-listen", json!({"addr": "127.0.0.1:0"})).await);
    denied(&probe(&p, "tcp-listen", json!({"addr": "0.0.0.0:0"})).await);
    let p = sandbox(Grants::default()).await;
    denied(&probe(&p, "tcp-listen", json!({"addr": "127.0.0.1:0"})).await);
    // Positive control.
    let p = sandbox(Grants::default().listen(["127.0.0.1:0"]).unwrap()).await;
    let report = probe(&p, "tcp-listen", json!({"addr": "127.0.0.1:0"})).await;
    let local: SocketAddr = allowed(&report).as_str().unwrap().parse().unwrap();
    assert_eq!(local.ip().to_string(), "127.0.0.1");
    assert_ne!(local.port(), 0);
}

#[tokio::test]
async fn listen_grant_on_loopback_does_not_allow_other_addresses() {
    let p = sandbox(Grants::default().listen(["127.0.0.1:0"]).unwrap()).await;
    // Every interface, and the IPv6 wildcard: not granted.
    denied(&probe(&p, "tcp-listen", json!({"addr": "0.0.0.0:0"})).await);
    denied(&probe(&p, "tcp-listen", json!({"addr": "[::]:0"})).await);
    // A grant of one port does not allow an ephemeral one.
    let p = sandbox(Grants::default().listen(["127.0.0.1:1"]).unwrap()).await;
    denied(&probe(&p, "tcp-listen", json!({"addr": "127.0.0.1:0"})).await);
}

#[tokio::test]
async fn dns_lookup_is_denied_unless_a_name_is_granted() {
    // Without a grant, and with IP grants only: no name lookups at all.
    for grants in [
        Grants::default(),
        Grants::default().network(["127.0.0.1:*"]).unwrap(),
    ] {
        let p = sandbox(grants).await;
        denied(&probe(&p, "dns-lookup", json!({"name": "localhost"})).await);
    }
    // Positive control: a granted name resolves (from /etc/hosts; no DNS traffic).
    let p = sandbox(Grants::default().network(["localhost:*"]).unwrap()).await;
    let report = probe(&p, "dns-lookup", json!({"name": "localhost"})).await;
    let addrs = allowed(&report).as_array().unwrap().clone();
    assert!(
        addrs.iter().any(|a| a == "127.0.0.1" || a == "::1"),
        "{report}"
    );
}

#[tokio::test]
async fn a_name_grant_allows_its_addresses() {
    let server = TcpServer::start();
    let p = sandbox(
        Grants::default()
            .network([format!("localhost:{}", server.addr.port())])
            .unwrap(),
    )
    .await;
    let report = probe(&p, "tcp-connect", json!({"addr": server.grant()})).await;
    assert_eq!(allowed(&report), "pong:ping");
    assert_eq!(server.finish().as_deref(), Some("ping"));
}
