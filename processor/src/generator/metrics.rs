//! Prometheus metrics of the generator.

use prometheus::{
    Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use super::malformed::MalformedKind;

pub struct Metrics {
    registry: Registry,
    /// Records handed to the producer.
    pub produced: IntCounter,
    /// Records acknowledged by the broker.
    pub sent: IntCounter,
    /// Records whose delivery failed for good.
    pub delivery_errors: IntCounter,
    /// Malformed records produced, by kind.
    pub malformed: IntCounterVec,
    /// Events stamped out of order.
    pub out_of_order: IntCounter,
    /// Acknowledged events per second over the last sampling interval.
    pub rate: Gauge,
    /// The configured rate (0 when unthrottled).
    pub target_rate: Gauge,
    /// Records in the producer's queue, not yet acknowledged.
    pub queue_depth: IntGauge,
    /// 1 once the topic's metadata was fetched.
    pub ready: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let produced = counter(
            "generator_events_produced_total",
            "Records handed to the Kafka producer.",
        )?;
        let sent = counter(
            "generator_events_sent_total",
            "Records acknowledged by the broker.",
        )?;
        let delivery_errors = counter(
            "generator_delivery_errors_total",
            "Records whose delivery failed for good.",
        )?;
        let out_of_order = counter(
            "generator_out_of_order_events_total",
            "Events stamped in the past (out of order).",
        )?;
        let malformed = IntCounterVec::new(
            Opts::new(
                "generator_malformed_events_total",
                "Malformed records produced, by kind.",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(malformed.clone()))?;
        for kind in MalformedKind::ALL {
            malformed.with_label_values(&[kind.as_str()]);
        }
        let rate = Gauge::new(
            "generator_rate_events_per_second",
            "Acknowledged events per second over the last second.",
        )?;
        registry.register(Box::new(rate.clone()))?;
        let target_rate = Gauge::new(
            "generator_target_rate_events_per_second",
            "Configured rate in events per second (0 = unthrottled).",
        )?;
        registry.register(Box::new(target_rate.clone()))?;
        let queue_depth = IntGauge::new(
            "generator_queue_depth",
            "Records in the producer queue awaiting acknowledgement.",
        )?;
        registry.register(Box::new(queue_depth.clone()))?;
        let ready = IntGauge::new(
            "generator_ready",
            "1 once the topic's metadata has been fetched.",
        )?;
        registry.register(Box::new(ready.clone()))?;
        Ok(Self {
            registry,
            produced,
            sent,
            delivery_errors,
            malformed,
            out_of_order,
            rate,
            target_rate,
            queue_depth,
            ready,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl crate::http::RenderMetrics for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_names() {
        let m = Metrics::new().expect("metrics");
        m.sent.inc_by(3);
        m.queue_depth.set(5);
        m.malformed.with_label_values(&["wrong_type"]).inc();
        let text = m.render();
        for line in [
            "generator_events_sent_total 3",
            "generator_delivery_errors_total 0",
            "generator_rate_events_per_second 0",
            "generator_queue_depth 5",
            "generator_malformed_events_total{kind=\"wrong_type\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
