//! The lag sampler against the real broker: committed offsets of groups the
//! operator never joins, read by one shared client (kafka-admin); records,
//! commits and transactions come from an independent client (librdkafka).

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use operator::kafka::{ExistingTopic, KafkaAdmin, LagQuery, LagSampler};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use support::{kafka_bootstrap, unique};

async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topic request");
    for r in results {
        r.expect("topic created");
    }
}

async fn produce(bootstrap: &str, topic: &str, partition: i32, count: usize) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for i in 0..count {
        let payload = format!("record {i}");
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .expect("record delivered");
    }
}

/// Commits `offsets` for `group` the way a processor would, then leaves.
fn commit(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for (p, o) in offsets {
        list.add_partition_offset(topic, *p, Offset::Offset(*o))
            .expect("offset");
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .expect("offsets committed");
}

#[tokio::test]
async fn committed_offsets_of_many_groups_come_from_one_client() {
    let bootstrap = kafka_bootstrap();
    let input = unique("lag-input");
    let output = unique("lag-output");
    create_topic(&bootstrap, &input, 3).await;
    create_topic(&bootstrap, &output, 2).await;
    produce(&bootstrap, &input, 0, 10).await;
    produce(&bootstrap, &input, 1, 4).await;
    produce(&bootstrap, &input, 2, 7).await;
    produce(&bootstrap, &output, 1, 5).await;

    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    let query = |group: &str| LagQuery {
        group: group.to_string(),
        input_topic: input.clone(),
        output_topics: vec![(output.clone(), 2)],
    };

    // A group that never committed: the whole retained backlog is lag.
    let fresh = sampler
        .sample(query(&unique("lag-group-none")))
        .await
        .expect("sample of a group without commits");
    assert_eq!(fresh.total_lag, 21);
    assert!(
        fresh
            .partitions
            .iter()
            .all(|p| p.committed_offset.is_none())
    );
    assert_eq!(fresh.offsets.input_end, 21);
    assert_eq!(fresh.offsets.output_end, 5);
    assert_eq!(fresh.group_members, 0);
    assert!(
        fresh.lag_seconds.is_some_and(|s| s >= 0.0),
        "age of the oldest unconsumed record: {:?}",
        fresh.lag_seconds
    );

    // Two groups with different commits, read through the same client.
    let first = unique("lag-group-a");
    let second = unique("lag-group-b");
    commit(&bootstrap, &first, &input, &[(0, 6), (2, 7)]);
    commit(&bootstrap, &second, &input, &[(0, 10), (1, 4), (2, 7)]);

    let a = sampler
        .sample(query(&first))
        .await
        .expect("sample of group a");
    let by_partition: Vec<(i32, Option<i64>, i64, i64)> = a
        .partitions
        .iter()
        .map(|p| (p.partition, p.committed_offset, p.log_end_offset, p.lag))
        .collect();
    assert_eq!(
        by_partition,
        vec![(0, Some(6), 10, 4), (1, None, 4, 4), (2, Some(7), 7, 0)]
    );
    assert_eq!(a.total_lag, 8);

    let b = sampler
        .sample(query(&second))
        .await
        .expect("sample of group b");
    assert_eq!(b.total_lag, 0);
    assert_eq!(b.lag_seconds, Some(0.0));
}

#[tokio::test]
async fn a_missing_input_topic_is_an_error_not_zero_lag() {
    let bootstrap = kafka_bootstrap();
    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    let error = sampler
        .sample(LagQuery {
            group: unique("lag-group-missing"),
            input_topic: unique("lag-missing-topic"),
            output_topics: vec![],
        })
        .await
        .expect_err("a missing topic must not look like a caught-up group");
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[tokio::test]
async fn admin_describes_existing_topics_and_leaves_out_missing_ones() {
    let bootstrap = kafka_bootstrap();
    let three = unique("describe-three");
    let one = unique("describe-one");
    let missing = unique("describe-missing");
    create_topic(&bootstrap, &three, 3).await;
    create_topic(&bootstrap, &one, 1).await;

    let admin = KafkaAdmin::connect(&bootstrap, None).expect("admin");
    // A duplicate name must not fail the request (librdkafka refuses
    // duplicates in one DescribeTopics).
    let described = admin
        .describe_topics(&[three.clone(), missing.clone(), one.clone(), three.clone()])
        .await
        .expect("describe topics");
    assert_eq!(
        described.get(&three),
        Some(&ExistingTopic {
            partitions: 3,
            replication_factor: 1
        })
    );
    assert_eq!(
        described.get(&one),
        Some(&ExistingTopic {
            partitions: 1,
            replication_factor: 1
        })
    );
    assert!(!described.contains_key(&missing), "{described:?}");
    assert_eq!(described.len(), 2);
    assert!(
        admin
            .describe_topics(&[])
            .await
            .expect("no topics")
            .is_empty()
    );
}

#[tokio::test]
async fn missing_or_smaller_output_topics_leave_out_only_their_offsets() {
    let bootstrap = kafka_bootstrap();
    let input = unique("lag-partial-input");
    let output = unique("lag-partial-output");
    create_topic(&bootstrap, &input, 2).await;
    create_topic(&bootstrap, &output, 1).await;
    produce(&bootstrap, &input, 1, 3).await;
    produce(&bootstrap, &output, 0, 2).await;

    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    let sample = sampler
        .sample(LagQuery {
            group: unique("lag-group-partial"),
            input_topic: input.clone(),
            // Declared with more partitions than it has, and one output
            // that does not exist (yet).
            output_topics: vec![(output.clone(), 4), (unique("lag-partial-none"), 2)],
        })
        .await
        .expect("sample with missing outputs");
    assert_eq!(sample.offsets.input_end, 3);
    assert_eq!(sample.offsets.output_end, 2);
    assert_eq!(sample.total_lag, 3);
    assert_eq!(sample.partitions.len(), 2);
}

/// The processor reads with read_committed: records of an open transaction
/// are not lag it could consume yet, so end offsets are last stable offsets.
#[tokio::test]
async fn end_offsets_stop_at_open_transactions() {
    let bootstrap = kafka_bootstrap();
    let input = unique("lag-txn-input");
    create_topic(&bootstrap, &input, 1).await;
    produce(&bootstrap, &input, 0, 2).await;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("transactional.id", unique("lag-txn"))
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("transactions initialised");
    producer.begin_transaction().expect("transaction begun");
    for i in 0..5 {
        producer
            .send(
                FutureRecord::<(), _>::to(&input)
                    .partition(0)
                    .payload(&format!("in transaction {i}")),
                Duration::from_secs(10),
            )
            .await
            .expect("record delivered");
    }

    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    let query = LagQuery {
        group: unique("lag-group-txn"),
        input_topic: input.clone(),
        output_topics: vec![],
    };
    let open = sampler.sample(query.clone()).await.expect("sample");
    assert_eq!(open.offsets.input_end, 2, "{open:?}");

    producer
        .commit_transaction(Duration::from_secs(30))
        .expect("transaction committed");
    // Five records and the commit marker. The coordinator writes the
    // marker after the commit call returns, so the end moves shortly after.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let committed = sampler.sample(query.clone()).await.expect("sample");
        if committed.offsets.input_end == 8 {
            break;
        }
        assert!(
            committed.offsets.input_end == 2 && std::time::Instant::now() < deadline,
            "end offset after the commit: {committed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Produces one record to partition 0 with an event time `age` ago.
async fn produce_aged(bootstrap: &str, topic: &str, age: Duration) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    let timestamp = chrono::Utc::now().timestamp_millis() - age.as_millis() as i64;
    producer
        .send(
            FutureRecord::<(), _>::to(topic)
                .partition(0)
                .payload("old")
                .timestamp(timestamp),
            Duration::from_secs(10),
        )
        .await
        .expect("record delivered");
}

/// `lagSeconds` is the age of the oldest unconsumed record of the lagging
/// partitions, read with a read-committed fetch from the committed offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_seconds_is_the_age_of_the_oldest_unconsumed_record() {
    let bootstrap = kafka_bootstrap();
    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    for i in 0..3u64 {
        let topic = unique("lag-age");
        create_topic(&bootstrap, &topic, 1).await;
        let age = Duration::from_secs(100 * (i + 1));
        produce_aged(&bootstrap, &topic, age).await;
        produce_aged(&bootstrap, &topic, Duration::ZERO).await;
        let query = |group: String| LagQuery {
            group,
            input_topic: topic.clone(),
            output_topics: vec![],
        };
        let expected = age.as_secs_f64();
        // The oldest-record read has a 2 s budget; on a machine loaded by
        // parallel builds it can run out (then the sample has no
        // lagSeconds, by design), so a few samples may be needed.
        let mut seconds = None;
        for _ in 0..5 {
            let sample = sampler
                .sample(query(unique("lag-age-none")))
                .await
                .expect("sample");
            seconds = sample.lag_seconds;
            if seconds.is_some() {
                break;
            }
        }
        assert!(
            seconds.is_some_and(|s| s >= expected && s < expected + 60.0),
            "{topic}: {seconds:?}, expected about {expected} s"
        );
        // A group past the old record: only the fresh one is unconsumed.
        let group = unique("lag-age-one");
        commit(&bootstrap, &group, &topic, &[(0, 1)]);
        let mut seconds = None;
        for _ in 0..5 {
            let sample = sampler.sample(query(group.clone())).await.expect("sample");
            seconds = sample.lag_seconds;
            if seconds.is_some() {
                break;
            }
        }
        assert!(seconds.is_some_and(|s| s < 60.0), "{seconds:?}");
    }
}

/// The broker restarts between two samples: the client's connections drop,
/// the next sample reconnects (retrying within its deadline) and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_between_calls_is_survived() {
    let broker = support::private_broker::PrivateBroker::start("restart");
    let bootstrap = broker.bootstrap();
    let topic = unique("lag-restart");
    create_topic(&bootstrap, &topic, 2).await;
    produce(&bootstrap, &topic, 0, 3).await;
    let sampler = LagSampler::connect(&bootstrap).expect("sampler");
    let query = LagQuery {
        group: unique("lag-restart-group"),
        input_topic: topic.clone(),
        output_topics: vec![],
    };
    let before = sampler
        .sample(query.clone())
        .await
        .expect("sample before the restart");
    assert_eq!(before.total_lag, 3);
    broker.restart();
    let after = support::wait_until(
        "a sample after the restart",
        Duration::from_secs(120),
        || async {
            sampler
                .sample(query.clone())
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    assert_eq!(after.total_lag, 3);
    assert_eq!(after.offsets.input_end, 3);
}
