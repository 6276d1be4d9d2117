//! Where `wasp run` reads its events and writes its outputs when the manifest says
//! so: `[pipeline.source]` and `[pipeline.sink]` (see `docs/contracts.md`).
//!
//! Plain data, checked for form when the manifest is parsed (a URL with a scheme,
//! stream and subject names NATS accepts). The host never connects anywhere: the
//! NATS JetStream source and sink live in the `wasp` command.

use std::path::PathBuf;
use std::time::Duration;

/// `[pipeline.source] ack-wait` when not given.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// `[pipeline.source]`: where `wasp run` reads events from (unless `--input` is
/// given). One variant per engine; NATS JetStream is the one there is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A durable pull consumer on a JetStream stream.
    Nats(NatsSource),
}

/// `[pipeline.sink]`: where `wasp run` writes outputs and dead letters (unless
/// `--output` is given).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sink {
    /// Subjects captured by JetStream streams.
    Nats(NatsSink),
}

/// How to reach a NATS server: its URL and the connection options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsServer {
    /// `nats = "nats://host:port"` (or `tls://`).
    pub url: String,
    /// `creds = "path"`: a credentials file (JWT and NKey seed), relative to the
    /// manifest.
    pub creds: Option<PathBuf>,
    /// `tls = true`: require TLS (the system's root certificates).
    pub tls: bool,
}

/// A `[pipeline.source]` with `nats = …`.
///
/// ```
/// use wasp_host::manifest::{Manifest, Source};
/// let m = Manifest::parse(r#"
/// [plugins.a]
/// path = "a.wasm"
/// [pipeline]
/// stages = ["a"]
/// [pipeline.source]
/// nats = "nats://127.0.0.1:4222"
/// stream = "events"
/// "#, "wasp.toml")?;
/// let Some(Source::Nats(s)) = m.source() else { panic!() };
/// assert_eq!(s.consumer, "wasp");
/// assert_eq!(s.subject(), "events.>");
/// assert_eq!(s.ack_wait, std::time::Duration::from_secs(30));
/// # Ok::<(), wasp_host::manifest::ManifestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSource {
    /// The server, and how to connect.
    pub server: NatsServer,
    /// `stream`: the JetStream stream to read (created when missing).
    pub stream: String,
    /// `consumer`: the durable pull consumer every worker shares (default `wasp`;
    /// created when missing).
    pub consumer: String,
    /// `subject`: the filter subject, if given.
    pub filter: Option<String>,
    /// `ack-wait`: how long an event delivered to a worker stays its own before
    /// JetStream gives it to another (default [`DEFAULT_ACK_WAIT`]).
    pub ack_wait: Duration,
    /// `ordered = true`: outputs are published in stream order (one chunk in
    /// flight on the consumer at a time; for a single worker).
    pub ordered: bool,
}

impl NatsSource {
    /// The subject the stream is created over, and the consumer filters on:
    /// `subject`, or `STREAM.>`.
    pub fn subject(&self) -> String {
        self.filter
            .clone()
            .unwrap_or_else(|| format!("{}.>", self.stream))
    }
}

/// A `[pipeline.sink]` with `nats = …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSink {
    /// The server, and how to connect.
    pub server: NatsServer,
    /// `subject`: each output is published here.
    pub subject: String,
    /// `dead-letter`: dead letters are published here; when absent they go where
    /// `--dead-letter` says (stderr by default).
    pub dead_letter: Option<String>,
}

/// Why a name or subject is not one NATS accepts, if it is not.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some("use letters, digits, '-' and '_' (no '.', '*', '>', '/' or spaces)")
    } else {
        None
    }
}

/// Why `subject` is not a subject NATS accepts, if it is not; `wildcards`: whether
/// `*` and a last `>` are allowed (a filter) or not (a subject published to).
pub(crate) fn subject_problem(subject: &str, wildcards: bool) -> Option<&'static str> {
    if subject.is_empty() {
        return Some("it is empty");
    }
    if subject.chars().any(char::is_whitespace) {
        return Some("a subject has no spaces");
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() {
            return Some("a subject is tokens separated by single '.'s");
        }
        let wild = *t == "*" || *t == ">";
        if !wild && t.contains(['*', '>']) {
            return Some("'*' and '>' are whole tokens");
        }
        if wild && !wildcards {
            return Some("outputs are published to a subject without '*' or '>'");
        }
        if *t == ">" && i + 1 != tokens.len() {
            return Some("'>' is only the last token");
        }
    }
    None
}

/// Why `url` is not a NATS server URL, if it is not.
pub(crate) fn url_problem(url: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("give a URL with its scheme, e.g. \"nats://127.0.0.1:4222\"");
    };
    if !matches!(scheme, "nats" | "tls") {
        return Some("the scheme is nats:// or tls://");
    }
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        return Some("give host:port after the scheme, e.g. \"nats://127.0.0.1:4222\"");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_subjects_and_urls() {
        assert!(name_problem("events").is_none());
        assert!(name_problem("ev.ents").is_some());
        assert!(name_problem("").is_some());
        assert!(subject_problem("events.>", true).is_none());
        assert!(subject_problem("events.*.x", true).is_none());
        assert!(subject_problem("events.>", false).is_some());
        assert!(subject_problem("events.>.x", true).is_some());
        assert!(subject_problem("a..b", false).is_some());
        assert!(subject_problem("a.b*", true).is_some());
        assert!(subject_problem("results", false).is_none());
        assert!(url_problem("nats://127.0.0.1:4222").is_none());
        assert!(url_problem("tls://user:pw@nats.example:4222").is_none());
        assert!(url_problem("127.0.0.1:4222").is_some());
        assert!(url_problem("http://x").is_some());
        assert!(url_problem("nats://").is_some());
    }
}
