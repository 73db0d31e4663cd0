//! Kafka clients shared by all reconciles, one per cluster (bootstrap
//! string), kept only while a pipeline uses them.
//!
//! Each pipeline registers the cluster it uses on every reconcile; a
//! cluster's client is dropped (its connections closed) as soon as no
//! pipeline uses it any more: the last one was deleted or moved to other
//! `bootstrapServers`. As a backstop, a pipeline not seen for
//! `user_expiry` stops counting as a user (a pipeline whose finalizer was
//! removed by hand is never cleaned up), and a client used without a
//! pipeline goes after the same idle time.
//!
//! A secured pipeline's client authenticates with the pipeline's own
//! credentials ([`KafkaConnections::set_credentials`], before its first
//! request of a reconcile): clients are per bootstrap string *and*
//! credential, so two pipelines share one only if both are the same, and a
//! rotated password gets a new client while the old one is dropped.
//!
//! With the operator's own credential (chart `kafka.operatorCredentials`,
//! [`KafkaConnections::with_operator_credential`]) a secured pipeline's
//! clients use that instead: the pipeline's credential then only has to
//! serve its workloads, and every pipeline of a cluster shares one client.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{KafkaAdmin, LagSampler};
use crate::error::Result;
use crate::kafka_security::ClusterCredentials;
use crate::kafka_security::operator_credential::{OperatorCredential, effective_credentials};

/// How long a pipeline keeps a cluster's client without a reconcile; far
/// above any status refresh interval, so only forgotten pipelines expire.
pub const USER_EXPIRY: Duration = Duration::from_secs(15 * 60);

struct Cluster {
    admin: Arc<KafkaAdmin>,
    sampler: Arc<LagSampler>,
    /// Pipelines using this cluster → when they last did.
    users: HashMap<String, Instant>,
    last_used: Instant,
}

#[derive(Default)]
struct State {
    clusters: HashMap<String, Cluster>,
    /// Pipeline → the cluster key (bootstrap string and credential) it
    /// uses now.
    pipelines: HashMap<String, String>,
    /// Pipeline → its credentials, for secured clusters.
    credentials: HashMap<String, ClusterCredentials>,
}

pub struct KafkaConnections {
    state: Mutex<State>,
    user_expiry: Duration,
    operator: Option<OperatorCredential>,
}

impl Default for KafkaConnections {
    fn default() -> Self {
        Self::with_expiry(USER_EXPIRY)
    }
}

/// Who asks for a client: a pipeline (registered as a user of the
/// cluster) or nobody in particular (kept for the idle time only).
#[derive(Clone, Copy, Debug)]
pub enum ClientUse<'a> {
    Pipeline(&'a str),
    Anonymous,
}

impl KafkaConnections {
    pub fn with_expiry(user_expiry: Duration) -> Self {
        Self {
            state: Mutex::default(),
            user_expiry,
            operator: None,
        }
    }

    /// The operator's own credential, used for every secured pipeline's
    /// cluster instead of the pipeline's.
    pub fn with_operator_credential(mut self, operator: Option<OperatorCredential>) -> Self {
        self.operator = operator;
        self
    }

    /// The operator's own credential, when configured.
    pub fn operator_credential(&self) -> Option<&OperatorCredential> {
        self.operator.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cluster entry for `bootstrap_servers`, created on first use and
    /// registered to `user`; the user's previous cluster, if another, loses
    /// it as a user.
    fn cluster<T>(
        &self,
        user: ClientUse<'_>,
        bootstrap_servers: &str,
        pick: impl FnOnce(&Cluster) -> Arc<T>,
    ) -> Result<Arc<T>> {
        let now = Instant::now();
        let mut state = self.lock();
        self.sweep(&mut state, now);
        let credentials = match user {
            ClientUse::Pipeline(key) => state.credentials.get(key).cloned(),
            ClientUse::Anonymous => None,
        };
        // The digest only: the key is never shown, and holds no secret.
        let cluster_key = match &credentials {
            Some(c) => format!("{bootstrap_servers}#{}", c.identity),
            None => bootstrap_servers.to_string(),
        };
        if let ClientUse::Pipeline(key) = user {
            let previous = state.pipelines.insert(key.to_string(), cluster_key.clone());
            if let Some(previous) = previous.filter(|p| *p != cluster_key) {
                release_user(&mut state, &previous, key);
            }
        }
        let cluster = match state.clusters.entry(cluster_key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let admin = KafkaAdmin::connect(
                    bootstrap_servers,
                    credentials.as_ref().map(|c| &c.security),
                )?;
                let sampler = LagSampler::sharing(&admin);
                entry.insert(Cluster {
                    admin: Arc::new(admin),
                    sampler: Arc::new(sampler),
                    users: HashMap::new(),
                    last_used: now,
                })
            }
        };
        cluster.last_used = now;
        if let ClientUse::Pipeline(key) = user {
            cluster.users.insert(key.to_string(), now);
        }
        Ok(pick(cluster))
    }

