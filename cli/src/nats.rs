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
//! - **Outages**: the client reconnects on its own (without end); each lost and
//!   regained connection is one line on stderr. A pull that gets no answer (its
//!   request or reply lost with the connection) ends after its expiry plus
//!   [`PULL_LIMIT`]; a failed pull is tried again, and so is each publish that
//!   was not acknowledged (its message id makes a repeat harmless). An event
//!   held meanwhile is acknowledged late or delivered again: nothing is lost.

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
/// How long a pull may go unanswered past its own expiry before it ends with
/// what it got.
const PULL_LIMIT: Duration = Duration::from_secs(5);
/// The wait before a failed pull or publish is tried again.
const RETRY: Duration = Duration::from_millis(500);
/// How often a failure that goes on is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// A failure that is retried: reported when it starts, again every
/// [`REPORT_EVERY`] while it lasts, and when it ends.
#[derive(Default)]
struct Outage {
    since: Option<std::time::Instant>,
    reported: Option<std::time::Instant>,
}

impl Outage {
    /// `what` failed (and will be retried).
    fn failed(&mut self, what: &str) {
        let now = std::time::Instant::now();
        let since = *self.since.get_or_insert(now);
        if self.reported.is_none_or(|r| now - r >= REPORT_EVERY) {
            self.reported = Some(now);
            let lasted = now - since;
            if lasted.is_zero() {
                eprintln!("warning: {what}; retrying");
            } else {
                eprintln!("warning: {what}; retrying for {}s now", lasted.as_secs());
            }
        }
    }

    /// What failed worked again.
    fn ended(&mut self, what: &str) {
        if let Some(since) = self.since.take() {
            self.reported = None;
            eprintln!("{what} again after {:.1}s", since.elapsed().as_secs_f64());
        }
    }
}

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

