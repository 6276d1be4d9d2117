//! The `wasp` binary, driven as users and scripts drive it: exit codes, one-line
//! errors, real plugins (the CLI contract in docs/contracts.md).

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;
use wasp_tests::fixtures;

mod common;
use common::{run_ok, wasp, write_manifest};

/// stderr is exactly one line starting with `error:`, with no Rust panic or
/// backtrace in it.
fn one_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    // No Rust panic of wasp itself, no backtrace.
    assert!(
        !text.contains("thread '") && !text.contains("stack backtrace"),
        "{text}"
    );
    assert!(
        !text.contains("RUST_BACKTRACE") && !text.contains("internal error"),
        "{text}"
    );
    text
}

#[test]
fn call_prints_the_output() {
    wasp()
        .args(["call", fixtures::UPPER, "upper", "hello"])
        .assert()
        .success()
        .stdout("HELLO");
}

#[test]
fn call_reads_stdin_when_input_is_absent_or_dash() {
    wasp()
        .args(["call", fixtures::UPPER, "upper"])
        .write_stdin("from stdin")
        .assert()
        .success()
        .stdout("FROM STDIN");
    wasp()
        .args(["call", fixtures::UPPER, "upper", "-"])
        .write_stdin("dash")
        .assert()
        .success()
        .stdout("DASH");
}

