//! Flags and environment variables of `processor`.

use std::net::SocketAddr;

use clap::Parser;
use shopstream_common::contract::{processor as env, shared};
use shopstream_common::logging::LogFormat;

use super::alerts::AlertRules;
use super::error::ProcessorError;
use super::memory;
use super::merge::MergeConfig;
use super::preagg::WindowConfig;
use super::validate::InputRules;

/// Real-time purchase analytics: windowed sales, segments, hourly, top
/// products and anomalies from the purchase-event topic, exact with any
/// number of replicas and across crashes. See docs/processor.md.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "processor",
    version,
    after_help = "Environment only: MALLOC_ARENA_MAX (default 2: the binary caps glibc's malloc \
                  arenas unless this is set), RUST_LOG (log filter, default info)."
)]
pub struct Args {
    /// Kafka bootstrap servers (host:port, comma separated).
    #[arg(
        long,
        env = shared::KAFKA_BOOTSTRAP_SERVERS,
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_servers: String,
    /// TLS and authentication to Kafka.
    #[command(flatten)]
    pub kafka_security: kafka_security::KafkaSecurityArgs,
    /// Consumer group of stage 1 (pre-aggregate). Stage 2 (merge) uses
    /// `<group>-merge`; transactional ids derive from it too.
    #[arg(
        long,
        env = env::GROUP_ID,
        default_value = "shopstream-processor"
    )]
    pub group_id: String,
    /// Identity of this replica among the group (stable across restarts,
    /// unique among live replicas); defaults to $HOSTNAME, else "0".
    #[arg(long, env = env::REPLICA_ID)]
    pub replica_id: Option<String>,
    /// Input topic of purchase events.
    #[arg(long, env = env::INPUT_TOPIC, default_value = "purchases")]
    pub input_topic: String,
    /// Output: 1-minute sales by category and region.
    #[arg(long, env = env::SALES_TOPIC, default_value = "sales")]
    pub sales_topic: String,
    /// Output: 2-minute metrics by user segment.
    #[arg(long, env = env::SEGMENTS_TOPIC, default_value = "segments")]
    pub segments_topic: String,
    /// Output: high-value transactions.
    #[arg(long, env = env::ANOMALIES_TOPIC, default_value = "anomalies")]
    pub anomalies_topic: String,
    /// Output: hourly sales by category.
    #[arg(long, env = env::HOURLY_TOPIC, default_value = "hourly")]
    pub hourly_topic: String,
    /// Output: hourly product ranking by revenue.
    #[arg(
        long,
        env = env::TOP_PRODUCTS_TOPIC,
        default_value = "top-products"
    )]
    pub top_products_topic: String,
    /// Invalid input records, with reason and source partition/offset.
    #[arg(
        long,
        env = env::DEAD_LETTER_TOPIC,
        default_value = "dead-letter"
    )]
    pub dead_letter_topic: String,
    /// Internal topic between the stages (partial aggregates and
    /// watermark markers).
    #[arg(
        long,
        env = env::PARTIALS_TOPIC,
        default_value = "processor-partials"
    )]
    pub partials_topic: String,
    /// Output, compacted: per-user purchase history (the CLV input of
    /// serving), one record per user, over user windows of the sales
    /// window's size. Unset or empty: not computed.
    #[arg(long, env = env::USER_HISTORY_TOPIC)]
    pub user_history_topic: Option<String>,
    /// The pipeline's alerts topic (docs/alerts.md): stage 2 writes the
    /// alerts below to it. Unset or empty: no alerts.
    #[arg(long, env = env::ALERTS_TOPIC)]
    pub alerts_topic: Option<String>,
    /// The pipeline the alerts are about (`namespace/name`): their
    /// `pipeline` field and record key. Defaults to the group id.
    #[arg(long, env = env::PIPELINE)]
    pub pipeline: Option<String>,
    /// Alert when more input records than this went to the dead-letter
    /// topic in one minute (by their record timestamps). 0: off.
    #[arg(long, env = env::ALERT_DEAD_LETTERS_PER_MINUTE, default_value_t = 0)]
    pub alert_dead_letters_per_minute: u64,
    /// Alert when more anomalies (final_amount above the anomaly
    /// threshold) than this have event times in one minute. 0: off.
    #[arg(
        long,
        env = env::ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE,
        default_value_t = 0
    )]
    pub alert_high_value_anomalies_per_minute: u64,
    /// Alert (best effort: wall clock) when a window is emitted more than
    /// this many seconds after its end + allowed lateness. 0: off.
    #[arg(
        long,
        env = env::ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS,
        default_value_t = 0
    )]
    pub alert_window_close_slower_than_seconds: u64,
    /// Sales window, seconds.
    #[arg(long, env = env::SALES_WINDOW_SECONDS, default_value_t = 60)]
    pub sales_window_seconds: u64,
    /// Segment window, seconds.
    #[arg(long, env = env::SEGMENT_WINDOW_SECONDS, default_value_t = 120)]
    pub segment_window_seconds: u64,
    /// Hourly and top-products window, seconds.
    #[arg(long, env = env::HOURLY_WINDOW_SECONDS, default_value_t = 3600)]
    pub hourly_window_seconds: u64,
    /// Allowed lateness: the watermark trails the slowest input
    /// partition's largest event time by this much.
    #[arg(long, env = env::ALLOWED_LATENESS_SECONDS, default_value_t = 10)]
    pub allowed_lateness_seconds: u64,
    /// Events with final_amount strictly above this are anomalies.
    #[arg(long, env = env::ANOMALY_THRESHOLD, default_value_t = 50_000.0)]
    pub anomaly_threshold: f64,
    /// Distinct user segments kept per segment window (per partials
    /// partition); segments beyond are grouped as `(other)` and counted in
    /// shopstream_processor_segment_overflow_events_total. `user_segment` is an open
    /// string: this bounds what a producer writing e.g. user ids into it
    /// costs in memory and output records.
    #[arg(
        long,
        env = env::MAX_SEGMENTS_PER_WINDOW,
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_segments_per_window: u32,
    /// Stage 1 seals a batch (one transaction) at this interval, or as soon
    /// as the previous one committed if that took longer; stage 2 commits
    /// at this interval. Milliseconds; part of the result latency.
    #[arg(long, env = env::FLUSH_INTERVAL_MS, default_value_t = 250)]
    pub flush_interval_ms: u64,
    /// Stage 1 also flushes after this many input records; while a batch
    /// this size waits for the previous one to commit, consumption pauses
    /// (bounds memory to two batches).
    #[arg(long, env = env::MAX_BATCH_RECORDS, default_value_t = 100_000)]
    pub max_batch_records: usize,
    /// An input partition read to its end that got no new record for this
    /// many seconds is idle: it stops holding the watermark back, so
    /// windows close without it, until its next record. 0: a partition
    /// without new data holds every window open (one idle partition then
    /// stops all output).
    #[arg(
        long,
        env = env::IDLE_PARTITION_TIMEOUT_SECONDS,
        default_value_t = 30
    )]
    pub idle_partition_timeout_seconds: u64,
    /// Events whose time is more than this many seconds ahead of the
    /// broker's clock go to the dead-letter topic instead of moving the
    /// watermark. 0 disables the check.
    #[arg(
        long,
        env = env::MAX_EVENT_TIME_SKEW_SECONDS,
        default_value_t = 300
    )]
    pub max_event_time_skew_seconds: u64,
    /// Bound of stage 2's open-window state (estimated), in MiB; at the
    /// bound the oldest windows are closed early. 0: 35 % of the
    /// container's memory limit, or 1 GiB without one.
    #[arg(long, env = env::MERGE_STATE_LIMIT_MB, default_value_t = 0)]
    pub merge_state_limit_mb: u64,
    /// Delivery timeout of produced records (librdkafka
    /// `message.timeout.ms`, also the produce request timeout), ms. A
    /// transaction whose records time out is aborted and re-read.
    #[arg(long, env = env::PRODUCE_TIMEOUT_MS, default_value_t = 30_000)]
    pub produce_timeout_ms: u64,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = shared::METRICS_ADDR, default_value = "0.0.0.0:9090")]
    pub metrics_addr: SocketAddr,
    /// Log format; filter with RUST_LOG (default info).
    #[arg(long, env = shared::LOG_FORMAT, value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn secs(name: &str, value: u64) -> Result<i64, ProcessorError> {
    let ms = value.saturating_mul(1000);
    if ms == 0 || ms > i64::MAX as u64 {
        return Err(ProcessorError::Config(format!(
            "{name} must be at least 1 second"
        )));
    }
    Ok(ms as i64)
}

