//! The validated pipeline: what every later reconcile step works from, once
//! `reconcile::validate` has resolved the spec (defaults, names, images).
//! Infrastructure (`workloads/`, `kafka/`, `status/`) and the reconcile
//! steps all depend on this module; it depends only on the CRD types, so no
//! infrastructure module needs the orchestrator (`reconcile/`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::ResourceExt;
use shopstream_common::contract::processor::kafka_names;

use crate::crd::{
    AnalyticsPipeline, DeletionPolicy, GeneratorSchema, ProcessorSpec, RedisStorage, ServingSpec,
    TopicSpec, TopicsSpec,
};

/// The generator image of pipelines that do not name one (`--generator-image`).
pub const DEFAULT_GENERATOR_IMAGE: &str =
    concat!("shopstream/generator:", env!("CARGO_PKG_VERSION"));
/// The processor image of pipelines that do not name one (`--processor-image`).
pub const DEFAULT_PROCESSOR_IMAGE: &str =
    concat!("shopstream/processor:", env!("CARGO_PKG_VERSION"));

/// The serving image of pipelines that do not name one (`--serving-image`).
pub const DEFAULT_SERVING_IMAGE: &str = concat!("shopstream/serving:", env!("CARGO_PKG_VERSION"));

/// The managed Redis image of pipelines that do not name one
/// (`--redis-image`): an official Redis 7 image (user 999, `redis-server`
/// and `redis-cli` on its PATH).
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7.4";

/// The key of everything the operator keeps per pipeline: `namespace/name`.
pub fn pipeline_key(p: &AnalyticsPipeline) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

/// The role a topic plays in the pipeline; also the suffix of its default
/// name, and its `role` in the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicRole {
    Input,
    Sales,
    Segments,
    Anomalies,
    Hourly,
    TopProducts,
    DeadLetter,
    /// The internal topic between the processor's two stages (partial
    /// aggregates and watermark markers; docs/processor.md). Not in the
    /// spec: it follows the input topic's size.
    Partials,
    /// Alerts the operator writes (lag verdict changes; docs/alerts.md), in
    /// the original system's `system-alerts` format. Not in the spec: one
    /// partition, so alerts keep their order.
    Alerts,
    /// Per-user purchase history (the CLV input of serving;
    /// docs/processor.md), written by the processor. Not in the spec:
    /// compacted (one record per user), sized like the sales topic.
    UserHistory,
}

impl TopicRole {
    /// Every role, in the order topics are provisioned (the input first).
    pub const ALL: [TopicRole; 10] = [
        TopicRole::Input,
        TopicRole::Sales,
        TopicRole::Segments,
        TopicRole::Anomalies,
        TopicRole::Hourly,
        TopicRole::TopProducts,
        TopicRole::DeadLetter,
        TopicRole::Partials,
        TopicRole::Alerts,
        TopicRole::UserHistory,
    ];

    /// The roles the processor writes results to (what throughput counts).
    pub const OUTPUTS: [TopicRole; 6] = [
        TopicRole::Sales,
        TopicRole::Segments,
        TopicRole::Anomalies,
        TopicRole::Hourly,
        TopicRole::TopProducts,
        TopicRole::DeadLetter,
    ];

    /// Suffix used in default topic names and in status.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicRole::Input => "input",
            TopicRole::Sales => "sales",
            TopicRole::Segments => "segments",
            TopicRole::Anomalies => "anomalies",
            TopicRole::Hourly => "hourly",
            TopicRole::TopProducts => "top-products",
            TopicRole::DeadLetter => "dead-letter",
            TopicRole::Partials => "partials",
            TopicRole::Alerts => "alerts",
            TopicRole::UserHistory => "user-history",
        }
    }

    /// The role a status entry names (`None` for a role this operator does
    /// not know, e.g. written by a newer one).
    pub fn parse(role: &str) -> Option<TopicRole> {
        TopicRole::ALL.into_iter().find(|r| r.as_str() == role)
    }

    /// The role's field under `spec.topics`, for messages; `None` for the
    /// partials and alerts topics, which the spec does not configure.
    pub fn spec_field(self) -> Option<&'static str> {
        match self {
            TopicRole::Input => Some("input"),
            TopicRole::Sales => Some("sales"),
            TopicRole::Segments => Some("segments"),
            TopicRole::Anomalies => Some("anomalies"),
            TopicRole::Hourly => Some("hourly"),
            TopicRole::TopProducts => Some("topProducts"),
            TopicRole::DeadLetter => Some("deadLetter"),
            TopicRole::Partials | TopicRole::Alerts | TopicRole::UserHistory => None,
        }
    }

    /// The spec of the topic playing this role; `None` for the partials
    /// and alerts topics.
    pub fn spec(self, topics: &TopicsSpec) -> Option<&TopicSpec> {
        match self {
            TopicRole::Input => Some(&topics.input),
            TopicRole::Sales => Some(&topics.sales),
            TopicRole::Segments => Some(&topics.segments),
            TopicRole::Anomalies => Some(&topics.anomalies),
            TopicRole::Hourly => Some(&topics.hourly),
            TopicRole::TopProducts => Some(&topics.top_products),
            TopicRole::DeadLetter => Some(&topics.dead_letter),
            TopicRole::Partials | TopicRole::Alerts | TopicRole::UserHistory => None,
        }
    }

    /// Position in [`TopicRole::ALL`].
    fn index(self) -> usize {
        self as usize
    }
}

