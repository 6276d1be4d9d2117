//! A plugin's stdout and stderr, captured line by line into the host's log.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line logged as one event; longer lines are split.
const MAX_LINE: usize = 4096;

/// How many bytes of stdout+stderr one instance may still have logged in the
/// current call. The host refills it before each call; past it, output is dropped
/// and one warning says so. This bounds what a plugin can make the host log (and
/// allocate) by printing.
#[derive(Debug, Clone)]
pub(crate) struct OutputBudget(Arc<AtomicU64>);

impl OutputBudget {
    pub(crate) fn new(bytes: u64) -> Self {
        OutputBudget(Arc::new(AtomicU64::new(bytes)))
    }
    pub(crate) fn refill(&self, bytes: u64) {
        self.0.store(bytes, Ordering::Relaxed);
    }
    /// Takes `want` bytes if all of them fit: (taken, the budget just ran out).
    pub(crate) fn take_all(&self, want: u64) -> (bool, bool) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            if want > cur {
                // Empty it, so the warning is given once.
                let ran_out = cur > 0;
                self.0.store(0, Ordering::Relaxed);
                return (false, ran_out);
            }
            match self.0.compare_exchange_weak(
                cur,
                cur - want,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (true, false),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes up to `want` bytes; returns how many may be logged, and whether the
    /// budget just ran out.
    fn take(&self, want: u64) -> (u64, bool) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let grant = want.min(cur);
            match self.0.compare_exchange_weak(
                cur,
                cur - grant,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (grant, cur > 0 && grant < want),
                Err(actual) => cur = actual,
            }
        }
    }
}

/// A plugin's stdout or stderr stream that writes complete lines to `tracing`
/// (target `wasp::plugin::stdout` / `wasp::plugin::stderr`, field `plugin`).
pub(crate) struct LogStream {
    plugin: Arc<str>,
    stream: &'static str,
    budget: OutputBudget,
}

impl LogStream {
    pub(crate) fn new(plugin: Arc<str>, stream: &'static str, budget: OutputBudget) -> Self {
        LogStream {
            plugin,
            stream,
            budget,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            plugin: self.plugin.clone(),
            stream: self.stream,
            budget: self.budget.clone(),
            line: Mutex::new(Vec::new()),
        })
    }
}

struct LineWriter {
    plugin: Arc<str>,
    stream: &'static str,
    budget: OutputBudget,
    line: Mutex<Vec<u8>>,
}

impl LineWriter {
    fn emit(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        if self.stream == "stdout" {
            tracing::info!(target: "wasp::plugin::stdout", plugin = %self.plugin, "{text}");
        } else {
            tracing::warn!(target: "wasp::plugin::stderr", plugin = %self.plugin, "{text}");
        }
    }

    fn write_bytes(&self, buf: &[u8]) {
        let (allowed, ran_out) = self.budget.take(buf.len() as u64);
        let buf = &buf[..allowed as usize];
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            line.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || line.len() >= MAX_LINE {
                self.emit(&line);
                line.clear();
            }
        }
        if ran_out {
            if !line.is_empty() {
                self.emit(&line);
                line.clear();
            }
            tracing::warn!(
                target: "wasp::plugin",
                plugin = %self.plugin,
                "{} output of this call exceeds the capture budget; the rest is dropped",
                self.stream
            );
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        if !line.is_empty() {
            self.emit(&line);
            line.clear();
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_runs_out_once() {
        let b = OutputBudget::new(10);
        assert_eq!(b.take(4), (4, false));
        assert_eq!(b.take(10), (6, true));
        assert_eq!(b.take(10), (0, false));
        b.refill(3);
        assert_eq!(b.take(2), (2, false));
    }
}
