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
