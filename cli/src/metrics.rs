//! `wasp run --metrics ADDR`: the plugins' metrics (from `wasp_host::prometheus`)
//! and the pipeline's own, `wasp_events_total{outcome}` and
//! `wasp_dead_letters_total`, and with a broker source (NATS) its
//! `wasp_source_pending` and `wasp_source_redelivered_total`, served at
//! `http://ADDR/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use wasp_host::Plugins;
use wasp_host::prometheus::prometheus_client::collector::Collector;
use wasp_host::prometheus::prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use wasp_host::prometheus::prometheus_client::metrics::MetricType;
use wasp_host::prometheus::{Exporter, MetricsServer};

use crate::Failure;
use crate::pipeline::Counters;

#[derive(Debug)]
struct PipelineCollector(Arc<Counters>);

impl Collector for PipelineCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c = &self.0;
        let mut events = enc.encode_descriptor(
            "wasp_events",
            "Events that left the pipeline, by outcome (out, dropped, dead-letter)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in [
            ("out", &c.out),
            ("dropped", &c.dropped),
            ("dead-letter", &c.dead),
        ] {
            events
                .encode_family(&[("outcome", outcome)])?
                .encode_counter::<NoLabelSet, _, u64>(&n.load(Ordering::Relaxed), None)?;
        }
        enc.encode_descriptor(
            "wasp_dead_letters",
            "Events written to the dead-letter output",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&c.dead.load(Ordering::Relaxed), None)?;
        if !c.brokered.load(Ordering::Relaxed) {
            return Ok(());
        }
        enc.encode_descriptor(
            "wasp_source_pending",
            "Events the source still holds for this pipeline (the consumer's pending count at the last pull)",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge::<u64>(&c.source_pending.load(Ordering::Relaxed))?;
        enc.encode_descriptor(
            "wasp_source_redelivered",
            "Events the source delivered again because an earlier delivery was not acknowledged in time",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&c.redelivered.load(Ordering::Relaxed), None)
    }
}

/// Starts the server; it stops when the returned value is dropped.
pub(crate) fn serve(
    plugins: &Plugins,
    counters: &Arc<Counters>,
    addr: std::net::SocketAddr,
) -> Result<MetricsServer, Failure> {
    let mut exporter = Exporter::new(plugins);
    exporter
        .registry_mut()
        .register_collector(Box::new(PipelineCollector(counters.clone())));
    let server = exporter.serve(addr).map_err(|e| {
        Failure::usage(format!(
            "cannot serve metrics on {addr}: {e} (is the port in use?)"
        ))
    })?;
    eprintln!("metrics: http://{}/metrics", server.local_addr());
    Ok(server)
}
