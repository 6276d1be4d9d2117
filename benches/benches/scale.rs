//! Many plugins in one process: 10, 100 and 1,000 copies of the `upper` example
//! plugin, loaded under different names (the first from the compile cache, the
//! others sharing its compiled code), then called
//! round-robin from 8 tasks. Per count: load time per plugin, RSS per loaded plugin
//! (idle after load, and after one call each), and calls per second.
//!
//! Results: `target/bench/scale.json`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use serde_json::json;
use wasp_benches::{machine, rss_bytes};
use wasp_host::{PluginOptions, Runtime};
use wasp_tests::fixtures;

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bytes = std::fs::read(fixtures::UPPER).unwrap();
    let mut results = Vec::new();
    println!(
        "{:>8} {:>14} {:>16} {:>18} {:>12}",
        "plugins", "load ms/each", "idle KiB/each", "called KiB/each", "calls/s"
    );
    for count in [10usize, 100, 1000] {
        let cache = tempfile::tempdir().unwrap();
        let runtime = Runtime::builder()
            .cache_dir(cache.path())
            // Room for one instance per plugin, and the calls in flight.
            .instance_pool(u32::try_from(count).unwrap() + 64)
            .build()
            .unwrap();
        // Fill the disk cache once; that compile is not what is measured. The
        // first copy then comes from the disk cache, the others share its code.
        drop(
            tokio
                .block_on(runtime.load_bytes("warm", bytes.clone(), PluginOptions::default()))
                .unwrap(),
        );
        let before = rss_bytes();
        let start = Instant::now();
        let plugins: Vec<_> = tokio.block_on(async {
            let mut v = Vec::with_capacity(count);
            for i in 0..count {
                let p = runtime
                    .load_bytes(
                        &format!("upper-{i}"),
                        bytes.clone(),
                        PluginOptions::default().max_instances(1),
                    )
                    .await
                    .unwrap();
                v.push(p);
            }
            v
        });
        let load = start.elapsed() / u32::try_from(count).unwrap();
        let idle = rss_bytes().saturating_sub(before) / count as u64;
        // One call each, then round-robin from 8 tasks.
        tokio.block_on(async {
            for p in &plugins {
                let out: String = p.call("upper", "x").await.unwrap();
                assert_eq!(out, "X");
            }
        });
        let called = rss_bytes().saturating_sub(before) / count as u64;
        let calls_per_task = 20_000;
        let start = Instant::now();
        tokio.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|t| {
                    let plugins = plugins.clone();
                    tokio::spawn(async move {
                        for i in 0..calls_per_task {
                            let p = &plugins[(t * 7919 + i) % plugins.len()];
                            p.call_raw("upper", b"0123456789abcdef").await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let rate = (8 * calls_per_task) as f64 / start.elapsed().as_secs_f64();
        println!(
            "{count:>8} {:>14.3} {:>16} {:>18} {rate:>12.0}",
            load.as_secs_f64() * 1e3,
            idle / 1024,
            called / 1024
        );
        results.push(json!({
            "plugins": count,
            "load_ms_per_plugin": load.as_secs_f64() * 1e3,
            "idle_rss_kib_per_plugin": idle / 1024,
            "called_rss_kib_per_plugin": called / 1024,
            "calls_per_s": rate,
        }));
        drop(plugins);
    }
    wasp_benches::write_results(
        "scale",
        &json!({"machine": machine(), "command": "make bench", "results": results}),
    );
}
