//! The cost of wasp's safety machinery, measured on raw wasmtime with the same
//! component (the golden 0.1.0 build of the `upper` example plugin, whose WIT these
//! raw bindings use) and the same call shape: no limits,
//! fuel, epoch interruption, both (which is what wasp runs with), and wasp itself.
//!
//! ids: `overhead/<config>/16B`.
// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasp_host::{PluginOptions, Runtime};

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "wasp:plugin/plugin",
    imports: { default: async },
    exports: { default: async },
});

struct State {
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
    async fn log(&mut self, _level: wasp::plugin::types::LogLevel, _message: String) {}
    async fn get_config(&mut self, _key: String) -> Option<String> {
        None
    }
    async fn call_host(&mut self, _name: String, _input: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("no host functions".into())
    }
}

fn raw(
    fuel: bool,
    epochs: bool,
    component_bytes: &[u8],
    tokio: &tokio::runtime::Runtime,
) -> (Store<State>, Plugin) {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    config.consume_fuel(fuel);
    config.epoch_interruption(epochs);
    let engine = Engine::new(&config).unwrap();
    let component = Component::from_binary(&engine, component_bytes).unwrap();
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s).unwrap();
    let mut store = Store::new(
        &engine,
        State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    if fuel {
        store.set_fuel(u64::MAX).unwrap();
    }
    if epochs {
        store.set_epoch_deadline(u64::MAX / 2);
    }
    let plugin = tokio
        .block_on(Plugin::instantiate_async(&mut store, &component, &linker))
        .unwrap();
    tokio
        .block_on(plugin.wasp_plugin_guest().call_init(&mut store))
        .unwrap()
        .unwrap();
    (store, plugin)
}

fn overhead(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let golden = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/v0.1.0/upper.wasm"
    );
    let component = wasp_host::loader::componentize(&std::fs::read(golden).unwrap()).unwrap();
    let input = b"0123456789abcdef".to_vec();
    let mut g = c.benchmark_group("overhead");
    for (label, fuel, epochs) in [
        ("raw-wasmtime", false, false),
        ("raw+fuel", true, false),
        ("raw+epochs", false, true),
        ("raw+fuel+epochs", true, true),
    ] {
        let (mut store, plugin) = raw(fuel, epochs, &component, &tokio);
        g.bench_function(format!("{label}/16B"), |b| {
            b.iter(|| {
                tokio
                    .block_on(
                        plugin
                            .wasp_plugin_guest()
                            .call_call(&mut store, "upper", &input),
                    )
                    .unwrap()
                    .unwrap()
            });
        });
    }
    let runtime = Runtime::builder().build().unwrap();
    let upper = tokio
        .block_on(runtime.load_bytes("upper", component.clone(), PluginOptions::default()))
        .unwrap();
    g.bench_function("wasp/16B", |b| {
        b.iter(|| tokio.block_on(upper.call_raw("upper", &input)).unwrap());
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
