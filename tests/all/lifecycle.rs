//! Run-time lifecycle: busy pools, unload while calls run, reload under load,
//! and no leaks over many load/unload and fault/recycle cycles.

use std::sync::Arc;
use std::time::Duration;

use wasp_host::{Error, Limits, PluginOptions, Runtime};
use wasp_tests::fixtures;

use crate::{assert_no_leak, open_fds, rss_bytes};

fn golden_upper() -> String {
    format!("{}/golden/v0.1.0/upper.wasm", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn a_full_pool_answers_busy() {
    let rt = Runtime::builder().build().unwrap();
    let limits = Limits::default()
        .fuel(u64::MAX / 2)
        .timeout(Duration::from_millis(400));
    let p = rt
        .load_file(
            fixtures::HOSTILE,
            PluginOptions::default()
                .max_instances(1)
                .max_queue(0)
                .limits(limits),
        )
        .await
        .unwrap();
    let spinner = p.clone();
    let spin = tokio::spawn(async move { spinner.call_raw("spin", b"").await });
    tokio::task::yield_now().await;
    // Wait until the spinner holds the only instance.
    while p.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    let err = p.call_raw("echo", b"x").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Busy {
                max_instances: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 2);
    assert!(spin.await.unwrap().unwrap_err().fault().is_some());
    // Free again.
    assert_eq!(p.call_raw("echo", b"x").await.unwrap(), b"x");
}

#[tokio::test]
async fn unload_waits_for_calls_in_flight() {
    let rt = Runtime::builder().build().unwrap();
    let plugins = (rt).plugins();
    plugins
        .load("h", fixtures::HOSTILE, PluginOptions::default())
        .await
        .unwrap();
    let handle = plugins.get("h").unwrap();
    let busy = handle.clone();
    let call = tokio::spawn(async move { busy.call_raw("sleep", b"300").await });
    while handle.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    assert!(plugins.unload("h").await.is_some());
    // The call in flight finished normally, before unload returned.
    assert!(call.is_finished());
    assert_eq!(call.await.unwrap().unwrap(), b"slept");
    // Afterwards: gone by name, and the old handle refuses calls.
    assert!(matches!(plugins.get("h"), Err(Error::NoSuchPlugin { .. })));
    let err = handle.call_raw("echo", b"x").await.unwrap_err();
    assert!(matches!(err, Error::Unloaded { .. }), "{err:?}");
    assert_eq!(handle.stats().instances, 0);
}

#[tokio::test]
async fn a_failed_reload_keeps_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::copy(fixtures::UPPER, &file).unwrap();
    let plugins = (Runtime::builder().build().unwrap()).plugins();
    plugins
        .load("p", &file, PluginOptions::default())
        .await
        .unwrap();
    std::fs::write(&file, b"broken").unwrap();
    let err = plugins.reload("p").await.unwrap_err();
    assert!(
        err.to_string().contains("not a WebAssembly binary"),
        "{err}"
    );
    let out: String = plugins
        .get("p")
        .unwrap()
        .call("upper", "still old")
        .await
        .unwrap();
    assert_eq!(out, "STILL OLD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_ten_thousand_calls_three_plugins_and_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("swapped.wasm");
    std::fs::copy(golden_upper(), &file).unwrap();
    let plugins = (Runtime::builder().build().unwrap()).plugins();
    plugins
        .load("swapped", &file, PluginOptions::default())
        .await
        .unwrap();
    plugins
        .load("redact", fixtures::REDACT, PluginOptions::default())
        .await
        .unwrap();
    plugins
        .load("wordcount", fixtures::WORDCOUNT, PluginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        plugins.get("swapped").unwrap().api_version(),
        wasp_host::ApiVersion::V0_1_0
    );

    const TASKS: usize = 8;
    const CALLS: usize = 10_000;
    let reloaded = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let plugins = plugins.clone();
        let reloaded = reloaded.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut documented) = (0usize, 0usize);
            for i in 0..CALLS {
                if t == 0 && i == CALLS / 2 {
                    // Task 0 swaps the file and reloads in the middle of the run.
                    std::fs::copy(
                        fixtures::UPPER,
                        plugins.get("swapped").unwrap().source().unwrap(),
                    )
                    .unwrap();
                    plugins.reload("swapped").await.unwrap();
                    reloaded.notify_waiters();
                }
                let (name, function, input, want): (&str, &str, String, Option<String>) =
                    match i % 3 {
                        0 => (
                            "swapped",
                            "upper",
                            format!("t{t} call {i}"),
                            Some(format!("T{t} CALL {i}")),
                        ),
                        1 => (
                            "redact",
                            "redact",
                            format!("to x{i}@example.com"),
                            Some("to ***@example.com".into()),
                        ),
                        _ => ("wordcount", "count", "a b c".into(), None),
                    };
                match plugins
                    .get(name)
                    .unwrap()
                    .call_raw(function, input.as_bytes())
                    .await
                {
                    Ok(out) => {
                        if let Some(want) = want {
                            assert_eq!(String::from_utf8(out).unwrap(), want);
                        } else {
                            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                            assert_eq!(v["words"], 3);
                        }
                        ok += 1;
                    }
                    // A call that took the old version's handle just before the swap.
                    Err(Error::Unloaded { .. } | Error::Busy { .. }) => documented += 1,
                    Err(e) => panic!("task {t} call {i}: {e}"),
                }
            }
            (ok, documented)
        }));
    }
    let run = async {
        let mut total = (0, 0);
        for t in tasks {
            let (ok, documented) = t.await.unwrap();
            total.0 += ok;
            total.1 += documented;
        }
        total
    };
    let (ok, documented) = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("no call hangs");
    assert_eq!(ok + documented, TASKS * CALLS);
    assert!(
        documented < 100,
        "{documented} calls failed with documented errors"
    );
    let swapped = plugins.get("swapped").unwrap();
    assert_eq!(swapped.api_version(), wasp_host::ApiVersion::V0_3_0);
    for name in ["swapped", "redact", "wordcount"] {
        let s = plugins.get(name).unwrap().stats();
        eprintln!(
            "8-way: {name}: {} calls, p50 {:?}, p99 {:?}",
            s.calls, s.p50, s.p99
        );
    }
}