impl Args {
    pub fn window_config(&self) -> Result<WindowConfig, ProcessorError> {
        if !self.anomaly_threshold.is_finite() {
            return Err(ProcessorError::Config(
                "anomaly threshold must be finite".into(),
            ));
        }
        Ok(WindowConfig {
            sales_ms: secs("sales window", self.sales_window_seconds)?,
            segments_ms: secs("segment window", self.segment_window_seconds)?,
            hourly_ms: secs("hourly window", self.hourly_window_seconds)?,
            anomaly_threshold: self.anomaly_threshold,
            users_ms: match self.user_history() {
                Some(_) => Some(secs("sales window", self.sales_window_seconds)?),
                None => None,
            },
            count_alerts: self.alert_rules().is_some_and(|r| r.counts_needed()),
        })
    }

    pub fn merge_config(&self, input_partitions: i32) -> Result<MergeConfig, ProcessorError> {
        Ok(MergeConfig {
            windows: self.window_config()?,
            input_partitions,
            lateness_ms: (self.allowed_lateness_seconds.min(i64::MAX as u64 / 1000) * 1000) as i64,
            max_segments_per_window: self.max_segments_per_window as usize,
        })
    }

    /// Stage 1's idle timeout (`idleness.rs`); `None`: never idle.
    pub fn idle_timeout_ms(&self) -> Option<i64> {
        match self.idle_partition_timeout_seconds {
            0 => None,
            s => Some((s.min(i64::MAX as u64 / 1000) * 1000) as i64),
        }
    }

