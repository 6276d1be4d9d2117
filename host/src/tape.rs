//! The tape of one instance: while recording, every host import's answer is
//! written to the instance's history; while replaying, every host import is
//! answered from a recording, and the first import that differs from it is
//! kept as the divergence. The host imports (`host_api`) and the WASI clocks and
//! random generators given to the instance's context (`capability`) are the
//! only writers and readers, so recording needs no change to the guest.
//!
//! Off (no tape), nothing here runs: a host import checks one `Option`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

use crate::recording::{
    Bytes, Divergence, Entry, EntryKind, Import, InstanceContext, RecordWindow, RecordedLimits,
    RecordedOutcome, Recording,
};
use crate::spec::limits::Limits;

/// Where the host imports of an instance go besides the live world.
#[derive(Clone)]
pub(crate) enum Tape {
    Record(Recorder),
    Replay(Player),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An instance's history while recording is on.
#[derive(Clone)]
pub(crate) struct Recorder(Arc<Mutex<History>>);

struct History {
    window: RecordWindow,
    context: InstanceContext,
    entries: Vec<Entry>,
    open: Option<Entry>,
    /// `call` and `call-batch` entries, and the bytes of all entries.
    calls: u32,
    bytes: u64,
}

impl Recorder {
    pub(crate) fn new(window: RecordWindow) -> Self {
        Recorder(Arc::new(Mutex::new(History {
            window,
            context: InstanceContext::default(),
            entries: Vec::new(),
            open: None,
            calls: 0,
            bytes: 0,
        })))
    }

    pub(crate) fn set_context(&self, context: InstanceContext) {
        lock(&self.0).context = context;
    }

    /// Opens an entry; the host imports until [`Recorder::end`] are its.
    pub(crate) fn begin(
        &self,
        kind: EntryKind,
        function: Option<&str>,
        inputs: Vec<Bytes>,
        limits: &Limits,
    ) {
        lock(&self.0).open = Some(Entry {
            kind,
            function: function.map(str::to_string),
            inputs,
            limits: RecordedLimits::of(limits),
            outcome: RecordedOutcome::Ok,
            fuel: 0,
            imports: Vec::new(),
        });
    }

    /// Appends a host import to the open entry; consecutive draws from one
    /// generator become one import.
    pub(crate) fn push(&self, import: Import) {
        let mut h = lock(&self.0);
        let Some(open) = h.open.as_mut() else {
            return; // shutdown, which is not recorded
        };
        match (open.imports.last_mut(), import) {
            (Some(Import::Random { bytes: last }), Import::Random { bytes })
            | (Some(Import::InsecureRandom { bytes: last }), Import::InsecureRandom { bytes }) => {
                last.0.extend_from_slice(&bytes.0);
            }
            (_, import) => open.imports.push(import),
        }
    }

    /// Closes the open entry with its outcome and fuel.
    pub(crate) fn end(&self, outcome: RecordedOutcome, fuel: u64) {
        let mut h = lock(&self.0);
        if let Some(mut e) = h.open.take() {
            e.outcome = outcome;
            e.fuel = fuel;
            h.bytes += e.size();
            if matches!(e.kind, EntryKind::Call | EntryKind::CallBatch) {
                h.calls += 1;
            }
            h.entries.push(e);
        }
    }

    /// Whether the history reached its window: the instance is not reused.
    pub(crate) fn full(&self) -> bool {
        let h = lock(&self.0);
        h.calls >= h.window.calls || h.bytes >= h.window.bytes
    }

    /// The instance's context and its history so far.
    pub(crate) fn snapshot(&self) -> (InstanceContext, Vec<Entry>) {
        let h = lock(&self.0);
        (h.context.clone(), h.entries.clone())
    }

    /// Whether the last entry failed (a fault, or a plugin-error).
    pub(crate) fn last_failed(&self) -> bool {
        lock(&self.0)
            .entries
            .last()
            .is_some_and(|e| e.outcome.is_failure())
    }
}

/// A recording being replayed: the cursor over its host imports.
#[derive(Clone)]
pub(crate) struct Player(Arc<Mutex<Cursor>>);

struct Cursor {
    recording: Arc<Recording>,
    entry: usize,
    next: usize,
    /// Bytes of the draw at `next` already given out.
    drawn: usize,
    /// A different build: an entry may make fewer imports than recorded.
    lenient: bool,
    answered: usize,
    divergence: Option<Divergence>,
}

impl Cursor {
    fn imports(&self) -> &[Import] {
        self.recording
            .entries
            .get(self.entry)
            .map_or(&[], |e| e.imports.as_slice())
    }

