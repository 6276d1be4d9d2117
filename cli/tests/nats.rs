//! `wasp run` on NATS JetStream, against a real `nats-server` each test starts
//! on a free loopback port (JetStream on, a temporary store): three workers
//! share a durable consumer, one is killed mid-run and nothing is lost or
//! doubled; SIGTERM finishes what is in flight; an unreachable server is exit 2
//! with its URL; `ordered = true` keeps input order.
//!
//! `make test` installs `nats-server` (scripts/test-tools.sh); a test that
//! cannot start it fails with the reason.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use serde_json::Value;
use wasp_tests::fixtures;
use wasp_tests::nats::{NatsServer as Server, free_port};

mod common;
use common::{wasp, write_manifest};

/// How long anything here may take before the test fails.
const LIMIT: Duration = Duration::from_secs(240);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A manifest: the hostile fixture as the one stage (a poisoned event fails or
/// panics in it), reading `events` and writing `results` and `dead` at `url`.
fn manifest(dir: &Path, url: &str, source_extra: &str) -> PathBuf {
    write_manifest(
        dir,
        &format!(
            "[plugins.stage]\npath = \"{}\"\nmax-instances = 2\n\
             [pipeline]\nstages = [\"stage\"]\n\
             [pipeline.source]\nnats = \"{url}\"\nstream = \"events\"\n\
             ack-wait = \"2s\"\n{source_extra}\n\
             [pipeline.sink]\nnats = \"{url}\"\nsubject = \"results\"\ndead-letter = \"dead\"\n",
            fixtures::HOSTILE
        ),
    )
}

/// `n` events `{"id":I,…}`, `poison(I)` naming the poison to put in event I.
fn events(
    dir: &Path,
    n: u64,
    extra: &str,
    poison: impl Fn(u64) -> Option<&'static str>,
) -> PathBuf {
    use std::fmt::Write;
    let mut text = String::with_capacity(n as usize * 40);
    for id in 0..n {
        match poison(id) {
            Some(p) => writeln!(text, "{{\"id\":{id},\"poison\":\"{p}\"{extra}}}"),
            None => writeln!(text, "{{\"id\":{id},\"name\":\"e{id}\"{extra}}}"),
        }
        .unwrap();
    }
    let f = dir.join("events.jsonl");
    std::fs::write(&f, text).unwrap();
    f
}

/// `wasp publish -m M FILE`: every event is in the stream.
fn publish(m: &Path, input: &Path, n: u64) {
    let out = wasp()
        .args([
            "publish",
            "-m",
            m.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .timeout(LIMIT)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("published {n} events to the stream 'events'")),
        "{stderr}"
    );
}

/// A `wasp run -m M ARGS…` worker, its stderr kept in `log`.
fn worker(m: &Path, log: &Path, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("wasp"))
        .args(["run", "-m", m.to_str().unwrap()])
        .args(args)
        .env_remove("WASP_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit (at most [`LIMIT`]).
fn exit_of(child: &mut Child, log: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "a worker did not end in {LIMIT:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every message in `stream`, in stream order (read by a consumer of the
/// test's own, so the workers' durable consumer is not touched).
async fn messages(js: &jetstream::Context, stream: &str) -> Vec<Value> {
    let mut stream = js.get_stream(stream).await.unwrap();
    let total = stream.info().await.unwrap().state.messages as usize;
    let reader = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let mut batch = reader
            .batch()
            .max_messages(10_000)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        let before = out.len();
        while let Some(m) = batch.next().await {
            out.push(serde_json::from_slice(&m.unwrap().payload).unwrap());
        }
        assert!(out.len() > before, "the stream {stream:?} stopped short");
    }
    out
}

/// How many messages `stream` holds (0 before it exists).
async fn count(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.unwrap().state.messages,
        Err(_) => 0,
    }
}

/// How many times each id occurs, `id_of` finding it in a message.
fn tally(messages: &[Value], id_of: impl Fn(&Value) -> u64) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for m in messages {
        *seen.entry(id_of(m)).or_insert(0) += 1;
    }
    seen
}

