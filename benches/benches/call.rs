//! Call overhead and instantiation, with a native baseline.
//!
//! ids: `call/<case>/<size>`, `instantiate/<case>`.
// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wasp_host::{InstanceMode, PluginOptions, Runtime};
use wasp_tests::fixtures;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn call(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::builder().build().unwrap();
    let upper = tokio
        .block_on(runtime.load_file(fixtures::UPPER, PluginOptions::default()))
        .unwrap();
    let mut g = c.benchmark_group("call");
    for (label, size) in [("16B", 16usize), ("64KiB", 64 << 10)] {
        let input: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("upper-wasm", label), &input, |b, input| {
            b.to_async(&tokio)
                .iter(|| async { upper.call_raw("upper", input).await.unwrap() });
        });
        g.bench_with_input(
            BenchmarkId::new("upper-native", label),
            &input,
            |b, input| {
                b.iter(|| std::str::from_utf8(input).unwrap().to_uppercase());
            },
        );
    }
    g.finish();
}

fn instantiate(c: &mut Criterion) {
    let tokio = rt();
    let runtime = Runtime::builder().build().unwrap();
    let per_call = tokio
        .block_on(runtime.load_file(
            fixtures::UPPER,
            PluginOptions::default().instance(InstanceMode::PerCall),
        ))
        .unwrap();
    let input = b"0123456789abcdef";
    let mut g = c.benchmark_group("instantiate");
    // A fresh instance + init + one 16 B call, every iteration.
    g.bench_function("upper-per-call/16B", |b| {
        b.to_async(&tokio)
            .iter(|| async { per_call.call_raw("upper", input).await.unwrap() });
    });
    g.sample_size(10);
    let bytes = std::fs::read(fixtures::UPPER).unwrap();
    // Adapt + compile + instantiate + info + init, from bytes.
    g.bench_function("upper-load-cold", |b| {
        b.to_async(&tokio).iter(|| async {
            runtime
                .load_bytes("upper", bytes.clone(), PluginOptions::default())
                .await
                .unwrap()
        });
    });
    // The same, with the compile cache warm: deserialize + instantiate + info + init.
    let cache = tempfile::tempdir().unwrap();
    let cached = Runtime::builder().cache_dir(cache.path()).build().unwrap();
    tokio
        .block_on(cached.load_bytes("upper", bytes.clone(), PluginOptions::default()))
        .unwrap();
    g.bench_function("upper-load-cached", |b| {
        b.to_async(&tokio).iter(|| async {
            let p = cached
                .load_bytes("upper", bytes.clone(), PluginOptions::default())
                .await
                .unwrap();
            assert!(p.was_cached());
            p
        });
    });
    g.finish();
}

criterion_group!(benches, call, instantiate);
criterion_main!(benches);
