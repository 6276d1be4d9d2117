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
//! - The **reader** (a blocking thread) runs the [`Source`]: it puts events into
//!   *chunks* (consecutive events, numbered) as they arrive, never waiting to fill
//!   one. JSON lines ([`lines::Lines`]: a chunk closes at [`CHUNK_EVENTS`] events or
//!   [`CHUNK_BYTES`] bytes, or when no more input is buffered) or a NATS JetStream
//!   consumer (`crate::nats`: one pull per chunk, sized by the room left).
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
//!   gives the outputs and dead letters to the [`Sink`] (buffered), which it flushes
//!   whenever no finished chunk is waiting, and at least every [`FLUSH_EVERY`].
//!   Only once a flush succeeded are the chunks flushed **acknowledged** to their
//!   source ([`Acks`]): a source that redelivers what was not acknowledged (NATS)
//!   loses nothing when the process dies.
//! - **Back-pressure**: at most [`WINDOW`] chunks (a source may ask fewer) are
//!   between the reader and their acknowledgement (a permit travels with each
//!   chunk), so memory stays flat on an endless input and a stuck event cannot make
//!   the reorder buffer grow without bound.

pub(crate) mod lines;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use wasp_host::recording::{EntryKind, RecordWhen, Recording};
use wasp_host::{Error, Plugin, Plugins, Runtime};

/// Longest input line (or message) accepted; a longer one is dead-lettered unread.
pub(crate) const MAX_LINE: usize = 64 << 20;
/// Most chunks between the reader and their acknowledgement.
pub(crate) const WINDOW: usize = 64;
/// Chunks waiting in front of each stage and of the writer.
const QUEUE: usize = 4;
/// A chunk closes at this many events (or `[pipeline] batch`, if larger) …
const CHUNK_EVENTS: usize = 256;
/// … or this many bytes of input.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;
/// The longest the writer keeps output in its buffer while it is busy.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The function every stage runs.
const PROCESS: &str = "process";

/// The most events in one chunk for `[pipeline] batch` (a chunk holds at least
/// one full batch).
pub(crate) fn chunk_events(batch: usize) -> usize {
    batch.clamp(CHUNK_EVENTS, 4096)
}

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
    /// Whether the source is a broker that counts what it holds (the two below).
    pub(crate) brokered: std::sync::atomic::AtomicBool,
    /// Events the source still holds for this pipeline (NATS: the consumer's
    /// pending count, as of the last pull).
    pub(crate) source_pending: AtomicU64,
    /// Events the source delivered again (NATS: an earlier delivery was not
    /// acknowledged in time).
    pub(crate) redelivered: AtomicU64,
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
    /// The source failed (what, and what to check).
    #[error("{0}")]
    Source(String),
    /// The sink failed (what, and what to check).
    #[error("{0}")]
    Sink(String),
}

/// Where events come from. [`Source::feed`] runs on a thread of its own.
pub(crate) trait Source: Send {
    /// The most chunks in flight (read and not yet acknowledged).
    fn window(&self) -> usize {
        WINDOW
    }

    /// Puts events into chunks and sends them to `feed` as they arrive, until the
    /// input ends, the source is told to stop, or the pipeline stops.
    fn feed(self: Box<Self>, feed: Feed) -> Result<(), PipelineError>;
}

/// Where outputs and dead letters go. `id` is the event's identity at its
/// source, if it has one (NATS: `STREAM:SEQUENCE`), so that writing an output
/// twice can be recognised.
pub(crate) trait Sink: Send {
    /// Writes (or buffers) one output.
    fn output(&mut self, bytes: &[u8], id: Option<&str>) -> Result<(), PipelineError>;
    /// Writes (or buffers) one dead letter.
    fn dead_letter(&mut self, letter: &Value, id: Option<&str>) -> Result<(), PipelineError>;
    /// Makes everything given so far durable where it went (written out; for a
    /// broker, acknowledged by it).
    fn flush(&mut self) -> Result<(), PipelineError>;
    /// The largest output it can take, if it has a limit (a broker's largest
    /// message): a larger one is dead-lettered instead of failing the run.
    fn largest(&self) -> Option<usize> {
        None
    }
}

