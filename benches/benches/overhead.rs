//! wasp per call against raw wasmtime, same component (the `upper` example plugin,
//! `wasp:plugin@0.3.0`), same process, same run: warm calls at three sizes, a
//! stage's `process` on a 60-byte JSON event, and a fresh instance per call
//! (`instance = "per-call"` against raw wasmtime with the pooling allocator).
//! Raw runs without limits; wasp with fuel, epochs, timeout and its bookkeeping;
//! `raw+fuel+epochs` is raw with wasmtime's fuel and epoch instrumentation on, to
//! tell what wasmtime's metering costs from what wasp's own code costs.
//!
//! `wasp-recorded/process/60B` is the same call with recording on (`wasp run
//! --record`: every instance keeps its history of host-import answers).
//!
//! ids: `overhead/<raw|wasp>/<case>/<size>`; `scripts/bench-table.py` turns them
//! into the README's table.
// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use wasp_benches::{EVENT, Raw, component_of, tokio};
use wasp_host::recording::{RecordWhen, RecordWindow};
use wasp_host::{InstanceMode, PluginOptions, Runtime};
use wasp_tests::fixtures;

fn overhead(c: &mut Criterion) {
    let tokio = tokio();
    let component = component_of(fixtures::UPPER);
    let raw = Raw::new(&component, false);
    let mut raw_instance = tokio.block_on(raw.instance());
    let metered = Raw::metered(&component);
    let mut metered_instance = tokio.block_on(metered.instance());
    let runtime = Runtime::builder().build().unwrap();
    let upper = tokio
        .block_on(runtime.load_bytes("upper", component.clone(), PluginOptions::default()))
        .unwrap();
    let mut g = c.benchmark_group("overhead");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (label, size) in [("16B", 16usize), ("1KiB", 1 << 10), ("64KiB", 64 << 10)] {
        let input: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        assert_eq!(
            tokio.block_on(raw_instance.call("upper", &input)),
            tokio.block_on(upper.call_raw("upper", &input)).unwrap()
        );
        g.bench_function(format!("raw/upper/{label}"), |b| {
            b.iter(|| tokio.block_on(raw_instance.call("upper", &input)));
        });
        g.bench_function(format!("raw+fuel+epochs/upper/{label}"), |b| {
            b.iter(|| tokio.block_on(metered_instance.call("upper", &input)));
        });
        g.bench_function(format!("wasp/upper/{label}"), |b| {
            b.iter(|| tokio.block_on(upper.call_raw("upper", &input)).unwrap());
        });
    }
    let event = EVENT;
    assert_eq!(EVENT.len(), 60);
    g.bench_function("raw/process/60B", |b| {
        b.iter(|| tokio.block_on(raw_instance.call("process", event)));
    });
    g.bench_function("raw+fuel+epochs/process/60B", |b| {
        b.iter(|| tokio.block_on(metered_instance.call("process", event)));
    });
    g.bench_function("wasp/process/60B", |b| {
        b.iter(|| tokio.block_on(upper.call_raw("process", event)).unwrap());
    });
    // Recording on (what `wasp run --record DIR` does to every call): each
    // instance keeps its history, a recording is made only of a failure.
    let recorded = tokio
        .block_on(runtime.load_bytes(
            "upper-recorded",
            component.clone(),
            PluginOptions::default().record(Some(RecordWindow::default())),
        ))
        .unwrap();
    g.bench_function("wasp-recorded/process/60B", |b| {
        b.iter(|| {
            let r = tokio.block_on(recorded.call_recorded("process", event, RecordWhen::Failures));
            assert!(r.recording.is_none());
            r.result.unwrap()
        });
    });
    let on_demand = Runtime::builder().instance_pool(0).build().unwrap();
    let upper_od = tokio
        .block_on(on_demand.load_bytes("upper", component.clone(), PluginOptions::default()))
        .unwrap();
    g.bench_function("wasp-on-demand/process/60B", |b| {
        b.iter(|| tokio.block_on(upper_od.call_raw("process", event)).unwrap());
    });

    // A fresh instance (+ init) and one 16 B call, every iteration.
    let input = b"0123456789abcdef";
    let pooled = Raw::new(&component, true);
    g.bench_function("raw-pooling/fresh/16B", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let mut i = pooled.instance().await;
                i.call("upper", input).await
            })
        });
    });
    let per_call = tokio
        .block_on(runtime.load_bytes(
            "upper-per-call",
            component.clone(),
            PluginOptions::default().instance(InstanceMode::PerCall),
        ))
        .unwrap();
    g.bench_function("wasp/fresh/16B", |b| {
        b.iter(|| tokio.block_on(per_call.call_raw("upper", input)).unwrap());
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