#[test]
fn garbage_file_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("garbage.wasm");
    std::fs::write(&f, b"this is not wasm at all").unwrap();
    let out = wasp()
        .args(["call", f.to_str().unwrap(), "upper", "x"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = one_error_line(&out.stderr);
    assert!(text.contains("not a WebAssembly binary"), "{text}");
    let out = wasp()
        .args(["inspect", f.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .clone();
    one_error_line(&out.stderr);
}

#[test]
fn missing_file_is_exit_2() {
    let out = wasp()
        .args(["call", "/nonexistent/x.wasm", "f", "x"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    one_error_line(&out.stderr);
}

#[test]
fn plugin_error_is_exit_1_in_the_contract_format() {
    let out = wasp()
        .args(["call", fixtures::HOSTILE, "fail", "bad thing"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = one_error_line(&out.stderr);
    assert_eq!(
        text.trim_end(),
        "error: plugin 'hostile' function 'fail': bad-input: bad thing"
    );
}

#[test]
fn faults_are_exit_3_naming_the_cause() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--timeout", "200ms", "--fuel", "100000000000000", "spin"],
            "timeout",
        ),
        (&["--fuel", "1000000", "spin"], "fuel exhausted"),
        (
            &["--memory", "16MiB", "alloc", "64"],
            "memory limit of 16MiB exceeded",
        ),
        (&["recurse"], "stack overflow"),
        (&["panic", "kaboom"], "kaboom"),
        (&["exit", "4"], "called exit"),
        (&["abort"], "trap"),
    ];
    for (args, expect) in cases {
        let mut cmd = wasp();
        cmd.args(["call", fixtures::HOSTILE]);
        // Options first, then FUNCTION [INPUT].
        cmd.args(args.iter());
        let out = cmd.assert().code(3).get_output().clone();
        let text = one_error_line(&out.stderr);
        assert!(text.contains(expect), "{args:?}: {text}");
    }
}

#[test]
fn unknown_function_is_exit_2() {
    let out = wasp()
        .args(["call", fixtures::UPPER, "nope", "x"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = one_error_line(&out.stderr);
    assert!(text.contains("has no function 'nope'"), "{text}");
}

#[test]
fn usage_errors_are_exit_2() {
    wasp().args(["call"]).assert().code(2);
    wasp().args(["frobnicate"]).assert().code(2);
    wasp()
        .args(["call", fixtures::UPPER, "upper", "x", "--timeout", "5"])
        .assert()
        .code(2);
}

#[test]
fn inspect_shows_version_info_functions_and_wasi_imports() {
    wasp()
        .args(["inspect", fixtures::UPPER])
        .assert()
        .success()
        .stdout(predicate::str::contains("wasp:plugin@0.3.0 (supported"))
        .stdout(predicate::str::contains("name:         upper"))
        .stdout(predicate::str::contains("functions:    "))
        .stdout(predicate::str::contains("wasi:cli/"));
    let out = wasp()
        .args(["inspect", "--json", fixtures::UPPER])
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["api_version"], "0.3.0");
    assert_eq!(v["sdk_version"], "0.3.0");
    assert_eq!(v["supported"], true);
    assert_eq!(v["info"]["name"], "upper");
    assert!(
        v["info"]["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "upper")
    );
    assert!(
        v["wasi_imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.as_str().unwrap().starts_with("wasi:"))
    );
}

#[test]
fn inspect_of_another_version_names_both() {
    let out = wasp()
        .args(["inspect", fixtures::VERSION9])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wasp:plugin@9.9.0 (NOT supported"),
        "{stdout}"
    );
    let text = one_error_line(&out.stderr);
    assert!(text.contains("9.9.0") && text.contains("0.1.0"), "{text}");
}

/// `wasp run -m M --dead-letter DEAD` on `input`; expects success.
#[test]
fn call_by_manifest_name_uses_config_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.h]\npath = \"{}\"\nconfig = {{ greeting = \"hi\" }}\nlimits = {{ timeout = \"200ms\", fuel = 100_000_000_000_000 }}\n",
            fixtures::HOSTILE
        ),
    );
    let m = m.to_str().unwrap();
    wasp()
        .args(["call", "-m", m, "h", "config", "greeting"])
        .assert()
        .success()
        .stdout("hi");
    let out = wasp()
        .args(["call", "-m", m, "h", "spin"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(one_error_line(&out.stderr).contains("timeout: did not finish within 200ms"));
    let out = wasp()
        .args(["call", "-m", m, "nope", "f"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(one_error_line(&out.stderr).contains("no plugin named 'nope'"));
    // The default manifest is ./wasp.toml.
    wasp()
        .current_dir(dir.path())
        .args(["call", "h", "echo", "x"])
        .assert()
        .success()
        .stdout("x");
}

#[test]
fn check_validates_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.upper]\npath = \"{}\"\n\n[pipeline]\nstages = [\"upper\"]\n",
            fixtures::UPPER
        ),
    );
    wasp()
        .args(["check", "-m", m.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok: upper"));
    let bad = write_manifest(
        dir.path(),
        &format!(
            "[plugins.upper]\npath = \"{}\"\nmax-instance = 3\n",
            fixtures::UPPER
        ),
    );
    let out = wasp()
        .args(["check", "-m", bad.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = one_error_line(&out.stderr);
    assert!(
        text.contains("wasp.toml:3:1: plugins.upper.max-instance: unknown field `max-instance`"),
        "{text}"
    );
    let v9 = write_manifest(
        dir.path(),
        &format!("[plugins.v]\npath = \"{}\"\n", fixtures::VERSION9),
    );
    let out = wasp()
        .args(["check", "-m", v9.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(one_error_line(&out.stderr).contains("wasp:plugin@9.9.0"));
}

#[test]
fn run_streams_events_and_dead_letters_failures() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.redact]\npath = \"{}\"\n[plugins.upper]\npath = \"{}\"\n[plugins.stats]\npath = \"{}\"\n[pipeline]\nstages = [\"redact\", \"upper\", \"stats\"]\n",
            fixtures::REDACT,
            fixtures::UPPER,
            fixtures::STATS
        ),
    );
    let dead = dir.path().join("dead.jsonl");
    let input = concat!(
        "{\"type\":\"a\",\"message\":\"mail me at jo@example.com\"}\n",
        "not json\n",
        "\n",
        "{\"type\":\"a\",\"message\":\"second\"}\n",
        "[1,2]\n",
        "{\"type\":\"b\",\"message\":\"third\"}\n",
    );
    let out = run_ok(&m, &dead, input);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3, "{stdout}");
    assert_eq!(events[0]["message"], "MAIL ME AT ***@EXAMPLE.COM");
    assert_eq!(events[1]["seen"], 2);
    assert_eq!(events[2]["seen"], 1);
    let dead_text = std::fs::read_to_string(&dead).unwrap();
    let letters: Vec<serde_json::Value> = dead_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2, "{dead_text}");
    assert_eq!(letters[0]["event"], "not json");
    assert!(letters[0]["stage"].is_null());
    assert_eq!(letters[1]["event"], serde_json::json!([1, 2]));
    assert_eq!(letters[1]["stage"], "upper");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("summary: 5 events, 3 out, 0 dropped by a stage, 2 dead-lettered"),
        "{stderr}"
    );
    assert!(
        stderr.contains("redact") && stderr.contains("p99"),
        "{stderr}"
    );
}

#[test]
fn run_continues_after_a_fault_with_a_fresh_instance() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.upper]\npath = \"{}\"\nlimits = {{ max-input = \"64B\" }}\n[pipeline]\nstages = [\"upper\"]\n",
            fixtures::UPPER
        ),
    );
    let long = format!("{{\"message\":\"{}\"}}\n", "x".repeat(100));
    let input = format!("{{\"message\":\"a\"}}\n{long}{{\"message\":\"b\"}}\n");
    let out = wasp()
        .args(["run", "-m", m.to_str().unwrap()])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("exceeds max-input"), "{stderr}");
}

