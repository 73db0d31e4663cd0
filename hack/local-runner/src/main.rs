//! `local-runner`: the "kubelet" of the Docker-free demo (hack/demo.sh).
//!
//! In the local stack, kwok simulates the nodes: Pods are scheduled and turn
//! Running, but nothing runs in them. This program runs, for every Deployment
//! labelled `app.kubernetes.io/managed-by=shopstream-operator`, `spec.replicas`
//! host processes of its container's command (`processor`, `generator`: the
//! workspace's binaries) with the container's environment resolved the way the
//! kubelet would (literal values, ConfigMap and Secret keys, the pod name),
//! against the local Kafka. It polls the API server every couple of seconds
//! and converges:
//! - a new Deployment, or a scale-up: processes are started;
//! - a scale-down: the highest replicas are stopped;
//! - a changed pod template (the operator's config-hash annotation, an env
//!   change, ...): every process of that Deployment is restarted;
//! - a deleted Deployment: its processes are stopped;
//! - a process that exits: restarted with a back-off, like a container.
//!
//! Because everything shares one host, `METRICS_ADDR` is rewritten to a free
//! 127.0.0.1 port per process. Each process logs to
//! `$LOG_DIR/local-runner/<namespace>.<deployment>-<replica>.log`.
//! On SIGTERM/SIGINT every process gets SIGTERM (then SIGKILL after the pod's
//! termination grace period, at most `--max-grace`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Parser;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use tokio::process::{Child, Command};
use tracing::{error, info, warn};

const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=shopstream-operator";
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const METRICS_ADDR: &str = "METRICS_ADDR";

#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Runs the shopstream operator's Deployments as local processes"
)]
struct Args {
    /// Only Deployments in this namespace (default: all namespaces).
    #[arg(long, env = "LOCAL_RUNNER_NAMESPACE")]
    namespace: Option<String>,
    /// Label selector of the Deployments to run.
    #[arg(long, env = "LOCAL_RUNNER_SELECTOR", default_value = MANAGED_BY_SELECTOR)]
    selector: String,
    /// Where a container command without a slash (`processor`) is looked up.
    /// Default: the directory of this binary (target/debug next to it).
    #[arg(long, env = "SHOPSTREAM_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// Per-process logs go to DIR/local-runner/.
    #[arg(long, env = "SHOPSTREAM_LOG_DIR", default_value = ".")]
    log_dir: PathBuf,
    /// How often the Deployments are listed.
    #[arg(long, env = "LOCAL_RUNNER_POLL", default_value = "2s", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// Upper bound on the SIGTERM-to-SIGKILL grace period.
    #[arg(long, env = "LOCAL_RUNNER_MAX_GRACE", default_value = "15s", value_parser = humantime::parse_duration)]
    max_grace: Duration,
}

/// One replica of one Deployment.
struct Replica {
    index: usize,
    child: Option<Child>,
    pod_name: String,
    metrics_port: Option<u16>,
    started: Instant,
    restarts: u32,
    /// After an exit: not restarted before this instant.
    restart_at: Option<Instant>,
}

/// The processes of one Deployment, all started from one pod template.
struct Workload {
    namespace: String,
    name: String,
    /// The pod template as JSON: any change restarts every replica.
    fingerprint: String,
    grace: Duration,
    replicas: BTreeMap<usize, Replica>,
    /// The last start error, so that it is logged once rather than per poll.
    last_error: Option<String>,
}

impl Workload {
    fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// What is needed to start one process.
struct LaunchSpec {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    metrics_port: Option<u16>,
}

struct Runner {
    client: Client,
    args: Args,
    bin_dir: PathBuf,
    log_dir: PathBuf,
    workloads: HashMap<(String, String), Workload>,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();

    let args = Args::parse();
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .context("locating this executable")?
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("this executable has no parent directory"))?,
    };
    let log_dir = args.log_dir.join("local-runner");
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

    let mut runner = Runner {
        client,
        args,
        bin_dir,
        log_dir,
        workloads: HashMap::new(),
    };

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        if let Err(e) = runner.sync().await {
            // The API server may be restarting: keep what runs, retry.
            warn!("sync failed, keeping the current processes: {e:#}");
        }
        tokio::select! {
            _ = tokio::time::sleep(runner.args.poll) => {}
            _ = sigterm.recv() => { info!("SIGTERM: stopping every process"); break; }
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: stopping every process"); break; }
        }
    }
    let keys: Vec<_> = runner.workloads.keys().cloned().collect();
    let stops = keys
        .into_iter()
        .filter_map(|k| runner.workloads.remove(&k))
        .map(|mut w| async move {
            stop_all(&mut w, "the runner is stopping").await;
        });
    futures::future::join_all(stops).await;
    info!("local runner stopped");
    Ok(())
}

