//! The processor's environment variables (`processor --help`).

pub const GROUP_ID: &str = "PROCESSOR_GROUP_ID";
pub const REPLICA_ID: &str = "PROCESSOR_REPLICA_ID";
pub const INPUT_TOPIC: &str = "PROCESSOR_INPUT_TOPIC";
pub const SALES_TOPIC: &str = "PROCESSOR_SALES_TOPIC";
pub const SEGMENTS_TOPIC: &str = "PROCESSOR_SEGMENTS_TOPIC";
pub const ANOMALIES_TOPIC: &str = "PROCESSOR_ANOMALIES_TOPIC";
pub const HOURLY_TOPIC: &str = "PROCESSOR_HOURLY_TOPIC";
pub const TOP_PRODUCTS_TOPIC: &str = "PROCESSOR_TOP_PRODUCTS_TOPIC";
pub const DEAD_LETTER_TOPIC: &str = "PROCESSOR_DEAD_LETTER_TOPIC";
pub const PARTIALS_TOPIC: &str = "PROCESSOR_PARTIALS_TOPIC";
/// Optional: the compacted per-user history topic (CLV input); unset or
/// empty, no user history is computed.
pub const USER_HISTORY_TOPIC: &str = "PROCESSOR_USER_HISTORY_TOPIC";
/// Optional: the pipeline's alerts topic; unset or empty, no alerts.
pub const ALERTS_TOPIC: &str = "PROCESSOR_ALERTS_TOPIC";
/// `namespace/name` of the pipeline, for the alerts.
pub const PIPELINE: &str = "PROCESSOR_PIPELINE";
pub const ALERT_DEAD_LETTERS_PER_MINUTE: &str = "PROCESSOR_ALERT_DEAD_LETTERS_PER_MINUTE";
pub const ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE: &str =
    "PROCESSOR_ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE";
pub const ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS: &str =
    "PROCESSOR_ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS";
pub const SALES_WINDOW_SECONDS: &str = "PROCESSOR_SALES_WINDOW_SECONDS";
pub const SEGMENT_WINDOW_SECONDS: &str = "PROCESSOR_SEGMENT_WINDOW_SECONDS";
pub const HOURLY_WINDOW_SECONDS: &str = "PROCESSOR_HOURLY_WINDOW_SECONDS";
pub const ALLOWED_LATENESS_SECONDS: &str = "PROCESSOR_ALLOWED_LATENESS_SECONDS";
pub const ANOMALY_THRESHOLD: &str = "PROCESSOR_ANOMALY_THRESHOLD";
pub const MAX_SEGMENTS_PER_WINDOW: &str = "PROCESSOR_MAX_SEGMENTS_PER_WINDOW";
pub const FLUSH_INTERVAL_MS: &str = "PROCESSOR_FLUSH_INTERVAL_MS";
pub const MAX_BATCH_RECORDS: &str = "PROCESSOR_MAX_BATCH_RECORDS";
pub const IDLE_PARTITION_TIMEOUT_SECONDS: &str = "PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS";
pub const MAX_EVENT_TIME_SKEW_SECONDS: &str = "PROCESSOR_MAX_EVENT_TIME_SKEW_SECONDS";
pub const MERGE_STATE_LIMIT_MB: &str = "PROCESSOR_MERGE_STATE_LIMIT_MB";
pub const PRODUCE_TIMEOUT_MS: &str = "PROCESSOR_PRODUCE_TIMEOUT_MS";

/// The Kafka names the processor derives from its group id
/// ([`GROUP_ID`]). The operator grants ACLs on exactly these (a created
/// Strimzi `KafkaUser`) and reads the merge stage's progress, so both
/// sides take them from here.
pub mod kafka_names {
    /// Stage 2's consumer group (the partials topic).
    pub fn merge_group(group_id: &str) -> String {
        format!("{group_id}-merge")
    }

    /// The prefix of stage 1's transactional ids: one per replica, the
    /// prefix followed by the replica id.
    pub fn stage1_transactional_id_prefix(group_id: &str) -> String {
        format!("{group_id}-stage1-")
    }
}
