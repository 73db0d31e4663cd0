//! The NetworkPolicies of a pipeline (`spec.networkPolicy`) against YAML
//! fixtures: one per running workload, selecting exactly its pods, egress
//! to DNS, Kafka and (serving) Redis only, ingress to the HTTP port only.
//! Regenerate after an intended change with
//! `UPDATE_FIXTURES=1 cargo test -p operator --test builders_network_policy`.

mod builders_support;

use builders_support::{assert_matches_fixture, validated};
use operator::workloads::{
    build_config_map, build_generator_deployment, build_network_policies,
    build_processor_statefulset, build_serving_deployment,
};

/// A Strimzi cluster in another namespace, serving on, Prometheus in
/// `monitoring`.
const WITH_SERVING: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'my-cluster-kafka-bootstrap.kafka:9093'}
  serving:
    redis: {address: 'redis.cache:6379'}
  networkPolicy:
    enabled: true
    kafkaPeers:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kafka}}
      podSelector: {matchLabels: {strimzi.io/cluster: my-cluster}}
    redisPeers:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: cache}}
      podSelector: {matchLabels: {app.kubernetes.io/name: redis}}
    metricsFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
";

/// The defaults: a Strimzi cluster in the pipeline's namespace, no serving.
const STRIMZI_DEFAULTS: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'my-cluster-kafka-bootstrap:9092', strimziCluster: my-cluster}
  networkPolicy: {enabled: true}
";

#[test]
fn policies_with_serving_match_fixture() {
    assert_matches_fixture(
        "network-policies-serving.yaml",
        &build_network_policies(&validated(WITH_SERVING)),
    );
}

#[test]
fn strimzi_default_policies_match_fixture() {
    assert_matches_fixture(
        "network-policies-strimzi-defaults.yaml",
        &build_network_policies(&validated(STRIMZI_DEFAULTS)),
    );
}

/// Every policy selects exactly the pods of the workload of its name, with
/// the labels that workload's pods carry.
#[test]
fn each_policy_selects_its_workloads_pods() {
    let p = validated(WITH_SERVING);
    let config = build_config_map(&p).data.unwrap_or_default();
    let pod_labels = [
        (
            "shop-processor",
            build_processor_statefulset(&p, &config)
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.labels),
        ),
        (
            "shop-generator",
            build_generator_deployment(&p, &config)
                .and_then(|d| d.spec)
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.labels),
        ),
        (
            "shop-serving",
            build_serving_deployment(&p, &config)
                .and_then(|d| d.spec)
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.labels),
        ),
    ];
    let policies = build_network_policies(&p);
    assert_eq!(policies.len(), 3);
    for (name, labels) in pod_labels {
        let labels = labels.expect("pod labels");
        let policy = policies
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("a policy {name}"));
        let selector = policy
            .spec
            .as_ref()
            .and_then(|s| s.pod_selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .expect("matchLabels");
        for (key, value) in &selector {
            assert_eq!(labels.get(key), Some(value), "{name}: {key}");
        }
        // Not the instance label alone: a Helm release "shop" has it too.
        assert!(selector.contains_key("app.kubernetes.io/name"), "{name}");
        for (other, other_labels) in [("shop-processor", "processor"), ("shop-serving", "serving")]
        {
            if other != name {
                assert_ne!(
                    selector
                        .get("app.kubernetes.io/component")
                        .map(String::as_str),
                    Some(other_labels)
                );
            }
        }
    }
}

/// Only serving reaches Redis; nothing reaches the API server.
#[test]
fn only_serving_reaches_redis() {
    let policies = build_network_policies(&validated(WITH_SERVING));
    for policy in &policies {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let ports: Vec<i32> = policy
            .spec
            .iter()
            .flat_map(|s| s.egress.iter().flatten())
            .flat_map(|rule| rule.ports.iter().flatten())
            .filter_map(|port| match &port.port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(p)) => Some(*p),
                _ => None,
            })
            .collect();
        let expected: &[i32] = if name == "shop-serving" {
            &[53, 53, 9093, 6379]
        } else {
            &[53, 53, 9093]
        };
        assert_eq!(ports, expected, "{name}");
        assert!(!ports.contains(&443) && !ports.contains(&6443), "{name}");
    }
}

#[test]
fn no_policies_unless_enabled_and_none_for_a_disabled_generator() {
    let off = WITH_SERVING.replace("enabled: true", "enabled: false");
    assert!(build_network_policies(&validated(&off)).is_empty());
    let no_generator = STRIMZI_DEFAULTS.replace(
        "  networkPolicy:",
        "  generator: {enabled: false}\n  networkPolicy:",
    );
    let names: Vec<String> = build_network_policies(&validated(&no_generator))
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["shop-processor"]);
}