/// A topic as the pipeline needs it in Kafka.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredTopic {
    pub role: TopicRole,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
    /// The spec adopts the topic if it exists and was not created by the
    /// pipeline (`spec.topics.<role>.adopt`).
    pub adopt: bool,
}

/// Everything the later reconcile steps need, resolved and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedPipeline {
    pub name: String,
    pub namespace: String,
    pub bootstrap_servers: String,
    pub strimzi_cluster: Option<String>,
    /// TLS and authentication to Kafka, as Secret references.
    pub kafka_security: crate::kafka_security::KafkaSecurityRefs,
    /// A digest of the `resourceVersion`s of the Secrets `kafka_security`
    /// names, once the reconcile has read them; in the pods' template, so
    /// they restart when a Secret changes.
    pub kafka_secrets_revision: Option<String>,
    /// One topic per role, in [`TopicRole::ALL`] order (the input first).
    pub topics: [DesiredTopic; 10],
    pub consumer_group: String,
    pub generator: Option<GeneratorSettings>,
    pub processor: ProcessorSettings,
    /// `None` unless `spec.serving.enabled`.
    pub serving: Option<ServingSettings>,
    pub deletion_policy: DeletionPolicy,
    /// `None` unless `spec.networkPolicy.enabled`; every default resolved.
    pub network_policy: Option<NetworkPolicySettings>,
    /// Alert thresholds (`spec.alerts`, defaults when unset).
    pub alerts: crate::crd::AlertsSpec,
    /// Non-fatal findings worth telling the user (e.g. idle replicas).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSettings {
    pub image: String,
    pub replicas: i32,
    /// Per replica: the spec's rate is split evenly.
    pub events_per_second_per_replica: f64,
    pub schema: GeneratorSchema,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorSettings {
    pub image: String,
    pub spec: ProcessorSpec,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServingSettings {
    pub image: String,
    pub spec: ServingSpec,
    /// `host:port` serving writes to: `spec.serving.redis.address`, or the
    /// managed Redis's Service.
    pub redis_address: String,
    /// `Some` with `spec.serving.redis.managed: true`.
    pub managed_redis: Option<ManagedRedisSettings>,
}

/// The Redis the operator deploys for the pipeline, every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedRedisSettings {
    pub image: String,
    pub storage: RedisStorage,
    pub resources: ResourceRequirements,
}

/// `spec.networkPolicy` with its defaults resolved and checked
/// (`reconcile::network_policy_settings`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPolicySettings {
    pub kafka_peers: Vec<NetworkPolicyPeer>,
    /// Sorted, without duplicates.
    pub kafka_ports: Vec<i32>,
    /// The peers and port of Redis; `Some` exactly when serving runs.
    pub redis: Option<(Vec<NetworkPolicyPeer>, i32)>,
    pub dns_peers: Vec<NetworkPolicyPeer>,
    /// Empty: any source.
    pub metrics_from: Vec<NetworkPolicyPeer>,
    /// Empty: any source.
    pub dashboard_from: Vec<NetworkPolicyPeer>,
}

/// Images used when the spec does not name one; set by operator flags.
#[derive(Clone, Debug)]
pub struct DefaultImages {
    pub generator: String,
    pub processor: String,
    pub serving: String,
    /// The managed Redis's (`spec.serving.redis.managed: true`).
    pub redis: String,
}

impl Default for DefaultImages {
    fn default() -> Self {
        Self {
            generator: DEFAULT_GENERATOR_IMAGE.into(),
            processor: DEFAULT_PROCESSOR_IMAGE.into(),
            serving: DEFAULT_SERVING_IMAGE.into(),
            redis: DEFAULT_REDIS_IMAGE.into(),
        }
    }
}

impl ValidatedPipeline {
    /// The topic playing `role` (every role has one).
    pub fn topic(&self, role: TopicRole) -> &DesiredTopic {
        &self.topics[role.index()]
    }

    /// Name of the topic playing `role`.
    pub fn topic_name(&self, role: TopicRole) -> &str {
        &self.topic(role).name
    }

    /// The processor's stage 2 consumer group.
    pub fn merge_group(&self) -> String {
        kafka_names::merge_group(&self.consumer_group)
    }

    /// The prefix of the processor's stage 1 transactional ids.
    pub fn transactional_id_prefix(&self) -> String {
        kafka_names::stage1_transactional_id_prefix(&self.consumer_group)
    }

    pub fn input_partitions(&self) -> i32 {
        self.topic(TopicRole::Input).partitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_listed_in_index_order_and_round_trip() {
        for (i, role) in TopicRole::ALL.into_iter().enumerate() {
            assert_eq!(role.index(), i);
            assert_eq!(TopicRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(TopicRole::parse("partials"), Some(TopicRole::Partials));
        assert_eq!(TopicRole::parse("unknown"), None);
        assert_eq!(TopicRole::Partials.spec_field(), None);
        assert_eq!(TopicRole::parse("alerts"), Some(TopicRole::Alerts));
        assert_eq!(TopicRole::Alerts.spec_field(), None);
        assert_eq!(
            TopicRole::parse("user-history"),
            Some(TopicRole::UserHistory)
        );
        assert_eq!(TopicRole::UserHistory.spec_field(), None);
        assert!(TopicRole::OUTPUTS.iter().all(|r| r.spec_field().is_some()));
    }
}
