//! Direct access to the test environment's Kafka broker, to set up and
//! check what the operator must (not) do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::kafka_bootstrap;

pub fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("admin client")
}

/// Creates a topic as someone other than the operator would.
pub async fn create_topic(name: &str, partitions: i32, config: &[(&str, &str)]) {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in config {
        topic = topic.set(key, value);
    }
    for result in admin()
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create topic")
    {
        result.unwrap_or_else(|(name, e)| panic!("cannot create {name}: {e}"));
    }
}

pub async fn delete_topics(names: &[String]) {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let _ = admin().delete_topics(&names, &AdminOptions::new()).await;
}

/// Partition counts of `topics` (0 when missing).
pub async fn partitions(topics: &[String]) -> Vec<i32> {
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let metadata = admin()
            .inner()
            .fetch_metadata(None, Duration::from_secs(5))
            .expect("metadata");
        topics
            .iter()
            .map(|name| {
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == name && t.error().is_none())
                    .map(|t| t.partitions().len() as i32)
                    .unwrap_or(0)
            })
            .collect()
    })
    .await
    .expect("metadata task")
}

/// The topic's dynamic (per-topic) config.
pub async fn topic_config(name: &str) -> BTreeMap<String, String> {
    let results = admin()
        .describe_configs([&ResourceSpecifier::Topic(name)], &AdminOptions::new())
        .await
        .expect("describe configs");
    let resource = results
        .into_iter()
        .next()
        .expect("one result")
        .unwrap_or_else(|e| panic!("describe {name}: {e}"));
    resource
        .entries
        .into_iter()
        .filter(|e| e.source == rdkafka::admin::ConfigSource::DynamicTopic)
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}

pub fn produce(topic: &str, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    for i in 0..count {
        let key = format!("user_{i}");
        producer
            .send(BaseRecord::to(topic).key(&key).payload("{}"))
            .map_err(|(e, _)| e)
            .expect("enqueue record");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

/// A member of the processor's consumer group that consumes and commits
/// everything, standing in for the processor until it is stopped.
pub struct GroupMember {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupMember {
    pub fn join(group: &str, topic: &str) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", kafka_bootstrap())
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if let Some(Ok(_)) = consumer.poll(Duration::from_millis(200)) {
                    let _ = consumer.commit_consumer_state(CommitMode::Sync);
                }
            }
            // Dropping the consumer closes it: it leaves the group.
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    pub fn leave(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Every record of the alerts topic, parsed.
pub fn read_alerts(topic: &str) -> Vec<serde_json::Value> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", super::unique("alerts-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let mut alerts = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let value = m.payload().expect("alert value");
                alerts.push(serde_json::from_slice(value).expect("alert is JSON"));
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    alerts
}