impl Runner {
    /// One pass: list the Deployments, then start, stop and restart processes
    /// until each Deployment has `spec.replicas` of them from its current
    /// pod template.
    async fn sync(&mut self) -> Result<()> {
        let api: Api<Deployment> = match &self.args.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let deployments = api
            .list(&ListParams::default().labels(&self.args.selector))
            .await
            .context("listing Deployments")?;
        let desired: HashMap<(String, String), Deployment> = deployments
            .items
            .into_iter()
            .filter(|d| d.metadata.deletion_timestamp.is_none())
            .map(|d| ((d.namespace().unwrap_or_default(), d.name_any()), d))
            .collect();

        // Deployments that went away: stop their processes (in parallel).
        let gone: Vec<_> = self
            .workloads
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        let stops = gone
            .iter()
            .filter_map(|k| self.workloads.remove(k))
            .map(|mut w| async move { stop_all(&mut w, "its Deployment is gone").await });
        futures::future::join_all(stops).await;

        let mut keys: Vec<_> = desired.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let deployment = &desired[&key];
            if let Err(e) = self.converge(&key, deployment).await {
                let message = format!("{e:#}");
                if let Some(w) = self.workloads.get_mut(&key) {
                    if w.last_error.as_deref() != Some(message.as_str()) {
                        error!(deployment = %w.id(), "cannot run: {message}");
                        w.last_error = Some(message);
                    }
                }
            }
        }
        Ok(())
    }

    async fn converge(&mut self, key: &(String, String), deployment: &Deployment) -> Result<()> {
        let spec = deployment
            .spec
            .as_ref()
            .ok_or_else(|| anyhow!("Deployment has no spec"))?;
        let fingerprint =
            serde_json::to_string(&spec.template).context("serializing the pod template")?;
        let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
        let grace = spec
            .template
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .map(|s| Duration::from_secs(u64::try_from(s.max(0)).unwrap_or(0)))
            .unwrap_or(Duration::from_secs(30))
            .min(self.args.max_grace);

        let workload = self
            .workloads
            .entry(key.clone())
            .or_insert_with(|| Workload {
                namespace: key.0.clone(),
                name: key.1.clone(),
                fingerprint: fingerprint.clone(),
                grace,
                replicas: BTreeMap::new(),
                last_error: None,
            });
        if workload.fingerprint != fingerprint {
            stop_all(workload, "its pod template changed; restarting").await;
            workload.fingerprint = fingerprint;
            workload.last_error = None;
        }
        workload.grace = grace;

        // Scale down: the highest replicas go first.
        let extra: Vec<usize> = workload
            .replicas
            .keys()
            .copied()
            .filter(|i| *i >= want)
            .collect();
        let stops = extra
            .iter()
            .filter_map(|i| workload.replicas.remove(i))
            .map(|r| stop_replica(workload_id(key), r, grace, "the Deployment was scaled down"));
        futures::future::join_all(stops).await;

        // Exited processes: log, and schedule a restart with a back-off.
        for replica in workload.replicas.values_mut() {
            let Some(child) = replica.child.as_mut() else {
                continue;
            };
            if let Ok(Some(status)) = child.try_wait() {
                replica.child = None;
                if replica.started.elapsed() > Duration::from_secs(60) {
                    replica.restarts = 0;
                }
                let backoff = Duration::from_secs(2u64 << replica.restarts.min(5))
                    .min(Duration::from_secs(60));
                replica.restarts += 1;
                replica.restart_at = Some(Instant::now() + backoff);
                warn!(
                    deployment = %workload_id(key), replica = replica.index, pod = %replica.pod_name,
                    %status, "process exited; restarting in {backoff:?}"
                );
            }
        }

        let now = Instant::now();
        let missing: Vec<usize> = (0..want)
            .filter(|i| match workload.replicas.get(i) {
                None => true,
                Some(r) => r.child.is_none() && r.restart_at.is_none_or(|t| now >= t),
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }

        let container = first_container(deployment)?;
        let used: HashSet<String> = workload
            .replicas
            .values()
            .filter(|r| r.child.is_some())
            .map(|r| r.pod_name.clone())
            .collect();
        let mut pod_names = current_pod_names(&self.client, deployment)
            .await
            .unwrap_or_else(|e| {
                warn!(deployment = %workload_id(key), "cannot list its pods, using made-up pod names: {e:#}");
                Vec::new()
            })
            .into_iter()
            .filter(|n| !used.contains(n));
        let mut cache = ObjectCache::default();
        for index in missing {
            let previous = workload.replicas.remove(&index);
            let pod_name = pod_names
                .next()
                .unwrap_or_else(|| format!("{}-{index}", key.1));
            let spec = resolve(
                &self.client,
                &mut cache,
                &key.0,
                &pod_name,
                container,
                &self.bin_dir,
            )
            .await?;
            let log_path = self
                .log_dir
                .join(format!("{}.{}-{index}.log", key.0, key.1));
            let child = spawn(&spec, &log_path).with_context(|| {
                format!(
                    "starting {} (log {})",
                    spec.program.display(),
                    log_path.display()
                )
            })?;
            info!(
                deployment = %workload_id(key), replica = index, pod = %pod_name, pid = child.id().unwrap_or(0),
                metrics = ?spec.metrics_port.map(|p| format!("127.0.0.1:{p}")), log = %log_path.display(),
                "started {}", spec.program.display()
            );
            workload.replicas.insert(
                index,
                Replica {
                    index,
                    child: Some(child),
                    pod_name,
                    metrics_port: spec.metrics_port,
                    started: Instant::now(),
                    restarts: previous.map(|p| p.restarts).unwrap_or(0),
                    restart_at: None,
                },
            );
        }
        workload.last_error = None;
        Ok(())
    }
}

