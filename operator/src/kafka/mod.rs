//! Everything the operator asks of Kafka: topic administration in direct
//! mode and the lag/throughput measurements behind the status.

mod admin;
mod connections;
mod group_offsets;
mod lag;
mod native;
mod topic_queries;

pub use admin::{ExistingTopic, KafkaAdmin};
pub use connections::KafkaConnections;
pub use lag::{LagQuery, LagSample, LagSampler, OffsetObservation, RateTracker, rate_between};
