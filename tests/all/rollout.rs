//! Shadow rollout through the embedding API: a reloaded version runs in shadow
//! of the one serving, on real plugins (`shadow`, and `shadow-v2`, which marks
//! kv, panics or differs where an event asks), and is promoted or rejected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use wasp_host::{
    Error, Grants, LoadError, Plugin, PluginOptions, Plugins, ReloadOptions, Rollout,
    RolloutOutcome, RolloutReport,
};
use wasp_tests::fixtures;

/// A set holding the `shadow` fixture as `name`, loaded from a file of its own
/// (in `dir`) with kv granted and `rollout`; the file is then replaced by
/// `shadow-v2`, ready to reload. Also a reader of the live kv namespace: the
/// fixture loaded under the same name outside the set (every call on the
/// serving version is an event of its rollout, a `peek` too).
async fn serving(dir: &Path, name: &str, rollout: Rollout) -> (Plugins, PathBuf, Plugin) {
    let file = dir.join(format!("{name}.wasm"));
    std::fs::copy(fixtures::SHADOW, &file).unwrap();
    let rt = crate::runtime();
    let plugins = rt.plugins();
    let options = PluginOptions::default()
        .grants(Grants::default().kv(true, None))
        .max_instances(1);
    plugins
        .load(name, &file, options.clone().rollout(rollout))
        .await
        .unwrap();
    std::fs::copy(fixtures::SHADOW_V2, &file).unwrap();
    let reader = rt
        .load_file_as(name, fixtures::SHADOW, options)
        .await
        .unwrap();
    (plugins, file, reader)
}

/// One event through whatever version serves `name` now.
async fn event(plugins: &Plugins, name: &str, event: &Value) -> Value {
    let p = plugins.get(name).unwrap();
    let out = p
        .call_raw("process", event.to_string().as_bytes())
        .await
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// A key of the live kv namespace.
async fn peek(reader: &Plugin, key: &str) -> String {
    String::from_utf8(reader.call_raw("peek", key.as_bytes()).await.unwrap()).unwrap()
}

async fn decided(reload: &wasp_host::Reload) -> RolloutReport {
    tokio::time::timeout(Duration::from_secs(30), reload.decided())
        .await
        .expect("a decision")
        .expect("a rollout")
}

#[tokio::test]
async fn a_version_that_panics_in_shadow_is_rejected_and_every_output_is_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-panics";
    let (plugins, _, reader) = serving(dir.path(), name, Rollout::shadow(20)).await;
    let old = plugins.get(name).unwrap();
    let reload = plugins.reload(name).await.unwrap();
    assert!(reload.in_shadow());
    let new_sha = reload.plugin().sha256();
    assert_ne!(new_sha, old.sha256());
    for i in 0..30u64 {
        let e = if i % 5 == 3 {
            json!({"i": i, "v2": "panic"})
        } else {
            json!({"i": i})
        };
        let out = event(&plugins, name, &e).await;
        // The old version's output, counted by the old version's kv alone.
        let mut want = e.clone();
        want["seen"] = json!(i + 1);
        assert_eq!(out, want, "event {i}");
        assert_eq!(peek(&reader, "v2-wrote").await, "", "event {i}");
    }
    let report = decided(&reload).await;
    assert_eq!(report.outcome, RolloutOutcome::Rejected);
    // Rejected at the first panic: the 4th shadowed event.
    assert_eq!((report.events, report.faults, report.differing), (4, 1, 0));
    assert_eq!(report.sha256, new_sha);
    let (at, fault) = report.first_fault.clone().unwrap();
    assert_eq!(at, 4);
    assert!(fault.contains("cannot take this event"), "{fault}");
    assert!(
        report.to_string().starts_with(&format!(
            "plugin '{name}' version {}… rejected after 4 events: 1 fault, 0 differing (0.0%)",
            &new_sha[..12]
        )),
        "{report}"
    );
    assert_eq!(plugins.get(name).unwrap(), old, "the old version serves");
    assert_eq!(plugins.reloads(name), 0);
    assert_eq!(plugins.rollouts_total(RolloutOutcome::Rejected), 1);
    // The same file is not tried again until it changes.
    let err = plugins.reload(name).await.unwrap_err();
    assert!(
        matches!(err.load_error(), Some(LoadError::RolloutRejected { sha256, .. }) if *sha256 == new_sha),
        "{err}"
    );
    let text = wasp_host::prometheus::Exporter::new(&plugins).render();
    assert!(
        text.contains("wasp_rollouts_total{outcome=\"rejected\"} 1"),
        "{text}"
    );
    assert!(text.contains("wasp_rollouts_total{outcome=\"promoted\"} 0"));
}