#[test]
fn run_without_a_pipeline_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!("[plugins.upper]\npath = \"{}\"\n", fixtures::UPPER),
    );
    let out = wasp()
        .args(["run", "-m", m.to_str().unwrap()])
        .write_stdin("")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(one_error_line(&out.stderr).contains("no [pipeline]"));
}

#[test]
fn new_scaffolds_a_plugin_that_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    wasp()
        .current_dir(dir.path())
        .args(["new", "hello-plugin"])
        .assert()
        .success();
    let crate_dir = dir.path().join("hello-plugin");
    assert!(crate_dir.join("src/lib.rs").is_file());
    // Its tests pass as generated: the unit test on the host target, and
    // tests/host.rs, which builds the plugin and calls it through the real host.
    // The host's side shares the workspace's target dir (the scaffold got the
    // workspace's lock, so wasmtime is already built there); the plugin build
    // inside the test shares the fixtures' wasm target dir.
    let workspace_target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(&crate_dir)
        .args(["test", "--target-dir"])
        .arg(&workspace_target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_DIR", workspace_target.join("wasm"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the scaffold's own tests failed:\n{log}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(log.contains("greets_through_the_host ... ok"), "{log}");
    assert!(
        log.contains("greets_by_name_and_refuses_no_name ... ok"),
        "{log}"
    );
    // `wasp build`, sharing the guest target dir with the test fixtures so the
    // SDK's deps are already built.
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm");
    let out = wasp()
        .current_dir(&crate_dir)
        .args(["build", "--target-dir"])
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let wasm = crate_dir.join("hello_plugin.wasm");
    assert!(stdout.contains("api:     wasp:plugin@0.3.0"), "{stdout}");
    // The digest printed is the file's, ready to pin.
    let inspect = wasp()
        .args(["inspect", "--json", wasm.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["kind"], "component");
    let sha = v["sha256"].as_str().unwrap();
    assert!(stdout.contains(&format!("sha256:  {sha}")), "{stdout}");
    wasp()
        .args(["call", wasm.to_str().unwrap(), "greet", "world"])
        .assert()
        .success()
        .stdout("Hello, world!");
    // Its wasp.toml, as generated.
    wasp()
        .current_dir(&crate_dir)
        .args(["call", "-m", "wasp.toml", "hello-plugin", "greet", "you"])
        .assert()
        .success()
        .stdout("Hello, you!");
    // Not a crate: a clear error, exit 2.
    wasp()
        .args(["build", dir.path().to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Cargo.toml"));
    wasp()
        .current_dir(dir.path())
        .args(["new", "hello-plugin"])
        .assert()
        .code(2);
    wasp()
        .current_dir(dir.path())
        .args(["new", "1bad"])
        .assert()
        .code(2);
}

#[test]
fn pipeline_dead_letters_exactly_the_poisoned_events() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.hostile]\npath = \"{}\"\nlimits = {{ timeout = \"300ms\", memory = \"16MiB\", fuel = 100_000_000_000_000 }}\n\
             [plugins.upper]\npath = \"{}\"\nconfig = {{ field = \"name\" }}\n\
             [pipeline]\nstages = [\"hostile\", \"upper\"]\nbatch = 1\n",
            fixtures::HOSTILE,
            fixtures::UPPER
        ),
    );
    // One event per call (batch = 1), so each poison faults exactly once; batches
    // are tested in tests/pipeline.rs.
    let poison = ["panic", "spin", "alloc", "exit", "fail", "panic", "alloc"];
    let mut input = String::new();
    let mut poisoned = std::collections::BTreeSet::new();
    for id in 0..1000 {
        if id % 137 == 5 {
            let kind = poison[poisoned.len() % poison.len()];
            poisoned.insert(id);
            input.push_str(&format!(
                "{{\"id\":{id},\"name\":\"e{id}\",\"poison\":\"{kind}\"}}\n"
            ));
        } else {
            input.push_str(&format!("{{\"id\":{id},\"name\":\"e{id}\"}}\n"));
        }
    }
    let dead = dir.path().join("dead.jsonl");
    let out = run_ok(&m, &dead, input);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<u64> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["name"], format!("E{}", v["id"]));
            v["id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1000 - poisoned.len());
    assert!(ids.iter().all(|id| !poisoned.contains(id)));
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dead_ids: std::collections::BTreeSet<u64> = letters
        .iter()
        .map(|l| l["event"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(dead_ids, poisoned);
    let kinds: Vec<&str> = letters
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    for k in [
        "fault:panic",
        "fault:timeout",
        "fault:memory-limit",
        "fault:exit",
        "plugin-error",
    ] {
        assert!(kinds.contains(&k), "{k} missing in {kinds:?}");
    }
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("memory-limit=2") && stderr.contains("panic=3"),
        "{stderr}"
    );
}

#[test]
fn output_too_large_is_exit_3() {
    let out = wasp()
        .args([
            "call",
            fixtures::HOSTILE,
            "big-output",
            &(17u64 << 20).to_string(),
        ])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(one_error_line(&out.stderr).contains("output too large"));
}

#[test]
fn compile_cache_gives_the_same_results_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    for _ in 0..2 {
        wasp()
            .args([
                "--cache-dir",
                cache.to_str().unwrap(),
                "call",
                fixtures::UPPER,
                "upper",
                "cached",
            ])
            .assert()
            .success()
            .stdout("CACHED");
    }
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    wasp()
        .args(["--no-cache", "call", fixtures::UPPER, "upper", "fresh"])
        .assert()
        .success()
        .stdout("FRESH");
}

