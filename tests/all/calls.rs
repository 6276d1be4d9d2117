//! Calls: typed and raw, config, host functions, plugin errors, state, logs.

use std::sync::{Arc, Mutex};

use wasp_host::{Bincode, Error, Grants, InstanceMode, Json, PluginOptions};
use wasp_tests::fixtures;

use crate::{hostile, load_as};

#[tokio::test]
async fn string_call() {
    let p = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let out: String = p.call("upper", "hello, wasp").await.unwrap();
    assert_eq!(out, "HELLO, WASP");
}

#[tokio::test]
async fn raw_bytes_pass_unchanged() {
    let p = hostile(PluginOptions::default()).await;
    let input: Vec<u8> = (0..=255u8).collect();
    assert_eq!(p.call_raw("echo", &input).await.unwrap(), input);
    assert_eq!(p.call_raw("echo", b"").await.unwrap(), b"");
}

#[tokio::test]
async fn json_and_bincode_calls() {
    let p = hostile(PluginOptions::default()).await;
    let Json(sum): Json<i64> = p.call("json-sum", Json(vec![1i64, 2, 39])).await.unwrap();
    assert_eq!(sum, 42);
    let Bincode(swapped): Bincode<(u32, String)> = p
        .call("bincode-pair", Bincode(("x".to_string(), 7u32)))
        .await
        .unwrap();
    assert_eq!(swapped, (7, "x".to_string()));
}