    fn diverge(&mut self, replayed: Option<String>, what: String) {
        if self.divergence.is_some() {
            return;
        }
        let recorded = self.imports().get(self.next).map(Import::describe);
        let during = self
            .recording
            .entries
            .get(self.entry)
            .map_or_else(String::new, Entry::describe);
        self.divergence = Some(Divergence {
            entry: self.entry,
            during,
            import: Some(self.next),
            recorded,
            replayed,
            what,
        });
    }
}

/// Whether a recorded import is the same call as the one the guest made now
/// (the same import with the same arguments; answers are not compared).
fn same_call(recorded: &Import, now: &Import) -> bool {
    use Import as I;
    match (recorded, now) {
        (I::GetConfig { key: a, .. }, I::GetConfig { key: b, .. })
        | (I::KvGet { key: a, .. }, I::KvGet { key: b, .. })
        | (I::KvDelete { key: a, .. }, I::KvDelete { key: b, .. })
        | (I::KvListKeys { prefix: a, .. }, I::KvListKeys { prefix: b, .. }) => a == b,
        (
            I::CallHost {
                name: a, input: x, ..
            },
            I::CallHost {
                name: b, input: y, ..
            },
        ) => a == b && x == y,
        (
            I::KvSet {
                key: a, value: x, ..
            },
            I::KvSet {
                key: b, value: y, ..
            },
        ) => a == b && x == y,
        (I::WallClock { .. }, I::WallClock { .. })
        | (I::WallResolution { .. }, I::WallResolution { .. })
        | (I::MonotonicClock { .. }, I::MonotonicClock { .. })
        | (I::MonotonicResolution { .. }, I::MonotonicResolution { .. }) => true,
        _ => false,
    }
}

impl Player {
    pub(crate) fn new(recording: Arc<Recording>, lenient: bool) -> Self {
        Player(Arc::new(Mutex::new(Cursor {
            recording,
            entry: 0,
            next: 0,
            drawn: 0,
            lenient,
            answered: 0,
            divergence: None,
        })))
    }

    pub(crate) fn recording(&self) -> Arc<Recording> {
        lock(&self.0).recording.clone()
    }

    /// Moves to entry `i`.
    pub(crate) fn enter(&self, i: usize) {
        let mut c = lock(&self.0);
        c.entry = i;
        c.next = 0;
        c.drawn = 0;
    }

    /// Ends the current entry: every recorded import must have been made (a
    /// different build may make fewer).
    pub(crate) fn leave(&self) {
        let mut c = lock(&self.0);
        if c.divergence.is_some() || c.lenient {
            return;
        }
        if c.next < c.imports().len() {
            let left = c.imports().len() - c.next;
            c.diverge(
                None,
                format!("the entry ended with {left} recorded host imports not made"),
            );
        }
    }

    /// Marks a divergence that is not at a host import (an outcome, the fuel).
    pub(crate) fn diverge_outcome(&self, replayed: String, what: String) {
        let mut c = lock(&self.0);
        if c.divergence.is_some() {
            return;
        }
        let during = c
            .recording
            .entries
            .get(c.entry)
            .map_or_else(String::new, Entry::describe);
        let recorded = c.recording.entries.get(c.entry).map(|e| e.outcome.label());
        c.divergence = Some(Divergence {
            entry: c.entry,
            during,
            import: None,
            recorded,
            replayed: Some(replayed),
            what,
        });
    }

    pub(crate) fn divergence(&self) -> Option<Divergence> {
        lock(&self.0).divergence.clone()
    }

    /// Host imports answered from the recording so far.
    pub(crate) fn answered(&self) -> usize {
        lock(&self.0).answered
    }

    /// The recorded answer to `now` (an import whose answer fields are ignored),
    /// or `None` after a divergence.
    pub(crate) fn answer(&self, now: &Import) -> Option<Import> {
        let mut c = lock(&self.0);
        if c.divergence.is_some() {
            return None;
        }
        let recorded = c.imports().get(c.next).cloned();
        match recorded {
            Some(r) if c.drawn == 0 && same_call(&r, now) => {
                c.next += 1;
                c.answered += 1;
                Some(r)
            }
            Some(_) if c.drawn > 0 => {
                c.diverge(
                    Some(now.describe()),
                    "the plugin drew fewer random bytes than recorded, then made another host import".into(),
                );
                None
            }
            Some(_) => {
                c.diverge(
                    Some(now.describe()),
                    "the plugin made a different host import".into(),
                );
                None
            }
            None => {
                c.diverge(
                    Some(now.describe()),
                    "the plugin made a host import the recording does not have".into(),
                );
                None
            }
        }
    }

