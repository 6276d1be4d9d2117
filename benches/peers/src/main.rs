//! wasp next to its peers: the cost of ONE call of the same logic (ASCII-uppercase
//! the input bytes and return them) at 16 B, 1 KiB and 64 KiB, through
//!
//! - `native`: a plain Rust function;
//! - `wasp`: `wasp_host::Plugin::call_raw` on the example plugin `upper.wasm`;
//! - `raw-wasmtime`: the same component on wasmtime 48 directly (no fuel, no epochs,
//!   no wasp bookkeeping: the baseline of benches/benches/overhead.rs);
//! - `extism`: an Extism plugin (extism-upper/) on the extism host crate;
//! - `pipe-ipc`: a child process (src/bin/pipe-upper.rs) over stdin/stdout, with
//!   length-prefixed frames.
//!
//! Method, for each size: every case is checked once (output == expected), then
//! warmed up for ~200 ms, which also estimates its time per call; then BATCHES
//! rounds, each timing one batch of every case in turn (interleaved, so that noise
//! hits all cases alike), each batch sized to ~1 s / BATCHES. The reported time is
//! the median over the batches of the batch's mean time per call.
//!
//! Usage: `wasp-peers --wasp-plugin PATH --extism-plugin PATH [--pipe-child PATH]
//! [--json PATH] [--command TEXT]`; benches/peers/run.sh passes them.

use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};

/// The input sizes, in bytes.
const SIZES: [usize; 3] = [16, 1024, 64 * 1024];
/// Warm-up per (case, size).
const WARMUP: Duration = Duration::from_millis(200);
/// Total timed per (case, size), split into BATCHES batches.
const MEASURE: Duration = Duration::from_secs(1);
/// Number of timed batches per (case, size); the median of their means is reported.
const BATCHES: usize = 15;

/// The cases, in table order: (JSON name, table label).
const CASES: [(&str, &str); 5] = [
    ("native", "native Rust fn"),
    ("wasp", "wasp (`call_raw`)"),
    ("raw-wasmtime", "raw wasmtime 48"),
    ("extism", "Extism 1.30"),
    ("pipe-ipc", "pipe IPC (child process)"),
];

// ---------------------------------------------------------------------------
// The logic itself.

/// The reference: ASCII-uppercase the bytes into a new buffer.
#[inline(never)]
fn native_upper(input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    out.make_ascii_uppercase();
    out
}

/// Mixed-case ASCII text of `len` bytes.
fn make_input(len: usize) -> Vec<u8> {
    const TEXT: &[u8] = b"The quick brown fox jumps over the lazy dog; 0123456789. ";
    TEXT.iter().copied().cycle().take(len).collect()
}

// ---------------------------------------------------------------------------
// raw wasmtime 48: the same component, called with a typed function, as wasmtime's
// bindgen would (what benches/benches/overhead.rs measures as `raw-wasmtime`). The
// guest interface is looked up by name (`wasp:plugin/guest@<version>`), so that this
// works whichever world version the plugin was built against; the wasp host imports
// (`log`, `get-config`, `kv`, ...) are defined as traps: `upper` calls none of them
// (if it did, the correctness check before timing would fail).