#[test]
fn check_warns_about_sockets_without_a_network_grant() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!("[plugins.sandbox]\npath = \"{}\"\n", fixtures::SANDBOX),
    );
    wasp()
        .args(["check", "-m", m.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("imports wasi:sockets/"))
        .stderr(predicate::str::contains("granted no network"));
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.sandbox]\npath = \"{}\"\ngrants = {{ network = [\"127.0.0.1:9\"] }}\n",
            fixtures::SANDBOX
        ),
    );
    wasp()
        .args(["check", "-m", m.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("wasi:sockets").not());
}

#[test]
fn inspect_shows_the_sdk_version() {
    wasp()
        .args(["inspect", fixtures::UPPER])
        .assert()
        .success()
        .stdout(predicate::str::contains("wasp:plugin@0.3.0 (supported"))
        .stdout(predicate::str::contains("sdk:          wasp-sdk 0.3.0"));
    let golden = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/v0.1.0/upper.wasm"
    );
    wasp()
        .args(["inspect", golden])
        .assert()
        .success()
        .stdout(predicate::str::contains("wasp:plugin@0.1.0 (supported"))
        .stdout(predicate::str::contains("not recorded"));
}

/// `wasp run --watch` reading from a pipe: swapping the plugin's file changes the
/// behaviour of the following events; a broken file keeps the old version.
#[test]
fn run_watch_reloads_a_swapped_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("stage.wasm");
    std::fs::copy(fixtures::UPPER, &wasm).unwrap();
    let m = write_manifest(
        dir.path(),
        "[plugins.stage]\npath = \"stage.wasm\"\n[pipeline]\nstages = [\"stage\"]\n",
    );
    let mut run = common::LiveRun::start(["run", "--watch", "-v", "-m", m.to_str().unwrap()]);
    let mail = "{\"message\":\"mail a@b.example\"}";
    assert_eq!(run.event(mail)["message"], "MAIL A@B.EXAMPLE");
    // Swap in redact (atomically, as a deploy would).
    let tmp = dir.path().join("stage.wasm.new");
    std::fs::copy(fixtures::REDACT, &tmp).unwrap();
    std::fs::rename(&tmp, &wasm).unwrap();
    run.wait_for("reloaded");
    assert_eq!(run.event(mail)["message"], "mail ***@b.example");
    // A broken file: the old version (redact) keeps serving.
    std::fs::write(&tmp, b"not wasm").unwrap();
    std::fs::rename(&tmp, &wasm).unwrap();
    run.wait_for("old version keeps serving");
    assert_eq!(
        run.event("{\"message\":\"c@d.example\"}")["message"],
        "***@d.example"
    );
    run.finish();
}

