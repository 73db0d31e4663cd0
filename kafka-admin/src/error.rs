//! The one error type of the client.
//!
//! Every failure keeps its cause as `source()`, and says whether trying
//! again can help ([`Error::is_retriable`]): the client itself retries
//! retriable failures until the call's deadline, so a retriable error that
//! reaches the caller means "the deadline ran out", and the caller's own
//! backoff decides what happens next.

use std::fmt;
use std::time::Duration;

use kafka_protocol::ResponseError;

/// A Kafka error code from a reply, with the message the broker attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerError {
    pub code: ErrorCode,
    /// The broker's own explanation, when the reply carries one.
    pub message: Option<String>,
}

impl BrokerError {
    pub fn new(code: ErrorCode, message: Option<String>) -> Self {
        Self { code, message }
    }

    /// `None` for code 0 (no error).
    pub fn from_code(code: i16, message: Option<String>) -> Option<Self> {
        ErrorCode::from_code(code).map(|code| Self { code, message })
    }

    pub fn is_retriable(&self) -> bool {
        self.code.is_retriable()
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) if !message.is_empty() => write!(f, "{} ({message})", self.code),
            _ => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for BrokerError {}

/// A non-zero Kafka protocol error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(ResponseError);

impl ErrorCode {
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode =
        ErrorCode(ResponseError::UnknownTopicOrPartition);
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(ResponseError::TopicAlreadyExists);
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(ResponseError::NotCoordinator);
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode =
        ErrorCode(ResponseError::CoordinatorNotAvailable);
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode =
        ErrorCode(ResponseError::CoordinatorLoadInProgress);
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(ResponseError::GroupIdNotFound);
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(ResponseError::NotController);
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(ResponseError::NotLeaderOrFollower);
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(ResponseError::LeaderNotAvailable);
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(ResponseError::OffsetOutOfRange);
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(ResponseError::UnsupportedVersion);

    /// `None` for code 0 (no error).
    pub fn from_code(code: i16) -> Option<Self> {
        ResponseError::try_from_code(code).map(ErrorCode)
    }

    pub fn code(self) -> i16 {
        self.0.code()
    }

    /// As the Kafka protocol defines it; unknown codes are not retriable.
    pub fn is_retriable(self) -> bool {
        self.0.is_retriable()
    }

    /// The coordinator moved, is not known yet or is still loading: find it
    /// again and repeat the request.
    pub fn is_coordinator_error(self) -> bool {
        matches!(
            self.0,
            ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::CoordinatorLoadInProgress
        )
    }

    /// The client's view of partition leadership is stale: refresh
    /// metadata and repeat the request.
    pub fn is_stale_metadata(self) -> bool {
        matches!(
            self.0,
            ResponseError::NotLeaderOrFollower
                | ResponseError::LeaderNotAvailable
                | ResponseError::UnknownTopicOrPartition
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::ReplicaNotAvailable
                | ResponseError::KafkaStorageError
                | ResponseError::NotController
        )
    }

    /// The request's content is the problem (an invalid name, config or
    /// count, a policy, an authorization): the same request will fail again.
    pub fn is_request_invalid(self) -> bool {
        matches!(
            self.0,
            ResponseError::InvalidConfig
                | ResponseError::InvalidReplicationFactor
                | ResponseError::InvalidPartitions
                | ResponseError::InvalidReplicaAssignment
                | ResponseError::InvalidTopicException
                | ResponseError::InvalidRequest
                | ResponseError::PolicyViolation
                | ResponseError::TopicAuthorizationFailed
                | ResponseError::GroupAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::TopicDeletionDisabled
                | ResponseError::InvalidGroupId
        )
    }

    /// The principal lacks an ACL for the request (topic, group, cluster or
    /// transactional id).
    pub fn is_authorization_error(self) -> bool {
        matches!(
            self.0,
            ResponseError::TopicAuthorizationFailed
                | ResponseError::GroupAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::TransactionalIdAuthorizationFailed
                | ResponseError::DelegationTokenAuthorizationFailed
        )
    }

    /// SASL refused the credential, the mechanism or the exchange.
    pub fn is_authentication_error(self) -> bool {
        matches!(
            self.0,
            ResponseError::SaslAuthenticationFailed
                | ResponseError::UnsupportedSaslMechanism
                | ResponseError::IllegalSaslState
        )
    }

    /// The code as kafka-protocol names it.
    pub fn kind(self) -> ResponseError {
        self.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error code {})", self.0, self.0.code())
    }
}

