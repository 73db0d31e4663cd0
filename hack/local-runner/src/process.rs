//! Host processes standing in for containers: started from a launch spec
//! with a container's isolation from the host's environment, stopped the way
//! the kubelet stops a container.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::process::{Child, Command};
use tracing::{info, warn};

use crate::launch::LaunchSpec;
use crate::workload::{Replica, ReplicaProcess, Workload};

/// What a process inherits from the runner: enough to find programs and
/// get backtraces; everything else comes from the pod template.
const INHERITED_ENV: [&str; 4] = ["PATH", "HOME", "TMPDIR", "RUST_BACKTRACE"];

/// Starts `spec`, its stdout and stderr appended to `log_path` after a header
/// line naming the command.
pub fn spawn(spec: &LaunchSpec, log_path: &Path) -> Result<Child> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    writeln!(
        log,
        "===== local-runner: starting {} (METRICS_ADDR={}) =====",
        spec.command.display(),
        spec.metrics_port
            .map(|p| format!("127.0.0.1:{p}"))
            .unwrap_or_default()
    )?;
    let mut command = Command::new(&spec.command.program);
    command
        .args(&spec.argv)
        // A container does not inherit the host's environment.
        .env_clear()
        .envs(
            INHERITED_ENV
                .into_iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))),
        )
        .envs(spec.env.iter())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Should the runner itself die, the processes go with it.
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

/// Stops every replica of `workload` in parallel.
pub async fn stop_all(workload: &mut Workload, reason: &str) {
    let id = workload.key.to_string();
    let grace = workload.grace;
    let replicas = std::mem::take(&mut workload.replicas);
    let stops = replicas
        .into_values()
        .map(|r| stop_replica(&id, r, grace, reason));
    futures::future::join_all(stops).await;
}

/// SIGTERM, then SIGKILL after `grace`, like the kubelet.
pub async fn stop_replica(id: &str, replica: Replica, grace: Duration, reason: &str) {
    let ReplicaProcess::Running(mut child) = replica.process else {
        info!(workload = %id, replica = replica.index, "removed (not running): {reason}");
        return;
    };
    // Already reaped: nothing left to signal.
    let Some(pid) = child.id() else { return };
    info!(workload = %id, replica = replica.index, pod = %replica.pod_name, pid,
          metrics_port = ?replica.metrics_port, "stopping: {reason}");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => info!(workload = %id, replica = replica.index, %status, "stopped"),
        _ => {
            warn!(workload = %id, replica = replica.index, "no exit within {grace:?} of SIGTERM; killing");
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use super::*;
    use crate::launch::{CommandLine, Environment};

    fn shell(script: &str, env: &[(&str, &str)]) -> LaunchSpec {
        let mut environment = Environment::default();
        for (k, v) in env {
            environment.set(*k, *v);
        }
        let args: Vec<String> = vec!["-c".into(), script.into()];
        LaunchSpec {
            argv: args.clone(),
            command: CommandLine {
                program: PathBuf::from("/bin/sh"),
                args,
            },
            env: environment,
            metrics_port: Some(4242),
        }
    }

    fn temp_log(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "local-runner-test-{}-{name}.log",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn replica(child: Child) -> Replica {
        Replica {
            index: 0,
            pod_name: "p-0".into(),
            metrics_port: None,
            started: Instant::now(),
            restarts: 0,
            process: ReplicaProcess::Running(child),
        }
    }

    #[tokio::test]
    async fn a_process_gets_the_spec_env_and_not_the_hosts() {
        let log = temp_log("env");
        let spec = shell(
            r#"echo "A=$A"; echo "CARGO=${CARGO:-unset}"; echo "PATH set: ${PATH:+yes}""#,
            &[("A", "from the template")],
        );
        let mut child = spawn(&spec, &log).expect("spawned");
        let status = child.wait().await.expect("exits");
        assert!(status.success());
        let text = std::fs::read_to_string(&log).expect("log");
        let _ = std::fs::remove_file(&log);
        assert!(
            text.starts_with("===== local-runner: starting /bin/sh -c ")
                && text.contains("(METRICS_ADDR=127.0.0.1:4242) =====\n"),
            "{text}"
        );
        assert!(text.contains("A=from the template\n"), "{text}");
        // cargo sets CARGO for the tests: a host variable that must not leak.
        assert!(text.contains("CARGO=unset\n"), "{text}");
        assert!(text.contains("PATH set: yes\n"), "{text}");
    }

    /// Waits (up to 10 s) until the log at `path` contains `line`.
    async fn wait_for_line(path: &Path, line: &str) {
        for _ in 0..200 {
            if std::fs::read_to_string(path).is_ok_and(|t| t.contains(line)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} never printed {line:?}", path.display());
    }

    #[tokio::test]
    async fn stopping_sends_sigterm_and_kills_after_the_grace_period() {
        // Exits on SIGTERM by itself.
        let log = temp_log("stop-polite");
        let polite = spawn(&shell("sleep 30", &[]), &log).expect("spawned");
        let started = Instant::now();
        stop_replica("test", replica(polite), Duration::from_secs(10), "test").await;
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_file(&log);

        // Ignores SIGTERM (once its trap is set): killed after the grace period.
        let log = temp_log("stop-stubborn");
        let stubborn = spawn(
            &shell(
                "trap '' TERM; echo trapped; while :; do sleep 0.1; done",
                &[],
            ),
            &log,
        )
        .expect("spawned");
        let pid = stubborn.id().expect("running");
        wait_for_line(&log, "trapped\n").await;
        let started = Instant::now();
        stop_replica(
            "test",
            replica(stubborn),
            Duration::from_millis(500),
            "test",
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(500));
        let _ = std::fs::remove_file(&log);
        let alive = std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .expect("kill -0");
        assert!(!alive.success(), "pid {pid} still runs");
    }
}
