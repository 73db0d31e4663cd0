//! Discovery of Strimzi's KafkaTopic and KafkaUser APIs, cached: every reconcile of a
//! Strimzi-mode pipeline needs it, and asking the API server each time cost
//! a discovery request per reconcile (per call, before: three per cleanup).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::ApiResource;
use kube::discovery;

use crate::error::{Error, Result};

pub const STRIMZI_GROUP: &str = "kafka.strimzi.io";

/// How long a discovered API is trusted: an upgrade of Strimzi that drops
/// `v1beta2` is picked up after this without a restart.
const REDISCOVER_AFTER: Duration = Duration::from_secs(600);

/// The Strimzi APIs the cluster serves (KafkaTopic, KafkaUser), each
/// discovered once and re-checked every [`REDISCOVER_AFTER`]. A failed
/// discovery is not cached: Strimzi may be installed in the meantime, and
/// the next reconcile looks again.
#[derive(Default)]
pub struct StrimziApi {
    found: Mutex<BTreeMap<&'static str, (ApiResource, Instant)>>,
}

impl StrimziApi {
    /// The KafkaTopic API: `v1` (Strimzi 1.x) preferred, `v1beta2` for
    /// older Strimzi.
    pub async fn kafka_topic(&self, client: &Client) -> Result<ApiResource> {
        self.resource(client, "KafkaTopic").await
    }

    /// The KafkaUser API (`spec.kafka.user.create`), likewise.
    pub async fn kafka_user(&self, client: &Client) -> Result<ApiResource> {
        self.resource(client, "KafkaUser").await
    }

    async fn resource(&self, client: &Client, kind: &'static str) -> Result<ApiResource> {
        if let Some((resource, at)) = self.lock().get(kind)
            && at.elapsed() < REDISCOVER_AFTER
        {
            return Ok(resource.clone());
        }
        let resource = discover(client, kind).await?;
        self.lock().insert(kind, (resource.clone(), Instant::now()));
        Ok(resource)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, (ApiResource, Instant)>> {
        self.found.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn discover(client: &Client, kind: &str) -> Result<ApiResource> {
    let group = discovery::group(client, STRIMZI_GROUP).await.map_err(|e| {
        Error::strimzi_caused_by(
            format!(
                "the spec names a Strimzi cluster but the {STRIMZI_GROUP} API is not served ({e}); install Strimzi or remove spec.kafka.strimziCluster"
            ),
            e,
        )
    })?;
    for version in ["v1", "v1beta2"] {
        let found = group
            .versioned_resources(version)
            .into_iter()
            .find(|(resource, _)| resource.kind == kind);
        if let Some((resource, _)) = found {
            return Ok(resource);
        }
    }
    Err(Error::strimzi(format!(
        "{STRIMZI_GROUP} serves no {kind} in v1 or v1beta2"
    )))
}