/// `wasp run --watch` with a rollout: a new version that panics on some events
/// runs in shadow, is rejected (one `rollout:` line), and every output came
/// from the old version; the next new file (an identical one) is promoted.
#[test]
fn run_watch_shadows_a_new_version_and_decides() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("stage.wasm");
    std::fs::copy(fixtures::SHADOW, &wasm).unwrap();
    let m = write_manifest(
        dir.path(),
        "[plugins.stage]\npath = \"stage.wasm\"\nrollout = { shadow-events = 20, max-faults = 0, max-diff = 0.0 }\n\
         grants = { kv = true }\n[pipeline]\nstages = [\"stage\"]\n",
    );
    let mut run = common::LiveRun::start(["run", "--watch", "-v", "-m", m.to_str().unwrap()]);
    let mut seen = 0u64;
    let mut event = |run: &mut common::LiveRun, marker: Option<&str>| {
        seen += 1;
        let e = match marker {
            Some(m) => serde_json::json!({"n": seen, "v2": m}),
            None => serde_json::json!({"n": seen}),
        };
        let out = run.event(&e.to_string());
        // The old version's output: its own count, the event as it was.
        assert_eq!(out["seen"], seen, "{out}");
        assert_eq!(out["v2"], e["v2"], "{out}");
    };
    event(&mut run, None);
    let swap = |from: &str| {
        let tmp = dir.path().join("stage.wasm.new");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, &wasm).unwrap();
    };
    swap(fixtures::SHADOW_V2);
    run.wait_for("runs in shadow");
    for i in 0..10 {
        event(&mut run, (i == 6).then_some("panic"));
    }
    let line = run.wait_for("rollout:");
    assert!(
        line.contains("rejected after 7 events: 1 fault, 0 differing (0.0%)")
            && line.contains("first fault at shadowed event 7"),
        "{line}"
    );
    // A new file, identical in behaviour: promoted after exactly 20 events.
    event(&mut run, None);
    swap(fixtures::SHADOW);
    run.wait_for("runs in shadow");
    for _ in 0..25 {
        event(&mut run, None);
    }
    let line = run.wait_for("rollout:");
    assert!(
        line.contains("promoted after 20 events: 0 faults, 0 differing (0.0%)"),
        "{line}"
    );
    run.finish();
}

