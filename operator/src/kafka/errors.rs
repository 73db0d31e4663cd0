//! Kafka client errors as operator errors: spec problems are permanent,
//! everything else is retried with the reconcile's backoff.

use crate::error::Error;

/// The error and its causes on one line, for status messages and Events.
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// A failed request as a whole.
pub(super) fn from_client(error: kafka_admin::Error) -> Error {
    let request_invalid = error
        .broker_error()
        .is_some_and(|e| e.code.is_request_invalid());
    let message = chain(&error);
    if request_invalid {
        Error::InvalidSpec(message)
    } else {
        Error::kafka_caused_by(message, error)
    }
}

/// One topic's refusal.
pub(super) fn topic_error(name: &str, action: &str, error: &kafka_admin::BrokerError) -> Error {
    let message = format!("cannot {action} topic {name}: {error}");
    if error.code.is_request_invalid() {
        Error::InvalidSpec(message)
    } else {
        Error::kafka_caused_by(message, error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_admin::{BrokerError, ErrorCode};

    #[test]
    fn refused_requests_are_spec_problems_and_outages_are_not() {
        let invalid = BrokerError::new(
            ErrorCode::from_code(40).expect("INVALID_CONFIG"),
            Some("bad".into()),
        );
        assert!(matches!(
            topic_error("t", "create", &invalid),
            Error::InvalidSpec(_)
        ));
        let moved = BrokerError::new(ErrorCode::NOT_CONTROLLER, None);
        assert!(matches!(
            topic_error("t", "create", &moved),
            Error::Kafka {
                source: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn messages_carry_the_cause() {
        let error = kafka_admin::Error::Connect {
            broker: "kafka:9092".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ),
        };
        let Error::Kafka {
            message,
            source: Some(source),
        } = from_client(error)
        else {
            panic!("an outage is a Kafka error, with its cause");
        };
        assert!(source.downcast_ref::<kafka_admin::Error>().is_some());
        assert_eq!(
            message,
            "cannot connect to Kafka broker kafka:9092: connection refused"
        );
    }
}
