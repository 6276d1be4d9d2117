//! NATS JetStream as the source and sink of `wasp run` (`[pipeline.source]`,
//! `[pipeline.sink]`), and `wasp publish`, which puts JSON lines into the
//! source's stream. See `docs/nats.md`.
//!
//! - **Source**: a durable pull consumer, shared by every worker that names it
//!   (JetStream shares the work; there is no coordination of ours). One pull per
//!   chunk, when the pipeline has room for one: never more events in flight than
//!   it holds. Each event is known as `STREAM:SEQUENCE`.
//! - **Sink**: each output is published to the sink's subject with
//!   `Nats-Msg-Id: STREAM:SEQUENCE` (a dead letter `STREAM:SEQUENCE:dead`), so a
//!   redelivered event whose output was already published is dropped by the
//!   stream's de-duplication. A flush waits for JetStream's acknowledgement of
//!   every publish.
//! - **Acknowledgement**: a chunk's events are acknowledged only after that flush
//!   (and after their kv writes are durable): a worker that dies loses nothing,
//!   its events go to another worker after `ack-wait`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, HeaderMap};
use futures_util::StreamExt;
use serde_json::Value;
use wasp_host::manifest::{self, NatsServer};

use crate::Failure;
use crate::pipeline::lines::DeadLines;
use crate::pipeline::{Acks, Counters, Event, Feed, MAX_LINE, PipelineError, Sink, Source};
use crate::run::Stop;

/// How long an empty pull waits for the next event before the source looks at
/// whether it should stop.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// `max-ack-pending` of a consumer wasp creates (unordered): the pipelines'
/// windows bound what is in flight, not the consumer.
const MAX_ACK_PENDING: i64 = 1 << 20;
/// Publishes sent before their acknowledgements are awaited (below the client's
/// 5,000 in flight).
const SEND_AHEAD: usize = 1024;
/// The payload of an acknowledgement.
const ACK: &[u8] = b"+ACK";

/// The chunk size the pipeline uses for `[pipeline] batch` (its chunks are one
/// pull each).
fn chunk_events(batch: usize) -> usize {
    crate::pipeline::chunk_events(batch)
}

/// A connection error, naming the server and what to check.
fn unreachable(url: &str, e: impl std::fmt::Display) -> Failure {
    Failure::usage(format!(
        "cannot connect to the NATS server {url}: {e}; check that nats-server runs \
         there with JetStream on (nats-server -js), and the manifest's creds and tls"
    ))
}

/// Connects to `server`.
pub(crate) async fn connect(server: &NatsServer) -> Result<Client, Failure> {
    let mut options = async_nats::ConnectOptions::new()
        .name("wasp")
        .connection_timeout(Duration::from_secs(5))
        .require_tls(server.tls);
    if let Some(creds) = &server.creds {
        options = options.credentials_file(creds).await.map_err(|e| {
            Failure::usage(format!(
                "cannot read the NATS credentials {}: {e}",
                creds.display()
            ))
        })?;
    }
    options
        .connect(server.url.as_str())
        .await
        .map_err(|e| unreachable(&server.url, e))
}

/// The source's stream, created over its subject when missing.
async fn open_stream(
    js: &jetstream::Context,
    spec: &manifest::NatsSource,
) -> Result<stream::Stream, Failure> {
    js.get_or_create_stream(stream::Config {
        name: spec.stream.clone(),
        subjects: vec![spec.subject()],
        ..Default::default()
    })
    .await
    .map_err(|e| {
        Failure::usage(format!(
            "NATS {}: cannot open or create the stream '{}': {e} (is JetStream on: \
             nats-server -js?)",
            spec.server.url, spec.stream
        ))
    })
}

/// Whether `subject` (no wildcards) is matched by `filter`.
fn matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

// ---- the source ------------------------------------------------------------

/// `[pipeline.source]` with `nats = …`: a durable pull consumer.
pub(crate) struct NatsSource {
    client: Client,
    consumer: PullConsumer,
    url: String,
    stream: String,
    window: usize,
    stop: Stop,
    until_idle: bool,
    counters: Arc<Counters>,
}

