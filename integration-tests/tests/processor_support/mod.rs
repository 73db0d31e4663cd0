//! Shared helpers of the processor's and generator's suites: the broker
//! address, unique names, topics, running the generator, reading a topic
//! back; running processor replicas ([`pipeline`]), the end-to-end data
//! set ([`dataset`]) and recomputing results independently ([`recompute`]).
#![allow(dead_code)] // each test crate uses a different subset

pub mod dataset;
pub mod pipeline;
pub mod recompute;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;

// The shared helpers, under the names these suites always used.
#[allow(unused_imports)]
pub use integration_tests::generator::{generator, run_ok, sequence_of};
#[allow(unused_imports)]
pub use integration_tests::kafka::{
    Record, consume_all, create_topic, create_topics, delete_topics, unique,
};

pub fn bootstrap() -> String {
    integration_tests::environment::kafka_bootstrap()
}

/// The Python interpreter with kafka-python (`hack/python/venv.sh`), for
/// the tests that play the original system's producer.
pub fn python() -> String {
    integration_tests::environment::require("SHOPSTREAM_PYTHON")
}

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("admin client")
}

/// Grows `topic` to `total` partitions.
pub async fn grow_topic(topic: &str, total: usize) {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin()
        .create_partitions(&[NewPartitions::new(topic, total)], &options)
        .await
        .expect("CreatePartitions request reaches the broker")
    {
        result.unwrap_or_else(|(name, code)| panic!("growing {name} failed: {code}"));
    }
}

/// High watermark (end offset) of every partition of `topic`.
pub fn partition_ends(topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("consumer");
    (0..partitions)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}
