//! Cancellation: a caller that stops waiting — `tokio::time::timeout`, `select!`,
//! a client gone — at any await point (queued, running in the guest, inside a
//! host call, inside kv) gives back everything its call held, at once.

use std::time::Duration;

use wasp_host::{Error, Grants, Limits, PluginOptions, Runtime};
use wasp_tests::fixtures;

use crate::{assert_no_leak, open_fds, rss_bytes};

/// A small seeded generator (xorshift64): the same seed, the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("WASP_CANCEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_d00d)
}

/// A runtime with a host function that takes its time, so a call can be dropped
/// while the guest waits in a host call.
fn runtime() -> Runtime {
    Runtime::builder()
        .host_fn("slow", |_ctx, _input| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(b"late".to_vec())
        })
        .build()
        .unwrap()
}

fn options() -> PluginOptions {
    PluginOptions::default()
        .max_instances(1)
        .max_queue(4)
        .limits(Limits::default().timeout(Duration::from_secs(2)))
        .grants(Grants::default().host_functions(["slow"]).kv(true, None))
}

/// One call of a random kind, to be dropped at a random point.
fn random_call(rng: &mut Rng) -> (&'static str, String) {
    match rng.below(6) {
        0 => ("sleep", (1 + rng.below(15)).to_string()), // blocked in WASI
        1 => ("spin", String::new()),                    // running in the guest
        2 => ("host", "slow".to_string()),               // inside a host call
        3 => ("kv-set", format!("k{}=v", rng.below(50))), // inside kv
        4 => ("count", String::new()),
        _ => ("echo", "x".to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_cancelled_at_random_points_release_everything() {
    let rt = runtime();
    let plugins = rt.plugins();
    let p = plugins
        .load("h", fixtures::HOSTILE, options())
        .await
        .unwrap();
    let mut rng = Rng(seed());
    let (mut cancelled, mut finished, mut busy) = (0u32, 0u32, 0u32);
    const ROUNDS: usize = 40;
    const CONCURRENT: usize = 8;
    for _ in 0..ROUNDS {
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENT {
            let (function, input) = random_call(&mut rng);
            let after = Duration::from_micros(rng.below(12_000));
            let by_select = rng.below(2) == 0;
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let call = p.call_raw(function, input.as_bytes());
                if by_select {
                    tokio::select! {
                        r = call => Some(r),
                        _ = tokio::time::sleep(after) => None,
                    }
                } else {
                    tokio::time::timeout(after, call).await.ok()
                }
            }));
        }
        for t in tasks {
            match t.await.unwrap() {
                None => cancelled += 1,
                Some(Err(Error::Busy { .. })) => busy += 1,
                Some(_) => finished += 1,
            }
        }
        // Nothing is held by the calls that were dropped.
        let s = p.stats();
        assert_eq!(s.in_flight, 0, "{s:?}");
        assert!(s.instances <= 1, "{s:?}");
    }
    eprintln!(
        "{} cases: {cancelled} cancelled, {finished} finished, {busy} busy",
        ROUNDS * CONCURRENT
    );
    assert!(cancelled >= 50, "only {cancelled} cancellations");
    let s = p.stats();
    assert_eq!(s.cancelled, u64::from(cancelled), "{s:?}");
    // A queued call is served: one call holds the only instance, the next waits
    // in the queue and gets it.
    let holder = {
        let p = p.clone();
        tokio::spawn(async move { p.call_raw("sleep", b"50").await })
    };
    while p.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(p.call_raw("echo", b"queued").await.unwrap(), b"queued");
    assert_eq!(holder.await.unwrap().unwrap(), b"slept");
    assert_eq!(p.stats().in_flight, 0);
    // Unload does not wait for calls that no longer exist.
    let dropped = {
        let p = p.clone();
        tokio::spawn(async move { p.call_raw("sleep", b"1500").await })
    };
    while p.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    dropped.abort();
    let _ = dropped.await;
    assert_eq!(p.stats().in_flight, 0);
    let unloaded = tokio::time::timeout(p.limits().timeout, plugins.unload("h")).await;
    assert!(
        matches!(unloaded, Ok(Some(_))),
        "unload waited for a dropped call"
    );
    assert_eq!(p.stats().instances, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cancellations_keep_memory_flat() {
    let rt = runtime();
    let p = rt.load_file(fixtures::HOSTILE, options()).await.unwrap();
    let mut rng = Rng(seed() ^ 0xabcd);
    // Cancelled while running: in the guest, in WASI, in a host call. Each
    // discards its instance, so the next call makes a fresh one.
    let running = async |rng: &mut Rng, n: usize| {
        for _ in 0..n {
            let (function, input) = match rng.below(3) {
                0 => ("spin", String::new()),
                1 => ("sleep", "5".to_string()),
                _ => ("host", "slow".to_string()),
            };
            let after = Duration::from_micros(rng.below(300));
            let _ = tokio::time::timeout(after, p.call_raw(function, input.as_bytes())).await;
        }
    };
    // Cancelled while queued behind a call that holds the only instance.
    let queued = async |rng: &mut Rng, n: usize| {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let holder = {
            let (p, stop) = (p.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = p.call_raw("sleep", b"100").await;
                }
            })
        };
        while p.stats().in_flight == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..n {
            // Polled a few times (it waits in the queue), then dropped.
            let mut call = std::pin::pin!(p.call_raw("echo", b"q"));
            for _ in 0..=rng.below(3) {
                tokio::select! {
                    biased;
                    _ = &mut call => break,
                    _ = tokio::task::yield_now() => {}
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        holder.await.unwrap();
    };
    // Warm up (allocator arenas, the first instances), then measure.
    running(&mut rng, 100).await;
    queued(&mut rng, 500).await;
    let before = (rss_bytes(), open_fds());
    let cancelled_before = p.stats().cancelled;
    running(&mut rng, 1_000).await;
    queued(&mut rng, 9_000).await;
    let after = (rss_bytes(), open_fds());
    let s = p.stats();
    assert_eq!(s.in_flight, 0, "{s:?}");
    assert!(s.instances <= 1, "{s:?}");
    eprintln!("{} calls cancelled", s.cancelled - cancelled_before);
    assert!(s.cancelled - cancelled_before >= 9_000, "{s:?}");
    assert_no_leak("10,000 cancelled calls", before, after);
    assert_eq!(
        p.call_raw("echo", b"still here").await.unwrap(),
        b"still here"
    );
}
