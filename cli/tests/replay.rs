//! `wasp run --record`, `wasp call --record` and `wasp replay`: a production
//! fault recorded in the pipeline replays offline to the same fault and fuel
//! (exit 3), a fixed build turns it into an output (exit 0), an edited
//! recording diverges (exit 4), another file is refused (exit 2).

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use wasp_host::recording::{EntryKind, Recording};
use wasp_tests::fixtures;

mod common;
use common::{wasp, write_manifest};

/// Runs 40 events through the `replay` stage with `--record DIR`; returns the
/// recordings of faults.
fn record_run(dir: &Path) -> Vec<PathBuf> {
    let m = write_manifest(
        dir,
        &format!(
            "[plugins.replay]\npath = \"{}\"\nlimits = {{ max-faults = 1000 }}\n\
             [pipeline]\nstages = [\"replay\"]\n",
            fixtures::REPLAY
        ),
    );
    let rec = dir.join("rec");
    let input: String = (0..40).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    wasp()
        .args(["--no-cache", "run", "-m"])
        .arg(&m)
        .arg("--record")
        .arg(&rec)
        .arg("--dead-letter")
        .arg(dir.join("dead.jsonl"))
        .write_stdin(input)
        .assert()
        .success();
    let mut faults: Vec<PathBuf> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-fault.wasprec"))
        .collect();
    faults.sort();
    assert!(
        !faults.is_empty(),
        "no fault recorded in 40 events of p = 1/2"
    );
    faults
}

fn replay_json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let out = wasp()
        .arg("replay")
        .args(extra)
        .arg("--json")
        .arg(file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn a_recorded_pipeline_fault_replays_to_the_same_fault_and_a_fix_turns_it_into_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let faults = record_run(dir.path());
    // A fault that depends on the instance's history: one that came after
    // earlier calls on the same instance.
    let stateful = faults
        .iter()
        .find(|f| {
            let r = Recording::read_file(f).unwrap();
            r.entries
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::Call | EntryKind::CallBatch))
                .count()
                >= 2
                || r.last().unwrap().inputs.len() >= 2
        })
        .expect("a fault after earlier calls on its instance");
    for f in faults.iter().take(3).chain([stateful]) {
        let (code, v) = replay_json(f, &[]);
        assert_eq!(code, 3, "{v}");
        assert_eq!(v["divergence"], Value::Null, "{v}");
        assert_eq!(v["outcome"]["outcome"], "fault", "{v}");
        assert_eq!(v["outcome"]["kind"], "panic", "{v}");
        assert_eq!(v["fuel"], v["recorded-fuel"], "{v}");
    }
    // The human report: the fault on stderr, said to be as recorded.
    wasp()
        .arg("replay")
        .arg(stateful)
        .assert()
        .code(3)
        .stderr(predicates::str::contains("as recorded"))
        .stderr(predicates::str::contains("odd draw"));
    // The fix, against the recorded inputs: an output.
    let (code, v) = replay_json(stateful, &["--plugin", fixtures::REPLAY_FIXED]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["different-build"], true);
    let out = v["outcome"].to_string();
    assert!(out.contains("fixed"), "{v}");
}

#[test]
fn an_edited_recording_diverges_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let faults = record_run(dir.path());
    let mut r = Recording::read_file(&faults[0]).unwrap();
    // The generator's seed is drawn in init; remove that answer.
    let init = r
        .entries
        .iter_mut()
        .find(|e| e.kind == EntryKind::Init)
        .unwrap();
    assert!(!init.imports.is_empty());
    init.imports.clear();
    let edited = dir.path().join("edited.wasprec");
    r.write_file(&edited).unwrap();
    let out = wasp().arg("replay").arg(&edited).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("diverged at entry 2 (init), host import #0"),
        "{stderr}"
    );
    assert!(stderr.contains("random"), "{stderr}");
}

#[test]
fn call_record_replays_the_same_bytes_and_another_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("replay.wasm");
    std::fs::copy(fixtures::REPLAY, &wasm).unwrap();
    let rec = dir.path().join("call.wasprec");
    let call = wasp()
        .args(["--no-cache", "call", "--record"])
        .arg(&rec)
        .arg(&wasm)
        .args(["process", "{}"])
        .output()
        .unwrap();
    let replayed = wasp().arg("replay").arg(&rec).output().unwrap();
    assert_eq!(replayed.status.code(), call.status.code());
    assert_eq!(replayed.stdout, call.stdout);
    // The file changed since: refused, naming both digests.
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.extend_from_slice(&[0, 4, 3, b'x', b'y', b'z']); // a custom section
    std::fs::write(&wasm, &bytes).unwrap();
    let r = Recording::read_file(&rec).unwrap();
    let out = wasp().arg("replay").arg(&rec).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&r.plugin.sha256), "{stderr}");
    assert!(stderr.contains("give --plugin"), "{stderr}");
    // Not a recording at all: exit 2.
    wasp()
        .arg("replay")
        .arg(&wasm)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a wasp recording"));
}

#[test]
fn a_plugin_with_a_file_grant_replays_against_the_live_grant_and_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/a.txt"), "one").unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.sandbox]\npath = \"{}\"\n\
             grants = {{ files = [{{ host = \"data\", guest = \"/data\", mode = \"ro\" }}] }}\n",
            fixtures::SANDBOX
        ),
    );
    let rec = dir.path().join("read.wasprec");
    let call = wasp()
        .args(["--no-cache", "call", "-m"])
        .arg(&m)
        .arg("--record")
        .arg(&rec)
        .args(["sandbox", "read-file", r#"{"path": "/data/a.txt"}"#])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&call.stdout).contains("one"));
    // The file's contents were not recorded: the replay reads the live file,
    // and says so on the first line, before the result.
    let replayed = wasp().arg("replay").arg(&rec).assert().success();
    let out = replayed.get_output();
    assert_eq!(out.stdout, call.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("file or network grants") && first.contains("live grants"),
        "{stderr}"
    );
    // A recording without such grants says nothing of the kind.
    let plain = dir.path().join("plain.wasprec");
    wasp()
        .args(["--no-cache", "call", "--record"])
        .arg(&plain)
        .arg(fixtures::REPLAY)
        .args(["process", "{}"])
        .output()
        .unwrap();
    let replayed = wasp().arg("replay").arg(&plain).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&replayed.stderr).contains("live grants"),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
}
