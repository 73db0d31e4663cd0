//! Which security problem a librdkafka error means.
//!
//! librdkafka reports connection-level problems through the client's error
//! callback (`ClientContext::error`) and keeps retrying, so a wrong password
//! or CA looks like an unreachable cluster unless someone looks at the code.
//! The codes, and the messages librdkafka 2.10 gives with them against Kafka
//! 4.2, are recorded in docs/librdkafka.md ("Security errors").

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// A security problem, named as the condition reason a user should see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityFailure {
    /// The broker refused the credentials: wrong SCRAM password or unknown
    /// user. librdkafka: `_AUTHENTICATION` (-169) from the error callback,
    /// or the broker's `SASL_AUTHENTICATION_FAILED` (58).
    AuthenticationFailed,
    /// The TLS handshake failed: the broker's certificate does not chain to
    /// the configured CA or does not match its address (librdkafka: `_SSL`,
    /// -181), or the broker refused the client certificate. With TLS 1.3 the
    /// client learns the latter only after its side of the handshake is
    /// done, from the broker's alert: `_TRANSPORT` (-195) with "SSL alert
    /// number 42" (bad certificate) or 116 (certificate required) in the
    /// error callback's reason, which only [`Self::from_client_error`] sees.
    TlsHandshakeFailed,
    /// Authenticated, but ACLs do not allow the operation: the broker's
    /// `*_AUTHORIZATION_FAILED` codes (topic, group, cluster, transactional
    /// id, delegation token).
    AuthorizationFailed,
}

impl SecurityFailure {
    /// The condition reason, e.g. `AuthenticationFailed`.
    pub fn reason(self) -> &'static str {
        match self {
            SecurityFailure::AuthenticationFailed => "AuthenticationFailed",
            SecurityFailure::TlsHandshakeFailed => "TlsHandshakeFailed",
            SecurityFailure::AuthorizationFailed => "AuthorizationFailed",
        }
    }

    /// The problem an error code means, if it is a security problem.
    pub fn from_code(code: RDKafkaErrorCode) -> Option<SecurityFailure> {
        use RDKafkaErrorCode as C;
        match code {
            C::Authentication | C::SaslAuthenticationFailed => {
                Some(SecurityFailure::AuthenticationFailed)
            }
            C::SSL => Some(SecurityFailure::TlsHandshakeFailed),
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::DelegationTokenAuthorizationFailed => Some(SecurityFailure::AuthorizationFailed),
            _ => None,
        }
    }

    /// The problem an error means, if it is a security problem: for errors
    /// returned by calls (delivery, consume, transactions, admin).
    pub fn from_error(error: &KafkaError) -> Option<SecurityFailure> {
        error.rdkafka_error_code().and_then(Self::from_code)
    }

    /// The problem an error callback (`ClientContext::error`) reports, if it
    /// is a security problem. Connection-level failures arrive there, and a
    /// refused client certificate is told apart from a dropped connection
    /// only by the TLS alert in `reason`.
    pub fn from_client_error(error: &KafkaError, reason: &str) -> Option<SecurityFailure> {
        Self::from_error(error).or_else(|| {
            let transport =
                error.rdkafka_error_code() == Some(RDKafkaErrorCode::BrokerTransportFailure);
            (transport && certificate_alert(reason)).then_some(SecurityFailure::TlsHandshakeFailed)
        })
    }
}

/// TLS alerts (RFC 8446 section 6.2) a broker sends when it does not accept
/// the client's certificate or cannot agree on a handshake.
const CERTIFICATE_ALERTS: &[u32] = &[
    40,  // handshake_failure
    42,  // bad_certificate
    43,  // unsupported_certificate
    44,  // certificate_revoked
    45,  // certificate_expired
    46,  // certificate_unknown
    48,  // unknown_ca
    116, // certificate_required
];