#[tokio::test]
async fn an_identical_version_is_promoted_after_exactly_shadow_events() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-same";
    let (plugins, _, reader) = serving(dir.path(), name, Rollout::shadow(10)).await;
    let old = plugins.get(name).unwrap();
    let mut decisions = plugins.rollouts();
    let reload = plugins.reload(name).await.unwrap();
    let new = reload.plugin().clone();
    for i in 0..25u64 {
        let out = event(&plugins, name, &json!({"i": i})).await;
        assert_eq!(out, json!({"i": i, "seen": i + 1}), "event {i}");
        let serving = plugins.get(name).unwrap();
        if i < 9 {
            assert_eq!(serving, old, "still in shadow after event {i}");
            // The shadow's kv writes stay in its scratch.
            assert_eq!(peek(&reader, "v2-wrote").await, "");
        } else {
            assert_eq!(serving, new, "promoted after event {i}");
        }
    }
    let report = decided(&reload).await;
    assert_eq!(report.outcome, RolloutOutcome::Promoted);
    assert_eq!((report.events, report.faults, report.differing), (10, 0, 0));
    assert_eq!(decisions.recv().await.unwrap(), report);
    // Exactly ten on both; the next fifteen on the new version alone.
    assert_eq!(old.stats().calls, 10);
    assert_eq!(new.stats().calls, 25);
    assert_eq!(plugins.reloads(name), 1);
    // Promoted, it writes the live namespace.
    assert_eq!(peek(&reader, "v2-wrote").await, "yes");
    assert_eq!(peek(&reader, "seen").await, "25");
    assert_eq!(plugins.rollouts_total(RolloutOutcome::Promoted), 1);
}

/// Events 0, 10, 20, 30 of 40 differ: 10%.
async fn differing(name: &str, max_diff: f64) -> RolloutReport {
    let dir = tempfile::tempdir().unwrap();
    let (plugins, _, _) = serving(dir.path(), name, Rollout::default()).await;
    let old = plugins.get(name).unwrap();
    // The policy of this reload, not the plugin's (which is: at once).
    let policy = Rollout::shadow(40).max_diff(max_diff);
    let reload = plugins
        .reload_with(name, ReloadOptions::default().rollout(policy))
        .await
        .unwrap();
    for i in 0..40u64 {
        let e = if i % 10 == 0 {
            json!({"i": i, "v2": "differ"})
        } else {
            json!({"i": i})
        };
        let out = event(&plugins, name, &e).await;
        assert_eq!(out["v2"], e["v2"], "the old version's output, event {i}");
    }
    let report = decided(&reload).await;
    let serving = plugins.get(name).unwrap();
    match report.outcome {
        RolloutOutcome::Promoted => assert_eq!(serving, *reload.plugin()),
        _ => assert_eq!(serving, old),
    }
    report
}

#[tokio::test]
async fn a_version_differing_on_ten_percent_is_rejected_at_five_and_promoted_at_twenty() {
    let strict = differing("rollout-diff-strict", 0.05).await;
    assert_eq!(strict.outcome, RolloutOutcome::Rejected);
    // Two of forty may differ; the third (event 21) rejects it.
    assert_eq!((strict.events, strict.differing), (21, 3));
    let first = strict.first_difference.clone().unwrap();
    assert_eq!(first.event, 1);
    assert!(first.new.contains("\"v2\":true"), "{first:?}");
    assert!(first.old.contains("\"v2\":\"differ\""), "{first:?}");
    assert!(
        strict
            .to_string()
            .contains("first difference at shadowed event 1")
    );

    let lenient = differing("rollout-diff-lenient", 0.2).await;
    assert_eq!(lenient.outcome, RolloutOutcome::Promoted);
    assert_eq!(
        (lenient.events, lenient.faults, lenient.differing),
        (40, 0, 4)
    );
    assert!(
        lenient
            .to_string()
            .ends_with("promoted after 40 events: 0 faults, 4 differing (10.0%)"),
        "{lenient}"
    );
}

