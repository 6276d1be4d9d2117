//! `wasp run` scaled out on NATS JetStream: 100,000 events of 60 bytes of JSON
//! through the three `upper` stages of the pipeline benchmark (batches of 256),
//! read from a JetStream stream by 1 and by 2 workers sharing the durable
//! consumer and published to a results stream (each output acknowledged by
//! JetStream before its event is), next to the same pipeline file in, stdout out
//! in the same run.
//!
//! Events per second: from the workers' start until the results stream holds
//! every output (polled every 5 ms). CPU seconds per million events: the
//! workers' user + system time (the server's is not counted; it is a separate
//! process shared by every worker). Each case has a fresh server; the events
//! are published before the clock starts (`wasp publish`).
//!
//! Needs the release `wasp` binary (`make bench` builds it) and `nats-server`
//! (`make test-tools` installs it). Results: `target/bench/nats.json`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wasp_benches::{EVENT, children_cpu, machine, timed_run, tokio, wasp_binary};
use wasp_tests::fixtures;
use wasp_tests::nats::NatsServer;

const EVENTS: u64 = 100_000;

/// The pipeline, with a NATS source and sink when `url` is given.
fn manifest(dir: &Path, url: Option<&str>) -> PathBuf {
    let mut m = String::new();
    for s in ["a", "b", "c"] {
        m.push_str(&format!(
            "[plugins.{s}]\npath = \"{}\"\nconfig = {{ field = \"message\" }}\n",
            fixtures::UPPER
        ));
    }
    m.push_str("[pipeline]\nstages = [\"a\", \"b\", \"c\"]\nbatch = 256\n");
    if let Some(url) = url {
        m.push_str(&format!(
            "[pipeline.source]\nnats = \"{url}\"\nstream = \"events\"\n\
             [pipeline.sink]\nnats = \"{url}\"\nsubject = \"results\"\n"
        ));
    }
    let f = dir.join(if url.is_some() {
        "nats.toml"
    } else {
        "file.toml"
    });
    std::fs::write(&f, m).unwrap();
    f
}

/// (wall, CPU) of `workers` `wasp run --until-idle` over a fresh stream.
fn nats_case(dir: &Path, input: &Path, workers: usize) -> (Duration, Duration) {
    let server = NatsServer::start();
    let m = manifest(dir, Some(server.url()));
    let out = Command::new(wasp_binary())
        .args(["publish", "-m"])
        .arg(&m)
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio();
    let js = rt.block_on(async {
        async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap())
    });
    let before = children_cpu();
    let start = Instant::now();
    let mut children: Vec<_> = (0..workers)
        .map(|_| {
            Command::new(wasp_binary())
                .args(["run", "--until-idle", "-m"])
                .arg(&m)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let wall = loop {
        let done = rt.block_on(async {
            match js.get_stream("results").await {
                Ok(mut s) => s.info().await.unwrap().state.messages,
                Err(_) => 0,
            }
        });
        if done >= EVENTS {
            break start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "stuck at {done}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    (wall, children_cpu() - before)
}

/// (wall, CPU) of the same pipeline, file in, stdout out (discarded).
fn file_case(dir: &Path, input: &Path) -> (Duration, Duration) {
    let m = manifest(dir, None);
    timed_run(&m, input, None, EVENTS)
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let mut text = Vec::with_capacity(EVENTS as usize * 61);
    for _ in 0..EVENTS {
        text.extend_from_slice(EVENT);
        text.push(b'\n');
    }
    std::fs::write(&input, text).unwrap();

    println!("{:<22} {:>12} {:>16}", "case", "events/s", "CPU s / 1M ev");
    let mut results = Vec::new();
    for (name, workers) in [("file", 0), ("nats/1-worker", 1), ("nats/2-workers", 2)] {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        // Best of three: the machine is shared and noisy.
        let (wall, cpu) = (0..3)
            .map(|_| match workers {
                0 => file_case(dir.path(), &input),
                n => nats_case(dir.path(), &input, n),
            })
            .min_by_key(|(wall, _)| *wall)
            .unwrap();
        let events_per_s = EVENTS as f64 / wall.as_secs_f64();
        let cpu_per_million = cpu.as_secs_f64() * 1e6 / EVENTS as f64;
        println!("{name:<22} {events_per_s:>12.0} {cpu_per_million:>16.3}");
        results.push(json!({
            "case": name,
            "workers": workers,
            "events": EVENTS,
            "events_per_s": events_per_s,
            "cpu_s_per_million": cpu_per_million,
        }));
    }
    wasp_benches::write_results(
        "nats",
        &json!({"machine": machine(), "command": "make bench", "results": results}),
    );
}
