//! A small Kafka protocol client for administration and monitoring, in
//! safe Rust over tokio, built on kafka-protocol's typed wire messages.
//!
//! What it does: describe, create, grow and delete topics; read topic
//! configuration and change it incrementally; list offsets (latest or
//! earliest, read-committed); read any consumer group's committed offsets
//! (with their metadata strings) and membership; read the timestamp of the
//! first committed record at an offset; append a few records to a partition
//! (for the operator's alerts). What it does not do: produce at volume
//! (no batching, idempotence or transactions), or consume as a group member.
//!
//! Secured listeners: TLS (trusted CA, hostname verification, client
//! certificates) and SASL SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, set with
//! [`ClientConfig::security`]; [`Error::kind`] tells an authentication
//! failure, a TLS handshake failure and an ACL denial apart.
//!
//! How it behaves:
//! - one multiplexed connection per broker, shared by every caller, opened
//!   lazily and replaced when it breaks; dropping the client closes them;
//! - every call has a deadline; within it, retriable failures (a moved
//!   coordinator or leader, a lost connection, a broker still loading) are
//!   retried with backoff, and the last one is the source of the error
//!   when the deadline runs out;
//! - batched calls answer per item: a topic or partition that fails does
//!   not hide the others' results;
//! - replies are bounded in size, and a malformed reply is an error, never
//!   a panic.
//!
//! ```no_run
//! # async fn example() -> Result<(), kafka_admin::Error> {
//! use std::time::Duration;
//! let client = kafka_admin::KafkaClient::new(kafka_admin::ClientConfig::new("127.0.0.1:9092")?);
//! let topics = client.describe_topics(&["orders".to_string()], Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod client;
mod cluster;
mod config;
mod connection;
mod error;
mod error_kind;
mod ops;
mod records;
mod retry;
mod security;
pub mod transport;
mod wire;

pub use client::KafkaClient;
pub use config::{BrokerAddress, ClientConfig, parse_bootstrap};
pub use connection::Handshake;
pub use error::{BrokerError, Cause, Error, ErrorCode, Result};
pub use error_kind::ErrorKind;
pub use ops::configs::{ConfigEntry, ConfigSource};
pub use ops::groups::{CommittedOffset, GroupDescription};
pub use ops::offsets::{IsolationLevel, OffsetSpec};
pub use ops::produce::ProducedRecord;
pub use ops::read::FetchedRecords;
pub use ops::topics::{Creation, NewTopic, PartitionInfo, TopicDescription, TopicInfo};
pub use records::FetchedRecord;
pub use security::{
    ClientIdentity, SaslConfig, SaslMechanism, ScramError, ScramHash, Secret, SecurityConfig,
    TlsConfig,
};

/// A topic name and a partition index.
pub type TopicPartition = (String, i32);