#[tokio::test]
async fn batches_are_shadowed_per_event_and_the_old_versions_kv_never_sees_the_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-batch";
    let (plugins, _, reader) = serving(dir.path(), name, Rollout::shadow(12)).await;
    let old = plugins.get(name).unwrap();
    let reload = plugins.reload(name).await.unwrap();
    let batch = |from: u64| -> Vec<Vec<u8>> {
        (from..from + 8)
            .map(|i| json!({"i": i}).to_string().into_bytes())
            .collect()
    };
    // Eight shadowed, then four of the next eight: the decision.
    for from in [0, 8] {
        let results = old.call_batch("process", &batch(from)).await.unwrap();
        for (k, r) in results.into_iter().enumerate() {
            let v: Value = serde_json::from_slice(&r.unwrap()).unwrap();
            assert_eq!(v["seen"], json!(from + k as u64 + 1));
        }
        if from == 0 {
            assert_eq!(peek(&reader, "v2-wrote").await, "");
            assert_eq!(peek(&reader, "seen").await, "8", "counted once per event");
        }
    }
    let report = decided(&reload).await;
    assert_eq!(report.outcome, RolloutOutcome::Promoted);
    assert_eq!(report.events, 12);
    assert_eq!(
        reload.plugin().stats().calls,
        12,
        "8 + 4 events in two call-batches"
    );
    assert_eq!(plugins.get(name).unwrap(), *reload.plugin());
}

#[tokio::test]
async fn a_reload_during_a_rollout_abandons_it_and_an_unload_too() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-abandoned";
    let (plugins, file, _) = serving(dir.path(), name, Rollout::shadow(1000)).await;
    let first = plugins.reload(name).await.unwrap();
    let _ = event(&plugins, name, &json!({"i": 0})).await;
    // Another new file: the first rollout is abandoned, the second one runs.
    std::fs::copy(fixtures::SHADOW, &file).unwrap();
    let second = plugins.reload(name).await.unwrap();
    let report = decided(&first).await;
    assert_eq!(report.outcome, RolloutOutcome::Abandoned);
    assert_eq!(report.events, 1);
    plugins.unload(name).await.unwrap();
    assert_eq!(decided(&second).await.outcome, RolloutOutcome::Abandoned);
    assert_eq!(plugins.rollouts_total(RolloutOutcome::Abandoned), 2);
    // The abandoned versions are shut down (in the background).
    let shut = async {
        loop {
            match second.plugin().call_raw("peek", b"seen").await {
                Err(Error::Unloaded { .. }) => break,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), shut)
        .await
        .expect("shut down");
}

#[tokio::test]
async fn a_quarantined_version_is_replaced_at_once_and_max_diff_is_checked_at_load() {
    let rt = crate::runtime();
    let err = rt
        .load_file_as(
            "rollout-bad-policy",
            fixtures::SHADOW,
            PluginOptions::default().rollout(Rollout::shadow(5).max_diff(1.5)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.load_error(), Some(LoadError::InvalidOption { key, .. }) if *key == "rollout.max-diff"),
        "{err}"
    );
    // Nothing to compare with while the old version serves nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.wasm");
    std::fs::copy(fixtures::HOSTILE, &file).unwrap();
    let plugins = rt.plugins();
    let options = PluginOptions::default()
        .limits(wasp_host::Limits::default().max_faults(1))
        .rollout(Rollout::shadow(100));
    let p = plugins.load("rollout-q", &file, options).await.unwrap();
    assert!(p.call_raw("panic", b"").await.is_err());
    assert!(p.stats().quarantined);
    let reload = plugins.reload("rollout-q").await.unwrap();
    assert!(!reload.in_shadow());
    assert_eq!(reload.decided().await, None);
    assert_eq!(plugins.get("rollout-q").unwrap(), *reload.plugin());
}

