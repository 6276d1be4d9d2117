//! Counters and latency histograms per plugin, and the guards that keep them
//! true when a call future is dropped at any await point: every count that goes
//! up is held by a value whose `Drop` brings it down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Fault;

/// Sub-buckets per power of two: latency quantiles are exact to within 1/8 (12.5 %).
const SUB: usize = 8;
/// Buckets for values up to 2^64 (powers 3..=63, plus the first eight values).
const BUCKETS: usize = 62 * SUB;

/// A log-linear histogram of durations in nanoseconds (kept under the
/// [`Tally`]'s lock).
pub(crate) struct Histogram {
    counts: Box<[u64]>,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
        }
    }

    fn index(ns: u64) -> usize {
        if ns < SUB as u64 {
            return ns as usize;
        }
        let pow = 63 - ns.leading_zeros() as usize; // ≥ 3
        let sub = ((ns >> (pow - 3)) & (SUB as u64 - 1)) as usize;
        ((pow - 2) * SUB + sub).min(BUCKETS - 1)
    }

    /// The smallest value that falls into bucket `i` (a lower bound).
    fn value(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let pow = i / SUB + 2;
        let sub = (i % SUB) as u64;
        (1u64 << pow) | (sub << (pow - 3))
    }

    /// Records `n` values of `d`.
    pub(crate) fn record_n(&mut self, d: Duration, n: u64) {
        if let Some(c) = self.counts.get_mut(Self::index(nanos(d))) {
            *c += n;
        }
    }

    /// Counts per bucket of `bounds` (upper bounds in seconds, ascending), then
    /// `+Inf`, not cumulative: a value counts in the first bound at or above its
    /// own bucket's lower bound (so to within 1/8).
    pub(crate) fn buckets(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = bounds.iter().map(|b| (*b, 0)).collect();
        out.push((f64::INFINITY, 0));
        for (i, &n) in self.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let secs = Self::value(i) as f64 / 1e9;
            let at = out
                .iter()
                .position(|(b, _)| secs <= *b)
                .unwrap_or(out.len() - 1);
            out[at].1 += n;
        }
        out
    }

    /// The `q` quantile (0..=1), or zero if nothing was recorded.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let counts = &self.counts;
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(Self::value(i));
            }
        }
        Duration::ZERO
    }
}

/// The live counters of one plugin.
pub(crate) struct Metrics {
    pub(crate) errors: AtomicU64,
    pub(crate) consecutive_faults: AtomicU32,
    in_flight: AtomicU64,
    instances: AtomicU64,
    cancelled: AtomicU64,
    faults: Mutex<FaultLog>,
    /// What every call adds to, under one lock: a call takes it once, where a
    /// counter each would cost an atomic add each (~10 ns apiece here).
    tally: Mutex<Tally>,
}

/// The counters every call adds to.
struct Tally {
    calls: u64,
    latency: Histogram,
    latency_sum_ns: u64,
    fuel: u64,
    cpu_ns: u64,
    bytes_in: u64,
    bytes_out: u64,
}

#[derive(Default)]
struct FaultLog {
    by_kind: BTreeMap<&'static str, u64>,
    last: Option<Fault>,
}

