//! What a client needs to know before it connects.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::transport::{Authenticator, Connector, PlainTcp};

/// A broker address from the bootstrap list or from metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a comma-separated `host:port` list (`[v6]:port` for IPv6
/// literals); blanks around entries are ignored, an empty list is an error.
pub fn parse_bootstrap(servers: &str) -> Result<Vec<BrokerAddress>> {
    let mut addresses = Vec::new();
    for entry in servers.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        addresses.push(parse_address(entry)?);
    }
    if addresses.is_empty() {
        return Err(Error::Config(format!(
            "no bootstrap servers in {servers:?}"
        )));
    }
    Ok(addresses)
}

fn parse_address(entry: &str) -> Result<BrokerAddress> {
    let invalid = |why: &str| Error::Config(format!("bootstrap server {entry:?}: {why}"));
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("unclosed '['"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid("expected host:port"))?;
        (host, port)
    } else {
        entry
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected host:port"))?
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(invalid("empty or invalid host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port is not a number from 1 to 65535"))?;
    if port == 0 {
        return Err(invalid("port 0"));
    }
    Ok(BrokerAddress {
        host: host.to_string(),
        port,
    })
}

/// Client settings. [`ClientConfig::new`] gives the defaults.
#[derive(Clone)]
pub struct ClientConfig {
    pub bootstrap: Vec<BrokerAddress>,
    /// Sent in every request header; brokers log it and quota by it.
    pub client_id: String,
    /// Upper bound on opening one connection (TCP, ApiVersions, and any
    /// authentication).
    pub connect_timeout: Duration,
    /// Replies larger than this are refused and their connection closed,
    /// so a broken or hostile peer cannot make the client buffer gigabytes.
    pub max_response_bytes: usize,
    /// Requests waiting to be written to one connection; callers beyond
    /// that wait (their own deadline still applies).
    pub max_queued_requests: usize,
    /// How long partition leaders and group coordinators are remembered.
    /// Short, so memory stays bounded by what was asked recently; a stale
    /// entry costs one retry, not a wrong answer.
    pub metadata_max_age: Duration,
    /// Opens the byte stream to a broker: plain TCP, or TLS (set by
    /// [`ClientConfig::security`]).
    pub connector: Arc<dyn Connector>,
    /// Runs after ApiVersions on every new connection (SASL).
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// What [`ClientConfig::security`] set up, for `Debug` (no secrets).
    pub(crate) security_summary: String,
}

impl ClientConfig {
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        Ok(Self {
            bootstrap: parse_bootstrap(bootstrap_servers)?,
            client_id: "kafka-admin".into(),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 32 * 1024 * 1024,
            max_queued_requests: 1024,
            metadata_max_age: Duration::from_secs(10),
            connector: Arc::new(PlainTcp),
            authenticator: None,
            security_summary: "PLAINTEXT".into(),
        })
    }

    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("bootstrap", &self.bootstrap)
            .field("client_id", &self.client_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("security", &self.security_summary)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> BrokerAddress {
        BrokerAddress {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn bootstrap_lists_are_split_and_trimmed() {
        assert_eq!(
            parse_bootstrap(" a:9092, b.example:19092 ,,[::1]:9093").expect("valid"),
            vec![addr("a", 9092), addr("b.example", 19092), addr("::1", 9093)]
        );
    }

    #[test]
    fn invalid_bootstrap_entries_are_named() {
        for bad in [
            "",
            " , ",
            "host",
            "host:",
            "host:99999",
            "host:0",
            ":9092",
            "[::1:9092",
        ] {
            let error = parse_bootstrap(bad).expect_err(bad);
            assert!(matches!(error, Error::Config(_)), "{bad}: {error}");
        }
    }

    #[test]
    fn ipv6_addresses_display_with_brackets() {
        assert_eq!(addr("::1", 9092).to_string(), "[::1]:9092");
        assert_eq!(addr("kafka", 9092).to_string(), "kafka:9092");
    }
}