mod raw {
    use anyhow::{Result, anyhow};
    use wasmtime::component::{
        Component, ComponentType, Func, Lift, Linker, ResourceTable, TypedFunc,
        types::ComponentItem,
    };
    use wasmtime::{Config, Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    /// The store's data: WASI and nothing else.
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

    /// `wasp:plugin/types.plugin-error`.
    #[derive(ComponentType, Lift, Debug)]
    #[component(record)]
    pub struct PluginError {
        code: String,
        message: String,
    }

    type CallResults = (Result<Vec<u8>, PluginError>,);

    /// One instance of the plugin, in its own store.
    pub struct Raw {
        store: Store<State>,
        call: Func,
    }

    fn w(e: wasmtime::Error) -> anyhow::Error {
        anyhow!("{e:?}")
    }

    impl Raw {
        /// Compiles and instantiates `component_bytes`, and calls its `init`.
        pub async fn new(component_bytes: &[u8]) -> Result<Self> {
            let mut config = Config::new();
            config.wasm_component_model(true);
            config.concurrency_support(false);
            let engine = Engine::new(&config).map_err(w)?;
            let component = Component::from_binary(&engine, component_bytes).map_err(w)?;
            let guest_name = component
                .component_type()
                .exports(&engine)
                .map(|(name, _)| name.to_string())
                .find(|name| name.starts_with("wasp:plugin/guest@"))
                .ok_or_else(|| anyhow!("the component exports no wasp:plugin/guest"))?;
            let mut linker = Linker::<State>::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(w)?;
            // The wasp host imports (`wasp:plugin/host`, `kv`, ...) as traps. Not with
            // `define_unknown_imports_as_traps`: that matches names exactly, so it would
            // also shadow the WASI instances that the adapter imports at a newer patch
            // version (e.g. `wasi:io/streams@0.2.12`) with fresh, mismatched resources.
            let imports: Vec<(String, Vec<String>)> = component
                .component_type()
                .imports(&engine)
                .filter(|(name, _)| name.starts_with("wasp:plugin/"))
                .map(|(name, item)| {
                    let funcs = match item.ty {
                        ComponentItem::ComponentInstance(instance) => instance
                            .exports(&engine)
                            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                            .map(|(name, _)| name.to_string())
                            .collect(),
                        _ => Vec::new(),
                    };
                    (name.to_string(), funcs)
                })
                .collect();
            for (instance, funcs) in imports {
                let mut linker = linker.instance(&instance).map_err(w)?;
                for func in funcs {
                    let what = format!("{instance}#{func}");
                    linker
                        .func_new(&func, move |_, _, _, _| {
                            wasmtime::bail!("{what} is not provided by this benchmark")
                        })
                        .map_err(w)?;
                }
            }
            let mut store = Store::new(
                &engine,
                State {
                    wasi: WasiCtx::builder().build(),
                    table: ResourceTable::new(),
                },
            );
            let instance = linker
                .instantiate_async(&mut store, &component)
                .await
                .map_err(w)?;
            let guest = instance
                .get_export_index(&mut store, None, &guest_name)
                .ok_or_else(|| anyhow!("no export {guest_name}"))?;
            let init = instance
                .get_export_index(&mut store, Some(&guest), "init")
                .ok_or_else(|| anyhow!("no export {guest_name}#init"))?;
            let init = instance
                .get_typed_func::<(), (Result<(), PluginError>,)>(&mut store, &init)
                .map_err(w)?;
            let (inited,) = init.call_async(&mut store, ()).await.map_err(w)?;
            inited.map_err(|e| anyhow!("init failed: {}: {}", e.code, e.message))?;
            let call = instance
                .get_export_index(&mut store, Some(&guest), "call")
                .ok_or_else(|| anyhow!("no export {guest_name}#call"))?;
            let call = instance
                .get_func(&mut store, &call)
                .ok_or_else(|| anyhow!("{guest_name}#call is not a function"))?;
            // Type-check once here; `call` then skips the check, as bindgen's code does.
            call.typed::<(&str, &[u8]), CallResults>(&store)
                .map_err(w)?;
            Ok(Self { store, call })
        }

        /// `call("upper", input)`.
        pub async fn call(&mut self, input: &[u8]) -> Result<Vec<u8>> {
            // SAFETY: the function's type was checked against these exact types in
            // `new` (this is what wasmtime's bindgen-generated code does per call).
            let f = unsafe { TypedFunc::<(&str, &[u8]), CallResults>::new_unchecked(self.call) };
            let (result,) = f
                .call_async(&mut self.store, ("upper", input))
                .await
                .map_err(w)?;
            result.map_err(|e| anyhow!("plugin-error {}: {}", e.code, e.message))
        }
    }
}

// ---------------------------------------------------------------------------
// pipe IPC: a long-lived child process, one request/response frame per call.

struct Pipe {
    child: Child,
    to_child: BufWriter<ChildStdin>,
    from_child: BufReader<ChildStdout>,
    buf: Vec<u8>,
}

impl Pipe {
    fn spawn(path: &PathBuf) -> Result<Self> {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawning {}", path.display()))?;
        let to_child = BufWriter::with_capacity(128 << 10, child.stdin.take().context("stdin")?);
        let from_child =
            BufReader::with_capacity(128 << 10, child.stdout.take().context("stdout")?);
        Ok(Self {
            child,
            to_child,
            from_child,
            buf: Vec::new(),
        })
    }

