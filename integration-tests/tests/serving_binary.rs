//! The `serving` binary against the local environment's real Kafka and
//! real Redis: output records in (committed transactions only), the
//! original's Redis keys, values and TTLs out, offsets committed after
//! Redis acknowledged; a Redis outage in the middle of a run is retried
//! and reported, and nothing is lost once Redis is back.

mod redis_env;
mod serving_support;

use std::net::SocketAddr;
use std::time::Duration;

use integration_tests::environment::kafka_bootstrap;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use redis::AsyncCommands;
use redis_env::{Instance, Stop};
use serde_json::Value;
use serving_support::process::{Serving, Topics, metric, send, transactional_producer};
use serving_support::{RECORDS, assert_golden_except, snapshot};
use shopstream_serving::keys::KeySpace;
use shopstream_serving::records::Output;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn committed_offsets(group: &str, topic: &str) -> Vec<Option<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, 0);
    list.add_partition(topic, 1);
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .collect()
}

async fn cleanup(conn: &mut redis::aio::MultiplexedConnection, keys: &KeySpace) {
    let names: Vec<String> = conn.keys(format!("{}*", keys.prefix())).await.unwrap();
    if !names.is_empty() {
        let () = conn.del(names).await.unwrap();
    }
}

const ABORTED_HOURLY: &str = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"aborted","total_sales":1.0,"order_count":1,"avg_order_value":1.0,"unique_customers":1,"hour":"2025-08-12 10:00:00"}"#;

