//! Helpers for tests that run against the real API server started by
//! `make env-up` (hack/). They never skip: a missing environment is a test
//! failure that says how to start it.

#![allow(dead_code)]

pub mod kafka;
pub mod private_broker;
pub mod secure;
pub mod strimzi;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};

pub const FIELD_MANAGER: &str = "shopstream-tests";

fn required_env(name: &str) -> String {
    integration_tests::environment::require(name)
}

/// A client for the test environment's API server, from `$KUBECONFIG`.
pub async fn client() -> Client {
    required_env("KUBECONFIG");
    Client::try_default()
        .await
        .expect("cannot build a Kubernetes client from $KUBECONFIG")
}

pub fn repo_root() -> PathBuf {
    integration_tests::checkout::workspace_root()
}

/// Starts hack/local/up.sh: kube-controller-manager, kube-scheduler and kwok
/// on top of the API server, so workloads get Pods (idempotent: returns at
/// once when it all runs). The local runner's tests need it.
pub fn local_cluster_up() {
    let script = repo_root().join("hack/local/up.sh");
    let output = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "hack/local/up.sh failed (kube-controller-manager, kube-scheduler or kwok):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the kubectl built by the test environment (same version as the API
/// server) and returns stdout, panicking with stderr on failure.
pub fn kubectl(args: &[&str]) -> String {
    let output = kubectl_output(args);
    assert!(
        output.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn kubectl_output(args: &[&str]) -> std::process::Output {
    let kubectl = required_env("SHOPSTREAM_KUBECTL");
    Command::new(&kubectl)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {kubectl}: {e}"))
}

/// Server-side applies the committed CRD and waits until it is established.
pub async fn install_crd(client: &Client) {
    let path = repo_root().join(operator::crd::CRD_FILE);
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let crd: CustomResourceDefinition = serde_yaml::from_str(&yaml).expect("CRD file parses");
    let name = crd.metadata.name.clone().expect("CRD has a name");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("the API server accepts the CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(api, &name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD established within 30s")
    .expect("watching the CRD");
}

/// A fresh namespace for one test, so tests can run in parallel and reruns
/// never see leftovers.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!("{prefix}-{}-{nanos:x}", std::process::id());
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
    }))
    .expect("namespace object");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create test namespace");
    name
}

/// Deletes a test namespace. Without kube-controller-manager the namespace
/// stays Terminating, which is harmless for the next run.
pub async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// A running `analytics-operator` process, killed when dropped.
pub struct OperatorProcess {
    pub child: std::process::Child,
    pub identity: String,
}

impl OperatorProcess {
    /// Starts the operator binary watching `namespace`, with its lease in the
    /// same namespace and a short status interval.
    pub fn start(namespace: &str, identity: &str, lease: &str) -> Self {
        Self::start_with(namespace, identity, lease, &[])
    }

    /// Like [`Self::start`], with extra environment variables (e.g. another
    /// KUBECONFIG, or a STATUS_INTERVAL other than the tests' 2 s). The binary is `$SHOPSTREAM_OPERATOR_BINARY` when set (to
    /// run a test against another build, e.g. main's, for a before/after
    /// comparison), else the one cargo built for these tests.
    pub fn start_with(namespace: &str, identity: &str, lease: &str, env: &[(&str, &str)]) -> Self {
        let binary = std::env::var("SHOPSTREAM_OPERATOR_BINARY").unwrap_or_else(|_| {
            integration_tests::binaries::path("analytics-operator")
                .display()
                .to_string()
        });
        let log_path = Self::log_path(namespace, identity);
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {log_path}: {e}"));
        let err = log.try_clone().expect("clone log handle");
        let child = Command::new(&binary)
            .env("WATCH_NAMESPACE", namespace)
            .env("POD_NAMESPACE", namespace)
            .env("POD_NAME", identity)
            .env("LEASE_NAME", lease)
            .env("LEASE_DURATION", "6s")
            .env("STATUS_INTERVAL", "2s")
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info,operator=debug,kube=warn")
            // The caller's variables win over the defaults above.
            .envs(env.iter().copied())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the operator {binary}: {e}"));
        Self {
            child,
            identity: identity.to_string(),
        }
    }

    pub fn log_path(namespace: &str, identity: &str) -> String {
        let log_dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
        format!("{log_dir}/operator-test-{namespace}-{identity}.log")
    }

    pub fn log(&self, namespace: &str) -> String {
        std::fs::read_to_string(Self::log_path(namespace, &self.identity)).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 500 ms until it returns `Some`, or panics after
/// `timeout` with `what` and the last observation.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(observed) => observed,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn kafka_bootstrap() -> String {
    required_env("SHOPSTREAM_KAFKA_BOOTSTRAP")
}

/// The topic roles in the order the operator lists them, spelled as in the
/// default names. Written out here rather than taken from the operator, so
/// the suites check its defaults instead of repeating them.
pub const TOPIC_ROLES: [&str; 10] = [
    "input",
    "sales",
    "segments",
    "anomalies",
    "hourly",
    "top-products",
    "dead-letter",
    "partials",
    "alerts",
    "user-history",
];

/// The default topic names of `ns/pipeline`: `<namespace>.<pipeline>.<role>`.
pub fn default_topic_names(ns: &str, pipeline: &str) -> Vec<String> {
    TOPIC_ROLES
        .iter()
        .map(|role| format!("{ns}.{pipeline}.{role}"))
        .collect()
}

/// A name unique to this run, for Kafka topics (cluster-wide) and pipelines.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{:x}{:x}", std::process::id(), nanos)
}

/// Server-side applies a pipeline with `spec` in `ns`.
pub async fn apply_pipeline(client: &Client, ns: &str, name: &str, spec: serde_json::Value) {
    let api: Api<operator::crd::AnalyticsPipeline> = Api::namespaced(client.clone(), ns);
    let object = serde_json::json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": spec,
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .expect("pipeline applied");
}

/// `(status, reason, message)` of the pipeline's condition `type_`.
pub fn condition(
    p: &operator::crd::AnalyticsPipeline,
    type_: &str,
) -> Option<(String, String, String)> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Deletes a pipeline and waits until it is gone, i.e. until the operator
/// released its finalizer; on timeout the message shows the finalizers left.
pub async fn delete_pipeline(
    api: &Api<operator::crd::AnalyticsPipeline>,
    name: &str,
    what: &str,
    timeout: Duration,
) {
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete pipeline");
    wait_until(what, timeout, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(p) => Err(format!(
                "finalizers {:?}",
                p.metadata.finalizers.unwrap_or_default()
            )),
        }
    })
    .await;
}

/// How often an Event with `reason` was recorded in `ns` (repeats are one
/// Event with a series count).
pub fn event_count(ns: &str, reason: &str) -> u32 {
    let listed = kubectl(&[
        "get",
        "events",
        "-n",
        ns,
        "-o",
        "custom-columns=REASON:.reason,COUNT:.series.count",
        "--no-headers",
    ]);
    listed
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next() == Some(reason))
                .then(|| fields.next().and_then(|c| c.parse().ok()).unwrap_or(1))
        })
        .sum()
}
