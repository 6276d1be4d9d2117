//! The engine of `wasp run`: JSON lines in, each event through the stages
//! (`process`), JSON lines out, in input order; failures to the dead-letter output.
//!
//! # Shape
//!
//! ```text
//! reader thread ──chunk──▶ stage 1 task ──▶ stage 2 task ──▶ … ──▶ writer thread
//!  (lines, seq)            (≤ max-instances chunks at once)        (reorder, kv sync,
//!                                                                    buffered writes)
//! ```
//!
//! - The **reader** (a blocking thread) reads lines into *chunks*: consecutive
//!   events, numbered, closed when [`CHUNK_EVENTS`] events or [`CHUNK_BYTES`] bytes
//!   are in, or when no more input is buffered (it never waits to fill a chunk, so
//!   an interactive input goes through at once).
//! - Each **stage** is a task with a bounded channel in front of it: stage 2 works on
//!   chunk n while stage 1 works on chunk n + 1, and a stage whose plugin has
//!   `max-instances = k` works on up to k chunks at once. A stage sends a
//!   `wasp:plugin@0.3.0` plugin its chunk's events as `call-batch`es of up to
//!   `[pipeline] batch`; if a batch fails, its events are retried one by one with
//!   `call`, so only the event that faults is dead-lettered. Older plugins get one
//!   `call` per event. The stage's plugin is looked up per chunk, so a reload takes
//!   effect at the next chunk.
//! - The **writer** (a blocking thread) puts chunks back in input order (a reorder
//!   buffer keyed by chunk number), waits until the kv writes of the events it is
//!   about to release are durable ([`wasp_host::Runtime::kv_sync_blocking`]), and
//!   writes through one buffered writer per output, flushed whenever no finished
//!   chunk is waiting, and at least every [`FLUSH_EVERY`].
//! - **Back-pressure**: at most [`WINDOW`] chunks are between the reader and the
//!   writer (a permit travels with each chunk), so memory stays flat on an endless
//!   input and a stuck event cannot make the reorder buffer grow without bound.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use wasp_host::recording::{EntryKind, RecordWhen, Recording};
use wasp_host::{Error, Plugin, Plugins, Runtime};

/// Longest input line accepted; a longer one is dead-lettered unread.
pub(crate) const MAX_LINE: usize = 64 << 20;
/// Most chunks between the reader and the writer.
const WINDOW: usize = 64;
/// Chunks waiting in front of each stage and of the writer.
const QUEUE: usize = 4;
/// A chunk closes at this many events (or `[pipeline] batch`, if larger) …
const CHUNK_EVENTS: usize = 256;
/// … or this many bytes of input.
const CHUNK_BYTES: usize = 1 << 20;
/// The longest the writer keeps output in its buffer while it is busy.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The function every stage runs.
const PROCESS: &str = "process";

/// What the pipeline did, counted by the writer as events leave it: live while
/// it runs (`--metrics` reads them), the closing summary once it is done.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    /// Events that left the pipeline (non-blank lines read, once done).
    pub(crate) events: AtomicU64,
    /// Events written to the output.
    pub(crate) out: AtomicU64,
    /// Events a stage filtered out (returned nothing).
    pub(crate) dropped: AtomicU64,
    /// Events dead-lettered.
    pub(crate) dead: AtomicU64,
}

