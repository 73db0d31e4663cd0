//! The client against a scripted broker on loopback: the error paths that
//! crashed librdkafka (NOT_COORDINATOR on a fresh group, connections lost
//! mid-request) and replies no real broker sends (garbage, truncation).

mod fake;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fake::{FakeBroker, Received, Reply, metadata, respond};
use kafka_admin::{ClientConfig, Error, ErrorCode, IsolationLevel, KafkaClient, OffsetSpec};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorResponse, GroupId, ListOffsetsRequest, ListOffsetsResponse,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

const SECOND: Duration = Duration::from_secs(1);

fn client(fake: &FakeBroker) -> KafkaClient {
    KafkaClient::new(ClientConfig::new(&fake.bootstrap()).expect("valid bootstrap"))
}

fn coordinator(request: &Received, error: i16) -> Bytes {
    let response = FindCoordinatorResponse::default().with_coordinators(vec![
        Coordinator::default()
            .with_key(StrBytes::from_static_str("g"))
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(i32::from(request.port))
            .with_error_code(error),
    ]);
    respond(request, &response)
}

/// OffsetFetch (v8+) for group `g`, topic `t` partitions 0 and 1: partition
/// 0 committed at 42 with metadata, partition 1 never committed.
fn offsets(request: &Received, group_error: i16) -> Bytes {
    let response = OffsetFetchResponse::default().with_groups(vec![
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_error_code(group_error)
            .with_topics(vec![
                OffsetFetchResponseTopics::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(0)
                            .with_committed_offset(42)
                            .with_metadata(Some(StrBytes::from_static_str("checkpoint-7"))),
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(1)
                            .with_committed_offset(-1),
                    ]),
            ]),
    ]);
    respond(request, &response)
}

fn partitions() -> Vec<(String, i32)> {
    vec![("t".to_string(), 0), ("t".to_string(), 1)]
}

#[tokio::test]
async fn not_coordinator_and_loading_coordinators_are_retried() {
    // The crash case of librdkafka #5040: the first answers for a new group
    // on a fresh broker are coordinator errors.
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let fake = FakeBroker::start(move |request| match request.api {
        ApiKey::Metadata => Reply::Frame(metadata(request, &[])),
        // __consumer_offsets does not exist yet.
        ApiKey::FindCoordinator if seen.load(Ordering::SeqCst) == 0 => {
            seen.fetch_add(1, Ordering::SeqCst);
            Reply::Frame(coordinator(
                request,
                ErrorCode::COORDINATOR_NOT_AVAILABLE.code(),
            ))
        }
        ApiKey::FindCoordinator => Reply::Frame(coordinator(request, 0)),
        ApiKey::OffsetFetch => match seen.fetch_add(1, Ordering::SeqCst) {
            1 => Reply::Frame(offsets(request, ErrorCode::NOT_COORDINATOR.code())),
            2 => Reply::Frame(offsets(
                request,
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.code(),
            )),
            _ => Reply::Frame(offsets(request, 0)),
        },
        _ => Reply::Close,
    })
    .await;
    let committed = client(&fake)
        .committed_offsets("g", &partitions(), 10 * SECOND)
        .await
        .expect("committed offsets after coordinator errors");
    let first = committed[&("t".to_string(), 0)]
        .clone()
        .expect("no error")
        .expect("committed");
    assert_eq!(
        (first.offset, first.metadata.as_str()),
        (42, "checkpoint-7")
    );
    assert_eq!(committed[&("t".to_string(), 1)], Ok(None));
    // The coordinator was looked up again after each coordinator error.
    assert_eq!(fake.count(ApiKey::FindCoordinator), 4);
    assert_eq!(fake.count(ApiKey::OffsetFetch), 3);
}

#[tokio::test]
async fn a_group_that_does_not_exist_has_no_commits() {
    let fake = FakeBroker::start(|request| match request.api {
        ApiKey::Metadata => Reply::Frame(metadata(request, &[])),
        ApiKey::FindCoordinator => Reply::Frame(coordinator(request, 0)),
        ApiKey::OffsetFetch => Reply::Frame(offsets(request, ErrorCode::GROUP_ID_NOT_FOUND.code())),
        _ => Reply::Close,
    })
    .await;
    let committed = client(&fake)
        .committed_offsets("g", &partitions(), 5 * SECOND)
        .await
        .expect("GROUP_ID_NOT_FOUND is an answer");
    assert!(committed.values().all(|c| *c == Ok(None)), "{committed:?}");
}

