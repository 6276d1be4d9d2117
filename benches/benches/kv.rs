//! kv writes from inside a plugin: `set` calls per second with 1 and 8 concurrent
//! callers, each call one `set` (the `hostile` fixture's `kv-set`), on a database
//! file, with the group commit (`kv-commit = "5ms"`, the default) and without it
//! (`"0ms"`: one fsync per write). Each run ends with `kv_sync`, so every counted
//! write is on disk.
//!
//! Results: `target/bench/kv.json`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::json;
use wasp_benches::machine;
use wasp_host::{Grants, PluginOptions, Runtime};
use wasp_tests::fixtures;

fn main() {
    let mut results = Vec::new();
    println!("{:<24} {:>12}", "case", "sets/s");
    for (label, commit) in [
        ("group-5ms", Duration::from_millis(5)),
        ("fsync-each", Duration::ZERO),
    ] {
        for callers in [1usize, 8] {
            let dir = tempfile::tempdir().unwrap();
            let runtime = Runtime::builder()
                .state(dir.path().join("state.db"))
                .kv_commit(commit)
                .build()
                .unwrap();
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let plugin = tokio
                .block_on(
                    runtime.load_file(
                        fixtures::HOSTILE,
                        PluginOptions::default()
                            .max_instances(8)
                            .grants(Grants::default().kv(true, Some(1 << 30))),
                    ),
                )
                .unwrap();
            // Fewer writes when each one waits for the disk.
            let per_caller = if commit.is_zero() { 200 } else { 20_000 } / callers;
            let start = Instant::now();
            tokio.block_on(async {
                let tasks: Vec<_> = (0..callers)
                    .map(|c| {
                        let p = plugin.clone();
                        tokio::spawn(async move {
                            for i in 0..per_caller {
                                let kv = format!("k{c}-{i}=value {i}");
                                p.call_raw("kv-set", kv.as_bytes()).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                runtime.kv_sync().await.unwrap();
            });
            let elapsed = start.elapsed();
            let sets = (per_caller * callers) as f64;
            let rate = sets / elapsed.as_secs_f64();
            let case = format!("{label}/{callers}-callers");
            println!("{case:<24} {rate:>12.0}");
            results.push(json!({"case": case, "sets": sets, "sets_per_s": rate}));
        }
    }
    wasp_benches::write_results(
        "kv",
        &json!({"machine": machine(), "command": "make bench", "results": results}),
    );
}