/// The boxed cause of a malformed reply (kafka-protocol's decoder errors).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client was configured with something it cannot use.
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// The TLS handshake failed: the broker's certificate is not signed by
    /// a trusted CA or not valid for its address, the broker refused the
    /// client certificate, or the peer does not speak TLS. Permanent until
    /// the configuration or the certificates change.
    #[error("TLS handshake with Kafka broker {broker} failed: {reason}")]
    TlsHandshake {
        broker: String,
        reason: String,
        #[source]
        source: Option<Cause>,
    },

    /// SASL authentication was refused: a wrong user or password, a
    /// mechanism the listener does not offer, or a server that could not
    /// prove it knows the credential. `reason` comes from the broker or
    /// the SCRAM exchange and never holds the password.
    #[error("SASL {mechanism} authentication to Kafka broker {broker} failed: {reason}")]
    Authentication {
        broker: String,
        mechanism: &'static str,
        reason: String,
    },

    /// No TCP connection (or no transport session) could be opened.
    #[error("cannot connect to Kafka broker {broker}")]
    Connect {
        broker: String,
        #[source]
        source: std::io::Error,
    },

    /// The connection broke while a request was outstanding (or before it
    /// could be sent); the request may or may not have reached the broker.
    #[error("connection to Kafka broker {broker} lost")]
    ConnectionLost {
        broker: String,
        #[source]
        source: Option<std::io::Error>,
    },

    /// One request had no answer within its time budget.
    #[error("{api} request to Kafka broker {broker} timed out after {after:?}")]
    Timeout {
        api: &'static str,
        broker: String,
        after: Duration,
    },

    /// The call's deadline ran out while it was still retrying; the last
    /// failure is the source.
    #[error("{what}: gave up after {after:?}")]
    DeadlineExceeded {
        what: String,
        after: Duration,
        #[source]
        last: Option<Box<Error>>,
    },

    /// A reply that is not a valid Kafka response (truncated, garbage, an
    /// unexpected correlation id, or a peer that does not speak Kafka).
    #[error("malformed {api} reply from Kafka broker {broker}: {reason}")]
    Malformed {
        api: &'static str,
        broker: String,
        reason: String,
        #[source]
        source: Option<Cause>,
    },

    /// A reply larger than the configured bound; the connection is closed
    /// rather than buffering it.
    #[error("reply of {size} bytes from Kafka broker {broker} exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        broker: String,
        size: usize,
        limit: usize,
    },

    /// The broker supports no version of an API this client can speak.
    #[error("Kafka broker {broker} does not support {api} in any version this client speaks")]
    UnsupportedApi { api: &'static str, broker: String },

    /// The cluster answered with an error code for the request as a whole.
    #[error("{context}: {error}")]
    Broker {
        context: String,
        #[source]
        error: BrokerError,
    },

    /// A request could not be encoded (a name too long for the protocol, …).
    #[error("cannot encode {api} request: {reason}")]
    Encode { api: &'static str, reason: String },

    /// Metadata named no broker to send the request to.
    #[error("no Kafka broker available for {0}")]
    NoBroker(String),
}

impl Error {
    /// Whether the same call can succeed later without any change to it.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::ConnectionLost { .. }
            | Error::Timeout { .. }
            | Error::NoBroker(_)
            // A garbled reply is the connection's fault as far as the
            // client can tell; the connection is replaced on the next call.
            | Error::Malformed { .. }
            | Error::ResponseTooLarge { .. } => true,
            Error::DeadlineExceeded { last, .. } => last.as_ref().is_none_or(|e| e.is_retriable()),
            Error::Broker { error, .. } => error.is_retriable(),
            Error::Config(_)
            | Error::UnsupportedApi { .. }
            | Error::Encode { .. }
            | Error::TlsHandshake { .. }
            | Error::Authentication { .. } => false,
        }
    }

    /// The broker's error code, when the failure is one.
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Error::Broker { error, .. } => Some(error),
            Error::DeadlineExceeded {
                last: Some(last), ..
            } => last.broker_error(),
            _ => None,
        }
    }

    pub(crate) fn broker(context: impl Into<String>, error: BrokerError) -> Self {
        Error::Broker {
            context: context.into(),
            error,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_and_leader_errors_are_retriable() {
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ] {
            assert!(code.is_retriable() && code.is_coordinator_error(), "{code}");
        }
        for code in [
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::LEADER_NOT_AVAILABLE,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ] {
            assert!(code.is_stale_metadata(), "{code}");
        }
    }

    #[test]
    fn spec_problems_are_permanent() {
        let invalid = ErrorCode::from_code(40).expect("INVALID_CONFIG");
        assert!(invalid.is_request_invalid());
        let error = Error::broker("create topic t", BrokerError::new(invalid, None));
        assert!(!error.is_retriable());
        assert_eq!(error.broker_error().map(|e| e.code), Some(invalid));
    }

    #[test]
    fn unknown_codes_are_kept_and_permanent() {
        let code = ErrorCode::from_code(9999).expect("non-zero");
        assert_eq!(code.code(), 9999);
        assert!(!code.is_retriable());
        assert!(ErrorCode::from_code(0).is_none());
    }

    #[test]
    fn deadline_errors_keep_their_cause() {
        let last = Error::Timeout {
            api: "Metadata",
            broker: "b:1".into(),
            after: Duration::from_secs(1),
        };
        let error = Error::DeadlineExceeded {
            what: "describe topics".into(),
            after: Duration::from_secs(5),
            last: Some(Box::new(last)),
        };
        assert!(error.is_retriable());
        let source = std::error::Error::source(&error).expect("source kept");
        assert!(source.to_string().contains("timed out"), "{source}");
    }
}
