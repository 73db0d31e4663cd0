//! Leader election through a coordination.k8s.io Lease, so that several
//! operator replicas can run and exactly one reconciles. A replica that
//! loses the lease stops reconciling and exits; Kubernetes restarts it as a
//! standby.
//!
//! Timing, with the lease duration D and the retry period R = D/3: the
//! leader renews every R. Another replica may take over once D has passed
//! since the last renewal it saw, so the leader must have stopped writing
//! by then: it steps down when it has not renewed for D - R (the renew
//! deadline), which leaves R to stop. Every Lease request runs under a
//! deadline that ends no later than the renew deadline, so a request that
//! hangs (an API server or network that stops answering) cannot keep a
//! leader writing past it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
}

impl LeaderElector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        lease_duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
        }
    }

    fn retry_period(&self) -> Duration {
        self.lease_duration / 3
    }

    /// How long after its last renewal the leader gives up the lease.
    fn renew_deadline(&self) -> Duration {
        self.lease_duration.saturating_sub(self.retry_period())
    }

    /// Waits until this replica holds the lease; returns when it was taken,
    /// the start of the request that took it.
    pub async fn acquire(&self) -> Instant {
        loop {
            let attempt = Instant::now();
            match self.attempt(self.retry_period()).await {
                Ok(true) => {
                    info!(lease = %self.name, identity = %self.identity, "became leader");
                    return attempt;
                }
                Ok(false) => debug!(lease = %self.name, "another replica leads; waiting"),
                Err(e) => warn!(lease = %self.name, error = %e, "lease update failed"),
            }
            tokio::time::sleep(self.retry_period()).await;
        }
    }

    /// Renews the lease taken at `acquired` until it cannot be held any
    /// more, then returns: at the latest at the renew deadline after the
    /// last renewal, while the lease it wrote is still valid.
    pub async fn hold(&self, acquired: Instant) {
        let mut last_renewal = acquired;
        loop {
            tokio::time::sleep(self.retry_period()).await;
            let attempt = Instant::now();
            let left = (last_renewal + self.renew_deadline()).saturating_duration_since(attempt);
            if left.is_zero() {
                warn!(lease = %self.name, "renew deadline passed; stepping down");
                return;
            }
            match self.attempt(left.min(self.retry_period())).await {
                // The lease runs from the renewTime written, taken when the
                // request started.
                Ok(true) => last_renewal = attempt,
                Ok(false) => {
                    warn!(lease = %self.name, "lost the lease to another replica");
                    return;
                }
                Err(e) => {
                    warn!(lease = %self.name, error = %e, "cannot renew the lease");
                    if last_renewal.elapsed() >= self.renew_deadline() {
                        warn!(lease = %self.name, "renew deadline passed; stepping down");
                        return;
                    }
                }
            }
        }
    }

    /// One acquire-or-renew, abandoned after `deadline`.
    async fn attempt(&self, deadline: Duration) -> Result<bool, String> {
        match tokio::time::timeout(deadline, self.try_acquire_or_renew()).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {deadline:?}")),
        }
    }

    /// `Ok(true)` when this replica holds the lease after the call.
    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let duration_secs = self.lease_duration.as_secs() as i32;
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
            (Some(renew), Some(secs)) => {
                let expiry = renew.0 + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                expiry < now
            }
            _ => true,
        };
        if holder != self.identity && !holder.is_empty() && !expired {
            return Ok(false);
        }
        if holder != self.identity {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(duration_secs);
        spec.renew_time = Some(MicroTime(now));
        // replace() carries the resourceVersion: if another replica wrote
        // the lease since we read it, the API server answers 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