/// A chunk's acknowledgement to its source, given once its outputs and dead
/// letters were flushed and its kv writes are durable.
pub(crate) trait Acks: Send {
    /// Tells the source that the chunk's events are done.
    fn ack(self: Box<Self>) -> Result<(), PipelineError>;
}

/// What a [`Source`] feeds chunks into.
pub(crate) struct Feed {
    window: Arc<Semaphore>,
    tx: mpsc::Sender<Chunk>,
    /// The pipeline's runtime, for a source that is async inside.
    pub(crate) handle: tokio::runtime::Handle,
    /// The most events a chunk holds.
    pub(crate) chunk_events: usize,
    seq: u64,
    first: u64,
}

/// Room for one more chunk in the pipeline (see [`Feed::room`]).
pub(crate) struct Room(OwnedSemaphorePermit);

impl Feed {
    /// Waits until there is room for one more chunk; `None` once the pipeline
    /// stopped.
    pub(crate) fn room(&self) -> Option<Room> {
        self.handle
            .block_on(Arc::clone(&self.window).acquire_owned())
            .ok()
            .map(Room)
    }

    /// Sends `events` on as the next chunk, with their acknowledgement (which the
    /// writer gives once they are done). `false`: the pipeline stopped.
    pub(crate) fn send(
        &mut self,
        room: Room,
        events: Vec<Event>,
        acks: Option<Box<dyn Acks>>,
    ) -> bool {
        if events.is_empty() && acks.is_none() {
            return true;
        }
        let n = events.len() as u64;
        let chunk = Chunk {
            seq: self.seq,
            first: self.first,
            events,
            acks,
            permit: room.0,
        };
        self.seq += 1;
        self.first += n;
        self.tx.blocking_send(chunk).is_ok()
    }
}

/// One event on its way through the stages.
pub(crate) struct Event {
    /// The input line, for the dead letter, once a stage has changed the event
    /// (until then it is the live bytes themselves: no copy per event).
    original: Option<Vec<u8>>,
    slot: Slot,
    /// Its identity at the source, if it has one (given to the sink).
    id: Option<String>,
}

