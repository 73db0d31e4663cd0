//! `spec.networkPolicy` → [`NetworkPolicySettings`]: defaults resolved
//! (Kafka peers from `strimziCluster`, Kafka ports from the bootstrap
//! servers, DNS = kube-dns) and the peers checked, so that a mistake is an
//! `InvalidSpec` condition naming the field rather than an API server
//! rejection on every reconcile. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::crd::AnalyticsPipelineSpec;
use crate::error::{Error, Result};
use crate::model::NetworkPolicySettings;
use crate::workloads::{Component, REDIS_PORT, selector_labels};

/// `None` unless `spec.networkPolicy.enabled`. `name` is the pipeline's:
/// its managed Redis's pods are the default Redis peers.
pub fn network_policy_settings(
    name: &str,
    spec: &AnalyticsPipelineSpec,
) -> Result<Option<NetworkPolicySettings>> {
    let Some(policy) = spec.network_policy.as_ref().filter(|p| p.enabled) else {
        return Ok(None);
    };
    let kafka_peers = if !policy.kafka_peers.is_empty() {
        policy.kafka_peers.clone()
    } else if let Some(cluster) = &spec.kafka.strimzi_cluster {
        vec![strimzi_brokers(cluster)]
    } else {
        return Err(invalid(
            "networkPolicy.kafkaPeers is required unless kafka.strimziCluster is set: the \
             brokers' pods or addresses cannot be derived from kafka.bootstrapServers; e.g. \
             kafkaPeers: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: \
             kafka}}, podSelector: {matchLabels: {strimzi.io/cluster: my-cluster}}}]"
                .into(),
        ));
    };
    let kafka_ports = if policy.kafka_ports.is_empty() {
        bootstrap_ports(&spec.kafka.bootstrap_servers)?
    } else {
        for port in &policy.kafka_ports {
            check_port(*port, "networkPolicy.kafkaPorts")?;
        }
        policy
            .kafka_ports
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let redis = match spec.serving.as_ref().filter(|s| s.enabled) {
        None => None,
        // The operator's own Redis: its pods, unless peers are given.
        Some(serving) if serving.redis.managed => {
            let peers = if policy.redis_peers.is_empty() {
                vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(selector_labels(name, Component::Redis)),
                        ..LabelSelector::default()
                    }),
                    ..NetworkPolicyPeer::default()
                }]
            } else {
                policy.redis_peers.clone()
            };
            Some((peers, REDIS_PORT))
        }
        Some(_) if policy.redis_peers.is_empty() => {
            return Err(invalid(
                "networkPolicy.redisPeers is required with serving: the serving pods write \
                 to Redis, and which pods or addresses serve spec.serving.redis.address cannot \
                 be derived from it; e.g. redisPeers: [{podSelector: {matchLabels: \
                 {app.kubernetes.io/name: redis}}}]"
                    .into(),
            ));
        }
        Some(serving) => Some((
            policy.redis_peers.clone(),
            address_port(
                serving.redis.address.as_deref().unwrap_or_default(),
                "serving.redis.address",
            )?,
        )),
    };
    let dns_peers = if policy.dns_peers.is_empty() {
        vec![kube_dns()]
    } else {
        policy.dns_peers.clone()
    };
    for (field, peers) in [
        ("kafkaPeers", &kafka_peers),
        ("redisPeers", &policy.redis_peers),
        ("dnsPeers", &dns_peers),
        ("metricsFrom", &policy.metrics_from),
        ("dashboardFrom", &policy.dashboard_from),
    ] {
        for (i, peer) in peers.iter().enumerate() {
            check_peer(peer)
                .map_err(|why| invalid(format!("networkPolicy.{field}[{i}]: {why}")))?;
        }
    }
    Ok(Some(NetworkPolicySettings {
        kafka_peers,
        kafka_ports,
        redis,
        dns_peers,
        metrics_from: policy.metrics_from.clone(),
        dashboard_from: policy.dashboard_from.clone(),
    }))
}

fn invalid(message: String) -> Error {
    Error::InvalidSpec(message)
}

fn match_labels(labels: &[(&str, &str)]) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..LabelSelector::default()
    })
}

