//! Preparing without running: `inspect` and `check` never run `init`; options
//! and grants are refused at load by type; the nesting rule holds for every way
//! in (a manifest, `Plugins::load`, a reload, a watched swap).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasp_host::manifest::Manifest;
use wasp_host::{Error, Fault, FileGrant, FileMode, GrantError, Grants, LoadError, PluginOptions};
use wasp_tests::{fixtures, wasm_bytes};

use crate::runtime;

#[tokio::test]
async fn inspect_never_runs_init() {
    for (name, path) in [
        ("init-loop", fixtures::INIT_LOOP),
        ("init-trap", fixtures::INIT_TRAP),
    ] {
        let i = runtime().inspect(name, wasm_bytes(path)).await.unwrap();
        assert!(i.problem.is_none(), "{name}: {:?}", i.problem);
        let info = i.info.expect("info is read");
        assert_eq!(info.functions, ["echo"], "{name}");
        assert_eq!(i.api_version, Some(wasp_host::ApiVersion::V0_3_0));
    }
}

#[tokio::test]
async fn loading_runs_init_and_reports_its_fault() {
    let limits = wasp_host::Limits::default().timeout(Duration::from_millis(200));
    let err = runtime()
        .load_file(fixtures::INIT_LOOP, PluginOptions::default().limits(limits))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Fault { function, fault: Fault::Timeout { .. } | Fault::FuelExhausted { .. }, .. } if function == "init"),
        "{err:?}"
    );
    let err = runtime()
        .load_file(fixtures::INIT_TRAP, PluginOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Fault { function, fault: Fault::Panic { .. }, .. } if function == "init"),
        "{err:?}"
    );
}

#[tokio::test]
async fn check_prepares_a_manifest_without_init() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wasp.toml");
    std::fs::write(
        &file,
        format!(
            "[plugins.loop]\npath = \"{}\"\n[plugins.trap]\npath = \"{}\"\n",
            fixtures::INIT_LOOP,
            fixtures::INIT_TRAP
        ),
    )
    .unwrap();
    let m = Manifest::from_file(&file).unwrap();
    let checked = runtime().check(&m).await.unwrap();
    let names: Vec<&str> = checked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["loop", "trap"]);
    // Loading it runs init, which fails.
    assert!(runtime().load(&m).await.is_err());
}

#[tokio::test]
async fn max_instances_zero_is_refused_naming_the_key() {
    let err = runtime()
        .load_file(fixtures::UPPER, PluginOptions::default().max_instances(0))
        .await
        .unwrap_err();
    match err.load_error() {
        Some(LoadError::InvalidOption { key, .. }) => assert_eq!(*key, "max-instances"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("max-instances"), "{err}");
    // max-queue = 0 is valid: nobody waits.
    runtime()
        .load_file(fixtures::UPPER, PluginOptions::default().max_queue(0))
        .await
        .unwrap();
}

fn rw(dir: &std::path::Path) -> PluginOptions {
    PluginOptions::default().grants(Grants::default().file(FileGrant::new(
        dir,
        "/d",
        FileMode::ReadWrite,
    )))
}

fn ro(dir: &std::path::Path) -> PluginOptions {
    PluginOptions::default().grants(Grants::default().file(FileGrant::new(
        dir,
        "/d",
        FileMode::ReadOnly,
    )))
}

fn nested(err: &Error) -> bool {
    matches!(
        err.load_error(),
        Some(LoadError::Grant(GrantError::NestedInReadWrite { .. }))
    )
}

#[tokio::test]
async fn plugins_load_refuses_a_grant_inside_another_plugins_read_write_grant() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    let plugins = runtime().plugins();
    plugins
        .load("a", fixtures::UPPER, rw(dir.path()))
        .await
        .unwrap();
    let err = plugins
        .load("b", fixtures::UPPER, ro(&inner))
        .await
        .unwrap_err();
    assert!(nested(&err), "{err:?}");
    assert_eq!(plugins.names(), ["a"]);
    // The other way round: a read-write grant around a loaded plugin's grant.
    let plugins = runtime().plugins();
    plugins
        .load("b", fixtures::UPPER, ro(&inner))
        .await
        .unwrap();
    let err = plugins
        .load("a", fixtures::UPPER, rw(dir.path()))
        .await
        .unwrap_err();
    assert!(nested(&err), "{err:?}");
    // Replacing a plugin is checked against the others, not against itself.
    plugins
        .load("b", fixtures::UPPER, ro(&inner))
        .await
        .unwrap();
}

/// Lays out `a`'s read-write directory and `b`'s directory side by side, then
/// makes `b`'s directory reachable only through `a`'s (what `a` could do if it
/// could plant a symlink there).
fn plant(root: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let a = root.join("a");
    let b = root.join("b");
    std::fs::create_dir_all(a.join("moved/sub")).unwrap();
    std::fs::create_dir_all(b.join("sub")).unwrap();
    (a, b)
}

#[cfg(unix)]
fn redirect(root: &std::path::Path) {
    std::fs::rename(root.join("b"), root.join("b-old")).unwrap();
    std::os::unix::fs::symlink(root.join("a/moved"), root.join("b")).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_reload_is_refused_when_its_grant_now_lies_inside_a_read_write_grant() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = plant(root.path());
    let plugins = runtime().plugins();
    plugins.load("a", fixtures::UPPER, rw(&a)).await.unwrap();
    let old = plugins
        .load("b", fixtures::UPPER, ro(&b.join("sub")))
        .await
        .unwrap();
    redirect(root.path());
    let err = plugins.reload("b").await.unwrap_err();
    assert!(nested(&err), "{err:?}");
    // The old version keeps serving.
    let still = plugins.get("b").unwrap();
    assert_eq!(still.sha256(), old.sha256());
    let out: String = still.call("upper", "ok").await.unwrap();
    assert_eq!(out, "OK");
}

/// Log lines, sent to the test as they are written.
#[derive(Clone)]
struct Lines(Arc<Mutex<tokio::sync::mpsc::UnboundedSender<String>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self
            .0
            .lock()
            .unwrap()
            .send(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn a_watched_swap_is_refused_when_its_grant_now_lies_inside_a_read_write_grant() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = Lines(Arc::new(Mutex::new(tx)));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("wasp::registry=warn")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // A current-thread runtime: the watcher's task runs on this thread, under
    // this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let root = tempfile::tempdir().unwrap();
    let (a, b) = plant(root.path());
    let wasm = root.path().join("b.wasm");
    std::fs::copy(fixtures::UPPER, &wasm).unwrap();
    let plugins = runtime().plugins();
    plugins.load("a", fixtures::UPPER, rw(&a)).await.unwrap();
    let old = plugins.load("b", &wasm, ro(&b.join("sub"))).await.unwrap();
    let _watch = plugins.watch().unwrap();
    redirect(root.path());
    // A new file for `b` (another build): the watcher tries to swap it in.
    std::fs::write(&wasm, wasm_bytes(fixtures::REDACT)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&wasm)
        .unwrap()
        .flush()
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = rx.recv().await {
            if line.contains("does not load") && line.contains("inside the read-write grant") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(refused, Ok(true)), "no refusal was logged");
    assert_eq!(plugins.get("b").unwrap().sha256(), old.sha256());
}
