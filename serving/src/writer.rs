//! Applies batches of [`RedisWrite`]s to Redis.
//!
//! A batch is one pipelined `MULTI … EXEC` transaction: one round trip, and
//! Redis applies all of it or none of it, so a batch that failed (timeout,
//! connection lost, Redis restarted) can simply be sent again. Together
//! with absolute writes (see [`crate::writes`]) this makes replays
//! idempotent: the consumer commits its offsets only after `write`
//! returned `Ok`, and on a crash the records after the last commit are
//! written again, to the same values.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionAddr, IntoConnectionInfo, Pipeline};

use crate::writes::RedisWrite;

/// Where Redis is. The password is never printed (`Debug` hides it).
#[derive(Clone)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl RedisTarget {
    /// `host:port` (the form of `spec.serving.redis.address`).
    pub fn parse(address: &str, password: Option<String>) -> Result<RedisTarget, WriteError> {
        let invalid = || WriteError::Address(address.to_owned());
        let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        if host.is_empty() {
            return Err(invalid());
        }
        Ok(RedisTarget {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            password,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid Redis address {0:?}: expected host:port")]
    Address(String),
    #[error("connecting to Redis at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("writing {writes} keys to Redis at {target}: {source}")]
    Write {
        target: String,
        writes: usize,
        #[source]
        source: redis::RedisError,
    },
}

/// Bounded waits: a Redis that does not answer is an error the caller
/// retries with backoff (and reports), not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RedisWriter {
    target: RedisTarget,
    connection: ConnectionManager,
}

impl RedisWriter {
    /// Connects (and authenticates, with a password). The connection
    /// reconnects by itself after Redis restarts; a write during the outage
    /// fails and is for the caller to retry.
    pub async fn connect(target: RedisTarget) -> Result<RedisWriter, WriteError> {
        let connection = connection(&target).await?;
        Ok(RedisWriter { target, connection })
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Writes `batch` as one transaction. `Ok` means Redis acknowledged all
    /// of it.
    pub async fn write(&mut self, batch: &[RedisWrite]) -> Result<(), WriteError> {
        if batch.is_empty() {
            return Ok(());
        }
        let () = pipeline(batch)
            .query_async(&mut self.connection)
            .await
            .map_err(|source| WriteError::Write {
                target: self.target.to_string(),
                writes: batch.len(),
                source,
            })?;
        Ok(())
    }
}

/// A connection to `target` that reconnects by itself after Redis restarts,
/// checked (and authenticated) with a `PING`. The dashboard reads through
/// one of these too.
pub async fn connection(target: &RedisTarget) -> Result<ConnectionManager, WriteError> {
    let connect_error = |source| WriteError::Connect {
        target: target.to_string(),
        source,
    };
    let mut info = ConnectionAddr::Tcp(target.host.clone(), target.port)
        .into_connection_info()
        .map_err(connect_error)?;
    if let Some(password) = &target.password {
        let settings = info.redis_settings().clone().set_password(password);
        info = info.set_redis_settings(settings);
    }
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let mut connection = redis::Client::open(info)
        .map_err(connect_error)?
        .get_connection_manager_with_config(config)
        .await
        .map_err(connect_error)?;
    // The connection is lazy about authentication: without this, a
    // missing or wrong password would only show on the first batch,
    // where redis 1.2's multiplexed connection fails a MULTI pipeline
    // whose every reply is NOAUTH with a broken pipe (and an overflow
    // panic in its driver task in debug builds) instead of the reason.
    let _: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .map_err(connect_error)?;
    Ok(connection)
}

/// The commands of `batch`, in order, in one `MULTI … EXEC`.
pub fn pipeline(batch: &[RedisWrite]) -> Pipeline {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for write in batch {
        match write {
            RedisWrite::Set { key, value, ttl } => {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("EX")
                    .arg(*ttl)
                    .ignore();
            }
            RedisWrite::HashField {
                key,
                field,
                value,
                ttl,
            } => {
                pipe.cmd("HSET").arg(key).arg(field).arg(value).ignore();
                pipe.cmd("EXPIRE").arg(key).arg(*ttl).ignore();
            }
            RedisWrite::SortedMember {
                key,
                member,
                score,
                ttl,
                keep_highest,
            } => {
                pipe.cmd("ZADD").arg(key).arg(*score).arg(member).ignore();
                if let Some(keep) = keep_highest {
                    // Ranks are ascending: remove all but the `keep` highest.
                    let last_removed = -(i64::try_from(*keep).unwrap_or(i64::MAX - 1)) - 1;
                    pipe.cmd("ZREMRANGEBYRANK")
                        .arg(key)
                        .arg(0)
                        .arg(last_removed)
                        .ignore();
                }
                pipe.cmd("EXPIRE").arg(key).arg(*ttl).ignore();
            }
        }
    }
    pipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_one_transaction_of_absolute_writes() {
        let batch = [
            RedisWrite::Set {
                key: "k".into(),
                value: "v".into(),
                ttl: 7200,
            },
            RedisWrite::SortedMember {
                key: "z".into(),
                member: "m".into(),
                score: 1.5,
                ttl: 60,
                keep_highest: Some(2),
            },
        ];
        let packed = String::from_utf8(pipeline(&batch).get_packed_pipeline()).unwrap();
        let commands: Vec<&str> = packed
            .split("\r\n")
            .filter(|part| part.chars().all(|c| c.is_ascii_uppercase()) && !part.is_empty())
            .collect();
        assert_eq!(
            commands,
            [
                "MULTI",
                "SET",
                "EX",
                "ZADD",
                "ZREMRANGEBYRANK",
                "EXPIRE",
                "EXEC"
            ]
        );
        assert!(
            packed.contains("\r\n$2\r\n-3\r\n"),
            "keeps the 2 highest: {packed:?}"
        );
    }

    #[test]
    fn addresses_and_hidden_passwords() {
        let target = RedisTarget::parse("127.0.0.1:6379", Some("s3cret".into())).unwrap();
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 6379));
        assert!(!format!("{target:?} {target}").contains("s3cret"));
        assert!(RedisTarget::parse("redis", None).is_err());
        assert!(RedisTarget::parse(":6379", None).is_err());
        assert_eq!(RedisTarget::parse("[::1]:6379", None).unwrap().host, "::1");
    }
}
