//! `spec.serving` and `status.serving`: the pipeline's serving component
//! (its results in Redis, a live dashboard and a JSON API; docs/serving.md).

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The serving component: consumes the output topics and writes them to
/// Redis (an existing one, or one the operator deploys) with the original system's keys and TTLs, and serves a
/// live dashboard on the `<pipeline>-serving` Service (port 8080).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServingSpec {
    /// Run the serving component (Deployment and Service `<pipeline>-serving`).
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// The Redis it writes to.
    pub redis: RedisSpec,

    /// Number of serving pods. They share one consumer group; every pod
    /// serves the whole dashboard (it reads Redis).
    #[serde(default = "default_one")]
    #[schemars(range(min = 0, max = 20))]
    pub replicas: i32,

    /// Container image of the serving component. Defaults to the image the
    /// operator was installed with (`--serving-image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Time to live of the keys, seconds. Defaults are the original's.
    #[serde(default)]
    pub ttl: ServingTtl,

    /// Customer lifetime value: how the `clv:<user>` keys are computed
    /// from each user's purchase history (the processor's user-history
    /// topic).
    #[serde(default)]
    pub clv: ServingClv,
}

/// The CLV keys' model.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServingClv {
    /// `rfm` (default): recency, frequency and monetary value of the
    /// user's whole history, one year ahead, with a confidence that grows
    /// with the number of purchases (docs/serving.md has the formula).
    /// `original-rules`: the original system's prediction, the latest
    /// purchase × 10 (premium), × 5 (regular) or × 3 (any other segment),
    /// confidence 0.85.
    #[serde(default)]
    pub model: ClvModel,
}

/// A CLV model.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClvModel {
    /// Recency, frequency and monetary value of the user's history.
    #[default]
    Rfm,
    /// The original's segment multiple of the latest purchase.
    OriginalRules,
}

impl ClvModel {
    /// The value of the serving binary's `--clv-model`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClvModel::Rfm => "rfm",
            ClvModel::OriginalRules => "original-rules",
        }
    }
}

/// Where Redis is, and how to authenticate: an existing Redis
/// (`address`), or one the operator deploys (`managed: true`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.address) != (has(self.managed) && self.managed)").message("give either redis.address (an existing Redis) or redis.managed: true (the operator deploys one), exactly one of them"))]
#[x_kube(validation = Rule::new("(has(self.managed) && self.managed) || (!has(self.storage) && !has(self.resources) && !has(self.image))").message("redis.storage, redis.resources and redis.image configure the managed Redis: they need redis.managed: true"))]
pub struct RedisSpec {
    /// `host:port` of an existing Redis, e.g. `redis.cache:6379`. Not with
    /// `managed: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 3, max = 512),
        regex(pattern = r"^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):[0-9]{1,5}$")
    )]
    pub address: Option<String>,

    /// Deploy a single-replica Redis for this pipeline: StatefulSet and
    /// Service `<pipeline>-redis` (port 6379), its data (append-only file)
    /// on a PersistentVolumeClaim, so a restart loses nothing Redis
    /// acknowledged. Serving then writes to
    /// `<pipeline>-redis.<namespace>.svc:6379`. Not with `address`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed: bool,

    /// A key of a Secret in the pipeline's namespace holding the Redis
    /// password (AUTH). The password reaches the pods as an environment
    /// variable from the Secret; it is never copied into a ConfigMap, the
    /// status or a log. With `managed: true` the managed Redis requires it
    /// (`requirepass`); without, it accepts any client in the namespace's
    /// network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKey>,

    /// Managed Redis only: the PersistentVolumeClaim of its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<RedisStorage>,

    /// Managed Redis only: the container's resources. Default: requests
    /// 100m CPU and 128Mi memory, limit 512Mi memory (Redis keeps every key
    /// in memory: size the limit for the pipeline's keys, see
    /// docs/serving.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Managed Redis only: its container image. Defaults to the operator's
    /// `--redis-image` (chart value `workloadImages.redis`), an official
    /// Redis 7 image. The image must have `redis-server` and `redis-cli`
    /// on its PATH and run as user 999 (the official images' `redis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
}

/// The managed Redis's volume.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RedisStorage {
    /// Size of the PersistentVolumeClaim; default `1Gi`. The claim is
    /// created once: a later change is not applied to an existing claim
    /// (StatefulSet claim templates are immutable; docs/serving.md says
    /// how to resize).
    #[serde(default = "default_storage_size")]
    pub size: Quantity,
    /// StorageClass of the claim; the cluster's default class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

impl Default for RedisStorage {
    fn default() -> Self {
        RedisStorage {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("1Gi".into())
}

/// One key of a Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKey {
    /// Name of the Secret (same namespace as the pipeline).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret; default `password`.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Key lifetimes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServingTtl {
    /// Hourly sales, rankings, windows and anomalies (the original: 7200).
    #[serde(default = "default_aggregates_ttl")]
    #[schemars(range(min = 1, max = 31536000))]
    pub aggregates_seconds: i64,
    /// Per-user CLV (the original: 3600).
    #[serde(default = "default_clv_ttl")]
    #[schemars(range(min = 1, max = 31536000))]
    pub clv_seconds: i64,
}

impl Default for ServingTtl {
    fn default() -> Self {
        ServingTtl {
            aggregates_seconds: default_aggregates_ttl(),
            clv_seconds: default_clv_ttl(),
        }
    }
}

/// Observed state of the serving component.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServingStatus {
    /// `ready/desired` pods.
    pub replicas: String,
    /// Whether at least one pod is ready (writing to Redis and reading Kafka).
    pub ready: bool,
    /// The dashboard's URL inside the cluster.
    pub url: String,
    /// Output records written to Redis per second, from the serving
    /// consumer group's commits (it commits after Redis acknowledged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_per_second: Option<f64>,
    /// Output records not written to Redis yet (the serving group's lag
    /// over the output topics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
    /// The Redis serving writes to (`host:port`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub redis_address: String,
    /// `ready/desired` pods of the managed Redis (`redis.managed: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_redis_replicas: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_one() -> i32 {
    1
}

fn default_password_key() -> String {
    "password".into()
}

fn default_aggregates_ttl() -> i64 {
    7200
}

fn default_clv_ttl() -> i64 {
    3600
}