/// The broker (and controller) pods of a Strimzi `Kafka` in the
/// pipeline's namespace; without a namespaceSelector a peer means the
/// policy's own namespace.
fn strimzi_brokers(cluster: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: match_labels(&[
            ("strimzi.io/cluster", cluster),
            ("strimzi.io/kind", "Kafka"),
        ]),
        ..NetworkPolicyPeer::default()
    }
}

/// kube-dns and CoreDNS both run as `k8s-app=kube-dns` in kube-system;
/// `kubernetes.io/metadata.name` is set on every namespace by the API server.
fn kube_dns() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: match_labels(&[("kubernetes.io/metadata.name", "kube-system")]),
        pod_selector: match_labels(&[("k8s-app", "kube-dns")]),
        ..NetworkPolicyPeer::default()
    }
}

/// The distinct ports of a `host:port,host:port` list, sorted.
fn bootstrap_ports(bootstrap: &str) -> Result<Vec<i32>> {
    let mut ports = BTreeSet::new();
    for server in bootstrap.split(',').map(str::trim) {
        ports.insert(address_port(server, "kafka.bootstrapServers")?);
    }
    Ok(ports.into_iter().collect())
}

fn address_port(address: &str, field: &str) -> Result<i32> {
    let port = address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<i32>().ok())
        .ok_or_else(|| invalid(format!("{field}: {address:?} has no port")))?;
    check_port(port, field)?;
    Ok(port)
}

fn check_port(port: i32, field: &str) -> Result<()> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(invalid(format!("{field}: port {port} is not in 1-65535")))
    }
}

/// The API server's rules for a peer: an ipBlock alone, or selectors.
fn check_peer(peer: &NetworkPolicyPeer) -> std::result::Result<(), String> {
    match (&peer.ip_block, &peer.pod_selector, &peer.namespace_selector) {
        (None, None, None) => Err(
            "give podSelector, namespaceSelector or ipBlock (an empty peer allows nothing)".into(),
        ),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("ipBlock cannot be combined with podSelector or namespaceSelector".into())
        }
        (Some(block), None, None) => check_ip_block(block),
        (None, _, _) => Ok(()),
    }
}

fn check_ip_block(block: &IPBlock) -> std::result::Result<(), String> {
    let (network, prefix) = parse_cidr(&block.cidr)?;
    for except in block.except.iter().flatten() {
        let (inner, inner_prefix) = parse_cidr(except)?;
        if inner.is_ipv4() != network.is_ipv4() || inner_prefix < prefix {
            return Err(format!(
                "except {except:?} is not within cidr {:?}",
                block.cidr
            ));
        }
    }
    Ok(())
}

