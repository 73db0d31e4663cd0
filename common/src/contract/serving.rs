//! The serving component's environment variables (`serving --help`). It
//! reads the output topics' names from the processor's keys
//! ([`super::processor`]), which the pipeline's ConfigMap already holds.

pub const GROUP_ID: &str = "SERVING_GROUP_ID";
/// `host:port` of Redis.
pub const REDIS_ADDRESS: &str = "SERVING_REDIS_ADDRESS";
/// Redis password; the operator sets it from a Secret (`secretKeyRef`),
/// never into a ConfigMap.
pub const REDIS_PASSWORD: &str = "SERVING_REDIS_PASSWORD";
/// The pipeline's namespace and name: the Redis key prefix
/// `shopstream:<namespace>:<pipeline>:`.
pub const PIPELINE_NAMESPACE: &str = "SERVING_PIPELINE_NAMESPACE";
pub const PIPELINE_NAME: &str = "SERVING_PIPELINE_NAME";
pub const AGGREGATES_TTL_SECONDS: &str = "SERVING_AGGREGATES_TTL_SECONDS";
pub const CLV_TTL_SECONDS: &str = "SERVING_CLV_TTL_SECONDS";
/// The CLV model: `rfm` (default) or `original-rules`.
pub const CLV_MODEL: &str = "SERVING_CLV_MODEL";
pub const MAX_BATCH_RECORDS: &str = "SERVING_MAX_BATCH_RECORDS";
pub const FLUSH_INTERVAL_MS: &str = "SERVING_FLUSH_INTERVAL_MS";

/// The port of the serving pods' HTTP server: dashboard, JSON API,
/// `/metrics`, `/healthz`, `/readyz`.
pub const HTTP_PORT: u16 = 8080;
