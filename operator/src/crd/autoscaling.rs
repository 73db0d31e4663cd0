use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Scaling the processor on its consumer lag, measured by the operator at
/// the offsets the processor commits. Replicas never exceed the input
/// topic's partitions, nor, when scaling up, the partitions that have lag.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.maxReplicas >= self.minReplicas").message("maxReplicas must be at least minReplicas"))]
pub struct AutoscalingSpec {
    /// Scale the processor automatically (default true once the section is
    /// there). While enabled, `spec.processor.replicas` (and `kubectl
    /// scale`) is ignored; set false to go back to it.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Fewest processor replicas (default 1).
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,

    /// Most processor replicas; replicas beyond the input topic's
    /// partitions would sit idle, so the input partition count caps it.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,

    /// Records of lag one replica may have; more lag asks for
    /// `ceil(totalLag / targetLagPerReplica)` replicas. Default 1000 when
    /// `targetLagSeconds` is not set either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub target_lag_per_replica: Option<i64>,

    /// Age in seconds the oldest unconsumed record may have; an older one
    /// asks for proportionally more replicas (as a HorizontalPodAutoscaler
    /// does: `ceil(replicas × lagSeconds / targetLagSeconds)`). When both
    /// targets are set, the one asking for more replicas wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1))]
    pub target_lag_seconds: Option<f64>,

    /// Scale up only to the fewest replicas recommended during this many
    /// seconds (default 30), so a short burst does not add replicas.
    #[serde(default = "default_up_stabilization")]
    #[schemars(range(min = 0, max = 3600))]
    pub scale_up_stabilization_seconds: i32,

    /// Scale down only to the most replicas recommended during this many
    /// seconds (default 300), so the count does not flap.
    #[serde(default = "default_down_stabilization")]
    #[schemars(range(min = 0, max = 86400))]
    pub scale_down_stabilization_seconds: i32,
}

/// What the autoscaler decided last.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingStatus {
    /// The processor replicas the autoscaler wants.
    pub desired_replicas: i32,
    /// Why, in a sentence.
    pub reason: String,
    /// When it last changed the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
}

/// The target used when the spec sets none.
pub const DEFAULT_TARGET_LAG_PER_REPLICA: i64 = 1000;

fn default_true() -> bool {
    true
}
fn default_min_replicas() -> i32 {
    1
}
fn default_up_stabilization() -> i32 {
    30
}
fn default_down_stabilization() -> i32 {
    300
}
