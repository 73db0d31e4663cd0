//! A small, closed classification of [`Error`]s, for callers that turn
//! failures into status conditions or metric labels: a handful of values,
//! whatever the broker said.

use std::fmt;

use crate::error::{BrokerError, Error};

/// What kind of failure an [`Error`] (or a per-item [`BrokerError`]) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// SASL refused the credential or the mechanism.
    AuthenticationFailed,
    /// The TLS handshake failed (untrusted or mismatched certificates, a
    /// refused client certificate, a peer without TLS).
    TlsHandshakeFailed,
    /// Authenticated, but an ACL denies the operation.
    AuthorizationFailed,
    /// The client's own configuration is invalid (unreadable PEM, …).
    InvalidConfig,
    /// The broker could not be reached or stopped answering in time.
    Unreachable,
    /// The broker refused the request itself (invalid name or config,
    /// policy, unknown topic, …).
    Rejected,
    /// The peer's replies are not Kafka as this client speaks it.
    Protocol,
}

impl ErrorKind {
    /// A CamelCase name, fit for a Kubernetes condition reason or a metric
    /// label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AuthenticationFailed => "AuthenticationFailed",
            ErrorKind::TlsHandshakeFailed => "TlsHandshakeFailed",
            ErrorKind::AuthorizationFailed => "AuthorizationFailed",
            ErrorKind::InvalidConfig => "InvalidConfig",
            ErrorKind::Unreachable => "Unreachable",
            ErrorKind::Rejected => "Rejected",
            ErrorKind::Protocol => "Protocol",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BrokerError {
    pub fn kind(&self) -> ErrorKind {
        if self.code.is_authorization_error() {
            ErrorKind::AuthorizationFailed
        } else if self.code.is_authentication_error() {
            ErrorKind::AuthenticationFailed
        } else {
            ErrorKind::Rejected
        }
    }
}

impl Error {
    /// The kind of failure; a deadline that ran out is the kind of its
    /// last failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Authentication { .. } => ErrorKind::AuthenticationFailed,
            Error::TlsHandshake { .. } => ErrorKind::TlsHandshakeFailed,
            Error::Broker { error, .. } => error.kind(),
            Error::Config(_) => ErrorKind::InvalidConfig,
            Error::Connect { .. }
            | Error::ConnectionLost { .. }
            | Error::Timeout { .. }
            | Error::NoBroker(_) => ErrorKind::Unreachable,
            Error::DeadlineExceeded { last, .. } => {
                last.as_ref().map_or(ErrorKind::Unreachable, |e| e.kind())
            }
            Error::Malformed { .. }
            | Error::ResponseTooLarge { .. }
            | Error::UnsupportedApi { .. }
            | Error::Encode { .. } => ErrorKind::Protocol,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ErrorCode;

    fn code(code: i16) -> ErrorCode {
        ErrorCode::from_code(code).expect("non-zero")
    }

    #[test]
    fn acl_denials_are_authorization_failures() {
        // TOPIC, GROUP, CLUSTER and TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
        for c in [29, 30, 31, 53] {
            let error = Error::broker("call", BrokerError::new(code(c), None));
            assert_eq!(error.kind(), ErrorKind::AuthorizationFailed, "{c}");
            assert!(!error.is_retriable());
        }
    }

    #[test]
    fn sasl_codes_are_authentication_failures() {
        for c in [33, 34, 58] {
            assert_eq!(
                BrokerError::new(code(c), None).kind(),
                ErrorKind::AuthenticationFailed
            );
        }
    }

    #[test]
    fn a_deadline_has_the_kind_of_its_last_failure() {
        let error = Error::DeadlineExceeded {
            what: "describe".into(),
            after: Duration::from_secs(1),
            last: Some(Box::new(Error::TlsHandshake {
                broker: "b:1".into(),
                reason: "untrusted".into(),
                source: None,
            })),
        };
        assert_eq!(error.kind(), ErrorKind::TlsHandshakeFailed);
        let error = Error::DeadlineExceeded {
            what: "describe".into(),
            after: Duration::from_secs(1),
            last: None,
        };
        assert_eq!(error.kind(), ErrorKind::Unreachable);
    }

    #[test]
    fn security_failures_are_permanent() {
        let authentication = Error::Authentication {
            broker: "b:1".into(),
            mechanism: "SCRAM-SHA-512",
            reason: "invalid credentials".into(),
        };
        assert_eq!(authentication.kind().as_str(), "AuthenticationFailed");
        assert!(!authentication.is_retriable());
        let tls = Error::TlsHandshake {
            broker: "b:1".into(),
            reason: "x".into(),
            source: None,
        };
        assert!(!tls.is_retriable());
        assert_eq!(tls.kind().to_string(), "TlsHandshakeFailed");
    }
}
