//! A plugin written in Python: `plugins/python/wordfreq/app.py`, built with
//! componentize-py by `scripts/python-plugins.sh` (`make test` runs it first) into
//! `target/wasm/python/wordfreq.wasm`, a component of `wasp:plugin@0.3.0`.
//!
//! Where the script could not install componentize-py (no network) it writes the
//! reason to `target/wasm/python/SKIPPED` instead, and this test prints it and passes.
//!
//! One test loads the plugin once and checks everything: compiling the ~18 MB
//! component (CPython and its snapshot) takes seconds, not milliseconds.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use wasp_host::{Error, Plugin, PluginOptions, Runtime};

const WASM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/wasm/python/wordfreq.wasm"
);
const SKIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm/python/SKIPPED");

/// The plugin's `code` when `result` is a plugin-error; panics on anything else.
fn plugin_error_code(function: &str, result: wasp_host::Result<Vec<u8>>) -> String {
    match result {
        Err(Error::Plugin { code, message, .. }) => {
            assert!(
                !message.is_empty(),
                "{function}: plugin-error {code} without a message"
            );
            code
        }
        Ok(out) => panic!(
            "{function}: expected a plugin-error, got output {:?}",
            String::from_utf8_lossy(&out)
        ),
        Err(other) => panic!("{function}: expected a plugin-error, got {other:?}"),
    }
}

async fn call_text(plugin: &Plugin, function: &str, input: &[u8]) -> String {
    let out = plugin
        .call_raw(function, input)
        .await
        .unwrap_or_else(|e| panic!("{function}({:?}): {e}", String::from_utf8_lossy(input)));
    String::from_utf8(out).expect("the plugin answers UTF-8")
}

async fn process(plugin: &Plugin, event: &Value) -> Value {
    let out = call_text(plugin, "process", event.to_string().as_bytes()).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("process: not JSON ({e}): {out}"))
}

#[tokio::test]
async fn python_wordfreq_plugin() {
    if !Path::new(WASM).exists() {
        match std::fs::read_to_string(SKIPPED) {
            Ok(reason) => {
                eprintln!("python plugin test skipped: {}", reason.trim());
                return;
            }
            Err(_) => panic!(
                "{WASM} is missing: run scripts/python-plugins.sh (make test runs it) to build it"
            ),
        }
    }

    let runtime = Runtime::builder().build().expect("runtime builds");
    let start = Instant::now();
    let plugin = runtime
        .load_file(WASM, PluginOptions::default())
        .await
        .expect("the Python plugin loads under the default limits and grants");
    eprintln!(
        "python wordfreq: cold load (compile + instantiate + init) in {:?}",
        start.elapsed()
    );

    assert_eq!(plugin.api_version(), wasp_host::ApiVersion::V0_3_0);
    // info, as app.py declares it.
    let info = plugin.info();
    assert_eq!(info.name, "wordfreq");
    assert_eq!(info.version, "0.1.0");
    assert!(info.description.contains("Python"), "{}", info.description);
    assert_eq!(info.functions, ["count", "process"]);

    // count: the number of words, as text.
    assert_eq!(
        call_text(&plugin, "count", b"the cat and the hat").await,
        "5"
    );
    assert_eq!(call_text(&plugin, "count", b"").await, "0");
    assert_eq!(
        call_text(&plugin, "count", "héllo, wörld!\n  x".as_bytes()).await,
        "3"
    );

    // process: the event, unchanged but for `top`, the 3 most frequent words
    // (lower-cased; ties in order of first appearance).
    let event = json!({"id": 7, "message": "The cat and the dog and THE bird. A cat!"});
    let out = process(&plugin, &event).await;
    assert_eq!(out["top"], json!(["the", "cat", "and"]), "{out}");
    assert_eq!(out["id"], 7, "{out}");
    assert_eq!(out["message"], event["message"], "{out}");
    assert_eq!(out.as_object().map(|o| o.len()), Some(3), "{out}");
    let out = process(&plugin, &json!({"message": "solo"})).await;
    assert_eq!(out["top"], json!(["solo"]), "{out}");

    // A function that is not listed: the host refuses it itself, before the plugin
    // runs (NoSuchFunction); were it passed on, the plugin's own answer is the
    // plugin-error `unknown-function`.
    match plugin.call_raw("reverse", b"abc").await {
        Err(Error::NoSuchFunction {
            function,
            available,
            ..
        }) => {
            assert_eq!(function, "reverse");
            assert_eq!(available, ["count", "process"]);
        }
        other => assert_eq!(plugin_error_code("reverse", other), "unknown-function"),
    }

    // Undecodable input is the plugin-error `bad-input`, not a fault.
    for (function, input) in [
        ("count", &b"\xff\xfe not UTF-8"[..]),
        ("process", b"not json"),
        ("process", b"[1, 2]"),
        ("process", br#"{"message": 42}"#),
    ] {
        let code = plugin_error_code(function, plugin.call_raw(function, input).await);
        assert_eq!(
            code,
            "bad-input",
            "{function}({:?})",
            String::from_utf8_lossy(input)
        );
    }

    // call-batch, written in Python: one result per input, in order.
    let inputs = vec![b"a b".to_vec(), b"\xff".to_vec(), b"one".to_vec()];
    let out = plugin.call_batch("count", &inputs).await.unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].as_deref().unwrap(), b"2");
    assert!(matches!(&out[1], Err(Error::Plugin { code, .. }) if code == "bad-input"));
    assert_eq!(out[2].as_deref().unwrap(), b"1");

    // Plugin-errors do not break the instance: it still answers.
    assert_eq!(call_text(&plugin, "count", b"still here").await, "2");
}