#[tokio::test]
async fn a_coordinator_that_never_loads_ends_in_a_deadline_error_with_its_cause() {
    let fake = FakeBroker::start(|request| match request.api {
        ApiKey::Metadata => Reply::Frame(metadata(request, &[])),
        ApiKey::FindCoordinator => Reply::Frame(coordinator(request, 0)),
        ApiKey::OffsetFetch => Reply::Frame(offsets(
            request,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.code(),
        )),
        _ => Reply::Close,
    })
    .await;
    let error = client(&fake)
        .committed_offsets("g", &partitions(), 2 * SECOND)
        .await
        .expect_err("never loads");
    assert!(matches!(error, Error::DeadlineExceeded { .. }), "{error:?}");
    assert!(error.is_retriable());
    assert_eq!(
        error.broker_error().map(|e| e.code),
        Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
        "{error:?}"
    );
}

#[tokio::test]
async fn garbage_replies_are_errors_not_panics() {
    // An HTTP server on the Kafka port: its first four bytes read as a
    // 1.2 GB frame size.
    let fake =
        FakeBroker::start(|_| Reply::Raw(Bytes::from_static(b"HTTP/1.1 400 Bad Request\r\n\r\n")))
            .await;
    // Replace ApiVersions too: the fake answers it itself, so garbage
    // reaches Metadata, the first request after the handshake.
    let error = client(&fake)
        .describe_topics(&["t".to_string()], 2 * SECOND)
        .await
        .expect_err("garbage");
    let chain = format!("{error:?}");
    assert!(chain.contains("ResponseTooLarge"), "{chain}");
}

#[tokio::test]
async fn truncated_and_mismatched_replies_are_errors() {
    // A Metadata reply cut in the middle of its broker list.
    let fake = FakeBroker::start(|request| match request.api {
        ApiKey::Metadata => {
            let whole = metadata(request, &[("t", 3)]);
            Reply::Frame(whole.slice(..whole.len() / 2))
        }
        _ => Reply::Close,
    })
    .await;
    let error = client(&fake)
        .describe_topics(&["t".to_string()], SECOND)
        .await
        .expect_err("truncated");
    assert!(format!("{error:?}").contains("Malformed"), "{error:?}");

    // Every prefix of a valid reply: an error each time, never a panic.
    let lengths = Arc::new(AtomicUsize::new(0));
    let cut = lengths.clone();
    let fake = FakeBroker::start(move |request| match request.api {
        ApiKey::Metadata => {
            let whole = metadata(request, &[("t", 3)]);
            let keep = cut.fetch_add(1, Ordering::SeqCst).min(whole.len() - 1);
            Reply::Frame(whole.slice(..keep.max(4)))
        }
        _ => Reply::Close,
    })
    .await;
    let client = client(&fake);
    for _ in 0..40 {
        let result = client
            .describe_topics(&["t".to_string()], Duration::from_millis(30))
            .await;
        assert!(result.is_err(), "a truncated reply decoded: {result:?}");
    }
}

