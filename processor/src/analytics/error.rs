//! The processor's error type.

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("kafka: {context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: KafkaError,
    },
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("topic `{0}` does not exist or has no partitions")]
    MissingTopic(String),
    #[error("an output record could not be delivered: {0}")]
    Delivery(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("Kafka security settings: {source}")]
    KafkaSecurity {
        #[source]
        source: kafka_security::SecurityConfigError,
    },
    #[error("reading the user-history topic back: {0}")]
    HistoryLoad(String),
    #[error("stopping took too long: {0}")]
    StopTimeout(String),
    #[error("task failed: {0}")]
    Task(String),
}

impl ProcessorError {
    pub fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> ProcessorError {
        let context = context.into();
        move |source| ProcessorError::Kafka { context, source }
    }
}

pub type Result<T, E = ProcessorError> = std::result::Result<T, E>;
