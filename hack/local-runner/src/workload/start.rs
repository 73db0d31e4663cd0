//! Starting a workload's missing replicas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use kube::Client;
use tracing::{info, warn};

use super::desired::{DesiredWorkload, PodNaming};
use super::pod_names::{assign_pod_names, current_pod_names};
use super::{Replica, ReplicaProcess, Workload, WorkloadKey};
use crate::launch::{self, ReferencedObjects, ServiceAddresses};
use crate::process::spawn;

/// What starting a process needs besides its workload.
pub struct Launcher {
    pub client: Client,
    /// Where container commands are looked up.
    pub bin_dir: PathBuf,
    /// Where each process's log goes.
    pub log_dir: PathBuf,
    /// The servers among the workloads (see `launch::services`).
    pub network: HostNetwork,
}

/// The servers the runner runs: each one's loopback port, kept for the
/// workload's life, and the Service addresses standing for them.
#[derive(Debug, Default)]
pub struct HostNetwork {
    pub ports: BTreeMap<WorkloadKey, u16>,
    pub services: ServiceAddresses,
}

impl Launcher {
    /// The Pod's Secret volumes: `<log dir>/volumes/<namespace>.<pod>`.
    pub fn volumes_dir(&self, namespace: &str, pod_name: &str) -> PathBuf {
        self.log_dir
            .join("volumes")
            .join(format!("{namespace}.{pod_name}"))
    }

    /// `<namespace>.<workload>-<replica>.log`: stable across restarts, so a
    /// replica's log tells its whole story.
    pub fn log_path(&self, key: &WorkloadKey, index: usize) -> PathBuf {
        self.log_dir
            .join(format!("{}.{}-{index}.log", key.namespace, key.name))
    }
}

/// Starts replicas `missing` of `workload`, each as the Pod it stands in for.
/// Stops at the first that cannot start (the error says why); the others
/// are tried again on the next pass.
pub async fn start_replicas(
    workload: &mut Workload,
    desired: &DesiredWorkload,
    missing: &[usize],
    launcher: &Launcher,
) -> Result<()> {
    let container = desired.container()?;
    let ns = &workload.key.namespace;
    let pod_names = assign_pod_names(
        missing,
        controller_pod_names(launcher, desired).await,
        &workload.running_pod_names(),
        |index| desired.fallback_pod_name(index),
    );
    let volumes = desired
        .template
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    let objects = ReferencedObjects::read(&launcher.client, ns, container, volumes).await;
    let listen_port = launch::listening_port(container)
        .and_then(|_| launcher.network.ports.get(&workload.key).copied());
    let network = launch::Network {
        listen_port,
        services: Some(&launcher.network.services),
    };
    for (index, pod_name) in pod_names {
        if listen_port.is_some() && index > 0 {
            // One loopback port per server workload.
            bail!(
                "a server (its container names its --port) runs one replica locally; replica {index} is not started"
            );
        }
        let previous = workload.replicas.remove(&index);
        let pod_volumes = launch::PodVolumes {
            volumes,
            claims: &desired.claims,
            host_dir: launcher.volumes_dir(ns, &pod_name),
        };
        let spec = launch::resolve(
            container,
            &pod_name,
            &launcher.bin_dir,
            &objects,
            &pod_volumes,
            &network,
        )?;
        let log_path = launcher.log_path(&workload.key, index);
        let child = spawn(&spec, &log_path).with_context(|| {
            format!(
                "starting {} (log {})",
                spec.command.program.display(),
                log_path.display()
            )
        })?;
        info!(
            workload = %workload.key, replica = index, pod = %pod_name, pid = child.id().unwrap_or(0),
            metrics = ?spec.metrics_port.map(|p| format!("127.0.0.1:{p}")), log = %log_path.display(),
            "started {}", spec.command.program.display()
        );
        workload.replicas.insert(
            index,
            Replica {
                index,
                pod_name,
                metrics_port: spec.metrics_port,
                started: Instant::now(),
                restarts: previous.map(|p| p.restarts).unwrap_or(0),
                process: ReplicaProcess::Running(child),
            },
        );
    }
    Ok(())
}

/// The names the workload's controller gave its Pods, when they have to be
/// looked up; an API error costs only the names (made-up ones are used).
async fn controller_pod_names(launcher: &Launcher, desired: &DesiredWorkload) -> Vec<String> {
    let PodNaming::ReplicaSet {
        uid,
        revision,
        match_labels,
    } = &desired.pods
    else {
        // A StatefulSet's Pod names are known without asking.
        return Vec::new();
    };
    current_pod_names(
        &launcher.client,
        &desired.key.namespace,
        uid,
        revision.as_deref(),
        match_labels.as_ref(),
    )
    .await
    .unwrap_or_else(|e| {
        warn!(workload = %desired.key, "cannot list its pods, using made-up pod names: {e:#}");
        Vec::new()
    })
}