impl NatsSource {
    /// Connects, and opens (or creates) the stream and the durable consumer.
    pub(crate) async fn open(
        spec: &manifest::NatsSource,
        batch: usize,
        stop: Stop,
        until_idle: bool,
        counters: Arc<Counters>,
    ) -> Result<Self, Failure> {
        let client = connect(&spec.server).await?;
        let js = jetstream::new(client.clone());
        let stream = open_stream(&js, spec).await?;
        let chunk = chunk_events(batch);
        let config = pull::Config {
            durable_name: Some(spec.consumer.clone()),
            filter_subject: spec.filter.clone().unwrap_or_default(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: spec.ack_wait,
            // Ordered: no event is handed out before the chunk before it was
            // acknowledged, by any worker.
            max_ack_pending: if spec.ordered {
                chunk as i64
            } else {
                MAX_ACK_PENDING
            },
            ..Default::default()
        };
        let consumer: PullConsumer = stream
            .get_or_create_consumer(&spec.consumer, config)
            .await
            .map_err(|e| {
                Failure::usage(format!(
                    "NATS {}: cannot open or create the consumer '{}' on the stream '{}': {e}",
                    spec.server.url, spec.consumer, spec.stream
                ))
            })?;
        let existing = &consumer.cached_info().config;
        if spec.ordered && !(1..=chunk as i64).contains(&existing.max_ack_pending) {
            return Err(Failure::usage(format!(
                "NATS {}: the consumer '{}' exists with max-ack-pending {}; ordered = true \
                 needs one created by an ordered worker (at most {chunk}): name another \
                 consumer, or delete this one",
                spec.server.url, spec.consumer, existing.max_ack_pending
            )));
        }
        if existing.ack_wait != spec.ack_wait {
            eprintln!(
                "warning: the consumer '{}' exists with ack-wait {:?}; the manifest's {:?} \
                 applies to a consumer it creates",
                spec.consumer, existing.ack_wait, spec.ack_wait
            );
        }
        counters.brokered.store(true, Ordering::Relaxed);
        counters
            .source_pending
            .store(consumer.cached_info().num_pending, Ordering::Relaxed);
        Ok(NatsSource {
            client,
            consumer,
            url: spec.server.url.clone(),
            stream: spec.stream.clone(),
            window: if spec.ordered {
                1
            } else {
                crate::pipeline::WINDOW
            },
            stop,
            until_idle,
            counters,
        })
    }

    /// Up to `n` events: what is there at once, else the first to arrive within
    /// [`IDLE_WAIT`] and what is there with it.
    async fn pull(&self, n: usize) -> Result<Vec<jetstream::Message>, PipelineError> {
        let mut got = self.fetch(n, None).await?;
        if got.is_empty() {
            got = self.fetch(1, Some(IDLE_WAIT)).await?;
            if !got.is_empty() && n > 1 {
                got.extend(self.fetch(n - 1, None).await?);
            }
        }
        Ok(got)
    }

    /// One pull request of up to `n` (`wait`: how long it may wait for them;
    /// none: only what is there now). Read to its end, so that no event is
    /// delivered to a request nobody reads.
    async fn fetch(
        &self,
        n: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<jetstream::Message>, PipelineError> {
        let pulled = match wait {
            None => self.consumer.fetch().max_messages(n).messages().await,
            Some(d) => {
                self.consumer
                    .batch()
                    .max_messages(n)
                    .expires(d)
                    .messages()
                    .await
            }
        };
        let mut messages = pulled.map_err(|e| {
            PipelineError::Source(format!("NATS {}: cannot pull events: {e}", self.url))
        })?;
        let mut out = Vec::with_capacity(n);
        while let Some(m) = messages.next().await {
            match m {
                Ok(m) => out.push(m),
                // A status in place of events (the server is busy, a limit is
                // reached): what came before it is kept, the next pull tries again.
                Err(e) => {
                    tracing::debug!(target: "wasp::nats", "pull ended early: {e}");
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Whether the consumer has nothing left to deliver and nothing
    /// unacknowledged (by any worker).
    async fn idle(&self) -> Result<bool, PipelineError> {
        let mut consumer = self.consumer.clone();
        let info = consumer.info().await.map_err(|e| {
            PipelineError::Source(format!("NATS {}: cannot read the consumer: {e}", self.url))
        })?;
        self.counters
            .source_pending
            .store(info.num_pending, Ordering::Relaxed);
        Ok(info.num_pending == 0 && info.num_ack_pending == 0)
    }
}

impl Source for NatsSource {
    fn window(&self) -> usize {
        self.window
    }

    fn feed(self: Box<Self>, mut feed: Feed) -> Result<(), PipelineError> {
        let handle = feed.handle.clone();
        while !self.stop.is_set() {
            let Some(room) = feed.room() else {
                break;
            };
            if self.stop.is_set() {
                break;
            }
            let messages = handle.block_on(self.pull(feed.chunk_events))?;
            if messages.is_empty() {
                if self.until_idle && handle.block_on(self.idle())? {
                    self.stop.set();
                }
                continue;
            }
            let mut events = Vec::with_capacity(messages.len());
            let mut replies = Vec::with_capacity(messages.len());
            let mut redelivered = 0;
            for m in messages {
                let Some(reply) = m.message.reply.clone() else {
                    continue; // not a JetStream delivery: nothing to acknowledge
                };
                replies.push(reply);
                let id = match m.info() {
                    Ok(info) => {
                        if info.delivered > 1 {
                            redelivered += 1;
                        }
                        self.counters
                            .source_pending
                            .store(info.pending, Ordering::Relaxed);
                        Some(format!("{}:{}", self.stream, info.stream_sequence))
                    }
                    Err(_) => None,
                };
                let event = if m.message.payload.len() > MAX_LINE {
                    Some(Event::too_long())
                } else {
                    Event::of(&m.message.payload)
                };
                if let Some(event) = event {
                    events.push(match id {
                        Some(id) => event.with_id(id),
                        None => event,
                    });
                }
            }
            self.counters
                .redelivered
                .fetch_add(redelivered, Ordering::Relaxed);
            let acks = NatsAcks {
                client: self.client.clone(),
                handle: handle.clone(),
                url: self.url.clone(),
                replies,
            };
            if !feed.send(room, events, Some(Box::new(acks))) {
                break; // the pipeline stopped
            }
        }
        // The acknowledgements sent so far reach the server before the process
        // ends.
        handle
            .block_on(self.client.flush())
            .map_err(|e| PipelineError::Source(format!("NATS {}: {e}", self.url)))
    }
}

/// The acknowledgements of one chunk's events.
struct NatsAcks {
    client: Client,
    handle: tokio::runtime::Handle,
    url: String,
    replies: Vec<async_nats::Subject>,
}

impl Acks for NatsAcks {
    fn ack(self: Box<Self>) -> Result<(), PipelineError> {
        let NatsAcks {
            client,
            handle,
            url,
            replies,
        } = *self;
        handle
            .block_on(async {
                for reply in replies {
                    client
                        .publish(reply, bytes::Bytes::from_static(ACK))
                        .await?;
                }
                client.flush().await?;
                Ok::<_, async_nats::Error>(())
            })
            .map_err(|e| {
                PipelineError::Source(format!("NATS {url}: cannot acknowledge events: {e}"))
            })
    }
}

// ---- the sink --------------------------------------------------------------

/// `[pipeline.sink]` with `nats = …`: outputs (and dead letters) published to
/// subjects that streams capture.
pub(crate) struct NatsSink {
    js: jetstream::Context,
    handle: tokio::runtime::Handle,
    url: String,
    subject: String,
    dead_subject: Option<String>,
    /// Where dead letters go when the sink has no dead-letter subject.
    dead_lines: DeadLines,
    /// Given, not yet published: (subject, message id, payload).
    buffered: Vec<(String, Option<String>, bytes::Bytes)>,
}

impl NatsSink {
    /// Connects, and makes sure a stream captures each subject (creating one
    /// named after the subject when none does). `source`: the pipeline's NATS
    /// source, if any, which the sink must not feed.
    pub(crate) async fn open(
        spec: &manifest::NatsSink,
        source: Option<&manifest::NatsSource>,
        dead: Box<dyn std::io::Write + Send>,
    ) -> Result<Self, Failure> {
        let client = connect(&spec.server).await?;
        let js = jetstream::new(client);
        let subjects = std::iter::once(("subject", &spec.subject))
            .chain(spec.dead_letter.iter().map(|d| ("dead-letter", d)));
        for (key, subject) in subjects {
            let stream = capture(&js, &spec.server.url, subject).await?;
            if let Some(source) = source
                && (stream == source.stream || matches(&source.subject(), subject))
            {
                return Err(Failure::usage(format!(
                    "[pipeline.sink] {key} `{subject}` is read by the source (stream \
                     '{}'): every output would come back as an event; publish to a \
                     subject outside `{}`",
                    source.stream,
                    source.subject()
                )));
            }
        }
        Ok(NatsSink {
            js,
            handle: tokio::runtime::Handle::current(),
            url: spec.server.url.clone(),
            subject: spec.subject.clone(),
            dead_subject: spec.dead_letter.clone(),
            dead_lines: DeadLines::new(dead),
            buffered: Vec::new(),
        })
    }

    /// Publishes what is buffered and waits for every acknowledgement.
    fn send(&mut self) -> Result<(), PipelineError> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let js = &self.js;
        let buffered = &mut self.buffered;
        let url = &self.url;
        self.handle.block_on(async {
            let mut acks = Vec::with_capacity(buffered.len());
            for (subject, id, payload) in buffered.drain(..) {
                let mut headers = HeaderMap::new();
                if let Some(id) = id {
                    headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
                }
                let ack = js
                    .publish_with_headers(subject.clone(), headers, payload)
                    .await
                    .map_err(|e| {
                        PipelineError::Sink(format!("NATS {url}: cannot publish to {subject}: {e}"))
                    })?;
                acks.push((subject, ack));
            }
            for (subject, ack) in acks {
                ack.await.map_err(|e| {
                    PipelineError::Sink(format!(
                        "NATS {url}: a publish to {subject} was not acknowledged: {e}"
                    ))
                })?;
            }
            Ok(())
        })
    }
}

/// The stream that captures `subject`, created (named after the subject) when
/// none does.
async fn capture(js: &jetstream::Context, url: &str, subject: &str) -> Result<String, Failure> {
    match js.stream_by_subject(subject).await {
        Ok(name) => Ok(name),
        Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => {
            let name = subject.replace('.', "-");
            js.create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subject.to_string()],
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Failure::usage(format!(
                    "NATS {url}: no stream captures `{subject}`, and creating the stream \
                     '{name}' over it failed: {e}"
                ))
            })?;
            Ok(name)
        }
        Err(e) => Err(unreachable(url, e)),
    }
}

impl Sink for NatsSink {
    fn output(&mut self, bytes: &[u8], id: Option<&str>) -> Result<(), PipelineError> {
        self.buffered.push((
            self.subject.clone(),
            id.map(str::to_owned),
            bytes::Bytes::copy_from_slice(bytes),
        ));
        if self.buffered.len() >= SEND_AHEAD {
            self.send()?;
        }
        Ok(())
    }

    fn dead_letter(&mut self, letter: &Value, id: Option<&str>) -> Result<(), PipelineError> {
        let Some(subject) = &self.dead_subject else {
            return self.dead_lines.write(letter);
        };
        self.buffered.push((
            subject.clone(),
            id.map(|id| format!("{id}:dead")),
            bytes::Bytes::from(letter.to_string()),
        ));
        if self.buffered.len() >= SEND_AHEAD {
            self.send()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PipelineError> {
        self.send()?;
        self.dead_lines.flush()
    }
}

// ---- wasp publish ----------------------------------------------------------

/// `wasp publish`: JSON lines into the stream of the manifest's
/// `[pipeline.source]`, each acknowledged by JetStream.
#[derive(clap::Args)]
pub(crate) struct PublishArgs {
    /// The manifest (default ./wasp.toml); it must have a [pipeline.source].
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<std::path::PathBuf>,
    /// The subject to publish to (default: the source's subject with each
    /// wildcard token replaced by `event`, e.g. events.> → events.event).
    #[arg(long, value_name = "SUBJECT")]
    subject: Option<String>,
    /// JSON lines to publish, one event per non-blank line (default stdin; `-`
    /// is stdin).
    input: Option<std::path::PathBuf>,
}

/// The subject `wasp publish` uses for a source's `filter` by default.
fn default_subject(spec: &manifest::NatsSource) -> String {
    spec.subject()
        .split('.')
        .map(|t| if t == "*" || t == ">" { "event" } else { t })
        .collect::<Vec<_>>()
        .join(".")
}

pub(crate) async fn publish(a: PublishArgs) -> crate::CliResult {
    use std::io::BufRead;
    let m = manifest::Manifest::from_file(crate::manifest_path(&a.manifest))?;
    let Some(manifest::Source::Nats(spec)) = m.source() else {
        return Err(Failure::usage(format!(
            "{}: no [pipeline.source]; add one, e.g. [pipeline.source] nats = \
             \"nats://127.0.0.1:4222\", stream = \"events\"",
            m.file().display()
        )));
    };
    let subject = a.subject.clone().unwrap_or_else(|| default_subject(spec));
    if !matches(&spec.subject(), &subject) {
        return Err(Failure::usage(format!(
            "the subject `{subject}` is not read by the source (`{}`)",
            spec.subject()
        )));
    }
    let client = connect(&spec.server).await?;
    let js = jetstream::new(client);
    open_stream(&js, spec).await?;
    let input: Box<dyn std::io::Read + Send> =
        match &a.input {
            Some(p) if p.as_os_str() != "-" => Box::new(std::fs::File::open(p).map_err(|e| {
                Failure::usage(format!("cannot open the input {}: {e}", p.display()))
            })?),
            _ => Box::new(std::io::stdin()),
        };
    let url = &spec.server.url;
    let mut reader = std::io::BufReader::with_capacity(256 << 10, input);
    let mut line = Vec::new();
    let mut pending = Vec::with_capacity(SEND_AHEAD);
    let mut published = 0u64;
    let failed = |e: &dyn std::fmt::Display| {
        Failure::usage(format!("NATS {url}: cannot publish to {subject}: {e}"))
    };
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::usage(format!("cannot read the input: {e}")))?;
        let text = line.trim_ascii();
        if !text.is_empty() {
            let ack = js
                .publish(subject.clone(), bytes::Bytes::copy_from_slice(text))
                .await
                .map_err(|e| failed(&e))?;
            pending.push(ack);
        }
        if n == 0 || pending.len() >= SEND_AHEAD {
            for ack in pending.drain(..) {
                ack.await.map_err(|e| failed(&e))?;
                published += 1;
            }
        }
        if n == 0 {
            break;
        }
    }
    eprintln!(
        "published {published} events to the stream '{}' (subject {subject}) at {url}",
        spec.stream
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_match_filters() {
        assert!(matches("events.>", "events.a"));
        assert!(matches("events.>", "events.a.b"));
        assert!(!matches("events.>", "events"));
        assert!(matches("events.*", "events.a"));
        assert!(!matches("events.*", "events.a.b"));
        assert!(matches("results", "results"));
        assert!(!matches("results", "results.x"));
        assert!(!matches("events.>", "results"));
    }
}
