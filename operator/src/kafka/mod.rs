//! Everything the operator asks of Kafka: topic administration in direct
//! mode and the lag/throughput measurements behind the status.

mod admin;
mod connections;
mod group_offsets;
mod lag;
mod native;
mod oldest_record_probe;
mod topic_queries;

pub use admin::{ExistingTopic, KafkaAdmin};
pub use connections::KafkaConnections;
pub use lag::{LagQuery, LagSample, LagSampler, OffsetObservation, RateTracker, rate_between};
pub use oldest_record_probe::{OldestRecordProbe, TOPICS_PER_CONSUMER};