fn parse_cidr(cidr: &str) -> std::result::Result<(IpAddr, u8), String> {
    let bad = || format!("{cidr:?} is not a CIDR such as 10.0.0.0/16 or fd00::/8");
    let (ip, prefix) = cidr.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::AnalyticsPipeline;

    fn spec(yaml: &str) -> AnalyticsPipelineSpec {
        let p: AnalyticsPipeline = serde_yaml::from_str(&format!(
            "apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {{name: shop, namespace: team-a}}
spec:
{yaml}"
        ))
        .expect("test pipeline parses");
        p.spec
    }

    fn error(yaml: &str) -> String {
        let err = network_policy_settings("shop", &spec(yaml)).expect_err("refused");
        assert!(err.is_permanent(), "{err}");
        err.to_string()
    }

    #[test]
    fn off_unless_enabled() {
        for yaml in [
            "  kafka: {bootstrapServers: 'k:9092'}",
            "  kafka: {bootstrapServers: 'k:9092'}\n  networkPolicy: {enabled: false}",
        ] {
            assert_eq!(
                network_policy_settings("shop", &spec(yaml)).expect("ok"),
                None
            );
        }
    }

    #[test]
    fn strimzi_cluster_gives_the_kafka_peers_and_bootstrap_the_ports() {
        let s = network_policy_settings("shop", &spec(
            "  kafka: {bootstrapServers: 'my-kafka-bootstrap:9093, b1:9094,b2:9093', strimziCluster: my}
  networkPolicy: {enabled: true}",
        ))
        .expect("valid")
        .expect("enabled");
        assert_eq!(s.kafka_peers, [strimzi_brokers("my")]);
        assert_eq!(s.kafka_ports, [9093, 9094]);
        assert_eq!(s.dns_peers, [kube_dns()]);
        assert_eq!(s.redis, None);
    }

    #[test]
    fn kafka_peers_are_required_without_strimzi() {
        let err = error("  kafka: {bootstrapServers: 'k:9092'}\n  networkPolicy: {enabled: true}");
        assert!(
            err.contains("networkPolicy.kafkaPeers is required"),
            "{err}"
        );
    }

    #[test]
    fn a_managed_redis_is_the_default_redis_peer() {
        let s = network_policy_settings(
            "shop",
            &spec(
                "  kafka: {bootstrapServers: 'k:9092', strimziCluster: my}
  serving: {redis: {managed: true}}
  networkPolicy: {enabled: true}",
            ),
        )
        .expect("valid")
        .expect("enabled");
        let (peers, port) = s.redis.expect("serving reaches Redis");
        assert_eq!(port, 6379);
        let labels = peers[0]
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            .expect("a pod selector");
        assert_eq!(labels, selector_labels("shop", Component::Redis));
        assert!(
            peers[0].namespace_selector.is_none(),
            "the pipeline's namespace only"
        );
    }

    #[test]
    fn redis_peers_are_required_with_serving_and_take_its_port() {
        let base = "  kafka: {bootstrapServers: 'k:9092', strimziCluster: my}
  serving: {redis: {address: 'redis.cache:6380'}}";
        let err = error(&format!("{base}\n  networkPolicy: {{enabled: true}}"));
        assert!(
            err.contains("networkPolicy.redisPeers is required"),
            "{err}"
        );
        let s = network_policy_settings("shop", &spec(&format!(
            "{base}\n  networkPolicy: {{enabled: true, redisPeers: [{{ipBlock: {{cidr: 10.1.0.0/16}}}}]}}"
        )))
        .expect("valid")
        .expect("enabled");
        assert_eq!(s.redis.map(|(_, port)| port), Some(6380));
        // A disabled serving needs no Redis.
        let disabled = base.replace("{redis:", "{enabled: false, redis:");
        let s = network_policy_settings(
            "shop",
            &spec(&format!("{disabled}\n  networkPolicy: {{enabled: true}}")),
        )
        .expect("valid")
        .expect("enabled");
        assert_eq!(s.redis, None);
    }

    #[test]
    fn malformed_peers_name_the_field() {
        let base = "  kafka: {bootstrapServers: 'k:9092'}\n  networkPolicy:\n    enabled: true\n";
        for (peers, expected) in [
            (
                "    kafkaPeers: [{}]",
                "networkPolicy.kafkaPeers[0]: give podSelector",
            ),
            (
                "    kafkaPeers: [{podSelector: {}}]\n    metricsFrom: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]",
                "networkPolicy.metricsFrom[1]: ipBlock cannot be combined",
            ),
            (
                "    kafkaPeers: [{ipBlock: {cidr: 10.0.0.0/33}}]",
                "\"10.0.0.0/33\" is not a CIDR",
            ),
            (
                "    kafkaPeers: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/8]}}]",
                "is not within cidr",
            ),
            (
                "    kafkaPeers: [{podSelector: {}}]\n    kafkaPorts: [0]",
                "networkPolicy.kafkaPorts: port 0",
            ),
        ] {
            let err = error(&format!("{base}{peers}"));
            assert!(err.contains(expected), "{peers}: {err}");
        }
    }

    #[test]
    fn explicit_ports_are_sorted_and_deduplicated() {
        let s = network_policy_settings(
            "shop",
            &spec(
                "  kafka: {bootstrapServers: 'k:9092'}
  networkPolicy: {enabled: true, kafkaPeers: [{podSelector: {}}], kafkaPorts: [9095, 9094, 9095]}",
            ),
        )
        .expect("valid")
        .expect("enabled");
        assert_eq!(s.kafka_ports, [9094, 9095]);
    }
}
