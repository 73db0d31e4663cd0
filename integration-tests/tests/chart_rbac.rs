//! The chart's RBAC is least privilege and sufficient:
//! - no rule of the rendered ClusterRole/Roles holds a wildcard, and the
//!   (group, resource) → verbs they grant equal the list below, which
//!   mirrors the API calls in operator/src;
//! - the operator binary, authenticated only as the chart's ServiceAccount
//!   (a token from the TokenRequest API, no admin credentials), runs full
//!   reconciles against the real API server and Kafka, cluster-wide and
//!   namespaced: leader election, finalizer, topics through the admin API,
//!   KafkaTopics in Strimzi mode, owned Deployments/ConfigMap/Service,
//!   events, status, removing the generator, and deletion with each
//!   deletion policy, without a single "forbidden" in its log.

mod chart_common;
#[path = "operator_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use chart_common::{apply, documents, kind, name, template, to_yaml};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::{Value, json};
use support::{kafka_bootstrap, unique, wait_until};

const WAIT: Duration = Duration::from_secs(90);
/// The chart's default leaderElection.leaseName; its Role grants get/update
/// of this Lease only.
const LEASE: &str = "shopstream-operator";

/// What the operator's ClusterRole (or Role) grants: exactly the calls in
/// operator/src (see the table in helm/shopstream-operator/templates/rbac.yaml).
fn expected_operator_rules() -> BTreeMap<(String, String), BTreeSet<String>> {
    [
        (
            "analytics.shopstream.dev",
            "analyticspipelines",
            &["list", "watch", "patch"][..],
        ),
        (
            "analytics.shopstream.dev",
            "analyticspipelines/status",
            &["patch"],
        ),
        (
            "analytics.shopstream.dev",
            "analyticspipelines/finalizers",
            &["update"],
        ),
        (
            "apps",
            "deployments",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // delete: the managed Redis of a pipeline whose redis.managed was
        // turned off (its claim follows the StatefulSet's retention policy:
        // no PersistentVolumeClaim permission).
        (
            "apps",
            "statefulsets",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        (
            "",
            "configmaps",
            &["get", "list", "watch", "create", "patch"],
        ),
        // delete: the serving Service of a pipeline whose serving was
        // disabled, the managed Redis's once redis.managed is off.
        (
            "",
            "services",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // spec.networkPolicy: a policy per workload, deleted when turned off.
        (
            "networking.k8s.io",
            "networkpolicies",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // The CA and credential a pipeline names (spec.kafka.tls,
        // spec.kafka.authentication), by name: never list or watch.
        ("", "secrets", &["get"]),
        // The processor pods' restarts (alerts), by label selector.
        ("", "pods", &["list"]),
        (
            "kafka.strimzi.io",
            "kafkatopics",
            &["get", "create", "patch", "delete"],
        ),
        // spec.kafka.user.create: the pipeline's KafkaUser, watched
        // (owned) so that a deleted or edited one is re-applied.
        (
            "kafka.strimzi.io",
            "kafkausers",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        ("events.k8s.io", "events", &["create", "patch"]),
    ]
    .into_iter()
    .map(|(g, r, verbs)| {
        (
            (g.to_string(), r.to_string()),
            verbs.iter().map(|v| v.to_string()).collect(),
        )
    })
    .collect()
}

/// (group, resource) → verbs of a rendered Role/ClusterRole, asserting no
/// wildcard and no nonResourceURLs. Rules with resourceNames are keyed with
/// the names appended, e.g. "leases[shopstream-operator]".
fn granted(role: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let what = format!("{} {}", kind(role), name(role));
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(
            rule.get("nonResourceURLs").is_none(),
            "{what}: nonResourceURLs granted"
        );
        let strings = |field: &str| -> Vec<String> {
            rule[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().expect("string").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (groups, resources, verbs, names) = (
            strings("apiGroups"),
            strings("resources"),
            strings("verbs"),
            strings("resourceNames"),
        );
        for field in [&groups, &resources, &verbs, &names] {
            assert!(
                !field.iter().any(|s| s.contains('*')),
                "{what}: wildcard in rule {rule}"
            );
        }
        assert!(!verbs.is_empty() && !resources.is_empty() && !groups.is_empty());
        for g in &groups {
            for r in &resources {
                let key = if names.is_empty() {
                    r.clone()
                } else {
                    format!("{r}[{}]", names.join(","))
                };
                out.entry((g.clone(), key))
                    .or_default()
                    .extend(verbs.iter().cloned());
            }
        }
    }
    out
}

fn leader_election_rules() -> BTreeMap<(String, String), BTreeSet<String>> {
    BTreeMap::from([
        (
            ("coordination.k8s.io".into(), "leases".into()),
            BTreeSet::from(["create".into()]),
        ),
        (
            ("coordination.k8s.io".into(), format!("leases[{LEASE}]")),
            BTreeSet::from(["get".into(), "update".into()]),
        ),
    ])
}

#[test]
fn rbac_rules_are_exactly_what_the_operator_uses() {
    for (cluster_wide, operator_kind) in [(true, "ClusterRole"), (false, "Role")] {
        let docs = documents(&template(
            "ops",
            "shopstream-system",
            &["--set", &format!("rbac.clusterWide={cluster_wide}")],
        ));
        let roles: Vec<&Value> = docs
            .iter()
            .filter(|d| kind(d) == "ClusterRole" || kind(d) == "Role")
            .collect();
        assert_eq!(
            roles.len(),
            2,
            "the operator's {operator_kind} and the leader-election Role"
        );
        let operator_role = roles
            .iter()
            .find(|r| kind(r) == operator_kind && !name(r).ends_with("-leader-election"))
            .unwrap_or_else(|| panic!("no operator {operator_kind}"));
        assert_eq!(
            granted(operator_role),
            expected_operator_rules(),
            "{operator_kind} rules differ from the expected list (clusterWide={cluster_wide})"
        );
        let lease_role = roles
            .iter()
            .find(|r| kind(r) == "Role" && name(r).ends_with("-leader-election"))
            .expect("leader-election Role");
        assert_eq!(lease_role["metadata"]["namespace"], "shopstream-system");
        assert_eq!(granted(lease_role), leader_election_rules());
        if !cluster_wide {
            assert_eq!(operator_role["metadata"]["namespace"], "shopstream-system");
            assert!(!docs.iter().any(|d| kind(d) == "ClusterRoleBinding"));
        }
    }
    // Without leader election there is no Lease permission at all.
    let docs = documents(&template(
        "ops",
        "shopstream-system",
        &["--set", "leaderElection.enabled=false"],
    ));
    assert!(
        !docs
            .iter()
            .any(|d| kind(d) == "Role" || kind(d) == "RoleBinding"),
        "a Role is rendered without leader election"
    );
}

/// A kubeconfig for the test API server that authenticates as
/// `system:serviceaccount:<ns>:<sa>` with a TokenRequest token.
fn service_account_kubeconfig(ns: &str, sa: &str) -> PathBuf {
    let token = support::kubectl(&["create", "token", sa, "-n", ns, "--duration=1h"]);
    let admin: Value = serde_json::from_str(&support::kubectl(&[
        "config", "view", "--raw", "--minify", "-o", "json",
    ]))
    .expect("kubeconfig JSON");
    let mut cluster = admin["clusters"][0]["cluster"].clone();
    // A relative CA path would break once the file lives elsewhere.
    if let Some(path) = cluster["certificate-authority"].as_str() {
        let data = std::fs::read(path).expect("read the kubeconfig's CA file");
        cluster = json!({
            "server": cluster["server"],
            "certificate-authority-data": base64(&data),
        });
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": sa, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": sa, "namespace": ns}}],
        "current-context": "sa",
    });
    let dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
    let path = PathBuf::from(dir).join(format!("kubeconfig-{ns}-{sa}"));
    std::fs::write(&path, serde_json::to_string(&config).expect("json")).expect("write kubeconfig");
    path
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The operator binary as the chart's ServiceAccount, with the env the
/// chart's Deployment sets; killed on drop.
struct SaOperator {
    child: Child,
    log: PathBuf,
}

impl SaOperator {
    fn start(kubeconfig: &Path, ns: &str, identity: &str) -> Self {
        let dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
        let log = PathBuf::from(dir).join(format!("operator-test-{ns}-{identity}.log"));
        let out = std::fs::File::create(&log).expect("create operator log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(integration_tests::binaries::path("analytics-operator"))
            .env("KUBECONFIG", kubeconfig)
            // Other tests run their own operators in other namespaces: watch
            // only ours, even with the cluster-wide role.
            .env("WATCH_NAMESPACE", ns)
            .env("POD_NAMESPACE", ns)
            .env("POD_NAME", identity)
            .env("LEADER_ELECTION", "true")
            .env("LEASE_NAME", LEASE)
            .env("LEASE_DURATION", "6s")
            .env("STATUS_INTERVAL", "2s")
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info,operator=debug,kube=warn")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start analytics-operator");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of the log, for failure messages.
    fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(8);
        format!(
            "{} (last lines of {}):\n{}",
            "operator log",
            self.log.display(),
            lines[start..].join("\n")
        )
    }
}

impl Drop for SaOperator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pipeline(name: &str, strimzi: bool, deletion: &str) -> Value {
    let mut spec = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "topics": {"input": {"partitions": 2, "replicationFactor": 1}},
        "generator": {"enabled": true, "eventsPerSecond": 1},
        "processor": {"replicas": 1},
        "deletionPolicy": deletion,
        // Exercises the NetworkPolicy permissions (apply, ownership check,
        // delete when the generator goes).
        "networkPolicy": {"enabled": true, "kafkaPeers": [{"ipBlock": {"cidr": "127.0.0.1/32"}}]},
    });
    if strimzi {
        spec["kafka"]["strimziCluster"] = json!("my-cluster");
    }
    json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn condition(p: &AnalyticsPipeline, type_: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

/// `kubectl auth can-i` as the ServiceAccount.
fn can_i(kubeconfig: &Path, args: &[&str]) -> bool {
    let mut all = vec![
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "auth",
        "can-i",
    ];
    all.extend_from_slice(args);
    let out = support::kubectl_output(&all);
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.expect("get").is_some()
}

async fn run_with_chart_rbac(cluster_wide: bool) {
    let client: Client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, if cluster_wide { "rbac-cw" } else { "rbac-ns" }).await;
    let release = unique("rbac");

    // The chart's ServiceAccount and RBAC, as helm would install them.
    let docs = documents(&template(
        &release,
        &ns,
        &["--set", &format!("rbac.clusterWide={cluster_wide}")],
    ));
    let rbac: Vec<Value> = docs
        .into_iter()
        .filter(|d| {
            matches!(
                kind(d),
                "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
            )
        })
        .collect();
    assert_eq!(
        rbac.len(),
        5,
        "ServiceAccount, operator role + binding, Lease Role + binding"
    );
    apply(&to_yaml(&rbac), false);
    let sa = format!("{release}-shopstream-operator");
    let kubeconfig = service_account_kubeconfig(&ns, &sa);

    // Scope: nothing beyond the table, and cluster-wide only when asked.
    let kc = kubeconfig.clone();
    assert!(can_i(
        &kc,
        &[
            "list",
            "analyticspipelines.analytics.shopstream.dev",
            "-n",
            &ns
        ]
    ));
    assert_eq!(
        can_i(&kc, &["watch", "deployments.apps", "--all-namespaces"]),
        cluster_wide
    );
    for denied in [
        &["update", "deployments.apps", "-n", &ns][..],
        &["list", "secrets", "-n", &ns],
        &["watch", "secrets", "-n", &ns],
        &["get", "pods", "-n", &ns],
        &["watch", "pods", "-n", &ns],
        &["delete", "pods", "-n", &ns],
        &[
            "delete",
            "analyticspipelines.analytics.shopstream.dev",
            "-n",
            &ns,
        ],
        &["update", "leases.coordination.k8s.io/other", "-n", &ns],
        &["create", "leases.coordination.k8s.io", "-n", "default"],
    ] {
        assert!(!can_i(&kc, denied), "the ServiceAccount may {denied:?}");
    }

    let identity = format!("sa-{}", std::process::id());
    let operator = SaOperator::start(&kubeconfig, &ns, &identity);

    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let network_policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let topics_resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "kafka.strimzi.io",
        "v1",
        "KafkaTopic",
    ));
    let kafka_topics: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &topics_resource);
    let params = PatchParams::apply(support::FIELD_MANAGER);

    // Leader election with the chart's Lease Role.
    wait_until("the operator to hold the Lease", WAIT, || async {
        let lease = leases.get_opt(LEASE).await.map_err(|e| e.to_string())?;
        let holder = lease
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        if holder == identity {
            Ok(())
        } else {
            Err(format!("holder {holder:?}; log:\n{}", operator.tail()))
        }
    })
    .await;

    // Direct mode: topics through Kafka's admin API, then the workloads.
    let direct = unique("rbac-direct");
    pipelines
        .patch(
            &direct,
            &params,
            &Patch::Apply(pipeline(&direct, false, "Delete")),
        )
        .await
        .expect("create the direct pipeline");
    wait_until("TopicsReady=True and the owned objects", WAIT, || async {
        let p = pipelines.get(&direct).await.map_err(|e| e.to_string())?;
        let topics = condition(&p, "TopicsReady");
        let processor = exists(&statefulsets, &format!("{direct}-processor")).await;
        let generator = exists(&deployments, &format!("{direct}-generator")).await;
        let cm = !config_maps
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={direct}")))
            .await
            .map_err(|e| e.to_string())?
            .items
            .is_empty();
        let svc = exists(&services, &format!("{direct}-metrics")).await
            && exists(&network_policies, &format!("{direct}-generator")).await
            && exists(&network_policies, &format!("{direct}-processor")).await;
        let finalizer = p
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "analytics.shopstream.dev/topics"));
        let phase = p.status.as_ref().and_then(|s| s.phase);
        if topics.as_deref() == Some("True") && processor && generator && cm && svc && finalizer {
            Ok(())
        } else {
            Err(format!(
                "TopicsReady={topics:?} phase={phase:?} processor={processor} generator={generator} \
                 configmap={cm} service+policies={svc} finalizer={finalizer}; log:\n{}",
                operator.tail()
            ))
        }
    })
    .await;
    wait_until(
        "an event about the pipeline from this operator",
        WAIT,
        || async {
            let list = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let reasons: Vec<String> = list
                .items
                .iter()
                .filter(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(direct.as_str())
                })
                // Written by this operator (its POD_NAME), not another one.
                .filter(|e| e.reporting_instance.as_deref() == Some(identity.as_str()))
                .filter_map(|e| e.reason.clone())
                .collect();
            if reasons.is_empty() {
                Err(format!("no event yet; log:\n{}", operator.tail()))
            } else {
                Ok(())
            }
        },
    )
    .await;

    // Turning the generator off deletes its Deployment and NetworkPolicy.
    pipelines
        .patch(
            &direct,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"generator": {"enabled": false}}})),
        )
        .await
        .expect("disable the generator");
    wait_until(
        "the generator Deployment and policy to go",
        WAIT,
        || async {
            if exists(&deployments, &format!("{direct}-generator")).await
                || exists(&network_policies, &format!("{direct}-generator")).await
            {
                Err(format!("still there; log:\n{}", operator.tail()))
            } else {
                Ok(())
            }
        },
    )
    .await;

    // Strimzi mode: KafkaTopics applied (no topic operator runs here, so
    // they stay unready), then deleted (Delete) or annotated (Retain).
    let strimzi_delete = unique("rbac-skd");
    let strimzi_retain = unique("rbac-skr");
    for (name, policy) in [(&strimzi_delete, "Delete"), (&strimzi_retain, "Retain")] {
        pipelines
            .patch(name, &params, &Patch::Apply(pipeline(name, true, policy)))
            .await
            .expect("create a Strimzi pipeline");
    }
    for name in [&strimzi_delete, &strimzi_retain] {
        wait_until(
            "the pipeline's KafkaTopics and processor StatefulSet",
            WAIT,
            || async {
                let input = exists(&kafka_topics, &format!("{name}-input")).await;
                let processor = exists(&statefulsets, &format!("{name}-processor")).await;
                if input && processor {
                    Ok(())
                } else {
                    Err(format!(
                        "KafkaTopic {input}, processor {processor}; log:\n{}",
                        operator.tail()
                    ))
                }
            },
        )
        .await;
    }

    // Deletion: the finalizer runs the deletion policy, then lets go.
    for name in [&direct, &strimzi_delete, &strimzi_retain] {
        pipelines
            .delete(name, &Default::default())
            .await
            .expect("delete the pipeline");
    }
    for name in [&direct, &strimzi_delete, &strimzi_retain] {
        wait_until("the pipeline to be deleted", WAIT, || async {
            if exists(&pipelines, name).await {
                Err(format!("{name} still exists; log:\n{}", operator.tail()))
            } else {
                Ok(())
            }
        })
        .await;
    }
    assert!(
        !exists(&kafka_topics, &format!("{strimzi_delete}-input")).await,
        "deletionPolicy Delete left its KafkaTopic"
    );
    // Retain: the KafkaTopic is annotated strimzi.io/managed=false (or
    // already garbage-collected where a controller manager runs).
    if let Some(topic) = kafka_topics
        .get_opt(&format!("{strimzi_retain}-input"))
        .await
        .expect("get KafkaTopic")
    {
        assert_eq!(
            topic
                .metadata
                .annotations
                .unwrap_or_default()
                .get("strimzi.io/managed")
                .map(String::as_str),
            Some("false"),
            "deletionPolicy Retain did not unmanage its KafkaTopic; log:\n{}",
            operator.tail()
        );
    }

    let log = operator.log();
    for sign in [
        "forbidden",
        "Forbidden",
        "TopicDeletionAbandoned",
        "cannot publish event",
    ] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(sign)).take(3).collect();
        assert!(
            hits.is_empty(),
            "the operator's log shows missing permissions ({sign}):\n{}",
            hits.join("\n")
        );
    }
    drop(operator);
    for doc in &rbac {
        if matches!(kind(doc), "ClusterRole" | "ClusterRoleBinding") {
            support::kubectl(&[
                "delete",
                &format!("{}.rbac.authorization.k8s.io", kind(doc).to_lowercase()),
                name(doc),
                "--ignore-not-found",
            ]);
        }
    }
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn operator_reconciles_with_cluster_wide_chart_rbac() {
    run_with_chart_rbac(true).await;
}

#[tokio::test]
async fn operator_reconciles_with_namespaced_chart_rbac() {
    run_with_chart_rbac(false).await;
}
