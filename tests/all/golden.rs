//! Plugins built for `wasp:plugin@0.1.0` and committed as binaries
//! (`tests/golden/v0.1.0/`, see its README) keep loading and working, unchanged,
//! whatever the host becomes. Their sha256 is pinned so they cannot drift.

use std::path::PathBuf;

use wasp_host::{ApiVersion, Error, Fault, Json, PluginOptions};

use crate::runtime;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden/v0.1.0")
        .join(format!("{name}.wasm"))
}

/// The pins of the README, so a replaced binary fails here.
const PINS: &[(&str, &str)] = &[
    (
        "upper",
        "9966e688f6c59bea2830263606b654068d7ed40f552d681c5f65ad73fb5a1780",
    ),
    (
        "redact",
        "eb8687f75599cb3ed1cb3f070322ce2e8f2acdf4fbba3b5a6c95cab665398cf3",
    ),
    (
        "stats",
        "0abbf85b25cb58c473682ac071e68ccc62bc80015417a1c89a55ba3e391f434a",
    ),
    (
        "wordcount",
        "8975bfacf4ea9a529e14b6d2fe00f7c13ca3221a242b4f2f79970de3eaad7e64",
    ),
    (
        "hostile",
        "59690deef51c30676d32649ee242b087fdc5de9ee89cddc12a278d7cc4fde434",
    ),
];

async fn load(name: &str, options: PluginOptions) -> wasp_host::Plugin {
    let pin = PINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
        .expect("pinned");
    let mut digest = [0u8; 32];
    for (i, b) in digest.iter_mut().enumerate() {
        *b = u8::from_str_radix(&pin[2 * i..2 * i + 2], 16).unwrap();
    }
    let p = runtime()
        .load_file_as(name, golden(name), options.sha256(digest))
        .await
        .unwrap();
    assert_eq!(p.api_version(), ApiVersion::V0_1_0);
    p
}

#[tokio::test]
async fn golden_example_plugins_still_work() {
    let upper = load("upper", PluginOptions::default()).await;
    let out: String = upper.call("upper", "golden").await.unwrap();
    assert_eq!(out, "GOLDEN");

    let redact = load("redact", PluginOptions::default()).await;
    let out: String = redact
        .call("redact", "write to ann@example.org")
        .await
        .unwrap();
    assert_eq!(out, "write to ***@example.org");

    let stats = load("stats", PluginOptions::default().max_instances(1)).await;
    for expected in 1..=2 {
        let Json(v): Json<serde_json::Value> = stats
            .call("process", Json(serde_json::json!({"type": "x"})))
            .await
            .unwrap();
        assert_eq!(v["seen"], expected);
    }

    let wc = load("wordcount", PluginOptions::default()).await;
    let Json(v): Json<serde_json::Value> = wc.call("count", "a b c").await.unwrap();
    assert_eq!(v["words"], 3);
}

#[tokio::test]
async fn golden_hostile_plugin_is_still_contained() {
    let h = load("hostile", PluginOptions::default()).await;
    let err = h.call_raw("panic", b"old panic").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Fault {
                fault: Fault::Panic { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let err = h.call_raw("fail", b"why").await.unwrap_err();
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    let n: String = h.call("count", "").await.unwrap();
    assert_eq!(n, "1");
}
