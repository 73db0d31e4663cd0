//! One workload's pass: from the processes it has to the ones it asks for.

use std::time::Instant;

use anyhow::Result;
use tracing::warn;

use super::desired::DesiredWorkload;
use super::plan::{replicas_to_start, replicas_to_stop, restart_backoff};
use super::start::{Launcher, start_replicas};
use super::{ReplicaProcess, Workload};
use crate::process::{stop_all, stop_replica};

/// Restarts every process on a template change, stops those above the
/// replica count, notes the ones that exited, and starts the missing ones.
pub async fn converge(
    workload: &mut Workload,
    desired: &DesiredWorkload,
    launcher: &Launcher,
) -> Result<()> {
    if workload.fingerprint != desired.fingerprint {
        // Stopped with the old template's grace period: theirs.
        stop_all(workload, "its pod template changed; restarting").await;
        workload.fingerprint = desired.fingerprint.clone();
        workload.last_error = None;
    }
    workload.grace = desired.grace;
    scale_down(workload, desired).await;
    schedule_restarts(workload);

    let missing = replicas_to_start(desired.replicas, &workload.statuses(), Instant::now());
    if missing.is_empty() {
        return Ok(());
    }
    start_replicas(workload, desired, &missing, launcher).await?;
    workload.last_error = None;
    Ok(())
}

/// Stops, in parallel, the replicas above the desired count.
async fn scale_down(workload: &mut Workload, desired: &DesiredWorkload) {
    let id = workload.key.to_string();
    let reason = format!("the {} was scaled down", workload.key.kind);
    let extra = replicas_to_stop(workload.replicas.keys().copied(), desired.replicas);
    let stops = extra
        .iter()
        .filter_map(|i| workload.replicas.remove(i))
        .map(|r| stop_replica(&id, r, desired.grace, &reason));
    futures::future::join_all(stops).await;
}

/// Reaps processes that exited and schedules their restart with a back-off,
/// like a container's restart policy `Always`.
fn schedule_restarts(workload: &mut Workload) {
    for replica in workload.replicas.values_mut() {
        let ReplicaProcess::Running(child) = &mut replica.process else {
            continue;
        };
        let Ok(Some(status)) = child.try_wait() else {
            continue;
        };
        let restart = restart_backoff(replica.restarts, replica.started.elapsed());
        replica.restarts = restart.restarts;
        replica.process = ReplicaProcess::Exited {
            restart_at: Instant::now() + restart.after,
        };
        warn!(
            workload = %workload.key, replica = replica.index, pod = %replica.pod_name,
            %status, "process exited; restarting in {:?}", restart.after
        );
    }
}
