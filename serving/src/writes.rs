//! What a record becomes in Redis, before any I/O: absolute writes only.
//!
//! Every write sets a value (`SET`, `HSET`, `ZADD`), never adds to one
//! (`INCR`, `HINCRBY`, `ZINCRBY`): the processor emits one final record per
//! window and group, and writing a record again writes the same value, so
//! replaying a batch after a crash leaves Redis as it was. Trimming a
//! sorted set to its highest members and `EXPIRE` are idempotent too.

/// Time to live of the keys, in seconds: the original's 2 h for aggregates
/// (`setex(key, 7200, …)`) and 1 h for CLV (`setex(key, 3600, …)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttls {
    pub aggregates: u64,
    pub clv: u64,
}

impl Default for Ttls {
    fn default() -> Ttls {
        Ttls {
            aggregates: 7200,
            clv: 3600,
        }
    }
}

/// One Redis write. Each one also (re)sets the key's TTL, so a key lives
/// `ttl` seconds after its last write, as with the original's `SETEX`.
#[derive(Clone, Debug, PartialEq)]
pub enum RedisWrite {
    /// `SET key value EX ttl`
    Set {
        key: String,
        value: String,
        ttl: u64,
    },
    /// `HSET key field value`, `EXPIRE key ttl`
    HashField {
        key: String,
        field: String,
        value: String,
        ttl: u64,
    },
    /// `ZADD key score member`, `EXPIRE key ttl`, and with `keep_highest`
    /// `ZREMRANGEBYRANK key 0 -(keep_highest + 1)`: only the highest-scored
    /// members stay (the latest windows, the latest anomalies).
    SortedMember {
        key: String,
        member: String,
        score: f64,
        ttl: u64,
        keep_highest: Option<usize>,
    },
}

impl RedisWrite {
    pub fn key(&self) -> &str {
        match self {
            RedisWrite::Set { key, .. }
            | RedisWrite::HashField { key, .. }
            | RedisWrite::SortedMember { key, .. } => key,
        }
    }
}
