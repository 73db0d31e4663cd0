//! Prometheus metrics of the generator, all named `shopstream_generator_*`.

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge};
use shopstream_common::metrics::{Binary, MetricRegistry};

use super::malformed::MalformedKind;

pub struct Metrics {
    registry: MetricRegistry,
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
        let registry = MetricRegistry::new(Binary::Generator)?;
        let produced = registry.counter(
            "events_produced_total",
            "Records handed to the Kafka producer.",
        )?;
        let sent = registry.counter("events_sent_total", "Records acknowledged by the broker.")?;
        let delivery_errors = registry.counter(
            "delivery_errors_total",
            "Records whose delivery failed for good.",
        )?;
        let out_of_order = registry.counter(
            "out_of_order_events_total",
            "Events stamped in the past (out of order).",
        )?;
        let malformed = registry.counter_vec(
            "malformed_events_total",
            "Malformed records produced, by kind.",
            &["kind"],
        )?;
        for kind in MalformedKind::ALL {
            malformed.with_label_values(&[kind.as_str()]);
        }
        let rate = registry.gauge(
            "rate_events_per_second",
            "Acknowledged events per second over the last second.",
        )?;
        let target_rate = registry.gauge(
            "target_rate_events_per_second",
            "Configured rate in events per second (0 = unthrottled).",
        )?;
        let queue_depth = registry.int_gauge(
            "queue_depth",
            "Records in the producer queue awaiting acknowledgement.",
        )?;
        let ready = registry.int_gauge("ready", "1 once the topic's metadata has been fetched.")?;
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
        self.registry.render()
    }
}

impl shopstream_common::http::RenderMetrics for Metrics {
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
            "shopstream_generator_events_sent_total 3",
            "shopstream_generator_delivery_errors_total 0",
            "shopstream_generator_rate_events_per_second 0",
            "shopstream_generator_queue_depth 5",
            "shopstream_generator_malformed_events_total{kind=\"wrong_type\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
