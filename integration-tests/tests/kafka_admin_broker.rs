//! The client against the real broker of the test environment
//! (`SHOPSTREAM_KAFKA_BOOTSTRAP`, started by `make test`). Records,
//! commits and transactions are written by an independent client
//! (librdkafka), so this crate is never only tested against itself.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_admin::{
    ClientConfig, ConfigSource, Creation, ErrorCode, IsolationLevel, KafkaClient, NewTopic,
    OffsetSpec, TopicDescription,
};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig as RdConfig, Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(15);

fn bootstrap() -> String {
    integration_tests::environment::kafka_bootstrap()
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{:x}{nanos:x}", std::process::id())
}

fn client() -> KafkaClient {
    KafkaClient::new(ClientConfig::new(&bootstrap()).expect("valid bootstrap"))
}

/// Creates a topic; returns how it came to exist.
async fn create(
    client: &KafkaClient,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Creation {
    let results = client
        .create_topics(
            &[NewTopic {
                name: name.to_string(),
                partitions,
                replication_factor: 1,
                configs: configs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }],
            TIMEOUT,
        )
        .await
        .expect("create topics");
    results[name].clone().expect("created or existing")
}

fn producer(extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = RdConfig::new();
    config.set("bootstrap.servers", bootstrap());
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("producer")
}

async fn send(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    timestamp: i64,
    payload: &str,
) {
    producer
        .send(
            FutureRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(payload)
                .timestamp(timestamp),
            Duration::from_secs(10),
        )
        .await
        .expect("record delivered");
}

#[tokio::test]
async fn topics_are_created_described_grown_and_deleted() {
    let client = client();
    let name = unique("ka-topic");
    let missing = unique("ka-missing");
    assert_eq!(
        create(&client, &name, 2, &[("retention.ms", "3600000")]).await,
        Creation::Created
    );
    // Creating it again is no error, and says so.
    assert_eq!(
        create(&client, &name, 2, &[]).await,
        Creation::AlreadyExisted
    );

    let described = client
        .describe_topics(&[name.clone(), missing.clone(), name.clone()], TIMEOUT)
        .await
        .expect("describe");
    assert_eq!(described.len(), 2, "duplicates asked once: {described:?}");
    let TopicDescription::Exists(topic) = &described[&name] else {
        panic!("{name} exists: {described:?}");
    };
    assert_eq!(
        (topic.partition_count(), topic.replication_factor()),
        (2, 1)
    );
    assert_eq!(described[&missing], TopicDescription::Missing);

    client
        .create_partitions(&name, 5, TIMEOUT)
        .await
        .expect("grown");
    let error = client
        .create_partitions(&name, 3, TIMEOUT)
        .await
        .expect_err("cannot shrink");
    assert!(!error.is_retriable(), "{error}");

    let deleted = client
        .delete_topics(&[name.clone(), missing.clone()], TIMEOUT)
        .await
        .expect("delete");
    assert!(deleted.values().all(Result::is_ok), "{deleted:?}");
}

#[tokio::test]
async fn config_changes_touch_only_the_named_keys() {
    let client = client();
    let name = unique("ka-config");
    create(
        &client,
        &name,
        1,
        &[("retention.ms", "3600000"), ("cleanup.policy", "compact")],
    )
    .await;
    let changes = BTreeMap::from([("retention.ms".to_string(), "7200000".to_string())]);
    client
        .alter_topic_config(&name, &changes, TIMEOUT)
        .await
        .expect("altered");
    let configs = client
        .describe_topic_configs(std::slice::from_ref(&name), TIMEOUT)
        .await
        .expect("describe configs");
    let entries = configs[&name].clone().expect("readable");
    let value = |key: &str| entries.get(key).and_then(|e| e.value.clone());
    assert_eq!(value("retention.ms").as_deref(), Some("7200000"));
    // Not named, so untouched (AlterConfigs would have reset it).
    assert_eq!(value("cleanup.policy").as_deref(), Some("compact"));
    assert_eq!(
        entries["cleanup.policy"].source,
        ConfigSource::TopicOverride
    );
    assert!(entries.values().all(|e| e.source != ConfigSource::Default));
    // A topic that does not exist: its own answer, within the deadline.
    let missing = unique("ka-config-missing");
    let configs = client
        .describe_topic_configs(std::slice::from_ref(&missing), Duration::from_secs(2))
        .await
        .expect("per-topic answer");
    assert_eq!(
        configs[&missing].clone().expect_err("missing").code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[tokio::test]
async fn committed_offsets_carry_their_metadata_and_new_groups_have_none() {
    let client = client();
    let topic = unique("ka-commit");
    create(&client, &topic, 2, &[]).await;
    let partitions = vec![(topic.clone(), 0), (topic.clone(), 1)];

    let fresh = client
        .committed_offsets(&unique("ka-group-new"), &partitions, TIMEOUT)
        .await
        .expect("a group that never committed");
    assert!(fresh.values().all(|c| *c == Ok(None)), "{fresh:?}");

    let group = unique("ka-group");
    let consumer: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&topic, 1, Offset::Offset(17))
        .expect("offset");
    list.find_partition(&topic, 1)
        .expect("element")
        .set_metadata("stage2:checkpoint=41");
    consumer.commit(&list, CommitMode::Sync).expect("committed");

    let committed = client
        .committed_offsets(&group, &partitions, TIMEOUT)
        .await
        .expect("committed offsets");
    assert_eq!(committed[&(topic.clone(), 0)], Ok(None));
    let commit = committed[&(topic.clone(), 1)]
        .clone()
        .expect("no error")
        .expect("a commit");
    assert_eq!(
        (commit.offset, commit.metadata.as_str()),
        (17, "stage2:checkpoint=41")
    );

    let described = client
        .describe_group(&group, TIMEOUT)
        .await
        .expect("describe group");
    assert_eq!(described.members, 0, "{described:?}");
}

#[tokio::test]
async fn group_members_are_counted() {
    let client = client();
    let topic = unique("ka-members");
    create(&client, &topic, 1, &[]).await;
    let group = unique("ka-members-group");
    let consumer: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribed");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        consumer.poll(Duration::from_millis(100));
        let described = client
            .describe_group(&group, TIMEOUT)
            .await
            .expect("describe group");
        // One member, once the join has completed.
        if described.members == 1 && described.state == "Stable" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never joined: {described:?}"
        );
    }
}

