use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::consumer::BaseConsumer;

use super::lag::offset_reader;
use super::{KafkaAdmin, LagSampler};
use crate::error::{Error, Result};

/// Kafka clients shared by all reconciles, one per cluster (and per consumer
/// group for lag): librdkafka clients are expensive to create and keep
/// their connections open.
#[derive(Default)]
pub struct KafkaConnections {
    admins: Mutex<HashMap<String, Arc<KafkaAdmin>>>,
    samplers: Mutex<HashMap<(String, String), Arc<LagSampler>>>,
    probes: Mutex<HashMap<String, Arc<Mutex<BaseConsumer>>>>,
}

impl KafkaConnections {
    pub fn admin(&self, bootstrap_servers: &str) -> Result<Arc<KafkaAdmin>> {
        let mut admins = self
            .admins
            .lock()
            .map_err(|_| Error::Kafka("admin cache lock poisoned".into()))?;
        if let Some(admin) = admins.get(bootstrap_servers) {
            return Ok(admin.clone());
        }
        let admin = Arc::new(KafkaAdmin::connect(bootstrap_servers)?);
        admins.insert(bootstrap_servers.to_string(), admin.clone());
        Ok(admin)
    }

    pub fn lag_sampler(&self, bootstrap_servers: &str, group: &str) -> Result<Arc<LagSampler>> {
        let mut samplers = self
            .samplers
            .lock()
            .map_err(|_| Error::Kafka("lag sampler cache lock poisoned".into()))?;
        let key = (bootstrap_servers.to_string(), group.to_string());
        if let Some(sampler) = samplers.get(&key) {
            return Ok(sampler.clone());
        }
        let probe = self.probe(bootstrap_servers)?;
        let sampler = Arc::new(LagSampler::connect(bootstrap_servers, group, probe)?);
        samplers.insert(key, sampler.clone());
        Ok(sampler)
    }

    fn probe(&self, bootstrap_servers: &str) -> Result<Arc<Mutex<BaseConsumer>>> {
        let mut probes = self
            .probes
            .lock()
            .map_err(|_| Error::Kafka("probe cache lock poisoned".into()))?;
        if let Some(probe) = probes.get(bootstrap_servers) {
            return Ok(probe.clone());
        }
        let probe = Arc::new(Mutex::new(offset_reader(
            bootstrap_servers,
            "shopstream-operator-probe",
        )?));
        probes.insert(bootstrap_servers.to_string(), probe.clone());
        Ok(probe)
    }

    /// Drops the clients of a deleted pipeline's consumer group.
    pub fn forget_group(&self, bootstrap_servers: &str, group: &str) {
        if let Ok(mut samplers) = self.samplers.lock() {
            samplers.remove(&(bootstrap_servers.to_string(), group.to_string()));
        }
    }
}
