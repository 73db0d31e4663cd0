//! A scripted Kafka broker on a loopback socket, for failures a real broker
//! produces only by chance: NOT_COORDINATOR, garbage, truncated replies,
//! connections dropped mid-request.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{
    Encodable, HeaderVersion, Message, StrBytes, decode_request_header_from_buffer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the fake received it.
pub struct Received {
    pub api: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    /// The body, after the header.
    pub body: Bytes,
    /// Which connection (0, 1, …) it came on.
    pub connection: usize,
    /// The fake's own port, for Metadata replies.
    pub port: u16,
}

/// What the fake does with a request.
pub enum Reply {
    /// Send these bytes as the whole frame body (correlation id included).
    Frame(Bytes),
    /// Send these raw bytes, no size prefix added.
    Raw(Bytes),
    /// Close the connection without answering.
    Close,
    /// Never answer.
    Silence,
}

type Script = dyn Fn(&Received) -> Reply + Send + Sync;

pub struct FakeBroker {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    pub closed: Arc<AtomicUsize>,
    pub log: Arc<Mutex<Vec<(ApiKey, usize)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBroker {
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many requests of `api` arrived.
    pub fn count(&self, api: ApiKey) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| *a == api)
            .count()
    }

    /// Starts a broker whose every request is answered by `script`;
    /// ApiVersions is answered for it (all of kafka-protocol's versions).
    pub async fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (c, d, l) = (connections.clone(), closed.clone(), log.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let connection = c.fetch_add(1, Ordering::SeqCst);
                let (script, closed, log) = (script.clone(), d.clone(), l.clone());
                tokio::spawn(async move {
                    while let Ok(size) = socket.read_i32().await {
                        let mut frame = vec![0u8; size as usize];
                        if socket.read_exact(&mut frame).await.is_err() {
                            break;
                        }
                        let mut frame = Bytes::from(frame);
                        let header: RequestHeader =
                            decode_request_header_from_buffer(&mut frame).expect("request header");
                        let api = ApiKey::try_from(header.request_api_key).expect("known API");
                        log.lock().unwrap().push((api, connection));
                        let received = Received {
                            api,
                            version: header.request_api_version,
                            correlation_id: header.correlation_id,
                            body: frame,
                            connection,
                            port,
                        };
                        let reply = if api == ApiKey::ApiVersions {
                            Reply::Frame(api_versions(&received))
                        } else {
                            script(&received)
                        };
                        let out = match reply {
                            Reply::Frame(body) => {
                                let mut out = BytesMut::new();
                                out.put_i32(body.len() as i32);
                                out.extend_from_slice(&body);
                                out.freeze()
                            }
                            Reply::Raw(raw) => raw,
                            Reply::Close => break,
                            Reply::Silence => continue,
                        };
                        if socket.write_all(&out).await.is_err() {
                            break;
                        }
                    }
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            port,
            connections,
            closed,
            log,
            task,
        }
    }
}

/// A response frame body (correlation id, header, body) for `request`.
pub fn respond<M: Encodable + HeaderVersion>(request: &Received, response: &M) -> Bytes {
    let mut out = BytesMut::new();
    let header = ResponseHeader::default().with_correlation_id(request.correlation_id);
    header
        .encode(&mut out, M::header_version(request.version))
        .expect("response header");
    response
        .encode(&mut out, request.version)
        .expect("response body");
    out.freeze()
}

fn api_versions(request: &Received) -> Bytes {
    use kafka_protocol::messages::*;
    fn range<M: Message>(key: ApiKey) -> ApiVersion {
        ApiVersion::default()
            .with_api_key(key as i16)
            .with_min_version(M::VERSIONS.min)
            .with_max_version(M::VERSIONS.max)
    }
    let response = ApiVersionsResponse::default().with_api_keys(vec![
        range::<ApiVersionsRequest>(ApiKey::ApiVersions),
        range::<MetadataRequest>(ApiKey::Metadata),
        range::<FindCoordinatorRequest>(ApiKey::FindCoordinator),
        range::<OffsetFetchRequest>(ApiKey::OffsetFetch),
        range::<DescribeGroupsRequest>(ApiKey::DescribeGroups),
        range::<ListOffsetsRequest>(ApiKey::ListOffsets),
        range::<FetchRequest>(ApiKey::Fetch),
        range::<CreateTopicsRequest>(ApiKey::CreateTopics),
        range::<DeleteTopicsRequest>(ApiKey::DeleteTopics),
        range::<CreatePartitionsRequest>(ApiKey::CreatePartitions),
        range::<DescribeConfigsRequest>(ApiKey::DescribeConfigs),
        range::<IncrementalAlterConfigsRequest>(ApiKey::IncrementalAlterConfigs),
    ]);
    respond(request, &response)
}

/// Metadata naming this fake as node 1 (and controller), with `topics`:
/// (name, partitions), each led by node 1.
pub fn metadata(request: &Received, topics: &[(&str, i32)]) -> Bytes {
    let port = request.port;
    let response = MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(i32::from(port)),
        ])
        .with_controller_id(BrokerId(1))
        .with_topics(
            topics
                .iter()
                .map(|(name, partitions)| {
                    MetadataResponseTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
                        .with_partitions(
                            (0..*partitions)
                                .map(|p| {
                                    MetadataResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_leader_id(BrokerId(1))
                                        .with_replica_nodes(vec![BrokerId(1)])
                                        .with_isr_nodes(vec![BrokerId(1)])
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    respond(request, &response)
}