/// The results, the dead letters and the consumer, once every worker ended;
/// asserts that each of the `n` events has its output in `results` exactly once,
/// or, when `poison` names it, its dead letter in `dead` exactly once (and no
/// output).
async fn each_once(
    js: &jetstream::Context,
    n: u64,
    poison: impl Fn(u64) -> Option<&'static str>,
) -> (Vec<Value>, Vec<Value>, consumer::Info) {
    let results = messages(js, "results").await;
    let dead = messages(js, "dead").await;
    let outputs = tally(&results, |v| v["id"].as_u64().unwrap());
    let expected: Vec<u64> = (0..n).filter(|i| poison(*i).is_none()).collect();
    assert_eq!(outputs.keys().copied().collect::<Vec<_>>(), expected);
    assert!(
        outputs.values().all(|c| *c == 1),
        "an output was published twice"
    );
    assert!(results.iter().all(|v| v["poison"].is_null()));
    let letters = tally(&dead, |v| v["event"]["id"].as_u64().unwrap());
    let poisoned: Vec<u64> = (0..n).filter(|i| poison(*i).is_some()).collect();
    assert_eq!(letters.keys().copied().collect::<Vec<_>>(), poisoned);
    assert!(
        letters.values().all(|c| *c == 1),
        "a dead letter was published twice"
    );
    (results, dead, consumer_info(js).await)
}

async fn consumer_info(js: &jetstream::Context) -> consumer::Info {
    let stream = js.get_stream("events").await.unwrap();
    let mut c: consumer::PullConsumer = stream.get_consumer("wasp").await.unwrap();
    c.info().await.unwrap().clone()
}

