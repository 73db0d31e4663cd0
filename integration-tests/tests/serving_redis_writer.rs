//! RedisWriter against the local environment's real Redis (hack/redis/, both
//! the open and the password instance): a batch of the processor's records
//! is written twice, as a replay after a crash would, and what Redis holds
//! afterwards is exactly the golden keys and values — nothing counted
//! twice, nothing else written.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use shopstream_serving::clv::{self, Model, UserHistory};
use shopstream_serving::keys::KeySpace;
use shopstream_serving::mapping;
use shopstream_serving::records::{Output, parse};
use shopstream_serving::writer::{RedisTarget, RedisWriter, WriteError};
use shopstream_serving::writes::{RedisWrite, Ttls};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the local Redis (hack/redis/). Run it with \
             `make test`, or `make env-up` and export what `hack/env.sh` prints."
        )
    })
}

fn open_target() -> RedisTarget {
    RedisTarget::parse(&required_env("SHOPSTREAM_REDIS_ADDR"), None).unwrap()
}

fn auth_target(with_password: bool) -> RedisTarget {
    let path = required_env("SHOPSTREAM_REDIS_PASSWORD_FILE");
    let password = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the Redis password file {path}: {e}"));
    let password = with_password.then(|| password.trim().to_owned());
    RedisTarget::parse(&required_env("SHOPSTREAM_REDIS_AUTH_ADDR"), password).unwrap()
}

/// A pipeline name of its own per run, so runs never see each other's keys.
fn fresh_keys(test: &str) -> KeySpace {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    KeySpace::for_pipeline("serving-test", &format!("{test}-{nanos}"))
}

const RECORDS: &[(Output, &str)] = &[
    (
        Output::Hourly,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"electronics","total_sales":161640.0,"order_count":2,"avg_order_value":80820.0,"unique_customers":2,"hour":"2025-08-12 10:00:00"}"#,
    ),
    (
        Output::Hourly,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"food","total_sales":2180.0,"order_count":2,"avg_order_value":1090.0,"unique_customers":1,"hour":"2025-08-12 10:00:00"}"#,
    ),
    (
        Output::TopProducts,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":1,"product_name":"ノートPC","category":"electronics","total_quantity":3,"total_revenue":255930.5,"order_count":2,"revenue_rank":1}"#,
    ),
    (
        Output::TopProducts,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":"P001","product_name":"Laptop","category":"electronics","total_quantity":1,"total_revenue":89800.0,"order_count":1,"revenue_rank":2}"#,
    ),
    (
        Output::Sales,
        r#"{"window_start":"2025-08-12T10:01:00Z","window_end":"2025-08-12T10:02:00Z","category":"food","region":"Tokyo","order_count":1,"total_sales":1140.0,"avg_order_value":1140.0,"unique_customers":1}"#,
    ),
    (
        Output::Anomalies,
        r#"{"event_id":"evt_1","timestamp":"2025-08-12T10:00:00.123Z","user_id":"user_42","product_name":"Laptop","final_amount":80820.0,"region":"Osaka","anomaly_type":"high_value_transaction"}"#,
    ),
];

const HISTORY: &str = r#"{"user_id":"user_42","user_segment":"premium","orders":2,"monetary":100000.0,
    "first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.5Z",
    "as_of":"2025-08-16T10:00:10Z",
    "last_event":{"timestamp":"2025-08-16T10:00:00.5Z","final_amount":80820.0,"quantity":1,"discount_rate":0.12}}"#;

fn batch(keys: &KeySpace) -> Vec<RedisWrite> {
    let ttls = Ttls::default();
    let mut batch: Vec<RedisWrite> = RECORDS
        .iter()
        .flat_map(|(output, json)| mapping::writes(keys, &ttls, &parse(*output, json).unwrap()))
        .collect();
    let history: UserHistory = serde_json::from_str(HISTORY).unwrap();
    let record = clv::compute(Model::OriginalRules, &history).unwrap();
    batch.push(mapping::clv(keys, &ttls, &record));
    batch
}

#[derive(Debug, PartialEq)]
enum Content {
    Text(String),
    Hash(BTreeMap<String, String>),
    Sorted(Vec<(String, f64)>),
}