#[tokio::test]
async fn bad_output_encoding_is_a_codec_error() {
    let p = hostile(PluginOptions::default()).await;
    let err = p
        .call::<_, Json<Vec<u8>>>("echo", "not json")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    let err = p
        .call::<_, String>("echo", &[0xffu8, 0xfe][..])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn json_event_processing_in_example_plugins() {
    let upper = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let Json(v): Json<serde_json::Value> = upper
        .call(
            "process",
            Json(serde_json::json!({"message": "hi there", "n": 1})),
        )
        .await
        .unwrap();
    assert_eq!(v, serde_json::json!({"message": "HI THERE", "n": 1}));

    let redact = load_as("redact", fixtures::REDACT, PluginOptions::default())
        .await
        .unwrap();
    let Json(v): Json<serde_json::Value> = redact
        .call(
            "process",
            Json(serde_json::json!({"msg": "mail bob@example.com, card 4111 1111 1111 1111", "id": 5})),
        )
        .await
        .unwrap();
    let msg = v["msg"].as_str().unwrap();
    assert!(
        !msg.contains("bob@") && msg.contains("@example.com"),
        "{msg}"
    );
    assert!(!msg.contains("4111 1111") && msg.contains("1111"), "{msg}");
    assert_eq!(v["id"], 5);
}

#[tokio::test]
async fn unknown_function_lists_the_available_ones() {
    let p = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let err = p.call_raw("nope", b"").await.unwrap_err();
    match &err {
        Error::NoSuchFunction { available, .. } => assert!(available.iter().any(|f| f == "upper")),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn plugin_error_is_typed_and_exit_code_1() {
    let p = hostile(PluginOptions::default()).await;
    let err = p.call_raw("fail", b"the reason").await.unwrap_err();
    match &err {
        Error::Plugin {
            plugin,
            function,
            code,
            message,
        } => {
            assert_eq!((plugin.as_str(), function.as_str()), ("hostile", "fail"));
            assert_eq!(code, "bad-input");
            assert_eq!(message, "the reason");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "plugin 'hostile' function 'fail': bad-input: the reason"
    );
    assert_eq!(err.exit_code(), 1);
    // A plugin error is not a fault: the instance is kept.
    assert_eq!(p.stats().total_faults(), 0);
    assert_eq!(p.stats().errors, 1);
}

#[tokio::test]
async fn config_comes_from_the_options() {
    let p = hostile(PluginOptions::default().config("greeting", "hi")).await;
    let v: String = p.call("config", "greeting").await.unwrap();
    assert_eq!(v, "hi");
    let err = p.call_raw("config", b"other").await.unwrap_err();
    assert!(
        matches!(err, Error::Plugin { ref code, .. } if code == "missing"),
        "{err:?}"
    );
}

#[tokio::test]
async fn call_host_is_denied_unless_granted() {
    let denied = hostile(PluginOptions::default()).await;
    let err = denied.call_raw("host", b"echo").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("not granted") && text.contains("host-functions"),
        "{text}"
    );

    let granted = hostile(
        PluginOptions::default().grants(Grants::default().host_functions(["echo", "refuse"])),
    )
    .await;
    let out: String = granted.call("host", "echo").await.unwrap();
    assert_eq!(out, "hostile says ping");
    let err = granted.call_raw("host", b"refuse").await.unwrap_err();
    assert!(err.to_string().contains("refused by the host"), "{err}");
}

#[tokio::test]
async fn granting_an_unregistered_host_function_is_a_load_error() {
    let err = load_as(
        "hostile",
        fixtures::HOSTILE,
        PluginOptions::default().grants(Grants::default().host_functions(["nope"])),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("no host function named 'nope'"),
        "{err}"
    );
}

#[tokio::test]
async fn state_is_kept_across_calls_in_reuse_mode() {
    let p = load_as(
        "stats",
        fixtures::STATS,
        PluginOptions::default().max_instances(1),
    )
    .await
    .unwrap();
    for expected in 1..=3 {
        let Json(v): Json<serde_json::Value> = p
            .call("process", Json(serde_json::json!({"type": "login"})))
            .await
            .unwrap();
        assert_eq!(v["seen"], expected);
    }
    let Json(counts): Json<serde_json::Value> = p.call("counts", "").await.unwrap();
    assert_eq!(counts["login"], 3);
}

#[tokio::test]
async fn per_call_mode_starts_fresh_every_time() {
    let p = hostile(PluginOptions::default().instance(InstanceMode::PerCall)).await;
    for _ in 0..3 {
        let n: String = p.call("count", "").await.unwrap();
        assert_eq!(n, "1");
    }
    let reuse = hostile(PluginOptions::default()).await;
    for expected in 1..=3 {
        let n: String = reuse.call("count", "").await.unwrap();
        assert_eq!(n, expected.to_string());
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_and_stdio_reach_tracing_tagged_with_the_plugin() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let p = hostile(PluginOptions::default()).await;
    let _: String = p.call("log", "hello-log").await.unwrap();
    let _: String = p.call("print", "100").await.unwrap();
    let _: String = p.call("stderr", "to-stderr").await.unwrap();
    let _: String = p.call("log-fields", "structured").await.unwrap();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for level in ["TRACE", "DEBUG", " INFO", " WARN", "ERROR"] {
        assert!(
            text.lines().any(|l| l.contains(level)
                && l.contains("hello-log")
                && l.contains("plugin=\"hostile\"")),
            "{level} missing in:\n{text}"
        );
    }
    assert!(
        text.contains("wasp::plugin::stdout") && text.contains("xxxxxxxx"),
        "{text}"
    );
    assert!(
        text.contains("wasp::plugin::stderr") && text.contains("to-stderr"),
        "{text}"
    );
}

#[tokio::test]
async fn stdin_is_empty() {
    let p = hostile(PluginOptions::default()).await;
    let n: String = p.call("stdin", "").await.unwrap();
    assert_eq!(n, "0");
}

#[tokio::test]
async fn input_over_max_input_is_refused_before_the_call() {
    let p =
        hostile(PluginOptions::default().limits(wasp_host::Limits::default().max_input(16))).await;
    let err = p.call_raw("echo", &[0u8; 17]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InputTooLarge {
                size: 17,
                limit: 16,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(p.call_raw("echo", &[1u8; 16]).await.unwrap().len(), 16);
}

/// The porting guide's worked example (docs/porting.md), through the host.
#[tokio::test]
async fn ported_log_parser_parses_through_the_host() {
    let p = crate::load_as(
        "logparse",
        wasp_tests::fixtures::LOGPARSE,
        PluginOptions::default(),
    )
    .await
    .unwrap();
    let Json(v): Json<serde_json::Value> = p
        .call(
            "parse",
            r#"2026-12-03T10:00:00Z WARN user=bob path="/x y" slow"#,
        )
        .await
        .unwrap();
    assert_eq!(v["level"], "warn");
    assert_eq!(v["path"], "/x y");
    assert_eq!(v["msg"], "slow");
    let err = p.call_raw("parse", b"oops").await.unwrap_err();
    assert!(
        matches!(&err, wasp_host::Error::Plugin { code, message, .. }
            if code == "bad-input" && message.contains("timestamp")),
        "{err:?}"
    );
    // A wrongly typed input names the type the function expected.
    let err = p.call_raw("process", b"[1]").await.unwrap_err();
    assert!(
        err.to_string().contains("the event needs a string field"),
        "{err}"
    );
    let err = p.call_raw("process", b"not json").await.unwrap_err();
    assert!(err.to_string().contains("as `Json<Value>`"), "{err}");
}

/// The SIMD example: byte loops give the same answers, built with +simd128.
#[tokio::test]
async fn simd_byte_loops_work_through_the_host() {
    let p = crate::load_as(
        "bytewise",
        wasp_tests::fixtures::BYTEWISE,
        PluginOptions::default(),
    )
    .await
    .unwrap();
    let input: Vec<u8> = (0..70_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = p.call_raw("upper", &input).await.unwrap();
    assert_eq!(out, input.to_ascii_uppercase());
    let mut probe = vec![b'q'];
    probe.extend_from_slice(&input);
    let n: String = p.call("count", probe).await.unwrap();
    assert_eq!(n, input.iter().filter(|&&b| b == b'q').count().to_string());
}
