//! The Helm chart (helm/shopstream-operator) and examples/: the chart's CRD
//! is the generated one, `helm lint` and `helm template` are clean, and what
//! they render, like every file in examples/, is accepted by a server-side
//! dry-run apply against the real API server (with our CRD and Strimzi's
//! installed), in a namespace that enforces the restricted Pod Security
//! Standard.

mod chart_common;
#[path = "operator_support/mod.rs"]
mod support;

use chart_common::{apply, documents, helm, kind, kubectl_stdin_output, name, template, to_yaml};
use serde_json::Value;

/// Every optional part on, except the ServiceMonitor, whose CRD
/// (monitoring.coreos.com) the test environment does not serve.
const ALL_OPTIONAL: &[&str] = &[
    "--set",
    "replicaCount=2",
    "--set",
    "podDisruptionBudget.enabled=true",
    "--set",
    "grafanaDashboard.enabled=true",
    "--set",
    "kafka.operatorCredentials.enabled=true",
    "--set",
    "kafka.operatorCredentials.tls.trustedCertificates[0].secretName=my-cluster-cluster-ca-cert",
    "--set",
    "kafka.operatorCredentials.tls.trustedCertificates[0].certificate=ca.crt",
    "--set",
    "kafka.operatorCredentials.authentication.type=scram-sha-512",
    "--set",
    "kafka.operatorCredentials.authentication.username=shopstream-operator",
    "--set",
    "kafka.operatorCredentials.authentication.passwordSecret.secretName=shopstream-operator",
    "--set",
    "kafka.operatorCredentials.authentication.passwordSecret.password=password",
    "--set",
    "networkPolicy.enabled=true",
    "--set",
    "networkPolicy.apiServer.peers[0].ipBlock.cidr=10.96.0.1/32",
    "--set",
    "networkPolicy.kafka.peers[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=kafka",
    "--set",
    "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring",
];

#[test]
fn chart_crd_is_the_generated_crd() {
    let root = chart_common::repo_root();
    let generated = std::fs::read_to_string(root.join("crds/analyticspipelines.yaml"))
        .expect("read crds/analyticspipelines.yaml");
    let copy =
        std::fs::read_to_string(root.join("helm/shopstream-operator/crds/analyticspipelines.yaml"))
            .expect("read helm/shopstream-operator/crds/analyticspipelines.yaml");
    assert!(
        generated == copy,
        "helm/shopstream-operator/crds/analyticspipelines.yaml differs from \
         crds/analyticspipelines.yaml: run `make crds` (it regenerates and copies both)"
    );
}

#[test]
fn helm_lint_is_clean_for_every_variant() {
    let chart = chart_common::chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    let variants: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--set", "rbac.clusterWide=false"],
        vec![
            "--set",
            "rbac.clusterWide=false",
            "--set",
            "watchNamespace=apps",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
        [
            ALL_OPTIONAL,
            &["--set", "metrics.serviceMonitor.enabled=true"],
        ]
        .concat(),
        vec![
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "metrics.service.enabled=false",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=existing",
        ],
    ];
    for extra in variants {
        let mut args = vec!["lint", "--strict", chart];
        args.extend_from_slice(&extra);
        let out = helm(&args);
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm lint {extra:?}: {out}"
        );
        let rendered = template("shopstream-operator", "shopstream-system", &extra);
        assert!(
            !documents(&rendered).is_empty(),
            "helm template {extra:?} rendered nothing"
        );
    }
}

