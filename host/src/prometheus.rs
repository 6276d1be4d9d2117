//! Metrics for Prometheus: every plugin's counters in the Prometheus text format
//! (`prometheus-client`'s encoder), read from the plugins at each scrape, and,
//! with the `metrics-server` feature, a small HTTP server for `GET /metrics`.
//!
//! Per plugin, labelled `plugin` and `version` (the first 12 hex digits of the
//! file's sha256): `wasp_calls_total`, `wasp_call_errors_total`,
//! `wasp_faults_total{kind}`, `wasp_call_duration_seconds` (histogram),
//! `wasp_fuel_consumed_total`, `wasp_cpu_seconds_total`, `wasp_bytes_in_total`,
//! `wasp_bytes_out_total`, `wasp_in_flight`, `wasp_instances`,
//! `wasp_quarantined`, `wasp_kv_bytes`, and `wasp_reloads_total` (labelled
//! `plugin` only: it spans versions). For the whole set: `wasp_rollouts_total`
//! (labelled `outcome`: `promoted`, `rejected`, `abandoned`).
//!
//! ```
//! # async fn f() -> wasp_host::Result<()> {
//! let runtime = wasp_host::Runtime::builder().build()?;
//! let plugins = runtime.plugins();
//! let mut exporter = wasp_host::prometheus::Exporter::new(&plugins);
//! // The application's own metrics go in the same registry.
//! let requests = prometheus_client::metrics::counter::Counter::<u64>::default();
//! exporter.registry_mut().register("app_requests", "Requests served", requests.clone());
//! requests.inc();
//! let text = exporter.render();
//! assert!(text.contains("app_requests_total 1"));
//! # Ok(()) }
//! ```

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::registry::Plugins;
use crate::rollout::RolloutOutcome;

pub use prometheus_client;

/// The `Content-Type` of what [`Exporter::render`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of `wasp_call_duration_seconds`'s buckets: 10 µs to 10 s.
const DURATION_BUCKETS: [f64; 16] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 1.0,
    10.0,
];

/// A Prometheus registry holding the plugins of a [`Plugins`] set (as loaded
/// at each scrape: reloads and unloads show at once), to which an application
/// adds its own metrics.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
}

impl Exporter {
    /// An exporter of `plugins`' metrics.
    pub fn new(plugins: &Plugins) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(PluginCollector {
            plugins: plugins.clone(),
        }));
        Exporter { registry }
    }

    /// The registry, to register more metrics in.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Everything in the Prometheus text format ([`CONTENT_TYPE`]). Reads each
    /// kv-granted plugin's usage from the store, so it may block briefly: from
    /// async code, call it on a blocking thread.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Serves [`Exporter::render`] at `http://ADDR/metrics` on a thread of its
    /// own until the returned server is dropped.
    ///
    /// # Errors
    /// When `addr` cannot be bound (in use, not a local address).
    #[cfg(feature = "metrics-server")]
    pub fn serve(self, addr: std::net::SocketAddr) -> std::io::Result<server::MetricsServer> {
        server::MetricsServer::start(std::sync::Arc::new(self), addr)
    }
}

#[derive(Debug)]
struct PluginCollector {
    plugins: Plugins,
}

/// A metric family: name, help, and how to read its value from a row.
type Family<T> = (&'static str, &'static str, fn(&Row) -> T);

