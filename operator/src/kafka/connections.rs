use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{KafkaAdmin, LagSampler};
use crate::error::{Error, Result};

/// Kafka clients shared by all reconciles, one set per cluster: librdkafka
/// clients are expensive (threads, sockets, buffers) and keep their
/// connections open, so their number must not grow with the pipelines.
#[derive(Default)]
pub struct KafkaConnections {
    admins: Mutex<HashMap<String, Arc<KafkaAdmin>>>,
    samplers: Mutex<HashMap<String, Arc<LagSampler>>>,
}

/// The cached client for `bootstrap_servers`, created on first use.
fn cached<T>(
    cache: &Mutex<HashMap<String, Arc<T>>>,
    bootstrap_servers: &str,
    connect: impl FnOnce(&str) -> Result<T>,
) -> Result<Arc<T>> {
    let mut cache = cache
        .lock()
        .map_err(|_| Error::Kafka("Kafka client cache lock poisoned".into()))?;
    if let Some(client) = cache.get(bootstrap_servers) {
        return Ok(client.clone());
    }
    let client = Arc::new(connect(bootstrap_servers)?);
    cache.insert(bootstrap_servers.to_string(), client.clone());
    Ok(client)
}

impl KafkaConnections {
    pub fn admin(&self, bootstrap_servers: &str) -> Result<Arc<KafkaAdmin>> {
        cached(&self.admins, bootstrap_servers, KafkaAdmin::connect)
    }

    /// Shares the cluster's admin client, so a cluster costs two librdkafka
    /// clients (admin and the sampler's record probe).
    pub fn lag_sampler(&self, bootstrap_servers: &str) -> Result<Arc<LagSampler>> {
        let admin = self.admin(bootstrap_servers)?;
        cached(&self.samplers, bootstrap_servers, |bootstrap_servers| {
            LagSampler::sharing(&admin, bootstrap_servers)
        })
    }
}