fn workload_id(key: &(String, String)) -> String {
    format!("{}/{}", key.0, key.1)
}

fn first_container(deployment: &Deployment) -> Result<&Container> {
    let containers = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    match containers {
        [] => bail!("the pod template has no container"),
        [only] => Ok(only),
        [first, ..] => {
            warn!(
                "the pod template has {} containers; only the first ({}) is run",
                containers.len(),
                first.name
            );
            Ok(first)
        }
    }
}

/// The names of the Deployment's live Pods from its current ReplicaSet
/// (oldest first), so a process can carry the name of "its" Pod.
async fn current_pod_names(client: &Client, deployment: &Deployment) -> Result<Vec<String>> {
    let ns = deployment.namespace().unwrap_or_default();
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let revision = deployment.annotations().get(REVISION_ANNOTATION).cloned();
    let Some(match_labels) = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
    else {
        return Ok(Vec::new());
    };
    let selector = match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    let current = replica_sets
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|rs| rs.owner_references().iter().any(|o| o.uid == uid))
        .find(|rs| {
            revision.is_some() && rs.annotations().get(REVISION_ANNOTATION) == revision.as_ref()
        });
    let Some(hash) = current.and_then(|rs| rs.labels().get(POD_TEMPLATE_HASH).cloned()) else {
        return Ok(Vec::new());
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut pods: Vec<Pod> = pods
        .list(&ListParams::default().labels(&format!("{selector},{POD_TEMPLATE_HASH}={hash}")))
        .await?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    pods.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            a.name_any(),
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.name_any(),
            ))
    });
    Ok(pods.into_iter().map(|p| p.name_any()).collect())
}

/// ConfigMaps and Secrets read during one pass.
#[derive(Default)]
struct ObjectCache {
    config_maps: HashMap<String, ConfigMap>,
    secrets: HashMap<String, Secret>,
}

impl ObjectCache {
    async fn config_map(&mut self, client: &Client, ns: &str, name: &str) -> Result<&ConfigMap> {
        if !self.config_maps.contains_key(name) {
            let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .with_context(|| format!("reading ConfigMap {ns}/{name}"))?;
            self.config_maps.insert(name.to_string(), cm);
        }
        Ok(&self.config_maps[name])
    }

    async fn secret(&mut self, client: &Client, ns: &str, name: &str) -> Result<&Secret> {
        if !self.secrets.contains_key(name) {
            let secret = Api::<Secret>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .with_context(|| format!("reading Secret {ns}/{name}"))?;
            self.secrets.insert(name.to_string(), secret);
        }
        Ok(&self.secrets[name])
    }
}

