//! `local-runner`: the "kubelet" of the Docker-free demo (hack/demo.sh).
//!
//! In the local stack, kwok simulates the nodes: Pods are scheduled and turn
//! Running, but nothing runs in them. This program runs, for every Deployment
//! (or StatefulSet) labelled `app.kubernetes.io/managed-by=shopstream-operator`,
//! `spec.replicas` host processes of its container's command (`processor`,
//! `generator`: the workspace's binaries) with the container's environment
//! resolved the way the kubelet would (literal values, ConfigMap and Secret
//! keys, the pod name), against the local Kafka. It polls the API server
//! every couple of seconds and converges:
//! - a new workload, or a scale-up: processes are started;
//! - a scale-down: the highest replicas are stopped;
//! - a changed pod template (the operator's config-hash annotation, an env
//!   change, ...): every process of that workload is restarted;
//! - a deleted workload: its processes are stopped;
//! - a process that exits: restarted with a back-off, like a container.
//!
//! Because everything shares one host, `METRICS_ADDR` is rewritten to a free
//! 127.0.0.1 port per process. A server (a StatefulSet whose container names
//! its `--port`: the managed Redis, `redis-server` from the host's PATH)
//! gets a loopback port of its own for the workload's life, and other
//! processes' environment values naming its Service's address
//! (`<service>.<namespace>.svc:<port>`) are rewritten to it; its claim
//! templates are directories kept across restarts, and `$(VAR)` references
//! in arguments are expanded as the kubelet does (`launch::services`,
//! `launch::volumes`, `launch::expand`). Each process logs to
//! `$LOG_DIR/local-runner/<namespace>.<workload>-<replica>.log`.
//! On SIGTERM/SIGINT every process gets SIGTERM (then SIGKILL after the pod's
//! termination grace period, at most `--max-grace`).
//!
//! Modules: `args` (settings), `runner` (the poll pass), `workload` (what a
//! workload asks for, the pure decisions, converging), `launch` (container
//! to launch spec: command, environment, metrics port), `process` (start and
//! stop host processes).

mod args;
mod launch;
mod process;
mod runner;
mod workload;

use anyhow::{Context as _, Result};
use clap::Parser;
use kube::Client;
use shopstream_common::logging::{self, LogFormat};
use shopstream_common::shutdown::Shutdown;
use tracing::{info, warn};

use args::Args;
use runner::Runner;
use workload::start::Launcher;

#[tokio::main]
async fn main() -> Result<()> {
    logging::init(LogFormat::Text, "info,kube=warn");

    let args = Args::parse();
    let bin_dir = args.bin_dir()?;
    let log_dir = args.process_log_dir();
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let client = Client::try_default()
        .await
        .context("building a Kubernetes client (is KUBECONFIG set?)")?;
    info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        selector = %args.selector,
        bin_dir = %bin_dir.display(),
        log_dir = %log_dir.display(),
        "local runner started"
    );
    let launcher = Launcher {
        client: client.clone(),
        bin_dir,
        log_dir,
        network: Default::default(),
    };
    let mut runner = Runner::new(client, &args, launcher);

    let shutdown = Shutdown::new();
    shutdown.on_signals();
    loop {
        if let Err(e) = runner.sync().await {
            // The API server may be restarting: keep what runs, retry.
            warn!("sync failed, keeping the current processes: {e:#}");
        }
        tokio::select! {
            _ = tokio::time::sleep(args.poll) => {}
            () = shutdown.triggered() => { info!("stopping every process"); break; }
        }
    }
    runner.stop_everything().await;
    info!("local runner stopped");
    Ok(())
}
