//! RedisWriter against the local environment's real Redis (hack/redis/, both
//! the open and the password instance): a batch of the processor's records
//! is written twice, as a replay after a crash would, and what Redis holds
//! afterwards is exactly the golden keys and values — nothing counted
//! twice, nothing else written.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod serving_support;

use redis::AsyncCommands;
use serving_support::{HISTORY, RECORDS, assert_golden, snapshot};
use shopstream_serving::clv::{self, Model, UserHistory};
use shopstream_serving::keys::KeySpace;
use shopstream_serving::mapping;
use shopstream_serving::records::parse;
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

fn batch(keys: &KeySpace) -> Vec<RedisWrite> {
    let ttls = Ttls::default();
    let mut batch: Vec<RedisWrite> = RECORDS
        .iter()
        .flat_map(|(output, json)| {
            mapping::writes(
                keys,
                &ttls,
                Model::default(),
                &parse(*output, json).unwrap(),
            )
        })
        .collect();
    let history: UserHistory = serde_json::from_str(HISTORY).unwrap();
    let record = clv::compute(Model::OriginalRules, &history).unwrap();
    batch.push(mapping::clv(keys, &ttls, &record));
    batch
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