#[tokio::test]
async fn a_connection_dropped_mid_request_is_replaced() {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let fake = FakeBroker::start(move |request| match request.api {
        // The first Metadata request: the broker goes away without answering.
        ApiKey::Metadata if seen.fetch_add(1, Ordering::SeqCst) == 0 => Reply::Close,
        ApiKey::Metadata => Reply::Frame(metadata(request, &[("t", 2)])),
        _ => Reply::Close,
    })
    .await;
    let described = client(&fake)
        .describe_topics(&["t".to_string()], 5 * SECOND)
        .await
        .expect("answered on a new connection");
    assert!(matches!(
        described["t"],
        kafka_admin::TopicDescription::Exists(_)
    ));
    assert_eq!(fake.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_silent_broker_times_out_within_the_deadline() {
    let fake = FakeBroker::start(|_| Reply::Silence).await;
    let started = std::time::Instant::now();
    let error = client(&fake)
        .describe_topics(&["t".to_string()], SECOND)
        .await
        .expect_err("no answer");
    assert!(
        started.elapsed() < 3 * SECOND,
        "took {:?}",
        started.elapsed()
    );
    assert!(format!("{error:?}").contains("Timeout"), "{error:?}");
}

#[tokio::test]
async fn many_callers_share_one_connection_and_dropping_the_client_closes_it() {
    let fake = FakeBroker::start(|request| match request.api {
        ApiKey::Metadata => Reply::Frame(metadata(request, &[("t", 1)])),
        _ => Reply::Close,
    })
    .await;
    let client = client(&fake);
    let calls = (0..200).map(|_| {
        let client = client.clone();
        async move { client.describe_topics(&["t".to_string()], 5 * SECOND).await }
    });
    for result in futures::future::join_all(calls).await {
        result.expect("described");
    }
    // The bootstrap connection was replaced by the one to node 1, no more.
    assert!(
        fake.connections.load(Ordering::SeqCst) <= 2,
        "{}",
        fake.connections.load(Ordering::SeqCst)
    );
    // All 200 may have been answered over the bootstrap connection, which
    // is let go once metadata names the nodes.
    assert!(client.open_connections() <= 1);
    drop(client);
    let deadline = std::time::Instant::now() + 5 * SECOND;
    while fake.closed.load(Ordering::SeqCst) < fake.connections.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "connections left open after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn partition_errors_are_per_partition_and_stale_leaders_are_retried() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let fake = FakeBroker::start(move |request| match request.api {
        ApiKey::Metadata => Reply::Frame(metadata(request, &[("t", 3)])),
        ApiKey::ListOffsets => {
            let mut body = request.body.clone();
            let asked = ListOffsetsRequest::decode(&mut body, request.version).expect("request");
            let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
            let partitions = asked.topics[0]
                .partitions
                .iter()
                .map(|p| {
                    let error = match p.partition_index {
                        0 if first => ErrorCode::NOT_LEADER_OR_FOLLOWER.code(),
                        2 => 42, // INVALID_REQUEST: permanent, this partition only
                        _ => 0,
                    };
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error)
                        .with_offset(100 + i64::from(p.partition_index))
                })
                .collect();
            let response = ListOffsetsResponse::default().with_topics(vec![
                ListOffsetsTopicResponse::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(partitions),
            ]);
            Reply::Frame(respond(request, &response))
        }
        _ => Reply::Close,
    })
    .await;
    let wanted = vec![
        ("t".to_string(), 0),
        ("t".to_string(), 1),
        ("t".to_string(), 2),
        ("t".to_string(), 7),
    ];
    let offsets = client(&fake)
        .list_offsets(
            &wanted,
            OffsetSpec::Latest,
            IsolationLevel::ReadCommitted,
            5 * SECOND,
        )
        .await
        .expect("per-partition results");
    assert_eq!(
        offsets[&("t".to_string(), 0)],
        Ok(100),
        "retried after NOT_LEADER"
    );
    assert_eq!(offsets[&("t".to_string(), 1)], Ok(101));
    assert_eq!(
        offsets[&("t".to_string(), 2)]
            .clone()
            .map_err(|e| e.code.code()),
        Err(42)
    );
    assert_eq!(
        offsets[&("t".to_string(), 7)].clone().map_err(|e| e.code),
        Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "a partition the topic does not have"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oversized_replies_are_refused() {
    let fake = FakeBroker::start(|request| match request.api {
        ApiKey::Metadata => {
            let mut big = BytesMut::new();
            big.extend_from_slice(&request.correlation_id.to_be_bytes());
            big.resize(64 * 1024, 0);
            Reply::Frame(big.freeze())
        }
        _ => Reply::Close,
    })
    .await;
    let mut config = ClientConfig::new(&fake.bootstrap()).expect("valid");
    config.max_response_bytes = 16 * 1024;
    let error = KafkaClient::new(config)
        .describe_topics(&["t".to_string()], SECOND)
        .await
        .expect_err("too large");
    assert!(
        format!("{error:?}").contains("ResponseTooLarge"),
        "{error:?}"
    );
}
