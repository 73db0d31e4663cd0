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

#[cfg(test)]
mod tests {
    //! The orchestration against real host processes (`/bin/sh`): a
    //! StatefulSet-shaped workload needs no API calls (its pod names are
    //! known, its container refers to no ConfigMap), so the client points
    //! nowhere.

    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use kube::Client;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::process::stop_all;
    use crate::workload::plan::ReplicaStatus;

    fn launcher(log_dir: PathBuf) -> Launcher {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
        Launcher {
            client: Client::try_from(config).expect("a client"),
            bin_dir: PathBuf::from("/nonexistent"),
            log_dir,
            network: Default::default(),
        }
    }

    fn stateful_set(replicas: i32, script: &str) -> DesiredWorkload {
        let set = StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "web".into(),
                            command: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        };
        DesiredWorkload::from_stateful_set(&set, Duration::from_secs(5)).expect("valid")
    }

    fn pids(w: &Workload) -> BTreeMap<usize, u32> {
        w.replicas
            .iter()
            .filter_map(|(i, r)| match &r.process {
                ReplicaProcess::Running(child) => child.id().map(|pid| (*i, pid)),
                ReplicaProcess::Exited { .. } => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_workload_is_started_scaled_down_restarted_on_change_and_backed_off_on_exit() {
        let dir =
            std::env::temp_dir().join(format!("local-runner-converge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("log dir");
        let launcher = launcher(dir.clone());
        let desired = stateful_set(2, "sleep 30");
        let mut w = Workload::new(
            desired.key.clone(),
            desired.fingerprint.clone(),
            desired.grace,
        );

        converge(&mut w, &desired, &launcher)
            .await
            .expect("started");
        let first = pids(&w);
        assert_eq!(first.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(w.replicas[&1].pod_name, "web-1");
        assert!(dir.join("shop.web-1.log").is_file());

        // Nothing changed: nothing is restarted.
        converge(&mut w, &desired, &launcher).await.expect("steady");
        assert_eq!(pids(&w), first);

        // Scale-down: replica 1 goes, replica 0 keeps its process.
        converge(&mut w, &stateful_set(1, "sleep 30"), &launcher)
            .await
            .expect("scaled");
        assert_eq!(pids(&w), BTreeMap::from([(0, first[&0])]));

        // Template change: replica 0 gets a new process.
        let changed = stateful_set(1, "sleep 31");
        converge(&mut w, &changed, &launcher)
            .await
            .expect("restarted");
        let second = pids(&w);
        assert_eq!(second.keys().copied().collect::<Vec<_>>(), vec![0]);
        assert_ne!(second[&0], first[&0]);

        // A process that exits waits for its back-off.
        let crashing = stateful_set(1, "exit 3");
        converge(&mut w, &crashing, &launcher)
            .await
            .expect("started");
        let mut status = w.statuses()[&0];
        for _ in 0..100 {
            converge(&mut w, &crashing, &launcher).await.expect("pass");
            status = w.statuses()[&0];
            if status != ReplicaStatus::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(matches!(status, ReplicaStatus::RestartAt(_)), "{status:?}");
        assert_eq!(w.replicas[&0].restarts, 1);
        // Not restarted within the back-off.
        converge(&mut w, &crashing, &launcher).await.expect("pass");
        assert_eq!(w.statuses()[&0], status);

        stop_all(&mut w, "the test is over").await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