/// Why the pipeline stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PipelineError {
    #[error("cannot read the input: {0}")]
    Read(#[source] std::io::Error),
    #[error("cannot write the output: {0}")]
    Write(#[source] std::io::Error),
    #[error("cannot write a dead letter: {0}")]
    DeadLetter(#[source] std::io::Error),
    #[error("outputs held back: {0}")]
    KvSync(#[source] Error),
    #[error("a pipeline task failed: {0}")]
    Task(String),
}

/// One event on its way through the stages.
struct Event {
    /// The input line, for the dead letter, once a stage has changed the event
    /// (until then it is the live bytes themselves: no copy per event).
    original: Option<Vec<u8>>,
    slot: Slot,
}

enum Slot {
    /// Still going: what the next stage gets (or the output, after the last).
    Live(Vec<u8>),
    /// A stage returned nothing: filtered out.
    Dropped,
    /// Failed: the dead letter.
    Dead(Value),
}

/// Consecutive events, numbered in input order.
struct Chunk {
    seq: u64,
    /// The number of its first event in the input (1-based; blank lines are
    /// not events).
    first: u64,
    events: Vec<Event>,
    /// Returned to the window when the writer is done with the chunk.
    _permit: OwnedSemaphorePermit,
}

/// How to run: the stages in order, and the largest `call-batch`.
pub(crate) struct Pipeline {
    pub(crate) runtime: Runtime,
    pub(crate) plugins: Plugins,
    pub(crate) stages: Vec<String>,
    pub(crate) batch: usize,
    pub(crate) counters: Arc<Counters>,
    /// `--record DIR`: which calls are recorded, and where.
    pub(crate) record: Option<Arc<Record>>,
}

/// Where `wasp run --record` writes recordings, and of which calls.
pub(crate) struct Record {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) when: RecordWhen,
}

impl Record {
    /// Writes `recording`, the call of `stage` on `event` (the first event of a
    /// batch), as `DIR/STAGE-EVENT-OUTCOME.wasprec`.
    fn write(&self, stage: &str, event: u64, recording: &Recording) {
        let last = recording.last();
        let outcome = match last.map(|e| &e.outcome) {
            Some(o) if o.exit_code() == 3 => "fault",
            Some(o) if o.exit_code() == 1 => "plugin-error",
            _ => "ok",
        };
        let batch = if last.is_some_and(|e| e.kind == EntryKind::CallBatch) {
            "batch-"
        } else {
            ""
        };
        let path = self
            .dir
            .join(format!("{stage}-{event:06}-{batch}{outcome}.wasprec"));
        if let Err(e) = recording.write_file(&path) {
            eprintln!(
                "warning: cannot write the recording {}: {e}",
                path.display()
            );
        }
    }
}

impl Pipeline {
    /// Runs `input` through the stages to `out` and `dead` until the input ends.
    ///
    /// # Errors
    /// An input that cannot be read, an output that cannot be written, a kv store
    /// that cannot make writes durable. What was written before stays written.
    pub(crate) async fn run(
        self,
        input: Box<dyn Read + Send>,
        out: Box<dyn Write + Send>,
        dead: Box<dyn Write + Send>,
    ) -> Result<(), PipelineError> {
        let window = Arc::new(Semaphore::new(WINDOW));
        let chunk_events = self.batch.clamp(CHUNK_EVENTS, 4096);
        let (first_tx, mut rx) = mpsc::channel::<Chunk>(QUEUE);
        let handle = tokio::runtime::Handle::current();
        let reader = {
            let handle = handle.clone();
            std::thread::Builder::new()
                .name("wasp-run-reader".into())
                .spawn(move || read_chunks(input, chunk_events, &window, &first_tx, &handle))
                .map_err(|e| PipelineError::Task(format!("cannot start the reader: {e}")))?
        };
        let mut stages = Vec::new();
        for name in &self.stages {
            let (tx, next_rx) = mpsc::channel::<Chunk>(QUEUE);
            let stage = Stage {
                plugins: self.plugins.clone(),
                name: name.clone(),
                batch: self.batch,
                record: self.record.clone(),
            };
            let concurrency = self
                .plugins
                .get(name)
                .map_or(1, |p| p.options().max_instances.max(1) as usize);
            stages.push(tokio::spawn(stage.run(rx, tx, concurrency)));
            rx = next_rx;
        }
        let runtime = self.runtime.clone();
        let counters = self.counters.clone();
        let writer = std::thread::Builder::new()
            .name("wasp-run-writer".into())
            .spawn(move || write_chunks(rx, out, dead, &runtime, &counters))
            .map_err(|e| PipelineError::Task(format!("cannot start the writer: {e}")))?;
        let mut failed = None;
        for s in stages {
            if let Err(e) = s.await {
                failed.get_or_insert(PipelineError::Task(format!("a stage task failed: {e}")));
            }
        }
        let (read, written) = tokio::task::spawn_blocking(move || {
            let read = reader.join();
            let written = writer.join();
            (read, written)
        })
        .await
        .map_err(|e| PipelineError::Task(e.to_string()))?;
        match read {
            Ok(r) => r?,
            Err(_) => return Err(PipelineError::Task("the reader panicked".into())),
        };
        match written {
            Ok(w) => w?,
            Err(_) => return Err(PipelineError::Task("the writer panicked".into())),
        };
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The reader thread: lines into chunks, until the input ends.
fn read_chunks(
    input: Box<dyn Read + Send>,
    chunk_events: usize,
    window: &Arc<Semaphore>,
    tx: &mpsc::Sender<Chunk>,
    handle: &tokio::runtime::Handle,
) -> Result<(), PipelineError> {
    let mut reader = std::io::BufReader::with_capacity(256 << 10, input);
    let mut seq = 0;
    let mut first = 1;
    let mut line = Vec::new();
    let mut eof = false;
    while !eof {
        let Ok(permit) = handle.block_on(Arc::clone(window).acquire_owned()) else {
            break;
        };
        let mut events = Vec::new();
        let mut bytes = 0;
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(PipelineError::Read)?;
            if n == 0 {
                eof = true;
                break;
            }
            if line.len() > MAX_LINE && !line.ends_with(b"\n") {
                // Skip the rest of an over-long line.
                skip_line(&mut reader).map_err(PipelineError::Read)?;
                events.push(Event {
                    original: None,
                    slot: Slot::Dead(json!({
                        "event": null,
                        "stage": null,
                        "kind": "bad-input",
                        "error": format!("input line longer than {MAX_LINE} bytes"),
                    })),
                });
            } else if let Some(event) = event_of(trim(&line)) {
                bytes += line.len();
                events.push(event);
            }
            if events.len() >= chunk_events || bytes >= CHUNK_BYTES || reader.buffer().is_empty() {
                break;
            }
        }
        if events.is_empty() {
            continue;
        }
        let n = events.len() as u64;
        let chunk = Chunk {
            seq,
            first,
            events,
            _permit: permit,
        };
        seq += 1;
        first += n;
        if tx.blocking_send(chunk).is_err() {
            break; // the pipeline stopped
        }
    }
    Ok(())
}

/// Reads and drops the rest of a line, in bounded pieces.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The event of one input line: `None` for a blank line, a dead letter for a line
/// that is not JSON.
fn event_of(line: &[u8]) -> Option<Event> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let slot = match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
        Ok(_) => Slot::Live(line.to_vec()),
        Err(e) => Slot::Dead(json!({
            "event": String::from_utf8_lossy(line),
            "stage": null,
            "kind": "bad-input",
            "error": format!("the input line is not JSON: {e}"),
        })),
    };
    Some(Event {
        original: None,
        slot,
    })
}

/// One stage of the pipeline.
struct Stage {
    plugins: Plugins,
    name: String,
    batch: usize,
    record: Option<Arc<Record>>,
}

impl Stage {
    /// Takes chunks from `rx`, works on up to `concurrency` at once, and sends each
    /// on when it is done (not necessarily in order: the writer reorders).
    async fn run(self, mut rx: mpsc::Receiver<Chunk>, tx: mpsc::Sender<Chunk>, concurrency: usize) {
        let stage = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        let mut open = true;
        while open || !running.is_empty() {
            tokio::select! {
                done = running.join_next(), if !running.is_empty() => {
                    let sent = match done {
                        Some(Ok(chunk)) => tx.send(chunk).await.is_ok(),
                        Some(Err(e)) => {
                            // The chunk is lost: the writer reports the gap.
                            eprintln!("error: stage '{}' lost a chunk of events: {e}", stage.name);
                            true
                        }
                        None => true,
                    };
                    if !sent {
                        return; // the writer stopped
                    }
                }
                next = rx.recv(), if open && running.len() < concurrency => {
                    match next {
                        Some(chunk) => {
                            let stage = Arc::clone(&stage);
                            running.spawn(async move { stage.process(chunk).await });
                        }
                        None => open = false,
                    }
                }
            }
        }
    }

    /// Runs the chunk's live events through this stage's plugin.
    async fn process(&self, mut chunk: Chunk) -> Chunk {
        let mut plugin = match self.plugins.get(&self.name) {
            Ok(p) => p,
            Err(e) => {
                for event in &mut chunk.events {
                    if matches!(event.slot, Slot::Live(_)) {
                        event.slot = Slot::Dead(letter(event, &self.name, "error", &e.to_string()));
                    }
                }
                return chunk;
            }
        };
        let live: Vec<usize> = (0..chunk.events.len())
            .filter(|&i| matches!(chunk.events[i].slot, Slot::Live(_)))
            .collect();
        let first = chunk.first;
        if self.batch > 1 && plugin.api_version().has_call_batch() {
            for group in live.chunks(self.batch) {
                self.batch_call(&mut plugin, &mut chunk.events, first, group)
                    .await;
            }
        } else {
            for i in live {
                let event = &mut chunk.events[i];
                let input = take_live(event);
                let result = self.call(&mut plugin, first + i as u64, &input).await;
                self.settle(&plugin, event, input, result);
            }
        }
        chunk
    }

    /// Whether a call refused as unloaded should go again to the version now
    /// serving: the chunk's version was replaced while it ran (a reload, a
    /// promotion), so `plugin` becomes the new one.
    fn replaced(&self, plugin: &mut Plugin, result: &wasp_host::Result<impl Sized>) -> bool {
        if !matches!(result, Err(Error::Unloaded { .. })) {
            return false;
        }
        match self.plugins.get(&self.name) {
            Ok(now) if now != *plugin => {
                *plugin = now;
                true
            }
            _ => false,
        }
    }

    /// One `call` of event number `event`, recorded when `--record` asks.
    async fn call(
        &self,
        plugin: &mut Plugin,
        event: u64,
        input: &[u8],
    ) -> wasp_host::Result<Vec<u8>> {
        loop {
            let result = self.call_once(plugin, event, input).await;
            if !self.replaced(plugin, &result) {
                return result;
            }
        }
    }

    async fn call_once(
        &self,
        plugin: &Plugin,
        event: u64,
        input: &[u8],
    ) -> wasp_host::Result<Vec<u8>> {
        let Some(record) = &self.record else {
            return plugin.call_raw(PROCESS, input).await;
        };
        let recorded = plugin.call_recorded(PROCESS, input, record.when).await;
        if let Some(r) = &recorded.recording {
            record.write(&self.name, event, r);
        }
        recorded.result
    }

    /// One `call-batch` on `plugin`, recorded when `--record` asks.
    async fn batch_once(
        &self,
        plugin: &Plugin,
        inputs: &[Vec<u8>],
        event: u64,
    ) -> wasp_host::Result<Vec<wasp_host::Result<Vec<u8>>>> {
        match &self.record {
            None => plugin.call_batch(PROCESS, inputs).await,
            Some(record) => {
                let recorded = plugin
                    .call_batch_recorded(PROCESS, inputs, record.when)
                    .await;
                if let Some(r) = &recorded.recording {
                    record.write(&self.name, event, r);
                }
                recorded.result
            }
        }
    }

    /// One `call-batch` for the events at `group` (of the chunk whose first
    /// event is number `first`); if it fails, one `call` each.
    async fn batch_call(
        &self,
        plugin: &mut Plugin,
        events: &mut [Event],
        first: u64,
        group: &[usize],
    ) {
        let inputs: Vec<Vec<u8>> = group.iter().map(|&i| take_live(&mut events[i])).collect();
        let event = first + group.first().copied().unwrap_or(0) as u64;
        let result = loop {
            let result = self.batch_once(plugin, &inputs, event).await;
            if !self.replaced(plugin, &result) {
                break result;
            }
        };
        match result {
            Ok(results) => {
                for ((&i, result), input) in group.iter().zip(results).zip(inputs) {
                    self.settle(plugin, &mut events[i], input, result);
                }
            }
            Err(e) => {
                if e.fault().is_some() {
                    eprintln!(
                        "warning: {e}; retrying its {} events one by one",
                        inputs.len()
                    );
                }
                for (&i, input) in group.iter().zip(inputs) {
                    let result = self.call(plugin, first + i as u64, &input).await;
                    self.settle(plugin, &mut events[i], input, result);
                }
            }
        }
    }

    /// Puts a stage's result on `input` into the event's slot.
    fn settle(
        &self,
        plugin: &Plugin,
        event: &mut Event,
        input: Vec<u8>,
        result: wasp_host::Result<Vec<u8>>,
    ) {
        // The input stays valid JSON: an output identical to it needs no check.
        if let Ok(out) = &result
            && *out == input
        {
            event.slot = Slot::Live(input);
            return;
        }
        // The event changes (or fails): keep the line it started as.
        if event.original.is_none() {
            event.original = Some(input);
        }
        event.slot = match result {
            Ok(out) if out.iter().all(u8::is_ascii_whitespace) => Slot::Dropped,
            Ok(out) => match serde_json::from_slice::<serde::de::IgnoredAny>(&out) {
                Err(e) => Slot::Dead(letter(
                    event,
                    plugin.name(),
                    "bad-output",
                    &format!(
                        "stage '{}' returned something that is not JSON: {e}",
                        plugin.name()
                    ),
                )),
                // Keep events on one line whatever the plugin returned.
                Ok(_) if out.contains(&b'\n') => match serde_json::from_slice::<Value>(&out) {
                    Ok(v) => Slot::Live(v.to_string().into_bytes()),
                    Err(_) => Slot::Live(out),
                },
                Ok(_) => Slot::Live(out),
            },
            Err(e) => {
                let kind = match &e {
                    Error::Plugin { .. } => "plugin-error".to_string(),
                    Error::Fault { fault, .. } => format!("fault:{}", fault.kind()),
                    Error::Quarantined { .. } => "quarantined".to_string(),
                    _ => "error".to_string(),
                };
                Slot::Dead(letter(event, plugin.name(), &kind, &e.to_string()))
            }
        };
    }
}

/// The live bytes of an event, leaving it empty until the stage settles it.
fn take_live(event: &mut Event) -> Vec<u8> {
    match &mut event.slot {
        Slot::Live(bytes) => std::mem::take(bytes),
        _ => Vec::new(),
    }
}

/// The dead letter of `event`, failed at `stage`.
fn letter(event: &Event, stage: &str, kind: &str, error: &str) -> Value {
    // No original kept: no stage changed the event, its live bytes are the line.
    let bytes = match (&event.original, &event.slot) {
        (Some(original), _) => original.as_slice(),
        (None, Slot::Live(live)) => live.as_slice(),
        (None, _) => &[],
    };
    let original = serde_json::from_slice::<Value>(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
    json!({"event": original, "stage": stage, "kind": kind, "error": error})
}

/// The writer thread: chunks back in order, kv made durable, lines out.
fn write_chunks(
    mut rx: mpsc::Receiver<Chunk>,
    out: Box<dyn Write + Send>,
    dead: Box<dyn Write + Send>,
    runtime: &Runtime,
    counters: &Counters,
) -> Result<(), PipelineError> {
    let mut out = BufWriter::with_capacity(64 << 10, out);
    let mut dead = BufWriter::with_capacity(16 << 10, dead);
    let mut waiting: BTreeMap<u64, Chunk> = BTreeMap::new();
    let mut next = 0;
    let mut flushed = Instant::now();
    let flush = |out: &mut BufWriter<_>, dead: &mut BufWriter<_>| -> Result<(), PipelineError> {
        out.flush().map_err(PipelineError::Write)?;
        dead.flush().map_err(PipelineError::DeadLetter)
    };
    let mut open = true;
    while open {
        // Take every chunk that is done, without waiting; wait only when none is.
        match rx.try_recv() {
            Ok(chunk) => {
                waiting.insert(chunk.seq, chunk);
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            Err(mpsc::error::TryRecvError::Empty) => {
                if !waiting.contains_key(&next) {
                    flush(&mut out, &mut dead)?;
                    flushed = Instant::now();
                    match rx.blocking_recv() {
                        Some(chunk) => {
                            waiting.insert(chunk.seq, chunk);
                            continue;
                        }
                        None => open = false,
                    }
                }
            }
        }
        let mut ready = Vec::new();
        while let Some(chunk) = waiting.remove(&next) {
            ready.push(chunk);
            next += 1;
        }
        if ready.is_empty() {
            continue;
        }
        // What the stages wrote to kv for these events is on disk before their
        // outputs are released.
        runtime.kv_sync_blocking().map_err(PipelineError::KvSync)?;
        // Counted here and added once: no shared write per event.
        let (mut events, mut written, mut dropped, mut dead_lettered) = (0, 0, 0, 0);
        for chunk in ready {
            events += chunk.events.len() as u64;
            for event in chunk.events {
                match event.slot {
                    Slot::Live(bytes) => {
                        written += 1;
                        out.write_all(&bytes)
                            .and_then(|()| out.write_all(b"\n"))
                            .map_err(PipelineError::Write)?;
                    }
                    Slot::Dropped => dropped += 1,
                    Slot::Dead(letter) => {
                        dead_lettered += 1;
                        serde_json::to_writer(&mut dead, &letter)
                            .map_err(std::io::Error::from)
                            .and_then(|()| dead.write_all(b"\n"))
                            .map_err(PipelineError::DeadLetter)?;
                    }
                }
            }
        }
        counters.events.fetch_add(events, Ordering::Relaxed);
        counters.out.fetch_add(written, Ordering::Relaxed);
        counters.dropped.fetch_add(dropped, Ordering::Relaxed);
        counters.dead.fetch_add(dead_lettered, Ordering::Relaxed);
        if flushed.elapsed() >= FLUSH_EVERY {
            flush(&mut out, &mut dead)?;
            flushed = Instant::now();
        }
    }
    flush(&mut out, &mut dead)?;
    if !waiting.is_empty() {
        return Err(PipelineError::Task(format!(
            "{} chunks of events were not written: an earlier chunk was lost",
            waiting.len()
        )));
    }
    Ok(())
}