/// One plugin's values at a scrape.
struct Row {
    labels: [(&'static str, String); 2],
    stats: crate::PluginStats,
    histogram: (Vec<(f64, u64)>, f64, u64),
    kv: Option<u64>,
    reloads: u64,
}

impl Collector for PluginCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows: Vec<(String, Row)> = self
            .plugins
            .names()
            .into_iter()
            .filter_map(|name| {
                let p = self.plugins.get(&name).ok()?;
                let mut version = p.sha256();
                version.truncate(12);
                let row = Row {
                    labels: [("plugin", name.clone()), ("version", version)],
                    stats: p.stats(),
                    histogram: p.metrics().latency_histogram(&DURATION_BUCKETS),
                    kv: p.kv_usage_blocking(),
                    reloads: self.plugins.reloads(&name),
                };
                Some((name, row))
            })
            .collect();
        let counters: [Family<u64>; 5] = [
            ("wasp_calls", "Calls made, whatever their outcome", |r| {
                r.stats.calls
            }),
            (
                "wasp_call_errors",
                "Calls that returned a plugin-error",
                |r| r.stats.errors,
            ),
            (
                "wasp_fuel_consumed",
                "Fuel the guest burned (about one unit per wasm instruction)",
                |r| r.stats.fuel_consumed,
            ),
            (
                "wasp_bytes_in",
                "Bytes of call inputs given to the plugin",
                |r| r.stats.bytes_in,
            ),
            (
                "wasp_bytes_out",
                "Bytes of call outputs the plugin returned",
                |r| r.stats.bytes_out,
            ),
        ];
        for (name, help, value) in counters {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (_, r) in &rows {
                m.encode_family(&r.labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&value(r), None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "wasp_cpu",
                "Time the guest ran on a thread (CPU time, but for preemption mid-poll)",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            for (_, r) in &rows {
                m.encode_family(&r.labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&r.stats.cpu_time.as_secs_f64(), None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "wasp_faults",
                "Faults (the plugin misbehaved and was stopped), by kind",
                None,
                MetricType::Counter,
            )?;
            for (_, r) in &rows {
                for (kind, n) in &r.stats.faults {
                    let labels = [
                        r.labels[0].clone(),
                        r.labels[1].clone(),
                        ("kind", kind.clone()),
                    ];
                    m.encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(n, None)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "wasp_call_duration",
                "Call latency, from the call to its result",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (_, r) in &rows {
                let (buckets, sum, count) = &r.histogram;
                m.encode_family(&r.labels)?
                    .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
            }
        }
        let gauges: [Family<Option<i64>>; 4] = [
            ("wasp_in_flight", "Calls running now", |r| {
                Some(r.stats.in_flight as i64)
            }),
            ("wasp_instances", "Live instances, idle and busy", |r| {
                Some(r.stats.instances as i64)
            }),
            (
                "wasp_quarantined",
                "1 while calls are refused until a reload",
                |r| Some(i64::from(r.stats.quarantined)),
            ),
            (
                "wasp_kv_bytes",
                "Bytes the plugin holds in its kv namespace",
                |r| r.kv.map(|b| b as i64),
            ),
        ];
        for (name, help, value) in gauges {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (_, r) in &rows {
                if let Some(v) = value(r) {
                    m.encode_family(&r.labels)?.encode_gauge(&v)?;
                }
            }
        }
        let mut m = enc.encode_descriptor(
            "wasp_reloads",
            "Times a new version of the plugin replaced the one serving",
            None,
            MetricType::Counter,
        )?;
        for (name, r) in &rows {
            m.encode_family(&[("plugin", name.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(&r.reloads, None)?;
        }
        let mut m = enc.encode_descriptor(
            "wasp_rollouts",
            "Shadow rollouts decided, by outcome (promoted, rejected, abandoned)",
            None,
            MetricType::Counter,
        )?;
        for outcome in [
            RolloutOutcome::Promoted,
            RolloutOutcome::Rejected,
            RolloutOutcome::Abandoned,
        ] {
            m.encode_family(&[("outcome", outcome.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(
                    &self.plugins.rollouts_total(outcome),
                    None,
                )?;
        }
        Ok(())
    }
}

#[cfg(feature = "metrics-server")]
mod server {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::{CONTENT_TYPE, Exporter};

    /// The HTTP server of [`Exporter::serve`]; dropping it stops it.
    #[derive(Debug)]
    pub struct MetricsServer {
        addr: std::net::SocketAddr,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl MetricsServer {
        pub(super) fn start(
            exporter: Arc<Exporter>,
            addr: std::net::SocketAddr,
        ) -> std::io::Result<Self> {
            let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
            let addr = server
                .server_addr()
                .to_ip()
                .ok_or_else(|| std::io::Error::other("not an IP listener"))?;
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let thread = std::thread::Builder::new()
                .name("wasp-metrics".into())
                .spawn(move || {
                    while !flag.load(Ordering::Relaxed) {
                        let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(100))
                        else {
                            continue;
                        };
                        let response = if request.url() == "/metrics"
                            && *request.method() == tiny_http::Method::Get
                        {
                            let header = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE)
                                .expect("a valid header");
                            tiny_http::Response::from_string(exporter.render()).with_header(header)
                        } else {
                            tiny_http::Response::from_string("not found; metrics are at /metrics\n")
                                .with_status_code(404)
                        };
                        if let Err(e) = request.respond(response) {
                            tracing::debug!(target: "wasp::metrics", "a metrics response failed: {e}");
                        }
                    }
                })?;
            Ok(MetricsServer {
                addr,
                stop,
                thread: Some(thread),
            })
        }

        /// The address it listens on (the port chosen, when `ADDR` had port 0).
        pub fn local_addr(&self) -> std::net::SocketAddr {
            self.addr
        }
    }

    impl Drop for MetricsServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(feature = "metrics-server")]
pub use server::MetricsServer;