/// The golden state, key names without the pipeline's prefix.
fn golden() -> BTreeMap<String, (Content, u64)> {
    let text = |s: &str| Content::Text(s.to_owned());
    let hour = "2025-08-12 10:00:00";
    BTreeMap::from([
        (
            format!("hourly:{hour}:electronics"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "category": "electronics", "total_sales": 161640.0, "order_count": 2, "avg_order_value": 80820.0, "unique_customers": 2, "hour": "2025-08-12 10:00:00"}"#,
                ),
                7200,
            ),
        ),
        (
            format!("hourly:{hour}:food"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "category": "food", "total_sales": 2180.0, "order_count": 2, "avg_order_value": 1090.0, "unique_customers": 1, "hour": "2025-08-12 10:00:00"}"#,
                ),
                7200,
            ),
        ),
        (
            format!("rank:hourly:{hour}"),
            (
                Content::Sorted(vec![
                    ("electronics".into(), 161_640.0),
                    ("food".into(), 2180.0),
                ]),
                7200,
            ),
        ),
        (
            format!("top_products:{hour}:1"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": 1, "product_name": "\u30ce\u30fc\u30c8PC", "category": "electronics", "total_quantity": 3, "total_revenue": 255930.5, "order_count": 2, "revenue_rank": 1}"#,
                ),
                7200,
            ),
        ),
        (
            format!("top_products:{hour}:P001"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": "P001", "product_name": "Laptop", "category": "electronics", "total_quantity": 1, "total_revenue": 89800.0, "order_count": 1, "revenue_rank": 2}"#,
                ),
                7200,
            ),
        ),
        (
            format!("rank:top_products:{hour}"),
            (
                Content::Sorted(vec![("1".into(), 255_930.5), ("P001".into(), 89_800.0)]),
                7200,
            ),
        ),
        (
            "windows:hourly".into(),
            (Content::Sorted(vec![(hour.into(), 1_754_992_800.0)]), 7200),
        ),
        (
            "sales:2025-08-12 10:01:00".into(),
            (
                Content::Hash(BTreeMap::from([("food|Tokyo".into(), RECORDS[4].1.into())])),
                7200,
            ),
        ),
        (
            "windows:sales".into(),
            (
                Content::Sorted(vec![("2025-08-12 10:01:00".into(), 1_754_992_860.0)]),
                7200,
            ),
        ),
        (
            "anomalies:recent".into(),
            (
                Content::Sorted(vec![(RECORDS[5].1.into(), 1_754_992_800_123.0)]),
                7200,
            ),
        ),
        (
            "clv:user_42".into(),
            (
                text(
                    r#"{"predicted_clv":808200.0,"confidence":0.85,"timestamp":"2025-08-16T10:00:00.500Z","user_id":"user_42","model":"original-rules","features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":80820.0,"discount_category":"high"},"history":{"orders":2,"monetary":100000.0,"first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.500Z","as_of":"2025-08-16T10:00:10Z"}}"#,
                ),
                3600,
            ),
        ),
    ])
}

/// Every key under the pipeline's prefix, with its content and TTL.
async fn snapshot(
    conn: &mut redis::aio::MultiplexedConnection,
    keys: &KeySpace,
) -> BTreeMap<String, (Content, i64)> {
    let names: Vec<String> = conn.keys(format!("{}*", keys.prefix())).await.unwrap();
    let mut state = BTreeMap::new();
    for name in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&name)
            .query_async(conn)
            .await
            .unwrap();
        let content = match kind.as_str() {
            "string" => Content::Text(conn.get(&name).await.unwrap()),
            "hash" => Content::Hash(conn.hgetall(&name).await.unwrap()),
            "zset" => Content::Sorted(conn.zrevrange_withscores(&name, 0, -1).await.unwrap()),
            other => panic!("{name}: unexpected type {other}"),
        };
        let ttl: i64 = conn.ttl(&name).await.unwrap();
        let short = name.strip_prefix(keys.prefix()).unwrap().to_owned();
        state.insert(short, (content, ttl));
    }
    state
}

fn assert_golden(state: &BTreeMap<String, (Content, i64)>, when: &str) {
    let golden = golden();
    assert_eq!(
        state.keys().collect::<Vec<_>>(),
        golden.keys().collect::<Vec<_>>(),
        "{when}: the keys"
    );
    for (key, (content, ttl)) in state {
        let (expected, max_ttl) = &golden[key];
        assert_eq!(content, expected, "{when}: {key}");
        assert!(
            *ttl > 0 && *ttl <= *max_ttl as i64,
            "{when}: {key} has TTL {ttl}, expected (0, {max_ttl}]"
        );
    }
}

async fn connect_client(target: &RedisTarget) -> redis::aio::MultiplexedConnection {
    let url = match &target.password {
        Some(password) => format!("redis://:{password}@{target}/"),
        None => format!("redis://{target}/"),
    };
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("connecting to the local Redis at {target}: {e}"))
}

async fn write_twice_and_compare(target: RedisTarget, test: &str) {
    let keys = fresh_keys(test);
    let batch = batch(&keys);
    let mut writer = tokio::time::timeout(
        Duration::from_secs(20),
        RedisWriter::connect(target.clone()),
    )
    .await
    .expect("connecting within 20 s")
    .unwrap_or_else(|e| panic!("{e}"));
    let mut reader = connect_client(&target).await;

    writer.write(&batch).await.unwrap_or_else(|e| panic!("{e}"));
    let once = snapshot(&mut reader, &keys).await;
    assert_golden(&once, "after one write");

    // The replay: the same records again, as after a crash before the
    // consumer committed its offsets.
    writer.write(&batch).await.unwrap_or_else(|e| panic!("{e}"));
    let twice = snapshot(&mut reader, &keys).await;
    assert_golden(&twice, "after the replay");

    let top10: Vec<String> = reader
        .zrevrange(
            format!("{}rank:top_products:2025-08-12 10:00:00", keys.prefix()),
            0,
            9,
        )
        .await
        .unwrap();
    assert_eq!(top10, ["1", "P001"], "top 10 of the hour in one command");

    let names: Vec<String> = reader.keys(format!("{}*", keys.prefix())).await.unwrap();
    let () = reader.del(names).await.unwrap();
}

#[tokio::test]
async fn open_instance_replayed_batch_equals_golden() {
    write_twice_and_compare(open_target(), "open").await;
}

#[tokio::test]
async fn password_instance_replayed_batch_equals_golden() {
    write_twice_and_compare(auth_target(true), "auth").await;
}

#[tokio::test]
async fn password_instance_without_password_is_a_clear_error() {
    let error = match RedisWriter::connect(auth_target(false)).await {
        Err(error) => error,
        Ok(_) => panic!("Redis with requirepass accepted a client without the password"),
    };
    assert!(matches!(error, WriteError::Connect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("Redis at 127.0.0.1:"), "{message}");
    assert!(
        message.contains("NOAUTH") || message.contains("uthentication"),
        "{message}"
    );
}