#[tokio::test]
async fn first_committed_records_are_found_in_every_compression() {
    let client = client();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = unique(&format!("ka-fetch-{codec}"));
        create(&client, &topic, 1, &[]).await;
        let producer = producer(&[("compression.codec", codec), ("linger.ms", "5")]);
        let records =
            (0..20).map(|i| send(&producer, &topic, 0, 1_000_000 + i, "a purchase event"));
        futures::future::join_all(records).await;
        let timestamps = client
            .first_committed_timestamps(&topic, &BTreeMap::from([(0, 7)]), TIMEOUT)
            .await
            .expect("fetched");
        assert_eq!(timestamps[&0], Ok(Some(1_000_007)), "{codec}");
        let at_end = client
            .first_committed_timestamps(&topic, &BTreeMap::from([(0, 20)]), TIMEOUT)
            .await
            .expect("fetched");
        assert_eq!(at_end[&0], Ok(None), "{codec}: nothing after the end");
    }
}

#[tokio::test]
async fn aborted_and_open_transactions_are_not_committed_records() {
    let client = client();
    let topic = unique("ka-txn");
    create(&client, &topic, 1, &[]).await;
    let transactional = producer(&[("transactional.id", &unique("ka-txn-id"))]);
    transactional
        .init_transactions(Duration::from_secs(30))
        .expect("transactions");
    transactional.begin_transaction().expect("begun");
    send(&transactional, &topic, 0, 100, "aborted").await;
    send(&transactional, &topic, 0, 101, "aborted").await;
    transactional
        .abort_transaction(Duration::from_secs(30))
        .expect("aborted");
    send(&producer(&[]), &topic, 0, 300, "committed").await;
    transactional.begin_transaction().expect("begun");
    send(&transactional, &topic, 0, 400, "open").await;

    // The coordinator writes the abort marker after abort_transaction
    // returns; until then the aborted records hold back the last stable
    // offset and nothing is committed yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let first = client
            .first_committed_timestamps(&topic, &BTreeMap::from([(0, 0)]), TIMEOUT)
            .await
            .expect("fetched");
        if first[&0] == Ok(Some(300)) {
            break;
        }
        assert!(
            first[&0] == Ok(None) && std::time::Instant::now() < deadline,
            "must skip the aborted transaction and its marker: {first:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let partitions = [(topic.clone(), 0)];
    let stable = client
        .list_offsets(
            &partitions,
            OffsetSpec::Latest,
            IsolationLevel::ReadCommitted,
            TIMEOUT,
        )
        .await
        .expect("offsets");
    let high = client
        .list_offsets(
            &partitions,
            OffsetSpec::Latest,
            IsolationLevel::ReadUncommitted,
            TIMEOUT,
        )
        .await
        .expect("offsets");
    // Two aborted records, the abort marker, the committed record; then
    // the open transaction's record.
    assert_eq!(stable[&partitions[0]], Ok(4));
    assert_eq!(high[&partitions[0]], Ok(5));
    let earliest = client
        .list_offsets(
            &partitions,
            OffsetSpec::Earliest,
            IsolationLevel::ReadCommitted,
            TIMEOUT,
        )
        .await
        .expect("offsets");
    assert_eq!(earliest[&partitions[0]], Ok(0));
    transactional
        .abort_transaction(Duration::from_secs(30))
        .expect("aborted");
}
