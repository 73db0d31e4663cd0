//! `spec.kafka.tls` and `spec.kafka.authentication`: how a pipeline reaches
//! a Kafka cluster that requires TLS and authentication. The shapes are
//! Strimzi's (`KafkaClientTls`, `KafkaClientAuthentication*`), so the
//! Secrets a Strimzi `Kafka` and `KafkaUser` write are named as they are:
//! `<cluster>-cluster-ca-cert` / `ca.crt` to trust, and `<user>` with
//! `password` (SCRAM) or `user.crt` / `user.key` (TLS client certificate).
//! Only Secret names and keys are in the spec; their contents are read by
//! the operator and mounted into the pods, never copied into the spec,
//! ConfigMaps or the status.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// TLS to the brokers (Strimzi's `KafkaClientTls`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTls {
    /// The CA certificate(s) the brokers' certificates chain to, e.g.
    /// `{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}`.
    /// Exactly one entry; its PEM may hold several certificates (a Strimzi
    /// CA renewal), all of which are trusted.
    #[schemars(length(min = 1, max = 1))]
    pub trusted_certificates: Vec<CertSecretSource>,
}

/// A certificate in a Secret of the pipeline's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertSecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the PEM certificate in the Secret, e.g. `ca.crt`.
    #[schemars(length(min = 1, max = 253))]
    pub certificate: String,
}

/// How the pipeline authenticates to Kafka (Strimzi's
/// `KafkaClientAuthentication`): `scram-sha-512` (or `scram-sha-256`) with
/// `username` and `passwordSecret`, or `tls` with `certificateAndKey`.
/// With `spec.kafka.user.create` only `type` is given: the operator fills
/// in the rest from the `KafkaUser` it creates.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type == 'tls' ? !has(self.username) && !has(self.passwordSecret) : !has(self.certificateAndKey)").message("type tls takes certificateAndKey (no username or passwordSecret); scram-sha-512 and scram-sha-256 take username and passwordSecret (no certificateAndKey)"))]
pub struct KafkaAuthentication {
    /// `scram-sha-512`, `scram-sha-256` or `tls`.
    #[serde(rename = "type")]
    pub type_: AuthenticationType,

    /// SCRAM user name; for a Strimzi `KafkaUser`, its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub username: Option<String>,

    /// SCRAM: the Secret key holding the password; for a Strimzi
    /// `KafkaUser`, `{secretName: <user>, password: password}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<PasswordSecretSource>,

    /// TLS: the Secret keys holding the client certificate and its
    /// unencrypted PEM key; for a Strimzi `KafkaUser`,
    /// `{secretName: <user>, certificate: user.crt, key: user.key}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_and_key: Option<CertAndKeySecretSource>,
}

/// The authentication mechanism.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthenticationType {
    /// SASL SCRAM-SHA-512 (Strimzi's `scram-sha-512` users).
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
    /// SASL SCRAM-SHA-256.
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// A TLS client certificate (mutual TLS); needs `spec.kafka.tls`.
    #[serde(rename = "tls")]
    Tls,
}

impl AuthenticationType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationType::ScramSha512 => "scram-sha-512",
            AuthenticationType::ScramSha256 => "scram-sha-256",
            AuthenticationType::Tls => "tls",
        }
    }
}

/// A password in a Secret of the pipeline's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the password in the Secret, e.g. `password`.
    #[schemars(length(min = 1, max = 253))]
    pub password: String,
}

/// A client certificate and its key in a Secret of the pipeline's
/// namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertAndKeySecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the PEM certificate, e.g. `user.crt`.
    #[schemars(length(min = 1, max = 253))]
    pub certificate: String,
    /// Key of the PEM private key (unencrypted), e.g. `user.key`.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// `spec.kafka.user`: a Strimzi `KafkaUser` for the pipeline, created by
/// the operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaUserSpec {
    /// `true`: the operator creates (and owns) a `KafkaUser` named after
    /// the pipeline, labelled `strimzi.io/cluster=<strimziCluster>`, with
    /// `spec.kafka.authentication.type` and `authorization: simple` ACLs
    /// that allow exactly the pipeline's topics (the operations each needs),
    /// its consumer groups and its transactional ids. Strimzi's User
    /// Operator (which must watch the pipeline's namespace) writes the
    /// user's Secret, of the same name; the generator and processor mount
    /// it (`password`, or `user.crt` and `user.key`). Needs
    /// `strimziCluster` and `authentication` with only `type`
    /// (`scram-sha-512` or `tls`).
    #[serde(default)]
    pub create: bool,
}
