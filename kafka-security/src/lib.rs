//! Connecting to Kafka clusters that require TLS and authentication, the way
//! Strimzi sets them up: a cluster CA to trust (`ca.crt`), and either a
//! SCRAM-SHA-512 user (a password in a file) or a TLS user (`user.crt` and
//! `user.key`).
//!
//! [`KafkaSecurity`] turns those settings into librdkafka properties;
//! [`SecurityFailure`] classifies the errors librdkafka reports when they are
//! wrong, so callers can name the problem (`AuthenticationFailed`,
//! `TlsHandshakeFailed`, `AuthorizationFailed`) instead of retrying silently.
//! [`redacted`] is the only way a client configuration may be logged.
//!
//! [`KafkaSecurityArgs`] are the flags (and environment variables, from
//! `shopstream_common::contract::shared`) both binaries read them from.
//! GSSAPI/Kerberos and OAUTHBEARER are not supported (docs/librdkafka.md).

mod args;
mod failure;
mod redact;
mod settings;

pub use args::KafkaSecurityArgs;
pub use failure::SecurityFailure;
pub use redact::{SENSITIVE_PROPERTIES, redacted};
pub use settings::{Authentication, KafkaSecurity, ScramMechanism, SecurityConfigError, Tls};