#[test]
fn values_schema_rejects_mistakes() {
    let chart = chart_common::chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    for (set, why) in [
        ("rbca.create=false", "a misspelt top-level key"),
        (
            "statusInterval=soon",
            "a status interval that is no duration",
        ),
        (
            "mergeStallTimeout=never",
            "a merge stall timeout that is no duration",
        ),
        ("lagWindow=forever", "a lag window that is no duration"),
        ("reconcileConcurrency=0", "no reconcile slots at all"),
        ("logging.format=xml", "an unknown log format"),
        ("image.pullPolicy=Sometimes", "an unknown pull policy"),
        (
            "kafka.operatorCredentials.authentication.type=plain",
            "an authentication type Strimzi does not have",
        ),
        (
            "kafka.operatorCredentials.enabled=true",
            "an operator credential with neither a CA nor a user",
        ),
    ] {
        let out = std::process::Command::new(chart_common::helm_path())
            .args(["template", "x", chart, "--set", set])
            .output()
            .expect("run helm");
        assert!(
            !out.status.success(),
            "helm template accepted {why} (--set {set})"
        );
    }
    // A NetworkPolicy that names no API server or no Kafka cuts the
    // operator off: refused with the value to set.
    for (sets, missing) in [
        (
            &["networkPolicy.enabled=true"][..],
            "networkPolicy.apiServer.peers",
        ),
        (
            &[
                "networkPolicy.enabled=true",
                "networkPolicy.apiServer.peers[0].ipBlock.cidr=10.0.0.1/32",
            ][..],
            "networkPolicy.kafka.peers",
        ),
    ] {
        let mut args = vec!["template", "x", chart];
        for set in sets {
            args.extend(["--set", set]);
        }
        let out = std::process::Command::new(chart_common::helm_path())
            .args(&args)
            .output()
            .expect("run helm");
        assert!(!out.status.success(), "helm template accepted {sets:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(missing),
            "{sets:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Two active replicas without leader election would fight.
    let out = std::process::Command::new(chart_common::helm_path())
        .args([
            "template",
            "x",
            chart,
            "--set",
            "replicaCount=2",
            "--set",
            "leaderElection.enabled=false",
        ])
        .output()
        .expect("run helm");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaderElection"));
}

fn find<'a>(docs: &'a [Value], kind_: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| kind(d) == kind_).collect()
}

fn env_var<'a>(container: &'a Value, name_: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name_))
}

