//! Record and replay through the embedding API: a recorded call that reads both
//! clocks, random bytes, config, a host function and kv replays byte for byte
//! with no live world; an edited answer is a divergence.

use wasp_host::recording::{EntryKind, Import, RecordWhen, RecordWindow, RecordedOutcome};
use wasp_host::{Grants, PluginOptions};
use wasp_tests::fixtures;

fn recorded() -> PluginOptions {
    PluginOptions::default()
        .record(Some(RecordWindow::default()))
        .config("greeting", "hello")
        .grants(Grants::default().kv(true, None).host_functions(["echo"]))
}

#[tokio::test]
async fn a_call_that_reads_the_world_replays_byte_for_byte() {
    let rt = crate::runtime();
    let p = rt
        .load_file_as(
            "replay-world",
            fixtures::REPLAY,
            recorded().max_instances(1),
        )
        .await
        .unwrap();
    let mut last = None;
    for i in 0..3 {
        let r = p
            .call_recorded("world", format!("call {i}").as_bytes(), RecordWhen::Always)
            .await;
        let out = r.result.unwrap();
        last = Some((out, r.recording.expect("recorded")));
    }
    let (out, recording) = last.unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.contains("\"count\":3") && text.contains("says call 2"),
        "{text}"
    );
    // instantiate, info, init and three calls on the one instance.
    let kinds: Vec<EntryKind> = recording.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Instantiate,
            EntryKind::Info,
            EntryKind::Init,
            EntryKind::Call,
            EntryKind::Call,
            EntryKind::Call
        ]
    );
    let imports = &recording.last().unwrap().imports;
    let has = |f: fn(&Import) -> bool| imports.iter().any(f);
    assert!(
        has(|i| matches!(i, Import::WallClock { .. })),
        "{imports:?}"
    );
    assert!(has(|i| matches!(i, Import::MonotonicClock { .. })));
    assert!(has(|i| matches!(i, Import::Random { .. })));
    assert!(has(|i| matches!(i, Import::GetConfig { .. })));
    assert!(has(|i| matches!(i, Import::CallHost { .. })));
    assert!(has(|i| matches!(i, Import::KvGet { .. })));
    assert!(has(|i| matches!(i, Import::KvSet { .. })));

    // Through the file format, and on a runtime with no host function and an
    // empty kv store: every answer comes from the recording.
    let recording = wasp_host::recording::Recording::from_bytes(&recording.to_bytes()).unwrap();
    let bare = wasp_host::Runtime::builder().build().unwrap();
    let report = bare.replay(&recording, None).await.unwrap();
    assert_eq!(report.divergence, None);
    assert_eq!(
        report.outcome,
        RecordedOutcome::Output {
            output: wasp_host::recording::Bytes(out)
        }
    );
    assert_eq!(report.fuel, report.recorded_fuel);
    assert!(report.fuel > 0);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.entries_run, 6);

    // One host result edited: the kv counter of the last call. The plugin then
    // writes another count back, and that kv-set is the divergence.
    let mut edited = recording.clone();
    let last = edited.entries.last_mut().unwrap();
    for i in &mut last.imports {
        if let Import::KvGet { result, .. } = i {
            *result = Ok(Some(wasp_host::recording::Bytes(b"41".to_vec())));
        }
    }
    let report = bare.replay(&edited, None).await.unwrap();
    let d = report.divergence.clone().expect("diverged");
    assert_eq!(d.entry, 5, "{d:?}");
    assert_eq!(
        d.recorded.as_deref(),
        Some("kv-set \"count\" (1 bytes)"),
        "{d:?}"
    );
    assert_eq!(
        d.replayed.as_deref(),
        Some("kv-set \"count\" (2 bytes)"),
        "{d:?}"
    );
    assert_eq!(report.exit_code(), 4);

    // A different import where the recording has a kv-get: named, with its index.
    let mut edited = recording.clone();
    let last = edited.entries.last_mut().unwrap();
    let at = last
        .imports
        .iter()
        .position(|i| matches!(i, Import::KvGet { .. }))
        .unwrap();
    last.imports[at] = Import::KvGet {
        key: "other".into(),
        result: Ok(None),
    };
    let report = bare.replay(&edited, None).await.unwrap();
    let d = report.divergence.expect("diverged");
    assert_eq!((d.entry, d.import), (5, Some(at)), "{d:?}");
    assert_eq!(d.recorded.as_deref(), Some("kv-get \"other\""));
    assert_eq!(d.replayed.as_deref(), Some("kv-get \"count\""));
}

#[tokio::test]
async fn replay_refuses_another_file_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("replay.wasm");
    std::fs::copy(fixtures::REPLAY, &copy).unwrap();
    let rt = crate::runtime();
    let p = rt
        .load_file(&copy, recorded().max_instances(1))
        .await
        .unwrap();
    let r = p.call_recorded("world", b"x", RecordWhen::Always).await;
    let recording = r.recording.unwrap();
    // Not recorded when only failures are asked for and the call succeeded.
    assert!(
        p.call_recorded("world", b"x", RecordWhen::Failures)
            .await
            .recording
            .is_none()
    );
    std::fs::copy(fixtures::REPLAY_FIXED, &copy).unwrap();
    let err = rt.replay(&recording, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            wasp_host::Error::Recording(wasp_host::RecordingError::DigestMismatch { .. })
        ),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains(&recording.plugin.sha256), "{err}");
    // Asked for: another build runs, and says so.
    let report = rt.replay(&recording, Some(&copy)).await.unwrap();
    assert!(report.different_build);
    assert_eq!(report.divergence, None);
}

#[tokio::test]
async fn an_unrecorded_plugin_returns_no_recording_and_the_window_replaces_instances() {
    let rt = crate::runtime();
    let plain = rt
        .load_file_as(
            "replay-plain",
            fixtures::REPLAY_FIXED,
            PluginOptions::default(),
        )
        .await
        .unwrap();
    let r = plain
        .call_recorded("process", b"{}", RecordWhen::Always)
        .await;
    assert!(r.result.is_ok() && r.recording.is_none());

    let window = RecordWindow {
        calls: 2,
        ..RecordWindow::default()
    };
    let p = rt
        .load_file_as(
            "replay-window",
            fixtures::REPLAY_FIXED,
            PluginOptions::default()
                .record(Some(window))
                .max_instances(1),
        )
        .await
        .unwrap();
    let mut calls = Vec::new();
    for _ in 0..5 {
        let r = p.call_recorded("process", b"{}", RecordWhen::Always).await;
        let rec = r.recording.unwrap();
        calls.push(
            rec.entries
                .iter()
                .filter(|e| e.kind == EntryKind::Call)
                .count(),
        );
    }
    // Every recording starts at its instance's creation, and holds at most the
    // window's calls.
    assert_eq!(calls, [1, 2, 1, 2, 1]);
}
