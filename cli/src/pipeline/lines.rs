//! JSON lines: the default source (a file or stdin) and sink (stdout, or a file;
//! dead letters to stderr or `--dead-letter FILE`).

use std::io::{BufRead, BufWriter, Read, Write};

use serde_json::Value;

use super::{CHUNK_BYTES, Event, Feed, MAX_LINE, PipelineError, Sink, Source};

/// Events read as JSON lines, one per line; blank lines are not events.
pub(crate) struct Lines(pub(crate) Box<dyn Read + Send>);

impl Source for Lines {
    fn feed(self: Box<Self>, mut feed: Feed) -> Result<(), PipelineError> {
        let mut reader = std::io::BufReader::with_capacity(256 << 10, self.0);
        let mut line = Vec::new();
        let mut eof = false;
        while !eof {
            let Some(room) = feed.room() else {
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
                    events.push(Event::too_long());
                } else if let Some(event) = Event::of(trim(&line)) {
                    bytes += line.len();
                    events.push(event);
                }
                if events.len() >= feed.chunk_events
                    || bytes >= CHUNK_BYTES
                    || reader.buffer().is_empty()
                {
                    break;
                }
            }
            if !feed.send(room, events, None) {
                break; // the pipeline stopped
            }
        }
        Ok(())
    }
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

/// Dead letters as JSON lines (stderr, or `--dead-letter FILE`).
pub(crate) struct DeadLines(BufWriter<Box<dyn Write + Send>>);

impl DeadLines {
    pub(crate) fn new(out: Box<dyn Write + Send>) -> Self {
        DeadLines(BufWriter::with_capacity(16 << 10, out))
    }

    pub(crate) fn write(&mut self, letter: &Value) -> Result<(), PipelineError> {
        serde_json::to_writer(&mut self.0, letter)
            .map_err(std::io::Error::from)
            .and_then(|()| self.0.write_all(b"\n"))
            .map_err(PipelineError::DeadLetter)
    }

    pub(crate) fn flush(&mut self) -> Result<(), PipelineError> {
        self.0.flush().map_err(PipelineError::DeadLetter)
    }
}

/// Outputs as JSON lines, one per event, through one buffered writer.
pub(crate) struct LinesSink {
    out: BufWriter<Box<dyn Write + Send>>,
    dead: DeadLines,
}

impl LinesSink {
    pub(crate) fn new(out: Box<dyn Write + Send>, dead: Box<dyn Write + Send>) -> Self {
        LinesSink {
            out: BufWriter::with_capacity(64 << 10, out),
            dead: DeadLines::new(dead),
        }
    }
}

impl Sink for LinesSink {
    fn output(&mut self, bytes: &[u8], _id: Option<&str>) -> Result<(), PipelineError> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(PipelineError::Write)
    }

    fn dead_letter(&mut self, letter: &Value, _id: Option<&str>) -> Result<(), PipelineError> {
        self.dead.write(letter)
    }

    fn flush(&mut self) -> Result<(), PipelineError> {
        self.out.flush().map_err(PipelineError::Write)?;
        self.dead.flush()
    }
}