#[test]
fn default_render_has_a_hardened_operator_deployment() {
    let docs = documents(&template("ops", "shopstream-system", &[]));
    let kinds: Vec<&str> = docs.iter().map(kind).collect();
    for expected in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ] {
        assert!(
            kinds.contains(&expected),
            "no {expected} in the default render: {kinds:?}"
        );
    }
    for off in ["ServiceMonitor", "PodDisruptionBudget", "ConfigMap"] {
        assert!(!kinds.contains(&off), "{off} is rendered by default");
    }
    let deployment = find(&docs, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "ops-shopstream-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "shopstream/operator:0.1.0");
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert!(c["resources"]["requests"].is_object());
    assert!(c["resources"]["limits"]["memory"].is_string());
    // Leader election on, lease identity and namespace from the downward API.
    assert_eq!(env_var(c, "LEADER_ELECTION").unwrap()["value"], "true");
    assert_eq!(
        env_var(c, "POD_NAME").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        env_var(c, "POD_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(env_var(c, "METRICS_ADDR").unwrap()["value"], "0.0.0.0:8080");
    assert_eq!(
        env_var(c, "GENERATOR_IMAGE").unwrap()["value"],
        "shopstream/generator:0.1.0"
    );
    assert_eq!(
        env_var(c, "PROCESSOR_IMAGE").unwrap()["value"],
        "shopstream/processor:0.1.0"
    );
    // All namespaces: WATCH_NAMESPACE unset (an empty value would be a namespace "").
    assert!(env_var(c, "WATCH_NAMESPACE").is_none());

    // Namespaced mode watches the release namespace by default.
    let docs = documents(&template(
        "ops",
        "shopstream-system",
        &["--set", "rbac.clusterWide=false"],
    ));
    let c = &find(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env_var(c, "WATCH_NAMESPACE").unwrap()["value"],
        "shopstream-system"
    );
    assert!(find(&docs, "ClusterRole").is_empty());
}

/// The operator's own Kafka credential: Secrets of the release namespace
/// mounted read-only with only the named keys, paths (never values) in the
/// environment; nothing of it by default, and no new RBAC (the operator
/// never reads these Secrets through the API).
#[test]
fn the_operator_credential_is_a_mounted_secret() {
    let mounted = |docs: &[Value]| -> (Value, Value) {
        let pod = find(docs, "Deployment")[0]["spec"]["template"]["spec"].clone();
        (pod["containers"][0].clone(), pod["volumes"].clone())
    };
    let plain = documents(&template("ops", "shopstream-system", &[]));
    let (c, volumes) = mounted(&plain);
    assert!(env_var(&c, "OPERATOR_KAFKA_TLS_CA_FILE").is_none());
    assert_eq!(volumes.as_array().map(Vec::len), Some(1), "{volumes}");

    let docs = documents(&template("ops", "shopstream-system", ALL_OPTIONAL));
    let (c, volumes) = mounted(&docs);
    let value = |name: &str| env_var(&c, name).map(|e| e["value"].clone());
    assert_eq!(
        value("OPERATOR_KAFKA_TLS_CA_FILE"),
        Some("/etc/shopstream/operator-kafka/ca/ca.crt".into())
    );
    assert_eq!(
        value("OPERATOR_KAFKA_SASL_MECHANISM"),
        Some("SCRAM-SHA-512".into())
    );
    assert_eq!(
        value("OPERATOR_KAFKA_SASL_USERNAME"),
        Some("shopstream-operator".into())
    );
    assert_eq!(
        value("OPERATOR_KAFKA_SASL_PASSWORD_FILE"),
        Some("/etc/shopstream/operator-kafka/user/password".into())
    );
    let user = volumes
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "operator-kafka-user"))
        .expect("the user's Secret volume");
    assert_eq!(user["secret"]["secretName"], "shopstream-operator");
    assert_eq!(
        user["secret"]["items"],
        serde_json::json!([{"key": "password", "path": "password"}])
    );
    assert_eq!(user["secret"]["defaultMode"], 0o440);
    let mounts = c["volumeMounts"].as_array().expect("mounts");
    assert!(
        mounts
            .iter()
            .filter(|m| m["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("operator-kafka")))
            .all(|m| m["readOnly"] == true),
        "{mounts:?}"
    );
    // The same RBAC as without it.
    let rules = |docs: &[Value]| -> Vec<Value> {
        ["ClusterRole", "Role"]
            .iter()
            .flat_map(|k| find(docs, k))
            .map(|r| r["rules"].clone())
            .collect()
    };
    assert_eq!(rules(&docs), rules(&plain));

    // A TLS user: the certificate and key, both files.
    let docs = documents(&template(
        "ops",
        "shopstream-system",
        &[
            "--set",
            "kafka.operatorCredentials.enabled=true",
            "--set",
            "kafka.operatorCredentials.tls.trustedCertificates[0].secretName=c",
            "--set",
            "kafka.operatorCredentials.tls.trustedCertificates[0].certificate=ca.crt",
            "--set",
            "kafka.operatorCredentials.authentication.type=tls",
            "--set",
            "kafka.operatorCredentials.authentication.certificateAndKey.secretName=op",
            "--set",
            "kafka.operatorCredentials.authentication.certificateAndKey.certificate=user.crt",
            "--set",
            "kafka.operatorCredentials.authentication.certificateAndKey.key=user.key",
        ],
    ));
    let (c, _) = mounted(&docs);
    assert_eq!(
        env_var(&c, "OPERATOR_KAFKA_TLS_KEY_FILE").map(|e| e["value"].clone()),
        Some("/etc/shopstream/operator-kafka/user/user.key".into())
    );
    assert!(env_var(&c, "OPERATOR_KAFKA_SASL_USERNAME").is_none());
}

#[test]
fn optional_parts_render_when_enabled() {
    let extra = [
        ALL_OPTIONAL,
        &["--set", "metrics.serviceMonitor.enabled=true"],
    ]
    .concat();
    let docs = documents(&template("ops", "monitoring", &extra));
    let monitors = find(&docs, "ServiceMonitor");
    assert_eq!(monitors.len(), 2, "operator + pipelines ServiceMonitors");
    assert!(
        monitors
            .iter()
            .all(|m| m["apiVersion"] == "monitoring.coreos.com/v1")
    );
    assert_eq!(find(&docs, "PodDisruptionBudget").len(), 1);
    let policies = find(&docs, "NetworkPolicy");
    assert_eq!(policies.len(), 1, "the operator's NetworkPolicy");
    let spec = &policies[0]["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "shopstream-operator"
    );
    assert_eq!(
        spec["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(
        spec["ingress"],
        serde_json::json!([{
            "ports": [{"protocol": "TCP", "port": "metrics"}],
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        }])
    );
    // The API server, Kafka and DNS, nothing else.
    let egress = spec["egress"].as_array().expect("egress rules");
    let ports: Vec<Vec<Value>> = egress
        .iter()
        .map(|rule| {
            rule["ports"]
                .as_array()
                .expect("ports")
                .iter()
                .map(|p| p["port"].clone())
                .collect()
        })
        .collect();
    assert_eq!(
        ports,
        [
            vec![serde_json::json!(443), serde_json::json!(6443)],
            vec![serde_json::json!(9092), serde_json::json!(9093)],
            vec![serde_json::json!(53), serde_json::json!(53)],
        ]
    );
    assert_eq!(egress[0]["to"][0]["ipBlock"]["cidr"], "10.96.0.1/32");
    let dashboard = find(&docs, "ConfigMap")
        .into_iter()
        .find(|c| name(c).ends_with("-dashboard"))
        .expect("dashboard ConfigMap");
    let json = dashboard["data"]["shopstream.json"]
        .as_str()
        .expect("dashboard JSON");
    let parsed: Value = serde_json::from_str(json).expect("the dashboard is valid JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 5));
    for metric in [
        "shopstream_operator_reconciliations_total",
        "shopstream_operator_reconcile_failures_total",
        "shopstream_operator_reconcile_duration_seconds",
        "shopstream_operator_pipelines",
        "shopstream_operator_pipeline_lag_records",
        "shopstream_processor_events_consumed_total",
        "shopstream_generator_events_sent_total",
    ] {
        assert!(
            json.contains(metric),
            "the dashboard never queries {metric}"
        );
    }
}

/// Creates `name` unless it exists (namespaces are never deleted here: the
/// examples name fixed ones, e.g. `kafka`).
fn ensure_namespace(ns: &str) {
    let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n");
    apply(&yaml, false);
}

/// Server-side dry run of `yaml`: every document must be accepted, and no
/// Pod Security warning may come back.
fn dry_run(what: &str, yaml: &str) {
    let out = kubectl_stdin_output(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=shopstream-tests",
            "--dry-run=server",
            "-f",
            "-",
        ],
        yaml,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "server-side dry run of {what} failed:\n{stderr}\n{stdout}"
    );
    assert!(
        !stderr.contains("PodSecurity"),
        "{what} violates the restricted Pod Security Standard:\n{stderr}"
    );
    let applied = stdout.matches("(server dry run)").count();
    let expected = documents(yaml).len();
    assert_eq!(
        applied, expected,
        "{what}: {expected} documents, {applied} accepted:\n{stdout}"
    );
}

#[tokio::test]
async fn rendered_chart_passes_server_side_dry_run() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "chart-dry-run").await;
    // Warn (and enforce, for any Pod) at the restricted level, so the
    // Deployment's pod template is checked.
    support::kubectl(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    ]);
    let release = support::unique("dry");
    let variants: Vec<(&str, Vec<&str>)> = vec![
        ("default values (with crds/)", vec!["--include-crds"]),
        (
            "rbac.clusterWide=false",
            vec!["--set", "rbac.clusterWide=false"],
        ),
        (
            "rbac.clusterWide=false, watchNamespace, every optional part",
            [
                ALL_OPTIONAL,
                &[
                    "--set",
                    "rbac.clusterWide=false",
                    "--set",
                    "watchNamespace=default",
                ],
            ]
            .concat(),
        ),
    ];
    for (what, extra) in variants {
        let docs = documents(&template(&release, &ns, &extra));
        dry_run(&format!("the chart with {what}"), &to_yaml(&docs));
    }
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn every_example_passes_server_side_dry_run() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let dir = chart_common::repo_root().join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["kafka.yaml", "pipeline.yaml", "pipeline-production.yaml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing: {names:?}"
        );
    }
    for file in &files {
        let yaml = std::fs::read_to_string(file).expect("read example");
        let docs = documents(&yaml);
        assert!(!docs.is_empty(), "{} has no document", file.display());
        // A dry run does not create namespaces, even those the file defines.
        for doc in &docs {
            if let Some(ns) = doc["metadata"]["namespace"].as_str() {
                ensure_namespace(ns);
            }
            if kind(doc) == "Namespace" {
                ensure_namespace(name(doc));
            }
        }
        dry_run(&format!("{}", file.display()), &yaml);
    }
}