/// Nanoseconds of `d`, saturated.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            errors: AtomicU64::new(0),
            consecutive_faults: AtomicU32::new(0),
            in_flight: AtomicU64::new(0),
            instances: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            faults: Mutex::new(FaultLog::default()),
            tally: Mutex::new(Tally {
                calls: 0,
                latency: Histogram::new(),
                latency_sum_ns: 0,
                fuel: 0,
                cpu_ns: 0,
                bytes_in: 0,
                bytes_out: 0,
            }),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One entry into the guest that is not a call (`init`, `info`,
    /// `shutdown`): the fuel it burned and the CPU time it ran. (A call's are
    /// counted with the call, by its [`CallGuard`].)
    pub(crate) fn record_work(&self, fuel: u64, cpu: Duration) {
        let mut t = self.tally();
        t.fuel += fuel;
        t.cpu_ns += nanos(cpu);
    }

    /// The latency histogram at `bounds` (seconds), its sum (seconds) and count:
    /// what a Prometheus histogram holds.
    pub(crate) fn latency_histogram(&self, bounds: &[f64]) -> (Vec<(f64, u64)>, f64, u64) {
        let t = self.tally();
        let buckets = t.latency.buckets(bounds);
        let count = buckets.iter().map(|b| b.1).sum();
        let sum = t.latency_sum_ns as f64 / 1e9;
        (buckets, sum, count)
    }

    /// Counts a fault; returns the consecutive faults now.
    pub(crate) fn record_fault(&self, fault: &Fault) -> u32 {
        let mut log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *log.by_kind.entry(fault.kind()).or_default() += 1;
        log.last = Some(fault.clone());
        self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn record_success(&self) {
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    /// A batch that returned: `errors` of its results were plugin-errors.
    pub(crate) fn record_batch(&self, errors: u64) {
        self.errors.fetch_add(errors, Ordering::Relaxed);
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    pub(crate) fn record_plugin_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    pub(crate) fn consecutive_faults(&self) -> u32 {
        self.consecutive_faults.load(Ordering::Relaxed)
    }

    pub(crate) fn last_fault(&self) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last
            .clone()
    }

    pub(crate) fn snapshot(&self, quarantined: bool) -> PluginStats {
        let log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let t = self.tally();
        PluginStats {
            calls: t.calls,
            errors: self.errors.load(Ordering::Relaxed),
            faults: log
                .by_kind
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            consecutive_faults: self.consecutive_faults.load(Ordering::Relaxed),
            last_fault: log.last.as_ref().map(ToString::to_string),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            quarantined,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            instances: self.instances.load(Ordering::Relaxed),
            p50: t.latency.quantile(0.50),
            p99: t.latency.quantile(0.99),
            fuel_consumed: t.fuel,
            cpu_time: Duration::from_nanos(t.cpu_ns),
            bytes_in: t.bytes_in,
            bytes_out: t.bytes_out,
        }
    }
}

/// What one call did, filled in as it goes and counted when it ends: when it
/// began and, once the guest's work is done, when that ended (the instance
/// reads the end off the clock as its last poll ends, so the guard needs no
/// read of its own: a read costs ~35 ns here, a tenth of wasp's own work per
/// call), the fuel it burned and the CPU time it ran, the bytes in and out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallTally {
    /// When the call began (before it waited for an instance).
    pub(crate) start: Instant,
    /// When the guest's work ended; `None` until then.
    pub(crate) end: Option<Instant>,
    /// Fuel the guest burned.
    pub(crate) fuel: u64,
    /// Time the guest ran.
    pub(crate) cpu: Duration,
    /// Bytes of input given, and of output returned.
    pub(crate) bytes: (u64, u64),
}

/// One call in flight: raises `in_flight` when made; when dropped — finished or
/// cancelled at any await point — lowers it, counts the call with what its
/// [`CallTally`] holds, and counts it as cancelled unless
/// [`CallGuard::finish`] ran.
pub(crate) struct CallGuard<'a> {
    metrics: &'a Metrics,
    tally: CallTally,
    /// Calls this guard stands for (a batch of `n` inputs counts `n`).
    calls: u64,
    finished: bool,
}

impl<'a> CallGuard<'a> {
    pub(crate) fn new(metrics: &'a Metrics) -> Self {
        Self::batch(metrics, 1)
    }

    /// One batch of `n` calls, in flight as one.
    pub(crate) fn batch(metrics: &'a Metrics, n: usize) -> Self {
        metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        CallGuard {
            metrics,
            tally: CallTally {
                start: Instant::now(),
                end: None,
                fuel: 0,
                cpu: Duration::ZERO,
                bytes: (0, 0),
            },
            calls: (n as u64).max(1),
            finished: false,
        }
    }

    /// What the call did, for the pool and the instance to fill in.
    pub(crate) fn tally(&mut self) -> &mut CallTally {
        &mut self.tally
    }