impl Event {
    /// The event of one input line or message: `None` for a blank one, a dead
    /// letter for one that is not JSON.
    pub(crate) fn of(line: &[u8]) -> Option<Event> {
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
            id: None,
        })
    }

    /// The dead letter of an input longer than [`MAX_LINE`], left unread.
    pub(crate) fn too_long() -> Event {
        Event {
            original: None,
            slot: Slot::Dead(json!({
                "event": null,
                "stage": null,
                "kind": "bad-input",
                "error": format!("input line longer than {MAX_LINE} bytes"),
            })),
            id: None,
        }
    }

    /// The same event, known at its source as `id`.
    pub(crate) fn with_id(mut self, id: String) -> Event {
        self.id = Some(id);
        self
    }
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
    /// Given once the chunk's outputs are flushed.
    acks: Option<Box<dyn Acks>>,
    /// Returned to the window when the chunk is acknowledged.
    permit: OwnedSemaphorePermit,
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
    /// Runs the events of `source` through the stages into `sink` until the
    /// source ends (or is told to stop).
    ///
    /// # Errors
    /// A source that cannot be read, a sink that cannot be written, a kv store
    /// that cannot make writes durable. What was written before stays written;
    /// what was not acknowledged stays with the source.
    pub(crate) async fn run(
        self,
        source: Box<dyn Source + Send>,
        sink: Box<dyn Sink + Send>,
    ) -> Result<(), PipelineError> {
        let window = Arc::new(Semaphore::new(source.window().max(1)));
        let chunk_events = chunk_events(self.batch);
        let (first_tx, mut rx) = mpsc::channel::<Chunk>(QUEUE);
        let handle = tokio::runtime::Handle::current();
        let feed = Feed {
            window,
            tx: first_tx,
            handle,
            chunk_events,
            seq: 0,
            first: 1,
        };
        let reader = std::thread::Builder::new()
            .name("wasp-run-reader".into())
            .spawn(move || source.feed(feed))
            .map_err(|e| PipelineError::Task(format!("cannot start the reader: {e}")))?;
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
            .spawn(move || write_chunks(rx, sink, &runtime, &counters))
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
        // The writer's failure first: it is what stopped a reader that was fine.
        match written {
            Ok(w) => w?,
            Err(_) => return Err(PipelineError::Task("the writer panicked".into())),
        };
        match read {
            Ok(r) => r?,
            Err(_) => return Err(PipelineError::Task("the reader panicked".into())),
        };
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
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
                        event.slot =
                            Slot::Dead(letter(event, Some(&self.name), "error", &e.to_string()));
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
                    Some(plugin.name()),
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
                Slot::Dead(letter(event, Some(plugin.name()), &kind, &e.to_string()))
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

/// The dead letter of `event`, failed at `stage` (none: after every stage).
fn letter(event: &Event, stage: Option<&str>, kind: &str, error: &str) -> Value {
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

/// A chunk written to the sink, not yet flushed: its acknowledgement and its room.
type Unflushed = (Option<Box<dyn Acks>>, OwnedSemaphorePermit);

/// Flushes the sink, then acknowledges what it flushed and gives its room back.
fn flush(
    sink: &mut Box<dyn Sink + Send>,
    unflushed: &mut Vec<Unflushed>,
) -> Result<(), PipelineError> {
    sink.flush()?;
    for (acks, permit) in unflushed.drain(..) {
        if let Some(acks) = acks {
            acks.ack()?;
        }
        drop(permit);
    }
    Ok(())
}

/// The writer thread: chunks back in order, kv made durable, outputs to the
/// sink, and once flushed, the chunks acknowledged to their source.
fn write_chunks(
    mut rx: mpsc::Receiver<Chunk>,
    mut sink: Box<dyn Sink + Send>,
    runtime: &Runtime,
    counters: &Counters,
) -> Result<(), PipelineError> {
    let mut waiting: BTreeMap<u64, Chunk> = BTreeMap::new();
    // Written, not yet flushed: acknowledged (and their room given back) after.
    let mut unflushed: Vec<Unflushed> = Vec::new();
    let mut next = 0;
    let mut flushed = Instant::now();
    let mut open = true;
    let largest = sink.largest();
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
                    flush(&mut sink, &mut unflushed)?;
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
                let id = event.id.as_deref();
                match &event.slot {
                    Slot::Live(bytes) if largest.is_some_and(|l| bytes.len() > l) => {
                        dead_lettered += 1;
                        let error = format!(
                            "the output ({} bytes) is larger than the sink takes ({} bytes)",
                            bytes.len(),
                            largest.unwrap_or_default()
                        );
                        // It went through every stage, and none failed it.
                        let l = letter(&event, None, "output-too-large", &error);
                        sink.dead_letter(&l, id)?;
                    }
                    Slot::Live(bytes) => {
                        written += 1;
                        sink.output(bytes, id)?;
                    }
                    Slot::Dropped => dropped += 1,
                    Slot::Dead(letter) => {
                        dead_lettered += 1;
                        sink.dead_letter(letter, id)?;
                    }
                }
            }
            unflushed.push((chunk.acks, chunk.permit));
        }
        counters.events.fetch_add(events, Ordering::Relaxed);
        counters.out.fetch_add(written, Ordering::Relaxed);
        counters.dropped.fetch_add(dropped, Ordering::Relaxed);
        counters.dead.fetch_add(dead_lettered, Ordering::Relaxed);
        if flushed.elapsed() >= FLUSH_EVERY {
            flush(&mut sink, &mut unflushed)?;
            flushed = Instant::now();
        }
    }
    flush(&mut sink, &mut unflushed)?;
    if !waiting.is_empty() {
        return Err(PipelineError::Task(format!(
            "{} chunks of events were not written: an earlier chunk was lost",
            waiting.len()
        )));
    }
    Ok(())
}
