//! Integration tests of wasp: every test drives real `.wasm` plugins, built from
//! source by `tests/build.rs` (plugins/ and tests/fixtures/).

mod calls;
mod faults;
mod load;
mod manifest;

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
            .host_fn("refuse", |_ctx, _input| async move { Err("refused by the host".to_string()) })
            .build()
            .expect("runtime builds")
    })
}

/// Loads a fixture under `name` with `options`.
pub async fn load_as(name: &str, path: &str, options: PluginOptions) -> wasp_host::Result<Plugin> {
    runtime().load_file_as(name, path, options).await
}

/// Loads the hostile fixture with `options`.
pub async fn hostile(options: PluginOptions) -> Plugin {
    load_as("hostile", fixtures::HOSTILE, options)
        .await
        .expect("hostile fixture loads")
}

/// Every fixture must be used by some test: this fails to compile if build.rs
/// produces a fixture that is not listed here.
#[test]
fn every_fixture_is_exercised() {
    macro_rules! check {
        ($($name:ident),* $(,)?) => {{
            let listed: &[&str] = &[$(stringify!($name)),*];
            let known = ["UPPER", "REDACT", "STATS", "WORDCOUNT", "HOSTILE", "VERSION9", "NOWORLD"];
            for n in listed {
                assert!(known.contains(n), "fixture {n} has no test: add one and list it here");
            }
        }};
    }
    wasp_tests::foreach_fixture!(check);
}