#[test]
fn three_workers_one_killed_mid_run_every_output_once() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), server.url(), "");
    let n = 100_000u64;
    // One event in 500 fails in the stage (a plugin-error), one in 20,000 panics
    // (a fault, the instance replaced): all dead-lettered, none in the results.
    let poison = |id: u64| {
        if id % 20_000 == 7_777 {
            Some("panic")
        } else if id % 500 == 3 {
            Some("fail")
        } else {
            None
        }
    };
    let input = events(dir.path(), n, "", poison);
    publish(&m, &input, n);

    let rt = runtime();
    let js =
        rt.block_on(async { jetstream::new(async_nats::connect(server.url()).await.unwrap()) });
    let logs: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("worker{i}.log")))
        .collect();
    let mut workers: Vec<Child> = (0..3)
        .map(|i| worker(&m, &logs[i], &["--until-idle"]))
        .collect();
    // Kill the first worker once a tenth of the work is out: whatever it held
    // unacknowledged goes to the others after the ack wait (2 s).
    let deadline = Instant::now() + LIMIT;
    while rt.block_on(count(&js, "results")) < n / 10 {
        assert!(Instant::now() < deadline, "no progress");
        assert!(
            workers[0].try_wait().unwrap().is_none(),
            "worker 0 ended before it was killed:\n{}",
            std::fs::read_to_string(&logs[0]).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    workers[0].kill().unwrap(); // SIGKILL
    workers[0].wait().unwrap();
    workers.push(worker(&m, &logs[3], &["--until-idle"]));
    for (i, w) in workers.iter_mut().enumerate().skip(1) {
        let status = exit_of(w, &logs[i]);
        let log = std::fs::read_to_string(&logs[i]).unwrap();
        assert!(status.success(), "worker {i}: {status}\n{log}");
        assert!(log.contains("summary:"), "{log}");
        eprintln!("worker {i}: {}", log.lines().last().unwrap_or_default());
    }

    let (results, dead, info) = rt.block_on(each_once(&js, n, poison));
    for d in &dead {
        let kind = d["kind"].as_str().unwrap();
        match d["event"]["poison"].as_str().unwrap() {
            "panic" => assert_eq!(kind, "fault:panic", "{d}"),
            _ => assert_eq!(kind, "plugin-error", "{d}"),
        }
    }
    eprintln!(
        "{} deliveries of {} events; {} results, {} dead letters",
        info.delivered.consumer_sequence,
        info.delivered.stream_sequence,
        results.len(),
        dead.len()
    );
    // Nothing is left undelivered or unacknowledged, and what the killed worker
    // held unacknowledged was delivered again (each delivery takes a consumer
    // sequence number; each event has one stream sequence number).
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
    assert!(
        info.delivered.consumer_sequence > n,
        "the killed worker held nothing in flight?"
    );
    let again: u64 = (1..4)
        .map(|i| {
            let log = std::fs::read_to_string(&logs[i]).unwrap();
            let summary = log.lines().find(|l| l.starts_with("summary:")).unwrap();
            let n = summary
                .split(", ")
                .find(|p| p.ends_with(" delivered again"));
            n.unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(again, info.delivered.consumer_sequence - n);
}

#[test]
fn sigterm_finishes_what_is_in_flight_and_nothing_is_redelivered() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), server.url(), "");
    let n = 3_000u64;
    // Each event takes 2 ms in the stage (two instances): the run lasts seconds.
    let input = events(dir.path(), n, ",\"sleep\":2", |_| None);
    publish(&m, &input, n);
    let rt = runtime();
    let js =
        rt.block_on(async { jetstream::new(async_nats::connect(server.url()).await.unwrap()) });

    let log = dir.path().join("worker.log");
    let mut w = worker(&m, &log, &["--metrics", "127.0.0.1:0"]);
    let deadline = Instant::now() + LIMIT;
    while rt.block_on(count(&js, "results")) < 200 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    // --metrics has the source's figures: what the consumer still holds.
    let addr = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("metrics: http://")?
                .strip_suffix("/metrics")
                .map(String::from)
        })
        .expect("a metrics line");
    let metrics = ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let pending: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wasp_source_pending "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(pending > 0.0 && pending < n as f64, "{metrics}");
    assert!(
        metrics.contains("wasp_source_redelivered_total 0"),
        "{metrics}"
    );
    let term = Command::new("kill")
        .args(["-TERM", &w.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = exit_of(&mut w, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}\n{text}");
    assert!(
        text.contains("stopping: finishing the events in flight"),
        "{text}"
    );
    let summary = text.lines().find(|l| l.starts_with("summary:")).unwrap();
    let done: u64 = summary.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(done < n, "SIGTERM came after the end: {summary}");

    // Everything it took is out and acknowledged: nothing waits for redelivery.
    let (out, info) =
        rt.block_on(async { (count(&js, "results").await, consumer_info(&js).await) });
    assert_eq!(out, done, "{summary}");
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, n - done);

    // After the ack wait, a second worker gets only the rest, none again.
    std::thread::sleep(Duration::from_secs(3));
    let log2 = dir.path().join("worker2.log");
    let mut w2 = worker(&m, &log2, &["--until-idle"]);
    assert!(exit_of(&mut w2, &log2).success());
    let (results, info) =
        rt.block_on(async { (messages(&js, "results").await, consumer_info(&js).await) });
    let outputs = tally(&results, |v| v["id"].as_u64().unwrap());
    assert_eq!(outputs.len() as u64, n);
    assert!(outputs.values().all(|c| *c == 1));
    assert_eq!(
        info.delivered.consumer_sequence, info.delivered.stream_sequence,
        "an event was delivered twice"
    );
    assert_eq!(info.num_ack_pending, 0);
}

#[test]
fn an_unreachable_server_is_exit_2_with_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("nats://127.0.0.1:{}", free_port());
    let m = manifest(dir.path(), &url, "");
    for verb in [&["run", "-m"][..], &["publish", "-m"][..]] {
        let out = wasp()
            .args(verb)
            .arg(&m)
            .write_stdin("{\"id\":1}\n")
            .timeout(Duration::from_secs(60))
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&url), "{stderr}");
        assert!(stderr.contains("nats-server"), "{stderr}");
    }
}

