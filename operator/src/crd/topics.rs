use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Default partition count of every topic; matches the original
/// docker-compose setup.
pub const DEFAULT_PARTITIONS: i32 = 3;
/// Default replication factor: 1 suits a single-broker development cluster;
/// production pipelines set 3 (see examples/pipeline-production.yaml).
pub const DEFAULT_REPLICATION_FACTOR: i32 = 1;

/// The topics of a pipeline, one per role.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TopicsSpec {
    /// Purchase events written by the generator (or your own producers) and
    /// consumed by the processor. Its partition count bounds how many
    /// processor replicas can do useful work.
    #[serde(default)]
    pub input: TopicSpec,
    /// Per-minute sales by category and region.
    #[serde(default)]
    pub sales: TopicSpec,
    /// Per-segment metrics (premium, regular, new) in 2-minute windows.
    #[serde(default)]
    pub segments: TopicSpec,
    /// High-value transactions above the processor's anomaly threshold.
    #[serde(default)]
    pub anomalies: TopicSpec,
    /// Hourly sales by category.
    #[serde(default)]
    pub hourly: TopicSpec,
    /// Hourly top products ranked by revenue.
    #[serde(default)]
    pub top_products: TopicSpec,
    /// Records the processor could not parse, with the reason and their
    /// source partition and offset.
    #[serde(default)]
    pub dead_letter: TopicSpec,
}

/// One Kafka topic of the pipeline.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TopicSpec {
    /// Kafka topic name. Defaults to the name the running pipeline already
    /// uses (`status.topics`), else to `<namespace>.<pipeline>.<role>`, for
    /// example `team-a.shop.input` or `team-a.shop.top-products`, so that
    /// pipelines in different namespaces never share a topic. Changing it
    /// moves the pipeline to another topic; the old one is then deleted or
    /// kept as `deletionPolicy` says. Kafka allows letters, digits, `.`, `_`
    /// and `-`, at most 249 characters, and not `.` or `..`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 249), regex(pattern = r"^[a-zA-Z0-9._-]+$"))]
    #[x_kube(validation = Rule::new("self != '.' && self != '..'").message("a Kafka topic may not be named '.' or '..'"))]
    pub name: Option<String>,

    /// Number of partitions. Partitions can be added but never removed, so
    /// this value may only grow.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = 1, max = 10000))]
    #[x_kube(validation = Rule::new("self >= oldSelf").message("partitions may not decrease: Kafka cannot remove partitions from a topic"))]
    pub partitions: i32,

    /// Replication factor. Fixed once the topic exists: changing it needs a
    /// partition reassignment, which the operator never performs.
    #[serde(default = "default_replication_factor")]
    #[schemars(range(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("replicationFactor cannot be changed after creation"))]
    pub replication_factor: i32,

    /// Kafka topic configuration, e.g. `retention.ms: "604800000"` or
    /// `min.insync.replicas: "2"`. Values are strings, as in Kafka.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,

    /// Take over a topic of this name that already exists in Kafka but was
    /// not created by this pipeline. Without it, such a topic is used as it
    /// is (the pipeline reads or writes it if its partitions and replication
    /// factor match) but never changed, and never deleted, even with
    /// `deletionPolicy: Delete`. With it, the pipeline manages the topic as
    /// if it had created it: it adds partitions, sets the `config` keys named
    /// here (other keys are left alone) and deletes the topic with
    /// `deletionPolicy: Delete`. Topics the pipeline created itself are
    /// always managed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

impl Default for TopicSpec {
    fn default() -> Self {
        Self {
            name: None,
            partitions: DEFAULT_PARTITIONS,
            replication_factor: DEFAULT_REPLICATION_FACTOR,
            config: BTreeMap::new(),
            adopt: false,
        }
    }
}

fn default_partitions() -> i32 {
    DEFAULT_PARTITIONS
}

fn default_replication_factor() -> i32 {
    DEFAULT_REPLICATION_FACTOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_defaults() {
        let topic: TopicSpec = serde_json::from_str(r#"{"name":"x"}"#).expect("valid topic");
        assert_eq!(topic.partitions, DEFAULT_PARTITIONS);
        assert_eq!(topic.replication_factor, DEFAULT_REPLICATION_FACTOR);
        assert!(topic.config.is_empty());
        assert!(!topic.adopt, "foreign topics are never adopted by default");
    }
}
