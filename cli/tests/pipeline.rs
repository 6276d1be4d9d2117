//! `wasp run` as a pipeline: output in input order whatever the stages'
//! latencies and concurrency, batches for 0.3.0 stages (a poison event or a
//! wrong-length batch costs only itself), plugins of every world in one pipeline,
//! kv writes durable before their outputs, and flat memory on an endless input.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use wasp_tests::fixtures;

mod common;
use common::{run_ok, write_manifest};

fn golden(version: &str, name: &str) -> String {
    format!(
        "{}/../tests/golden/v{version}/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `wasp run` over `input` (it must succeed): its stdout lines and stderr.
fn run(m: &Path, dead: &Path, input: String) -> (Vec<Value>, String) {
    let out = run_ok(m, dead, input);
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, String::from_utf8(out.stderr).unwrap())
}

fn letters(dead: &Path) -> Vec<Value> {
    std::fs::read_to_string(dead)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(lines: &[Value]) -> Vec<u64> {
    lines.iter().map(|v| v["id"].as_u64().unwrap()).collect()
}

/// A small deterministic generator (no rand dependency): xorshift.
fn lcg(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn output_order_is_input_order_with_random_latencies_and_four_instances() {
    let dir = tempfile::tempdir().unwrap();
    // Three stages of three worlds: 0.3.0 (batches), 0.2.0 and 0.1.0 (one call per
    // event), each with four instances working on chunks at once.
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.slow]\npath = \"{}\"\nmax-instances = 4\n\
             [plugins.old]\npath = \"{}\"\nmax-instances = 4\n\
             [plugins.oldest]\npath = \"{}\"\nmax-instances = 4\n\
             [pipeline]\nstages = [\"slow\", \"old\", \"oldest\"]\nbatch = 4\n",
            fixtures::HOSTILE,
            golden("0.2.0", "hostile"),
            fixtures::WORDCOUNT,
        ),
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut input = String::new();
    let n = 600;
    for id in 0..n {
        // Mostly fast, some slow: chunks finish out of order.
        let sleep = if lcg(&mut seed).is_multiple_of(10) {
            lcg(&mut seed) % 15
        } else {
            0
        };
        input.push_str(&format!(
            "{{\"id\":{id},\"message\":\"a b c\",\"sleep\":{sleep}}}\n"
        ));
    }
    let dead = dir.path().join("dead.jsonl");
    let (lines, stderr) = run(&m, &dead, input);
    assert_eq!(ids(&lines), (0..n).collect::<Vec<_>>(), "{stderr}");
    // The 0.1.0 stage ran on every event.
    assert!(lines.iter().all(|v| v["words"] == 3), "{stderr}");
    assert!(letters(&dead).is_empty());
    assert!(stderr.contains("summary: 600 events, 600 out"), "{stderr}");
}

#[test]
fn a_poison_event_in_a_batch_is_dead_lettered_alone() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.h]\npath = \"{}\"\nmax-instances = 1\n\
             [plugins.upper]\npath = \"{}\"\nconfig = {{ field = \"name\" }}\n\
             [pipeline]\nstages = [\"h\", \"upper\"]\n",
            fixtures::HOSTILE,
            fixtures::UPPER
        ),
    );
    let mut input = String::new();
    let poisoned: BTreeSet<u64> = [17, 130, 131, 299].into_iter().collect();
    let kinds = ["panic", "exit", "fail", "alloc"];
    for id in 0..400u64 {
        match poisoned.iter().position(|p| *p == id) {
            Some(k) => input.push_str(&format!(
                "{{\"id\":{id},\"name\":\"e{id}\",\"poison\":\"{}\"}}\n",
                kinds[k]
            )),
            None => input.push_str(&format!("{{\"id\":{id},\"name\":\"e{id}\"}}\n")),
        }
    }
    let dead = dir.path().join("dead.jsonl");
    let (lines, stderr) = run(&m, &dead, input);
    let expected: Vec<u64> = (0..400).filter(|i| !poisoned.contains(i)).collect();
    assert_eq!(ids(&lines), expected, "{stderr}");
    assert!(
        lines
            .iter()
            .all(|v| v["name"] == format!("E{}", v["id"]).as_str())
    );
    let letters = letters(&dead);
    let dead_ids: BTreeSet<u64> = letters
        .iter()
        .map(|l| l["event"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(dead_ids, poisoned);
    let kinds: BTreeSet<&str> = letters
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "fault:exit",
            "fault:memory-limit",
            "fault:panic",
            "plugin-error"
        ]
        .into_iter()
        .collect(),
        "{letters:?}"
    );
    // The faulted batches were retried one by one, and said so.
    assert!(stderr.contains("retrying its"), "{stderr}");
}

