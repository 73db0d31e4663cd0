//! The client handle.

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::config::ClientConfig;

/// A client for one Kafka cluster. Cheap to clone (clones share the
/// connections); the connections close when the last clone is dropped.
/// Creating one does no I/O: the first call connects.
#[derive(Clone)]
pub struct KafkaClient {
    pub(crate) cluster: Arc<Cluster>,
}

impl KafkaClient {
    pub fn new(config: ClientConfig) -> Self {
        Self {
            cluster: Arc::new(Cluster::new(config)),
        }
    }

    /// Broker connections currently open (for tests and diagnostics).
    pub fn open_connections(&self) -> usize {
        self.cluster.open_connections()
    }
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClient")
            .field("config", self.cluster.config())
            .finish_non_exhaustive()
    }
}
