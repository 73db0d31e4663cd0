//! Metric naming: each binary's metrics live in one [`MetricRegistry`]
//! whose prefix says whose they are (`shopstream_operator_`,
//! `shopstream_processor_`, `shopstream_generator_`, …), and whose
//! constructors refuse names without their unit suffix, per the Prometheus
//! naming conventions: counters end in `_total`; a duration histogram in
//! `_seconds`. Labels stay the caller's duty to bound.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The binaries that export metrics, each with its name prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Operator,
    Processor,
    Generator,
    Serving,
}

impl Binary {
    /// `shopstream_<binary>`: the prefix of every metric (followed by `_`).
    pub fn namespace(self) -> &'static str {
        match self {
            Binary::Operator => "shopstream_operator",
            Binary::Processor => "shopstream_processor",
            Binary::Generator => "shopstream_generator",
            Binary::Serving => "shopstream_serving",
        }
    }
}

/// The full name of a metric of `binary`: what dashboards and tests read.
pub fn full_name(binary: Binary, name: &str) -> String {
    format!("{}_{name}", binary.namespace())
}

/// One binary's registry. Names given to it are without the prefix.
#[derive(Clone, Debug)]
pub struct MetricRegistry {
    registry: Registry,
}

fn suffixed(name: &str, suffix: &str, kind: &str) -> prometheus::Result<()> {
    if name.ends_with(suffix) {
        Ok(())
    } else {
        Err(prometheus::Error::Msg(format!(
            "{kind} {name:?} must end in {suffix}"
        )))
    }
}

/// A counter of anything: its name must end in `_total`.
fn counter_name(name: &str) -> prometheus::Result<()> {
    suffixed(name, "_total", "counter")
}

/// A gauge must not look like a counter.
fn gauge_name(name: &str) -> prometheus::Result<()> {
    if name.ends_with("_total") {
        Err(prometheus::Error::Msg(format!(
            "gauge {name:?} must not end in _total (that suffix is for counters)"
        )))
    } else {
        Ok(())
    }
}

impl MetricRegistry {
    pub fn new(binary: Binary) -> prometheus::Result<Self> {
        Ok(Self {
            registry: Registry::new_custom(Some(binary.namespace().into()), None)?,
        })
    }

    fn register<C: Collector + Clone + 'static>(&self, collector: C) -> prometheus::Result<C> {
        self.registry.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    pub fn counter(&self, name: &str, help: &str) -> prometheus::Result<IntCounter> {
        counter_name(name)?;
        self.register(IntCounter::new(name, help)?)
    }

    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        counter_name(name)?;
        self.register(IntCounterVec::new(Opts::new(name, help), labels)?)
    }

    pub fn gauge(&self, name: &str, help: &str) -> prometheus::Result<Gauge> {
        gauge_name(name)?;
        self.register(Gauge::new(name, help)?)
    }

    pub fn gauge_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<GaugeVec> {
        gauge_name(name)?;
        self.register(GaugeVec::new(Opts::new(name, help), labels)?)
    }

    pub fn int_gauge(&self, name: &str, help: &str) -> prometheus::Result<IntGauge> {
        gauge_name(name)?;
        self.register(IntGauge::new(name, help)?)
    }

    pub fn int_gauge_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntGaugeVec> {
        gauge_name(name)?;
        self.register(IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    /// A duration histogram: its name must end in `_seconds`.
    pub fn seconds_histogram(
        &self,
        name: &str,
        help: &str,
        buckets: Vec<f64>,
    ) -> prometheus::Result<Histogram> {
        suffixed(name, "_seconds", "duration histogram")?;
        self.register(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(buckets),
        )?)
    }

    /// A duration histogram with labels: its name must end in `_seconds`.
    pub fn seconds_histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Vec<f64>,
    ) -> prometheus::Result<HistogramVec> {
        suffixed(name, "_seconds", "duration histogram")?;
        self.register(HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets),
            labels,
        )?)
    }

    /// The underlying registry, for collectors built elsewhere.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl crate::http::RenderMetrics for MetricRegistry {
    fn render(&self) -> String {
        MetricRegistry::render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_binary_and_their_unit() {
        let registry = MetricRegistry::new(Binary::Generator).expect("registry");
        let sent = registry
            .counter("events_sent_total", "sent")
            .expect("counter");
        sent.inc_by(2);
        registry
            .seconds_histogram("flush_seconds", "flush", vec![1.0])
            .expect("histogram");
        let text = registry.render();
        assert!(
            text.contains("shopstream_generator_events_sent_total 2"),
            "{text}"
        );
        assert!(
            text.contains("shopstream_generator_flush_seconds_bucket"),
            "{text}"
        );
        assert_eq!(
            full_name(Binary::Processor, "open_windows"),
            "shopstream_processor_open_windows"
        );
    }

    #[test]
    fn names_without_their_unit_are_refused() {
        let registry = MetricRegistry::new(Binary::Processor).expect("registry");
        assert!(registry.counter("events_sent", "no suffix").is_err());
        assert!(
            registry
                .counter_vec("records", "no suffix", &["x"])
                .is_err()
        );
        assert!(
            registry
                .seconds_histogram("latency", "no unit", vec![1.0])
                .is_err()
        );
        assert!(
            registry
                .int_gauge("open_total", "a counter's suffix")
                .is_err()
        );
    }
}