    /// `n` recorded bytes of a generator (`secure`: `wasi:random/random`).
    fn draw(&self, secure: bool, dst: &mut [u8]) -> bool {
        let mut c = lock(&self.0);
        if c.divergence.is_some() {
            return false;
        }
        let now = || {
            let bytes = Bytes(vec![0; dst.len()]);
            if secure {
                Import::Random { bytes }
            } else {
                Import::InsecureRandom { bytes }
            }
        };
        let (next, drawn) = (c.next, c.drawn);
        let bytes = match c.imports().get(next) {
            Some(Import::Random { bytes }) if secure => Some(bytes.clone()),
            Some(Import::InsecureRandom { bytes }) if !secure => Some(bytes.clone()),
            _ => None,
        };
        let Some(bytes) = bytes else {
            let what = if c.imports().get(next).is_some() {
                "the plugin drew random bytes where the recording has another host import"
            } else {
                "the plugin drew random bytes the recording does not have"
            };
            c.diverge(Some(now().describe()), what.into());
            return false;
        };
        let Some(src) = bytes.0.get(drawn..drawn + dst.len()) else {
            c.diverge(
                Some(now().describe()),
                "the plugin drew more random bytes than recorded".into(),
            );
            return false;
        };
        dst.copy_from_slice(src);
        c.drawn += dst.len();
        if c.drawn == bytes.0.len() {
            c.next += 1;
            c.drawn = 0;
            c.answered += 1;
        }
        true
    }
}

impl Tape {
    /// The WASI clocks and generators of an instance on this tape, and its seed.
    pub(crate) fn wasi(&self) -> (TapeWall, TapeMonotonic, TapeRng, TapeRng) {
        (
            TapeWall(self.clone()),
            TapeMonotonic {
                tape: self.clone(),
                live: wasmtime_wasi::clocks::MonotonicClock::new(),
            },
            TapeRng {
                tape: self.clone(),
                secure: true,
                live: wasmtime_wasi::thread_rng(),
            },
            TapeRng {
                tape: self.clone(),
                secure: false,
                live: wasmtime_wasi::thread_rng(),
            },
        )
    }

    /// Records `live`'s answer, or answers from the recording (`from` reads it
    /// out of the recorded import; after a divergence, `live` answers).
    pub(crate) fn sync<T>(
        &self,
        live: impl FnOnce() -> T,
        to_import: impl FnOnce(&T) -> Import,
        from: impl FnOnce(Import) -> Option<T>,
    ) -> T {
        match self {
            Tape::Record(r) => {
                let v = live();
                r.push(to_import(&v));
                v
            }
            Tape::Replay(p) => {
                let v = live();
                match p.answer(&to_import(&v)).and_then(from) {
                    Some(v) => v,
                    None => v,
                }
            }
        }
    }
}

/// `wasi:clocks/wall-clock` on a tape.
pub(crate) struct TapeWall(Tape);

impl HostWallClock for TapeWall {
    fn resolution(&self) -> Duration {
        self.0.sync(
            || wasmtime_wasi::clocks::WallClock::new().resolution(),
            |d| Import::WallResolution {
                nanos: u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            },
            |i| match i {
                Import::WallResolution { nanos } => Some(Duration::from_nanos(nanos)),
                _ => None,
            },
        )
    }

    fn now(&self) -> Duration {
        self.0.sync(
            || wasmtime_wasi::clocks::WallClock::new().now(),
            |d| Import::WallClock {
                seconds: d.as_secs(),
                nanos: d.subsec_nanos(),
            },
            |i| match i {
                Import::WallClock { seconds, nanos } => Some(Duration::new(seconds, nanos)),
                _ => None,
            },
        )
    }
}

/// `wasi:clocks/monotonic-clock` on a tape.
pub(crate) struct TapeMonotonic {
    tape: Tape,
    live: wasmtime_wasi::clocks::MonotonicClock,
}

impl HostMonotonicClock for TapeMonotonic {
    fn resolution(&self) -> u64 {
        self.tape.sync(
            || self.live.resolution(),
            |&nanos| Import::MonotonicResolution { nanos },
            |i| match i {
                Import::MonotonicResolution { nanos } => Some(nanos),
                _ => None,
            },
        )
    }

    fn now(&self) -> u64 {
        self.tape.sync(
            || self.live.now(),
            |&nanos| Import::MonotonicClock { nanos },
            |i| match i {
                Import::MonotonicClock { nanos } => Some(nanos),
                _ => None,
            },
        )
    }
}

/// A WASI random generator on a tape.
pub(crate) struct TapeRng {
    tape: Tape,
    secure: bool,
    live: Box<dyn wasmtime_wasi::Rng + Send>,
}

impl TapeRng {
    fn fill(&mut self, dst: &mut [u8]) {
        match &self.tape {
            Tape::Record(r) => {
                self.live.fill_bytes(dst);
                let bytes = Bytes(dst.to_vec());
                r.push(if self.secure {
                    Import::Random { bytes }
                } else {
                    Import::InsecureRandom { bytes }
                });
            }
            Tape::Replay(p) => {
                if !p.draw(self.secure, dst) {
                    // Diverged: the rest of the run is not compared; zeros.
                    dst.fill(0);
                }
            }
        }
    }
}

impl rand::TryRng for TapeRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}