    /// Sends `input` as one frame and returns the answer frame (a borrowed buffer,
    /// reused from call to call).
    fn call(&mut self, input: &[u8]) -> Result<&[u8]> {
        let len = u32::try_from(input.len()).context("frame too large")?;
        self.to_child.write_all(&len.to_le_bytes())?;
        self.to_child.write_all(input)?;
        self.to_child.flush()?;
        let mut len = [0u8; 4];
        self.from_child.read_exact(&mut len)?;
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.from_child.read_exact(&mut self.buf)?;
        Ok(&self.buf)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // The child would also end at end of input; killing it is quicker.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The cases behind one interface.

struct Peers {
    wasp: wasp_host::Plugin,
    raw: raw::Raw,
    extism: extism::Plugin,
    pipe: Pipe,
}

impl Peers {
    /// One call of case `case` on `input`; `sink` sees the output bytes (black_box
    /// when timing, a copy when checking).
    #[inline(always)]
    async fn call<R>(&mut self, case: usize, input: &[u8], sink: impl FnOnce(&[u8]) -> R) -> Result<R> {
        Ok(match case {
            0 => {
                let out = native_upper(black_box(input));
                sink(black_box(&out))
            }
            1 => {
                let out = self.wasp.call_raw("upper", input).await?;
                sink(&out)
            }
            2 => {
                let out = self.raw.call(input).await?;
                sink(&out)
            }
            3 => {
                let out = self.extism.call::<&[u8], &[u8]>("upper", input)?;
                sink(out)
            }
            4 => {
                let out = self.pipe.call(input)?;
                sink(out)
            }
            _ => bail!("no case {case}"),
        })
    }

    /// `n` calls; returns the elapsed time.
    async fn run(&mut self, case: usize, input: &[u8], n: u64) -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            self.call(case, input, |out| {
                black_box(out);
            })
            .await?;
        }
        Ok(start.elapsed())
    }
}

// ---------------------------------------------------------------------------
// Measurement.

/// Median of per-batch mean ns/call, for every case at one size.
async fn measure_size(peers: &mut Peers, size: usize) -> Result<Vec<f64>> {
    let input = make_input(size);
    let expected = native_upper(&input);
    ensure!(expected != input, "the input must have lower-case letters");
    let mut per_batch = Vec::new();
    for (case, (name, _)) in CASES.iter().enumerate() {
        // Correctness, once, before any timing.
        let out = peers.call(case, &input, |out| out.to_vec()).await?;
        ensure!(
            out == expected,
            "{name} at {size} B returned a wrong result ({} bytes, starts {:?})",
            out.len(),
            String::from_utf8_lossy(&out[..out.len().min(32)])
        );
        // Warm-up, doubling the batch until WARMUP has passed; estimates ns/call.
        let (mut calls, mut spent, mut n) = (0u64, Duration::ZERO, 1u64);
        while spent < WARMUP {
            spent += peers.run(case, &input, n).await?;
            calls += n;
            n *= 2;
        }
        let per_call = spent.as_secs_f64() / calls as f64;
        let batch = ((MEASURE.as_secs_f64() / BATCHES as f64) / per_call).ceil().max(1.0) as u64;
        per_batch.push((batch, Vec::with_capacity(BATCHES)));
    }
    for _ in 0..BATCHES {
        for (case, (batch, means)) in per_batch.iter_mut().enumerate() {
            let t = peers.run(case, &input, *batch).await?;
            means.push(t.as_nanos() as f64 / *batch as f64);
        }
    }
    Ok(per_batch
        .into_iter()
        .map(|(_, mut means)| {
            means.sort_by(f64::total_cmp);
            means[means.len() / 2]
        })
        .collect())
}

/// Native `str::to_uppercase` (UTF-8 check + Unicode), what wasp's example `upper`
/// plugin runs inside: tells guest-logic cost apart from boundary cost.
fn measure_unicode_reference(size: usize) -> f64 {
    let input = make_input(size);
    let f = |input: &[u8]| -> String {
        std::str::from_utf8(black_box(input))
            .map(str::to_uppercase)
            .unwrap_or_default()
    };
    assert_eq!(f(&input).as_bytes(), native_upper(&input));
    let (mut calls, start) = (0u64, Instant::now());
    while start.elapsed() < WARMUP {
        black_box(f(&input));
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    let batch = ((MEASURE.as_secs_f64() / BATCHES as f64) / per_call).ceil().max(1.0) as u64;
    let mut means: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                black_box(f(&input));
            }
            t.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    means[means.len() / 2]
}

// ---------------------------------------------------------------------------
// Output.

fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

fn size_label(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    let cores = if cores == 0 {
        std::thread::available_parallelism().map_or(0, |n| n.get())
    } else {
        cores
    };
    format!("{model}, {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Now, UTC, as `YYYY-MM-DD HH:MM UTC`.
fn date() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------

struct Args {
    wasp_plugin: PathBuf,
    extism_plugin: PathBuf,
    pipe_child: PathBuf,
    json: PathBuf,
    command: String,
}

fn args() -> Result<Args> {
    let exe = std::env::current_exe()?;
    let mut args = Args {
        wasp_plugin: PathBuf::new(),
        extism_plugin: PathBuf::new(),
        pipe_child: exe.with_file_name(format!("pipe-upper{}", std::env::consts::EXE_SUFFIX)),
        json: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/peers.json")),
        command: "make bench-peers".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--wasp-plugin" => args.wasp_plugin = value()?.into(),
            "--extism-plugin" => args.extism_plugin = value()?.into(),
            "--pipe-child" => args.pipe_child = value()?.into(),
            "--json" => args.json = value()?.into(),
            "--command" => args.command = value()?,
            "-h" | "--help" => {
                println!(
                    "usage: wasp-peers --wasp-plugin upper.wasm --extism-plugin extism_upper.wasm \
                     [--pipe-child pipe-upper] [--json peers.json] [--command TEXT]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    ensure!(!args.wasp_plugin.as_os_str().is_empty(), "--wasp-plugin is required");
    ensure!(!args.extism_plugin.as_os_str().is_empty(), "--extism-plugin is required");
    Ok(args)
}

fn main() -> Result<()> {
    let args = args()?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(bench(args))
}

async fn bench(args: Args) -> Result<()> {
    let module = std::fs::read(&args.wasp_plugin)
        .with_context(|| format!("reading {}", args.wasp_plugin.display()))?;

    let runtime = wasp_host::Runtime::builder().build()?;
    let wasp = runtime
        .load_file(&args.wasp_plugin, wasp_host::PluginOptions::default())
        .await
        .with_context(|| format!("wasp loading {}", args.wasp_plugin.display()))?;

    let component = wasp_host::loader::componentize(&module)
        .with_context(|| format!("adapting {}", args.wasp_plugin.display()))?;
    let raw = raw::Raw::new(&component).await.context("raw wasmtime")?;

    // From bytes: file paths in a manifest need extism's `register-filesystem` feature.
    let extism_wasm = std::fs::read(&args.extism_plugin)
        .with_context(|| format!("reading {}", args.extism_plugin.display()))?;
    let manifest = extism::Manifest::new([extism::Wasm::data(extism_wasm)]);
    let extism = extism::Plugin::new(&manifest, [], false)
        .with_context(|| format!("extism loading {}", args.extism_plugin.display()))?;

    let pipe = Pipe::spawn(&args.pipe_child)?;

    let mut peers = Peers {
        wasp,
        raw,
        extism,
        pipe,
    };

    eprintln!(
        "measuring {} cases x {} sizes (~{:.1} s each)...",
        CASES.len(),
        SIZES.len(),
        (WARMUP + MEASURE).as_secs_f64()
    );
    // results[size][case] = ns per call
    let mut results = Vec::new();
    for size in SIZES {
        eprintln!("  {}", size_label(size));
        results.push(measure_size(&mut peers, size).await?);
    }
    let unicode: Vec<f64> = SIZES.iter().map(|&s| measure_unicode_reference(s)).collect();

    let machine = machine();
    let date = date();

    // Markdown.
    let mut md = String::new();
    md.push_str("| one call of `upper` | ");
    md.push_str(&SIZES.map(size_label).join(" | "));
    md.push_str(" |\n|---|");
    md.push_str(&"---:|".repeat(SIZES.len()));
    md.push('\n');
    for (case, (name, label)) in CASES.iter().enumerate() {
        md.push_str(&format!("| {label} |"));
        for row in &results {
            let ns = row[case];
            if *name == "wasp" {
                md.push_str(&format!(" {} ({:.2}× raw) |", fmt_ns(ns), ns / row[2]));
            } else {
                md.push_str(&format!(" {} |", fmt_ns(ns)));
            }
        }
        md.push('\n');
    }
    println!();
    print!("{md}");
    println!();
    println!(
        "Median of {BATCHES} batch means after {} ms warm-up, ~{} s timed per cell; \
         cases interleaved per size.",
        WARMUP.as_millis(),
        MEASURE.as_secs()
    );
    println!(
        "For reference, native `str::to_uppercase` (UTF-8 check + Unicode, what wasp's \
         example `upper` plugin runs inside): {}.",
        SIZES
            .iter()
            .zip(&unicode)
            .map(|(s, ns)| format!("{} {}", size_label(*s), fmt_ns(*ns)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Machine: {machine}");
    println!("Date: {date}");
    println!("Command: `{}`", args.command);

    // JSON.
    let mut json = format!(
        "{{\"machine\":{},\"date\":{},\"command\":{},\"results\":[",
        json_str(&machine),
        json_str(&date),
        json_str(&args.command)
    );
    let mut first = true;
    for (case, (name, _)) in CASES.iter().enumerate() {
        for (row, size) in results.iter().zip(SIZES) {
            if !first {
                json.push(',');
            }
            first = false;
            json.push_str(&format!(
                "{{\"case\":{},\"size\":{size},\"ns_per_call\":{:.1}}}",
                json_str(name),
                row[case]
            ));
        }
    }
    json.push_str("]}\n");
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, json).with_context(|| format!("writing {}", args.json.display()))?;
    println!("JSON: {}", args.json.display());
    drop(peers);
    Ok(())
}