#[tokio::test]
async fn a_thousand_load_unload_cycles_do_not_leak() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = (Runtime::builder().cache_dir(cache.path()).build().unwrap()).plugins();
    let cycle = || async {
        plugins
            .load("upper", fixtures::UPPER, PluginOptions::default())
            .await
            .unwrap();
        let out: String = plugins
            .get("upper")
            .unwrap()
            .call("upper", "x")
            .await
            .unwrap();
        assert_eq!(out, "X");
        plugins.unload("upper").await.unwrap();
    };
    for _ in 0..50 {
        cycle().await;
    }
    let (rss, fds) = (rss_bytes(), open_fds());
    for _ in 0..1000 {
        cycle().await;
    }
    assert_no_leak("load/unload ×1000", (rss, fds), (rss_bytes(), open_fds()));
}

#[tokio::test]
async fn a_thousand_fault_and_recycle_cycles_do_not_leak() {
    let rt = Runtime::builder().build().unwrap();
    let p = rt
        .load_file(
            fixtures::HOSTILE,
            PluginOptions::default().limits(Limits::default().max_faults(u32::MAX)),
        )
        .await
        .unwrap();
    for _ in 0..50 {
        assert!(p.call_raw("panic", b"x").await.is_err());
    }
    let (rss, fds) = (rss_bytes(), open_fds());
    for _ in 0..1000 {
        assert!(
            p.call_raw("panic", b"x")
                .await
                .unwrap_err()
                .fault()
                .is_some()
        );
    }
    assert_no_leak("fault/recycle ×1000", (rss, fds), (rss_bytes(), open_fds()));
    assert!(p.stats().instances <= 1);
}
