use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of an AnalyticsPipeline, written only by the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsPipelineStatus {
    /// The `metadata.generation` of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Summary of the pipeline's lifecycle: Pending, Provisioning, Running,
    /// Degraded or Failed. Conditions carry the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Standard Kubernetes conditions: TopicsReady, GeneratorReady,
    /// ProcessorReady, MergeReady, LagHealthy and Ready, each with a reason
    /// and a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// State of each Kafka topic of the pipeline. The names recorded here
    /// are the names the pipeline keeps using while the spec does not name
    /// a topic explicitly, and `origin` records which topics the pipeline
    /// created: only those (and adopted ones) are ever changed or deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["role"]))]
    pub topics: Vec<TopicStatus>,

    /// Topics the pipeline created or adopted and no longer uses because
    /// the spec renamed them, waiting to be deleted (`deletionPolicy:
    /// Delete`). Empty once they are gone; with `Retain` they are released
    /// at once and never listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub retired_topics: Vec<RetiredTopic>,

    /// Replicas, consumer lag and throughput of the processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<ProcessorStatus>,

    /// Replicas and measured rate of the generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorStatus>,

    /// Readiness and dashboard URL of the serving component, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<super::serving::ServingStatus>,
}

/// Lifecycle phase of a pipeline.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing provisioned yet.
    Pending,
    /// Topics or workloads are being created or are not ready yet.
    Provisioning,
    /// Topics exist and the processor is consuming.
    Running,
    /// Was running, but something is wrong now (Kafka unreachable, processor
    /// down, a spec change that cannot be applied); see conditions.
    Degraded,
    /// The spec cannot be satisfied; the operator waits for a spec change.
    Failed,
}

/// Observed state of one Kafka topic.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatus {
    /// Role of the topic in the pipeline: input, sales, segments, anomalies,
    /// hourly, top-products or dead-letter.
    pub role: String,
    /// Kafka topic name.
    pub name: String,
    /// Partitions the topic has in Kafka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<i32>,
    /// Replication factor the topic has in Kafka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_factor: Option<i32>,
    /// Whether the topic exists and matches the spec, as last verified.
    pub ready: bool,
    /// How the pipeline came to use the topic: `Created` (it created the
    /// topic), `Adopted` (the topic existed and `spec.topics.<role>.adopt`
    /// is set) or `External` (the topic existed and is used as it is). Only
    /// `Created` and `Adopted` topics are ever changed or, with
    /// `deletionPolicy: Delete`, deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<TopicOrigin>,
    /// Whether the pipeline manages the topic: `origin` is `Created` or
    /// `Adopted`.
    #[serde(default)]
    pub managed: bool,
    /// Why the topic is not ready, if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a pipeline came to use a topic; decides whether it may change or
/// delete it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicOrigin {
    /// The pipeline created the topic: it manages and may delete it.
    Created,
    /// The topic existed and the spec adopts it: managed like `Created`.
    Adopted,
    /// The topic existed and is not adopted: used as it is, never changed
    /// or deleted.
    External,
}

impl TopicOrigin {
    /// Whether the pipeline may change the topic and delete it.
    pub fn is_managed(self) -> bool {
        matches!(self, TopicOrigin::Created | TopicOrigin::Adopted)
    }
}

impl TopicStatus {
    /// The origin this status records. Statuses written before `origin`
    /// existed only say `managed`: the operator then managed the topic
    /// (it had created it, or found it matching the spec), and keeps
    /// managing it as created.
    pub fn recorded_origin(&self) -> Option<TopicOrigin> {
        self.origin.or(self.managed.then_some(TopicOrigin::Created))
    }
}

/// A managed topic the spec no longer uses.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetiredTopic {
    /// Kafka topic name.
    pub name: String,
    /// The role it played.
    pub role: String,
    /// `Created` or `Adopted`.
    pub origin: TopicOrigin,
}

/// Replicas, lag and throughput of the processor consumer group.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessorStatus {
    /// Ready and desired replicas as `ready/desired`, e.g. `2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<String>,
    /// Processor pods that are ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Processor pods requested by the spec.
    #[serde(default)]
    pub desired_replicas: i32,
    /// Label selector of the processor's pods, for the scale subresource
    /// (`kubectl scale`, a HorizontalPodAutoscaler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Kafka consumer group id of the processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<String>,
    /// Sum of the per-partition lag of the input topic, in records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_lag: Option<i64>,
    /// Lag of each input partition. A partition without a committed offset
    /// counts its whole retained backlog as lag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["partition"]))]
    pub partition_lag: Vec<PartitionLag>,
    /// Age in seconds of the oldest record the group has not consumed yet
    /// (0 when fully caught up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    /// Records appended to the input topic per second, measured from
    /// log-end offsets between two observations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_events_per_second: Option<f64>,
    /// Records appended to the output topics per second, measured the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_records_per_second: Option<f64>,
    /// Partials records the processor's merge stage (consumer group
    /// `<consumerGroup>-merge`) has not processed yet. Grows while the merge
    /// is stalled even when `totalLag` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_lag: Option<i64>,
    /// Event time up to which windowed results are final (the merge
    /// stage's watermark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Time>,
    /// Input partitions holding the watermark back (at most 8 listed):
    /// those without any data yet, else those furthest behind. A partition
    /// without data holds every window open until it is idle for
    /// `idlePartitionTimeoutSeconds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["partition"]))]
    pub watermark_held_by: Vec<WatermarkHold>,
    /// Input partitions left out of the watermark as idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_partitions: Option<i32>,
    /// The worst lag verdict over the processor's consumer groups (its
    /// group on the input topic and its merge stage's): `OK`, `WARN` (lag
    /// growing), `STALL` (committed offset not moving while records wait)
    /// or `STOP` (no active consumer while records wait). Judged over the
    /// operator's `--lag-window`; absent while lag cannot be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_verdict: Option<super::LagVerdict>,
    /// The verdict of each consumer group, with its reason and the
    /// partitions that are not `OK`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["group"]))]
    pub lag_verdicts: Vec<super::GroupLagVerdict>,
    /// The autoscaler's decision, when `spec.processor.autoscaling` is
    /// enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<super::AutoscalingStatus>,
    /// When lag and throughput were last measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<Time>,
}

/// An input partition that holds the event-time watermark back.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WatermarkHold {
    /// Input partition number.
    pub partition: i32,
    /// The largest event time read from it; absent when it has not had any
    /// data yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<Time>,
}

/// Lag of one input partition.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartitionLag {
    /// Partition number.
    pub partition: i32,
    /// Offset of the next record to be appended to the partition.
    pub log_end_offset: i64,
    /// Offset the consumer group committed; absent when it never committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_offset: Option<i64>,
    /// Records not consumed yet: log end minus committed offset, or the
    /// partition's whole retained backlog when nothing was committed.
    pub lag: i64,
}

/// Replicas and measured rate of the generator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorStatus {
    /// Generator pods that are ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Generator pods requested by the spec.
    #[serde(default)]
    pub desired_replicas: i32,
    /// Events per second the generator achieved, as reported by its metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_events_per_second: Option<f64>,
}
