//! What the binary knows about its dependencies and progress: behind
//! `/readyz`, the metrics' gauges and the JSON API's `serving` part.

use std::sync::Mutex;

use serde::Serialize;
use shopstream_common::http::Readiness;

use super::metrics::Metrics;

/// One dependency (Redis or Kafka).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Dependency {
    pub ok: bool,
    /// The last error, while not ok (never holds a password: errors name
    /// the address only).
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
}

/// Progress figures of the JSON API.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Progress {
    pub records_written_total: u64,
    pub writes_per_second: f64,
    pub lag_records: Option<i64>,
    pub pipeline_input_lag_records: Option<i64>,
    pub pipeline_input_events_per_second: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Status {
    pub ready: bool,
    pub redis_address: String,
    pub redis: Dependency,
    pub kafka: Dependency,
    #[serde(flatten)]
    pub progress: Progress,
}

pub struct Health {
    readiness: Readiness,
    redis_address: String,
    metrics: Metrics,
    state: Mutex<(Dependency, Dependency, Progress)>,
}

/// The body of `/readyz` while not ready.
pub const WAITING_FOR: &str = "waiting for Redis and Kafka to answer (details: GET /api/status)";

impl Health {
    pub fn new(readiness: Readiness, redis_address: String, metrics: Metrics) -> Health {
        Health {
            readiness,
            redis_address,
            metrics,
            state: Mutex::new(Default::default()),
        }
    }

    fn update(&self, change: impl FnOnce(&mut (Dependency, Dependency, Progress))) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut state);
        self.metrics.redis_up.set(i64::from(state.0.ok));
        self.metrics.kafka_up.set(i64::from(state.1.ok));
        self.readiness.set(state.0.ok && state.1.ok);
    }

    pub fn redis_ok(&self) {
        self.update(|(redis, _, _)| *redis = ok());
    }

    pub fn redis_failed(&self, error: &dyn std::fmt::Display) {
        self.update(|(redis, _, _)| failed(redis, error));
    }

    pub fn kafka_ok(&self) {
        self.update(|(_, kafka, _)| *kafka = ok());
    }

    pub fn kafka_failed(&self, error: &dyn std::fmt::Display) {
        self.update(|(_, kafka, _)| failed(kafka, error));
    }

    pub fn progress(&self, change: impl FnOnce(&mut Progress)) {
        self.update(|(_, _, progress)| change(progress));
    }

    pub fn status(&self) -> Status {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Status {
            ready: state.0.ok && state.1.ok,
            redis_address: self.redis_address.clone(),
            redis: state.0.clone(),
            kafka: state.1.clone(),
            progress: state.2.clone(),
        }
    }
}

fn ok() -> Dependency {
    Dependency {
        ok: true,
        last_error: None,
        consecutive_failures: 0,
    }
}

fn failed(dependency: &mut Dependency, error: &dyn std::fmt::Display) {
    dependency.ok = false;
    dependency.last_error = Some(error.to_string());
    dependency.consecutive_failures = dependency.consecutive_failures.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_while_both_answer() {
        let readiness = Readiness::new(WAITING_FOR);
        let health = Health::new(readiness.clone(), "r:1".into(), Metrics::new().unwrap());
        health.redis_ok();
        assert!(!readiness.is_ready());
        health.kafka_ok();
        assert!(readiness.is_ready());
        health.redis_failed(&"connection refused");
        health.redis_failed(&"connection refused");
        assert!(!readiness.is_ready());
        let status = health.status();
        assert_eq!(status.redis.consecutive_failures, 2);
        assert_eq!(
            status.redis.last_error.as_deref(),
            Some("connection refused")
        );
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["ready"], false);
        assert_eq!(json["records_written_total"], 0);
    }
}