/// Connects to `server`, for `role` (`source`, `sink`, `publish`), which the
/// lines on a lost connection name.
pub(crate) async fn connect(server: &NatsServer, role: &'static str) -> Result<Client, Failure> {
    // Lost and regained connections, one line each (the client reconnects on
    // its own, without end).
    let url = server.url.clone();
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut options = async_nats::ConnectOptions::new()
        .name("wasp")
        .connection_timeout(Duration::from_secs(5))
        .require_tls(server.tls)
        .event_callback(move |event| {
            let (url, lost) = (url.clone(), lost.clone());
            async move {
                match event {
                    async_nats::Event::Disconnected if !lost.swap(true, Ordering::Relaxed) => {
                        eprintln!("warning: NATS {url} ({role}): connection lost; reconnecting");
                    }
                    async_nats::Event::Connected if lost.swap(false, Ordering::Relaxed) => {
                        eprintln!("NATS {url} ({role}): reconnected");
                    }
                    _ => {}
                }
            }
        });
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
        let client = connect(&spec.server, "source").await?;
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
        // A request or reply lost with the connection is never answered: the
        // pull ends at its deadline with what it got (an event delivered to it
        // later is delivered again after ack-wait).
        let deadline = tokio::time::Instant::now() + wait.unwrap_or_default() + PULL_LIMIT;
        let request = async {
            match wait {
                None => self.consumer.fetch().max_messages(n).messages().await,
                Some(d) => {
                    self.consumer
                        .batch()
                        .max_messages(n)
                        .expires(d)
                        .messages()
                        .await
                }
            }
        };
        let cannot = |e: &dyn std::fmt::Display| {
            PipelineError::Source(format!("NATS {}: cannot pull events: {e}", self.url))
        };
        let mut messages = match tokio::time::timeout_at(deadline, request).await {
            Ok(pulled) => pulled.map_err(|e| cannot(&e))?,
            Err(_) => return Err(cannot(&"no answer")),
        };
        let mut out = Vec::with_capacity(n);
        loop {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(Ok(m))) => out.push(m),
                Ok(None) => break,
                // A status in place of events (the server is busy, a limit is
                // reached): what came before it is kept, the next pull tries again.
                Ok(Some(Err(e))) => {
                    tracing::debug!(target: "wasp::nats", "pull ended early: {e}");
                    break;
                }
                Err(_) => {
                    tracing::debug!(target: "wasp::nats", "pull unanswered: {} events", out.len());
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
        let mut outage = Outage::default();
        let pulling = format!("NATS {}: pulling events", self.url);
        while !self.stop.is_set() {
            let Some(room) = feed.room() else {
                break;
            };
            if self.stop.is_set() {
                break;
            }
            let pulled = handle.block_on(async {
                let messages = self.pull(feed.chunk_events).await?;
                let idle = messages.is_empty() && self.until_idle && self.idle().await?;
                Ok::<_, PipelineError>((messages, idle))
            });
            let messages = match pulled {
                Ok((messages, idle)) => {
                    outage.ended(&pulling);
                    if idle {
                        self.stop.set();
                    }
                    messages
                }
                Err(e) => {
                    outage.failed(&e.to_string());
                    std::thread::sleep(RETRY); // on the pipeline's reader thread
                    continue;
                }
            };
            if messages.is_empty() {
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
    /// The largest payload the server takes, less room for the headers.
    largest: usize,
}

/// Room left in a message for its headers (a message id of ours is < 200 bytes).
const HEADER_ROOM: usize = 512;

impl NatsSink {
    /// Connects, and makes sure a stream captures each subject (creating one
    /// named after the subject when none does). `source`: the pipeline's NATS
    /// source, if any, which the sink must not feed.
    pub(crate) async fn open(
        spec: &manifest::NatsSink,
        source: Option<&manifest::NatsSource>,
        dead: Box<dyn std::io::Write + Send>,
    ) -> Result<Self, Failure> {
        let client = connect(&spec.server, "sink").await?;
        let largest = client.max_payload().saturating_sub(HEADER_ROOM);
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
            largest,
        })
    }

    /// Publishes what is buffered and waits for every acknowledgement. A
    /// publish that is not acknowledged (the connection is lost, the server
    /// restarts) is sent again until it is, those acknowledged are not; one
    /// that can never be (larger than the server's `max_payload`) is an error.
    fn send(&mut self) -> Result<(), PipelineError> {
        let mut outage = Outage::default();
        while !self.buffered.is_empty() {
            let handle = self.handle.clone();
            match handle.block_on(self.publish_buffered()) {
                Ok(()) => outage.ended(&format!("NATS {}: publishing", self.url)),
                Err(e) if retried(e.kind()) => {
                    outage.failed(&e.to_string());
                    std::thread::sleep(RETRY); // on the pipeline's writer thread
                }
                Err(e) => return Err(PipelineError::Sink(e.to_string())),
            }
        }
        Ok(())
    }

    /// Publishes every buffered message and awaits the acknowledgements; those
    /// acknowledged leave the buffer. The first failure, if any.
    async fn publish_buffered(&mut self) -> Result<(), SinkError> {
        let url = &self.url;
        let mut acks = Vec::with_capacity(self.buffered.len());
        let mut failed = None;
        for (i, (subject, id, payload)) in self.buffered.iter().enumerate() {
            let mut headers = HeaderMap::new();
            if let Some(id) = id {
                headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            }
            match self
                .js
                .publish_with_headers(subject.clone(), headers, payload.clone())
                .await
            {
                Ok(ack) => acks.push((i, ack)),
                Err(e) => {
                    failed = Some(SinkError::new(url, "cannot publish to", subject, e));
                    break;
                }
            }
        }
        // Awaited together: each waits at most the context's timeout from now
        // (one by one, a lost connection would cost that timeout per message).
        let acked = futures_util::future::join_all(
            acks.into_iter()
                .map(|(i, ack)| async move { (i, ack.await) }),
        )
        .await;
        let mut done = vec![false; self.buffered.len()];
        for (i, ack) in acked {
            match ack {
                Ok(_) => done[i] = true,
                Err(e) => {
                    let subject = &self.buffered[i].0;
                    failed.get_or_insert(SinkError::new(
                        url,
                        "a publish was not acknowledged:",
                        subject,
                        e,
                    ));
                }
            }
        }
        let mut done = done.into_iter();
        self.buffered.retain(|_| !done.next().unwrap_or(false));
        failed.map_or(Ok(()), Err)
    }
}

/// A publish that failed: its kind, and the words for it.
struct SinkError {
    kind: jetstream::context::PublishErrorKind,
    text: String,
}

impl SinkError {
    fn new(url: &str, what: &str, subject: &str, e: jetstream::context::PublishError) -> SinkError {
        SinkError {
            kind: e.kind(),
            text: format!("NATS {url}: {what} {subject}: {e}"),
        }
    }

    fn kind(&self) -> jetstream::context::PublishErrorKind {
        self.kind
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether a publish that failed this way is tried again: not when it can
/// never succeed (too large, or a condition on the stream's last message).
fn retried(kind: jetstream::context::PublishErrorKind) -> bool {
    use jetstream::context::PublishErrorKind as K;
    !matches!(
        kind,
        K::MaxPayloadExceeded | K::WrongLastMessageId | K::WrongLastSequence
    )
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
        let mut payload = letter.to_string();
        if payload.len() > self.largest {
            // Too large to publish with its event: the letter without it (the
            // event stays in the source's stream, at the sequence in its id).
            let mut short = letter.clone();
            short["event"] = Value::Null;
            short["error"] = Value::String(format!(
                "{} (the event is left out of this letter: with it, the letter is {} bytes, \
                 more than the server takes)",
                letter["error"].as_str().unwrap_or_default(),
                payload.len()
            ));
            payload = short.to_string();
        }
        self.buffered.push((
            subject.clone(),
            id.map(|id| format!("{id}:dead")),
            bytes::Bytes::from(payload),
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

    fn largest(&self) -> Option<usize> {
        Some(self.largest)
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
    let client = connect(&spec.server, "publish").await?;
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