#[tokio::test]
async fn committed_output_records_become_the_originals_keys_values_and_ttls() {
    let topics = Topics::create("serving-bin").await;
    let mut serving = Serving::spawn("serving-bin", &topics, &Instance::Open.addr(), None);
    let producer = transactional_producer();

    // An aborted transaction first: read_committed must skip it.
    producer.begin_transaction().unwrap();
    send(&producer, topics.of(Output::Hourly), 0, ABORTED_HOURLY).await;
    producer.abort_transaction(Duration::from_secs(30)).unwrap();
    // The processor's records, one committed transaction; and one record
    // that is no sales record, which is skipped and counted.
    producer.begin_transaction().unwrap();
    for (i, (output, value)) in RECORDS.iter().enumerate() {
        send(&producer, topics.of(*output), (i % 2) as i32, value).await;
    }
    send(&producer, topics.of(Output::Sales), 1, "not json").await;
    producer
        .commit_transaction(Duration::from_secs(30))
        .unwrap();

    let mut redis = redis_env::connect(Instance::Open).await;
    let keys = serving.keys.clone();
    let anomalies = format!("{}anomalies:recent", keys.prefix());
    let hourly = format!("{}rank:hourly:2025-08-12 10:00:00", keys.prefix());
    let sales = format!("{}sales:2025-08-12 10:01:00", keys.prefix());
    serving
        .wait_for("every record in Redis", Duration::from_secs(60), || {
            let mut redis = redis.clone();
            let (anomalies, hourly, sales) = (anomalies.clone(), hourly.clone(), sales.clone());
            async move {
                let a: i64 = redis.zcard(&anomalies).await.unwrap();
                let h: i64 = redis.zcard(&hourly).await.unwrap();
                let s: i64 = redis.exists(&sales).await.unwrap();
                a == 1 && h == 2 && s == 1
            }
        })
        .await;
    let state = snapshot(&mut redis, &serving.keys).await;
    // Exactly the golden keys: nothing of the aborted transaction.
    assert_golden_except(&state, "written by the binary", true);
    for (key, (_, ttl)) in &state {
        assert!(
            *ttl > 7100,
            "{key}: TTL {ttl}, expected the original's 7200 s"
        );
    }

    // Offsets are committed (after Redis acknowledged): the serving lag
    // drops to 0 and the group's offsets are the topics' ends.
    let group = serving.group.clone();
    let sales_topic = topics.of(Output::Sales).to_owned();
    serving
        .wait_for("the offsets committed", Duration::from_secs(30), || {
            let (group, topic) = (group.clone(), sales_topic.clone());
            async move {
                tokio::task::spawn_blocking(move || committed_offsets(&group, &topic))
                    .await
                    .unwrap()
                    .iter()
                    // Past RECORDS[4] (p0, offset 0) and "not json" (p1,
                    // offset 0); 2 once the consumer skipped the
                    // transaction's commit marker.
                    .all(|offset| offset.is_some_and(|o| o >= 1))
            }
        })
        .await;

    let (code, _) = serving.get("/readyz").await;
    assert_eq!(code, 200, "ready once Redis and Kafka answered");
    let metrics = serving.get("/metrics").await.1;
    assert_eq!(
        metric(
            &metrics,
            "shopstream_serving_records_total{output=\"hourly\"}"
        ),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "shopstream_serving_records_skipped_total{output=\"sales\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "shopstream_serving_redis_up"), 1.0);

    let dashboard = serving.json("/api/dashboard").await;
    assert_eq!(dashboard["hourly"]["hour"], "2025-08-12 10:00:00");
    assert_eq!(
        dashboard["hourly"]["categories"][0]["category"],
        "electronics"
    );
    assert_eq!(
        dashboard["hourly"]["categories"].as_array().unwrap().len(),
        2
    );
    let top = &dashboard["top_products"]["products"];
    assert_eq!(
        (top[0]["product_id"].clone(), top[1]["product_id"].clone()),
        (1.into(), "P001".into())
    );
    assert_eq!(
        dashboard["sales_per_minute"][0]["by_region"]["Tokyo"],
        1140.0
    );
    assert_eq!(dashboard["anomalies"][0]["event_id"], "evt_1");
    assert_eq!(dashboard["pipeline"]["namespace"], "serving-binary");
    let (code, page) = serving.get("/").await;
    assert_eq!(code, 200);
    assert!(page.contains("<svg id=\"sales-chart\""), "{page}");

    serving.assert_alive();
    cleanup(&mut redis, &serving.keys).await;
    topics.delete().await;
}

const SALES_AT: fn(&str) -> String = |minute| {
    format!(
        r#"{{"window_start":"2025-08-12T10:{minute}:00Z","window_end":"2025-08-12T10:{minute}:59Z","category":"food","region":"Tokyo","order_count":1,"total_sales":10.0,"avg_order_value":10.0,"unique_customers":1}}"#
    )
};

#[tokio::test]
async fn a_redis_outage_is_retried_and_reported_and_nothing_is_lost() {
    let topics = Topics::create("serving-outage").await;
    // The password instance: the reconnection after the restart must
    // authenticate again.
    let mut serving = Serving::spawn(
        "serving-outage",
        &topics,
        &Instance::Auth.addr(),
        Instance::Auth.password(),
    );
    let producer = transactional_producer();
    let sales = topics.of(Output::Sales).to_owned();
    let key = |minute: &str| format!("{}sales:2025-08-12 10:{minute}:00", serving.keys.prefix());
    let (before, during) = (key("01"), key("02"));

    producer.begin_transaction().unwrap();
    send(&producer, &sales, 0, &SALES_AT("01")).await;
    producer
        .commit_transaction(Duration::from_secs(30))
        .unwrap();
    let redis = redis_env::connection_manager(Instance::Auth).await;
    {
        let before = before.clone();
        serving
            .wait_for("the first window in Redis", Duration::from_secs(60), || {
                let (mut redis, before) = (redis.clone(), before.clone());
                async move { redis.exists(&before).await.unwrap_or(false) }
            })
            .await;
    }
    let addr = serving.addr;
    serving
        .wait_for("ready", Duration::from_secs(30), || async move {
            serving_ready(addr).await
        })
        .await;

    // SIGTERM: the local Redis fsyncs its AOF every second, so a SIGKILL
    // could lose Redis's own last second; what is tested is that serving
    // rides out the outage.
    redis_env::stop(Instance::Auth, Stop::Clean).await;
    let _restart = redis_env::StartOnDrop(Instance::Auth);
    producer.begin_transaction().unwrap();
    send(&producer, &sales, 1, &SALES_AT("02")).await;
    producer
        .commit_transaction(Duration::from_secs(30))
        .unwrap();

    serving
        .wait_for(
            "the outage reported",
            Duration::from_secs(60),
            || async move {
                let status = get_json(addr, "/api/status").await;
                status["redis"]["ok"] == false
                    && status["redis"]["consecutive_failures"]
                        .as_u64()
                        .unwrap_or(0)
                        >= 2
                    && !serving_ready(addr).await
            },
        )
        .await;
    let metrics = serving.get("/metrics").await.1;
    assert!(metric(&metrics, "shopstream_serving_redis_write_failures_total") >= 2.0);
    assert_eq!(metric(&metrics, "shopstream_serving_redis_up"), 0.0);
    serving.assert_alive();

    redis_env::start(Instance::Auth).await;
    let mut redis = redis_env::connect(Instance::Auth).await;
    {
        let during = during.clone();
        serving
            .wait_for(
                "the window of the outage in Redis",
                Duration::from_secs(60),
                || {
                    let (mut redis, during) = (redis.clone(), during.clone());
                    async move { redis.exists(&during).await.unwrap_or(false) }
                },
            )
            .await;
    }
    let kept: bool = redis.exists(&before).await.unwrap();
    assert!(kept, "the window written before the outage is still there");
    let index: Vec<String> = redis
        .zrange(format!("{}windows:sales", serving.keys.prefix()), 0, -1)
        .await
        .unwrap();
    assert_eq!(index, ["2025-08-12 10:01:00", "2025-08-12 10:02:00"]);
    serving
        .wait_for("ready again", Duration::from_secs(30), || async move {
            serving_ready(addr).await
        })
        .await;
    assert!(
        serving.log_text().contains("writing to Redis failed"),
        "the outage is logged"
    );
    assert!(
        !serving.log_text().contains("panicked"),
        "{}",
        serving.log_text()
    );
    let password = Instance::Auth.password().unwrap();
    assert!(
        !serving.log_text().contains(&password),
        "the password is never logged"
    );

    drop(redis);
    cleanup(&mut redis_env::connect(Instance::Auth).await, &serving.keys).await;
    topics.delete().await;
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return Value::Null;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    reply
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null)
}

async fn serving_ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let _ = stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    reply.starts_with("HTTP/1.1 200")
}
