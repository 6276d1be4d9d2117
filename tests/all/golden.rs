//! Plugins built for older worlds and committed as binaries (`tests/golden/vX.Y.Z/`,
//! see each folder's README) keep loading and working, unchanged, whatever the host
//! becomes. Their sha256 is pinned so they cannot drift.

use std::path::PathBuf;

use wasp_host::{ApiVersion, Error, Fault, Json, PluginOptions};

use crate::runtime;

/// The pins of the folders' READMEs, so a replaced binary fails here:
/// (world version, plugin, sha256).
const PINS: &[(&str, &str, &str)] = &[
    (
        "0.1.0",
        "upper",
        "9966e688f6c59bea2830263606b654068d7ed40f552d681c5f65ad73fb5a1780",
    ),
    (
        "0.1.0",
        "redact",
        "eb8687f75599cb3ed1cb3f070322ce2e8f2acdf4fbba3b5a6c95cab665398cf3",
    ),
    (
        "0.1.0",
        "stats",
        "0abbf85b25cb58c473682ac071e68ccc62bc80015417a1c89a55ba3e391f434a",
    ),
    (
        "0.1.0",
        "wordcount",
        "8975bfacf4ea9a529e14b6d2fe00f7c13ca3221a242b4f2f79970de3eaad7e64",
    ),
    (
        "0.1.0",
        "hostile",
        "59690deef51c30676d32649ee242b087fdc5de9ee89cddc12a278d7cc4fde434",
    ),
    (
        "0.2.0",
        "upper",
        "c1bd4f3486504e1e5566e0c085ee2fc84681d2224b166815a54907b7f2b7eb28",
    ),
    (
        "0.2.0",
        "stats",
        "f15f78f9ac11bb359555d370bf2edf6b30464acbbef0fe78e6d40e62a4cbc214",
    ),
    (
        "0.2.0",
        "hostile",
        "fabfbdb246d884f6c1a5e8018f0746d533a588e6850ec4cd0947e21081d0011d",
    ),
    (
        "0.3.0",
        "upper",
        "c99cdb5216b87279d2800afd615cb3c12aced4e7f1084490ab1157716625d6a2",
    ),
    (
        "0.3.0",
        "stats",
        "98e7889edf3e5d7054ac17dc414b3a0a85f5ebb443d01868ed1085534658178c",
    ),
    (
        "0.3.0",
        "hostile",
        "18ac41d9a2804172149112baf0105f769132cca8fbd77c0c8816a283028f0147",
    ),
];

/// Loads golden plugin `name` of world `version`, pinned, and checks that the host
/// sees the version it was built for.
async fn load(version: ApiVersion, name: &str, options: PluginOptions) -> wasp_host::Plugin {
    let dir = version.to_string();
    let pin = PINS
        .iter()
        .find(|(v, n, _)| *v == dir && *n == name)
        .map(|(_, _, h)| *h)
        .expect("pinned");
    let mut digest = [0u8; 32];
    for (i, b) in digest.iter_mut().enumerate() {
        *b = u8::from_str_radix(&pin[2 * i..2 * i + 2], 16).unwrap();
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("golden/v{dir}"))
        .join(format!("{name}.wasm"));
    let p = runtime()
        .load_file_as(&format!("{name}-{dir}"), path, options.sha256(digest))
        .await
        .unwrap();
    assert_eq!(p.api_version(), version);
    p
}

/// `stats` counts per instance (no kv grant): 1, then 2 on the same instance.
async fn stats_counts(stats: &wasp_host::Plugin) {
    for expected in 1..=2 {
        let Json(v): Json<serde_json::Value> = stats
            .call("process", Json(serde_json::json!({"type": "x"})))
            .await
            .unwrap();
        assert_eq!(v["seen"], expected);
    }
}

/// The hostile fixture's faults are still contained and told apart.
async fn hostile_is_contained(h: &wasp_host::Plugin) {
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

#[tokio::test]
async fn golden_example_plugins_still_work() {
    let upper = load(ApiVersion::V0_1_0, "upper", PluginOptions::default()).await;
    let out: String = upper.call("upper", "golden").await.unwrap();
    assert_eq!(out, "GOLDEN");

    let redact = load(ApiVersion::V0_1_0, "redact", PluginOptions::default()).await;
    let out: String = redact
        .call("redact", "write to ann@example.org")
        .await
        .unwrap();
    assert_eq!(out, "write to ***@example.org");

    let stats = load(
        ApiVersion::V0_1_0,
        "stats",
        PluginOptions::default().max_instances(1),
    )
    .await;
    stats_counts(&stats).await;

    let wc = load(ApiVersion::V0_1_0, "wordcount", PluginOptions::default()).await;
    let Json(v): Json<serde_json::Value> = wc.call("count", "a b c").await.unwrap();
    assert_eq!(v["words"], 3);
}

#[tokio::test]
async fn golden_hostile_plugin_is_still_contained() {
    let h = load(ApiVersion::V0_1_0, "hostile", PluginOptions::default()).await;
    hostile_is_contained(&h).await;
}

#[tokio::test]
async fn golden_v0_2_0_plugins_still_work() {
    let upper = load(ApiVersion::V0_2_0, "upper", PluginOptions::default()).await;
    let out: String = upper.call("upper", "golden").await.unwrap();
    assert_eq!(out, "GOLDEN");

    let stats = load(
        ApiVersion::V0_2_0,
        "stats",
        PluginOptions::default().max_instances(1),
    )
    .await;
    stats_counts(&stats).await;

    let h = load(ApiVersion::V0_2_0, "hostile", PluginOptions::default()).await;
    hostile_is_contained(&h).await;
    // A 0.2.0 plugin has no call-batch: the host calls it once per input.
    let inputs = vec![b"a".to_vec(), b"b".to_vec()];
    let out = h.call_batch("echo", &inputs).await.unwrap();
    let out: Vec<Vec<u8>> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(out, inputs);
}

#[tokio::test]
async fn golden_v0_3_0_plugins_still_work() {
    let upper = load(ApiVersion::V0_3_0, "upper", PluginOptions::default()).await;
    let out: String = upper.call("upper", "golden").await.unwrap();
    assert_eq!(out, "GOLDEN");
    // Its call-batch, built by the SDK of its day.
    let words = vec![b"a".to_vec(), b"b".to_vec()];
    let out: Vec<Vec<u8>> = upper
        .call_batch("upper", &words)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, [b"A".to_vec(), b"B".to_vec()]);

    let stats = load(
        ApiVersion::V0_3_0,
        "stats",
        PluginOptions::default().max_instances(1),
    )
    .await;
    stats_counts(&stats).await;

    let h = load(ApiVersion::V0_3_0, "hostile", PluginOptions::default()).await;
    hostile_is_contained(&h).await;
    let batch = vec![b"{}".to_vec(), b"{\"poison\":\"fail\"}".to_vec()];
    let out = h.call_batch("process", &batch).await.unwrap();
    assert!(out[0].is_ok() && matches!(out[1], Err(Error::Plugin { .. })));
}
