//! A pipeline's Kafka TLS and authentication (`spec.kafka.tls`,
//! `spec.kafka.authentication`), from the spec to the three places that use
//! them:
//!
//! - [`refs`] (pure): the spec checked and turned into the Secret keys to
//!   read; a spec problem is an `InvalidSpec` condition.
//! - [`pod`] (pure): the Secret volumes, mounts and environment of the
//!   generator and processor pods. Credentials reach the pods as files from
//!   the Secrets only: never in a ConfigMap, an environment value, the
//!   status, an Event or a log.
//! - [`kafka_user`] (pure): the Strimzi `KafkaUser` of
//!   `spec.kafka.user.create`, with exactly the pipeline's ACLs.
//! - [`secrets`]: the operator's own client settings, read from the same
//!   Secrets, so its admin and lag requests authenticate as the pipeline.
//! - [`operator_credential`]: the operator's own credential from the chart,
//!   which, when set, replaces the pipeline's for those requests.

pub mod kafka_user;
pub mod operator_credential;
pub mod pod;
pub mod refs;
pub mod secrets;

pub use refs::{AuthenticationRefs, KafkaSecurityRefs, SecretKeyRef, from_spec, kafka_user_name};
pub use secrets::{ClusterCredentials, read_credentials};

/// The condition message for a security failure: what to check, then
/// Kafka's own words (which never hold the password: kafka-admin scrubs
/// it).
pub fn explain(
    reason: &str,
    refs: &KafkaSecurityRefs,
    operator: Option<&operator_credential::OperatorCredential>,
    kafka_message: &str,
) -> String {
    if let Some(operator) = operator.filter(|_| !refs.is_plaintext()) {
        let hint = match reason {
            "AuthenticationFailed" => format!(
                "Kafka refused the operator's own credential ({}, chart kafka.operatorCredentials)",
                operator.describe()
            ),
            "TlsHandshakeFailed" => "the TLS handshake of the operator's own connection failed: check the CA of the chart's kafka.operatorCredentials and that the broker's certificate names the bootstrap address".to_string(),
            _ => format!(
                "Kafka's ACLs deny the operator's own user ({}, chart kafka.operatorCredentials) a request it needs",
                operator.describe()
            ),
        };
        return format!("{hint}: {kafka_message}");
    }
    let hint = match (reason, &refs.authentication) {
        ("AuthenticationFailed", Some(AuthenticationRefs::Scram { username, password, .. })) => format!(
            "Kafka refused the credentials of user {username:?}: check the password in Secret {} key {:?} (spec.kafka.authentication)",
            password.secret, password.key
        ),
        ("AuthenticationFailed", _) => {
            "Kafka refused the pipeline's credentials (spec.kafka.authentication)".to_string()
        }
        ("TlsHandshakeFailed", _) => {
            "the TLS handshake with Kafka failed: check that spec.kafka.tls.trustedCertificates names the cluster's CA, that the broker's certificate names the bootstrap address, and, for type tls, the client certificate".to_string()
        }
        _ => "Kafka's ACLs deny the pipeline's user a request the operator needs".to_string(),
    };
    format!("{hint}: {kafka_message}")
}