#[test]
fn a_wrong_length_batch_is_a_fault_and_its_events_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.liar]\npath = \"{}\"\nmax-instances = 1\n\
             [pipeline]\nstages = [\"liar\"]\nbatch = 64\n",
            fixtures::BATCH_LIAR
        ),
    );
    let input: String = (0..64).map(|id| format!("{{\"id\":{id}}}\n")).collect();
    let dead = dir.path().join("dead.jsonl");
    let (lines, stderr) = run(&m, &dead, input);
    assert!(
        stderr.contains("plugin 'liar' returned 63 results for 64 inputs"),
        "{stderr}"
    );
    assert_eq!(ids(&lines), (0..64).collect::<Vec<_>>(), "{stderr}");
    assert!(letters(&dead).is_empty());
    assert!(stderr.contains("batch-length=1"), "{stderr}");
}

/// `wasp run` reading from a pipe we write to, output read as it comes.
struct Running {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn spawn(m: &Path) -> Running {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("wasp"))
        .env_remove("WASP_LOG")
        .args(["run", "-m", m.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    Running { child, lines }
}

/// Resident memory of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn kv_writes_are_durable_before_their_outputs_even_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[runtime]\nstate = \"state.db\"\nkv-commit = \"20ms\"\n\
             [plugins.stats]\npath = \"{}\"\nmax-instances = 1\ngrants = {{ kv = true }}\n\
             [pipeline]\nstages = [\"stats\"]\n",
            fixtures::STATS
        ),
    );
    let mut run = spawn(&m);
    let mut stdin = run.child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for id in 0..100_000 {
            if writeln!(stdin, "{{\"id\":{id},\"type\":\"x\"}}").is_err() {
                return; // killed
            }
        }
    });
    // Read some outputs, then kill the process without warning.
    let mut last_seen = 0;
    for _ in 0..3000 {
        let line = run.lines.next().unwrap().unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        last_seen = v["seen"].as_u64().unwrap();
    }
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    feeder.join().unwrap();
    assert!(last_seen >= 3000);
    // Every count that reached the output survived the kill.
    let out = common::wasp()
        .args(["call", "-m", m.to_str().unwrap(), "stats", "counts", ""])
        .assert()
        .success()
        .get_output()
        .clone();
    let counts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = counts["x"].as_u64().unwrap();
    assert!(kept >= last_seen, "kept {kept} < seen {last_seen}");
}

#[test]
fn an_endless_input_keeps_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.h]\npath = \"{}\"\n[plugins.p]\npath = \"{}\"\n\
             [pipeline]\nstages = [\"h\", \"p\"]\n",
            fixtures::HOSTILE,
            fixtures::PASS
        ),
    );
    let mut run = spawn(&m);
    let pid = run.child.id();
    let mut stdin = run.child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let pad = "p".repeat(200);
        for id in 0u64.. {
            if writeln!(stdin, "{{\"id\":{id},\"pad\":\"{pad}\"}}").is_err() {
                return;
            }
        }
    });
    let mut read = |n: u64| {
        for _ in 0..n {
            run.lines.next().unwrap().unwrap();
        }
    };
    read(20_000);
    let early = rss_kib(pid);
    read(100_000);
    let late = rss_kib(pid);
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    feeder.join().unwrap();
    // 100k events of ~220 bytes (22 MB) went through; memory grew by far less.
    assert!(
        late < early + 8 * 1024,
        "RSS grew from {early} KiB to {late} KiB"
    );
}