    /// The admin client of `bootstrap_servers`.
    pub fn admin(&self, user: ClientUse<'_>, bootstrap_servers: &str) -> Result<Arc<KafkaAdmin>> {
        self.cluster(user, bootstrap_servers, |c| c.admin.clone())
    }

    /// The lag sampler of `bootstrap_servers` (sharing the admin client's
    /// connections).
    pub fn lag_sampler(
        &self,
        user: ClientUse<'_>,
        bootstrap_servers: &str,
    ) -> Result<Arc<LagSampler>> {
        self.cluster(user, bootstrap_servers, |c| c.sampler.clone())
    }

    /// The credentials `pipeline`'s clients connect with from now on: its
    /// own (`None`: plaintext, anonymous), or for a secured pipeline the
    /// operator's when configured, whose files are read here (an unreadable
    /// one is `KafkaCredentialsUnavailable`).
    pub fn set_credentials(
        &self,
        pipeline: &str,
        credentials: Option<ClusterCredentials>,
    ) -> Result<()> {
        let credentials = effective_credentials(credentials, self.operator.as_ref())?;
        let mut state = self.lock();
        match credentials {
            Some(c) => state.credentials.insert(pipeline.to_string(), c),
            None => state.credentials.remove(pipeline),
        };
        Ok(())
    }

    /// The pipeline is gone: its cluster's client goes too unless another
    /// pipeline uses it.
    pub fn release(&self, pipeline: &str) {
        let mut state = self.lock();
        state.credentials.remove(pipeline);
        if let Some(bootstrap) = state.pipelines.remove(pipeline) {
            release_user(&mut state, &bootstrap, pipeline);
        }
    }

    /// Drops users not seen within the expiry and clusters nobody uses.
    fn sweep(&self, state: &mut State, now: Instant) {
        let expiry = self.user_expiry;
        let mut expired = Vec::new();
        for cluster in state.clusters.values_mut() {
            cluster.users.retain(|user, seen| {
                let keep = now.duration_since(*seen) < expiry;
                if !keep {
                    expired.push(user.clone());
                }
                keep
            });
        }
        for user in expired {
            state.pipelines.remove(&user);
            state.credentials.remove(&user);
        }
        state
            .clusters
            .retain(|_, c| !c.users.is_empty() || now.duration_since(c.last_used) < expiry);
    }

    /// Clusters with a cached client.
    pub fn cached_clusters(&self) -> usize {
        let mut state = self.lock();
        self.sweep(&mut state, Instant::now());
        state.clusters.len()
    }
}

fn release_user(state: &mut State, bootstrap_servers: &str, pipeline: &str) {
    let unused = match state.clusters.get_mut(bootstrap_servers) {
        Some(cluster) => {
            cluster.users.remove(pipeline);
            cluster.users.is_empty()
        }
        None => false,
    };
    if unused {
        // Dropping the entry closes the client's connections once the
        // calls in flight (holding their own references) are done.
        state.clusters.remove(bootstrap_servers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_stays_while_a_pipeline_uses_it() {
        let connections = KafkaConnections::default();
        let a = connections
            .admin(ClientUse::Pipeline("ns/a"), "k1:9092")
            .expect("client");
        let b = connections
            .lag_sampler(ClientUse::Pipeline("ns/b"), "k1:9092")
            .expect("sampler");
        drop((a, b));
        assert_eq!(connections.cached_clusters(), 1);
        connections.release("ns/a");
        assert_eq!(connections.cached_clusters(), 1, "ns/b still uses it");
        connections.release("ns/b");
        assert_eq!(connections.cached_clusters(), 0);
    }

    #[test]
    fn moving_a_pipeline_to_other_servers_releases_the_old_cluster() {
        let connections = KafkaConnections::default();
        for i in 0..50 {
            connections
                .admin(ClientUse::Pipeline("ns/p"), &format!("k{i}:9092"))
                .expect("client");
            assert_eq!(connections.cached_clusters(), 1);
        }
        connections.release("ns/p");
        assert_eq!(connections.cached_clusters(), 0);
    }

    #[test]
    fn forgotten_pipelines_and_anonymous_uses_expire() {
        let connections = KafkaConnections::with_expiry(Duration::ZERO);
        connections
            .admin(ClientUse::Pipeline("ns/forgotten"), "k1:9092")
            .expect("client");
        connections
            .admin(ClientUse::Anonymous, "k2:9092")
            .expect("client");
        assert_eq!(connections.cached_clusters(), 0);
    }

    #[test]
    fn invalid_servers_are_a_spec_error_and_cache_nothing() {
        let connections = KafkaConnections::default();
        let error = connections
            .admin(ClientUse::Pipeline("ns/p"), "no-port")
            .expect_err("invalid");
        assert!(error.is_permanent(), "{error}");
        assert_eq!(connections.cached_clusters(), 0);
    }
}
