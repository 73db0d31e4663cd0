//! The runner's poll pass over every workload it runs.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context as _, Result};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use tracing::{error, info};

use crate::args::Args;
use crate::launch::{ServiceAddresses, free_loopback_port, listening_port};
use crate::process::stop_all;
use crate::workload::converge::converge;
use crate::workload::desired::DesiredWorkload;
use crate::workload::start::Launcher;
use crate::workload::{Workload, WorkloadKey, WorkloadKind};

pub struct Runner {
    client: Client,
    namespace: Option<String>,
    selector: String,
    max_grace: Duration,
    launcher: Launcher,
    workloads: HashMap<WorkloadKey, Workload>,
}

/// What one listed workload asks for, or why it cannot be read.
type Desired = BTreeMap<WorkloadKey, Result<DesiredWorkload>>;

impl Runner {
    pub fn new(client: Client, args: &Args, launcher: Launcher) -> Self {
        Self {
            client,
            namespace: args.namespace.clone(),
            selector: args.selector.clone(),
            max_grace: args.max_grace,
            launcher,
            workloads: HashMap::new(),
        }
    }

    /// One pass: list the workloads, then start, stop and restart processes
    /// until each has `spec.replicas` of them from its current pod template.
    pub async fn sync(&mut self) -> Result<()> {
        let desired = self.list_desired().await?;
        self.stop_gone(&desired).await;
        // Before anything starts: a client started in this pass finds a
        // server started after it.
        self.update_network(&desired)?;
        for (key, wanted) in &desired {
            let result = match wanted {
                Ok(wanted) => {
                    let workload = self.workloads.entry(key.clone()).or_insert_with(|| {
                        Workload::new(key.clone(), wanted.fingerprint.clone(), wanted.grace)
                    });
                    converge(workload, wanted, &self.launcher).await
                }
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            };
            if let Err(e) = result {
                self.report_once(key, e);
            }
        }
        Ok(())
    }

    /// Gives every server workload (a StatefulSet whose container names its
    /// `--port`, with a governing Service) a loopback port, kept while the
    /// workload exists, and maps its Service's address to it.
    fn update_network(&mut self, desired: &Desired) -> Result<()> {
        let network = &mut self.launcher.network;
        network.ports.retain(|key, _| desired.contains_key(key));
        let mut services = ServiceAddresses::default();
        for (key, wanted) in desired {
            let Ok(wanted) = wanted else { continue };
            let Some(service) = &wanted.service_name else {
                continue;
            };
            let Some(port) = wanted.container().ok().and_then(listening_port) else {
                continue;
            };
            let host_port = match network.ports.get(key) {
                Some(port) => *port,
                None => {
                    let host_port = free_loopback_port()?;
                    info!(
                        workload = %key,
                        service = %format!("{service}.{}.svc:{port}", key.namespace),
                        local = %format!("127.0.0.1:{host_port}"),
                        "server workload: its Service address is a loopback port"
                    );
                    network.ports.insert(key.clone(), host_port);
                    host_port
                }
            };
            services.register(&key.namespace, service, port, host_port);
        }
        network.services = services;
        Ok(())
    }

    /// Stops every process (the runner is stopping).
    pub async fn stop_everything(&mut self) {
        let stops = self
            .workloads
            .drain()
            .map(|(_, mut w)| async move { stop_all(&mut w, "the runner is stopping").await });
        futures::future::join_all(stops).await;
    }

    /// The workloads the selector matches, not being deleted, in key order.
    async fn list_desired(&self) -> Result<Desired> {
        let params = ListParams::default().labels(&self.selector);
        let mut desired = Desired::new();
        let deployments = self
            .api::<Deployment>()
            .list(&params)
            .await
            .context("listing Deployments")?;
        for d in deployments
            .items
            .iter()
            .filter(|d| d.metadata.deletion_timestamp.is_none())
        {
            desired.insert(
                WorkloadKey::of(WorkloadKind::Deployment, d),
                DesiredWorkload::from_deployment(d, self.max_grace),
            );
        }
        let stateful_sets = self
            .api::<StatefulSet>()
            .list(&params)
            .await
            .context("listing StatefulSets")?;
        for s in stateful_sets
            .items
            .iter()
            .filter(|s| s.metadata.deletion_timestamp.is_none())
        {
            desired.insert(
                WorkloadKey::of(WorkloadKind::StatefulSet, s),
                DesiredWorkload::from_stateful_set(s, self.max_grace),
            );
        }
        Ok(desired)
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// Stops, in parallel, the processes of workloads that went away.
    async fn stop_gone(&mut self, desired: &Desired) {
        let gone: Vec<WorkloadKey> = self
            .workloads
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        let stops = gone
            .iter()
            .filter_map(|k| self.workloads.remove(k))
            .map(|mut w| async move {
                let reason = format!("its {} is gone", w.key.kind);
                stop_all(&mut w, &reason).await;
            });
        futures::future::join_all(stops).await;
    }

    /// Logs a workload's error when it differs from the last one, rather
    /// than on every pass.
    fn report_once(&mut self, key: &WorkloadKey, e: anyhow::Error) {
        let message = format!("{e:#}");
        if let Some(w) = self.workloads.get_mut(key) {
            if w.last_error.as_deref() != Some(message.as_str()) {
                error!(workload = %w.key, "cannot run: {message}");
                w.last_error = Some(message);
            }
        }
    }
}
