//! One alert, as the original monitor's `send_alert` wrote it:
//! `{"timestamp", "type", "message", "severity"}`, with `timestamp` as
//! Python's `datetime.utcnow().isoformat()` prints it (UTC, microseconds,
//! no offset), plus the `pipeline` (`namespace/name`) it is about. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::crd::LagVerdict;

/// How bad an alert is; the original's default was `warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One record of the alerts topic. Field order is the original's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub message: String,
    pub severity: Severity,
    pub pipeline: String,
}

impl Alert {
    /// An alert of `type_` (snake_case, as the original's) about `pipeline`.
    pub fn new(
        pipeline: &str,
        type_: &str,
        severity: Severity,
        message: String,
        at: DateTime<Utc>,
    ) -> Self {
        Alert {
            timestamp: at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            type_: type_.into(),
            message,
            severity,
            pipeline: pipeline.into(),
        }
    }

    /// A consumer group's lag verdict changed to `to`. Types are the
    /// original's snake_case style: `lag_ok`, `lag_warn`, `lag_stall`,
    /// `lag_stop`.
    pub fn lag_verdict(pipeline: &str, to: LagVerdict, message: String, at: DateTime<Utc>) -> Self {
        let (type_, severity) = match to {
            LagVerdict::Ok => ("lag_ok", Severity::Info),
            LagVerdict::Warn => ("lag_warn", Severity::Warning),
            LagVerdict::Stall => ("lag_stall", Severity::Critical),
            LagVerdict::Stop => ("lag_stop", Severity::Critical),
        };
        Alert::new(pipeline, type_, severity, message, at)
    }

    /// The record value: one JSON object.
    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_keep_the_original_format() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T23:55:40.5Z")
            .expect("time")
            .with_timezone(&Utc);
        let alert = Alert::lag_verdict("team-a/shop", LagVerdict::Stop, "stopped".into(), at);
        assert_eq!(
            alert.to_json(),
            r#"{"timestamp":"2026-11-29T23:55:40.500000","type":"lag_stop","message":"stopped","severity":"critical","pipeline":"team-a/shop"}"#
        );
        let ok = Alert::lag_verdict("team-a/shop", LagVerdict::Ok, "ok".into(), at);
        assert_eq!((ok.type_.as_str(), ok.severity), ("lag_ok", Severity::Info));
    }
}
