//! Runs one per-call case many times, for a profiler (`perf record`, or
//! `valgrind --tool=callgrind`, which counts instructions and so is not
//! disturbed by a noisy machine):
//! `cargo run --release -p wasp-benches --example percall -- CASE [N]`, where
//! CASE is `raw`, `metered` or `wasp` (a warm 16-byte `upper` call, N times),
//! `fresh-raw` or `fresh-wasp` (the same on a fresh instance each time), or
//! `time`: the three in alternating rounds, printing the fastest round's time
//! per call of each (the least disturbed, on a shared machine).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use wasp_benches::{Raw, RawInstance, component_of, tokio};
use wasp_host::{Plugin, PluginOptions, Runtime};
use wasp_tests::fixtures;

const INPUT: &[u8] = b"0123456789abcdef";

fn raw_calls(rt: &tokio::runtime::Runtime, i: &mut RawInstance, n: u64) {
    for _ in 0..n {
        std::hint::black_box(rt.block_on(i.call("upper", INPUT)));
    }
}

fn wasp_calls(rt: &tokio::runtime::Runtime, p: &Plugin, n: u64) {
    for _ in 0..n {
        std::hint::black_box(rt.block_on(p.call_raw("upper", INPUT)).unwrap());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "time".into());
    let n: u64 = args.next().map_or(100_000, |s| s.parse().unwrap());
    let rt = tokio();
    let component = component_of(fixtures::UPPER);
    let raw = Raw::new(&component, false);
    let metered = Raw::metered(&component);
    let runtime = Runtime::builder().build().unwrap();
    let component_bytes = component.clone();
    let plugin = rt
        .block_on(runtime.load_bytes("upper", component, PluginOptions::default()))
        .unwrap();
    let mut raw_i = rt.block_on(raw.instance());
    let mut metered_i = rt.block_on(metered.instance());
    match case.as_str() {
        "raw" => raw_calls(&rt, &mut raw_i, n),
        "metered" => raw_calls(&rt, &mut metered_i, n),
        "wasp" => wasp_calls(&rt, &plugin, n),
        // A fresh instance (and `init`) per call: raw with the pooling
        // allocator, and wasp's `instance = "per-call"`.
        "fresh-raw" => {
            let pooled = Raw::new(&component_bytes, true);
            for _ in 0..n {
                let mut i = rt.block_on(pooled.instance());
                std::hint::black_box(rt.block_on(i.call("upper", INPUT)));
            }
        }
        "fresh-wasp" => {
            let per_call = rt
                .block_on(runtime.load_bytes(
                    "upper-per-call",
                    component_bytes.clone(),
                    PluginOptions::default().instance(wasp_host::InstanceMode::PerCall),
                ))
                .unwrap();
            wasp_calls(&rt, &per_call, n);
        }
        "time" => {
            let per_round = 20_000;
            let mut best = [Duration::MAX; 3];
            for _ in 0..(n / per_round).max(1) {
                for (k, b) in best.iter_mut().enumerate() {
                    let t = Instant::now();
                    match k {
                        0 => raw_calls(&rt, &mut raw_i, per_round),
                        1 => raw_calls(&rt, &mut metered_i, per_round),
                        _ => wasp_calls(&rt, &plugin, per_round),
                    }
                    *b = (*b).min(t.elapsed() / per_round as u32);
                }
            }
            let [r, m, w] = best;
            println!(
                "raw {r:?}  raw+fuel+epochs {m:?}  wasp {w:?}  wasp/raw {:.2}x  wasp/metered {:.2}x",
                w.as_secs_f64() / r.as_secs_f64(),
                w.as_secs_f64() / m.as_secs_f64()
            );
        }
        other => panic!("unknown case {other}: raw, metered, wasp, fresh-raw, fresh-wasp or time"),
    }
}