/// Every exit code of the contract, each for the kinds of error that map to it.
#[test]
fn every_exit_code_by_kind_of_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("wasp.toml");
    std::fs::write(
        &m,
        format!(
            "[plugins.h]\npath = \"{h}\"\n[plugins.bad-init]\npath = \"{h}\"\nconfig = {{ fail-init = \"yes\" }}\n\
             [plugins.loop]\npath = \"{l}\"\nlimits = {{ timeout = \"200ms\" }}\n",
            h = fixtures::HOSTILE,
            l = fixtures::INIT_LOOP
        ),
    )
    .unwrap();
    let m = m.to_str().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[plugins.h]\npath = 3\n").unwrap();
    let bad = bad.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["call", "-m", m, "h", "echo", "x"], 0, ""),
        (&["check", "-m", m], 0, ""),
        (&["call", "-m", m, "h", "fail", "why"], 1, "bad-input: why"),
        (&["call", "--nope"], 2, ""),
        (&["call", "-m", bad, "h", "echo", "x"], 2, "plugins.h.path"),
        (
            &["call", "-m", m, "nobody", "echo", "x"],
            2,
            "no plugin named 'nobody'",
        ),
        (
            &["call", "-m", m, "h", "no-such-fn", "x"],
            2,
            "has no function",
        ),
        (
            &["call", "-m", m, "bad-init", "echo", "x"],
            2,
            "init-failed",
        ),
        (&["check", "--init", "-m", m], 2, "init-failed"),
        (&["call", fixtures::VERSION9, "x", "y"], 2, "9.9.0"),
        (&["call", "-m", m, "h", "panic", "boom"], 3, "panic"),
        (
            &[
                "call",
                "-m",
                m,
                "h",
                "spin",
                "",
                "--timeout",
                "100ms",
                "--fuel",
                "100000000000000",
            ],
            3,
            "timeout",
        ),
        (
            &["call", "-m", m, "h", "spin", "", "--fuel", "100000"],
            3,
            "fuel exhausted",
        ),
        (
            &["call", "-m", m, "h", "alloc", "64", "--memory", "16MiB"],
            3,
            "memory limit",
        ),
        (&["call", "-m", m, "h", "exit", "1"], 3, "exit"),
        (
            &["call", "-m", m, "loop", "echo", "x"],
            3,
            "function 'init' faulted",
        ),
    ];
    for (args, code, needle) in cases {
        let out = wasp().args(*args).assert().code(*code).get_output().clone();
        if *code != 0 && !needle.is_empty() {
            let text = one_error_line(&out.stderr);
            assert!(text.contains(needle), "{args:?}: {text}");
        }
    }
}

/// `wasp new --lang python` → `wasp build` (componentize-py, from the venv that
/// `make test` installs) → `wasp call` through its wasp.toml.
#[test]
fn new_python_plugin_builds_and_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tool = root.join("target/py-venv/bin/componentize-py");
    if !tool.exists() {
        let reason = std::fs::read_to_string(root.join("target/wasm/python/SKIPPED"))
            .unwrap_or_else(|_| "run scripts/python-plugins.sh (make test does)".into());
        eprintln!("python scaffold test skipped: {}", reason.trim());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    wasp()
        .current_dir(dir.path())
        .args(["new", "--lang", "python", "py-hello"])
        .assert()
        .success();
    let project = dir.path().join("py-hello");
    assert!(project.join("app.py").is_file() && project.join("wit/plugin.wit").is_file());
    let out = wasp()
        .args(["build", project.to_str().unwrap()])
        .env("WASP_COMPONENTIZE_PY", &tool)
        .env("VIRTUAL_ENV", root.join("target/py-venv"))
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("api:     wasp:plugin@0.3.0"), "{stdout}");
    wasp()
        .current_dir(&project)
        .args(["call", "-m", "wasp.toml", "py-hello", "greet", "snake"])
        .assert()
        .success()
        .stdout("Hello, snake!");
    wasp()
        .current_dir(&project)
        .args(["call", "-m", "wasp.toml", "py-hello", "greet", " "])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("empty"));
}

/// `--verbose` shows the plugin's own logs; without it they stay quiet.
#[test]
fn call_verbose_shows_the_plugins_logs() {
    let out = wasp()
        .args([
            "call",
            "--verbose",
            fixtures::HOSTILE,
            "log",
            "hello from the guest",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hello from the guest"), "{stderr}");
    let quiet = wasp()
        .args(["call", fixtures::HOSTILE, "log", "hello from the guest"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("hello from the guest"));
}
