//! Integration tests of wasp: every test drives real `.wasm` plugins, built from
//! source by `tests/build.rs` (plugins/ and tests/fixtures/).

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod batch;
mod cache;
mod calls;
mod cancel;
mod coverage;
mod faults;
mod golden;
mod isolation;
mod lifecycle;
mod load;
mod manifest;
mod metrics;
mod pooling;
mod prepare;
mod python;
mod replay;
mod rollout;
mod sandbox;
mod signing;
mod versions;

use std::sync::OnceLock;

use wasp_host::{Plugin, PluginOptions, Runtime};
use wasp_tests::fixtures;

/// One runtime for all tests (one engine, one epoch ticker), with the host
/// functions the tests grant.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::builder()
            .host_fn("echo", |ctx, input| async move {
                let mut out = format!("{} says ", ctx.plugin()).into_bytes();
                out.extend(input);
                Ok(out)
            })
            .host_fn("refuse", |_ctx, _input| async move {
                Err("refused by the host".to_string())
            })
            .build()
            .expect("runtime builds")
    })
}

/// Loads a fixture under `name` with `options`.
pub async fn load_as(name: &str, path: &str, options: PluginOptions) -> wasp_host::Result<Plugin> {
    runtime().load_file_as(name, path, options).await
}

pub use wasp_tests::rss_bytes;

/// This process's open file descriptors (Linux).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Asserts that RSS and open fds grew by less than a leak would: other tests share
/// this process, so the bounds allow noise (256 MiB, 200 fds) and catch a leak per
/// cycle over hundreds of cycles. Prints the figures.
pub fn assert_no_leak(label: &str, (rss, fds): (u64, usize), (rss2, fds2): (u64, usize)) {
    assert!(
        rss2.saturating_sub(rss) < 256 << 20,
        "{label}: RSS {} → {} MiB",
        rss >> 20,
        rss2 >> 20
    );
    assert!(
        fds2.saturating_sub(fds) < 200,
        "{label}: fds {fds} → {fds2}"
    );
    eprintln!(
        "{label}: RSS {} → {} MiB, fds {fds} → {fds2}",
        rss >> 20,
        rss2 >> 20
    );
}

/// Loads the hostile fixture with `options`.
pub async fn hostile(options: PluginOptions) -> Plugin {
    load_as("hostile", fixtures::HOSTILE, options)
        .await
        .expect("hostile fixture loads")
}