/// The watcher reloads a changed plugin file although another file in its
/// directory is written all the time (a pipeline's output beside the plugin
/// once held every reload back), and a file rejected in shadow is not tried
/// again while it stays the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_reloads_beside_a_busy_file_and_skips_a_rejected_one() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-watched";
    let (plugins, file, _) = serving(dir.path(), name, Rollout::shadow(3)).await;
    // Back to version 1 until the watcher runs.
    std::fs::copy(fixtures::SHADOW, &file).unwrap();
    let old = plugins.get(name).unwrap();
    let _watch = plugins.watch().unwrap();
    let mut decisions = plugins.rollouts();
    let busy = dir.path().join("out.jsonl");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::File::create(busy).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writeln!(f, "{{}}").unwrap();
                f.flush().unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let tmp = dir.path().join("new.wasm");
    std::fs::copy(fixtures::SHADOW_V2, &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    // Events until the shadow has decided: version 2 panics on every one.
    let report = tokio::time::timeout(Duration::from_secs(30), async {
        let mut i = 0;
        loop {
            let _ = event(&plugins, name, &json!({"i": i, "v2": "panic"})).await;
            i += 1;
            if let Ok(r) = decisions.try_recv() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the watcher reloaded the file and its rollout decided");
    assert_eq!(report.outcome, RolloutOutcome::Rejected);
    // Touched, not changed: not tried again.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    std::fs::copy(fixtures::SHADOW_V2, &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    tokio::time::sleep(wasp_host::DEBOUNCE * 4).await;
    for i in 0..5 {
        let _ = event(&plugins, name, &json!({"i": i, "v2": "panic"})).await;
    }
    assert!(
        decisions.try_recv().is_err(),
        "the rejected file was tried again"
    );
    assert_eq!(plugins.get(name).unwrap(), old);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

/// While a rollout lasts, calls take turns; a call that cannot get its turn
/// within the plugin's timeout is refused as busy (nothing called), as one that
/// waits for an instance is: a slow plugin under rollout never piles callers up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waits_for_its_turn_at_most_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.wasm");
    std::fs::copy(fixtures::HOSTILE, &file).unwrap();
    let plugins = crate::runtime().plugins();
    let options = PluginOptions::default()
        .limits(wasp_host::Limits::default().timeout(Duration::from_millis(400)))
        .rollout(Rollout::shadow(100));
    let old = plugins.load("rollout-slow", &file, options).await.unwrap();
    let reload = plugins.reload("rollout-slow").await.unwrap();
    assert!(reload.in_shadow());
    // The first call holds the turn for two calls of 300 ms (shadow, then old).
    let first = {
        let old = old.clone();
        tokio::spawn(async move { old.call_raw("sleep", b"300").await })
    };
    // Once its shadow call runs, it has the turn.
    let started = async {
        while reload.plugin().stats().in_flight == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), started)
        .await
        .expect("the shadow call started");
    let err = old.call_raw("sleep", b"1").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Busy {
                max_instances: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(first.await.unwrap().unwrap(), b"slept");
    // The refused call was no event of the rollout.
    assert_eq!(reload.plugin().stats().calls, 1);
}

/// Callers that give up at random points during a rollout (waiting for their
/// turn, inside the shadow's call or the serving version's, in kv) give back
/// their turn and their shadowed event: nothing stays in flight, and the
/// rollout decides after exactly `shadow-events` events that completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_dropped_during_a_rollout_give_back_their_turn_and_their_event() {
    const SHADOWED: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let name = "rollout-cancelled";
    // Any difference is allowed: a call dropped between the two versions'
    // kv writes leaves their counts apart, which is not what this tests.
    let policy = Rollout::shadow(SHADOWED).max_diff(1.0).max_faults(SHADOWED);
    let (plugins, _, _) = serving(dir.path(), name, policy).await;
    let old = plugins.get(name).unwrap();
    let reload = plugins.reload(name).await.unwrap();
    assert!(reload.in_shadow());
    let new = reload.plugin().clone();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (mut completed, mut dropped) = (0u64, 0u64);
    for _ in 0..25 {
        let mut tasks = Vec::new();
        for _ in 0..6 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let after = Duration::from_micros(rng % 600);
            let p = old.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::timeout(after, p.call_raw("process", br#"{"i":0}"#)).await
            }));
        }
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => {
                    r.unwrap();
                    completed += 1;
                }
                Err(_) => dropped += 1,
            }
        }
        assert_eq!(old.stats().in_flight, 0);
        assert_eq!(new.stats().in_flight, 0);
    }
    eprintln!("{completed} completed, {dropped} dropped during the rollout");
    assert!(
        dropped >= 10,
        "only {dropped} dropped ({completed} completed)"
    );
    assert!(completed < SHADOWED, "{completed} completed");
    // The rest of the shadowed events, one at a time: the decision comes with
    // the last one, so no dropped call kept a claim on an event.
    let mut more = 0u64;
    while plugins.get(name).unwrap() == old {
        assert!(more < SHADOWED, "no decision after {more} more events");
        let _ = event(&plugins, name, &json!({"i": more})).await;
        more += 1;
    }
    let report = decided(&reload).await;
    assert_eq!(report.outcome, RolloutOutcome::Promoted);
    assert_eq!(report.events, SHADOWED);
    assert_eq!(completed + more, SHADOWED, "{dropped} dropped");
}