#[test]
fn ordered_keeps_input_order_and_output_overrides_the_sink() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        server.url(),
        "ordered = true\nconsumer = \"one\"",
    );
    let n = 5_000u64;
    let input = events(dir.path(), n, "", |_| None);
    publish(&m, &input, n);
    // --output: the outputs go to a file, not to the sink's subject.
    let file = dir.path().join("out.jsonl");
    let log = dir.path().join("worker.log");
    let mut w = worker(
        &m,
        &log,
        &["--until-idle", "--output", file.to_str().unwrap()],
    );
    assert!(exit_of(&mut w, &log).success());
    let ids: Vec<u64> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
    let rt = runtime();
    let js =
        rt.block_on(async { jetstream::new(async_nats::connect(server.url()).await.unwrap()) });
    assert_eq!(rt.block_on(count(&js, "results")), 0);
}

/// The server crashes mid-run and comes back (same port, same store) after
/// longer than a publish waits for its acknowledgement: the worker says so,
/// retries what was not acknowledged, and finishes; every output and dead
/// letter is in its stream exactly once.
#[test]
fn a_server_crash_mid_run_is_ridden_out_and_nothing_is_lost_or_doubled() {
    let mut server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), server.url(), "");
    let n = 60_000u64;
    let poison = |id: u64| (id % 1_000 == 7).then_some("fail");
    let input = events(dir.path(), n, "", poison);
    publish(&m, &input, n);
    let rt = runtime();
    let url = server.url().to_string();
    let connect =
        || rt.block_on(async { jetstream::new(async_nats::connect(&url).await.unwrap()) });
    let js = connect();
    let log = dir.path().join("worker.log");
    let mut w = worker(&m, &log, &["--until-idle"]);
    let deadline = Instant::now() + LIMIT;
    while rt.block_on(count(&js, "results")) < n / 5 {
        assert!(Instant::now() < deadline, "no progress");
        assert!(
            w.try_wait().unwrap().is_none(),
            "the worker ended before the crash:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(js);
    // Down for longer than the 5 s a publish waits for its acknowledgement.
    server.restart(Duration::from_secs(6));
    let status = exit_of(&mut w, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}\n{text}");
    assert!(text.contains("connection lost; reconnecting"), "{text}");
    assert!(text.contains("reconnected"), "{text}");
    assert!(text.contains("summary:"), "{text}");
    eprintln!("{text}");

    let js = connect();
    let (_, _, info) = rt.block_on(each_once(&js, n, poison));
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
}

/// An output larger than the server takes (its `max_payload`) is dead-lettered
/// (`output-too-large`, without the event when the letter would be too large
/// too), and the run goes on: no event makes every worker fail.
#[test]
fn an_output_larger_than_the_server_takes_is_dead_lettered() {
    let server = Server::start_with_config("max_payload: 4096\n");
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), server.url(), "");
    // From a file (no NATS source): the stage passes each event through, so
    // an input of 6,000 bytes is an output of 6,000 bytes.
    let big = "x".repeat(6_000);
    let input = dir.path().join("input.jsonl");
    std::fs::write(
        &input,
        format!("{{\"id\":0}}\n{{\"id\":1,\"pad\":\"{big}\"}}\n{{\"id\":2}}\n"),
    )
    .unwrap();
    let log = dir.path().join("worker.log");
    let mut w = worker(&m, &log, &["--input", input.to_str().unwrap()]);
    let status = exit_of(&mut w, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}\n{text}");
    assert!(text.contains("3 events, 2 out"), "{text}");
    let rt = runtime();
    let (results, dead) = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
        (messages(&js, "results").await, messages(&js, "dead").await)
    });
    let ids: Vec<u64> = results.iter().map(|v| v["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [0, 2]);
    assert_eq!(dead.len(), 1, "{dead:?}");
    let letter = &dead[0];
    assert_eq!(letter["kind"], "output-too-large", "{letter}");
    assert!(letter["stage"].is_null(), "{letter}");
    assert!(letter["event"].is_null(), "{letter}");
    let error = letter["error"].as_str().unwrap();
    assert!(error.contains("larger than the sink takes"), "{error}");
    assert!(error.contains("the event is left out"), "{error}");
}
