//! Manifest errors as the operator sees them: `tests/ui/*.toml` → `.err`
//! snapshots (refresh with `BLESS=1 cargo test -p wasp-tests manifest`), and a
//! manifest that loads real plugins.

use std::path::Path;

use wasp_host::manifest::Manifest;

use crate::runtime;

/// Each case goes through what `wasp check` does: parse (pure), then the checks
/// of files and grants at load, then preparing the plugin (the `path`s here are
/// not wasm, so a case that passes every manifest check ends at the loader).
#[tokio::test]
async fn ui_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let bless = std::env::var_os("BLESS").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Relative paths are taken against the manifest's directory: run from
        // tests/ so that `ui/...` resolves.
        let got = match Manifest::parse(&text, dir.join(path.file_name().unwrap())) {
            Ok(m) => match runtime().check(&m).await {
                Ok(_) => "ok\n".to_string(),
                Err(e) => format!("{e}\n"),
            },
            Err(e) => format!("{e}\n"),
        }
        // Paths as the operator wrote them, not where this checkout lives.
        .replace(&dir.display().to_string(), "ui")
        .replace(env!("CARGO_MANIFEST_DIR"), "<tests>");
        let snap = path.with_extension("err");
        if bless {
            std::fs::write(&snap, &got).unwrap();
        } else {
            let want = std::fs::read_to_string(&snap)
                .unwrap_or_else(|_| panic!("{} missing: run with BLESS=1", snap.display()));
            assert_eq!(got, want, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} ui cases");
}

#[tokio::test]
async fn manifest_loads_plugins_with_their_options() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[defaults.limits]
timeout = "1s"

[plugins.upper]
path = "{upper}"

[plugins.hostile]
path = "{hostile}"
config = {{ greeting = "hello", answer = 42 }}
limits = {{ fuel = 50_000_000 }}

[pipeline]
stages = ["upper"]
"#,
        upper = wasp_tests::fixtures::UPPER,
        hostile = wasp_tests::fixtures::HOSTILE,
    );
    let file = dir.path().join("wasp.toml");
    std::fs::write(&file, text).unwrap();
    let plugins = runtime().load_manifest(&file).await.unwrap();
    assert_eq!(plugins.names(), ["hostile", "upper"]);
    let h = plugins.get("hostile").unwrap();
    let answer: String = h.call("config", "answer").await.unwrap();
    assert_eq!(answer, "42");
    assert_eq!(h.limits().fuel, 50_000_000);
    assert_eq!(h.limits().timeout, std::time::Duration::from_secs(1));
    let err = plugins.get("nope").unwrap_err();
    assert!(err.to_string().contains("loaded: hostile, upper"), "{err}");
}
