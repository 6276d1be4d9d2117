//! What `-C target-feature=+simd128` buys a plugin: the `bytewise` example's
//! byte loop (`upper`, ASCII upper case) over 64 KiB, built with SIMD (as `wasp
//! build` and this repository build plugins) and without (built here, into
//! `target/wasm-nosimd`), next to the same loop in native Rust.
//!
//! ids: `simd/<with|without|native>/64KiB`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use wasp_benches::tokio;
use wasp_host::{PluginOptions, Runtime};
use wasp_tests::fixtures;

/// The `bytewise` plugin built without SIMD.
fn without_simd() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/wasm-nosimd");
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip1",
            "-p",
            "bytewise",
        ])
        .arg("--manifest-path")
        .arg(root.join("plugins/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success());
    target.join("wasm32-wasip1/release/bytewise.wasm")
}

fn simd(c: &mut Criterion) {
    let tokio = tokio();
    let runtime = Runtime::builder().build().unwrap();
    let with = tokio
        .block_on(runtime.load_file_as("with", fixtures::BYTEWISE, PluginOptions::default()))
        .unwrap();
    let without = tokio
        .block_on(runtime.load_file_as("without", without_simd(), PluginOptions::default()))
        .unwrap();
    let input: Vec<u8> = (0..64 << 10).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = input.to_ascii_uppercase();
    for p in [&with, &without] {
        assert_eq!(
            tokio.block_on(p.call_raw("upper", &input)).unwrap(),
            expected
        );
    }
    let mut g = c.benchmark_group("simd");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("with/64KiB", |b| {
        b.iter(|| tokio.block_on(with.call_raw("upper", &input)).unwrap());
    });
    g.bench_function("without/64KiB", |b| {
        b.iter(|| tokio.block_on(without.call_raw("upper", &input)).unwrap());
    });
    g.bench_function("native/64KiB", |b| {
        b.iter(|| std::hint::black_box(input.to_ascii_uppercase()));
    });
    g.finish();
}

criterion_group!(benches, simd);
criterion_main!(benches);