/// OpenSSL reports a received alert as "... SSL alert number N".
fn certificate_alert(reason: &str) -> bool {
    reason
        .split("SSL alert number ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        })
        .any(|alert| CERTIFICATE_ALERTS.contains(&alert))
}

impl std::fmt::Display for SecurityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    #[test]
    fn security_codes_are_classified() {
        let cases = [
            (
                C::Authentication,
                Some(SecurityFailure::AuthenticationFailed),
            ),
            (
                C::SaslAuthenticationFailed,
                Some(SecurityFailure::AuthenticationFailed),
            ),
            (C::SSL, Some(SecurityFailure::TlsHandshakeFailed)),
            (
                C::TopicAuthorizationFailed,
                Some(SecurityFailure::AuthorizationFailed),
            ),
            (
                C::GroupAuthorizationFailed,
                Some(SecurityFailure::AuthorizationFailed),
            ),
            (
                C::ClusterAuthorizationFailed,
                Some(SecurityFailure::AuthorizationFailed),
            ),
            (
                C::TransactionalIdAuthorizationFailed,
                Some(SecurityFailure::AuthorizationFailed),
            ),
            // Not security problems: the cluster is down or slow.
            (C::BrokerTransportFailure, None),
            (C::AllBrokersDown, None),
            (C::OperationTimedOut, None),
            (C::UnknownTopicOrPartition, None),
        ];
        for (code, expected) in cases {
            assert_eq!(SecurityFailure::from_code(code), expected, "{code:?}");
        }
    }

    #[test]
    fn errors_are_classified_by_their_code() {
        assert_eq!(
            SecurityFailure::from_error(&KafkaError::Global(C::Authentication)),
            Some(SecurityFailure::AuthenticationFailed)
        );
        assert_eq!(
            SecurityFailure::from_error(&KafkaError::MessageProduction(
                C::TopicAuthorizationFailed
            )),
            Some(SecurityFailure::AuthorizationFailed)
        );
        assert_eq!(
            SecurityFailure::from_error(&KafkaError::ClientCreation("x".into())),
            None
        );
        assert_eq!(
            SecurityFailure::TlsHandshakeFailed.to_string(),
            "TlsHandshakeFailed"
        );
    }

    // The reasons below are librdkafka 2.10's, against Kafka 4.2's mTLS
    // listener (integration-tests/tests/processor_kafka_security.rs prints them).
    const BAD_CERTIFICATE: &str = "ssl://127.0.0.1:19095/bootstrap: Receive failed: \
        ssl/record/rec_layer_s3.c:918:ssl3_read_bytes error:0A000412:SSL routines::\
        ssl/tls alert bad certificate: SSL alert number 42 (after 35ms in state APIVERSION_QUERY)";

    #[test]
    fn a_refused_client_certificate_is_a_tls_failure() {
        let transport = KafkaError::Global(C::BrokerTransportFailure);
        assert_eq!(
            SecurityFailure::from_client_error(&transport, BAD_CERTIFICATE),
            Some(SecurityFailure::TlsHandshakeFailed)
        );
        let required = BAD_CERTIFICATE.replace("number 42", "number 116");
        assert_eq!(
            SecurityFailure::from_client_error(&transport, &required),
            Some(SecurityFailure::TlsHandshakeFailed)
        );
        // The call's own error has no reason: the code alone is not enough.
        assert_eq!(SecurityFailure::from_error(&transport), None);
    }

    #[test]
    fn a_dropped_connection_is_not_a_security_failure() {
        let transport = KafkaError::Global(C::BrokerTransportFailure);
        for reason in [
            "127.0.0.1:19092/1: Disconnected (after 1200ms in state UP)",
            "ssl://127.0.0.1:19095/1: Connection refused (after 0ms in state CONNECT)",
            // close_notify (0) is how a broker ends a TLS session on shutdown.
            "ssl://127.0.0.1:19095/1: SSL alert number 0 (after 10ms in state UP)",
        ] {
            assert_eq!(
                SecurityFailure::from_client_error(&transport, reason),
                None,
                "{reason}"
            );
        }
        // The alert only counts on a transport failure.
        assert_eq!(
            SecurityFailure::from_client_error(
                &KafkaError::Global(C::AllBrokersDown),
                BAD_CERTIFICATE
            ),
            None
        );
    }

    #[test]
    fn error_callback_codes_classify_without_the_reason() {
        assert_eq!(
            SecurityFailure::from_client_error(&KafkaError::Global(C::SSL), ""),
            Some(SecurityFailure::TlsHandshakeFailed)
        );
        assert_eq!(
            SecurityFailure::from_client_error(&KafkaError::Global(C::Authentication), ""),
            Some(SecurityFailure::AuthenticationFailed)
        );
    }
}