    pub fn input_rules(&self) -> InputRules {
        InputRules {
            max_future_skew_ms: match self.max_event_time_skew_seconds {
                0 => None,
                s => Some((s.min(i64::MAX as u64 / 1000) * 1000) as i64),
            },
        }
    }

    /// Stage 2's memory bound in bytes.
    pub fn merge_state_bound(&self) -> usize {
        let limit = memory::cgroup_limit(std::path::Path::new("/sys/fs/cgroup"));
        memory::bound_bytes(self.merge_state_limit_mb, limit)
    }

    /// The user-history topic, if user history is on.
    pub fn user_history(&self) -> Option<&str> {
        self.user_history_topic
            .as_deref()
            .filter(|topic| !topic.is_empty())
    }

    /// The alerts topic and what raises an alert, if alerts are on.
    pub fn alerts(&self) -> Option<&str> {
        self.alerts_topic.as_deref().filter(|t| !t.is_empty())
    }

    /// What raises an alert; `None` without an alerts topic.
    pub fn alert_rules(&self) -> Option<AlertRules> {
        self.alerts()?;
        let nonzero = |n: u64| (n > 0).then_some(n);
        Some(AlertRules {
            pipeline: self
                .pipeline
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| self.group_id.clone()),
            dead_letters_per_minute: nonzero(self.alert_dead_letters_per_minute),
            high_value_anomalies_per_minute: nonzero(self.alert_high_value_anomalies_per_minute),
            anomaly_threshold: self.anomaly_threshold,
            window_close_slower_than_ms: nonzero(self.alert_window_close_slower_than_seconds)
                .map(|s| (s.min(i64::MAX as u64 / 1000) * 1000) as i64),
        })
    }

    pub fn replica(&self) -> String {
        self.replica_id
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "0".to_owned())
    }
}
