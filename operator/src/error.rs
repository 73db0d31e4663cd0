//! The one error type of the operator. `category()` is a short, static name
//! used both as the `reason` label of the failure metric and as the reason of
//! the Kubernetes Event, so the set of values stays small and stable.

use std::time::Duration;

/// The typed cause an error keeps for `source()`: logs and callers can walk
/// the chain, and match on it, instead of parsing a message.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every variant's text is one line for a status condition or an Event.
/// Where a variant keeps a `source`, its `message` already includes the
/// cause's text (that is what the user reads); the source is there for
/// code and for logs that walk the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be satisfied as written; retrying will not help until
    /// the user changes it.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// Kafka could not be reached or refused a request.
    #[error("Kafka: {message}")]
    Kafka {
        message: String,
        #[source]
        source: Option<Cause>,
    },

    /// A Secret (or key) named in `spec.kafka.tls` or
    /// `spec.kafka.authentication` cannot be read. Retried with backoff: a
    /// Strimzi `KafkaUser`'s Secret appears some time after the user. The
    /// message names the Secret and key, never a value.
    #[error("Kafka credentials: {0}")]
    KafkaCredentials(String),

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
    #[error("Strimzi: {message}")]
    Strimzi {
        message: String,
        #[source]
        source: Option<Cause>,
    },

    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),

    /// Adding or removing the finalizer failed, or cleanup cannot proceed.
    #[error("finalizer: {message}")]
    Finalizer {
        message: String,
        #[source]
        source: Option<Cause>,
    },

    /// A bug or a state that should not happen (the reconcile panicked, the
    /// pipeline has no uid yet, a desired object cannot be serialised).
    /// Reported on the pipeline and retried with backoff: unlike
    /// `InvalidSpec`, no spec change is needed for it to clear.
    #[error("internal error: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    pub fn kafka(message: impl Into<String>) -> Self {
        Error::Kafka {
            message: message.into(),
            source: None,
        }
    }

    pub fn kafka_caused_by(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Kafka {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn strimzi(message: impl Into<String>) -> Self {
        Error::Strimzi {
            message: message.into(),
            source: None,
        }
    }

    pub fn strimzi_caused_by(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Strimzi {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn finalizer(message: impl Into<String>) -> Self {
        Error::Finalizer {
            message: message.into(),
            source: None,
        }
    }

    pub fn finalizer_caused_by(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Finalizer {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
            source: None,
        }
    }

    pub fn internal_caused_by(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The pipeline has no uid: it was read before the API server assigned
    /// one, which only a bug or a hand-made object explains. Retried.
    pub fn missing_uid() -> Self {
        Error::internal("the pipeline has no uid yet")
    }

    /// Static name of the error class: metric label and Event reason.
    pub fn category(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::Kafka { .. } => match self.kafka_security_failure() {
                Some(reason) => reason,
                None => "KafkaUnavailable",
            },
            Error::KafkaCredentials(_) => "KafkaCredentialsUnavailable",
            Error::TopicConflict(_) => "TopicConflict",
            Error::Conflict(_) => "Conflict",
            Error::Kube(_) => "KubernetesApiError",
            Error::Strimzi { .. } => "StrimziUnavailable",
            Error::Serialization(_) => "SerializationError",
            Error::Finalizer { .. } => "FinalizerError",
            Error::Internal { .. } => "InternalError",
        }
    }

    /// `AuthenticationFailed`, `TlsHandshakeFailed` or `AuthorizationFailed`
    /// when Kafka refused the operator's credentials, its TLS handshake or
    /// its request by ACL: the condition reason a user should see instead
    /// of "unavailable".
    pub fn kafka_security_failure(&self) -> Option<&'static str> {
        use kafka_admin::ErrorKind;
        let Error::Kafka {
            source: Some(source),
            ..
        } = self
        else {
            return None;
        };
        let kind = if let Some(e) = source.downcast_ref::<kafka_admin::Error>() {
            e.kind()
        } else {
            source.downcast_ref::<kafka_admin::BrokerError>()?.kind()
        };
        match kind {
            ErrorKind::AuthenticationFailed
            | ErrorKind::TlsHandshakeFailed
            | ErrorKind::AuthorizationFailed => Some(kind.as_str()),
            _ => None,
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
        assert!(!Error::kafka("down").is_permanent());
        assert!(
            !Error::missing_uid().is_permanent(),
            "internal failures are retried"
        );
        assert_eq!(Error::missing_uid().category(), "InternalError");
    }

    #[test]
    fn the_cause_is_kept_as_the_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::kafka_caused_by("cannot connect: refused", io);
        assert_eq!(error.to_string(), "Kafka: cannot connect: refused");
        let source = error.source().expect("the cause is kept");
        assert_eq!(source.to_string(), "refused");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(Error::strimzi("x").source().is_none());
    }
}
