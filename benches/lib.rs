//! Support for wasp's benchmarks (`make bench`): the raw wasmtime baseline that
//! every wasp figure is compared with, and small helpers for the custom harnesses.
//!
//! The baseline runs the **same component** as wasp (a plugin of
//! `wasp:plugin@0.3.0`, adapted by `wasp_host::loader::componentize`) on wasmtime
//! directly, with the call shape wasp uses (`call_async`, component model, no
//! component-model async: `concurrency_support(false)`), and no limits: no fuel, no
//! epochs, no timeout, no bookkeeping. Host imports answer at once (`get-config`
//! returns nothing, logs are dropped, kv and host calls are refused).
// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../wit/v0.3.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

/// The event of the `process` and pipeline cases: 60 bytes of JSON.
pub const EVENT: &[u8] = br#"{"id":1042,"level":"info","message":"user alice signed in!"}"#;

/// The store data of a raw instance: WASI with nothing granted.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasp::plugin::types::Host for State {}

impl wasp::plugin::host::Host for State {
    async fn log(
        &mut self,
        _level: wasp::plugin::types::LogLevel,
        _message: String,
        _fields: Vec<(String, String)>,
    ) {
    }
    async fn get_config(&mut self, _key: String) -> Option<String> {
        None
    }
    async fn call_host(&mut self, _name: String, _input: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("no host functions".into())
    }
}

impl wasp::plugin::kv::Host for State {
    async fn get(&mut self, _key: String) -> Result<Option<Vec<u8>>, String> {
        Err("no kv".into())
    }
    async fn set(&mut self, _key: String, _value: Vec<u8>) -> Result<(), String> {
        Err("no kv".into())
    }
    async fn delete(&mut self, _key: String) -> Result<(), String> {
        Err("no kv".into())
    }
    async fn list_keys(&mut self, _prefix: String) -> Result<Vec<String>, String> {
        Err("no kv".into())
    }
}

fn state() -> State {
    State {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
    }
}

/// A plugin on raw wasmtime: its engine and pre-instantiated component.
pub struct Raw {
    engine: Engine,
    pre: PluginPre<State>,
    metered: bool,
}

/// One raw instance, `init` done.
pub struct RawInstance {
    store: Store<State>,
    plugin: Plugin,
}

impl Raw {
    /// The component (bytes of a component, e.g. from `componentize`) on an
    /// engine without limits; `pooling` selects the pooling allocator.
    pub fn new(component: &[u8], pooling: bool) -> Raw {
        Self::with(component, pooling, false)
    }

    /// As [`Raw::new`], with wasmtime's fuel metering and epoch checks compiled
    /// in (never reached): what wasp's limits cost inside wasmtime itself.
    pub fn metered(component: &[u8]) -> Raw {
        Self::with(component, false, true)
    }

    fn with(component: &[u8], pooling: bool, metered: bool) -> Raw {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.concurrency_support(false);
        config.consume_fuel(metered);
        config.epoch_interruption(metered);
        if pooling {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(
                PoolingAllocationConfig::new(),
            ));
        }
        let engine = Engine::new(&config).unwrap();
        let component = Component::from_binary(&engine, component).unwrap();
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s).unwrap();
        let pre: InstancePre<State> = linker.instantiate_pre(&component).unwrap();
        Raw {
            engine,
            pre: PluginPre::new(pre).unwrap(),
            metered,
        }
    }

    /// A fresh instance, `init` done.
    pub async fn instance(&self) -> RawInstance {
        let mut store = Store::new(&self.engine, state());
        if self.metered {
            store.set_fuel(u64::MAX).unwrap();
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let plugin = self.pre.instantiate_async(&mut store).await.unwrap();
        plugin
            .wasp_plugin_guest()
            .call_init(&mut store)
            .await
            .unwrap()
            .unwrap();
        RawInstance { store, plugin }
    }
}

impl RawInstance {
    /// `call(function, input)`; panics on any error.
    pub async fn call(&mut self, function: &str, input: &[u8]) -> Vec<u8> {
        self.plugin
            .wasp_plugin_guest()
            .call_call(&mut self.store, function, input)
            .await
            .unwrap()
            .unwrap()
    }
}

/// The component of the plugin file at `path` (a wasm32-wasip1 core module).
pub fn component_of(path: &str) -> Vec<u8> {
    wasp_host::loader::componentize(&std::fs::read(path).unwrap()).unwrap()
}

/// A current-thread tokio runtime, what the benchmarks call from.
pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The median time per call of `f`, over `rounds` rounds of `per_round` calls
/// (after one round of warm-up).
pub fn median_per_call(rounds: usize, per_round: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..per_round {
        f();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_round {
                f();
            }
            start.elapsed() / per_round
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// The release `wasp` that `make bench` builds (the custom harnesses run it).
pub fn wasp_binary() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/wasp");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --release -p wasp-cli` (make bench does)",
        p.display()
    );
    p
}

/// One `wasp run -m MANIFEST --input INPUT` (outputs to `output`, else
/// discarded) that must pass all of its `events` through: (wall time, CPU
/// time of the process).
pub fn timed_run(
    manifest: &std::path::Path,
    input: &std::path::Path,
    output: Option<&std::path::Path>,
    events: u64,
) -> (Duration, Duration) {
    use std::process::{Command, Stdio};
    let before = children_cpu();
    let start = Instant::now();
    let mut run = Command::new(wasp_binary());
    run.args(["run", "-m"])
        .arg(manifest)
        .arg("--input")
        .arg(input);
    match output {
        Some(out) => run.arg("--output").arg(out),
        None => run.stdout(Stdio::null()),
    };
    let out = run.stderr(Stdio::piped()).output().unwrap();
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("summary: {events} events, {events} out")),
        "{stderr}"
    );
    (wall, children_cpu() - before)
}

/// CPU time (user + system) of this process's children that have been waited for.
pub fn children_cpu() -> Duration {
    cpu_of("/proc/self/stat", 16, 17)
}

/// CPU time (user + system) of this process.
pub fn self_cpu() -> Duration {
    cpu_of("/proc/self/stat", 14, 15)
}

/// The sum of fields `utime_at` and `stime_at` (1-based, as `man 5 proc` numbers
/// them) of a `/proc/*/stat` file, in clock ticks of 10 ms (Linux's USER_HZ is 100).
fn cpu_of(path: &str, utime_at: usize, stime_at: usize) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count after it.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); field n (1-based) is fields[n - 3].
    let tick = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((tick(utime_at) + tick(stime_at)) * 10)
}

pub use wasp_tests::rss_bytes;

/// The machine, for the tables: CPU model and core count.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} cores")
}

/// Writes `value` as `target/bench/NAME.json` (for scripts/bench-table.py).
pub fn write_results(name: &str, value: &serde_json::Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    println!("results: {}", path.display());
}