    /// The call ended with an outcome (recorded by the caller).
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let m = self.metrics;
        let c = &self.tally;
        let end = c.end.unwrap_or_else(Instant::now);
        let elapsed = end.saturating_duration_since(c.start);
        // A batch's latency is shared by its calls.
        let each = elapsed / u32::try_from(self.calls).unwrap_or(u32::MAX);
        {
            let mut t = m.tally();
            t.calls += self.calls;
            t.latency.record_n(each, self.calls);
            t.latency_sum_ns += nanos(elapsed);
            t.fuel += c.fuel;
            t.cpu_ns += nanos(c.cpu);
            t.bytes_in += c.bytes.0;
            t.bytes_out += c.bytes.1;
        }
        m.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            m.cancelled.fetch_add(self.calls, Ordering::Relaxed);
        }
    }
}

/// One live instance: counted while this value exists (it lives in the instance).
pub(crate) struct LiveInstance(Arc<Metrics>);

impl LiveInstance {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        metrics.instances.fetch_add(1, Ordering::Relaxed);
        LiveInstance(metrics)
    }
}

impl LiveInstance {
    /// The counters of the plugin this instance belongs to.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0
    }
}

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.instances.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot of one plugin's counters.
///
/// ```no_run
/// # async fn f(plugin: wasp_host::Plugin) {
/// let stats = plugin.stats();
/// println!("{} calls, {} faults, p99 {:?}", stats.calls, stats.total_faults(), stats.p99);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginStats {
    /// Calls made (each counts once, whatever its outcome).
    pub calls: u64,
    /// Calls that returned a `plugin-error`.
    pub errors: u64,
    /// Faults by kind (`timeout`, `fuel-exhausted`, …).
    pub faults: BTreeMap<String, u64>,
    /// Faults since the last call that did not fault.
    pub consecutive_faults: u32,
    /// The last fault, as text.
    pub last_fault: Option<String>,
    /// Whether calls are refused until the plugin is reloaded.
    pub quarantined: bool,
    /// Calls running now.
    pub in_flight: u64,
    /// Calls whose caller stopped waiting (a dropped future) before they ended.
    pub cancelled: u64,
    /// Live instances (idle and busy).
    pub instances: u64,
    /// Median call latency (to within 12.5 %).
    pub p50: Duration,
    /// 99th percentile call latency (to within 12.5 %).
    pub p99: Duration,
    /// Fuel the guest burned, over every call and `init` (roughly, wasm
    /// instructions run).
    pub fuel_consumed: u64,
    /// Time the guest (and the host functions it called) ran on a thread, summed
    /// over the polls of every call and `init`: CPU time, except while the OS
    /// preempted the thread mid-poll. Waiting (async sleeps, I/O, a free
    /// instance) is not counted.
    pub cpu_time: Duration,
    /// Bytes of call inputs given to the plugin.
    pub bytes_in: u64,
    /// Bytes of call outputs the plugin returned.
    pub bytes_out: u64,
}

impl PluginStats {
    /// All faults, of every kind.
    ///
    /// ```
    /// assert_eq!(wasp_host::PluginStats::default().total_faults(), 0);
    /// ```
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_an_eighth() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record_n(Duration::from_micros(us), 1);
        }
        let p50 = h.quantile(0.5).as_micros() as f64;
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((p50 - 500.0).abs() / 500.0 <= 0.125, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 <= 0.125, "{p99}");
        assert_eq!(Histogram::new().quantile(0.5), Duration::ZERO);
    }

    #[test]
    fn guards_give_back_what_they_took() {
        let m = Arc::new(Metrics::new());
        {
            let _a = CallGuard::new(&m);
            let b = CallGuard::new(&m);
            let _i = LiveInstance::new(m.clone());
            assert_eq!(m.snapshot(false).in_flight, 2);
            assert_eq!(m.snapshot(false).instances, 1);
            b.finish();
        }
        let s = m.snapshot(false);
        assert_eq!(
            (s.in_flight, s.instances, s.calls, s.cancelled),
            (0, 0, 2, 1)
        );
    }

    #[test]
    fn bucket_bounds_are_monotonic() {
        let mut last = 0;
        for i in 1..BUCKETS {
            let v = Histogram::value(i);
            assert!(v > last, "{i}");
            assert_eq!(Histogram::index(v), i);
            last = v;
        }
    }
}
