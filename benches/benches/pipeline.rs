//! `wasp run` as a whole: 100,000 events of 60 bytes of JSON, file in, file out,
//! through three stages, with and without 0.3.0 batches; events per second (wall),
//! CPU seconds per million events (the `wasp` process's user + system time), and
//! the ratio of that CPU to the **floor**: three raw wasmtime calls of the same
//! stage's `process` on the same event, measured in this run (what a perfect
//! per-event engine would pay).
//!
//! Cases: `json` (the `upper` plugin: parses the event, uppercases `message`,
//! re-emits it) and `pass` (the `pass` fixture: returns the event unchanged, so
//! what is measured is the cost of a stage itself).
//!
//! Needs the release `wasp` binary (`make bench` builds it). Results:
//! `target/bench/pipeline.json`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use wasp_benches::{EVENT, Raw, component_of, machine, median_per_call, timed_run, tokio};
use wasp_tests::fixtures;

const EVENTS: usize = 100_000;

/// One `wasp run`: (wall time, CPU time).
fn run(manifest: &Path, input: &Path) -> (Duration, Duration) {
    timed_run(manifest, input, None, EVENTS as u64)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects cases by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let mut text = Vec::with_capacity(EVENTS * 61);
    for _ in 0..EVENTS {
        text.extend_from_slice(EVENT);
        text.push(b'\n');
    }
    std::fs::write(&input, text).unwrap();

    let tokio = tokio();
    let mut results = Vec::new();
    println!(
        "{:<20} {:>12} {:>16} {:>12} {:>10}",
        "case", "events/s", "CPU s / 1M ev", "floor µs/ev", "CPU/floor"
    );
    for (case, plugin) in [("json", fixtures::UPPER), ("pass", fixtures::PASS)] {
        // The floor: three raw calls of this `process` on this event.
        let raw = Raw::new(&component_of(plugin), false);
        let mut instance = tokio.block_on(raw.instance());
        let per_call = median_per_call(11, 20_000, || {
            tokio.block_on(instance.call("process", EVENT));
        });
        let floor = per_call * 3;
        for batch in [1u32, 256] {
            let name = format!("{case}/batch-{batch}");
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let manifest = dir.path().join(format!("{case}-{batch}.toml"));
            let mut m = String::new();
            for s in ["a", "b", "c"] {
                m.push_str(&format!("[plugins.{s}]\npath = \"{plugin}\"\n"));
            }
            m.push_str(&format!(
                "[pipeline]\nstages = [\"a\", \"b\", \"c\"]\nbatch = {batch}\n"
            ));
            std::fs::write(&manifest, m).unwrap();
            // Best of three runs: the machine is shared and noisy.
            let (wall, cpu) = (0..3)
                .map(|_| run(&manifest, &input))
                .min_by_key(|(_, cpu)| *cpu)
                .unwrap();
            let per_event = cpu / EVENTS as u32;
            let ratio = per_event.as_secs_f64() / floor.as_secs_f64();
            let events_per_s = EVENTS as f64 / wall.as_secs_f64();
            println!(
                "{name:<20} {events_per_s:>12.0} {:>16.3} {:>12.3} {ratio:>10.2}",
                cpu.as_secs_f64() * 1e6 / EVENTS as f64,
                floor.as_secs_f64() * 1e6,
            );
            results.push(json!({
                "case": name,
                "events": EVENTS,
                "events_per_s": events_per_s,
                "cpu_s_per_million": cpu.as_secs_f64() * 1e6 / EVENTS as f64,
                "events_per_cpu_s": EVENTS as f64 / cpu.as_secs_f64(),
                "floor_ns_per_event": floor.as_nanos() as u64,
                "raw_call_ns": per_call.as_nanos() as u64,
                "cpu_to_floor": ratio,
            }));
        }
    }
    wasp_benches::write_results(
        "pipeline",
        &json!({"machine": machine(), "command": "make bench", "results": results}),
    );
}
