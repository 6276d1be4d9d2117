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
    // Adapt + compile + instantiate + info + init, from bytes. Each iteration loads
    // different bytes (a custom section with a counter), so neither the compile
    // cache nor code shared with a loaded plugin can serve it.
    let mut n = 0u64;
    g.bench_function("upper-load-cold", |b| {
        b.to_async(&tokio).iter(|| {
            n += 1;
            let unique = with_custom_section(&bytes, n);
            let runtime = &runtime;
            async move {
                let p = runtime
                    .load_bytes("upper", unique, PluginOptions::default())
                    .await
                    .unwrap();
                assert!(!p.was_cached());
            }
        });
    });
    // The same, with the compile cache warm: deserialize + instantiate + info + init.
    let cache = tempfile::tempdir().unwrap();
    let cached = Runtime::builder().cache_dir(cache.path()).build().unwrap();
    tokio
        .block_on(cached.load_bytes("upper", bytes.clone(), PluginOptions::default()))
        .unwrap();
    // Dropped within the iteration, so the next load finds no code to share and
    // reads the cache.
    g.bench_function("upper-load-cached", |b| {
        b.to_async(&tokio).iter(|| async {
            let p = cached
                .load_bytes("upper", bytes.clone(), PluginOptions::default())
                .await
                .unwrap();
            assert!(p.was_cached());
        });
    });
    // The same, for a signed file with a key list: the cost of verifying the
    // signature (hashing the file, one Ed25519 check) on a cached load.
    let key = wasp_host::signing::SigningKey::generate();
    let signed = wasp_host::signing::sign_embedded(&bytes, &key).unwrap();
    let trust = PluginOptions::default().signed_by([key.public().clone()]);
    tokio
        .block_on(cached.load_bytes("upper", signed.clone(), trust.clone()))
        .unwrap();
    g.bench_function("upper-load-cached-signed", |b| {
        b.to_async(&tokio).iter(|| async {
            let p = cached
                .load_bytes("upper", signed.clone(), trust.clone())
                .await
                .unwrap();
            assert!(p.was_cached());
        });
    });
    g.finish();
}

/// `module` with a custom section `bench` holding `n` appended: other bytes, the
/// same plugin.
fn with_custom_section(module: &[u8], n: u64) -> Vec<u8> {
    let name = b"bench";
    let payload = n.to_le_bytes();
    let mut out = module.to_vec();
    out.push(0); // custom section
    out.push(u8::try_from(1 + name.len() + payload.len()).unwrap()); // size (LEB128, < 128)
    out.push(u8::try_from(name.len()).unwrap());
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

criterion_group!(benches, call, instantiate);
criterion_main!(benches);
