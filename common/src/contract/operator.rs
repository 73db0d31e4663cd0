//! The operator's own environment variables, which the Helm chart sets
//! (`analytics-operator --help`). Not read by the workloads; here so that
//! every binary's keys are in one place.

pub const WATCH_NAMESPACE: &str = "WATCH_NAMESPACE";
pub const STATUS_INTERVAL: &str = "STATUS_INTERVAL";
pub const GENERATOR_IMAGE: &str = "GENERATOR_IMAGE";
pub const PROCESSOR_IMAGE: &str = "PROCESSOR_IMAGE";
pub const SERVING_IMAGE: &str = "SERVING_IMAGE";
pub const REDIS_IMAGE: &str = "REDIS_IMAGE";
pub const LEADER_ELECTION: &str = "LEADER_ELECTION";
pub const LEASE_NAME: &str = "LEASE_NAME";
pub const POD_NAMESPACE: &str = "POD_NAMESPACE";
pub const RECONCILE_CONCURRENCY: &str = "RECONCILE_CONCURRENCY";
pub const LEASE_DURATION: &str = "LEASE_DURATION";
/// The operator's own Kafka credential (chart `kafka.operatorCredentials`):
/// files of a mounted Secret, like the workloads' `KAFKA_*` variables.
pub const OPERATOR_KAFKA_TLS_CA_FILE: &str = "OPERATOR_KAFKA_TLS_CA_FILE";
pub const OPERATOR_KAFKA_SASL_MECHANISM: &str = "OPERATOR_KAFKA_SASL_MECHANISM";
pub const OPERATOR_KAFKA_SASL_USERNAME: &str = "OPERATOR_KAFKA_SASL_USERNAME";
pub const OPERATOR_KAFKA_SASL_PASSWORD_FILE: &str = "OPERATOR_KAFKA_SASL_PASSWORD_FILE";
pub const OPERATOR_KAFKA_TLS_CERTIFICATE_FILE: &str = "OPERATOR_KAFKA_TLS_CERTIFICATE_FILE";
pub const OPERATOR_KAFKA_TLS_KEY_FILE: &str = "OPERATOR_KAFKA_TLS_KEY_FILE";
