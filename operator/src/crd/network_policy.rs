//! `spec.networkPolicy`: NetworkPolicies around the pipeline's pods
//! (docs/security.md). Opt-in, because a policy that names the wrong Kafka
//! peers cuts the pipeline off, and the brokers' pods or addresses cannot be
//! derived from a bootstrap string: the user names them, or the operator
//! takes them from `spec.kafka.strimziCluster`. The peers are Kubernetes'
//! own `NetworkPolicyPeer`, so they read like any NetworkPolicy.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// NetworkPolicies the operator creates around the pipeline's pods: the
/// generator, processor and serving pods may open connections only to the
/// Kafka brokers, DNS and (serving only) Redis, and accept them only on
/// their HTTP port (metrics, health; the dashboard on the serving pods).
/// None of these pods talks to the Kubernetes API, so no policy allows it.
/// Enforcement needs a network plugin that implements NetworkPolicy
/// (Calico, Cilium, ...); without one the policies are stored but inert.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PipelineNetworkPolicy {
    /// Create the NetworkPolicies `<pipeline>-generator`,
    /// `<pipeline>-processor` and `<pipeline>-serving` (one per workload
    /// that runs). `false` (default): none, and the operator deletes the
    /// ones it created before.
    #[serde(default)]
    pub enabled: bool,

    /// The Kafka brokers' pods or addresses the pods may connect to, as
    /// NetworkPolicy peers (`podSelector`, `namespaceSelector`, `ipBlock`).
    /// Name the broker pods, not only the bootstrap Service: clients
    /// connect to every broker's advertised address, and policies see the
    /// pod IPs behind Services. Unset with `spec.kafka.strimziCluster`:
    /// the pods labelled `strimzi.io/cluster=<strimziCluster>,
    /// strimzi.io/kind=Kafka` in the pipeline's namespace. Unset without
    /// it: the spec is refused (condition `InvalidSpec`). For a Strimzi
    /// cluster in another namespace, e.g. `[{namespaceSelector:
    /// {matchLabels: {kubernetes.io/metadata.name: kafka}}, podSelector:
    /// {matchLabels: {strimzi.io/cluster: my-cluster}}}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub kafka_peers: Vec<NetworkPolicyPeer>,

    /// TCP ports of the brokers. Unset: the ports of
    /// `spec.kafka.bootstrapServers` (a Strimzi listener serves bootstrap
    /// and brokers on one port). Set it when the brokers advertise other
    /// ports than the bootstrap address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(range(min = 1, max = 65535)))]
    pub kafka_ports: Vec<i32>,

    /// Where Redis is, for the serving pods (only with `spec.serving`);
    /// its port is the one of `spec.serving.redis.address`. Required when
    /// serving is enabled, e.g. `[{podSelector: {matchLabels:
    /// {app.kubernetes.io/name: redis}}}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub redis_peers: Vec<NetworkPolicyPeer>,

    /// The DNS servers (UDP and TCP port 53). Unset: the `k8s-app:
    /// kube-dns` pods (kube-dns or CoreDNS) in `kube-system`. With
    /// NodeLocal DNSCache, e.g. `[{ipBlock: {cidr: 169.254.20.10/32}}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub dns_peers: Vec<NetworkPolicyPeer>,

    /// Who may connect to the pods' metrics port (`metrics`, 9090:
    /// `/metrics`, `/healthz`, `/readyz`), e.g. Prometheus' namespace:
    /// `[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name:
    /// monitoring}}}]`. Unset: any source, on that port only. The kubelet's
    /// probes are allowed by every network plugin regardless.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub metrics_from: Vec<NetworkPolicyPeer>,

    /// Who may connect to the serving pods' dashboard (the
    /// `<pipeline>-serving` Service's port 8080, the pods' port `metrics`,
    /// which also serves their metrics, so `metricsFrom` may connect too).
    /// Unset: any source, on that port only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub dashboard_from: Vec<NetworkPolicyPeer>,
}