/// Resolves the container's command and environment as the kubelet would,
/// for a process standing in for Pod `pod_name`.
async fn resolve(
    client: &Client,
    cache: &mut ObjectCache,
    ns: &str,
    pod_name: &str,
    container: &Container,
    bin_dir: &Path,
) -> Result<LaunchSpec> {
    let mut argv: Vec<String> = container.command.clone().unwrap_or_default();
    argv.extend(container.args.clone().unwrap_or_default());
    if argv.is_empty() {
        bail!(
            "container {} has no command (the image's entrypoint cannot be run locally)",
            container.name
        );
    }
    let name = argv.remove(0);
    let program = if name.contains('/') {
        PathBuf::from(&name)
    } else {
        bin_dir.join(&name)
    };
    if !program.is_file() {
        bail!(
            "no binary for the container command {name:?}: {} does not exist (build the workspace: cargo build --workspace, or set SHOPSTREAM_BIN_DIR)",
            program.display()
        );
    }

    // A container runtime sets HOSTNAME to the pod name (the processor, for
    // one, derives its replica identity from it); the container's env wins.
    let mut env: Vec<(String, String)> = vec![("HOSTNAME".to_string(), pod_name.to_string())];
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            match cache.config_map(client, ns, &r.name).await {
                Ok(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        set(&mut env, format!("{prefix}{k}"), v.clone());
                    }
                }
                Err(_) if r.optional == Some(true) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(r) = &source.secret_ref {
            match cache.secret(client, ns, &r.name).await {
                Ok(secret) => {
                    for (k, v) in secret.data.iter().flatten() {
                        set(
                            &mut env,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        );
                    }
                }
                Err(_) if r.optional == Some(true) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = env_value(client, cache, ns, pod_name, var).await? {
            set(&mut env, var.name.clone(), value);
        }
    }

    // One host for every process: each gets its own metrics port.
    let mut metrics_port = None;
    if env.iter().any(|(k, _)| k == METRICS_ADDR) {
        let port = free_port()?;
        set(
            &mut env,
            METRICS_ADDR.to_string(),
            format!("127.0.0.1:{port}"),
        );
        metrics_port = Some(port);
    }
    Ok(LaunchSpec {
        program,
        args: argv,
        env,
        metrics_port,
    })
}

/// Sets `k` (a later definition overrides an earlier one, as in a Pod).
fn set(env: &mut Vec<(String, String)>, k: String, v: String) {
    env.retain(|(existing, _)| *existing != k);
    env.push((k, v));
}

/// One `env` entry's value; `None` for an optional reference that is absent.
async fn env_value(
    client: &Client,
    cache: &mut ObjectCache,
    ns: &str,
    pod_name: &str,
    var: &EnvVar,
) -> Result<Option<String>> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone().unwrap_or_default()));
    };
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        let cm = match cache.config_map(client, ns, &r.name).await {
            Ok(cm) => cm,
            Err(_) if optional => return Ok(None),
            Err(e) => return Err(e),
        };
        return match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => bail!(
                "env {}: ConfigMap {ns}/{} has no key {}",
                var.name,
                r.name,
                r.key
            ),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional == Some(true);
        let secret = match cache.secret(client, ns, &r.name).await {
            Ok(s) => s,
            Err(_) if optional => return Ok(None),
            Err(e) => return Err(e),
        };
        return match secret.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(String::from_utf8_lossy(&v.0).into_owned())),
            None if optional => Ok(None),
            None => bail!(
                "env {}: Secret {ns}/{} has no key {}",
                var.name,
                r.name,
                r.key
            ),
        };
    }
    if let Some(r) = &from.field_ref {
        return match r.field_path.as_str() {
            "metadata.name" => Ok(Some(pod_name.to_string())),
            "metadata.namespace" => Ok(Some(ns.to_string())),
            "spec.nodeName" => Ok(Some("local".to_string())),
            "status.podIP" | "status.hostIP" => Ok(Some("127.0.0.1".to_string())),
            other => bail!(
                "env {}: fieldRef {other} is not supported by the local runner",
                var.name
            ),
        };
    }
    bail!(
        "env {}: this kind of valueFrom is not supported by the local runner",
        var.name
    )
}

/// A port that is free on 127.0.0.1 right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn spawn(spec: &LaunchSpec, log_path: &Path) -> Result<Child> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let command_line = std::iter::once(spec.program.display().to_string())
        .chain(spec.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    writeln!(
        log,
        "===== local-runner: starting {command_line} (METRICS_ADDR={}) =====",
        spec.metrics_port
            .map(|p| format!("127.0.0.1:{p}"))
            .unwrap_or_default()
    )?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        // A container does not inherit the host's environment.
        .env_clear()
        .envs(
            ["PATH", "HOME", "TMPDIR", "RUST_BACKTRACE"]
                .into_iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))),
        )
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Should the runner itself die, the processes go with it.
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

async fn stop_all(workload: &mut Workload, reason: &str) {
    let id = workload.id();
    let grace = workload.grace;
    let replicas = std::mem::take(&mut workload.replicas);
    let stops = replicas
        .into_values()
        .map(|r| stop_replica(id.clone(), r, grace, reason));
    futures::future::join_all(stops).await;
}

/// SIGTERM, then SIGKILL after `grace`, like the kubelet.
async fn stop_replica(id: String, mut replica: Replica, grace: Duration, reason: &str) {
    let Some(mut child) = replica.child.take() else {
        info!(deployment = %id, replica = replica.index, "removed (not running): {reason}");
        return;
    };
    let Some(pid) = child.id() else { return };
    info!(deployment = %id, replica = replica.index, pod = %replica.pod_name, pid,
          metrics_port = ?replica.metrics_port, "stopping: {reason}");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => info!(deployment = %id, replica = replica.index, %status, "stopped"),
        _ => {
            warn!(deployment = %id, replica = replica.index, "no exit within {grace:?} of SIGTERM; killing");
            let _ = child.kill().await;
        }
    }
}
