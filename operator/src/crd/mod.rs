//! The `AnalyticsPipeline` custom resource, declared once.
//!
//! Everything that describes the resource lives here: the spec a user writes
//! ([`spec`], [`topics`], [`workloads`]), the status the operator writes
//! ([`status`]) and the generated CustomResourceDefinition ([`definition`]).
//! Doc comments on these types become `kubectl explain` text, so they are
//! written for the user, not for the implementer.

pub mod alerts;
pub mod autoscaling;
pub mod definition;
pub mod kafka_security;
pub mod lag_verdict;
pub mod network_policy;
pub mod serving;
pub mod spec;
pub mod status;
pub mod topics;
pub mod workloads;

pub use alerts::AlertsSpec;
pub use autoscaling::{AutoscalingSpec, AutoscalingStatus};
pub use definition::{CRD_FILE, crd_yaml};
pub use kafka_security::{
    AuthenticationType, CertAndKeySecretSource, CertSecretSource, KafkaAuthentication, KafkaTls,
    KafkaUserSpec, PasswordSecretSource,
};
pub use lag_verdict::{GroupLagVerdict, LagVerdict, PartitionLagVerdict};
pub use network_policy::PipelineNetworkPolicy;
pub use serving::{
    ClvModel, RedisSpec, RedisStorage, SecretKey, ServingClv, ServingSpec, ServingStatus,
    ServingTtl,
};
pub use spec::{AnalyticsPipeline, AnalyticsPipelineSpec, DeletionPolicy, KafkaConnection};
pub use status::{
    AnalyticsPipelineStatus, GeneratorStatus, PartitionLag, Phase, ProcessorStatus, RetiredTopic,
    TopicOrigin, TopicStatus, WatermarkHold,
};
pub use topics::{TopicSpec, TopicsSpec};
pub use workloads::{GeneratorSchema, GeneratorSpec, ProcessorSpec};

/// API group of every resource this project defines.
pub const GROUP: &str = "analytics.shopstream.dev";
/// API version of the `AnalyticsPipeline` resource.
pub const VERSION: &str = "v1alpha1";
