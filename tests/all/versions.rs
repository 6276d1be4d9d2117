//! API versions side by side, and what 0.2.0 adds: kv (isolation, quota,
//! persistence, grant), shutdown on unload, structured log fields.

use std::path::Path;

use wasp_host::{ApiVersion, Error, Grants, PluginOptions, Runtime};
use wasp_tests::fixtures;

fn golden(name: &str) -> String {
    format!("{}/golden/v0.1.0/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

fn kv(quota: Option<u64>) -> PluginOptions {
    PluginOptions::default()
        .max_instances(1)
        .grants(Grants::default().kv(true, quota))
}

async fn hostile_on(rt: &Runtime, name: &str, options: PluginOptions) -> wasp_host::Plugin {
    rt.load_file_as(name, fixtures::HOSTILE, options)
        .await
        .unwrap()
}

#[tokio::test]
async fn plugins_of_both_versions_serve_side_by_side() {
    let rt = Runtime::builder().build().unwrap();
    let old = rt
        .load_file_as("old-upper", golden("upper"), PluginOptions::default())
        .await
        .unwrap();
    let new = rt
        .load_file_as("new-upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    assert_eq!(old.api_version(), ApiVersion::V0_1_0);
    assert_eq!(new.api_version(), ApiVersion::V0_3_0);
    assert_eq!(new.sdk_version(), Some("0.3.0"));
    assert_eq!(old.sdk_version(), None);
    // One pipeline through both: old then new then old.
    let mut event = serde_json::json!({"message": "mixed"})
        .to_string()
        .into_bytes();
    for p in [&old, &new, &old] {
        event = p.call_raw("process", &event).await.unwrap();
    }
    let v: serde_json::Value = serde_json::from_slice(&event).unwrap();
    assert_eq!(v["message"], "MIXED");
}

#[tokio::test]
async fn kv_is_denied_without_the_grant() {
    let rt = Runtime::builder().build().unwrap();
    let p = hostile_on(&rt, "nokv", PluginOptions::default()).await;
    let err = p.call_raw("kv-set", b"k=v").await.unwrap_err();
    match err {
        Error::Plugin { code, message, .. } => {
            assert_eq!(code, "kv");
            assert!(
                message.contains("kv is not granted") && message.contains("kv = true"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn kv_namespaces_are_isolated_between_plugins() {
    let rt = Runtime::builder().build().unwrap();
    let a = hostile_on(&rt, "a", kv(None)).await;
    let b = hostile_on(&rt, "b", kv(None)).await;
    let _: String = a.call("kv-set", "secret=from-a").await.unwrap();
    let _: String = a.call("kv-set", "shared-name=a").await.unwrap();
    let _: String = b.call("kv-set", "shared-name=b").await.unwrap();
    let got: String = a.call("kv-get", "shared-name").await.unwrap();
    assert_eq!(got, "a");
    let got: String = b.call("kv-get", "shared-name").await.unwrap();
    assert_eq!(got, "b");
    let err = b.call_raw("kv-get", b"secret").await.unwrap_err();
    assert!(
        matches!(err, Error::Plugin { ref code, .. } if code == "missing"),
        "{err:?}"
    );
    let keys: String = b.call("kv-list", "").await.unwrap();
    assert_eq!(keys, "shared-name");
    let keys: String = a.call("kv-list", "").await.unwrap();
    assert_eq!(keys, "secret\nshared-name");
    assert!(a.kv_usage().await.unwrap().unwrap() > 0);
}

#[tokio::test]
async fn kv_quota_is_enforced() {
    let rt = Runtime::builder().build().unwrap();
    let p = hostile_on(&rt, "small", kv(Some(64))).await;
    let _: String = p.call("kv-set", "a=0123456789").await.unwrap();
    let big = format!("b={}", "x".repeat(100));
    let err = p.call_raw("kv-set", big.as_bytes()).await.unwrap_err();
    match &err {
        Error::Plugin { code, message, .. } => {
            assert_eq!(code, "kv");
            assert!(message.contains("quota"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing was written, and deleting frees room.
    let err = p.call_raw("kv-get", b"b").await.unwrap_err();
    assert!(matches!(err, Error::Plugin { ref code, .. } if code == "missing"));
    let _: String = p.call("kv-delete", "a").await.unwrap();
    let _: String = p
        .call("kv-set", "c=0123456789012345678901234567890123456789")
        .await
        .unwrap();
}

async fn with_state(path: &Path) -> Runtime {
    Runtime::builder().state(path).build().unwrap()
}

#[tokio::test]
async fn kv_persists_across_a_runtime_restart_and_shutdown_is_called_on_unload() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    {
        let rt = with_state(&db).await;
        let plugins = rt.plugins();
        plugins
            .load("keeper", fixtures::HOSTILE, kv(None))
            .await
            .unwrap();
        let p = plugins.get("keeper").unwrap();
        let _: String = p.call("kv-set", "answer=42").await.unwrap();
        // Unload: the idle instance gets `shutdown`, which counts itself in kv.
        assert!(plugins.unload("keeper").await.is_some());
        assert!(plugins.get("keeper").is_err());
    }
    // A new runtime on the same file (the old one, and its lock, are gone).
    let rt = with_state(&db).await;
    let p = hostile_on(&rt, "keeper", kv(None)).await;
    let answer: String = p.call("kv-get", "answer").await.unwrap();
    assert_eq!(answer, "42");
    let shutdowns: String = p.call("kv-get", "shutdowns").await.unwrap();
    assert_eq!(shutdowns, "1");
    // Another plugin name is another namespace, even on the same file.
    let other = hostile_on(&rt, "other", kv(None)).await;
    assert!(other.call_raw("kv-get", b"answer").await.is_err());
}

#[tokio::test]
async fn a_0_1_0_plugin_is_unloaded_without_shutdown() {
    let rt = Runtime::builder().build().unwrap();
    let plugins = rt.plugins();
    plugins
        .load("old", golden("hostile"), PluginOptions::default())
        .await
        .unwrap();
    let p = plugins.get("old").unwrap();
    let n: String = p.call("count", "").await.unwrap();
    assert_eq!(n, "1");
    assert!(plugins.unload("old").await.is_some());
}

#[tokio::test]
async fn version_9_is_refused_naming_the_supported_versions() {
    let err = Runtime::builder()
        .build()
        .unwrap()
        .load_file(fixtures::VERSION9, PluginOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("wasp:plugin@9.9.0") && text.contains("0.1.0, 0.2.0, 0.3.0"),
        "{text}"
    );
    assert!(text.contains("upgrade the host"), "{text}");
}
