//! Everything the operator asks of Kafka: topic administration in direct
//! mode and the lag/throughput measurements behind the status, through
//! the pure-Rust `kafka-admin` client (see docs/librdkafka.md for why the
//! operator no longer links librdkafka).

mod admin;
mod connections;
mod errors;
mod group_progress;
mod lag;

pub use admin::{ExistingTopic, KafkaAdmin};
pub use connections::{ClientUse, KafkaConnections};
pub use group_progress::{CommitRate, GroupProgress};
pub use lag::{
    LagQuery, LagSample, LagSampler, MergeCommit, MergeQuery, OffsetObservation, PartitionLag,
    RateTracker, rate_between,
};
