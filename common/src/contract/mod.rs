//! The contract between the operator and the workloads it runs: the
//! environment variables the operator writes (into the pipeline's
//! ConfigMap, or literally into the pod template) and the binaries read
//! (`#[arg(env = …)]`). Both sides use these constants, so a key cannot be
//! renamed on one side only; the env-contract test
//! (`integration-tests/tests/env_contract.rs`) feeds everything the operator
//! writes through the binaries' own parsers to prove it.
//!
//! A new binary adds a module here with its keys.

pub mod generator;
pub mod operator;
pub mod processor;
pub mod serving;

/// Keys every workload binary reads.
pub mod shared {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub const KAFKA_BOOTSTRAP_SERVERS: &str = "KAFKA_BOOTSTRAP_SERVERS";
    /// Listen address of `/metrics`, `/healthz`, `/readyz`.
    pub const METRICS_ADDR: &str = "METRICS_ADDR";
    /// `text` or `json` ([`crate::logging::LogFormat`]).
    pub const LOG_FORMAT: &str = "LOG_FORMAT";
    /// The pod's name (downward API): the replica's identity.
    pub const POD_NAME: &str = "POD_NAME";

    // Kafka security (issue 16). Every value is a setting or a file path,
    // never a secret: passwords and keys stay in files mounted from
    // Secrets, so they never appear in a pod spec, `kubectl describe` or a
    // ConfigMap.

    /// PEM file of the CA(s) the brokers' certificates chain to; set: TLS.
    pub const KAFKA_TLS_CA_FILE: &str = "KAFKA_TLS_CA_FILE";
    /// PEM client certificate (mutual TLS); with [`KAFKA_TLS_KEY_FILE`].
    pub const KAFKA_TLS_CERTIFICATE_FILE: &str = "KAFKA_TLS_CERTIFICATE_FILE";
    /// PEM private key of the client certificate.
    pub const KAFKA_TLS_KEY_FILE: &str = "KAFKA_TLS_KEY_FILE";
    /// `SCRAM-SHA-512` or `SCRAM-SHA-256`; set: SASL.
    pub const KAFKA_SASL_MECHANISM: &str = "KAFKA_SASL_MECHANISM";
    /// The SASL user name.
    pub const KAFKA_SASL_USERNAME: &str = "KAFKA_SASL_USERNAME";
    /// File holding the SASL password.
    pub const KAFKA_SASL_PASSWORD_FILE: &str = "KAFKA_SASL_PASSWORD_FILE";
}

/// The port of `/metrics`, `/healthz` and `/readyz` in the workload pods.
pub const WORKLOAD_METRICS_PORT: u16 = 9090;
