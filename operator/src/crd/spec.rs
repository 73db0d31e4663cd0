use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kafka_security::{KafkaAuthentication, KafkaTls, KafkaUserSpec};
use super::serving::ServingSpec;
use super::status::AnalyticsPipelineStatus;
use super::topics::TopicsSpec;
use super::workloads::{GeneratorSpec, ProcessorSpec};

/// A real-time e-commerce analytics pipeline: Kafka topics, a load generator
/// and a windowed analytics processor, reconciled by the shopstream operator.
// clippy reads the repeated `type_ = "..."` of the printer columns as
// duplicated attributes; they are separate columns.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "analytics.shopstream.dev",
    version = "v1alpha1",
    kind = "AnalyticsPipeline",
    plural = "analyticspipelines",
    singular = "analyticspipeline",
    shortname = "ap",
    category = "analytics",
    namespaced,
    status = "AnalyticsPipelineStatus",
    derive = "PartialEq",
    // `kubectl scale analyticspipeline/shop --replicas=3` and an HPA set
    // the processor's replicas; the selector finds its pods for metrics.
    scale(
        spec_replicas_path = ".spec.processor.replicas",
        status_replicas_path = ".status.processor.readyReplicas",
        label_selector_path = ".status.processor.selector"
    ),
    // The name becomes part of child object names with Kubernetes' tighter
    // limits: the `<name>-metrics` Service needs a DNS-1035 label, and a
    // StatefulSet's pods carry `<name>-processor-<revision hash>` in a
    // 63-character label, which leaves 42 characters for the name. Refusing
    // it at `kubectl apply` beats a pipeline that half-exists.
    validation = Rule::new(
        "self.metadata.name.size() <= 42 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    ).message(
        "the pipeline name must be at most 42 characters of lowercase letters, digits and '-', start with a letter and end with a letter or digit (it names the pipeline's Service and StatefulSet)"
    ),
    doc = "A real-time e-commerce analytics pipeline: Kafka topics, a purchase-event generator and a windowed analytics processor.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase of the pipeline"
    ),
    printcolumn(
        name = "Partitions",
        type_ = "integer",
        json_path = ".spec.topics.input.partitions",
        description = "Partitions of the input topic"
    ),
    printcolumn(
        name = "Processors",
        type_ = "string",
        json_path = ".status.processor.replicas",
        description = "Ready/desired processor replicas"
    ),
    printcolumn(
        name = "Lag",
        type_ = "integer",
        json_path = ".status.processor.totalLag",
        description = "Records the processor group has not consumed yet"
    ),
    printcolumn(
        name = "Verdict",
        type_ = "string",
        json_path = ".status.processor.lagVerdict",
        description = "Worst lag verdict of the processor's consumer groups: OK, WARN, STALL or STOP"
    ),
    printcolumn(
        name = "Events/s",
        type_ = "number",
        json_path = ".status.processor.inputEventsPerSecond",
        description = "Input events per second, measured from offsets"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.networkPolicy) || !self.networkPolicy.enabled || has(self.networkPolicy.kafkaPeers) || has(self.kafka.strimziCluster)").message("networkPolicy.enabled needs networkPolicy.kafkaPeers (the brokers' pods or addresses), unless kafka.strimziCluster names a Strimzi cluster in the pipeline's namespace"))]
#[x_kube(validation = Rule::new("!has(self.networkPolicy) || !self.networkPolicy.enabled || !has(self.serving) || (has(self.serving.enabled) && !self.serving.enabled) || has(self.networkPolicy.redisPeers) || (has(self.serving.redis.managed) && self.serving.redis.managed)").message("networkPolicy.enabled with serving needs networkPolicy.redisPeers (where Redis is), unless serving.redis.managed"))]
pub struct AnalyticsPipelineSpec {
    /// How to reach the Kafka cluster that holds the pipeline's topics.
    pub kafka: KafkaConnection,

    /// The input, output and dead-letter topics. Every topic has a default
    /// name unique to the pipeline (`<namespace>.<pipeline>.<role>`), 3
    /// partitions and replication factor 1. A topic that already exists and
    /// was not created by the pipeline is used but never changed or deleted,
    /// unless its `adopt` is set.
    #[serde(default)]
    pub topics: TopicsSpec,

    /// The purchase-event load generator that feeds the input topic.
    #[serde(default)]
    pub generator: GeneratorSpec,

    /// The analytics processor: a Kafka consumer group computing windowed
    /// sales analytics from the input topic.
    #[serde(default)]
    pub processor: ProcessorSpec,

    /// The serving component: the results in Redis with the original
    /// system's keys, and a live dashboard. Off unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<ServingSpec>,

    /// Thresholds of the alerts on the pipeline's alerts topic besides lag
    /// verdicts (docs/alerts.md); defaults when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<super::AlertsSpec>,

    /// What happens to the Kafka topics the pipeline created (or adopted)
    /// when the pipeline is deleted, or when the spec renames one of them:
    /// `Retain` (default) leaves them and their data in Kafka, `Delete`
    /// removes them. Topics the pipeline did not create are never deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// NetworkPolicies around the pipeline's pods: egress only to Kafka,
    /// DNS and (serving) Redis; ingress only to the metrics and dashboard
    /// port. Off unless `enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<super::PipelineNetworkPolicy>,
}

/// Connection to the Kafka cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.authentication) || self.authentication.type != 'tls' || has(self.tls)").message("authentication type tls is a client certificate, which needs tls (trustedCertificates)"))]
#[x_kube(validation = Rule::new("!has(self.authentication) || (has(self.user) && self.user.create) || (self.authentication.type == 'tls' ? has(self.authentication.certificateAndKey) : has(self.authentication.username) && has(self.authentication.passwordSecret))").message("authentication type tls needs certificateAndKey; scram-sha-512 and scram-sha-256 need username and passwordSecret (unless user.create, where the KafkaUser's Secret provides them)"))]
#[x_kube(validation = Rule::new("!has(self.user) || !self.user.create || has(self.strimziCluster)").message("user.create needs strimziCluster: the KafkaUser is labelled strimzi.io/cluster=<strimziCluster> for that cluster's User Operator"))]
#[x_kube(validation = Rule::new("!has(self.user) || !self.user.create || (has(self.authentication) && (self.authentication.type == 'scram-sha-512' || self.authentication.type == 'tls'))").message("user.create needs authentication.type scram-sha-512 or tls, the types of a Strimzi KafkaUser"))]
#[x_kube(validation = Rule::new("!has(self.user) || !self.user.create || !has(self.authentication) || (!has(self.authentication.username) && !has(self.authentication.passwordSecret) && !has(self.authentication.certificateAndKey))").message("with user.create, give only authentication.type: the operator takes the user name and Secret from the KafkaUser it creates"))]
pub struct KafkaConnection {
    /// Comma-separated `host:port` list of Kafka brokers used by the operator
    /// (topic administration, lag measurement) and by the generator and
    /// processor pods, e.g. `my-cluster-kafka-bootstrap.kafka:9092`.
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^[^,:\s]+:[0-9]{1,5}(,\s*[^,:\s]+:[0-9]{1,5})*$")
    )]
    pub bootstrap_servers: String,

    /// Name of a Strimzi `Kafka` cluster in the pipeline's namespace. When
    /// set, topics are provisioned as Strimzi `KafkaTopic` resources labelled
    /// `strimzi.io/cluster=<name>`; when unset, the operator creates them
    /// directly through the Kafka admin API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub strimzi_cluster: Option<String>,

    /// TLS to the brokers. Unset: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,

    /// How the operator, the generator and the processor authenticate.
    /// Unset: anonymously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<KafkaAuthentication>,

    /// A Strimzi `KafkaUser` the operator creates for the pipeline, with
    /// exactly the ACLs it needs (`create: true`). Unset: the user named in
    /// `authentication` is managed elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<KafkaUserSpec>,
}

/// What happens to a pipeline's Kafka topics when the pipeline is deleted.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Keep the topics and their data.
    #[default]
    Retain,
    /// Delete the topics the pipeline created or adopted.
    Delete,
}
