//! `wasp run --metrics ADDR`: a real HTTP client scrapes `/metrics` from the real
//! listener while the pipeline runs, and the counters agree with the run's own
//! summary.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use wasp_tests::fixtures;

mod common;
use common::{spawn_wasp, write_manifest};

fn scrape(addr: &str) -> String {
    ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .expect("GET /metrics")
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_during_a_run_agree_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.upper]\npath = \"{}\"\nconfig = {{ field = \"name\" }}\n\
             [plugins.hostile]\npath = \"{}\"\nlimits = {{ timeout = \"2s\" }}\n\
             [pipeline]\nstages = [\"hostile\", \"upper\"]\nbatch = 1\n",
            fixtures::UPPER,
            fixtures::HOSTILE
        ),
    );
    let dead = dir.path().join("dead.jsonl");
    let mut child = spawn_wasp([
        "--no-cache",
        "run",
        "-m",
        m.to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
        "--dead-letter",
        dead.to_str().unwrap(),
    ]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("metrics: http://")
        .and_then(|l| l.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address on stderr: {line:?}"))
        .to_string();
    let stdout = child.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let events = 500;
    for i in 0..events {
        let poison = if i % 100 == 7 {
            ",\"poison\":\"fail\""
        } else {
            ""
        };
        writeln!(stdin, "{{\"id\":{i},\"name\":\"e{i}\"{poison}}}").unwrap();
    }
    stdin.flush().unwrap();
    // While the run is alive (its input still open), wait until every event has
    // left the pipeline, then take the figures.
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = scrape(&addr);
        let out = sample(&text, "wasp_events_total{outcome=\"out\"}").unwrap_or(0.0);
        let dead = sample(&text, "wasp_events_total{outcome=\"dead-letter\"}").unwrap_or(0.0);
        if out + dead >= f64::from(events) {
            break text;
        }
        assert!(Instant::now() < deadline, "the run did not finish:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut summary = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut summary).unwrap();
    let out_lines = drain.join().unwrap().lines().count();

    assert_eq!(
        sample(&text, "wasp_events_total{outcome=\"out\"}"),
        Some(495.0)
    );
    assert_eq!(sample(&text, "wasp_dead_letters_total"), Some(5.0));
    assert_eq!(out_lines, 495);
    assert!(
        summary.contains("summary: 500 events, 495 out, 0 dropped by a stage, 5 dead-lettered"),
        "{summary}"
    );
    // Each plugin's calls and errors as the summary table shows them.
    for row in summary
        .lines()
        .filter(|l| l.starts_with("upper ") || l.starts_with("hostile "))
    {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let (name, calls, errors) = (cols[0], cols[1], cols[2]);
        let fuel = cols[6];
        let labels = |metric: &str| {
            let prefix = format!("{metric}{{plugin=\"{name}\",");
            text.lines()
                .find(|l| l.starts_with(&prefix))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_string)
                .unwrap_or_else(|| panic!("no {metric} for {name}:\n{text}"))
        };
        assert_eq!(labels("wasp_calls_total"), calls, "{row}");
        assert_eq!(labels("wasp_call_errors_total"), errors, "{row}");
        assert_eq!(labels("wasp_fuel_consumed_total"), fuel, "{row}");
    }
    assert!(text.contains("# TYPE wasp_call_duration_seconds histogram"));
    assert!(text.contains("wasp_cpu_seconds_total{plugin=\"upper\""));
}
