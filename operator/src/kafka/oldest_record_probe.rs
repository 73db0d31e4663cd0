//! `lagSeconds`: the age of the oldest record the processor has not
//! consumed yet. Offsets cannot tell it; only the record itself carries its
//! timestamp, so this is the one measurement that has to fetch.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tracing::warn;

use super::topic_queries::METADATA_MAX_AGE_MS;
use crate::error::{Error, Result};

/// Upper bound on reading the oldest unconsumed records of one pipeline.
const PROBE_BUDGET: Duration = Duration::from_secs(2);

/// Input topics one consumer may have read before it is replaced.
///
/// Assigning a partition creates a topic handle and partition objects
/// (with their queues) that librdkafka keeps for the consumer's whole life:
/// ~2.4 KB for a one-partition topic and ~1.2 KB more per partition on the
/// heap profile. With hundreds of lagging pipelines that would grow for as
/// long as the operator runs; a fresh consumer starts from nothing.
pub const TOPICS_PER_CONSUMER: usize = 256;

/// Reads the first unconsumed record of each lagging partition, through a
/// consumer that never joins a group and never commits.
pub struct OldestRecordProbe {
    bootstrap_servers: String,
    topic_limit: usize,
    /// assign/poll is stateful: one probe at a time.
    state: Mutex<ProbeState>,
}

struct ProbeState {
    consumer: BaseConsumer,
    topics_read: HashSet<String>,
    /// Consumers created so far, the first included.
    consumers_created: u32,
}

fn probe_consumer(bootstrap_servers: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        // Required by librdkafka for a consumer; never used to subscribe or commit.
        .set("group.id", "shopstream-operator-probe")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("client.id", "shopstream-operator-lag")
        .set("metadata.max.age.ms", METADATA_MAX_AGE_MS)
        .set_log_level(RDKafkaLogLevel::Warning)
        .create()
        .map_err(|e| Error::Kafka(format!("cannot create the lag probe consumer: {e}")))
}

impl OldestRecordProbe {
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        Self::with_topic_limit(bootstrap_servers, TOPICS_PER_CONSUMER)
    }

    /// A probe whose consumer is replaced after reading `topic_limit` topics.
    pub fn with_topic_limit(bootstrap_servers: &str, topic_limit: usize) -> Result<Self> {
        Ok(Self {
            bootstrap_servers: bootstrap_servers.to_string(),
            topic_limit,
            state: Mutex::new(ProbeState {
                consumer: probe_consumer(bootstrap_servers)?,
                topics_read: HashSet::new(),
                consumers_created: 1,
            }),
        })
    }

    /// The age in seconds of the oldest record at the given offsets
    /// (partition → first unconsumed offset) of `topic`: 0 when nothing is
    /// unconsumed, `None` when no record could be read within the budget.
    /// Blocks.
    pub fn oldest_age(&self, topic: &str, unconsumed: &HashMap<i32, i64>) -> Option<f64> {
        if unconsumed.is_empty() {
            return Some(0.0);
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let oldest_ms = read_oldest_timestamp(&state.consumer, topic, unconsumed);
        state.topics_read.insert(topic.to_string());
        if state.topics_read.len() > self.topic_limit {
            self.replace_consumer(&mut state);
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        oldest_ms.map(|ts| ((now_ms - ts).max(0) as f64) / 1000.0)
    }

    /// How many consumers the probe has created, the first included.
    pub fn consumers_created(&self) -> u32 {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .consumers_created
    }

    fn replace_consumer(&self, state: &mut ProbeState) {
        match probe_consumer(&self.bootstrap_servers) {
            Ok(fresh) => {
                let old = std::mem::replace(&mut state.consumer, fresh);
                state.topics_read.clear();
                state.consumers_created += 1;
                // Destroying a librdkafka consumer waits for its threads;
                // nobody needs to wait for that.
                let closing = std::thread::Builder::new()
                    .name("lag-probe-close".into())
                    .spawn(move || drop(old));
                if let Err(e) = closing {
                    warn!(error = %e, "cannot close the old lag probe consumer in the background");
                }
            }
            Err(e) => warn!(error = %e, "keeping the lag probe consumer"),
        }
    }
}

fn read_oldest_timestamp(
    consumer: &BaseConsumer,
    topic: &str,
    unconsumed: &HashMap<i32, i64>,
) -> Option<i64> {
    let mut assignment = TopicPartitionList::new();
    for (partition, offset) in unconsumed {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .ok()?;
    }
    consumer.assign(&assignment).ok()?;
    let deadline = Instant::now() + PROBE_BUDGET;
    let mut oldest_ms: Option<i64> = None;
    let mut seen = HashSet::new();
    while seen.len() < unconsumed.len() && Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        if seen.insert(message.partition())
            && let Some(ts) = message.timestamp().to_millis()
        {
            oldest_ms = Some(oldest_ms.map_or(ts, |o| o.min(ts)));
        }
    }
    let _ = consumer.unassign();
    oldest_ms
}
