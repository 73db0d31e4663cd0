//! Produce/consume round trip through rdkafka against the real broker of the
//! test environment, including topic creation through the admin API (the
//! broker runs with auto topic creation off).

#[path = "processor_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::{bootstrap, unique};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

#[tokio::test]
async fn create_topic_produce_and_consume() {
    let bootstrap = bootstrap();
    let topic = unique("roundtrip");

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .expect("CreateTopics request reaches the broker");
    for result in results {
        result.unwrap_or_else(|(name, code)| panic!("creating {name} failed: {code}"));
    }

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    let metadata = producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata for the new topic");
    assert_eq!(metadata.topics()[0].partitions().len(), 3);

    let mut sent = BTreeMap::new();
    for i in 0..60 {
        let key = format!("user_{i}");
        let value = format!("{{\"n\":{i}}}");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("delivery of record {i} failed: {e}"));
        sent.insert(key, (value, delivery.partition));
    }
    let partitions_used: BTreeSet<i32> = sent.values().map(|(_, p)| *p).collect();
    assert_eq!(partitions_used.len(), 3, "keys spread over all partitions");

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", unique("roundtrip-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");

    let mut received = BTreeMap::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while received.len() < sent.len() {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!("consumed only {} of {} records", received.len(), sent.len())
            })
            .expect("consumer stream ended")
            .expect("consume error");
        let key = String::from_utf8_lossy(next.key().expect("record has a key")).into_owned();
        let value =
            String::from_utf8_lossy(next.payload().expect("record has a value")).into_owned();
        received.insert(key, (value, next.partition()));
    }
    assert_eq!(
        received, sent,
        "every record back, on the partition it was written to"
    );

    drop(stream);
    admin
        .delete_topics(&[&topic], &options)
        .await
        .expect("DeleteTopics request reaches the broker");
}
