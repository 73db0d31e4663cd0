//! The one error type of the operator. `category()` is a short, static name
//! used both as the `reason` label of the failure metric and as the reason of
//! the Kubernetes Event, so the set of values stays small and stable.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be satisfied as written; retrying will not help until
    /// the user changes it.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// Kafka could not be reached or refused a request.
    #[error("Kafka: {0}")]
    Kafka(String),

    /// A topic exists in a state the operator refuses to change (fewer
    /// partitions wanted, another replication factor, foreign topic).
    #[error("topic conflict: {0}")]
    TopicConflict(String),

    /// An object the pipeline would write exists and belongs to someone
    /// else. Retried with backoff: it resolves when that object goes.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    /// Strimzi's KafkaTopic API is not installed although the spec names a
    /// Strimzi cluster.
    #[error("Strimzi: {0}")]
    Strimzi(String),

    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),

    #[error("finalizer: {0}")]
    Finalizer(String),

    /// A bug: the reconcile panicked. Reported on the pipeline and retried.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Static name of the error class: metric label and Event reason.
    pub fn category(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::Kafka(_) => "KafkaUnavailable",
            Error::TopicConflict(_) => "TopicConflict",
            Error::Conflict(_) => "Conflict",
            Error::Kube(_) => "KubernetesApiError",
            Error::Strimzi(_) => "StrimziUnavailable",
            Error::Serialization(_) => "SerializationError",
            Error::Finalizer(_) => "FinalizerError",
            Error::Internal(_) => "InternalError",
        }
    }

    /// Permanent errors wait for a spec change instead of being retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Error::InvalidSpec(_) | Error::TopicConflict(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exponential backoff for transient failures: 1s, 2s, 4s … capped at 5 min.
pub fn backoff(consecutive_failures: u32) -> Duration {
    let exp = consecutive_failures.saturating_sub(1).min(9);
    Duration::from_secs((1u64 << exp).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(30), Duration::from_secs(300));
    }

    #[test]
    fn spec_problems_are_permanent_outages_are_not() {
        assert!(Error::InvalidSpec("x".into()).is_permanent());
        assert!(!Error::Kafka("down".into()).is_permanent());
    }
}
