//! Counters and latency histograms per plugin.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: latency quantiles are exact to within 1/8 (12.5 %).
const SUB: usize = 8;
/// Buckets for values up to 2^64 (powers 3..=63, plus the first eight values).
const BUCKETS: usize = 62 * SUB;

/// A lock-free log-linear histogram of durations in nanoseconds.
pub(crate) struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
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

    pub(crate) fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The `q` quantile (0..=1), or zero if nothing was recorded.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
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
    pub(crate) calls: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) consecutive_faults: AtomicU32,
    pub(crate) in_flight: AtomicU64,
    pub(crate) instances: AtomicU64,
    faults: Mutex<FaultLog>,
    latency: Histogram,
}

#[derive(Default)]
struct FaultLog {
    by_kind: BTreeMap<&'static str, u64>,
    last: Option<String>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            consecutive_faults: AtomicU32::new(0),
            in_flight: AtomicU64::new(0),
            instances: AtomicU64::new(0),
            faults: Mutex::new(FaultLog::default()),
            latency: Histogram::new(),
        }
    }

    pub(crate) fn record_call(&self, elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.latency.record(elapsed);
    }

    pub(crate) fn record_fault(&self, kind: &'static str, text: String) -> u32 {
        let mut log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *log.by_kind.entry(kind).or_default() += 1;
        log.last = Some(text);
        self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn last_fault(&self) -> Option<String> {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last
            .clone()
    }

    pub(crate) fn snapshot(&self, quarantined: bool) -> PluginStats {
        let log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        PluginStats {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            faults: log
                .by_kind
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            consecutive_faults: self.consecutive_faults.load(Ordering::Relaxed),
            last_fault: log.last.clone(),
            quarantined,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            instances: self.instances.load(Ordering::Relaxed),
            p50: self.latency.quantile(0.50),
            p99: self.latency.quantile(0.99),
        }
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
    /// Live instances (idle and busy).
    pub instances: u64,
    /// Median call latency (to within 12.5 %).
    pub p50: Duration,
    /// 99th percentile call latency (to within 12.5 %).
    pub p99: Duration,
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
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).as_micros() as f64;
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((p50 - 500.0).abs() / 500.0 <= 0.125, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 <= 0.125, "{p99}");
        assert_eq!(Histogram::new().quantile(0.5), Duration::ZERO);
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
