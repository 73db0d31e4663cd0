//! Flags and environment variables of `serving`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use shopstream_common::contract::{processor, serving as env, shared};
use shopstream_common::logging::LogFormat;

use crate::keys::KeySpace;
use crate::records::Output;
use crate::writer::{RedisTarget, WriteError};
use crate::writes::Ttls;

/// Serves a pipeline's results: consumes its output topics (committed
/// transactions only), writes them to Redis with the original system's keys
/// and values, and serves a live dashboard and a JSON API. See
/// docs/serving.md.
///
/// No `Debug`: the Redis password is one of the fields.
#[derive(Parser, Clone)]
#[command(
    name = "serving",
    version,
    after_help = "Environment only: RUST_LOG (log filter, default info)."
)]
pub struct Args {
    /// Kafka bootstrap servers (host:port, comma separated).
    #[arg(long, env = shared::KAFKA_BOOTSTRAP_SERVERS, default_value = "127.0.0.1:9092")]
    pub bootstrap_servers: String,
    /// TLS and authentication to Kafka (the pipeline's credential, mounted
    /// by the operator as for the processor).
    #[command(flatten)]
    pub kafka_security: kafka_security::KafkaSecurityArgs,
    /// Consumer group of this component (its own, not the processor's).
    #[arg(long, env = env::GROUP_ID, default_value = "shopstream-serving")]
    pub group_id: String,
    /// The processor's consumer group: the pipeline's lag and input rate on
    /// the dashboard are read from its committed offsets (never joined).
    #[arg(long, env = processor::GROUP_ID, default_value = "shopstream-processor")]
    pub processor_group_id: String,
    /// The pipeline's input topic (for its lag and events/s only).
    #[arg(long, env = processor::INPUT_TOPIC, default_value = "purchases")]
    pub input_topic: String,
    #[arg(long, env = processor::SALES_TOPIC, default_value = "sales")]
    pub sales_topic: String,
    #[arg(long, env = processor::SEGMENTS_TOPIC, default_value = "segments")]
    pub segments_topic: String,
    #[arg(long, env = processor::HOURLY_TOPIC, default_value = "hourly")]
    pub hourly_topic: String,
    #[arg(long, env = processor::TOP_PRODUCTS_TOPIC, default_value = "top-products")]
    pub top_products_topic: String,
    #[arg(long, env = processor::ANOMALIES_TOPIC, default_value = "anomalies")]
    pub anomalies_topic: String,
    /// Redis, host:port.
    #[arg(long, env = env::REDIS_ADDRESS, default_value = "127.0.0.1:6379")]
    pub redis_address: String,
    /// Redis password (AUTH), if Redis requires one. Prefer the environment
    /// variable: a flag shows in the process list.
    #[arg(long, env = env::REDIS_PASSWORD, hide_env_values = true)]
    pub redis_password: Option<String>,
    /// Namespace of the pipeline: keys are `shopstream:<namespace>:<pipeline>:…`.
    #[arg(long, env = env::PIPELINE_NAMESPACE, default_value = "default")]
    pub pipeline_namespace: String,
    /// Name of the pipeline (see --pipeline-namespace).
    #[arg(long, env = env::PIPELINE_NAME, default_value = "shopstream")]
    pub pipeline_name: String,
    /// TTL of the aggregate keys (hourly, rankings, windows, anomalies), s.
    #[arg(long, env = env::AGGREGATES_TTL_SECONDS, default_value_t = 7200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub aggregates_ttl_seconds: u64,
    /// TTL of the CLV keys, s.
    #[arg(long, env = env::CLV_TTL_SECONDS, default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub clv_ttl_seconds: u64,
    /// The CLV model of the `clv:` keys: `rfm` (recency, frequency and
    /// monetary value of the user's history) or `original-rules` (the
    /// original's segment multiple of the latest purchase).
    #[arg(long, env = env::CLV_MODEL, value_enum, default_value_t = ClvModel::Rfm)]
    pub clv_model: ClvModel,
    /// The compacted per-user history topic (the CLV input); unset or
    /// empty: no `clv:` keys.
    #[arg(long, env = processor::USER_HISTORY_TOPIC)]
    pub user_history_topic: Option<String>,
    /// Records per Redis transaction (and per offset commit), at most.
    #[arg(long, env = env::MAX_BATCH_RECORDS, default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_batch_records: u64,
    /// A batch is written at the latest this long after its first record, ms.
    #[arg(long, env = env::FLUSH_INTERVAL_MS, default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub flush_interval_ms: u64,
    /// Address of the dashboard, the JSON API, /metrics, /healthz, /readyz.
    #[arg(long, env = shared::METRICS_ADDR, default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Log format; filter with RUST_LOG (default info).
    #[arg(long, env = shared::LOG_FORMAT, value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--clv-model` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClvModel {
    Rfm,
    OriginalRules,
}

impl ClvModel {
    pub fn model(self) -> crate::clv::Model {
        match self {
            ClvModel::Rfm => crate::clv::Model::Rfm,
            ClvModel::OriginalRules => crate::clv::Model::OriginalRules,
        }
    }
}

impl Args {
    pub fn keys(&self) -> KeySpace {
        KeySpace::for_pipeline(&self.pipeline_namespace, &self.pipeline_name)
    }

    pub fn ttls(&self) -> Ttls {
        Ttls {
            aggregates: self.aggregates_ttl_seconds,
            clv: self.clv_ttl_seconds,
        }
    }

    pub fn redis_target(&self) -> Result<RedisTarget, WriteError> {
        let password = self.redis_password.clone().filter(|p| !p.is_empty());
        RedisTarget::parse(&self.redis_address, password)
    }

    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// The output topics and what each carries.
    pub fn topics(&self) -> Vec<(String, Output)> {
        vec![
            (self.sales_topic.clone(), Output::Sales),
            (self.segments_topic.clone(), Output::Segments),
            (self.hourly_topic.clone(), Output::Hourly),
            (self.top_products_topic.clone(), Output::TopProducts),
            (self.anomalies_topic.clone(), Output::Anomalies),
        ]
        .into_iter()
        .chain(
            self.user_history_topic
                .clone()
                .filter(|topic| !topic.is_empty())
                .map(|topic| (topic, Output::UserHistory)),
        )
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_originals_ttls() {
        let args = Args::try_parse_from(["serving"]).unwrap();
        assert_eq!(args.ttls(), Ttls::default());
        assert_eq!(args.topics().len(), 5);
        assert_eq!(args.clv_model, ClvModel::Rfm);
        let with_clv = Args::try_parse_from([
            "serving",
            "--user-history-topic",
            "h",
            "--clv-model",
            "original-rules",
        ])
        .unwrap();
        assert_eq!(with_clv.topics().len(), 6);
        assert_eq!(with_clv.clv_model.model(), crate::clv::Model::OriginalRules);
        assert_eq!(args.keys(), KeySpace::for_pipeline("default", "shopstream"));
        assert!(Args::try_parse_from(["serving", "--clv-ttl-seconds", "0"]).is_err());
    }

    #[test]
    fn an_empty_password_is_no_password() {
        let args = Args::try_parse_from(["serving", "--redis-password", ""]).unwrap();
        assert!(args.redis_target().unwrap().password.is_none());
    }
}
